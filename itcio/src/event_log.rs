//! What events files read: one log of presence changes shared by every
//! events reader, and each reader's place in it.
//!
//! The log keeps each Connect and Disconnect once, one byte each, however
//! many readers there are, and only as long as some reader has not read
//! it; with no reader it keeps nothing. It holds at most `capacity`
//! events: a reader that falls further behind has lost events. Such a
//! reader reads one Events lost (`0xc4 0x03`) in place of everything it
//! had not read, then the events that come after; the present state is
//! in `tile/<D>/status`, or in a fresh snapshot from a new open.
//!
//! A reader first reads a snapshot, a Connect for each neighbour present
//! in its scope when it opened, in the order of [`Dir::ALL`]. It costs a
//! few words whatever happens, so the memory of all events readers
//! together is bounded by the log's capacity, not by their number.

use std::collections::VecDeque;

use itc_proto::{tep_bytes, Dir, TepEvent};

/// A presence change, as the log stores it: the dir8 in bits 2..0, bit 3
/// set for a Disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record(u8);

const DISCONNECT: u8 = 0b1000;

impl Record {
    fn new(connected: bool, dir: Dir) -> Record {
        Record(dir.dir8() | if connected { 0 } else { DISCONNECT })
    }

    fn dir(self) -> Option<Dir> {
        Dir::from_dir8(self.0 & 0b111).ok()
    }

    fn event(self) -> TepEvent {
        if self.0 & DISCONNECT != 0 {
            TepEvent::Disconnect
        } else {
            TepEvent::Connect
        }
    }
}

/// The events not yet read by every reader.
#[derive(Debug)]
pub struct EventLog {
    records: VecDeque<Record>,
    /// Sequence number of `records[0]`.
    first: u64,
    capacity: usize,
}

/// Capacity an empty log keeps rather than freeing it.
const KEEP: usize = 64;

impl EventLog {
    /// An empty log that keeps at most `capacity` events (at least one).
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            records: VecDeque::new(),
            first: 0,
            capacity: capacity.max(1),
        }
    }

    /// The sequence number the next event gets.
    pub fn head(&self) -> u64 {
        self.first + self.records.len() as u64
    }

    /// Append a presence change; the oldest event goes if the log is full.
    pub fn append(&mut self, connected: bool, dir: Dir) {
        if self.records.len() >= self.capacity {
            self.records.pop_front();
            self.first += 1;
        }
        self.records.push_back(Record::new(connected, dir));
    }

    fn get(&self, seq: u64) -> Option<Record> {
        let i = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.records.get(i).copied()
    }

    /// Forget the events before `seq`: no reader needs them.
    pub fn forget_before(&mut self, seq: u64) {
        while self.first < seq && self.records.pop_front().is_some() {
            self.first += 1;
        }
        if self.records.is_empty() {
            self.first = seq.max(self.first);
            if self.records.capacity() > KEEP {
                self.records = VecDeque::new();
            }
        } else if self.records.capacity() > KEEP && self.records.len() < self.records.capacity() / 4
        {
            self.records.shrink_to(self.records.capacity() / 2);
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes of memory the log holds.
    pub fn memory(&self) -> usize {
        self.records.capacity() * std::mem::size_of::<Record>()
    }
}

/// One open events file: its scope and its place in the log.
///
/// The cursor is always at the log's head, or on an event in scope, or
/// before the log's first event (the reader fell behind): it steps over
/// events outside the scope, so that it holds back the log only for events
/// it will read, and falls behind only when one of those is gone.
#[derive(Debug)]
pub struct EventsReader {
    /// `Some(D)` for `tile/<D>/events`, `None` for `itc/events`.
    pub scope: Option<Dir>,
    /// Connects still to read from the snapshot, by [`Dir::index`].
    snapshot: [bool; 6],
    /// The next event to read.
    cursor: u64,
    /// Events in scope at or after the cursor.
    unread: usize,
}

impl EventsReader {
    /// A reader that starts with a Connect for each direction in its scope
    /// that is `present` now, then reads what `log` gets next.
    pub fn new(scope: Option<Dir>, log: &EventLog, present: impl Fn(Dir) -> bool) -> EventsReader {
        EventsReader {
            scope,
            snapshot: Dir::ALL.map(|d| (scope.is_none() || scope == Some(d)) && present(d)),
            cursor: log.head(),
            unread: 0,
        }
    }

    fn covers(&self, dir: Dir) -> bool {
        self.scope.is_none() || self.scope == Some(dir)
    }

    /// The place from which this reader still needs the log, unless it
    /// fell out of it already.
    pub fn needs_from(&self, log: &EventLog) -> Option<u64> {
        (self.cursor >= log.first).then_some(self.cursor)
    }

    /// `log` is about to get a change at `dir`: returns whether this
    /// reader will read it.
    pub fn on_append(&mut self, dir: Dir, log: &EventLog) -> bool {
        if self.covers(dir) {
            self.unread += 1;
            true
        } else {
            if self.cursor == log.head() {
                self.cursor += 1;
            }
            false
        }
    }

    /// Whether a read would return a TEP now.
    pub fn readable(&self, log: &EventLog) -> bool {
        self.snapshot.contains(&true) || self.cursor < log.first || self.unread > 0
    }

    /// The next TEP, without taking it: its bytes and length.
    fn next(&self, log: &EventLog) -> Option<([u8; 3], usize)> {
        let with_dir = |d: Dir| self.scope.is_none().then_some(d);
        if let Some(d) = Dir::ALL.into_iter().find(|d| self.snapshot[d.index()]) {
            return Some(tep_bytes(TepEvent::Connect, with_dir(d)));
        }
        if self.cursor < log.first {
            return Some(tep_bytes(TepEvent::EventsLost, None));
        }
        let r = log.get(self.cursor)?;
        Some(tep_bytes(r.event(), with_dir(r.dir()?)))
    }

    /// Length of the TEP the next read returns.
    pub fn next_len(&self, log: &EventLog) -> Option<usize> {
        self.next(log).map(|(_, len)| len)
    }

    /// Take the next TEP, appending it to `out`.
    pub fn pop_into(&mut self, log: &EventLog, out: &mut Vec<u8>) -> Option<usize> {
        let (bytes, len) = self.next(log)?;
        out.extend_from_slice(&bytes[..len]);
        if let Some(d) = Dir::ALL.into_iter().find(|d| self.snapshot[d.index()]) {
            self.snapshot[d.index()] = false;
        } else if self.cursor < log.first {
            // Fell behind: everything unread is lost; go on from now.
            self.cursor = log.head();
            self.unread = 0;
        } else {
            self.unread = self.unread.saturating_sub(1);
            self.cursor += 1;
            while log
                .get(self.cursor)
                .is_some_and(|r| !r.dir().is_some_and(|d| self.covers(d)))
            {
                self.cursor += 1;
            }
        }
        Some(len)
    }
}

#[cfg(test)]
#[path = "event_log_tests.rs"]
mod tests;
