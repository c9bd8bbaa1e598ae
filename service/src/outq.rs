//! The service's outbound queues: one bounded FIFO of whole packets per
//! direction, with the state of writing it. No I/O.
//!
//! A lane is *blocked* after the tree answered `EAGAIN` for it, until the
//! file reports writable again; it is *refused* after a push was turned
//! away because the lane was full, until the caller is told there is room
//! (at half the bound, so a throttled sender refills in batches). Each
//! queued packet may carry a tag (non-zero), so a request can tell whether
//! its packet has left the queue yet.

use std::collections::VecDeque;

use itc_proto::Dir;

/// A packet waiting to be written, with its tag (0: none).
#[derive(Debug)]
struct Queued {
    packet: Box<[u8]>,
    tag: u64,
}

#[derive(Debug, Default)]
struct Lane {
    packets: VecDeque<Queued>,
    blocked: bool,
    refused: bool,
}

/// The six lanes and their common bound.
#[derive(Debug)]
pub struct OutQueues {
    lanes: [Lane; 6],
    limit: usize,
}

/// The lane is full; the packet was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl OutQueues {
    /// Empty lanes of at most `limit` packets each.
    pub fn new(limit: usize) -> OutQueues {
        OutQueues {
            lanes: Default::default(),
            limit: limit.max(1),
        }
    }

    /// The bound in packets.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Appends `packet` to `dir`'s lane, or marks the lane refused and
    /// fails when it is full.
    pub fn push(&mut self, dir: Dir, packet: Box<[u8]>, tag: u64) -> Result<(), Full> {
        let lane = &mut self.lanes[dir.index()];
        if lane.packets.len() >= self.limit {
            lane.refused = true;
            return Err(Full);
        }
        lane.packets.push_back(Queued { packet, tag });
        Ok(())
    }

    /// The packet to write next to `dir`, unless the lane is blocked.
    pub fn next(&self, dir: Dir) -> Option<&[u8]> {
        let lane = &self.lanes[dir.index()];
        if lane.blocked {
            return None;
        }
        lane.packets.front().map(|q| &*q.packet)
    }

    /// The packets waiting for `dir`, oldest first, unless the lane is
    /// blocked ([`OutQueues::next`] is the first of them).
    pub fn waiting(&self, dir: Dir) -> impl Iterator<Item = &[u8]> {
        let lane = &self.lanes[dir.index()];
        let take = if lane.blocked { 0 } else { lane.packets.len() };
        lane.packets.iter().take(take).map(|q| &*q.packet)
    }

    /// Removes the packet [`OutQueues::next`] returned.
    pub fn pop(&mut self, dir: Dir) {
        self.lanes[dir.index()].packets.pop_front();
    }

    /// Marks `dir` blocked until [`OutQueues::unblock_all`].
    pub fn block(&mut self, dir: Dir) {
        self.lanes[dir.index()].blocked = true;
    }

    /// Clears every lane's blocked mark (the file became writable).
    pub fn unblock_all(&mut self) {
        for lane in &mut self.lanes {
            lane.blocked = false;
        }
    }

    /// Whether `dir`'s lane waits for the file to become writable.
    pub fn is_blocked(&self, dir: Dir) -> bool {
        self.lanes[dir.index()].blocked
    }

    /// Drops every packet queued to `dir` and returns how many; the lane
    /// is no longer blocked or refused.
    pub fn clear(&mut self, dir: Dir) -> usize {
        let lane = &mut self.lanes[dir.index()];
        let n = lane.packets.len();
        *lane = Lane::default();
        n
    }

    /// Packets queued to `dir`.
    pub fn len(&self, dir: Dir) -> usize {
        self.lanes[dir.index()].packets.len()
    }

    /// Whether a packet tagged `tag` is still queued to `dir`.
    pub fn holds(&self, dir: Dir, tag: u64) -> bool {
        tag != 0 && self.lanes[dir.index()].packets.iter().any(|q| q.tag == tag)
    }

    /// Whether `dir` refused a push and is now down to half its bound;
    /// clears the refused mark when so (the caller is told once).
    pub fn take_room(&mut self, dir: Dir) -> bool {
        let limit = self.limit;
        let lane = &mut self.lanes[dir.index()];
        if lane.refused && lane.packets.len() <= limit / 2 {
            lane.refused = false;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(b: u8) -> Box<[u8]> {
        vec![b].into_boxed_slice()
    }

    #[test]
    fn lanes_are_bounded_fifos() {
        let mut q = OutQueues::new(2);
        q.push(Dir::ET, p(1), 0).unwrap();
        q.push(Dir::ET, p(2), 7).unwrap();
        assert_eq!(q.push(Dir::ET, p(3), 0), Err(Full));
        q.push(Dir::WT, p(9), 0).unwrap();
        assert_eq!(q.next(Dir::ET), Some(&[1][..]));
        q.pop(Dir::ET);
        assert!(q.holds(Dir::ET, 7) && !q.holds(Dir::WT, 7) && !q.holds(Dir::ET, 0));
        assert_eq!(q.next(Dir::ET), Some(&[2][..]));
        assert_eq!(q.len(Dir::WT), 1);
    }

    #[test]
    fn a_blocked_lane_offers_nothing_until_unblocked() {
        let mut q = OutQueues::new(4);
        q.push(Dir::SE, p(1), 0).unwrap();
        q.block(Dir::SE);
        assert!(q.is_blocked(Dir::SE));
        assert_eq!(q.next(Dir::SE), None);
        q.unblock_all();
        assert_eq!(q.next(Dir::SE), Some(&[1][..]));
    }

    #[test]
    fn room_is_reported_once_at_half_the_bound() {
        let mut q = OutQueues::new(4);
        for i in 0..4 {
            q.push(Dir::NE, p(i), 0).unwrap();
        }
        assert!(!q.take_room(Dir::NE), "never refused");
        assert_eq!(q.push(Dir::NE, p(4), 0), Err(Full));
        q.pop(Dir::NE);
        assert!(!q.take_room(Dir::NE), "3 of 4 queued");
        q.pop(Dir::NE);
        assert!(q.take_room(Dir::NE), "2 of 4 queued");
        assert!(!q.take_room(Dir::NE), "told once");
    }

    #[test]
    fn clear_counts_and_resets_the_lane() {
        let mut q = OutQueues::new(1);
        q.push(Dir::SW, p(1), 0).unwrap();
        assert_eq!(q.push(Dir::SW, p(2), 0), Err(Full));
        q.block(Dir::SW);
        assert_eq!(q.clear(Dir::SW), 1);
        assert!(!q.is_blocked(Dir::SW) && !q.take_room(Dir::SW));
        assert_eq!(q.len(Dir::SW), 0);
    }
}
