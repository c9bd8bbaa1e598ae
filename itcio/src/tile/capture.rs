//! `itc/capture`: every packet the tile receives, sends or drops, as
//! records (`itc_proto::capture`), for each open capture file from its
//! open on.
//!
//! Each reader has its own byte ring, bounded like the other reader
//! queues: it grows by doubling up to the bound and gives its memory back
//! as it empties. A record that does not fit is lost; the reader then
//! reads one lost record (`kind 0x02`, with the number of records lost)
//! in its place, before the next record that fits, or as soon as it has
//! read everything else.
//!
//! No reader, no cost: the tile asks [`Capture::is_on`] (one branch)
//! before it builds a record.

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::stats::DropReason;
use crate::tile::file_api::{Error, FileId};
use itc_proto::capture::{lost_record, packet_header, Way, CAPTURE_LOST_LEN};
use itc_proto::Dir;

/// Capacity a ring keeps rather than freeing or shrinking it.
const KEEP: usize = 512;

/// One open capture file: the records it has yet to read.
#[derive(Debug)]
struct Reader {
    ring: VecDeque<u8>,
    /// Records lost since the last lost record.
    lost: u64,
}

impl Reader {
    fn reserve(&mut self, extra: usize, max: usize) {
        let need = self.ring.len() + extra;
        let cap = self.ring.capacity();
        if need > cap {
            let target = (cap * 2).max(KEEP.min(max)).min(max).max(need);
            self.ring.reserve_exact(target - self.ring.len());
        }
    }

    fn push(&mut self, header: &[u8], packet: &[u8], now: u64, limit: usize) {
        let owed = if self.lost > 0 { CAPTURE_LOST_LEN } else { 0 };
        let need = owed + header.len() + packet.len();
        if self.ring.len() + need > limit {
            self.lost += 1;
            return;
        }
        self.reserve(need, limit);
        if self.lost > 0 {
            self.ring.extend(lost_record(now, self.lost));
            self.lost = 0;
        }
        self.ring.extend(header);
        self.ring.extend(packet);
    }

    fn front_len(&self) -> Option<usize> {
        let lo = *self.ring.front()?;
        let hi = *self.ring.get(1)?;
        Some(usize::from(u16::from_le_bytes([lo, hi])))
    }

    fn readable(&self) -> bool {
        !self.ring.is_empty() || self.lost > 0
    }

    fn give_back(&mut self) {
        let (len, cap) = (self.ring.len(), self.ring.capacity());
        if len == 0 && cap > KEEP {
            self.ring = VecDeque::new();
        } else if cap > KEEP && len < cap / 4 {
            self.ring.shrink_to(cap / 2);
        }
    }
}

/// The open capture files.
#[derive(Debug)]
pub struct Capture {
    readers: BTreeMap<FileId, Reader>,
    /// Bytes each reader's ring may hold.
    limit: usize,
    /// Records were added since [`Capture::take_changed`].
    changed: bool,
}

/// Nanoseconds since the Unix epoch.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Capture {
    /// No reader; each will hold at most `limit` bytes of records (at
    /// least one record of each kind).
    pub fn new(limit: usize) -> Capture {
        Capture {
            readers: BTreeMap::new(),
            limit: limit.max(itc_proto::capture::MAX_CAPTURE_RECORD_LEN + CAPTURE_LOST_LEN),
            changed: false,
        }
    }

    /// Whether any capture file is open: the one branch a packet costs
    /// when none is.
    #[inline]
    pub fn is_on(&self) -> bool {
        !self.readers.is_empty()
    }

    /// A capture file was opened as `id`.
    pub fn open(&mut self, id: FileId) {
        self.readers.insert(
            id,
            Reader {
                ring: VecDeque::new(),
                lost: 0,
            },
        );
    }

    /// Whether `id` is an open capture file.
    pub fn has(&self, id: FileId) -> bool {
        self.readers.contains_key(&id)
    }

    /// `id` was closed for good; returns the bytes of memory it held.
    pub fn close(&mut self, id: FileId) -> usize {
        self.readers.remove(&id).map_or(0, |r| r.ring.capacity())
    }

    /// Record a packet for every reader: from (`Way::In`) or to
    /// (`Way::Out`) the neighbour at `dir`, passed or dropped for `drop`.
    pub fn record(&mut self, dir: Dir, way: Way, drop: Option<DropReason>, packet: &[u8]) {
        if !self.is_on() {
            return;
        }
        let now = now_ns();
        let fate = drop.map_or(0, DropReason::code);
        let header = packet_header(now, dir, way, fate, packet.len());
        let packet = &packet[..packet.len().min(itc_proto::MAX_PACKET_LEN)];
        let limit = self.limit;
        for r in self.readers.values_mut() {
            r.push(&header, packet, now, limit);
        }
        self.changed = true;
    }

    /// Append to `out` as many whole records of `id` as fit in `size`
    /// bytes, at least one: [`Error::WouldBlock`] if there is none,
    /// [`Error::TooLong`] if the first does not fit.
    pub fn read(&mut self, id: FileId, size: u32, out: &mut Vec<u8>) -> Result<(), Error> {
        let r = self.readers.get_mut(&id).ok_or(Error::BadFile)?;
        let size = size as usize;
        let start = out.len();
        loop {
            let used = out.len() - start;
            let Some(len) = r.front_len() else {
                if r.lost > 0 && used + CAPTURE_LOST_LEN <= size {
                    out.extend(lost_record(now_ns(), r.lost));
                    r.lost = 0;
                    continue;
                }
                break;
            };
            if used + len > size {
                break;
            }
            let (a, b) = r.ring.as_slices();
            let from_a = len.min(a.len());
            out.extend_from_slice(&a[..from_a]);
            out.extend_from_slice(&b[..len - from_a]);
            r.ring.drain(..len);
        }
        r.give_back();
        if out.len() > start {
            return Ok(());
        }
        match r.front_len() {
            Some(len) => Err(Error::TooLong { len, max: size }),
            None if r.lost > 0 => Err(Error::TooLong {
                len: CAPTURE_LOST_LEN,
                max: size,
            }),
            None => Err(Error::WouldBlock),
        }
    }

    /// Whether a read of `id` would return a record now.
    pub fn readable(&self, id: FileId) -> bool {
        self.readers.get(&id).is_some_and(Reader::readable)
    }

    /// Add every reader to `out` if records came since the last call.
    pub fn take_changed(&mut self, out: &mut Vec<FileId>) {
        if std::mem::take(&mut self.changed) {
            out.extend(self.readers.keys().copied());
        }
    }

    /// Bytes of memory the readers' rings hold.
    pub fn memory(&self) -> usize {
        self.readers.values().map(|r| r.ring.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_proto::capture::CaptureRecord;

    fn records(buf: &[u8]) -> Vec<CaptureRecord<'_>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let (rec, n) = CaptureRecord::parse(&buf[at..]).expect("a record");
            out.push(rec);
            at += n;
        }
        out
    }

    #[test]
    fn nothing_is_recorded_without_a_reader() {
        let mut c = Capture::new(4096);
        assert!(!c.is_on());
        c.record(Dir::ET, Way::In, None, &[0xa2, 1]);
        assert_eq!(c.memory(), 0);
        let mut changed = Vec::new();
        c.take_changed(&mut changed);
        assert!(changed.is_empty());
    }

    #[test]
    fn a_reader_reads_whole_records_from_its_open_on() {
        let mut c = Capture::new(4096);
        c.record(Dir::ET, Way::In, None, &[0xa2, 1]);
        c.open(FileId(1));
        c.record(Dir::ET, Way::In, None, &[0xa2, 2]);
        c.record(Dir::SW, Way::Out, Some(DropReason::LinkDown), &[0x85, 9, 9]);
        let mut out = Vec::new();
        assert!(matches!(
            c.read(FileId(1), 17, &mut out),
            Err(Error::TooLong { len: 18, .. })
        ));
        c.read(FileId(1), 18 + 18, &mut out).unwrap();
        assert_eq!(out.len(), 18, "only whole records");
        c.read(FileId(1), 4096, &mut out).unwrap();
        let recs = records(&out);
        assert_eq!(recs.len(), 2);
        assert!(
            matches!(recs[0], CaptureRecord::Packet { dir: Dir::ET, way: Way::In, fate: 0, packet, .. } if packet == [0xa2, 2])
        );
        assert!(matches!(
            recs[1],
            CaptureRecord::Packet {
                dir: Dir::SW,
                way: Way::Out,
                fate: 5,
                ..
            }
        ));
        assert_eq!(c.read(FileId(1), 4096, &mut out), Err(Error::WouldBlock));
    }

    #[test]
    fn a_reader_that_falls_behind_reads_how_many_it_lost() {
        let limit = 1024;
        let mut c = Capture::new(limit);
        c.open(FileId(7));
        let pkt = [0xa2; 100];
        for _ in 0..100 {
            c.record(Dir::ET, Way::In, None, &pkt);
            assert!(c.memory() <= c.limit, "bounded");
        }
        let fit = c.limit / 116;
        let mut out = Vec::new();
        c.read(FileId(7), 65536, &mut out).unwrap();
        c.record(Dir::ET, Way::Out, None, &pkt);
        c.read(FileId(7), 65536, &mut out).unwrap();
        let recs = records(&out);
        assert_eq!(recs.len(), fit + 2);
        assert_eq!(
            recs[fit],
            CaptureRecord::Lost {
                time_ns: recs[fit].time_ns(),
                count: (100 - fit) as u64
            }
        );
        assert!(matches!(
            recs[fit + 1],
            CaptureRecord::Packet { way: Way::Out, .. }
        ));
        let held = c.memory();
        assert_eq!(c.close(FileId(7)), held);
        assert!(!c.is_on());
    }
}
