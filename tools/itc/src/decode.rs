//! What a packet read from a packet or events file is: a tile event, data
//! of one kind from one direction, or something `itc` does not know.
//!
//! Parsing is `itc_proto`'s; this only sorts the result. In `tile/<D>/`
//! files TEPs carry no direction and the file's direction is used.

use itc_proto::Dir;
use itc_proto::{HeaderRepr, LocalType, Packet, TepEvent, TepRepr};

use crate::tree::Kind;

/// A packet as `itc` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A Tile Event Packet about `dir`.
    Event {
        /// What happened.
        event: TepEvent,
        /// The neighbour concerned; none for Events lost.
        dir: Option<Dir>,
    },
    /// A routed packet.
    Data {
        /// The direction it came from.
        dir: Option<Dir>,
        /// MFM or which service.
        kind: Kind,
        /// The bytes after the header.
        payload: &'a [u8],
    },
    /// Anything else, whole.
    Other(&'a [u8]),
}

/// Sorts a packet read from a file of `scope` (`None` for `itc/...`).
pub fn decode(bytes: &[u8], scope: Option<Dir>) -> Item<'_> {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return Item::Other(bytes);
    };
    match HeaderRepr::parse(&packet) {
        Ok(HeaderRepr::Local(LocalType::Tep)) => match TepRepr::parse(&packet) {
            Ok(tep) if tep.event == TepEvent::EventsLost => Item::Event {
                event: tep.event,
                dir: None,
            },
            Ok(tep) => Item::Event {
                event: tep.event,
                dir: tep.direction().or(scope),
            },
            Err(_) => Item::Other(bytes),
        },
        Ok(HeaderRepr::Routed(h)) => {
            let kind = match h.service {
                Some(n) => Kind::Svc(n),
                None => Kind::Mfm,
            };
            Item::Data {
                dir: h.direction().ok().or(scope),
                kind,
                payload: &bytes[HeaderRepr::Routed(h).header_len()..],
            }
        }
        _ => Item::Other(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teps_in_both_scopes() {
        assert_eq!(
            decode(&[0xc4, 0x01, 0x02], None), // Connect, dir8 2 (ET)
            Item::Event {
                event: TepEvent::Connect,
                dir: Some(Dir::ET)
            }
        );
        assert_eq!(
            decode(&[0xc4, 0x02], Some(Dir::WT)), // Disconnect in tile/WT
            Item::Event {
                event: TepEvent::Disconnect,
                dir: Some(Dir::WT)
            }
        );
        assert_eq!(
            decode(&[0xc4, 0x03], Some(Dir::WT)), // Events lost
            Item::Event {
                event: TepEvent::EventsLost,
                dir: None
            }
        );
    }

    #[test]
    fn data() {
        assert_eq!(
            decode(&[0x86, 0x14, b'h', b'i'], None), // svc 20 from WT
            Item::Data {
                dir: Some(Dir::WT),
                kind: Kind::Svc(20),
                payload: b"hi"
            }
        );
        assert_eq!(
            decode(&[0xa2, 0xff], Some(Dir::ET)), // MFM from ET
            Item::Data {
                dir: Some(Dir::ET),
                kind: Kind::Mfm,
                payload: &[0xff]
            }
        );
    }

    #[test]
    fn unknown_things_stay_whole() {
        assert_eq!(decode(&[], None), Item::Other(&[]));
        assert_eq!(decode(&[0xc4], None), Item::Other(&[0xc4]));
        assert_eq!(decode(&[0xe0, 1], None), Item::Other(&[0xe0, 1]));
        assert_eq!(decode(&[0x80, 0x00], None), Item::Other(&[0x80, 0x00]));
    }
}
