//! Signing keys: ed25519 key pairs, their 8-byte [`KeyId`], the key files a
//! person copies between machines, and the [`Keyring`] of trusted public
//! keys that every manifest and tombstone is checked against.
//!
//! Key files are text, so they survive copy and paste:
//!
//! ```text
//! itc-files secret key v1           (or: itc-files public key v1)
//! # key id 1f2e3d4c5b6a7988         (lines starting with '#' are comments)
//! 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//! ```
//!
//! The hex line is the 32-byte ed25519 seed (secret) or public key. A secret
//! key file is created with mode 0600 and never overwritten; loading one
//! that group or others may read fails, naming the file and the `chmod`
//! that fixes it. The key id is the first 8 bytes of the BLAKE3 hash of the
//! public key. Signatures are checked with `verify_strict`, which rejects
//! weak keys and non-canonical signatures, so a signed record has exactly
//! one valid signature per key.
//!
//! [`Keyring::load_dir`] reads every `*.pub` file of a directory (other
//! files are ignored, so a README may sit beside the keys); any one that
//! does not parse fails the whole load with an error naming it.
#![forbid(unsafe_code)]

use core::fmt;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::hex;

/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 8;
/// Length of an ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// First line of a secret key file.
pub const SECRET_HEADER: &str = "itc-files secret key v1";
/// First line of a public key file.
pub const PUBLIC_HEADER: &str = "itc-files public key v1";

/// The short name of a public key: the first 8 bytes of its BLAKE3 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The id of the public key with these bytes.
    pub fn of(public: &[u8; 32]) -> KeyId {
        let hash = blake3::hash(public);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&hash.as_bytes()[..KEY_ID_LEN]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

/// Why a key file could not be made, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The system's random source failed.
    #[error("cannot get random bytes for a new key: {0}")]
    Random(getrandom::Error),
    /// A key file could not be read.
    #[error("cannot read key file {0}: {1}")]
    Read(PathBuf, #[source] io::Error),
    /// A key file could not be written.
    #[error("cannot write key file {0}: {1}")]
    Write(PathBuf, #[source] io::Error),
    /// A key file already exists; keys are never overwritten.
    #[error("key file {0} already exists; remove it first or choose another name")]
    Exists(PathBuf),
    /// A key file does not hold a key in the expected format.
    #[error("{0} is not an {1} file: {2}")]
    Format(PathBuf, &'static str, &'static str),
    /// The bytes of a public key are not a valid ed25519 point.
    #[error("{0} holds an invalid ed25519 public key")]
    BadKey(PathBuf),
    /// A secret key file may be read by group or others.
    #[error("secret key file {0} has mode {1:o}, readable by others; run chmod 600 {0}")]
    Permissions(PathBuf, u32),
    /// The trusted key directory could not be listed.
    #[error("cannot list trusted key directory {0}: {1}")]
    ListDir(PathBuf, #[source] io::Error),
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No trusted key has this id.
    #[error("signed by key {0}, which is not trusted")]
    UnknownKey(KeyId),
    /// The signature does not match the signed bytes and the key.
    #[error("bad signature from key {0}")]
    BadSignature(KeyId),
}

/// A public key and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// The key for 32 public key bytes, if they are a valid point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<PublicKey> {
        let key = VerifyingKey::from_bytes(bytes).ok()?;
        Some(PublicKey {
            key,
            id: KeyId::of(bytes),
        })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks `signature` over `message` strictly.
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let sig = Signature::from_bytes(signature);
        self.key.verify_strict(message, &sig).is_ok()
    }

    /// The key file text.
    pub fn to_text(&self) -> String {
        key_text(PUBLIC_HEADER, self.id, &self.to_bytes())
    }

    /// Parses key file text; `path` only names the source in errors.
    pub fn from_text(text: &str, path: &Path) -> Result<PublicKey, KeyError> {
        let bytes = parse_key_text(text, PUBLIC_HEADER, path, "itc-files public key")?;
        PublicKey::from_bytes(&bytes).ok_or_else(|| KeyError::BadKey(path.to_owned()))
    }

    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = fs::read_to_string(path).map_err(|e| KeyError::Read(path.to_owned(), e))?;
        PublicKey::from_text(&text, path)
    }

    /// Writes a public key file (mode 0644), refusing to overwrite one.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        write_new(path, 0o644, &self.to_text())
    }
}

/// A secret signing key.
pub struct SecretKey {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public.id)
    }
}

impl SecretKey {
    /// A new random key from the system's random source.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(KeyError::Random)?;
        let key = SecretKey::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key for a 32-byte seed (tests use fixed seeds).
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        let key = SigningKey::from_bytes(seed);
        let bytes = key.verifying_key().to_bytes();
        let public = PublicKey {
            key: key.verifying_key(),
            id: KeyId::of(&bytes),
        };
        SecretKey { key, public }
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.public.id
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.key.sign(message).to_bytes()
    }

    /// The key file text.
    pub fn to_text(&self) -> String {
        key_text(SECRET_HEADER, self.public.id, &self.key.to_bytes())
    }

    /// Reads a secret key file, refusing one that group or others may read.
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        let meta = fs::metadata(path).map_err(|e| KeyError::Read(path.to_owned(), e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions(path.to_owned(), mode));
        }
        let text = fs::read_to_string(path).map_err(|e| KeyError::Read(path.to_owned(), e))?;
        let seed = parse_key_text(&text, SECRET_HEADER, path, "itc-files secret key")?;
        Ok(SecretKey::from_seed(&seed))
    }

    /// Writes the secret key to `path` (mode 0600) and the public key to
    /// `path.pub`, refusing to overwrite either. Returns the public path.
    pub fn write_pair(&self, path: &Path) -> Result<PathBuf, KeyError> {
        let mut public_path = path.as_os_str().to_owned();
        public_path.push(".pub");
        let public_path = PathBuf::from(public_path);
        if public_path.exists() {
            return Err(KeyError::Exists(public_path));
        }
        write_new(path, 0o600, &self.to_text())?;
        self.public.write(&public_path)?;
        Ok(public_path)
    }
}

/// The text of a key file.
fn key_text(header: &str, id: KeyId, bytes: &[u8; 32]) -> String {
    format!("{header}\n# key id {id}\n{}\n", hex::encode(bytes))
}

/// The 32 key bytes of key file text with the given header.
fn parse_key_text(
    text: &str,
    header: &str,
    path: &Path,
    kind: &'static str,
) -> Result<[u8; 32], KeyError> {
    let bad = |why| KeyError::Format(path.to_owned(), kind, why);
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some(first) if first == header => {}
        Some(first) if first == SECRET_HEADER || first == PUBLIC_HEADER => {
            return Err(bad("it holds the other kind of key"))
        }
        _ => return Err(bad("the first line is not the key file header")),
    }
    let Some(key_line) = lines.next() else {
        return Err(bad("the key line is missing"));
    };
    let bytes = hex::decode::<32>(key_line).ok_or_else(|| bad("the key is not 64 hex digits"))?;
    if lines.next().is_some() {
        return Err(bad("there is text after the key"));
    }
    Ok(bytes)
}

/// Creates `path` with `mode`, failing if it exists, and writes `text`.
fn write_new(path: &Path, mode: u32, text: &str) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_owned()),
            _ => KeyError::Write(path.to_owned(), e),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KeyError::Write(path.to_owned(), e))
}

/// The trusted public keys, by id.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, PublicKey>,
}

impl Keyring {
    /// An empty keyring, which trusts nothing.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Loads every `*.pub` file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Keyring, KeyError> {
        let list = |e| KeyError::ListDir(dir.to_owned(), e);
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(list)? {
            let path = entry.map_err(list)?.path();
            let is_pub = path.extension().is_some_and(|e| e == "pub");
            let hidden = path
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
            if is_pub && !hidden {
                paths.push(path);
            }
        }
        paths.sort();
        let mut ring = Keyring::new();
        for path in paths {
            ring.insert(PublicKey::load(&path)?);
        }
        Ok(ring)
    }

    /// Trusts `key`.
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.id(), key);
    }

    /// The trusted key with this id.
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.get(&id)
    }

    /// The ids of the trusted keys, in order.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks that key `id` is trusted and signed `message`.
    pub fn verify(
        &self,
        id: KeyId,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), VerifyError> {
        let key = self.get(id).ok_or(VerifyError::UnknownKey(id))?;
        if key.verify(message, signature) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed(&[n; 32])
    }

    #[test]
    fn signs_and_verifies_strictly() {
        let k = key(1);
        let sig = k.sign(b"hello");
        assert!(k.public().verify(b"hello", &sig));
        assert!(!k.public().verify(b"hellp", &sig));
        let mut ring = Keyring::new();
        assert_eq!(
            ring.verify(k.id(), b"hello", &sig),
            Err(VerifyError::UnknownKey(k.id()))
        );
        ring.insert(k.public().clone());
        assert_eq!(ring.verify(k.id(), b"hello", &sig), Ok(()));
        let mut bad = sig;
        bad[0] ^= 1;
        assert_eq!(
            ring.verify(k.id(), b"hello", &bad),
            Err(VerifyError::BadSignature(k.id()))
        );
    }

    #[test]
    fn key_id_is_the_hash_prefix() {
        let k = key(2);
        let bytes = k.public().to_bytes();
        assert_eq!(k.id().0, blake3::hash(&bytes).as_bytes()[..8]);
        assert_eq!(k.id().to_string().len(), 16);
    }

    #[test]
    fn text_round_trips_and_names_faults() {
        let k = key(3);
        let p = Path::new("k.pub");
        let text = k.public().to_text();
        assert!(text.starts_with("itc-files public key v1\n# key id "));
        assert_eq!(PublicKey::from_text(&text, p).unwrap(), *k.public());
        let err = PublicKey::from_text(&k.to_text(), p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.pub is not an itc-files public key file: it holds the other kind of key"
        );
        let err = PublicKey::from_text("itc-files public key v1\nzz\n", p).unwrap_err();
        assert!(err.to_string().contains("not 64 hex digits"), "{err}");
        let err = PublicKey::from_text("hello\n", p).unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
        let extra = format!("{text}more\n");
        assert!(PublicKey::from_text(&extra, p).is_err());
    }
}
