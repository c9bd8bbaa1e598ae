//! The bytes the emulated PRU reads from and writes to its host.
//!
//! Host to PRU, the emulator only looks at byte 0 of a routed packet:
//!
//! ```text
//!  bit  7   6    5      4      3      2      1      0
//!       1 | 0 | MFMT | OVRN || EROR | DIR2 | DIR1 | DIR0
//! ```
//!
//! PRU to host, besides routed packets (DIR rewritten to the arrival
//! direction, OVRN and EROR set by the receiving side):
//!
//! - link status `0xc3, CODE, dir8` with CODE `P` (sync gained),
//!   `T` (timeout, no clock) or `E` (one damaged frame dropped, sync kept);
//! - monitor `0xc3, 'M', bitmap`, bit `dir8` set for each direction with sync;
//! - bounce `0xc5, REASON, original bytes...` (the whole packet, so up to 257
//!   bytes in all)
//!   for a routed packet the PRU could not put on a wire, REASON 2 (no
//!   sync). The emulator never bounces with REASON 1 (queue full): like the
//!   firmware, it stops reading a host whose packet finds its wire full.
//!
//! Nothing here does I/O or can fail.
#![deny(unsafe_code)]

use itc_proto::Dir;

use itc_proto::field::{DIR, EROR, KIND, MFMT, OVRN, STND, TYPE_BOUNCE, TYPE_LINK_STATUS};
use itc_proto::{BounceReason, LinkCode, MAX_PACKET_LEN};

/// A link status code. The packet-level emulator's wires always carry
/// delimiters while they are not cut, so it never loses sync to damage
/// and never sends `F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Packet sync gained.
    Sync,
    /// Timeout: no clock on the line (nothing wired there, or cut).
    Timeout,
    /// One damaged frame dropped; sync kept.
    Dropped,
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Status::Sync => LinkCode::SyncGained.to_byte(),
            Status::Timeout => LinkCode::Timeout.to_byte(),
            Status::Dropped => LinkCode::FrameDropped.to_byte(),
        }
    }
}

/// Why a packet came back to its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bounce {
    /// No sync in that direction: not this PRU's, not wired, or cut.
    NoSync,
}

impl Bounce {
    fn code(self) -> u8 {
        match self {
            Bounce::NoSync => BounceReason::NoSync.to_byte(),
        }
    }
}

/// True if byte 0 is that of a standard routed packet.
pub(crate) fn is_routed(byte0: u8) -> bool {
    byte0 & KIND == STND
}

/// The dir8 field of a routed packet's byte 0.
pub(crate) fn dir8(byte0: u8) -> u8 {
    byte0 & DIR
}

/// `0xc3, CODE, dir8`.
pub(crate) fn status(status: Status, dir: Dir) -> Vec<u8> {
    vec![TYPE_LINK_STATUS, status.code(), dir.dir8()]
}

/// `0xc3, 'M', bitmap` with bit `dir8` set for each direction in `synced`.
pub(crate) fn monitor(synced: impl IntoIterator<Item = Dir>) -> Vec<u8> {
    let bitmap = synced.into_iter().fold(0u8, |m, d| m | 1 << d.dir8());
    vec![TYPE_LINK_STATUS, LinkCode::Monitor.to_byte(), bitmap]
}

/// `0xc5, REASON, original...`: the whole original packet (at most
/// [`MAX_PACKET_LEN`] bytes; anything longer is no packet and is cut).
pub(crate) fn bounce(reason: Bounce, original: &[u8]) -> Vec<u8> {
    let keep = original.len().min(MAX_PACKET_LEN);
    let mut out = Vec::with_capacity(keep + 2);
    out.push(TYPE_BOUNCE);
    out.push(reason.code());
    out.extend_from_slice(&original[..keep]);
    out
}

/// Rewrites byte 0 of a routed packet as the receiving PRU hands it up:
/// kind and MFMT kept, DIR = the arrival direction, OVRN and EROR as given
/// (whatever the sender had in those bits is cleared). Empty input is left
/// alone.
pub(crate) fn arrived(packet: &mut [u8], from: Dir, eror: bool, ovrn: bool) {
    if let Some(b0) = packet.first_mut() {
        let mut v = STND | (*b0 & MFMT) | from.dir8();
        if eror {
            v |= EROR;
        }
        if ovrn {
            v |= OVRN;
        }
        *b0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routed_test_and_dir_field() {
        assert!(is_routed(0x82)); // 1 0 0 0 0 010: routed, service, toward ET
        assert!(is_routed(0xbf)); // 1 0 1 1 1 111: every routed flag set
        assert!(!is_routed(0xc3)); // local: link status
        assert!(!is_routed(0x41)); // non-standard 'A'
        assert_eq!(dir8(0xa6), 6); // 1 0 1 0 0 110: MFM toward WT
    }

    #[test]
    fn status_and_monitor_bytes() {
        assert_eq!(status(Status::Sync, Dir::ET), [0xc3, b'P', 2]);
        assert_eq!(status(Status::Timeout, Dir::SW), [0xc3, b'T', 5]);
        assert_eq!(status(Status::Dropped, Dir::NW), [0xc3, b'E', 7]);
        assert_eq!(monitor([]), [0xc3, b'M', 0]);
        // ET (bit 2) and SW (bit 5)
        assert_eq!(monitor([Dir::ET, Dir::SW]), [0xc3, b'M', 0b0010_0100]);
    }

    #[test]
    fn bounce_prefixes_the_whole_packet() {
        assert_eq!(bounce(Bounce::NoSync, &[0x82, 2, 9]), [0xc5, 2, 0x82, 2, 9]);
        let big = [0xaa; 255];
        let b = bounce(Bounce::NoSync, &big);
        assert_eq!(b.len(), 257, "the whole packet comes back");
        assert_eq!(b[..3], [0xc5, 2, 0xaa]);
    }

    #[test]
    fn arrived_rewrites_dir_and_flags_only() {
        // sent: 1 0 1 1 1 010 (MFM, stray OVRN and EROR, toward ET)
        let mut p = [0xba, 0x11, 0x22];
        arrived(&mut p, Dir::WT, false, false);
        // received: 1 0 1 0 0 110 (MFM from WT), payload untouched
        assert_eq!(p, [0xa6, 0x11, 0x22]);
        let mut p = [0x82, 0x05];
        arrived(&mut p, Dir::WT, true, true);
        // 1 0 0 1 1 110: service, OVRN, EROR, from WT
        assert_eq!(p, [0x9e, 0x05]);
        let mut empty: [u8; 0] = [];
        arrived(&mut empty, Dir::ET, true, true);
    }
}
