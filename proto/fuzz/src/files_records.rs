//! The file service's signed records: manifests and tombstones
//! (`itc_files::manifest`, `itc_files::tombstone`). Any bytes through the
//! parsers and the signature check, and records built and signed from the
//! fuzzer's bytes through the same.

use arbitrary::Unstructured;
use itc_files::manifest::{MAX_MANIFEST_LEN, MAX_PIECES};
use itc_files::{
    Keyring, Manifest, ManifestError, Name, RecordId, SecretKey, Tombstone, TombstoneError,
    VerifyError,
};

/// The key the fuzz targets sign with and trust.
fn key() -> SecretKey {
    SecretKey::from_seed(&[7; 32])
}

fn keyring() -> Keyring {
    let mut keys = Keyring::new();
    keys.insert(key().public().clone());
    keys
}

/// Parses `data` as a manifest. One that parses keeps the input's bytes as
/// its encoding and its id as their hash, describes pieces that add up to
/// its length, and answers every accessor (pieces past the end included)
/// without panicking; its signature check against a keyring that trusts
/// its signer or not fails only as it should.
pub fn check_manifest(data: &[u8]) -> Option<Manifest> {
    let m = Manifest::parse(data).ok()?;
    assert!(data.len() <= MAX_MANIFEST_LEN);
    assert_eq!(m.bytes(), data, "the encoding is not the input");
    assert_eq!(m.id(), RecordId::of(data));
    assert!(m.piece_count() <= MAX_PIECES);
    let total: u64 = (0..m.piece_count())
        .map(|i| u64::from(m.piece_len(i)))
        .sum();
    assert_eq!(total, m.length(), "the pieces do not add up to the length");
    for i in [
        0,
        m.piece_count().saturating_sub(1),
        m.piece_count(),
        u32::MAX,
    ] {
        let len = m.piece_len(i) as usize;
        assert!(len <= m.piece_size() as usize);
        assert_eq!(m.piece_hash(i).is_some(), i < m.piece_count());
        assert!(!m.check_piece(i, &vec![0; len]) || i < m.piece_count());
    }
    match Manifest::parse_verified(data, &keyring()) {
        Ok(v) => assert_eq!(v, m),
        Err(ManifestError::Untrusted(VerifyError::UnknownKey(k))) => {
            assert_eq!(k, m.signer());
            assert_ne!(k, key().id());
        }
        Err(ManifestError::Untrusted(VerifyError::BadSignature(k))) => assert_eq!(k, m.signer()),
        Err(e) => panic!("parse_verified failed where parse did not: {e}"),
    }
    assert_eq!(Manifest::parse(m.bytes()), Ok(m.clone()));
    Some(m)
}

/// Builds and signs a manifest of a file made from the fuzzer's bytes
/// (any valid name, any version); it must parse back the same, verify
/// with the trusted key, and accept each of its pieces and no altered one.
pub fn build_manifest(data: &[u8]) {
    let _ = try_build(&mut Unstructured::new(data));
}

fn try_build(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let name_bytes: Vec<u8> = u.arbitrary()?;
    let Ok(name) = Name::from_bytes(&name_bytes) else {
        return Ok(());
    };
    let version: u64 = u.arbitrary()?;
    // Up to a few pieces of the smallest size; the fuzzer's bytes repeat.
    let len = u.int_in_range(0..=5000usize)?;
    let seed: Vec<u8> = u.arbitrary()?;
    let content: Vec<u8> = if seed.is_empty() {
        vec![0; len]
    } else {
        seed.iter().copied().cycle().take(len).collect()
    };
    let m = Manifest::build(&name, version, len as u64, &content[..], &key())
        .expect("a manifest of a small file with a valid name builds");
    assert_eq!(
        (m.name(), m.version(), m.length()),
        (&name, version, len as u64)
    );
    let again = Manifest::parse_verified(m.bytes(), &keyring()).expect("a built manifest verifies");
    assert_eq!(again, m);
    let mut at = 0usize;
    for i in 0..m.piece_count() {
        let piece = &content[at..at + m.piece_len(i) as usize];
        assert!(m.check_piece(i, piece), "piece {i} does not check");
        if let Some((last, rest)) = piece.split_last() {
            let mut altered = rest.to_vec();
            altered.push(last ^ 1);
            assert!(!m.check_piece(i, &altered), "an altered piece {i} checks");
        }
        at += piece.len();
    }
    // Built for a length that is not the content's: refused, not wrong.
    assert!(Manifest::build(&name, version, len as u64 + 1, &content[..], &key()).is_err());
    Ok(())
}

/// Parses `data` as a tombstone. One that parses keeps the input's bytes
/// and its id as their hash, and fails its signature check only as it
/// should; a tombstone made and signed for its name and version verifies.
pub fn check_tombstone(data: &[u8]) -> Option<Tombstone> {
    let t = Tombstone::parse(data).ok()?;
    assert_eq!(t.bytes(), data, "the encoding is not the input");
    assert_eq!(t.id(), RecordId::of(data));
    match Tombstone::parse_verified(data, &keyring()) {
        Ok(v) => assert_eq!(v, t),
        Err(TombstoneError::Untrusted(VerifyError::UnknownKey(k))) => {
            assert_eq!(k, t.signer());
            assert_ne!(k, key().id());
        }
        Err(TombstoneError::Untrusted(VerifyError::BadSignature(k))) => {
            assert_eq!(k, t.signer())
        }
        Err(e) => panic!("parse_verified failed where parse did not: {e}"),
    }
    let signed = Tombstone::new(t.name(), t.version(), &key());
    assert_eq!(signed.bytes().len(), data.len(), "same name, same length");
    assert_eq!(
        Tombstone::parse_verified(signed.bytes(), &keyring()),
        Ok(signed.clone())
    );
    Some(t)
}

/// Makes a tombstone for a name and version from the fuzzer's bytes; it
/// must parse back the same and verify; with any byte changed it must not
/// verify.
pub fn make_tombstone(data: &[u8]) {
    let _ = try_make(&mut Unstructured::new(data));
}

fn try_make(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let name_bytes: Vec<u8> = u.arbitrary()?;
    let Ok(name) = Name::from_bytes(&name_bytes) else {
        return Ok(());
    };
    let t = Tombstone::new(&name, u.arbitrary()?, &key());
    assert_eq!(
        Tombstone::parse_verified(t.bytes(), &keyring()),
        Ok(t.clone())
    );
    let mut bytes = t.bytes().to_vec();
    let at = u.choose_index(bytes.len())?;
    bytes[at] ^= u.int_in_range(1..=255)?;
    assert!(
        Tombstone::parse_verified(&bytes, &keyring()).is_err(),
        "a tombstone with byte {at} changed still verifies"
    );
    Ok(())
}
