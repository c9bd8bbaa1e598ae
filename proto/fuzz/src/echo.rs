//! Echo (service 2): [`EchoRepr`] parse -> emit -> parse, and emit of any
//! op and payload.

use arbitrary::Unstructured;
use itc_proto::{field, Dir, EchoOp, EchoRepr, Error, HeaderRepr, Packet, RoutedHeader};
use itc_proto::{MAX_PACKET_LEN, SVC_ECHO};

use crate::{any_buffer, any_code, any_dir, assert_refusal};

/// Parses `data` as an echo packet. One that parses must be a routed
/// service 2 packet, and emitted again (to its own direction, or ET if DIR
/// is not one of the six) it must parse back the same and repeat every byte
/// after the service byte.
pub fn check_echo(data: &[u8]) -> Option<EchoRepr<'_>> {
    let repr = EchoRepr::parse(&Packet::new_unchecked(data)).ok()?;
    let header = HeaderRepr::parse(&Packet::new_unchecked(data));
    assert!(
        matches!(
            header,
            Ok(HeaderRepr::Routed(RoutedHeader {
                mfm: false,
                service: Some(SVC_ECHO),
                ..
            }))
        ),
        "an echo parsed from a packet whose header is {header:?}"
    );
    let dir = Dir::from_dir8(data[field::HEADER] & field::DIR).unwrap_or(Dir::ET);
    let mut buf = [0xa5u8; MAX_PACKET_LEN];
    let n = repr
        .emit(&mut buf, dir)
        .expect("emit refused an echo that parsed");
    assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
    assert_eq!(n, data.len(), "an echo is the whole packet");
    let out = &buf[..n];
    assert_eq!(out[field::HEADER], field::STND | dir.dir8());
    assert_eq!(out[field::SERVICE], SVC_ECHO);
    assert_eq!(&out[2..], &data[2..], "emit spelled the echo differently");
    assert_eq!(
        EchoRepr::parse(&Packet::new_unchecked(out)),
        Ok(repr),
        "echo changed across emit and parse"
    );
    assert_eq!(repr.reply().payload, repr.payload);
    Some(repr)
}

/// Emits an echo built from the fuzzer's bytes (any op, a payload of up to
/// 260 bytes) into a buffer of 0..=260 bytes; whatever emit accepts must
/// parse back the same.
pub fn emit_echo(data: &[u8]) {
    let _ = try_emit_echo(&mut Unstructured::new(data));
}

fn try_emit_echo(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let op = any_code(u, EchoOp::from_byte, EchoOp::Unknown)?;
    let dir = any_dir(u)?;
    let mut buf = any_buffer(u, MAX_PACKET_LEN + 5)?;
    let n = u.int_in_range(0..=MAX_PACKET_LEN + 5)?;
    let payload = u.bytes(n.min(u.len()))?;
    let repr = EchoRepr { op, payload };
    match repr.emit(&mut buf, dir) {
        Ok(n) => {
            assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
            let again = EchoRepr::parse(&Packet::new_unchecked(&buf[..n]))
                .expect("an emitted echo does not parse");
            assert_eq!(again.op.to_byte(), op.to_byte(), "op changed");
            assert_eq!(again.op, EchoOp::from_byte(op.to_byte()));
            assert_eq!(again.payload, payload, "payload changed");
        }
        Err(e) => assert_refusal(e, buf.len(), repr.buffer_len(), |e| {
            e == Error::TooLong {
                len: repr.buffer_len(),
            } && repr.buffer_len() > MAX_PACKET_LEN
        }),
    }
    Ok(())
}
