//! The daemon's counters: what it did (pieces received and served,
//! announces, installs, deletions, hooks) and the input from neighbours it
//! dropped, by reason: bad input ([`Bad`]) apart, and input that is sound
//! but came too late or twice (`dropped_*`). Plain numbers that only grow; the status report
//! lists them by name. No I/O.

/// Why input from a neighbour was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// A message that does not parse (any wire error).
    Unparsable,
    /// A manifest or tombstone signed by a key this tile does not trust.
    Unsigned,
    /// A manifest or tombstone whose signature does not check out.
    Signature,
    /// A manifest describing a file beyond the limits (length, pieces).
    Oversized,
    /// A manifest that does not parse, or does not hash to its announced id.
    Manifest,
    /// A tombstone record that does not parse.
    Tombstone,
    /// A piece that failed its hash.
    Piece,
    /// Data nobody asked for, or that does not fit where it claims to go.
    UnexpectedData,
}

impl Bad {
    /// Every reason, in report order.
    pub const ALL: [Bad; 8] = [
        Bad::Unparsable,
        Bad::Unsigned,
        Bad::Signature,
        Bad::Oversized,
        Bad::Manifest,
        Bad::Tombstone,
        Bad::Piece,
        Bad::UnexpectedData,
    ];

    /// The name in the status report.
    pub fn key(self) -> &'static str {
        match self {
            Bad::Unparsable => "unparsable",
            Bad::Unsigned => "unsigned",
            Bad::Signature => "bad_signature",
            Bad::Oversized => "oversized",
            Bad::Manifest => "bad_manifest",
            Bad::Tombstone => "bad_tombstone",
            Bad::Piece => "bad_piece",
            Bad::UnexpectedData => "unexpected_data",
        }
    }

    fn index(self) -> usize {
        Bad::ALL
            .iter()
            .position(|b| *b == self)
            .expect("every reason is listed")
    }
}

/// What the daemon did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    bad: [u64; Bad::ALL.len()],
    /// Pieces received from neighbours, verified and stored.
    pub pieces_received: u64,
    /// Chunks of data sent to neighbours.
    pub chunks_served: u64,
    /// Replies to requests that did not fit the outbound queue (the
    /// requester asks again).
    pub serve_dropped: u64,
    /// Requests not answered because the store could not be read (logged).
    pub serve_failed: u64,
    /// Chunks dropped because they had arrived before (a late or repeated
    /// answer).
    pub dropped_duplicate: u64,
    /// Input dropped because it is about a transfer this tile is not
    /// fetching (any more): RETRY or ABORT for another transfer, a
    /// verified manifest overtaken by a newer version or a deletion, a
    /// verified piece of a fetch the store let go of.
    pub dropped_stale: u64,
    /// REQUEST messages written.
    pub requests_sent: u64,
    /// RETRY messages received.
    pub retries_received: u64,
    /// ABORT messages received.
    pub aborts_received: u64,
    /// ANNOUNCE messages sent.
    pub announces_sent: u64,
    /// ANNOUNCE messages received.
    pub announces_received: u64,
    /// Announces and tombstones that did not fit the outbound queue.
    pub announces_dropped: u64,
    /// Announced versions not fetched because too many manifests were
    /// being fetched already.
    pub busy: u64,
    /// Manifests verified and staged for fetching.
    pub fetches_started: u64,
    /// Versions that went live here.
    pub installs: u64,
    /// Files published on this tile.
    pub published: u64,
    /// Tombstones applied.
    pub deletes: u64,
    /// Hooks started.
    pub hooks_run: u64,
    /// Hooks that ended other than with exit status 0.
    pub hooks_failed: u64,
    /// Times the store's file system was full.
    pub disk_full: u64,
}

impl Counters {
    /// Counts one dropped input.
    pub fn bad(&mut self, why: Bad) {
        self.bad[why.index()] += 1;
    }

    /// Dropped inputs of one reason.
    pub fn bad_count(&self, why: Bad) -> u64 {
        self.bad[why.index()]
    }

    /// Dropped inputs by reason name.
    pub fn bad_fields(&self) -> Vec<(&'static str, u64)> {
        Bad::ALL
            .iter()
            .map(|b| (b.key(), self.bad_count(*b)))
            .collect()
    }

    /// The other counters by name.
    pub fn fields(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("pieces_received", self.pieces_received),
            ("chunks_served", self.chunks_served),
            ("serve_dropped", self.serve_dropped),
            ("serve_failed", self.serve_failed),
            ("dropped_duplicate", self.dropped_duplicate),
            ("dropped_stale", self.dropped_stale),
            ("requests_sent", self.requests_sent),
            ("retries_received", self.retries_received),
            ("aborts_received", self.aborts_received),
            ("announces_sent", self.announces_sent),
            ("announces_received", self.announces_received),
            ("announces_dropped", self.announces_dropped),
            ("busy", self.busy),
            ("fetches_started", self.fetches_started),
            ("installs", self.installs),
            ("published", self.published),
            ("deletes", self.deletes),
            ("hooks_run", self.hooks_run),
            ("hooks_failed", self.hooks_failed),
            ("disk_full", self.disk_full),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_counted_by_reason() {
        let mut c = Counters::default();
        c.bad(Bad::Piece);
        c.bad(Bad::Piece);
        c.bad(Bad::Unsigned);
        assert_eq!(c.bad_count(Bad::Piece), 2);
        let fields = c.bad_fields();
        assert_eq!(fields.len(), Bad::ALL.len());
        assert!(fields.contains(&("unsigned", 1)));
        assert!(fields.contains(&("unparsable", 0)));
    }
}
