//! What one read of a service's `itc/svc/NN` file returned, decoded with
//! `itc-proto`, and the packets a service writes there. No I/O.
//!
//! A read returns either a service packet, `0x80 | dir8, SVC, payload...`
//! with DIR the direction it arrived from, or a Tile Event Packet `0xc4,
//! EVENT, dir8`. [`classify`] accepts a data packet only with the MFMT,
//! OVRN and EROR bits clear, one of the six directions and this file's
//! service, and a TEP only with one of the six directions (Connect,
//! Disconnect, Packets lost with its count) or none (Events lost);
//! anything else is [`Inbound::Malformed`], never a panic.

use itc_proto::{field, Dir, Packet, TepEvent, TepRepr};

/// A decoded read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A neighbour became present.
    Connect(Dir),
    /// A neighbour ceased to be present.
    Disconnect(Dir),
    /// This reader fell behind and missed events: the neighbour set is no
    /// longer known.
    EventsLost,
    /// `itcd` dropped `count` packets from `dir` for want of room in this
    /// file's queue.
    PacketsLost {
        /// Where they came from.
        dir: Dir,
        /// How many.
        count: u32,
    },
    /// A packet of this service from `dir`.
    Packet {
        /// Where it came from.
        dir: Dir,
        /// The bytes after the two-byte header.
        payload: &'a [u8],
    },
    /// Anything else: a reserved TEP, a wrong header or service.
    Malformed,
}

/// Decodes one read of the packet file of service `service`.
pub fn classify(bytes: &[u8], service: u8) -> Inbound<'_> {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return Inbound::Malformed;
    };
    if packet.header() == field::TYPE_TEP {
        return match TepRepr::parse(&packet) {
            Ok(tep) => match (tep.event, tep.direction()) {
                (TepEvent::Connect, Some(d)) => Inbound::Connect(d),
                (TepEvent::Disconnect, Some(d)) => Inbound::Disconnect(d),
                (TepEvent::EventsLost, _) => Inbound::EventsLost,
                (TepEvent::PacketsLost, Some(dir)) => match tep.count {
                    Some(count) => Inbound::PacketsLost { dir, count },
                    None => Inbound::Malformed,
                },
                _ => Inbound::Malformed,
            },
            Err(_) => Inbound::Malformed,
        };
    }
    let flags = field::MFMT | field::OVRN | field::EROR;
    if !packet.is_routed() || packet.header() & flags != 0 || packet.service() != service {
        return Inbound::Malformed;
    }
    match packet.dir() {
        Ok(dir) => Inbound::Packet {
            dir,
            payload: &bytes[packet.header_len()..],
        },
        Err(_) => Inbound::Malformed,
    }
}

/// Writes the packet carrying `payload` to `dir` for service `service`
/// into `out` (cleared first): `0x80 | dir8, service, payload...`.
pub fn emit(out: &mut Vec<u8>, dir: Dir, service: u8, payload: &[u8]) {
    out.clear();
    out.push(field::STND | dir.dir8());
    out.push(service & field::SVC);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_packets_carry_their_direction_and_payload() {
        let bytes = [
            0x82, // routed, service traffic, DIR 2 (ET)
            20,   // service 20
            b'h', b'i',
        ];
        assert_eq!(
            classify(&bytes, 20),
            Inbound::Packet {
                dir: Dir::ET,
                payload: b"hi"
            }
        );
        // An empty payload is a packet too.
        assert_eq!(
            classify(&[0x86, 20], 20),
            Inbound::Packet {
                dir: Dir::WT,
                payload: b""
            }
        );
        // Reserved bits of byte 1 are ignored on receipt.
        assert!(matches!(
            classify(&[0x82, 0xc0 | 20], 20),
            Inbound::Packet { dir: Dir::ET, .. }
        ));
    }

    #[test]
    fn teps_become_neighbour_events() {
        assert_eq!(classify(&[0xc4, 0x01, 0x05], 20), Inbound::Connect(Dir::SW));
        assert_eq!(
            classify(&[0xc4, 0x02, 0x07], 20),
            Inbound::Disconnect(Dir::NW)
        );
        assert_eq!(classify(&[0xc4, 0x03], 20), Inbound::EventsLost);
        assert_eq!(
            classify(&[0xc4, 0x04, 0x06, 0x2c, 0x01, 0, 0], 20), // 300 from WT
            Inbound::PacketsLost {
                dir: Dir::WT,
                count: 300
            }
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            &[][..],             // empty
            &[0xc4, 0x01],       // Connect without a direction
            &[0xc4, 0x01, 0x04], // Connect from ST
            &[0xc4, 0x00, 0x02], // illegal event
            &[0xc4, 0x42, 0x02], // reserved event
            &[0xc4, 0x04, 0x02], // Packets lost without its count
            &[0x82, 21, 1],      // another service
            &[0xa2, 1, 2],       // MFM
            &[0x92, 20, 1],      // OVRN set
            &[0x8a, 20, 1],      // EROR set
            &[0x80, 20, 1],      // DIR 0 (NT)
            &[0x82],             // header cut short
            &[0xc3, b'P', 2],    // link status
            &[0x41, 0x42, 0x43], // non-standard
        ] {
            assert_eq!(classify(bad, 20), Inbound::Malformed, "{bad:02x?}");
        }
        assert_eq!(classify(&[0x82; 256], 0x02), Inbound::Malformed, "too long");
    }

    #[test]
    fn emit_builds_what_classify_reads_back_as_sent() {
        let mut out = vec![0xff; 8];
        emit(&mut out, Dir::NE, 20, b"abc");
        assert_eq!(out, [0x81, 20, b'a', b'b', b'c']);
        emit(&mut out, Dir::SE, 63, b"");
        assert_eq!(out, [0x83, 63]);
    }
}
