//! The files this tile is fetching: one [`Fetch`] per manifest id, each a
//! library [`Transfer`] with what the daemon adds around it (the name and
//! version it was announced as, progress, a manifest waiting for disk
//! space, a pause after a full disk), found by full or short id.
//!
//! Memory is bounded: a fetch whose manifest is not verified yet (anyone
//! can announce one) counts against [`MAX_PENDING`], and at most one such
//! fetch per name is kept, the newest announced; fetches with a verified
//! manifest are as many as trusted signers published. Each transfer bounds
//! its own buffers (one manifest, a few pieces).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use itc_files::wire::MAX_REQUEST_CHUNKS;
use itc_files::{Manifest, Name, RecordId, ShortId, Stamp, Transfer};
use itc_service::Dir;

use crate::rate::Rate;

/// Chunks outstanding per neighbour: four requests. Two (the library's
/// default) left a 2.5 Mbit/s link of a tile-sim grid idle 40% of the time
/// waiting for the next request; four keep it busy.
pub const WINDOW: u32 = 4 * MAX_REQUEST_CHUNKS as u32;

/// Fetches whose manifest is not verified yet, at most.
pub const MAX_PENDING: usize = 8;
/// Of those, at most this many started by one neighbour's announces, so
/// that one neighbour cannot take every place.
pub const MAX_PENDING_PER_NEIGHBOUR: usize = 3;
/// A fetch whose manifest makes no progress for this long is dropped (it
/// is announced again if it is real).
pub const PENDING_STALL: Duration = Duration::from_secs(30);

/// One file being fetched.
#[derive(Debug)]
pub struct Fetch {
    /// The name (as announced until the manifest is verified).
    pub name: Name,
    /// Version and manifest id.
    pub stamp: Stamp,
    /// The library's receiving side.
    pub transfer: Transfer,
    /// A verified manifest not staged yet because the disk was full.
    pub waiting: Option<Manifest>,
    /// What stops it now, for the status.
    pub error: Option<String>,
    /// Pieces received and verified since the daemon started.
    pub fetched: u32,
    /// No requests before this (after a full disk).
    pub paused_until: Option<Instant>,
    /// Bytes received over time.
    pub rate: Rate,
    /// Bytes received since the daemon started.
    pub bytes: u64,
    /// The neighbour whose announce started it (none after a restart).
    pub origin: Option<Dir>,
    /// When data last arrived for it (or it began).
    pub progress_at: Instant,
}

impl Fetch {
    /// A fetch of the manifest `stamp.id` announced for `name` by `origin`.
    pub fn announced(name: Name, stamp: Stamp, manifest_len: usize, origin: Dir) -> Fetch {
        let mut f = Fetch::with(name, stamp, Transfer::new(stamp.id, manifest_len));
        f.origin = Some(origin);
        f
    }

    /// A fetch of a manifest already verified and staged (after a restart).
    pub fn resumed(transfer: Transfer) -> Fetch {
        let m = transfer
            .manifest()
            .expect("a resumed transfer has its manifest");
        Fetch::with(m.name().clone(), m.stamp(), transfer)
    }

    fn with(name: Name, stamp: Stamp, mut transfer: Transfer) -> Fetch {
        transfer.set_window(WINDOW);
        transfer.set_min_request(MAX_REQUEST_CHUNKS);
        Fetch {
            name,
            stamp,
            transfer,
            waiting: None,
            error: None,
            fetched: 0,
            paused_until: None,
            rate: Rate::new(),
            bytes: 0,
            origin: None,
            progress_at: Instant::now(),
        }
    }

    /// Whether its manifest is verified and staged.
    pub fn is_staged(&self) -> bool {
        self.transfer.manifest().is_some()
    }

    /// Whether it counts against [`MAX_PENDING`]: its manifest is still
    /// being fetched.
    pub fn is_pending(&self) -> bool {
        !self.is_staged() && self.waiting.is_none()
    }

    /// Whether it may send requests at `now`.
    pub fn is_active(&self, now: Instant) -> bool {
        self.waiting.is_none() && self.paused_until.is_none_or(|t| t <= now)
    }

    /// Notes a verified piece of `len` bytes.
    pub fn count_piece(&mut self, now: Instant, len: u64) {
        self.fetched += 1;
        self.bytes += len;
        self.rate.record(now, self.bytes);
    }
}

/// Every fetch, by id.
#[derive(Debug, Default)]
pub struct Fetches {
    by_id: BTreeMap<RecordId, Fetch>,
    short: HashMap<ShortId, RecordId>,
}

impl Fetches {
    /// None.
    pub fn new() -> Fetches {
        Fetches::default()
    }

    /// Adds `f`, replacing one with the same id.
    pub fn insert(&mut self, f: Fetch) {
        let id = f.stamp.id;
        self.short.insert(id.short(), id);
        self.by_id.insert(id, f);
    }

    /// Removes fetch `id`.
    pub fn remove(&mut self, id: RecordId) -> Option<Fetch> {
        let f = self.by_id.remove(&id)?;
        if self.short.get(&id.short()) == Some(&id) {
            self.short.remove(&id.short());
        }
        Some(f)
    }

    /// Fetch `id`, to change.
    pub fn get_mut(&mut self, id: RecordId) -> Option<&mut Fetch> {
        self.by_id.get_mut(&id)
    }

    /// The full id of the fetch with short id `short`.
    pub fn resolve(&self, short: ShortId) -> Option<RecordId> {
        self.short.get(&short).copied()
    }

    /// Every fetch.
    pub fn iter(&self) -> impl Iterator<Item = &Fetch> {
        self.by_id.values()
    }

    /// Every fetch, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Fetch> {
        self.by_id.values_mut()
    }

    /// How many fetches wait for their manifest.
    pub fn pending_count(&self) -> usize {
        self.iter().filter(|f| f.is_pending()).count()
    }

    /// How many fetches started by `dir`'s announces wait for their
    /// manifest.
    pub fn pending_from(&self, dir: Dir) -> usize {
        self.iter()
            .filter(|f| f.is_pending() && f.origin == Some(dir))
            .count()
    }

    /// The ids of the fetches for which `drop` holds.
    pub fn ids_where(&self, mut drop: impl FnMut(&Fetch) -> bool) -> Vec<RecordId> {
        self.iter()
            .filter(|f| drop(f))
            .map(|f| f.stamp.id)
            .collect()
    }

    /// The newest pending fetch of `name`.
    pub fn pending_for(&self, name: &Name) -> Option<&Fetch> {
        self.iter()
            .filter(|f| f.is_pending() && &f.name == name)
            .max_by_key(|f| f.stamp)
    }

    /// Forgets neighbour `dir` as a source of every fetch; returns the
    /// pending fetches left without any source (nobody will send their
    /// manifest), which the caller drops.
    pub fn remove_source(&mut self, dir: Dir) -> Vec<RecordId> {
        for f in self.iter_mut() {
            f.transfer.remove_source(dir);
        }
        self.ids_where(|f| f.is_pending() && f.transfer.source_count() == 0)
    }

    /// The fetch of the newest version of `name`.
    pub fn newest_for(&self, name: &Name) -> Option<&Fetch> {
        self.iter()
            .filter(|f| &f.name == name)
            .max_by_key(|f| f.stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_files::wire::Have;

    fn stamp(v: u64, seed: &[u8]) -> Stamp {
        Stamp::new(v, RecordId::of(seed))
    }

    #[test]
    fn fetches_are_found_by_short_id_and_pending_ones_counted() {
        let mut fs = Fetches::new();
        let name = Name::new("a").unwrap();
        let s1 = stamp(1, b"one");
        let s2 = stamp(2, b"two");
        fs.insert(Fetch::announced(name.clone(), s1, 200, Dir::ET));
        fs.insert(Fetch::announced(name.clone(), s2, 200, Dir::WT));
        assert_eq!(fs.resolve(s2.id.short()), Some(s2.id));
        assert_eq!(fs.pending_count(), 2);
        assert_eq!(fs.pending_from(Dir::ET), 1);
        assert_eq!(fs.pending_for(&name).unwrap().stamp, s2);
        fs.remove(s2.id);
        assert_eq!(fs.resolve(s2.id.short()), None);
        assert_eq!(fs.pending_count(), 1);
    }

    #[test]
    fn a_pending_fetch_without_sources_is_reported() {
        let mut fs = Fetches::new();
        let s = stamp(1, b"x");
        let mut f = Fetch::announced(Name::new("a").unwrap(), s, 200, Dir::ET);
        f.transfer.add_source(Dir::ET, &Have::Complete);
        f.transfer.add_source(Dir::WT, &Have::Complete);
        fs.insert(f);
        assert!(fs.remove_source(Dir::ET).is_empty());
        assert_eq!(fs.remove_source(Dir::WT), vec![s.id]);
    }
}
