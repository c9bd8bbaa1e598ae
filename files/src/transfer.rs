//! The receiving side of one file transfer: which chunks to ask which
//! neighbour for, and what to do with what comes back. It owns the
//! request bookkeeping the transfer rules call for, so the daemon loop
//! only moves messages and calls the store:
//!
//! - First the manifest, in chunks, from the neighbours that announced its
//!   id; once whole it is handed out ([`Event::ManifestReady`]) for the
//!   daemon to verify and stage; then [`Transfer::start_pieces`].
//! - Pieces in order of index, each chunk asked of one neighbour that has
//!   the piece, spread over all such neighbours (several sources at once).
//! - At most one outstanding request per chunk: a chunk is asked for again
//!   only after its request timed out, was refused (RETRY) or aborted, or
//!   its neighbour went away.
//! - A window of [`WINDOW_CHUNKS`] outstanding chunks per neighbour
//!   ([`Transfer::set_window`] changes it), and a
//!   request counts as outstanding only once the send callback wrote it; a
//!   refused write (`EAGAIN`) stops asking that neighbour for this round.
//!   [`Transfer::set_min_request`] makes it wait, while chunks are
//!   outstanding, until a fuller request fits the window (fewer, fuller
//!   requests on the link back).
//! - Time-outs per neighbour start at [`INITIAL_TIMEOUT`] and double on each
//!   round with an expiry, up to [`MAX_TIMEOUT`]; data from the neighbour
//!   resets it.
//! - Each completed piece is checked against the manifest hash here; a bad
//!   one is dropped ([`Event::BadPiece`]) and each neighbour that sent part
//!   of it earns a strike; [`MAX_STRIKES`] strikes drop it as a source.
//!
//! Memory is bounded: the manifest assembly (its length checked before
//! allocation) and at most [`MAX_PIECES_IN_FLIGHT`] piece assemblies. A
//! piece begun stays in flight until it completes, so pieces whose every
//! source went away hold their places until a source returns.
//! Time is passed in, never read, so the rules are tested without waiting.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use itc_proto::Dir;

use crate::assembly::{chunk_count, Assembly};
use crate::id::RecordId;
use crate::manifest::Manifest;
use crate::pieces::PieceSet;
use crate::wire::{Have, Locator, Message, Object, CHUNK_LEN, MAX_BITMAP, MAX_REQUEST_CHUNKS};

/// Outstanding chunks allowed per neighbour.
pub const WINDOW_CHUNKS: u32 = 2 * MAX_REQUEST_CHUNKS as u32;
/// Pieces being assembled at once.
pub const MAX_PIECES_IN_FLIGHT: usize = 8;
/// A neighbour's first time-out for a request.
pub const INITIAL_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest time-out after back-off.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Bad pieces a neighbour may send before it is dropped as a source.
pub const MAX_STRIKES: u32 = 3;

/// What a piece of incoming data produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Nothing to do yet.
    None,
    /// The manifest is whole: verify it (id and signature), stage the
    /// fetch, and call [`Transfer::start_pieces`], or
    /// [`Transfer::manifest_failed`].
    ManifestReady(Vec<u8>),
    /// Piece `.0` matched its hash: write it to the store.
    PieceReady(u32, Vec<u8>),
    /// Piece `.0` failed its hash and was dropped; count it.
    BadPiece(u32),
    /// The data was not asked for or does not fit; count it.
    Unexpected,
    /// The chunk was here already (a late or repeated answer, or a piece
    /// verified meanwhile); it is dropped: count it.
    Duplicate,
}

/// Which pieces a source has, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holding {
    Complete,
    Partial { base: u32, bitmap: Vec<u8> },
}

impl Holding {
    fn of(have: &Have<'_>) -> Holding {
        match *have {
            Have::Complete => Holding::Complete,
            Have::Partial { base, bitmap } => Holding::Partial {
                base,
                bitmap: bitmap[..bitmap.len().min(MAX_BITMAP)].to_vec(),
            },
        }
    }

    fn contains(&self, i: u32) -> bool {
        match self {
            Holding::Complete => true,
            Holding::Partial { base, bitmap } => Have::Partial {
                base: *base,
                bitmap,
            }
            .contains(i),
        }
    }
}

/// One neighbour as a source for this transfer.
#[derive(Debug, Clone)]
struct Source {
    holding: Holding,
    timeout: Duration,
    outstanding: u32,
    strikes: u32,
    /// Pieces this neighbour refused, not to be asked again before then.
    not_before: BTreeMap<u32, Instant>,
}

/// A chunk: object (manifest: `None`; piece: `Some(index)`) and index.
type ChunkKey = (Option<u32>, u32);

/// An outstanding request for one chunk.
#[derive(Debug, Clone, Copy)]
struct Asked {
    dir: Dir,
    deadline: Instant,
}

/// The receiving side of one transfer.
#[derive(Debug)]
pub struct Transfer {
    id: RecordId,
    manifest: Option<Manifest>,
    manifest_asm: Option<Assembly>,
    manifest_senders: Vec<Dir>,
    manifest_len: usize,
    verified: PieceSet,
    pieces: BTreeMap<u32, (Assembly, Vec<Dir>)>,
    sources: BTreeMap<Dir, Source>,
    asked: BTreeMap<ChunkKey, Asked>,
    window: u32,
    min_request: u32,
}

impl Transfer {
    /// A transfer of the manifest `id` of `manifest_len` bytes (from an
    /// ANNOUNCE, already bounded by the parser), starting with the manifest.
    pub fn new(id: RecordId, manifest_len: usize) -> Transfer {
        Transfer {
            id,
            manifest: None,
            manifest_asm: Assembly::new(manifest_len).ok(),
            manifest_senders: Vec::new(),
            manifest_len,
            verified: PieceSet::new(0),
            pieces: BTreeMap::new(),
            sources: BTreeMap::new(),
            asked: BTreeMap::new(),
            window: WINDOW_CHUNKS,
            min_request: 1,
        }
    }

    /// Allows `chunks` outstanding chunks per neighbour (default
    /// [`WINDOW_CHUNKS`]; at least one request's worth). A link whose round
    /// trip is longer than the time a window takes to arrive needs more.
    pub fn set_window(&mut self, chunks: u32) {
        self.window = chunks.max(u32::from(MAX_REQUEST_CHUNKS));
    }

    /// While a neighbour has chunks outstanding, asks it again only when a
    /// request of at least `chunks` chunks fits its window (default 1: as
    /// soon as there is any room).
    pub fn set_min_request(&mut self, chunks: u8) {
        self.min_request = u32::from(chunks.clamp(1, MAX_REQUEST_CHUNKS));
    }

    /// A transfer whose manifest is already verified and staged, with the
    /// pieces the store has (after a restart, or a local manifest).
    pub fn resume(manifest: Manifest, verified: PieceSet) -> Transfer {
        let mut t = Transfer::new(manifest.id(), manifest.bytes().len());
        t.start_pieces(manifest, verified);
        t
    }

    /// The manifest id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The verified manifest, once started on pieces.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// The pieces verified so far.
    pub fn verified(&self) -> &PieceSet {
        &self.verified
    }

    /// Whether every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.manifest.is_some() && self.verified.is_complete()
    }

    /// How many neighbours serve this transfer.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// The neighbours serving this transfer.
    pub fn sources(&self) -> impl Iterator<Item = Dir> + '_ {
        self.sources.keys().copied()
    }

    /// Notes what neighbour `dir` announced for this manifest id.
    pub fn add_source(&mut self, dir: Dir, have: &Have<'_>) {
        let holding = Holding::of(have);
        match self.sources.get_mut(&dir) {
            Some(s) => s.holding = holding,
            None => {
                self.sources.insert(
                    dir,
                    Source {
                        holding,
                        timeout: INITIAL_TIMEOUT,
                        outstanding: 0,
                        strikes: 0,
                        not_before: BTreeMap::new(),
                    },
                );
            }
        }
    }

    /// Forgets neighbour `dir` (gone, or it sent ABORT); its outstanding
    /// chunks may be asked of others.
    pub fn remove_source(&mut self, dir: Dir) {
        self.sources.remove(&dir);
        self.asked.retain(|_, a| a.dir != dir);
    }

    /// The manifest turned out bad (wrong id or signature): start it over,
    /// without the neighbours that sent parts of it.
    pub fn manifest_failed(&mut self) {
        for d in std::mem::take(&mut self.manifest_senders) {
            self.remove_source(d);
        }
        self.manifest_asm = Assembly::new(self.manifest_len).ok();
        self.asked.retain(|k, _| k.0.is_some());
    }

    /// The manifest is verified and staged; `verified` is what the store
    /// already has. Pieces are asked for from now on.
    pub fn start_pieces(&mut self, manifest: Manifest, verified: PieceSet) {
        self.verified = if verified.len() == manifest.piece_count() {
            verified
        } else {
            PieceSet::new(manifest.piece_count())
        };
        self.manifest = Some(manifest);
        self.manifest_asm = None;
        self.asked.retain(|k, _| k.0.is_some());
    }

    /// The store could not keep piece `i` (a full disk): ask for it again.
    pub fn piece_lost(&mut self, i: u32) {
        self.verified.remove(i);
    }

    /// The earliest request deadline, for the daemon's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.asked.values().map(|a| a.deadline).min()
    }

    /// Returns the chunks whose requests expired to the pool and doubles
    /// the time-out of each neighbour that let one expire.
    pub fn expire(&mut self, now: Instant) {
        let mut late: Vec<Dir> = Vec::new();
        self.asked.retain(|_, a| {
            let keep = a.deadline > now;
            if !keep {
                late.push(a.dir);
            }
            keep
        });
        late.sort();
        late.dedup();
        for d in late {
            if let Some(s) = self.sources.get_mut(&d) {
                s.timeout = (s.timeout * 2).min(MAX_TIMEOUT);
            }
        }
        self.recount();
    }

    /// Recomputes each source's outstanding count from the requests.
    fn recount(&mut self) {
        for s in self.sources.values_mut() {
            s.outstanding = 0;
        }
        for a in self.asked.values() {
            if let Some(s) = self.sources.get_mut(&a.dir) {
                s.outstanding += 1;
            }
        }
    }

    /// Handles RETRY from `dir`: the piece (or manifest) at `at` is not to
    /// be asked of `dir` before `delay` has passed.
    pub fn on_retry(&mut self, dir: Dir, at: &Locator, delay: Duration, now: Instant) {
        let object = match at.object {
            Object::Piece => Some(at.piece),
            _ => None,
        };
        self.asked.retain(|k, a| !(a.dir == dir && k.0 == object));
        if let (Some(p), Some(s)) = (object, self.sources.get_mut(&dir)) {
            s.not_before.insert(p, now + delay);
        }
        self.recount();
    }

    /// Asks for as many chunks as the windows allow. `send` writes one
    /// REQUEST to a neighbour and returns false if the write was refused
    /// (`EAGAIN`); only written requests count as outstanding.
    pub fn poll_requests(&mut self, now: Instant, send: &mut dyn FnMut(Dir, &Message<'_>) -> bool) {
        let dirs: Vec<Dir> = self.sources.keys().copied().collect();
        for dir in dirs {
            while let Some((object, first, count)) = self.pick(dir, now) {
                let at = Locator {
                    id: self.id.short(),
                    object: if object.is_some() {
                        Object::Piece
                    } else {
                        Object::Manifest
                    },
                    piece: object.unwrap_or(0),
                    offset: first * CHUNK_LEN as u32,
                };
                if !send(dir, &Message::Request { at, count }) {
                    break;
                }
                let s = self.sources.get_mut(&dir).expect("picked from a source");
                let deadline = now + s.timeout;
                s.outstanding += u32::from(count);
                for k in first..first + u32::from(count) {
                    self.asked.insert((object, k), Asked { dir, deadline });
                }
                if let Some(p) = object {
                    let len = self.piece_len(p);
                    self.pieces.entry(p).or_insert_with(|| {
                        (Assembly::new(len).expect("piece size bounded"), Vec::new())
                    });
                }
            }
        }
    }

    fn piece_len(&self, p: u32) -> usize {
        self.manifest
            .as_ref()
            .map_or(0, |m| m.piece_len(p) as usize)
    }

    /// The next run of chunks to ask `dir` for: object, first chunk, count.
    fn pick(&self, dir: Dir, now: Instant) -> Option<(Option<u32>, u32, u8)> {
        let s = self.sources.get(&dir)?;
        let room = self.window.saturating_sub(s.outstanding);
        // While answers are on their way, wait for room for a fuller
        // request rather than asking for chunks one by one as they arrive.
        if room == 0 || (s.outstanding > 0 && room < self.min_request) {
            return None;
        }
        let max = room.min(u32::from(MAX_REQUEST_CHUNKS));
        let Some(m) = &self.manifest else {
            let asm = self.manifest_asm.as_ref()?;
            return self.run(None, asm, chunk_count(self.manifest_len), max);
        };
        let open =
            |p: &u32| s.holding.contains(*p) && s.not_before.get(p).is_none_or(|t| *t <= now);
        // Pieces already being assembled first, then new ones in order.
        for (p, (asm, _)) in &self.pieces {
            if open(p) {
                if let Some(r) = self.run(Some(*p), asm, chunk_count(asm.len()), max) {
                    return Some(r);
                }
            }
        }
        if self.pieces.len() >= MAX_PIECES_IN_FLIGHT {
            return None;
        }
        let p = self
            .verified
            .missing()
            .find(|p| !self.pieces.contains_key(p) && open(p))?;
        let n = chunk_count(m.piece_len(p) as usize);
        Some((Some(p), 0, n.min(max) as u8))
    }

    /// The first run of chunks of an object neither received nor asked.
    fn run(
        &self,
        object: Option<u32>,
        asm: &Assembly,
        chunks: u32,
        max: u32,
    ) -> Option<(Option<u32>, u32, u8)> {
        let free = |k: u32| !asm.has(k) && !self.asked.contains_key(&(object, k));
        let first = (0..chunks).find(|&k| free(k))?;
        let mut count = 1;
        while count < max && first + count < chunks && free(first + count) {
            count += 1;
        }
        Some((object, first, count as u8))
    }

    /// Handles DATA from `dir`.
    pub fn on_data(&mut self, dir: Dir, at: &Locator, data: &[u8]) -> Event {
        let object = match at.object {
            Object::Piece => Some(at.piece),
            Object::Manifest => None,
            Object::Unknown(_) => return Event::Unexpected,
        };
        let key = (object, at.chunk());
        if self.asked.get(&key).is_some_and(|a| a.dir == dir) {
            self.asked.remove(&key);
        }
        if let Some(s) = self.sources.get_mut(&dir) {
            s.timeout = INITIAL_TIMEOUT;
        }
        self.recount();
        match object {
            None => {
                let Some(asm) = self.manifest_asm.as_mut() else {
                    // After the manifest: its own chunk again is a
                    // duplicate, anything else unexpected.
                    let start = at.offset as usize;
                    let again = self.manifest.as_ref().is_some_and(|m| {
                        m.bytes().get(start..start.saturating_add(data.len())) == Some(data)
                    });
                    return if again {
                        Event::Duplicate
                    } else {
                        Event::Unexpected
                    };
                };
                match asm.insert(at.offset, data) {
                    Ok(true) => {}
                    Ok(false) => return Event::Duplicate,
                    Err(_) => return Event::Unexpected,
                }
                if !self.manifest_senders.contains(&dir) {
                    self.manifest_senders.push(dir);
                }
                if asm.is_complete() {
                    let bytes = asm.bytes().to_vec();
                    self.manifest_asm = None;
                    return Event::ManifestReady(bytes);
                }
                Event::None
            }
            Some(p) => self.piece_data(dir, p, at.offset, data),
        }
    }

    fn piece_data(&mut self, dir: Dir, p: u32, offset: u32, data: &[u8]) -> Event {
        if self.verified.contains(p) {
            return Event::Duplicate;
        }
        let Some((asm, senders)) = self.pieces.get_mut(&p) else {
            return Event::Unexpected;
        };
        match asm.insert(offset, data) {
            Ok(true) => {}
            Ok(false) => return Event::Duplicate,
            Err(_) => return Event::Unexpected,
        }
        if !senders.contains(&dir) {
            senders.push(dir);
        }
        if !asm.is_complete() {
            return Event::None;
        }
        let (asm, senders) = self.pieces.remove(&p).expect("present above");
        let good = self
            .manifest
            .as_ref()
            .is_some_and(|m| m.check_piece(p, asm.bytes()));
        if good {
            self.verified.insert(p);
            return Event::PieceReady(p, asm.bytes().to_vec());
        }
        for d in senders {
            let out = self.sources.get_mut(&d).is_some_and(|s| {
                s.strikes += 1;
                s.strikes >= MAX_STRIKES
            });
            if out {
                self.remove_source(d);
            }
        }
        Event::BadPiece(p)
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
