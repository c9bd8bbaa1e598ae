//! One open packet file (`mfm`, `svc/NN`): what it carries and the queue
//! of packets and TEPs waiting for its reader, in one [`PacketRing`].
//!
//! The bound is memory: a queued packet or TEP of `n` bytes costs `n + 1`
//! bytes (its length byte), exactly what it takes in the ring.
//!
//! - Data packets may fill the bound. When several neighbours are present
//!   (an `itc/...` file), each direction may fill at most an equal share
//!   of it, but always room for one packet, so that one busy neighbour
//!   cannot crowd out the others.
//! - A data packet refused for want of room is counted against its
//!   direction (the caller counts the drop too). Before the next packet
//!   from that direction the reader gets Packets lost (`0xc4 0x04 dir8
//!   COUNT`), in every file, so it learns in-stream what it missed. The
//!   count runs until then, across a Disconnect.
//! - TEPs are control: they may use a reserve above the bound, so that a
//!   Disconnect is never lost behind data. Once that is full too, events
//!   are lost and the reader gets one Events lost (`0xc4 0x03`) in their
//!   place as soon as there is room.
//!
//! Events files do not queue per reader: see [`crate::event_log`].

use crate::ring::{cost, PacketRing, MAX_ITEM};
use itc_proto::batch::item_len;
use itc_proto::{field, packets_lost_bytes, tep_bytes, Dir, TepEvent, PACKETS_LOST_LEN};

/// Room above the bound kept for TEPs.
pub const TEP_RESERVE: usize = 1024;

/// What a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    /// MFM packets (and TEPs).
    Mfm,
    /// Packets of one service (and TEPs).
    Svc(u8),
    /// TEPs only (events files, which have no channel).
    Events,
}

/// An open packet file.
#[derive(Debug)]
pub struct Channel {
    /// What the channel carries.
    pub carries: Carries,
    /// `Some(D)` for `tile/<D>/...` files, `None` for `itc/...` files.
    pub scope: Option<Dir>,
    /// The physics generation at open (MFM files go stale when it changes).
    pub physics_gen: u64,
    /// Whether the file was opened for reading: only readers take inbound
    /// packets (a write-only holder could never read them).
    pub reads: bool,
    /// Whether the file is the batched twin: reads return framed items.
    pub batched: bool,
    ring: PacketRing,
    /// Bound of the data packets' cost.
    limit: usize,
    /// Cost of the data packets queued, in all and per direction.
    data: usize,
    per_dir: [usize; 6],
    /// Directions whose neighbour is present, as the TEPs told.
    present: [bool; 6],
    /// Per direction, packets refused since the last one queued.
    lost: [u32; 6],
    /// TEPs were lost; Events lost is owed.
    events_lost: bool,
}

impl Channel {
    /// A new channel whose data packets may cost `limit` bytes.
    pub fn new(carries: Carries, scope: Option<Dir>, physics_gen: u64, limit: usize) -> Channel {
        Channel {
            carries,
            scope,
            physics_gen,
            reads: true,
            batched: false,
            ring: PacketRing::new(limit.saturating_add(TEP_RESERVE)),
            limit,
            data: 0,
            per_dir: [0; 6],
            present: [false; 6],
            lost: [0; 6],
            events_lost: false,
        }
    }

    /// Whether this channel is a packet file (MFM or service).
    pub fn is_packet_file(&self) -> bool {
        !matches!(self.carries, Carries::Events)
    }

    /// The most everything queued may cost: the bound and the reserve.
    fn cap(&self) -> usize {
        self.limit.saturating_add(TEP_RESERVE)
    }

    /// Whether `extra` more bytes fit under the cap.
    fn fits(&self, extra: usize) -> bool {
        self.ring.stored().saturating_add(extra) <= self.cap()
    }

    /// The most the data packets of one direction may cost: an equal share
    /// of the bound among the present neighbours (and `dir`), but never
    /// less than one packet.
    fn share(&self, dir: Dir) -> usize {
        let others = Dir::ALL
            .iter()
            .filter(|d| **d != dir && self.present[d.index()])
            .count();
        (self.limit / (others + 1)).max(self.limit.min(cost(MAX_ITEM)))
    }

    /// Queue a data packet from `dir`, after a Packets lost for `dir` if
    /// one is owed. Returns false if it was refused: it is counted against
    /// `dir`, and the reader will learn of it.
    pub fn push_data(&mut self, dir: Dir, packet: &[u8]) -> bool {
        let c = cost(packet.len());
        let i = dir.index();
        self.flush_events_lost();
        let owed = self.lost[i] > 0;
        let marker = if owed { cost(PACKETS_LOST_LEN) } else { 0 };
        let fits = packet.len() <= MAX_ITEM
            && !self.events_lost
            && self.data.saturating_add(c) <= self.limit
            && self.per_dir[i].saturating_add(c) <= self.share(dir)
            && self.fits(c.saturating_add(marker));
        if !fits {
            self.lost[i] = self.lost[i].saturating_add(1);
            return false;
        }
        if owed {
            self.ring.push_back(&packets_lost_bytes(dir, self.lost[i]));
            self.lost[i] = 0;
        }
        self.ring.push_back(packet);
        self.data += c;
        self.per_dir[i] += c;
        true
    }

    /// Queue a TEP for `dir` in this channel's format (`0xc4, EVENT, dir8`
    /// for `itc` files, `0xc4, EVENT` for `tile/<D>` files), and note who
    /// is present. Returns false if it was lost (the reader will see
    /// Events lost instead).
    pub fn push_event(&mut self, event: TepEvent, dir: Dir) -> bool {
        match event {
            TepEvent::Connect => self.present[dir.index()] = true,
            TepEvent::Disconnect => self.present[dir.index()] = false,
            _ => {}
        }
        let (bytes, len) = tep_bytes(event, self.scope.is_none().then_some(dir));
        self.flush_events_lost();
        if self.events_lost || !self.fits(cost(len)) {
            self.events_lost = true;
            return false;
        }
        self.ring.push_back(&bytes[..len]);
        true
    }

    fn flush_events_lost(&mut self) {
        let (marker, len) = tep_bytes(TepEvent::EventsLost, None);
        if self.events_lost && self.fits(cost(len)) {
            self.ring.push_back(&marker[..len]);
            self.events_lost = false;
        }
    }

    /// Length of the packet the next read returns.
    pub fn front_len(&self) -> Option<usize> {
        self.ring.front_len()
    }

    /// Take the next packet, appending it to `out`; makes room for an
    /// owed Events lost.
    pub fn pop_into(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let head = self.ring.front_byte();
        let len = self.ring.pop_into(out)?;
        if let Some(b) = head.filter(|b| *b != field::TYPE_TEP) {
            // Data: DIR is the direction it came from.
            if let Ok(dir) = Dir::from_dir8(b & field::DIR) {
                let c = cost(len);
                self.data = self.data.saturating_sub(c);
                let d = &mut self.per_dir[dir.index()];
                *d = d.saturating_sub(c);
            }
        }
        self.flush_events_lost();
        Some(len)
    }

    /// Take as many whole items as fit in `size` bytes, each framed as in
    /// the batched files (length byte, then the packet), appending them
    /// to `out`. Returns how many were taken (0 if the first does not fit).
    pub fn pop_items_into(&mut self, out: &mut Vec<u8>, size: usize) -> usize {
        let (mut used, mut taken) = (0, 0);
        while let Some(len) = self.front_len() {
            if used + item_len(len) > size {
                break;
            }
            out.push(len as u8);
            self.pop_into(out);
            used += item_len(len);
            taken += 1;
        }
        taken
    }

    /// Whether a read would return a packet now.
    pub fn readable(&self) -> bool {
        !self.ring.is_empty()
    }

    /// Packets waiting.
    pub fn queued(&self) -> usize {
        self.ring.len()
    }

    /// Bytes of memory the queue holds.
    pub fn memory(&self) -> usize {
        self.ring.capacity()
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
