//! The service's counters: traffic, drops by reason, refusals, requests
//! and the comings and goings of neighbours and of the tree. Plain
//! numbers, copied out whole, printed as `key: value` lines like the
//! tree's status files. No I/O.
//!
//! Byte counters count whole packets, the two-byte header included, as
//! `itcd`'s status files do.

use std::fmt;

/// Counters since the service started; every one only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets of this service read from the tree.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Packets written to the tree (accepted by `itcd`).
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Queued packets dropped because the tree said no neighbour was
    /// there (`EHOSTUNREACH`).
    pub drop_unreachable: u64,
    /// Queued packets dropped when their neighbour went away (or the
    /// tree did).
    pub drop_disconnected: u64,
    /// Queued packets the tree refused as invalid (`EINVAL`, `EMSGSIZE`).
    pub drop_rejected: u64,
    /// Reads that were neither a packet of this service nor an event.
    pub drop_malformed: u64,
    /// Sends refused because the direction's queue was full.
    pub throttled: u64,
    /// Sends refused because no neighbour was present there.
    pub refused_absent: u64,
    /// Writes the tree answered with `EAGAIN` (its queue was full).
    pub would_block: u64,
    /// Requests started.
    pub requests: u64,
    /// Requests the caller completed.
    pub completed: u64,
    /// Tries of requests that ended without a reply in time.
    pub timeouts: u64,
    /// Requests sent again after a timeout.
    pub retries: u64,
    /// Requests that failed (no reply after every try, or the neighbour
    /// went away).
    pub failed: u64,
    /// Neighbours that became present.
    pub connects: u64,
    /// Neighbours that went away.
    pub disconnects: u64,
    /// Times events were lost and the file was reopened to learn the
    /// neighbours again.
    pub events_lost: u64,
    /// Packets for this service that `itcd` dropped because its queue for
    /// this file was full (as its Packets lost TEPs told).
    pub packets_lost: u64,
    /// Times the tree went away (`itcd` stopped).
    pub tree_lost: u64,
    /// Attempts to reopen the packet file after that.
    pub reopen_attempts: u64,
    /// Times the packet file was opened again.
    pub reconnects: u64,
}

impl Stats {
    /// Every counter with its name, in a fixed order.
    pub fn fields(&self) -> [(&'static str, u64); 23] {
        [
            ("rx_packets", self.rx_packets),
            ("rx_bytes", self.rx_bytes),
            ("tx_packets", self.tx_packets),
            ("tx_bytes", self.tx_bytes),
            ("drop_unreachable", self.drop_unreachable),
            ("drop_disconnected", self.drop_disconnected),
            ("drop_rejected", self.drop_rejected),
            ("drop_malformed", self.drop_malformed),
            ("throttled", self.throttled),
            ("refused_absent", self.refused_absent),
            ("would_block", self.would_block),
            ("requests", self.requests),
            ("completed", self.completed),
            ("timeouts", self.timeouts),
            ("retries", self.retries),
            ("failed", self.failed),
            ("connects", self.connects),
            ("disconnects", self.disconnects),
            ("events_lost", self.events_lost),
            ("packets_lost", self.packets_lost),
            ("tree_lost", self.tree_lost),
            ("reopen_attempts", self.reopen_attempts),
            ("reconnects", self.reconnects),
        ]
    }

    /// The value of the counter named `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields()
            .into_iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// Counts a packet read.
    pub(crate) fn count_rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    /// Counts a packet written.
    pub(crate) fn count_tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }
}

impl fmt::Display for Stats {
    /// One `key: value` line per counter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in self.fields() {
            writeln!(f, "{k}: {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_key_value_lines_and_reads_them_back() {
        let mut s = Stats::default();
        s.count_tx(10);
        s.count_tx(5);
        s.count_rx(3);
        s.retries = 2;
        let text = s.to_string();
        assert!(text.starts_with("rx_packets: 1\nrx_bytes: 3\ntx_packets: 2\ntx_bytes: 15\n"));
        assert!(text.contains("\nretries: 2\n"));
        assert_eq!(text.lines().count(), s.fields().len());
        assert_eq!(s.get("tx_bytes"), Some(15));
        assert_eq!(s.get("nope"), None);
        for line in text.lines() {
            let (k, v) = line.split_once(": ").unwrap();
            assert_eq!(s.get(k), v.parse().ok(), "{line}");
        }
    }
}
