//! Key files on disk: modes, refusing to overwrite, refusing a readable
//! secret key, and loading a directory of trusted keys with errors that
//! name the file.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use itc_files::{KeyError, Keyring, PublicKey, SecretKey};

#[test]
fn keygen_writes_a_private_secret_and_a_public_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("release");
    let key = SecretKey::generate().unwrap();
    let public = key.write_pair(&path).unwrap();
    assert_eq!(public, dir.path().join("release.pub"));
    let mode = |p| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&public), 0o644);
    let loaded = SecretKey::load(&path).unwrap();
    assert_eq!(loaded.id(), key.id());
    assert_eq!(PublicKey::load(&public).unwrap(), *key.public());
    let text = fs::read_to_string(&public).unwrap();
    assert!(text.contains(&format!("# key id {}", key.id())), "{text}");

    let again = SecretKey::generate().unwrap();
    let e = again.write_pair(&path).unwrap_err();
    assert!(matches!(e, KeyError::Exists(ref p) if *p == public), "{e}");
    fs::remove_file(&public).unwrap();
    let e = again.write_pair(&path).unwrap_err();
    assert!(matches!(e, KeyError::Exists(ref p) if *p == path), "{e}");
    assert_eq!(SecretKey::load(&path).unwrap().id(), key.id(), "untouched");
}

#[test]
fn a_secret_key_others_can_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    SecretKey::generate().unwrap().write_pair(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let e = SecretKey::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "secret key file {0} has mode 640, readable by others; run chmod 600 {0}",
            path.display()
        )
    );
}

#[test]
fn the_trusted_directory_loads_pub_files_and_names_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = SecretKey::from_seed(&[1; 32]);
    let b = SecretKey::from_seed(&[2; 32]);
    a.public().write(&dir.path().join("a.pub")).unwrap();
    b.public().write(&dir.path().join("b.pub")).unwrap();
    fs::write(dir.path().join("README"), "not a key").unwrap();
    fs::write(dir.path().join(".hidden.pub"), "not a key").unwrap();
    let ring = Keyring::load_dir(dir.path()).unwrap();
    assert_eq!(ring.len(), 2);
    assert!(ring.get(a.id()).is_some() && ring.get(b.id()).is_some());

    let bad = dir.path().join("c.pub");
    fs::write(&bad, "itc-files public key v1\nnot hex\n").unwrap();
    let e = Keyring::load_dir(dir.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{} is not an itc-files public key file: the key is not 64 hex digits",
            bad.display()
        )
    );
    let missing = dir.path().join("nope");
    let e = Keyring::load_dir(&missing).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "cannot list trusted key directory {}",
            missing.display()
        )),
        "{e}"
    );
}
