//! Packets waiting to go to the PRUs: one [`OutQueue`] per direction
//! (hello first, then MFM, then service traffic, the traffic lanes bounded
//! in bytes), and per PRU the direction whose turn is next, so that the
//! three links of a PRU take turns.
//!
//! It only queues and hands out: the caller counts what a full lane
//! refuses or a link loss discards, and learns from [`Popped`] when a pop
//! made room in a lane that could not take the longest packet.

use crate::queue::{Lane, OutQueue};
use itc_proto::{Dir, Pru};

/// A packet taken for a PRU.
#[derive(Debug)]
pub struct Popped {
    /// Where it goes.
    pub dir: Dir,
    /// The lane it waited in.
    pub lane: Lane,
    /// The packet.
    pub packet: Box<[u8]>,
    /// Its lane could not take the longest packet before this pop:
    /// blocked writers and pollers may proceed now.
    pub was_full: bool,
}

/// The outbound queues of the six directions.
#[derive(Debug)]
pub struct Outbound {
    queues: [OutQueue; 6],
    /// Per PRU, the index into its directions to try first.
    next: [usize; 2],
}

impl Outbound {
    /// Empty queues whose traffic lanes hold `limit` bytes each.
    pub fn new(limit: usize) -> Outbound {
        Outbound {
            queues: std::array::from_fn(|_| OutQueue::new(limit)),
            next: [0; 2],
        }
    }

    /// Queue a packet for `dir`; gives it back if its lane is full.
    pub fn push(&mut self, dir: Dir, mfm: bool, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        self.queues[dir.index()].push(mfm, packet)
    }

    /// Queue a hello for `dir` ahead of all traffic, in place of one that
    /// has not gone yet.
    pub fn set_hello(&mut self, dir: Dir, packet: Box<[u8]>) {
        self.queues[dir.index()].set_hello(packet);
    }

    /// Whether a packet of `len` bytes fits in `dir`'s lane now.
    pub fn has_room(&self, dir: Dir, mfm: bool, len: usize) -> bool {
        self.queues[dir.index()].has_room(mfm, len)
    }

    /// Whether the longest packet the lane can ever take fits now: then
    /// any write goes through or fails at once.
    pub fn has_room_for_any(&self, dir: Dir, mfm: bool) -> bool {
        let q = &self.queues[dir.index()];
        q.has_room(mfm, q.largest())
    }

    /// Empty `dir`'s queue; returns how many packets were discarded.
    pub fn clear(&mut self, dir: Dir) -> usize {
        self.queues[dir.index()].clear()
    }

    /// Take the next packet waiting for `dir` (to account for each one a
    /// link loss discards).
    pub fn pop_dir(&mut self, dir: Dir) -> Option<Box<[u8]>> {
        self.queues[dir.index()].pop().map(|(_, p)| p)
    }

    /// Whether anything waits to go to this PRU.
    pub fn has_any(&self, pru: Pru) -> bool {
        pru.dirs()
            .iter()
            .any(|d| !self.queues[d.index()].is_empty())
    }

    /// Take the next packet for this PRU, its directions in turn.
    pub fn pop(&mut self, pru: Pru) -> Option<Popped> {
        let dirs = pru.dirs();
        for k in 0..dirs.len() {
            let at = (self.next[pru.index()] + k) % dirs.len();
            let dir = dirs[at];
            let q = &mut self.queues[dir.index()];
            if let Some((lane, packet)) = q.pop() {
                self.next[pru.index()] = (at + 1) % dirs.len();
                let mfm = lane == Lane::Mfm;
                let was_full = lane != Lane::Hello
                    && !q.has_room(mfm, q.largest().saturating_add(packet.len()));
                return Some(Popped {
                    dir,
                    lane,
                    packet,
                    was_full,
                });
            }
        }
        None
    }

    /// Give back a packet the PRU could not take yet.
    pub fn unpop(&mut self, dir: Dir, lane: Lane, packet: Box<[u8]>) {
        self.queues[dir.index()].unpop(lane, packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(dir: Dir) -> Box<[u8]> {
        vec![0xa0 | dir.dir8(); 10].into_boxed_slice()
    }

    #[test]
    fn the_directions_of_a_pru_take_turns() {
        let mut out = Outbound::new(100);
        for _ in 0..2 {
            out.push(Dir::ET, true, pkt(Dir::ET)).unwrap();
            out.push(Dir::SW, true, pkt(Dir::SW)).unwrap();
        }
        out.push(Dir::WT, true, pkt(Dir::WT)).unwrap();
        let order: Vec<Dir> = std::iter::from_fn(|| out.pop(Pru::Pru0).map(|p| p.dir)).collect();
        assert_eq!(order, [Dir::ET, Dir::SW, Dir::ET, Dir::SW]);
        assert!(!out.has_any(Pru::Pru0));
        assert!(out.has_any(Pru::Pru1));
    }

    #[test]
    fn a_pop_from_a_lane_without_room_for_the_longest_packet_says_so() {
        let mut out = Outbound::new(600);
        out.push(Dir::ET, true, vec![0xa2; 200].into()).unwrap();
        out.push(Dir::ET, true, vec![0xa2; 200].into()).unwrap();
        assert!(!out.has_room_for_any(Dir::ET, true));
        assert!(
            out.pop(Pru::Pru0).unwrap().was_full,
            "400 bytes + 255 > 600"
        );
        assert!(out.has_room_for_any(Dir::ET, true));
        assert!(!out.pop(Pru::Pru0).unwrap().was_full, "200 bytes + 255 fit");
    }
}
