//! What one message from a PRU means, decided from its bytes and the PRU
//! it came from alone: a routed packet from one of that PRU's directions,
//! a link report, a bounce of one of our packets, a debug message, or
//! something malformed. No state; the coordinator acts on the answer.
//!
//! A message counts as malformed for its PRU when it names a direction
//! the PRU does not drive, when a bounce holds anything but a routed
//! packet (only those carry a direction, and only those go to a PRU) or
//! gives a reason the firmware does not define, or when it fails to
//! parse.

use crate::stats::DropReason;
use itc_proto::{
    BounceReason, BounceRepr, HeaderRepr, LinkCode, LinkStatusRepr, LocalType, Packet,
};
use itc_proto::{Dir, Pru};

/// One PRU message, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A routed packet from `dir`.
    Routed {
        /// Where it came from.
        dir: Dir,
        /// MFM traffic (else a service packet).
        mfm: bool,
        /// The PRU lost packets before this one.
        ovrn: bool,
        /// It arrived damaged.
        eror: bool,
    },
    /// Sync gained (`SyncGained`) or lost (`FrameError`, `Timeout`) at
    /// `dir`, or one damaged frame dropped there with sync kept
    /// (`FrameDropped`).
    Link {
        /// The link reported on.
        dir: Dir,
        /// What happened.
        code: LinkCode,
    },
    /// The PRU's bitmap of links with sync, one bit per `dir8`.
    Monitor(u8),
    /// A packet of ours to `dir` that the PRU sent back.
    Bounced {
        /// Where the packet was going.
        dir: Dir,
        /// Why it is dropped.
        reason: DropReason,
    },
    /// Firmware debug output, only logged.
    Debug,
    /// Anything else: counted against the PRU.
    Malformed,
}

/// Classify `msg` from `pru`.
pub fn classify(pru: Pru, msg: &[u8]) -> Message {
    let Ok(packet) = Packet::new_checked(msg) else {
        return Message::Malformed;
    };
    if packet.is_routed() {
        // Routed packets are judged per direction (service 0, bad
        // hellos count as that direction's malformed drops).
        return match own_dir(pru, packet.dir8()) {
            Some(dir) => Message::Routed {
                dir,
                mfm: packet.is_mfm(),
                ovrn: packet.ovrn(),
                eror: packet.eror(),
            },
            None => Message::Malformed,
        };
    }
    match HeaderRepr::parse(&packet) {
        Ok(HeaderRepr::Local(LocalType::LinkStatus)) => match LinkStatusRepr::parse(&packet) {
            Ok(ls) => link_status(pru, ls),
            Err(_) => Message::Malformed,
        },
        Ok(HeaderRepr::Local(LocalType::Bounce)) => match BounceRepr::parse(&packet) {
            Ok(b) => bounce(pru, b),
            Err(_) => Message::Malformed,
        },
        Ok(HeaderRepr::Local(LocalType::LabelledValue | LocalType::ThreadDebug)) => Message::Debug,
        _ => Message::Malformed,
    }
}

/// The direction `dir8` names, if `pru` drives it.
fn own_dir(pru: Pru, dir8: u8) -> Option<Dir> {
    Dir::from_dir8(dir8).ok().filter(|d| d.pru() == pru)
}

fn link_status(pru: Pru, ls: LinkStatusRepr) -> Message {
    match ls.code {
        LinkCode::SyncGained
        | LinkCode::FrameError
        | LinkCode::Timeout
        | LinkCode::FrameDropped => match own_dir(pru, ls.arg) {
            Some(dir) => Message::Link { dir, code: ls.code },
            None => Message::Malformed,
        },
        LinkCode::Monitor => Message::Monitor(ls.arg),
        LinkCode::Unknown(_) => Message::Malformed,
    }
}

fn bounce(pru: Pru, b: BounceRepr<'_>) -> Message {
    // Only routed packets carry a direction (and only they go to a
    // PRU to be sent): the low bits of any other header mean nothing.
    let dir = Packet::new_checked(b.packet)
        .ok()
        .filter(|p| p.is_routed())
        .and_then(|p| own_dir(pru, p.dir8()));
    let Some(dir) = dir else {
        return Message::Malformed;
    };
    let reason = match b.reason {
        BounceReason::QueueFull => DropReason::QueueFull,
        BounceReason::NoSync => DropReason::LinkDown,
        // Not a reason the firmware gives: the PRU speaks a protocol we
        // do not, and the drop is not the link's doing.
        BounceReason::Unknown(_) => return Message::Malformed,
    };
    Message::Bounced { dir, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_of_the_other_pru_are_malformed() {
        let et = Dir::ET.dir8();
        assert_eq!(
            classify(Pru::Pru0, &[0xa0 | et, 1]),
            Message::Routed {
                dir: Dir::ET,
                mfm: true,
                ovrn: false,
                eror: false
            }
        );
        assert_eq!(classify(Pru::Pru1, &[0xa0 | et, 1]), Message::Malformed);
        assert_eq!(
            classify(Pru::Pru0, &[0xc3, b'F', et]),
            Message::Link {
                dir: Dir::ET,
                code: LinkCode::FrameError
            }
        );
        assert_eq!(classify(Pru::Pru1, &[0xc3, b'P', et]), Message::Malformed);
        assert_eq!(
            classify(Pru::Pru1, &[0xc3, b'M', 0x42]),
            Message::Monitor(0x42)
        );
        assert_eq!(classify(Pru::Pru0, &[]), Message::Malformed);
    }

    #[test]
    fn dropped_frames_name_their_direction() {
        let nw = Dir::NW.dir8();
        assert_eq!(
            classify(Pru::Pru1, &[0xc3, b'E', nw]),
            Message::Link {
                dir: Dir::NW,
                code: LinkCode::FrameDropped
            }
        );
        assert_eq!(classify(Pru::Pru0, &[0xc3, b'E', nw]), Message::Malformed);
        assert_eq!(classify(Pru::Pru1, &[0xc3, b'E', 0]), Message::Malformed);
    }

    #[test]
    fn bounces_count_by_reason_and_unknown_reasons_are_malformed() {
        // 0xc5 REASON, then the bounced packet: routed service to ET.
        let et = 0x80 | Dir::ET.dir8();
        assert_eq!(
            classify(Pru::Pru0, &[0xc5, 0x01, et, 20]),
            Message::Bounced {
                dir: Dir::ET,
                reason: DropReason::QueueFull
            }
        );
        assert_eq!(
            classify(Pru::Pru0, &[0xc5, 0x02, et, 20]),
            Message::Bounced {
                dir: Dir::ET,
                reason: DropReason::LinkDown
            }
        );
        for reason in [0x00, 0x03, 0x7f, 0xff] {
            assert_eq!(
                classify(Pru::Pru0, &[0xc5, reason, et, 20]),
                Message::Malformed,
                "reason {reason:#04x}"
            );
        }
    }
}
