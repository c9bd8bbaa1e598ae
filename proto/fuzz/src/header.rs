//! The packet header: every [`Packet`] getter on any buffer that
//! `new_checked` accepts, and [`HeaderRepr`] parse -> emit -> parse.

use arbitrary::Unstructured;
use itc_proto::{field, Error, HeaderRepr, LocalType, Packet, RoutedHeader, MAX_SERVICE};

use crate::{any_buffer, any_code, assert_refusal};

/// Parses `data` as a packet header and returns it. A header that parses
/// is emitted over a copy of `data` three times (as is, header bytes zeroed,
/// header bytes 0xff): each must parse back the same, leave the payload
/// alone and spell the same header bytes, reserved bits cleared.
pub fn check_header(data: &[u8]) -> Option<HeaderRepr> {
    let Ok(packet) = Packet::new_checked(data) else {
        assert!(
            HeaderRepr::parse(&Packet::new_unchecked(data)).is_err(),
            "a header parsed from a buffer that new_checked refuses"
        );
        return None;
    };
    check_getters(&packet);
    let repr = HeaderRepr::parse(&packet).ok()?;
    let hlen = repr.header_len();
    assert_eq!(hlen, packet.header_len(), "header lengths disagree");
    match repr {
        HeaderRepr::Routed(h) => {
            assert!(packet.is_routed());
            assert_eq!(h.mfm, packet.is_mfm());
            assert_eq!(h.service.is_none(), h.mfm, "service present iff not MFM");
            assert!(h.service.is_none_or(|s| (1..=MAX_SERVICE).contains(&s)));
        }
        HeaderRepr::Local(t) => {
            assert!(packet.is_local());
            assert_eq!(t, LocalType::from_byte(data[0]));
        }
        HeaderRepr::NonStandard(b) => {
            assert!(!packet.is_standard());
            assert_eq!(b, data[0]);
        }
    }
    for fill in [None, Some(0x00), Some(0xff)] {
        let mut buf = data.to_vec();
        if let Some(b) = fill {
            buf[..hlen].fill(b);
        }
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]))
            .expect("emit refused a header that parsed");
        assert_eq!(&buf[hlen..], &data[hlen..], "emit touched the payload");
        assert_eq!(
            buf[field::HEADER],
            data[field::HEADER],
            "header byte changed"
        );
        if hlen == 2 {
            assert_eq!(
                buf[field::SERVICE],
                data[field::SERVICE] & field::SVC,
                "service byte is not the service with reserved bits clear"
            );
        }
        let again = HeaderRepr::parse(&Packet::new_unchecked(&buf[..]))
            .expect("an emitted header does not parse");
        assert_eq!(again, repr, "header changed across emit and parse");
    }
    Some(repr)
}

/// Calls every getter that a checked packet promises not to panic in, and
/// checks that they agree with each other.
fn check_getters(p: &Packet<&[u8]>) {
    let kinds = [
        p.is_routed(),
        p.is_local(),
        !p.is_standard(),
        p.header() >= 0xe0,
    ];
    assert_eq!(kinds.iter().filter(|&&k| k).count(), 1, "kinds overlap");
    assert!(!p.is_mfm() || p.is_routed());
    assert!(!p.ovrn() || p.is_routed());
    assert!(!p.eror() || p.is_routed());
    assert!(p.dir8() <= field::DIR);
    assert_eq!(p.dir().is_ok(), itc_proto::Dir::from_dir8(p.dir8()).is_ok());
    assert!(p.local_type() <= field::LOCAL_TYPE);
    let hlen = p.header_len();
    if hlen == 2 {
        assert!(p.service() <= MAX_SERVICE);
        assert!(p.reserved() <= 3);
    }
    assert_eq!(p.payload().len() + hlen, p.as_bytes().len());
}

/// Emits a header built from the fuzzer's bytes, any field values, into a
/// buffer of 0..=3 bytes; whatever emit accepts must parse back the same.
pub fn emit_header(data: &[u8]) {
    let _ = try_emit_header(&mut Unstructured::new(data));
}

fn try_emit_header(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let repr = match u.int_in_range(0..=2)? {
        0 => HeaderRepr::Routed(RoutedHeader {
            mfm: u.arbitrary()?,
            ovrn: u.arbitrary()?,
            eror: u.arbitrary()?,
            dir: u.arbitrary()?,
            service: u.arbitrary()?,
        }),
        1 => HeaderRepr::Local(any_code(u, LocalType::from_byte, LocalType::Unknown)?),
        _ => HeaderRepr::NonStandard(u.arbitrary()?),
    };
    let mut buf = any_buffer(u, 3)?;
    let len = buf.len();
    match repr.emit(&mut Packet::new_unchecked(&mut buf[..])) {
        Ok(()) => {
            let again = HeaderRepr::parse(&Packet::new_unchecked(&buf[..]))
                .expect("an emitted header does not parse");
            assert_eq!(
                again,
                normalise(repr),
                "header changed across emit and parse"
            );
        }
        Err(e) => assert_refusal(e, len, repr.header_len(), |e| refused(repr, e)),
    }
    Ok(())
}

/// The value `parse` gives back for `repr`: the named local type for an
/// `Unknown` byte that has one.
fn normalise(repr: HeaderRepr) -> HeaderRepr {
    match repr {
        HeaderRepr::Local(t) => HeaderRepr::Local(LocalType::from_byte(t.to_byte())),
        other => other,
    }
}

/// True if `e` is a right reason for emit to refuse `repr`.
fn refused(repr: HeaderRepr, e: Error) -> bool {
    match (repr, e) {
        (HeaderRepr::Routed(h), Error::BadDir(d)) => d == h.dir && d > field::DIR,
        (HeaderRepr::Routed(h), Error::WrongKind(_)) => h.mfm && h.service.is_some(),
        (HeaderRepr::Routed(h), Error::BadService(s)) => {
            !h.mfm && h.service.unwrap_or(0) == s && (s == 0 || s > MAX_SERVICE)
        }
        (HeaderRepr::Local(t), Error::BadHeader(b)) => {
            b == t.to_byte() && b & field::LOCAL_KIND != field::LOCAL
        }
        (HeaderRepr::NonStandard(b0), Error::BadHeader(b)) => b == b0 && b & field::STND != 0,
        _ => false,
    }
}
