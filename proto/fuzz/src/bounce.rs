//! Bounces (0xc5): [`BounceRepr`] parse -> emit -> parse, and emit of any
//! reason and wrapped packet.

use arbitrary::Unstructured;
use itc_proto::{BounceReason, BounceRepr, Error, Packet, MAX_BOUNCE_LEN, MAX_PACKET_LEN};

use crate::{any_buffer, any_code, assert_refusal};

/// Parses `data` as a bounce. One that parses, emitted again, must repeat
/// every byte of `data` and parse back the same.
pub fn check_bounce(data: &[u8]) -> Option<BounceRepr<'_>> {
    let repr = BounceRepr::parse(&Packet::new_unchecked(data)).ok()?;
    assert!((1..=MAX_PACKET_LEN).contains(&repr.packet.len()));
    let mut buf = [0xa5u8; MAX_BOUNCE_LEN];
    let n = repr
        .emit(&mut buf)
        .expect("emit refused a bounce that parsed");
    assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
    assert_eq!(&buf[..n], data, "emit spelled the bounce differently");
    assert_eq!(
        BounceRepr::parse(&Packet::new_unchecked(&buf[..n])),
        Ok(repr),
        "bounce changed across emit and parse"
    );
    Some(repr)
}

/// Emits a bounce built from the fuzzer's bytes (any reason, a wrapped
/// packet of 0..=260 bytes) into a buffer of 0..=262 bytes; whatever emit
/// accepts must parse back the same.
pub fn emit_bounce(data: &[u8]) {
    let _ = try_emit_bounce(&mut Unstructured::new(data));
}

fn try_emit_bounce(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let reason = any_code(u, BounceReason::from_byte, BounceReason::Unknown)?;
    let mut buf = any_buffer(u, MAX_BOUNCE_LEN + 5)?;
    let n = u.int_in_range(0..=MAX_PACKET_LEN + 5)?;
    let packet = u.bytes(n.min(u.len()))?;
    let repr = BounceRepr { reason, packet };
    match repr.emit(&mut buf) {
        Ok(n) => {
            assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
            let again = BounceRepr::parse(&Packet::new_unchecked(&buf[..n]))
                .expect("an emitted bounce does not parse");
            assert_eq!(again.reason, BounceReason::from_byte(reason.to_byte()));
            assert_eq!(again.packet, packet, "wrapped packet changed");
        }
        Err(e) => assert_refusal(e, buf.len(), repr.buffer_len(), |e| match e {
            Error::Empty => packet.is_empty(),
            Error::TooLong { len } => len == packet.len() && len > MAX_PACKET_LEN,
            _ => false,
        }),
    }
    Ok(())
}
