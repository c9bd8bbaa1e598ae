//! Link status messages (0xc3): [`LinkStatusRepr`] parse -> emit -> parse,
//! and emit of any code and argument.

use arbitrary::Unstructured;
use itc_proto::{Dir, Error, LinkCode, LinkStatusRepr, Packet, LINK_STATUS_LEN};

use crate::{any_buffer, any_code, assert_refusal};

/// Parses `data` as a link status message. One that parses, emitted again,
/// must repeat its first three bytes and parse back the same; a monitor
/// message's bitmap must read the same through `has_sync` and `monitor`.
pub fn check_link_status(data: &[u8]) -> Option<LinkStatusRepr> {
    let repr = LinkStatusRepr::parse(&Packet::new_unchecked(data)).ok()?;
    assert_eq!(repr.code.has_dir(), repr.dir().is_some());
    if repr.code == LinkCode::Monitor {
        // has_sync reads the bitmap, and monitor() rebuilds it from the six
        // directions (bits 0 and 4, NT and ST, are no link's).
        let synced: Vec<Dir> = Dir::ALL.into_iter().filter(|&d| repr.has_sync(d)).collect();
        for d in Dir::ALL {
            assert_eq!(repr.has_sync(d), repr.arg & (1 << d.dir8()) != 0);
        }
        assert_eq!(LinkStatusRepr::monitor(synced).arg, repr.arg & !0b0001_0001);
    } else {
        assert!(Dir::ALL.iter().all(|&d| !repr.has_sync(d)));
    }
    let mut buf = [0xa5u8; LINK_STATUS_LEN];
    let n = repr
        .emit(&mut buf)
        .expect("emit refused a link status that parsed");
    assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
    assert_eq!(
        &buf[..n],
        &data[..n],
        "emit spelled the link status differently"
    );
    assert_eq!(
        LinkStatusRepr::parse(&Packet::new_unchecked(&buf[..n])),
        Ok(repr),
        "link status changed across emit and parse"
    );
    Some(repr)
}

/// Emits a link status built from the fuzzer's bytes (any code, any
/// argument) into a buffer of 0..=4 bytes; whatever emit accepts must parse
/// back the same.
pub fn emit_link_status(data: &[u8]) {
    let _ = try_emit_link_status(&mut Unstructured::new(data));
}

fn try_emit_link_status(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let repr = LinkStatusRepr {
        code: any_code(u, LinkCode::from_byte, LinkCode::Unknown)?,
        arg: u.arbitrary()?,
    };
    let mut buf = any_buffer(u, LINK_STATUS_LEN + 1)?;
    match repr.emit(&mut buf) {
        Ok(n) => {
            assert_eq!(n, repr.buffer_len(), "emit and buffer_len disagree");
            let again = LinkStatusRepr::parse(&Packet::new_unchecked(&buf[..n]))
                .expect("an emitted link status does not parse");
            assert_eq!(again.code, LinkCode::from_byte(repr.code.to_byte()));
            assert_eq!(again.arg, repr.arg, "argument changed");
        }
        Err(e) => assert_refusal(e, buf.len(), repr.buffer_len(), |e| {
            e == Error::BadDir(repr.arg) && Dir::from_dir8(repr.arg).is_err()
        }),
    }
    Ok(())
}
