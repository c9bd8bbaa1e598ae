//! The on-disk store of one tile, under one root directory:
//!
//! ```text
//! live/NAME          complete, verified files: the only thing users read
//! manifests/NAME     the signed manifest of live/NAME
//! tombstones/NAME    the highest signed tombstone seen for NAME
//! hooks/NAME         which installed version's hook last ran (hooks.rs)
//! staging/<id>/      a file being fetched (see staging.rs)
//! ```
//!
//! Guarantees:
//!
//! - Nothing partial or unverified is ever in `live/`. A piece is checked
//!   against its manifest hash before it is written to staging; a file goes
//!   live only when every piece is there, by [`Store::install`]: sync the
//!   data, rename it over `live/NAME` (one atomic step: readers see the old
//!   file or the new), sync `live/`, rename the staged manifest over
//!   `manifests/NAME`, sync, then remove the staging directory, which until
//!   then records the install so that a crash part way is finished on the
//!   next open. Renames need no new space, so a full disk cannot stop an
//!   install half way.
//! - A restart, also after `kill -9` or power loss, resumes where it
//!   stopped ([`Store::open`]): leftover temporaries are removed, an install
//!   cut short is finished, staged files resume with every piece already
//!   verified, a `manifests/NAME` without its file (or of the wrong length)
//!   is dropped, and a file in `live/` without a manifest is removed, since
//!   nothing vouches for it. What it did is returned as [`Recovered`] notes.
//! - A full disk is [`StoreError::DiskFull`]; `live/` is untouched and the
//!   same call succeeds once there is room. A fetch reserves its whole
//!   length when it starts, so it does not fill the disk half way.
//! - Memory: the manifests, one bitmap per fetch, and one piece at a time.
//!
//! The store does not check signatures (it keeps only records that the
//! caller verified) and does not decide precedence: [`Store::versions`]
//! hands what it holds to a [`Versions`] for that.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::disk::{self, err, StoreError};
use crate::hex;
use crate::hooks::{HookLog, HOOKS};
use crate::id::{RecordId, ShortId};
use crate::live::{LiveSet, LIVE, MANIFESTS};
use crate::manifest::Manifest;
use crate::name::Name;
use crate::recovered::{list, name_of, Recovered};
use crate::staging::{self, Opened, Staged};
use crate::tombstone::Tombstone;
use crate::version::Versions;
use crate::wire::{Announce, Have, Locator, Object, CHUNK_LEN, MAX_BITMAP};

/// Directory of tombstones.
pub const TOMBSTONES: &str = "tombstones";
/// Directory of files being fetched.
pub const STAGING: &str = "staging";

/// Why a chunk cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Nothing in the store has this id.
    #[error("no manifest {0} in the store")]
    Unknown(ShortId),
    /// The locator points past the manifest or the file.
    #[error("chunk is outside the manifest or file")]
    OutOfRange,
    /// The piece is not verified yet (it may be soon).
    #[error("piece {0} is not here yet")]
    NotYet(u32),
    /// Reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a tombstone did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The tombstone was newer than the one held, and is now kept.
    pub recorded: bool,
    /// The live file it covers was removed.
    pub removed_live: bool,
    /// Fetches it covers, abandoned.
    pub abandoned: Vec<RecordId>,
}

/// What writing a piece did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The piece was new.
    pub new: bool,
    /// Every piece is now verified: the file can be installed.
    pub complete: bool,
}

/// The store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    live: LiveSet,
    fetches: BTreeMap<RecordId, Staged>,
    tombstones: BTreeMap<Name, Tombstone>,
    short: HashMap<ShortId, RecordId>,
    hooks: HookLog,
}

impl Store {
    /// Opens (creating if needed) the store at `root` and recovers it.
    pub fn open(root: &Path) -> Result<(Store, Vec<Recovered>), StoreError> {
        for d in [LIVE, MANIFESTS, TOMBSTONES, HOOKS, STAGING] {
            disk::ensure_dir(&root.join(d))?;
        }
        let mut store = Store {
            root: root.to_owned(),
            live: LiveSet::new(root),
            fetches: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            short: HashMap::new(),
            hooks: HookLog::new(&root.join(HOOKS)),
        };
        let mut notes = Vec::new();
        store.load_tombstones(&mut notes)?;
        store.finish_installs(&mut notes)?;
        let tombstones = &store.tombstones;
        store.live.load(
            |name, version| tombstones.get(name).is_some_and(|t| t.version() >= version),
            &mut notes,
        )?;
        let ids: Vec<RecordId> = store.live.iter().map(Manifest::id).collect();
        for id in ids {
            store.short.insert(id.short(), id);
        }
        store.load_staging(&mut notes)?;
        list(&root.join(HOOKS), &mut notes)?;
        Ok((store, notes))
    }

    fn dir(&self, d: &str) -> PathBuf {
        self.root.join(d)
    }

    fn load_tombstones(&mut self, notes: &mut Vec<Recovered>) -> Result<(), StoreError> {
        for entry in list(&self.dir(TOMBSTONES), notes)? {
            let path = entry.path();
            let parsed = std::fs::read(&path)
                .ok()
                .and_then(|b| Tombstone::parse(&b).ok())
                .filter(|t| Some(t.name()) == name_of(&entry).as_ref());
            match parsed {
                Some(t) => {
                    self.tombstones.insert(t.name().clone(), t);
                }
                None => {
                    disk::remove_file(&path)?;
                    notes.push(Recovered::Removed(path, "not a tombstone for its name"));
                }
            }
        }
        Ok(())
    }

    /// Finishes installs cut short: a staging directory whose data is gone
    /// was renamed into `live/`; its manifest, if still there, goes to
    /// `manifests/` now. Runs before the live files are checked against
    /// their manifests.
    fn finish_installs(&mut self, notes: &mut Vec<Recovered>) -> Result<(), StoreError> {
        let staging_dir = self.dir(STAGING);
        for entry in list(&staging_dir, notes)? {
            let path = entry.path();
            let is_new = entry
                .file_name()
                .to_str()
                .is_none_or(|n| n.ends_with(staging::NEW_SUFFIX));
            if is_new || path.join(staging::DATA).exists() {
                continue;
            }
            let mut finished = false;
            if let Ok(Opened::Installed(m)) = Staged::open(&path) {
                let whole = std::fs::metadata(self.live.path(m.name()))
                    .is_ok_and(|md| md.len() == m.length());
                if whole && !self.covered(m.name(), m.version()) {
                    self.live
                        .commit_manifest(m.name(), &path.join(staging::MANIFEST))?;
                    notes.push(Recovered::Installed(m.name().clone(), m.version()));
                    finished = true;
                }
            }
            disk::remove_dir(&path)?;
            if !finished {
                let why = "an unfinished or unreadable staging directory";
                notes.push(Recovered::Removed(path, why));
            }
        }
        disk::sync_dir(&staging_dir)
    }

    fn load_staging(&mut self, notes: &mut Vec<Recovered>) -> Result<(), StoreError> {
        let staging_dir = self.dir(STAGING);
        for entry in list(&staging_dir, notes)? {
            let path = entry.path();
            let file_name = entry.file_name();
            let opened = match file_name.to_str() {
                Some(n) if !n.ends_with(staging::NEW_SUFFIX) => Staged::open(&path).ok(),
                _ => None,
            };
            let s = match opened {
                Some(Opened::Staged(s))
                    if file_name.to_str() == Some(&staging::dir_name(s.manifest().id())) =>
                {
                    s
                }
                _ => {
                    disk::remove_dir(&path)?;
                    let why = "an unfinished or unreadable staging directory";
                    notes.push(Recovered::Removed(path, why));
                    continue;
                }
            };
            let m = s.manifest().clone();
            if self.beaten(&m) {
                disk::remove_dir(&path)?;
                let why = "a newer version or a deletion covers it";
                notes.push(Recovered::Removed(path, why));
                continue;
            }
            let id = m.id();
            let (have, count) = (s.pieces().count(), s.pieces().len());
            self.short.insert(id.short(), id);
            self.fetches.insert(id, s);
            if have == count {
                self.install(id)?;
                notes.push(Recovered::Installed(m.name().clone(), m.version()));
            } else {
                notes.push(Recovered::Resumed {
                    name: m.name().clone(),
                    version: m.version(),
                    have,
                    count,
                });
            }
        }
        disk::sync_dir(&staging_dir)
    }

    /// Whether a tombstone held covers `version` of `name`.
    fn covered(&self, name: &Name, version: u64) -> bool {
        self.tombstones
            .get(name)
            .is_some_and(|t| t.version() >= version)
    }

    /// Whether a tombstone or what is live makes `m` pointless to install.
    fn beaten(&self, m: &Manifest) -> bool {
        self.covered(m.name(), m.version())
            || self
                .live
                .get(m.name())
                .is_some_and(|i| i.stamp() >= m.stamp())
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The record of hook runs.
    pub fn hooks(&self) -> &HookLog {
        &self.hooks
    }

    /// Where the live copy of `name` is.
    pub fn live_path(&self, name: &Name) -> PathBuf {
        self.live.path(name)
    }

    /// The manifest of the live file `name`.
    pub fn installed(&self, name: &Name) -> Option<&Manifest> {
        self.live.get(name)
    }

    /// The manifests of every live file, by name.
    pub fn installed_all(&self) -> impl Iterator<Item = &Manifest> {
        self.live.iter()
    }

    /// The tombstone held for `name`.
    pub fn tombstone(&self, name: &Name) -> Option<&Tombstone> {
        self.tombstones.get(name)
    }

    /// Every tombstone held.
    pub fn tombstones(&self) -> impl Iterator<Item = &Tombstone> {
        self.tombstones.values()
    }

    /// The file being fetched under manifest `id`.
    pub fn fetch(&self, id: RecordId) -> Option<&Staged> {
        self.fetches.get(&id)
    }

    /// Every file being fetched.
    pub fn fetches(&self) -> impl Iterator<Item = &Staged> {
        self.fetches.values()
    }

    /// The full id for a short id from the wire.
    pub fn resolve(&self, short: ShortId) -> Option<RecordId> {
        self.short.get(&short).copied()
    }

    /// Everything the store holds, as precedence records: live files
    /// (marked installed), fetches and tombstones.
    pub fn versions(&self) -> Versions {
        let mut v = Versions::new();
        for m in self.installed_all() {
            v.publish(m.name(), m.stamp());
            v.mark_installed(m.name(), m.stamp());
        }
        for s in self.fetches() {
            v.publish(s.manifest().name(), s.manifest().stamp());
        }
        for t in self.tombstones() {
            v.tombstone(t.name(), t.stamp());
        }
        v
    }

    /// Starts fetching the file `manifest` (already verified) describes,
    /// reserving its length; fetches of lower versions of the same name are
    /// abandoned and returned. Starting one that exists does nothing.
    pub fn begin_fetch(&mut self, manifest: Manifest) -> Result<Vec<RecordId>, StoreError> {
        let id = manifest.id();
        if self.fetches.contains_key(&id) {
            return Ok(Vec::new());
        }
        if self.covered(manifest.name(), manifest.version()) {
            return Err(StoreError::Deleted {
                name: manifest.name().to_string(),
                version: manifest.version(),
            });
        }
        let stamp = manifest.stamp();
        let name = manifest.name().clone();
        let staged = Staged::create(&self.dir(STAGING), manifest)?;
        self.short.insert(id.short(), id);
        self.fetches.insert(id, staged);
        let older: Vec<RecordId> = self
            .fetches
            .values()
            .filter(|s| s.manifest().name() == &name && s.manifest().stamp() < stamp)
            .map(|s| s.manifest().id())
            .collect();
        for o in &older {
            self.abandon(*o)?;
        }
        Ok(older)
    }

    fn staged_mut(&mut self, id: RecordId) -> Result<&mut Staged, StoreError> {
        self.fetches
            .get_mut(&id)
            .ok_or_else(|| StoreError::NoSuchFetch(hex::encode(&id.0)))
    }

    /// Verifies piece `index` of fetch `id` and writes it to staging.
    pub fn write_piece(
        &mut self,
        id: RecordId,
        index: u32,
        data: &[u8],
    ) -> Result<Written, StoreError> {
        let s = self.staged_mut(id)?;
        let new = s.write_piece(index, data)?;
        Ok(Written {
            new,
            complete: s.pieces().is_complete(),
        })
    }

    /// Makes the complete fetch `id` the live file, atomically (see the
    /// module doc). Returns false, dropping the fetch, if what is live is
    /// already as new or a tombstone covers it.
    pub fn install(&mut self, id: RecordId) -> Result<bool, StoreError> {
        let s = self.staged_mut(id)?;
        let (have, count) = (s.pieces().count(), s.pieces().len());
        let m = s.manifest().clone();
        if have != count {
            return Err(StoreError::Incomplete {
                name: m.name().to_string(),
                have,
                count,
            });
        }
        if self.beaten(&m) {
            self.abandon(id)?;
            return Ok(false);
        }
        let s = self.staged_mut(id)?;
        s.sync()?;
        let data = s.data_path();
        let dir = s.dir().to_owned();
        // The staging directory outlives both renames, so open() finishes
        // a crash part way; a call that failed part way can be repeated.
        if let Some(old) = self.live.commit(m, &data, &dir.join(staging::MANIFEST))? {
            if old.id() != id {
                self.short.remove(&old.id().short());
            }
        }
        self.fetches.remove(&id);
        disk::remove_dir(&dir)?;
        disk::sync_dir(&self.dir(STAGING))?;
        Ok(true)
    }

    /// Drops fetch `id` and its staging directory.
    pub fn abandon(&mut self, id: RecordId) -> Result<(), StoreError> {
        if let Some(s) = self.fetches.remove(&id) {
            if self.live.find(id).is_none() {
                self.short.remove(&id.short());
            }
            disk::remove_dir(s.dir())?;
            disk::sync_dir(&self.dir(STAGING))?;
        }
        Ok(())
    }

    /// Applies a verified tombstone: keeps it if it is the highest for its
    /// name, removes the live file and fetches it covers.
    pub fn delete(&mut self, t: &Tombstone) -> Result<Deleted, StoreError> {
        let mut out = Deleted::default();
        let newer = self
            .tombstones
            .get(t.name())
            .is_none_or(|held| t.stamp() > held.stamp());
        if newer {
            disk::write_atomic(&self.dir(TOMBSTONES), t.name().as_str(), t.bytes())?;
            self.tombstones.insert(t.name().clone(), t.clone());
            out.recorded = true;
        }
        if self
            .installed(t.name())
            .is_some_and(|m| m.version() <= t.version())
        {
            if let Some(old) = self.live.remove(t.name())? {
                self.short.remove(&old.id().short());
            }
            out.removed_live = true;
        }
        out.abandoned = self
            .fetches
            .values()
            .filter(|s| s.manifest().name() == t.name() && s.manifest().version() <= t.version())
            .map(|s| s.manifest().id())
            .collect();
        for id in &out.abandoned {
            self.abandon(*id)?;
        }
        Ok(out)
    }

    /// Publishes a local file under `manifest` (built from it and signed):
    /// stages it piece by piece, each checked against the manifest, and
    /// installs it. Fails with [`StoreError::BadPiece`] if the file changed.
    pub fn import(&mut self, manifest: Manifest, path: &Path) -> Result<bool, StoreError> {
        let id = manifest.id();
        let mut file = File::open(path).map_err(err("open", path))?;
        let mut buf = vec![0u8; manifest.piece_size() as usize];
        let lens: Vec<usize> = (0..manifest.piece_count())
            .map(|i| manifest.piece_len(i) as usize)
            .collect();
        self.begin_fetch(manifest)?;
        let staged = (|| {
            for (i, len) in lens.iter().enumerate() {
                file.read_exact(&mut buf[..*len])
                    .map_err(err("read", path))?;
                self.write_piece(id, i as u32, &buf[..*len])?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            let _ = self.abandon(id);
            return Err(e);
        }
        self.install(id)
    }

    /// Syncs every fetch's data and piece record.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.fetches.values_mut().try_for_each(Staged::sync)
    }

    /// What to announce for `name`: the highest version held, complete if
    /// live, else the pieces of the fetch (announced even with none, since
    /// its manifest can be served).
    pub fn announce<'b>(&self, name: &Name, buf: &'b mut [u8; MAX_BITMAP]) -> Option<Announce<'b>> {
        let live = self.installed(name);
        let fetch = self
            .fetches()
            .filter(|s| s.manifest().name() == name)
            .max_by_key(|s| s.manifest().stamp())
            .filter(|s| live.is_none_or(|l| s.manifest().stamp() > l.stamp()));
        let (m, have) = match (fetch, live) {
            (Some(s), _) => (s.manifest(), s.pieces().have(buf)),
            (None, Some(m)) => (m, Have::Complete),
            (None, None) => return None,
        };
        Some(Announce {
            name: name.clone(),
            version: m.version(),
            manifest_id: m.id(),
            // At most MAX_MANIFEST_LEN, which fits in a u32.
            manifest_len: m.bytes().len() as u32,
            have,
        })
    }

    /// Every name with a live file or a fetch.
    pub fn names(&self) -> Vec<Name> {
        let mut names: Vec<Name> = self.live.names().cloned().collect();
        names.extend(self.fetches().map(|s| s.manifest().name().clone()));
        names.sort();
        names.dedup();
        names
    }

    /// The manifest with short id `short`, being fetched or live.
    pub fn manifest(&self, short: ShortId) -> Option<&Manifest> {
        let id = self.resolve(short)?;
        match self.fetches.get(&id) {
            Some(s) => Some(s.manifest()),
            None => self.live.find(id),
        }
    }

    /// Copies the chunk at `at` into `buf` (at least [`CHUNK_LEN`] bytes)
    /// and returns its length: from the manifest, a live file or a staged
    /// piece that is verified.
    pub fn read_chunk(&self, at: &Locator, buf: &mut [u8]) -> Result<usize, ServeError> {
        let id = self.resolve(at.id).ok_or(ServeError::Unknown(at.id))?;
        let staged = self.fetches.get(&id);
        let manifest = match staged {
            Some(s) => s.manifest(),
            None => self.live.find(id).ok_or(ServeError::Unknown(at.id))?,
        };
        let offset = at.offset as usize;
        match at.object {
            Object::Manifest => {
                let bytes = manifest.bytes();
                if offset >= bytes.len() || at.piece != 0 {
                    return Err(ServeError::OutOfRange);
                }
                let n = (bytes.len() - offset).min(CHUNK_LEN).min(buf.len());
                buf[..n].copy_from_slice(&bytes[offset..offset + n]);
                Ok(n)
            }
            Object::Piece => {
                let piece_len = manifest.piece_len(at.piece) as usize;
                if offset >= piece_len {
                    return Err(ServeError::OutOfRange);
                }
                let n = (piece_len - offset).min(CHUNK_LEN).min(buf.len());
                let pos = manifest.piece_offset(at.piece) + offset as u64;
                match staged {
                    Some(s) if !s.pieces().contains(at.piece) => {
                        return Err(ServeError::NotYet(at.piece))
                    }
                    Some(s) => s.read_at(&mut buf[..n], pos)?,
                    None => self.live.read_at(manifest.name(), &mut buf[..n], pos)?,
                }
                Ok(n)
            }
            Object::Unknown(_) => Err(ServeError::OutOfRange),
        }
    }
}
