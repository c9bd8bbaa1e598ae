//! One open packet file or events file: what it carries and the bounded
//! queue of packets waiting for its reader.
//!
//! Data packets are refused when the queue is full (the caller counts the
//! drop). Tile Event Packets are control: in packet files they may use a
//! small reserve above the bound so a Disconnect is never lost behind data;
//! in events files, and once the reserve is used up, a reader that falls
//! behind loses events and gets one Events-lost TEP (`0xc4, 0x03`) in their
//! place as soon as there is room.

use crate::queue::PacketQueue;
use itc_proto::Dir;
use itc_proto::{tep_bytes, TepEvent};

/// Room above the bound kept for TEPs in packet files.
pub const TEP_RESERVE: usize = 1024;

/// The longest TEP a channel carries (`0xc4, EVENT, dir8`).
const MAX_TEP_LEN: usize = 3;

/// What a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    /// MFM packets (and TEPs).
    Mfm,
    /// Packets of one service (and TEPs).
    Svc(u8),
    /// TEPs only.
    Events,
}

/// An open packet or events file.
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
    queue: PacketQueue,
    lost: bool,
}

impl Channel {
    /// A new channel with a reader queue of `limit` bytes.
    pub fn new(carries: Carries, scope: Option<Dir>, physics_gen: u64, limit: usize) -> Channel {
        Channel {
            carries,
            scope,
            physics_gen,
            reads: true,
            queue: PacketQueue::new(limit),
            lost: false,
        }
    }

    /// Whether this channel is a packet file (MFM or service).
    pub fn is_packet_file(&self) -> bool {
        !matches!(self.carries, Carries::Events)
    }

    /// The bound for TEPs: the data bound plus the reserve in packet
    /// files; in events files the data bound, but never so small that not
    /// even one TEP fits (a reader would then wait for ever, not even
    /// told that it lost events). Saturates: any bound up to `usize::MAX`
    /// works.
    fn control_cap(&self) -> usize {
        match self.carries {
            Carries::Events => self.queue.limit().max(MAX_TEP_LEN),
            _ => self.queue.limit().saturating_add(TEP_RESERVE),
        }
    }

    /// Queue a data packet; gives it back when the queue is full.
    pub fn push_data(&mut self, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        self.queue.push(packet)
    }

    /// Queue a TEP for `dir` in this channel's format (`0xc4, EVENT, dir8`
    /// for `itc` files, `0xc4, EVENT` for `tile/<D>` files). Returns false
    /// if it was lost (the reader will see Events-lost instead).
    pub fn push_event(&mut self, event: TepEvent, dir: Dir) -> bool {
        let (bytes, len) = tep_bytes(
            event,
            if self.scope.is_none() {
                Some(dir)
            } else {
                None
            },
        );
        self.push_control(bytes[..len].into())
    }

    fn push_control(&mut self, packet: Box<[u8]>) -> bool {
        self.flush_lost_marker();
        if self.lost || self.queue.bytes().saturating_add(packet.len()) > self.control_cap() {
            self.lost = true;
            return false;
        }
        self.queue.force_push(packet);
        true
    }

    fn flush_lost_marker(&mut self) {
        if !self.lost {
            return;
        }
        let (marker, len) = tep_bytes(TepEvent::EventsLost, None);
        if self.queue.bytes().saturating_add(len) <= self.control_cap() {
            self.queue.force_push(marker[..len].into());
            self.lost = false;
        }
    }

    /// The packet the next read returns.
    pub fn front(&self) -> Option<&[u8]> {
        self.queue.front()
    }

    /// Take the next packet; makes room for a pending Events-lost marker.
    pub fn pop(&mut self) -> Option<Box<[u8]>> {
        let p = self.queue.pop();
        self.flush_lost_marker();
        p
    }

    /// Whether a read would return a packet now.
    pub fn readable(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Packets waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Box<[u8]> {
        vec![0xa0; len].into_boxed_slice()
    }

    #[test]
    fn teps_carry_dir_only_in_itc_files() {
        let mut all = Channel::new(Carries::Events, None, 0, 64);
        all.push_event(TepEvent::Connect, Dir::ET);
        assert_eq!(all.pop().unwrap().as_ref(), &[0xc4, 0x01, 2]);
        let mut one = Channel::new(Carries::Events, Some(Dir::ET), 0, 64);
        one.push_event(TepEvent::Disconnect, Dir::ET);
        assert_eq!(one.pop().unwrap().as_ref(), &[0xc4, 0x02]);
    }

    #[test]
    fn slow_events_reader_gets_one_events_lost_marker() {
        let mut ch = Channel::new(Carries::Events, None, 0, 9);
        for _ in 0..3 {
            assert!(ch.push_event(TepEvent::Connect, Dir::SE));
        }
        // Full: these are lost.
        assert!(!ch.push_event(TepEvent::Disconnect, Dir::SE));
        assert!(!ch.push_event(TepEvent::Connect, Dir::SE));
        assert_eq!(ch.queued(), 3);
        // Reading makes room: exactly one marker follows what was queued.
        ch.pop();
        assert_eq!(ch.queued(), 3);
        ch.pop();
        ch.pop();
        assert_eq!(ch.pop().unwrap().as_ref(), &[0xc4, 0x03]);
        assert!(ch.pop().is_none());
        assert!(ch.push_event(TepEvent::Connect, Dir::SE));
    }

    #[test]
    fn any_bound_up_to_usize_max_works() {
        for carries in [Carries::Mfm, Carries::Svc(9), Carries::Events] {
            let mut ch = Channel::new(carries, None, 0, usize::MAX);
            assert!(ch.push_event(TepEvent::Connect, Dir::ET));
            if carries != Carries::Events {
                ch.push_data(data(255)).unwrap();
            }
            assert!(ch.push_event(TepEvent::Disconnect, Dir::ET));
            assert!(ch.pop().is_some());
        }
    }

    #[test]
    fn an_events_file_with_a_tiny_bound_still_reports_lost_events() {
        let mut ch = Channel::new(Carries::Events, None, 0, 0);
        assert!(ch.push_event(TepEvent::Connect, Dir::ET));
        assert!(!ch.push_event(TepEvent::Connect, Dir::SE));
        assert_eq!(ch.pop().unwrap().as_ref(), &[0xc4, 0x01, 2]);
        assert_eq!(ch.pop().unwrap().as_ref(), &[0xc4, 0x03]);
        assert!(ch.pop().is_none());
    }

    #[test]
    fn packet_files_keep_teps_behind_full_data() {
        let mut ch = Channel::new(Carries::Mfm, Some(Dir::WT), 0, 100);
        ch.push_data(data(100)).unwrap();
        assert!(ch.push_data(data(1)).is_err(), "data is bounded");
        assert!(
            ch.push_event(TepEvent::Disconnect, Dir::WT),
            "a TEP still fits"
        );
        assert_eq!(ch.pop().unwrap().len(), 100);
        assert_eq!(ch.pop().unwrap().as_ref(), &[0xc4, 0x02]);
    }
}
