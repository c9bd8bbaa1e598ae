//! The open files and which of them an inbound packet goes to.
//!
//! Owns every open file: packet files ([`Channel`]s with their reader
//! queues), events files ([`EventsReader`]s, places in one [`EventLog`]
//! shared by all of them) and generated text files (content as of open).
//! A packet file has one holder at a time: a second open fails
//! [`Error::Busy`], or [`Error::WouldBlock`] while the holder's close is
//! on its way.
//!
//! Inbound, a packet from D goes to `tile/<D>/...` if open for reading,
//! else to `itc/...` if open for reading, else it is dropped (no reader).
//! A write-only holder takes nothing (it could never read it), nor does an
//! MFM file gone stale with a change of physics id.
//!
//! It knows nothing of links, queues or services: the caller passes the
//! physics generation, who is present, whether a write could go, and the
//! events to fan out, and takes back the packets written and the files
//! whose readiness may have changed.

use std::collections::{HashMap, HashSet};

use crate::channel::{Carries, Channel};
use crate::event_log::{EventLog, EventsReader};
use crate::stats::DropReason;
use crate::tile::capture::Capture;
use crate::tile::file_api::{Access, Error, FileId, FileKind, Readiness};
use itc_proto::batch::item_len;
use itc_proto::{Dir, TepEvent, MAX_PACKET_LEN, MAX_PHYSICS_LEN};

/// An open file.
#[derive(Debug)]
enum OpenFile {
    /// Boxed: the others are a few words, and events files may be many.
    Channel(Box<Channel>),
    Events(EventsReader),
    /// A generated text file: its content as of open.
    Text(Vec<u8>),
    /// `itc/physics`: content at open, and what was written so far.
    Physics {
        snapshot: Vec<u8>,
        written: Vec<u8>,
    },
    /// `itc/capture`: its records are in [`Files::capture`].
    Capture,
}

/// What a write asks of the caller.
#[derive(Debug)]
pub enum Write {
    /// A valid packet for `dir`, its DIR filled in: the caller checks the
    /// neighbour and the queue, and queues it.
    Packet {
        /// Where it goes.
        dir: Dir,
        /// MFM (else service) traffic.
        mfm: bool,
        /// The packet.
        packet: Box<[u8]>,
    },
    /// A new physics id: the caller sets it, then
    /// [`Files::commit_physics`].
    Physics(PhysicsEdit),
}

/// What `itc/physics` holds after a write, not yet applied.
#[derive(Debug)]
pub struct PhysicsEdit {
    written: String,
    len: u32,
}

impl PhysicsEdit {
    /// The physics id written: the text without its line end and blanks.
    pub fn physics(&self) -> &str {
        self.written.trim_end_matches(['\n', '\r']).trim()
    }

    /// Bytes the write took.
    pub fn taken(&self) -> u32 {
        self.len
    }
}

/// The open files.
#[derive(Debug)]
pub struct Files {
    open: HashMap<FileId, OpenFile>,
    /// The holder of each open packet file.
    exclusive: HashMap<FileKind, FileId>,
    /// Holders that saw a close and may be released any moment.
    flushed: HashSet<FileId>,
    next_id: u64,
    changed: Vec<FileId>,
    reader_limit: usize,
    /// What events readers have yet to read.
    log: EventLog,
    /// Open events files.
    events_readers: usize,
    /// The capture files' records.
    pub capture: Capture,
}

fn carries(kind: FileKind) -> Option<(Carries, Option<Dir>)> {
    match kind {
        FileKind::Mfm(scope) => Some((Carries::Mfm, scope)),
        FileKind::Svc(scope, n) => Some((Carries::Svc(n), scope)),
        FileKind::Events(scope) => Some((Carries::Events, scope)),
        _ => None,
    }
}

fn stale(ch: &Channel, physics_gen: u64) -> bool {
    ch.carries == Carries::Mfm && ch.physics_gen != physics_gen
}

/// Fails unless a packet of `len` fits a read of `size` bytes; no packet
/// is [`Error::WouldBlock`].
fn fits(len: Option<usize>, size: u32) -> Result<(), Error> {
    match len {
        None => Err(Error::WouldBlock),
        Some(len) if len > size as usize => Err(Error::TooLong {
            len,
            max: size as usize,
        }),
        Some(_) => Ok(()),
    }
}

fn read_text(content: &[u8], offset: u64, size: u32, out: &mut Vec<u8>) {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let end = start.saturating_add(size as usize).min(content.len());
    out.extend_from_slice(&content[start..end]);
}

/// Memory freed at once that is worth handing back to the kernel.
const GIVE_BACK: usize = 4096;

/// The events a log keeps for a reader bound of `limit` bytes: as many
/// as `itc/events` would show in that many bytes (3 each).
pub fn log_capacity(limit: usize) -> usize {
    limit / 3
}

impl Files {
    /// No open file; reader queues of `reader_limit` bytes, and events
    /// readers that may fall as many bytes of `itc/events` behind.
    pub fn new(reader_limit: usize) -> Files {
        Files {
            open: HashMap::new(),
            exclusive: HashMap::new(),
            flushed: HashSet::new(),
            next_id: 1,
            changed: Vec::new(),
            reader_limit,
            log: EventLog::new(log_capacity(reader_limit)),
            events_readers: 0,
            capture: Capture::new(reader_limit),
        }
    }

    fn insert(&mut self, file: OpenFile) -> FileId {
        let id = FileId(self.next_id);
        self.next_id += 1;
        self.open.insert(id, file);
        id
    }

    /// Open a packet or events file. Its reader first finds a Connect
    /// for each neighbour `present` in its scope.
    pub fn open_channel(
        &mut self,
        kind: FileKind,
        access: Access,
        physics_gen: u64,
        present: impl Fn(Dir) -> bool,
    ) -> Result<FileId, Error> {
        // A file and its batched twin are one channel, held under the
        // plain file's kind.
        let (kind, batched) = kind.plain();
        let (carries, scope) = carries(kind).ok_or(Error::NotFound)?;
        if carries != Carries::Events {
            if let Some(holder) = self.exclusive.get(&kind) {
                // Just closed: its release is on the way, so ask the
                // caller to retry for a moment.
                return Err(if self.flushed.contains(holder) {
                    Error::WouldBlock
                } else {
                    Error::Busy
                });
            }
        }
        if carries == Carries::Events {
            if access.contains(Access::WRITE) {
                return Err(Error::Denied);
            }
            let reader = EventsReader::new(scope, &self.log, present);
            self.events_readers += 1;
            return Ok(self.insert(OpenFile::Events(reader)));
        }
        let mut ch = Channel::new(carries, scope, physics_gen, self.reader_limit);
        ch.reads = access.contains(Access::READ);
        ch.batched = batched;
        for dir in Dir::ALL {
            if (scope.is_none() || scope == Some(dir)) && present(dir) {
                ch.push_event(TepEvent::Connect, dir);
            }
        }
        let id = self.insert(OpenFile::Channel(Box::new(ch)));
        self.exclusive.insert(kind, id);
        Ok(id)
    }

    /// Open a generated text file with this content.
    pub fn open_text(&mut self, content: Vec<u8>) -> FileId {
        self.insert(OpenFile::Text(content))
    }

    /// Open `itc/capture` (read-only): its reader gets every record from
    /// now on.
    pub fn open_capture(&mut self, access: Access) -> Result<FileId, Error> {
        if access.contains(Access::WRITE) {
            return Err(Error::Denied);
        }
        let id = self.insert(OpenFile::Capture);
        self.capture.open(id);
        Ok(id)
    }

    /// Open `itc/physics`, which reads `snapshot`.
    pub fn open_physics(&mut self, snapshot: Vec<u8>) -> FileId {
        self.insert(OpenFile::Physics {
            snapshot,
            written: Vec::new(),
        })
    }

    /// The last reference to a file is gone.
    pub fn release(&mut self, id: FileId) {
        let file = self.open.remove(&id);
        self.flushed.remove(&id);
        self.exclusive.retain(|_, v| *v != id);
        let mut large = match file {
            Some(OpenFile::Events(_)) => {
                self.events_readers -= 1;
                let before = self.log.memory();
                self.forget_read_events();
                before - self.log.memory() >= GIVE_BACK
            }
            Some(OpenFile::Channel(ch)) => ch.memory() >= GIVE_BACK,
            Some(OpenFile::Capture) => self.capture.close(id) >= GIVE_BACK,
            _ => false,
        };
        // A crowd of files was closed: give back their table too.
        if self.open.capacity() > 64 && self.open.len() < self.open.capacity() / 4 {
            self.open.shrink_to(self.open.len() * 2);
            large = true;
        }
        if large {
            crate::sys::give_back_free_memory();
        }
    }

    /// Let the log forget what every events reader has read.
    fn forget_read_events(&mut self) {
        let log = &self.log;
        let oldest = self
            .open
            .values()
            .filter_map(|f| match f {
                OpenFile::Events(r) => r.needs_from(log),
                _ => None,
            })
            .min()
            .unwrap_or(log.head());
        self.log.forget_before(oldest);
    }

    /// A descriptor of the file was closed; others may remain.
    pub fn flush(&mut self, id: FileId) {
        if self.exclusive.values().any(|v| *v == id) {
            self.flushed.insert(id);
        }
    }

    /// Append at most `size` bytes at `offset` to `out`: the next packet
    /// of a channel, a slice of a text file.
    pub fn read(
        &mut self,
        id: FileId,
        offset: u64,
        size: u32,
        out: &mut Vec<u8>,
        physics_gen: u64,
    ) -> Result<(), Error> {
        // Still in use after a close (a dup or a forked copy remains).
        self.flushed.remove(&id);
        match self.open.get_mut(&id) {
            Some(OpenFile::Channel(ch)) => {
                if stale(ch, physics_gen) {
                    return Err(Error::Stale);
                }
                if ch.batched {
                    // A read(2) has no file position here, so a request
                    // at another offset is the kernel's continuation of
                    // one that was already answered: it ends that read.
                    if offset != 0 {
                        return Ok(());
                    }
                    fits(ch.front_len().map(item_len), size)?;
                    ch.pop_items_into(out, size as usize);
                    return Ok(());
                }
                fits(ch.front_len(), size)?;
                ch.pop_into(out);
                Ok(())
            }
            Some(OpenFile::Events(r)) => {
                fits(r.next_len(&self.log), size)?;
                r.pop_into(&self.log, out);
                Ok(())
            }
            Some(OpenFile::Capture) => self.capture.read(id, size, out),
            Some(OpenFile::Text(content)) => {
                read_text(content, offset, size, out);
                Ok(())
            }
            Some(OpenFile::Physics { snapshot, .. }) => {
                read_text(snapshot, offset, size, out);
                Ok(())
            }
            None => Err(Error::BadFile),
        }
    }

    /// Take a write of `data` at `offset`: a packet (checked, at most
    /// `out_limit` bytes, the most an outbound queue holds) or a physics
    /// id, for the caller to carry out.
    pub fn write(
        &mut self,
        id: FileId,
        offset: u64,
        data: &[u8],
        physics_gen: u64,
        out_limit: usize,
    ) -> Result<Write, Error> {
        self.flushed.remove(&id);
        match self.open.get(&id) {
            Some(OpenFile::Channel(ch)) => packet_write(ch, offset, data, physics_gen, out_limit),
            Some(OpenFile::Events(_) | OpenFile::Capture) => Err(Error::BadFile),
            Some(OpenFile::Physics { written, .. }) => {
                let offset = usize::try_from(offset).map_err(|_| Error::Invalid)?;
                if offset > written.len() || offset + data.len() > MAX_PHYSICS_LEN + 2 {
                    return Err(Error::Invalid);
                }
                let mut next = written.clone();
                next.truncate(offset);
                next.extend_from_slice(data);
                let written = String::from_utf8(next).map_err(|_| Error::Invalid)?;
                Ok(Write::Physics(PhysicsEdit {
                    written,
                    len: data.len() as u32,
                }))
            }
            Some(OpenFile::Text(_)) | None => Err(Error::BadFile),
        }
    }

    /// Whether a file is a batched twin, whose writes are framed items
    /// (taken with [`Files::write_batch`]).
    pub fn is_batched(&self, id: FileId) -> bool {
        matches!(self.open.get(&id), Some(OpenFile::Channel(ch)) if ch.batched)
    }

    /// Take a write of framed packets to a batched file at `offset`, in
    /// order, each checked as a write of the plain file would be and
    /// handed to `queue` (which fails if its neighbour or its room is
    /// missing), up to the first that cannot be taken. Returns the bytes
    /// of the whole items taken; fails with the first item's error if
    /// none was (a framing error is [`Error::Invalid`]).
    pub fn write_batch(
        &mut self,
        id: FileId,
        offset: u64,
        data: &[u8],
        physics_gen: u64,
        out_limit: usize,
        mut queue: impl FnMut(Dir, bool, Box<[u8]>) -> Result<u32, Error>,
    ) -> Result<u32, Error> {
        self.flushed.remove(&id);
        let Some(OpenFile::Channel(ch)) = self.open.get(&id) else {
            return Err(Error::BadFile);
        };
        let mut items = itc_proto::batch::Items::new(data);
        let failed = loop {
            let taken = items.consumed();
            let outcome = match items.next() {
                None => break None,
                Some(Err(_)) => Err(Error::Invalid),
                Some(Ok(item)) => match packet_write(ch, 0, item, physics_gen, out_limit) {
                    Ok(Write::Packet { dir, mfm, packet }) => queue(dir, mfm, packet),
                    Ok(Write::Physics(_)) => Err(Error::BadFile),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = outcome {
                break Some((taken, e));
            }
        };
        match failed {
            None => Ok(items.consumed() as u32),
            // The rest of a write(2) the kernel split, whose first piece
            // was taken: a short write, as for a pipe, never a wait.
            Some((0, Error::WouldBlock)) if offset != 0 => Ok(0),
            Some((0, e)) => Err(e),
            Some((taken, _)) => Ok(taken as u32),
        }
    }

    /// Keep what was written to `itc/physics` once its id is set.
    pub fn commit_physics(&mut self, id: FileId, edit: PhysicsEdit) {
        if let Some(OpenFile::Physics { written, .. }) = self.open.get_mut(&id) {
            *written = edit.written.into_bytes();
        }
    }

    /// Readiness of a file; `writable(mfm, scope)` says whether a write
    /// of that traffic to that scope would go through or fail at once.
    pub fn poll(
        &self,
        id: FileId,
        physics_gen: u64,
        writable: impl Fn(bool, Option<Dir>) -> bool,
    ) -> Readiness {
        match self.open.get(&id) {
            Some(OpenFile::Channel(ch)) => {
                if stale(ch, physics_gen) {
                    return Readiness::all();
                }
                let w = match ch.carries {
                    Carries::Mfm => writable(true, ch.scope),
                    Carries::Svc(_) => writable(false, ch.scope),
                    Carries::Events => false,
                };
                let mut ready = Readiness::empty();
                ready.set(Readiness::READABLE, ch.readable());
                ready.set(Readiness::WRITABLE, w);
                ready
            }
            Some(OpenFile::Events(r)) if r.readable(&self.log) => Readiness::READABLE,
            Some(OpenFile::Events(_)) => Readiness::empty(),
            Some(OpenFile::Capture) if self.capture.readable(id) => Readiness::READABLE,
            Some(OpenFile::Capture) => Readiness::empty(),
            Some(_) => Readiness::READABLE | Readiness::WRITABLE,
            None => Readiness::ERROR,
        }
    }

    /// Hand an inbound packet from `dir` to the file that takes it, or
    /// say why none did.
    pub fn deliver(
        &mut self,
        dir: Dir,
        carries: Carries,
        packet: &[u8],
        physics_gen: u64,
    ) -> Result<(), DropReason> {
        let (tile_kind, itc_kind) = match carries {
            Carries::Mfm => (FileKind::Mfm(Some(dir)), FileKind::Mfm(None)),
            Carries::Svc(n) => (FileKind::Svc(Some(dir), n), FileKind::Svc(None, n)),
            Carries::Events => return Err(DropReason::NoReader),
        };
        // A flushed holder still counts: FUSE_FLUSH also comes when a forked
        // child's exec closes its inherited copy, so it does not mean the
        // owner is done. A write-only holder does not: it keeps the file
        // exclusive but could never read what it was given. Nor does an MFM
        // handle gone stale with a physics change, until it is reopened.
        let reader = |kind: &FileKind| {
            self.exclusive.get(kind).copied().filter(|id| {
                matches!(self.open.get(id),
                    Some(OpenFile::Channel(ch)) if ch.reads && !stale(ch, physics_gen))
            })
        };
        let id = reader(&tile_kind)
            .or_else(|| reader(&itc_kind))
            .ok_or(DropReason::NoReader)?;
        let Some(OpenFile::Channel(ch)) = self.open.get_mut(&id) else {
            return Err(DropReason::NoReader);
        };
        if !ch.push_data(dir, packet) {
            return Err(DropReason::QueueFull);
        }
        self.changed.push(id);
        Ok(())
    }

    /// Put a presence change at `dir` (`Connect` or `Disconnect`) into
    /// every packet file that covers `dir`, and into the events log for
    /// the events files.
    pub fn fan_out(&mut self, dir: Dir, event: TepEvent) {
        let log = &self.log;
        for (id, file) in self.open.iter_mut() {
            match file {
                OpenFile::Channel(ch) if ch.scope.is_none() || ch.scope == Some(dir) => {
                    ch.push_event(event, dir);
                    self.changed.push(*id);
                }
                OpenFile::Events(r) => {
                    let reads_it = r.on_append(dir, log);
                    if reads_it {
                        self.changed.push(*id);
                    }
                }
                _ => {}
            }
        }
        // No events reader, no cost.
        if self.events_readers > 0 {
            self.log.append(event == TepEvent::Connect, dir);
            self.forget_read_events();
        }
    }

    /// Events the log holds, and the bytes of memory it takes.
    pub fn event_log_size(&self) -> (usize, usize) {
        (self.log.len(), self.log.memory())
    }

    /// Report every packet file changed: whether a write would go or wait
    /// may have changed.
    pub fn mark_packet_files(&mut self) {
        self.mark(|ch| ch.is_packet_file());
    }

    /// Report every MFM file changed: they went stale.
    pub fn mark_mfm_files(&mut self) {
        self.mark(|ch| ch.carries == Carries::Mfm);
    }

    fn mark(&mut self, which: impl Fn(&Channel) -> bool) {
        for (id, file) in &self.open {
            if matches!(file, OpenFile::Channel(ch) if which(ch)) {
                self.changed.push(*id);
            }
        }
    }

    /// The files whose readiness may have changed since the last call.
    pub fn drain_changed(&mut self) -> impl Iterator<Item = FileId> + '_ {
        self.capture.take_changed(&mut self.changed);
        self.changed.drain(..)
    }
}

/// Check a packet written to a channel and fill in its DIR.
fn packet_write(
    ch: &Channel,
    offset: u64,
    data: &[u8],
    physics_gen: u64,
    out_limit: usize,
) -> Result<Write, Error> {
    let (mfm, svc) = match ch.carries {
        Carries::Mfm => (true, None),
        Carries::Svc(n) => (false, Some(n)),
        Carries::Events => return Err(Error::BadFile),
    };
    if stale(ch, physics_gen) {
        return Err(Error::Stale);
    }
    // Packet files have no file position: every write(2) starts at 0. A
    // write at any other offset is the rest of one the kernel split, whose
    // first piece was refused (too long) or, were requests ever to cover
    // too few pages for a scattered packet, taken alone: the rest is no
    // packet either way.
    if offset != 0 || data.is_empty() {
        return Err(Error::Invalid);
    }
    // Longer than an outbound queue holds (with --queue-bytes below 255):
    // it could never be queued, so waiting for room would block the
    // writer for ever.
    let max = MAX_PACKET_LEN.min(out_limit);
    if data.len() > max {
        return Err(Error::TooLong {
            len: data.len(),
            max,
        });
    }
    let mut packet: Box<[u8]> = data.into();
    if let Some(dir) = ch.scope {
        // In tile/<D> files itcd fills in DIR = D.
        packet[0] = (packet[0] & !0x07) | dir.dir8();
    }
    let dir = itc_proto::check_user_write(&packet, mfm, svc).map_err(|e| match e {
        itc_proto::Error::TooLong { len } => Error::TooLong {
            len,
            max: MAX_PACKET_LEN,
        },
        _ => Error::Invalid,
    })?;
    Ok(Write::Packet { dir, mfm, packet })
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
