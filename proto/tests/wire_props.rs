//! Properties of the wire module: no parser panics on any input, every
//! `Repr` survives emit then parse, and every valid packet survives parse
//! then emit byte for byte.

use itc_proto::Dir;
use itc_proto::{
    check_user_write, BounceReason, BounceRepr, EchoOp, EchoRepr, HeaderRepr, HelloRepr, LinkCode,
    LinkStatusRepr, LocalType, Packet, RoutedHeader, TepEvent, TepRepr, MAX_BOUNCE_LEN,
    MAX_ECHO_PAYLOAD, MAX_NAME_LEN, MAX_PACKET_LEN, MAX_PHYSICS_LEN, MAX_SERVICE,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

fn any_dir() -> impl Strategy<Value = Dir> {
    select(&Dir::ALL[..])
}

/// Arbitrary bytes, half of them starting with a header byte that reaches
/// deep into one of the parsers.
fn fuzz_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = select(vec![
        vec![0xc3],       // link status
        vec![0xc4],       // TEP
        vec![0xc5],       // bounce
        vec![0x82, 0x01], // hello to ET
        vec![0x86, 0x01, 0x01],
        vec![0x83, 0x02], // echo to SE
        vec![0xa1],       // MFM to NE
    ]);
    prop_oneof![
        vec(any::<u8>(), 0..300),
        (interesting, vec(any::<u8>(), 0..300)).prop_map(|(mut head, tail)| {
            head.extend(tail);
            head
        }),
    ]
}

/// A string of at most `max` bytes, sometimes with multi-byte characters.
fn short_str(max: usize) -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9._-]{0,64}", "\\PC{0,16}"].prop_filter("too long", move |s| s.len() <= max)
}

fn header_repr() -> impl Strategy<Value = HeaderRepr> {
    let routed = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..8,
        1u8..=MAX_SERVICE,
    )
        .prop_map(|(mfm, ovrn, eror, dir, svc)| {
            HeaderRepr::Routed(RoutedHeader {
                mfm,
                ovrn,
                eror,
                dir,
                service: if mfm { None } else { Some(svc) },
            })
        });
    prop_oneof![
        routed,
        (0xc0u8..=0xdf).prop_map(|b| HeaderRepr::Local(LocalType::from_byte(b))),
        (0u8..0x80).prop_map(HeaderRepr::NonStandard),
    ]
}

fn link_status_repr() -> impl Strategy<Value = LinkStatusRepr> {
    (any::<u8>(), any::<u8>(), any_dir()).prop_map(|(code, arg, dir)| {
        let code = LinkCode::from_byte(code);
        let arg = if code.has_dir() { dir.dir8() } else { arg };
        LinkStatusRepr { code, arg }
    })
}

fn tep_repr() -> impl Strategy<Value = TepRepr> {
    (1u8..=255, option::of(any_dir())).prop_map(|(e, d)| TepRepr::new(TepEvent::from_byte(e), d))
}

/// A valid routed packet: header, service byte with reserved bits clear for
/// service traffic, payload.
fn routed_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        0u8..0x20,
        1u8..=MAX_SERVICE,
        vec(any::<u8>(), 0..=MAX_PACKET_LEN - 2),
    )
        .prop_map(|(mfm, low, svc, payload)| {
            // low holds OVRN, EROR and DIR.
            let mut bytes = vec![0x80 | low | if mfm { 0x20 } else { 0 }];
            if !mfm {
                bytes.push(svc);
            }
            bytes.extend(payload);
            bytes
        })
}

proptest! {
    #[test]
    fn parsers_never_panic(
        bytes in fuzz_bytes(),
        want_mfm in any::<bool>(),
        want_service in option::of(any::<u8>()),
    ) {
        let p = Packet::new_unchecked(&bytes[..]);
        if let Ok(checked) = Packet::new_checked(&bytes[..]) {
            let _ = (
                checked.is_standard(),
                checked.is_routed(),
                checked.is_local(),
                checked.is_mfm(),
                checked.ovrn(),
                checked.eror(),
                checked.dir8(),
                checked.dir(),
                checked.local_type(),
                checked.payload(),
            );
            if checked.header_len() == 2 {
                let _ = (checked.service(), checked.reserved());
            }
        }
        let _ = HeaderRepr::parse(&p);
        let _ = LinkStatusRepr::parse(&p);
        let _ = TepRepr::parse(&p);
        let _ = BounceRepr::parse(&p);
        let _ = HelloRepr::parse(&p);
        let _ = EchoRepr::parse(&p);
        let _ = check_user_write(&bytes, want_mfm, want_service);
    }

    #[test]
    fn whatever_parses_emits_and_parses_again(bytes in fuzz_bytes()) {
        let p = Packet::new_unchecked(&bytes[..]);
        let mut buf = [0u8; MAX_BOUNCE_LEN];
        if let Ok(r) = HeaderRepr::parse(&p) {
            let mut out = bytes.clone();
            r.emit(&mut Packet::new_unchecked(&mut out[..])).unwrap();
            prop_assert_eq!(HeaderRepr::parse(&Packet::new_unchecked(&out[..])), Ok(r));
        }
        if let Ok(r) = LinkStatusRepr::parse(&p) {
            let n = r.emit(&mut buf).unwrap();
            prop_assert_eq!(LinkStatusRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
        }
        if let Ok(r) = TepRepr::parse(&p) {
            let n = r.emit(&mut buf).unwrap();
            prop_assert_eq!(TepRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
        }
        if let Ok(r) = BounceRepr::parse(&p) {
            let n = r.emit(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &bytes[..]);
        }
        if let Ok(r) = HelloRepr::parse(&p) {
            let n = r.emit(&mut buf, Dir::ET).unwrap();
            prop_assert_eq!(HelloRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
        }
        if let Ok(r) = EchoRepr::parse(&p) {
            let n = r.emit(&mut buf, Dir::ET).unwrap();
            prop_assert_eq!(&buf[3..n], r.payload);
            prop_assert_eq!(EchoRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
        }
    }

    #[test]
    fn header_emit_parse(h in header_repr(), payload in vec(any::<u8>(), 0..=253)) {
        let mut buf = vec![0xffu8; h.header_len() + payload.len()];
        buf[h.header_len()..].copy_from_slice(&payload);
        h.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        let p = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(HeaderRepr::parse(&p), Ok(h));
        prop_assert_eq!(p.header_len(), h.header_len());
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn link_status_emit_parse(r in link_status_repr()) {
        let mut buf = [0xffu8; 8];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert_eq!(LinkStatusRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
    }

    #[test]
    fn tep_emit_parse(r in tep_repr()) {
        let mut buf = [0xffu8; 8];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert_eq!(TepRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
        let (bytes, len) = itc_proto::tep_bytes(r.event, r.direction());
        prop_assert_eq!(&bytes[..len], &buf[..n]);
    }

    #[test]
    fn bounce_emit_parse(reason in any::<u8>(), packet in vec(any::<u8>(), 1..=MAX_PACKET_LEN)) {
        let r = BounceRepr { reason: BounceReason::from_byte(reason), packet: &packet };
        let mut buf = [0xffu8; MAX_BOUNCE_LEN];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert_eq!(BounceRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
    }

    #[test]
    fn hello_emit_parse(
        name in short_str(MAX_NAME_LEN),
        physics in short_str(MAX_PHYSICS_LEN),
        dir in any_dir(),
    ) {
        let r = HelloRepr { name: &name, physics: &physics, flags: itc_proto::HelloFlags::empty() };
        let mut buf = [0xffu8; MAX_PACKET_LEN];
        let n = r.emit(&mut buf, dir).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        let p = Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(p.dir(), Ok(dir));
        prop_assert_eq!(check_user_write(&buf[..n], false, Some(1)), Ok(dir));
        prop_assert_eq!(HelloRepr::parse(&p), Ok(r));
    }

    #[test]
    fn echo_emit_parse(
        op in any::<u8>(),
        payload in vec(any::<u8>(), 0..=MAX_ECHO_PAYLOAD),
        dir in any_dir(),
    ) {
        let r = EchoRepr { op: EchoOp::from_byte(op), payload: &payload };
        let mut buf = [0xffu8; MAX_PACKET_LEN];
        let n = r.emit(&mut buf, dir).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert_eq!(check_user_write(&buf[..n], false, Some(2)), Ok(dir));
        prop_assert_eq!(EchoRepr::parse(&Packet::new_unchecked(&buf[..n])), Ok(r));
    }

    #[test]
    fn routed_parse_emit(bytes in routed_packet()) {
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let h = HeaderRepr::parse(&p).unwrap();
        let mut out = bytes.clone();
        out[..h.header_len()].fill(0xff);
        h.emit(&mut Packet::new_unchecked(&mut out[..])).unwrap();
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn local_and_non_standard_parse_emit(
        b0 in prop_oneof![0xc0u8..=0xdf, 0u8..0x80],
        payload in vec(any::<u8>(), 0..=MAX_PACKET_LEN - 1),
    ) {
        let mut bytes = vec![b0];
        bytes.extend(payload);
        let h = HeaderRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = bytes.clone();
        out[0] = 0xff;
        h.emit(&mut Packet::new_unchecked(&mut out[..])).unwrap();
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn link_status_parse_emit(code in any::<u8>(), arg in any::<u8>(), dir in any_dir()) {
        let arg = if LinkCode::from_byte(code).has_dir() { dir.dir8() } else { arg };
        let bytes = [0xc3, code, arg];
        let r = LinkStatusRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = [0u8; 3];
        prop_assert_eq!(r.emit(&mut out), Ok(3));
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn tep_parse_emit(event in 1u8..=255, dir in option::of(any_dir())) {
        let mut bytes = vec![0xc4, event];
        bytes.extend(dir.map(Dir::dir8));
        let r = TepRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = [0u8; 3];
        let n = r.emit(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
    }

    #[test]
    fn bounce_parse_emit(reason in any::<u8>(), packet in vec(any::<u8>(), 1..=MAX_PACKET_LEN)) {
        let mut bytes = vec![0xc5, reason];
        bytes.extend(&packet);
        let r = BounceRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = [0u8; MAX_BOUNCE_LEN];
        let n = r.emit(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
    }

    #[test]
    fn hello_parse_emit(
        name in short_str(MAX_NAME_LEN),
        physics in short_str(MAX_PHYSICS_LEN),
        dir in any_dir(),
    ) {
        let mut bytes = vec![0x80 | dir.dir8(), 0x01, 0x01, name.len() as u8];
        bytes.extend(name.as_bytes());
        bytes.push(physics.len() as u8);
        bytes.extend(physics.as_bytes());
        let r = HelloRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = [0u8; MAX_PACKET_LEN];
        let n = r.emit(&mut out, dir).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
    }

    #[test]
    fn echo_parse_emit(
        op in any::<u8>(),
        payload in vec(any::<u8>(), 0..=MAX_ECHO_PAYLOAD),
        dir in any_dir(),
    ) {
        let mut bytes = vec![0x80 | dir.dir8(), 0x02, op];
        bytes.extend(&payload);
        let r = EchoRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        let mut out = [0u8; MAX_PACKET_LEN];
        let n = r.emit(&mut out, dir).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
    }
}
