//! Counters: traffic per direction, every dropped packet by reason, and
//! the PRUs' own.

use core::fmt;

/// Why a packet was dropped. Every drop is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Inbound, and no file that would take it is open.
    NoReader,
    /// A bounded queue (a reader's, or an outbound one) was full.
    QueueFull,
    /// Arrived damaged (EROR set by the PRU).
    Eror,
    /// MFM traffic to or from a neighbour with a different physics id.
    Incompatible,
    /// The link went down with the packet queued, or the PRU bounced it
    /// for lack of sync.
    LinkDown,
    /// From a neighbour that is not present (no hello yet, or timed out).
    Absent,
    /// Not a valid packet in this place (bad header, service 0, bad hello).
    Malformed,
}

impl DropReason {
    /// Every reason, in the order status files list them.
    pub const ALL: [DropReason; 7] = [
        DropReason::NoReader,
        DropReason::QueueFull,
        DropReason::Eror,
        DropReason::Incompatible,
        DropReason::LinkDown,
        DropReason::Absent,
        DropReason::Malformed,
    ];

    /// The key used in status files (`drop_<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::NoReader => "no_reader",
            DropReason::QueueFull => "queue_full",
            DropReason::Eror => "eror",
            DropReason::Incompatible => "incompatible",
            DropReason::LinkDown => "link_down",
            DropReason::Absent => "absent",
            DropReason::Malformed => "malformed",
        }
    }

    /// Its code in `itc/capture` records (`itc_proto::capture::DROP_REASONS`).
    pub const fn code(self) -> u8 {
        self.index() as u8 + 1
    }

    const fn index(self) -> usize {
        match self {
            DropReason::NoReader => 0,
            DropReason::QueueFull => 1,
            DropReason::Eror => 2,
            DropReason::Incompatible => 3,
            DropReason::LinkDown => 4,
            DropReason::Absent => 5,
            DropReason::Malformed => 6,
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Packet and byte counts of one kind of traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets.
    pub packets: u64,
    /// Bytes, headers included.
    pub bytes: u64,
}

impl Traffic {
    /// Count one packet of `len` bytes.
    pub fn count(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirStats {
    /// MFM packets delivered to a reader.
    pub rx_mfm: Traffic,
    /// Service packets delivered to a reader (or answered by `itcd`).
    pub rx_svc: Traffic,
    /// MFM packets handed to the PRU.
    pub tx_mfm: Traffic,
    /// Service packets handed to the PRU (hellos included).
    pub tx_svc: Traffic,
    /// Packets that arrived with OVRN set: the PRU lost some before them.
    pub overruns: u64,
    /// Hellos received.
    pub hellos: u64,
    /// Damaged frames the PRU dropped on this link (`0xc3 'E'`): bad
    /// frame check, abort, misaligned delimiter or over-long frame. Each
    /// costs that frame only; the link stays up.
    pub frame_errors: u64,
    /// Times the PRU lost sync on this link for want of a delimiter
    /// (`0xc3 'F'`): the link went down.
    pub sync_losses: u64,
    /// Clock timeouts the PRU reported on this link (`0xc3 'T'`).
    pub timeouts: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl DirStats {
    /// Count one dropped packet.
    pub fn drop_packet(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    /// Packets dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Packets dropped for any reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Counters not tied to a direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileStats {
    /// Messages from each PRU that could not be attributed to a direction.
    pub pru_malformed: [u64; 2],
    /// Times each PRU device was (re)opened.
    pub pru_opens: [u64; 2],
    /// How each PRU device's messages are framed now.
    pub pru_framing: [crate::pru_framing::Framing; 2],
    /// Messages read from and written to each PRU device.
    pub pru_messages_in: [u64; 2],
    /// Messages written to each PRU device.
    pub pru_messages_out: [u64; 2],
    /// System calls reading each PRU device (those finding nothing too).
    pub pru_reads: [u64; 2],
    /// System calls writing each PRU device (those refused too).
    pub pru_writes: [u64; 2],
    /// Malformed batched messages from each PRU, by reason
    /// ([`itc_proto::pru_batch::BatchError::index`]); refused whole.
    pub pru_bad_batches: [[u64; 5]; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_counted_per_reason() {
        let mut s = DirStats::default();
        s.drop_packet(DropReason::Eror);
        s.drop_packet(DropReason::Eror);
        s.drop_packet(DropReason::NoReader);
        assert_eq!(s.drops(DropReason::Eror), 2);
        assert_eq!(s.drops(DropReason::NoReader), 1);
        assert_eq!(s.drops(DropReason::QueueFull), 0);
        assert_eq!(s.total_drops(), 3);
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
        for r in DropReason::ALL {
            assert_eq!(
                itc_proto::capture::drop_reason_name(r.code()),
                Some(r.name()),
                "capture records name the reasons as status files do"
            );
        }
    }
}
