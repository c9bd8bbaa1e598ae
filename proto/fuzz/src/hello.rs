//! Hello (service 1): [`HelloRepr`] parse -> emit -> parse, and emit of
//! any name, physics id and flags.

use arbitrary::Unstructured;
use itc_proto::{field, Dir, Error, HeaderRepr, HelloFlags, HelloRepr, Packet, RoutedHeader};
use itc_proto::{MAX_NAME_LEN, MAX_PACKET_LEN, MAX_PHYSICS_LEN, SVC_HELLO};

use crate::{any_buffer, any_dir, assert_refusal};

/// Parses `data` as a hello. One that parses must be a routed service 1
/// packet, and emitted again (to its own direction, or ET if DIR is not one
/// of the six) it must parse back the same and repeat every byte after the
/// service byte that parse read.
pub fn check_hello(data: &[u8]) -> Option<HelloRepr<'_>> {
    let repr = HelloRepr::parse(&Packet::new_unchecked(data)).ok()?;
    let header = HeaderRepr::parse(&Packet::new_unchecked(data));
    assert!(
        matches!(
            header,
            Ok(HeaderRepr::Routed(RoutedHeader {
                mfm: false,
                service: Some(SVC_HELLO),
                ..
            }))
        ),
        "a hello parsed from a packet whose header is {header:?}"
    );
    let dir = Dir::from_dir8(data[field::HEADER] & field::DIR).unwrap_or(Dir::ET);
    let mut buf = [0xa5u8; MAX_PACKET_LEN];
    let n = repr
        .emit(&mut buf, dir)
        .expect("emit refused a hello that parsed");
    assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
    let out = &buf[..n];
    assert_eq!(out[field::HEADER], field::STND | dir.dir8());
    assert_eq!(out[field::SERVICE], SVC_HELLO);
    assert_eq!(&out[2..], &data[2..n], "emit spelled the hello differently");
    assert_eq!(
        HelloRepr::parse(&Packet::new_unchecked(out)),
        Ok(repr),
        "hello changed across emit and parse"
    );
    Some(repr)
}

/// Emits a hello built from the fuzzer's bytes (strings of any length,
/// any flags) into a buffer of 0..=255 bytes; whatever emit accepts must
/// parse back the same.
pub fn emit_hello(data: &[u8]) {
    let _ = try_emit_hello(&mut Unstructured::new(data));
}

fn try_emit_hello(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let repr = HelloRepr {
        name: u.arbitrary()?,
        physics: u.arbitrary()?,
        flags: HelloFlags::from_bits_retain(u.arbitrary()?),
    };
    let dir = any_dir(u)?;
    let mut buf = any_buffer(u, MAX_PACKET_LEN)?;
    match repr.emit(&mut buf, dir) {
        Ok(n) => {
            assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
            let out = &buf[..n];
            assert_eq!(
                HelloRepr::parse(&Packet::new_unchecked(out)),
                Ok(repr),
                "hello changed across emit and parse"
            );
            let header = HeaderRepr::parse(&Packet::new_unchecked(out));
            assert!(
                matches!(header, Ok(HeaderRepr::Routed(RoutedHeader { dir: d, .. })) if d == dir.dir8()),
                "hello emitted with header {header:?}, not to {dir}"
            );
        }
        Err(e) => assert_refusal(e, buf.len(), repr.buffer_len(), |e| match e {
            Error::FieldTooLong { len, max } => {
                len > max
                    && ((len, max) == (repr.name.len(), MAX_NAME_LEN)
                        || (len, max) == (repr.physics.len(), MAX_PHYSICS_LEN))
            }
            _ => false,
        }),
    }
    Ok(())
}
