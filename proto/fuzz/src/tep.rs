//! Tile Event Packets (0xc4): [`TepRepr`] parse -> emit -> parse, and emit
//! of any event, dir8 and count.

use arbitrary::Unstructured;
use itc_proto::{
    packets_lost_bytes, tep_bytes, Dir, Error, Packet, TepEvent, TepRepr, PACKETS_LOST_LEN,
};

use crate::{any_buffer, any_code, assert_refusal};

/// Parses `data` as a TEP. One that parses, emitted again, must repeat the
/// bytes parse read (header, event, dir8 if present, the count of a
/// Packets lost TEP) and parse back the same.
pub fn check_tep(data: &[u8]) -> Option<TepRepr> {
    let repr = TepRepr::parse(&Packet::new_unchecked(data)).ok()?;
    assert_ne!(repr.event, TepEvent::Illegal);
    assert_eq!(repr.dir.is_some(), repr.direction().is_some());
    let mut buf = [0xa5u8; PACKETS_LOST_LEN];
    let n = repr.emit(&mut buf).expect("emit refused a TEP that parsed");
    assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
    assert_eq!(&buf[..n], &data[..n], "emit spelled the TEP differently");
    assert_eq!(
        TepRepr::parse(&Packet::new_unchecked(&buf[..n])),
        Ok(repr),
        "TEP changed across emit and parse"
    );
    Some(repr)
}

/// Emits a TEP built from the fuzzer's bytes (any event, any dir8 or none,
/// any count or none) into a buffer of 0..=8 bytes; whatever emit accepts
/// must parse back the same, and [`tep_bytes`] (or, for a count,
/// [`packets_lost_bytes`]) must spell it the same way.
pub fn emit_tep(data: &[u8]) {
    let _ = try_emit_tep(&mut Unstructured::new(data));
}

fn try_emit_tep(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let repr = TepRepr {
        event: any_code(u, TepEvent::from_byte, TepEvent::Unknown)?,
        dir: u.arbitrary()?,
        count: u.arbitrary()?,
    };
    let mut buf = any_buffer(u, PACKETS_LOST_LEN + 1)?;
    match repr.emit(&mut buf) {
        Ok(n) => {
            assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
            let again = TepRepr::parse(&Packet::new_unchecked(&buf[..n]))
                .expect("an emitted TEP does not parse");
            assert_eq!(again.event, TepEvent::from_byte(repr.event.to_byte()));
            assert_eq!(again.dir, repr.dir, "dir8 changed");
            assert_eq!(again.count, repr.count, "count changed");
            // tep_bytes and packets_lost_bytes spell the same packet
            // without a TepRepr.
            match (repr.direction(), repr.count) {
                (Some(dir), Some(count)) => assert_eq!(
                    &packets_lost_bytes(dir, count)[..],
                    &buf[..n],
                    "packets_lost_bytes and emit disagree"
                ),
                _ => {
                    let (bytes, len) = tep_bytes(repr.event, repr.direction());
                    assert_eq!(&bytes[..len], &buf[..n], "tep_bytes and emit disagree");
                }
            }
        }
        Err(e) => assert_refusal(e, buf.len(), repr.buffer_len(), |e| match e {
            Error::BadTep(0) => repr.event.to_byte() == 0,
            Error::BadTep(e) => {
                e == repr.event.to_byte()
                    && repr.count.is_some()
                    && (repr.event != TepEvent::PacketsLost || repr.dir.is_none())
            }
            Error::BadDir(d) => repr.dir == Some(d) && Dir::from_dir8(d).is_err(),
            _ => false,
        }),
    }
    Ok(())
}
