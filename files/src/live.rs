//! The live files of a store: `live/NAME`, complete and verified, each
//! with its signed manifest in `manifests/NAME`, and an open handle to
//! serve chunks from.
//!
//! [`LiveSet::load`] keeps only pairs that agree: a manifest that parses,
//! is named after its name, is not covered by a tombstone, and whose live
//! file exists with the manifest's length. Anything else in either
//! directory is removed, since nothing vouches for it. [`LiveSet::commit`]
//! moves a staged file and its manifest in, by rename (no new space
//! needed), each step skipped if an earlier attempt did it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::disk::{self, err, StoreError};
use crate::id::RecordId;
use crate::manifest::Manifest;
use crate::name::Name;
use crate::recovered::{list, name_of, Recovered};

/// Directory of complete files.
pub const LIVE: &str = "live";
/// Directory of the live files' manifests.
pub const MANIFESTS: &str = "manifests";

/// A live file: its manifest and an open handle for serving.
#[derive(Debug)]
struct LiveFile {
    manifest: Manifest,
    file: File,
}

/// The live files.
#[derive(Debug)]
pub struct LiveSet {
    live_dir: PathBuf,
    manifest_dir: PathBuf,
    files: BTreeMap<Name, LiveFile>,
}

impl LiveSet {
    /// The live set of the store at `root`, not loaded yet.
    pub fn new(root: &Path) -> LiveSet {
        LiveSet {
            live_dir: root.join(LIVE),
            manifest_dir: root.join(MANIFESTS),
            files: BTreeMap::new(),
        }
    }

    /// Loads the pairs that agree; `covered` says whether a tombstone
    /// deletes a version of a name.
    pub fn load(
        &mut self,
        covered: impl Fn(&Name, u64) -> bool,
        notes: &mut Vec<Recovered>,
    ) -> Result<(), StoreError> {
        for entry in list(&self.manifest_dir, notes)? {
            let path = entry.path();
            let manifest = fs::read(&path)
                .ok()
                .and_then(|b| Manifest::parse(&b).ok())
                .filter(|m| Some(m.name()) == name_of(&entry).as_ref());
            let Some(m) = manifest else {
                disk::remove_file(&path)?;
                notes.push(Recovered::Removed(path, "not a manifest for its name"));
                continue;
            };
            let live_path = self.path(m.name());
            let file = File::open(&live_path).ok().filter(|f| {
                f.metadata()
                    .is_ok_and(|md| md.is_file() && md.len() == m.length())
            });
            match file {
                Some(file) if !covered(m.name(), m.version()) => {
                    self.files
                        .insert(m.name().clone(), LiveFile { manifest: m, file });
                }
                _ => {
                    disk::remove_file(&live_path)?;
                    disk::remove_file(&path)?;
                    notes.push(Recovered::Removed(
                        path,
                        "its live file is missing, of the wrong length, or deleted",
                    ));
                }
            }
        }
        for entry in list(&self.live_dir, notes)? {
            let known = name_of(&entry).is_some_and(|n| self.files.contains_key(&n));
            if !known {
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    disk::remove_dir(&path)?;
                } else {
                    disk::remove_file(&path)?;
                }
                notes.push(Recovered::Removed(path, "no manifest vouches for it"));
            }
        }
        disk::sync_dir(&self.live_dir)?;
        disk::sync_dir(&self.manifest_dir)
    }

    /// Where the live copy of `name` is.
    pub fn path(&self, name: &Name) -> PathBuf {
        self.live_dir.join(name)
    }

    /// The manifest of live file `name`.
    pub fn get(&self, name: &Name) -> Option<&Manifest> {
        self.files.get(name).map(|l| &l.manifest)
    }

    /// Every live file's manifest, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Manifest> {
        self.files.values().map(|l| &l.manifest)
    }

    /// Every live file's name.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.files.keys()
    }

    /// The live file whose manifest has id `id`.
    pub fn find(&self, id: RecordId) -> Option<&Manifest> {
        self.iter().find(|m| m.id() == id)
    }

    /// Reads bytes of live file `name` at `pos`.
    pub fn read_at(&self, name: &Name, buf: &mut [u8], pos: u64) -> Result<(), StoreError> {
        let Some(l) = self.files.get(name) else {
            return Err(StoreError::NoSuchFetch(name.to_string()));
        };
        l.file
            .read_exact_at(buf, pos)
            .map_err(err("read", &self.path(name)))
    }

    /// Moves `data` (the complete, synced file) over `live/NAME`, then
    /// `manifest_file` over `manifests/NAME`, syncing each directory; a step
    /// whose source is gone was done by an earlier attempt. Returns the
    /// manifest of the file it replaced.
    pub fn commit(
        &mut self,
        m: Manifest,
        data: &Path,
        manifest_file: &Path,
    ) -> Result<Option<Manifest>, StoreError> {
        let live_path = self.path(m.name());
        if data.exists() {
            fs::rename(data, &live_path).map_err(err("rename into place", &live_path))?;
            disk::sync_dir(&self.live_dir)?;
        }
        self.commit_manifest(m.name(), manifest_file)?;
        let file = File::open(&live_path).map_err(err("open", &live_path))?;
        let old = self
            .files
            .insert(m.name().clone(), LiveFile { manifest: m, file });
        Ok(old.map(|l| l.manifest))
    }

    /// Moves `manifest_file` over `manifests/NAME` if it is still there.
    pub fn commit_manifest(&self, name: &Name, manifest_file: &Path) -> Result<(), StoreError> {
        if manifest_file.exists() {
            let to = self.manifest_dir.join(name);
            fs::rename(manifest_file, &to).map_err(err("rename into place", &to))?;
            disk::sync_dir(&self.manifest_dir)?;
        }
        Ok(())
    }

    /// Removes live file `name` and then its manifest.
    pub fn remove(&mut self, name: &Name) -> Result<Option<Manifest>, StoreError> {
        disk::remove_file(&self.path(name))?;
        disk::sync_dir(&self.live_dir)?;
        disk::remove_file(&self.manifest_dir.join(name))?;
        disk::sync_dir(&self.manifest_dir)?;
        Ok(self.files.remove(name).map(|l| l.manifest))
    }
}
