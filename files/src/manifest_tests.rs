//! Tests of the manifest encoding, its bounds and its signature check.

use super::*;
use crate::keys::PublicKey;

fn key() -> SecretKey {
    SecretKey::from_seed(&[9; 32])
}

fn build(data: &[u8], version: u64) -> Manifest {
    let name = Name::new("ab").unwrap();
    Manifest::build(&name, version, data.len() as u64, data, &key()).unwrap()
}

fn ring() -> Keyring {
    let mut r = Keyring::new();
    r.insert(key().public().clone());
    r
}

#[test]
fn encodes_byte_by_byte() {
    let data = vec![0x5a; 20_000]; // two pieces: 16384 + 3616
    let m = build(&data, 7);
    let b = m.bytes();
    assert_eq!(b.len(), FIXED_LEN + 2 + 2 * HASH_LEN);
    assert_eq!(&b[0..4], b"ITCM"); // magic
    assert_eq!(b[4], 1); // format 1
    assert_eq!(b[5], 2); // name length 2
    assert_eq!(&b[6..8], b"ab"); // name
    assert_eq!(&b[8..16], &[0, 0, 0, 0, 0, 0, 0, 7]); // version 7
    assert_eq!(&b[16..24], &[0, 0, 0, 0, 0, 0, 0x4e, 0x20]); // length 20000
    assert_eq!(&b[24..28], &[0, 0, 0x40, 0]); // piece size 16384
    assert_eq!(&b[28..32], &[0, 0, 0, 2]); // two pieces
    assert_eq!(&b[32..64], blake3::hash(&data[..16384]).as_bytes()); // piece 0
    assert_eq!(&b[64..96], blake3::hash(&data[16384..]).as_bytes()); // piece 1
    assert_eq!(&b[96..104], &key().id().0); // signer
    assert_eq!(b.len() - 104, SIGNATURE_LEN); // signature
    assert_eq!(Manifest::parse(b), Ok(m.clone()));
    assert_eq!(m.piece_len(0), 16384);
    assert_eq!(m.piece_len(1), 3616);
    assert_eq!(m.piece_len(2), 0);
    assert!(m.check_piece(1, &data[16384..]));
    assert!(!m.check_piece(1, &data[16383..]));
    assert!(!m.check_piece(2, &[]));
    assert_eq!(m.id(), RecordId::of(b));
}

#[test]
fn empty_file_has_no_pieces() {
    let m = build(&[], 1);
    assert_eq!(m.piece_count(), 0);
    assert_eq!(m.length(), 0);
    assert_eq!(Manifest::parse_verified(m.bytes(), &ring()), Ok(m));
}

#[test]
fn verifies_against_trusted_keys_only() {
    let m = build(b"hello", 1);
    assert_eq!(
        Manifest::parse_verified(m.bytes(), &Keyring::new()),
        Err(ManifestError::Untrusted(VerifyError::UnknownKey(
            key().id()
        )))
    );
    let mut forged = m.bytes().to_vec();
    forged[15] = 8; // version 8 under version 1's signature
    assert_eq!(
        Manifest::parse_verified(&forged, &ring()),
        Err(ManifestError::Untrusted(VerifyError::BadSignature(
            key().id()
        )))
    );
    // A tombstone never passes as a manifest: the magic differs.
    let t = crate::Tombstone::new(m.name(), 1, &key());
    assert_eq!(
        Manifest::parse_verified(t.bytes(), &ring()),
        Err(ManifestError::BadMagic(*b"ITCT"))
    );
    // Trusting a second key as well changes nothing for this one.
    let other = SecretKey::from_seed(&[1; 32]);
    let mut r = ring();
    r.insert(PublicKey::clone(other.public()));
    assert!(Manifest::parse_verified(m.bytes(), &r).is_ok());
}

#[test]
fn build_rejects_a_stream_of_the_wrong_length() {
    let name = Name::new("x").unwrap();
    let short = Manifest::build(&name, 1, 10, &b"12345"[..], &key()).unwrap_err();
    assert!(short.to_string().contains("ended before"), "{short}");
    let long = Manifest::build(&name, 1, 3, &b"12345"[..], &key()).unwrap_err();
    assert!(long.to_string().contains("longer than"), "{long}");
}

#[test]
fn piece_size_keeps_manifests_bounded() {
    assert_eq!(piece_size_for(0), Some(DEFAULT_PIECE_SIZE));
    assert_eq!(piece_size_for(15_000_000), Some(16 * 1024));
    assert_eq!(piece_size_for(4096 * 16 * 1024), Some(16 * 1024));
    assert_eq!(piece_size_for(4096 * 16 * 1024 + 1), Some(32 * 1024));
    assert_eq!(piece_size_for(MAX_FILE_LEN), Some(MAX_PIECE_SIZE));
    assert_eq!(piece_size_for(MAX_FILE_LEN + 1), None);
    assert_eq!(MAX_MANIFEST_LEN, 102 + 64 + 4096 * 32);
}

/// A manifest header with the given fields and no hashes or signature.
fn header(length: u64, piece_size: u32, count: u32) -> Vec<u8> {
    let mut b = b"ITCM".to_vec(); // magic
    b.push(1); // format 1
    b.push(1); // name length 1
    b.push(b'a'); // name "a"
    b.extend_from_slice(&1u64.to_be_bytes()); // version 1
    b.extend_from_slice(&length.to_be_bytes()); // length
    b.extend_from_slice(&piece_size.to_be_bytes()); // piece size
    b.extend_from_slice(&count.to_be_bytes()); // piece count
    b
}

#[test]
fn rejects_hostile_fields_before_reading_further() {
    assert_eq!(
        Manifest::parse(&vec![0; MAX_MANIFEST_LEN + 1]),
        Err(ManifestError::TooLong {
            len: MAX_MANIFEST_LEN + 1
        })
    );
    assert_eq!(
        Manifest::parse(b"ITCX"),
        Err(ManifestError::BadMagic(*b"ITCX"))
    );
    assert_eq!(
        Manifest::parse(b"ITCM\x02"),
        Err(ManifestError::BadFormat(2))
    );
    assert_eq!(
        Manifest::parse(b"ITCM\x01\x00"),
        Err(ManifestError::Name(NameError::Empty))
    );
    assert_eq!(
        Manifest::parse(&header(10, 1000, 1)),
        Err(ManifestError::BadPieceSize(1000))
    );
    assert_eq!(
        Manifest::parse(&header(10, 512, 1)),
        Err(ManifestError::BadPieceSize(512))
    );
    assert_eq!(
        Manifest::parse(&header(10, 1 << 21, 1)),
        Err(ManifestError::BadPieceSize(1 << 21))
    );
    assert_eq!(
        Manifest::parse(&header(u64::MAX, 1024, 1)),
        Err(ManifestError::FileTooLong(u64::MAX))
    );
    assert_eq!(
        Manifest::parse(&header(2048, 1024, 3)),
        Err(ManifestError::PieceCount { count: 3, want: 2 })
    );
    assert_eq!(
        Manifest::parse(&header(MAX_FILE_LEN, 1024, 1 << 22)),
        Err(ManifestError::TooManyPieces(1 << 22))
    );
    // A count that claims more hashes than the bytes hold is a truncation.
    assert_eq!(
        Manifest::parse(&header(2048, 1024, 2)),
        Err(ManifestError::Truncated { len: 31, need: 95 })
    );
}

#[test]
fn rejects_truncation_at_every_byte_and_trailing_bytes() {
    let m = build(b"some bytes", 3);
    let b = m.bytes();
    for cut in 0..b.len() {
        assert!(
            matches!(Manifest::parse(&b[..cut]), Err(ManifestError::Truncated { len, .. }) if len == cut),
            "cut at {cut}: {:?}",
            Manifest::parse(&b[..cut])
        );
    }
    let mut long = b.to_vec();
    long.push(0);
    assert_eq!(
        Manifest::parse(&long),
        Err(ManifestError::Trailing {
            len: b.len() + 1,
            used: b.len()
        })
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = Manifest::parse(&bytes);
        let mut with_magic = b"ITCM\x01".to_vec();
        with_magic.extend_from_slice(&bytes);
        if let Ok(m) = Manifest::parse(&with_magic) {
            proptest::prop_assert_eq!(m.bytes(), &with_magic[..]);
        }
    }
}
