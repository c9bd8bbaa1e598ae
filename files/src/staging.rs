//! One file being fetched: the directory `staging/<id>/`, `<id>` the
//! manifest's record id in hex, holding
//!
//! - `manifest`: the verified signed manifest, written before the directory
//!   gets its final name (it is built as `<id>.new` and renamed), so a
//!   staging directory always has a whole manifest;
//! - `data`: the file's bytes at their offsets, allocated to full length at
//!   the start so a transfer that cannot fit fails before it begins;
//! - `pieces`: the bitmap of verified pieces (see pieces.rs).
//!
//! A piece is checked against its hash before it is written. Its bit is
//! set on disk only after the data is synced ([`Staged::sync`], every
//! [`SYNC_EVERY`] pieces and when the file completes), so a set bit always
//! means the bytes are on disk. Bits lost to a crash are recovered on
//! [`Staged::open`], which hashes each piece whose bit is clear and keeps
//! those that match. Memory is one bitmap; pieces are never all in memory.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::disk::{self, err, StoreError};
use crate::hex;
use crate::id::RecordId;
use crate::manifest::Manifest;
use crate::pieces::PieceSet;

/// How many pieces are written between syncs of the data and the bitmap.
pub const SYNC_EVERY: u32 = 16;
/// The manifest file in a staging directory.
pub const MANIFEST: &str = "manifest";
/// The data file in a staging directory.
pub const DATA: &str = "data";
/// The piece bitmap file in a staging directory.
pub const PIECES: &str = "pieces";
/// Suffix of a staging directory still being created.
pub const NEW_SUFFIX: &str = ".new";

/// The staging directory name for a manifest id.
pub fn dir_name(id: RecordId) -> String {
    hex::encode(&id.0)
}

/// A partial (or complete, not yet installed) file in `staging/`.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    manifest: Manifest,
    data: File,
    pieces_file: File,
    pieces: PieceSet,
    unsynced: u32,
}

/// What [`Staged::open`] found.
#[derive(Debug)]
pub enum Opened {
    /// A staged file, with the pieces verified so far.
    Staged(Staged),
    /// The data is gone: it was renamed into `live/` by an install that was
    /// cut short. The manifest is what was being installed.
    Installed(Manifest),
}

impl Staged {
    /// Creates `staging_root/<id>/` for `manifest`, reserving the file's
    /// length. On failure nothing is left behind.
    pub fn create(staging_root: &Path, manifest: Manifest) -> Result<Staged, StoreError> {
        let name = dir_name(manifest.id());
        let tmp = staging_root.join(format!("{name}{NEW_SUFFIX}"));
        let dir = staging_root.join(&name);
        disk::remove_dir(&tmp)?;
        let made = (|| {
            fs::create_dir(&tmp).map_err(err("create directory", &tmp))?;
            disk::write_atomic(&tmp, MANIFEST, manifest.bytes())?;
            let pieces = PieceSet::new(manifest.piece_count());
            disk::write_atomic(&tmp, PIECES, pieces.as_bytes())?;
            let data_path = tmp.join(DATA);
            let data = File::create(&data_path).map_err(err("create", &data_path))?;
            disk::reserve(&data, &data_path, manifest.length())?;
            data.sync_all().map_err(err("sync", &data_path))?;
            fs::rename(&tmp, &dir).map_err(err("rename into place", &dir))?;
            disk::sync_dir(staging_root)
        })();
        if let Err(e) = made {
            let _ = disk::remove_dir(&tmp);
            return Err(e);
        }
        match Staged::load(&dir, false)? {
            Opened::Staged(s) => Ok(s),
            Opened::Installed(_) => Err(StoreError::NoSuchFetch(name)),
        }
    }

    /// Opens an existing staging directory, re-checking pieces whose bits
    /// are clear.
    pub fn open(dir: &Path) -> Result<Opened, StoreError> {
        Staged::load(dir, true)
    }

    /// Opens a staging directory, re-checking clear pieces if `rescan`.
    fn load(dir: &Path, rescan: bool) -> Result<Opened, StoreError> {
        let mpath = dir.join(MANIFEST);
        let bytes = fs::read(&mpath).map_err(err("read", &mpath))?;
        let manifest = Manifest::parse(&bytes).map_err(|e| {
            StoreError::Io(
                "parse",
                mpath.clone(),
                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            )
        })?;
        let data_path = dir.join(DATA);
        let data = match OpenOptions::new().read(true).write(true).open(&data_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Opened::Installed(manifest))
            }
            Err(e) => return Err(err("open", &data_path)(e)),
        };
        let ppath = dir.join(PIECES);
        let pieces_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&ppath)
            .map_err(err("open", &ppath))?;
        let mut raw = vec![0u8; PieceSet::bytes_for(manifest.piece_count())];
        let n = pieces_file
            .read_at(&mut raw, 0)
            .map_err(err("read", &ppath))?;
        let recorded = if n == raw.len() {
            PieceSet::from_bytes(manifest.piece_count(), &raw)
        } else {
            None
        };
        let mut staged = Staged {
            dir: dir.to_owned(),
            pieces: recorded.unwrap_or_else(|| PieceSet::new(manifest.piece_count())),
            manifest,
            data,
            pieces_file,
            unsynced: 0,
        };
        if rescan {
            staged.rescan()?;
        }
        Ok(Opened::Staged(staged))
    }

    /// Hashes every piece whose bit is clear and keeps those that match.
    /// Pieces never written read as zeros; those are compared with the hash
    /// of zeros, computed once per length, rather than hashed each.
    fn rescan(&mut self) -> Result<(), StoreError> {
        let missing: Vec<u32> = self.pieces.missing().collect();
        if missing.is_empty() {
            return Ok(());
        }
        let data_path = self.dir.join(DATA);
        let mut buf = vec![0u8; self.manifest.piece_size() as usize];
        let mut zero_hash: Option<(usize, [u8; 32])> = None;
        for i in missing {
            let len = self.manifest.piece_len(i) as usize;
            match self
                .data
                .read_exact_at(&mut buf[..len], self.manifest.piece_offset(i))
            {
                Ok(()) => {}
                // A data file shorter than the manifest says: the rest is missing.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(err("read", &data_path)(e)),
            }
            let piece = &buf[..len];
            let good = if piece.iter().all(|&b| b == 0) {
                let h = match zero_hash {
                    Some((l, h)) if l == len => h,
                    _ => *blake3::hash(piece).as_bytes(),
                };
                zero_hash = Some((len, h));
                self.manifest.piece_hash(i) == Some(h)
            } else {
                self.manifest.check_piece(i, piece)
            };
            if good {
                self.pieces.insert(i);
                self.unsynced += 1;
            }
        }
        if self.unsynced > 0 {
            self.sync()?;
        }
        Ok(())
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The verified pieces.
    pub fn pieces(&self) -> &PieceSet {
        &self.pieces
    }

    /// The staging directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data file's path.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join(DATA)
    }

    /// Checks piece `i` against its hash and writes it. Returns false if it
    /// was already there.
    pub fn write_piece(&mut self, i: u32, data: &[u8]) -> Result<bool, StoreError> {
        let count = self.manifest.piece_count();
        if i >= count {
            return Err(StoreError::PieceOutOfRange {
                name: self.manifest.name().to_string(),
                piece: i,
                count,
            });
        }
        if self.pieces.contains(i) {
            return Ok(false);
        }
        if !self.manifest.check_piece(i, data) {
            return Err(StoreError::BadPiece {
                name: self.manifest.name().to_string(),
                piece: i,
            });
        }
        let path = self.data_path();
        self.data
            .write_all_at(data, self.manifest.piece_offset(i))
            .map_err(err("write", &path))?;
        self.pieces.insert(i);
        self.unsynced += 1;
        if self.unsynced >= SYNC_EVERY || self.pieces.is_complete() {
            self.sync()?;
        }
        Ok(true)
    }

    /// Reads bytes of the file at `offset`; only meaningful inside pieces
    /// that are verified.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
        self.data
            .read_exact_at(buf, offset)
            .map_err(err("read", &self.data_path()))
    }

    /// Syncs the data, then records the verified pieces (and syncs that).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if self.unsynced == 0 {
            return Ok(());
        }
        self.data
            .sync_data()
            .map_err(err("sync", &self.data_path()))?;
        let ppath = self.dir.join(PIECES);
        self.pieces_file
            .write_all_at(self.pieces.as_bytes(), 0)
            .map_err(err("write", &ppath))?;
        self.pieces_file.sync_data().map_err(err("sync", &ppath))?;
        self.unsynced = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::name::Name;

    fn manifest(data: &[u8]) -> Manifest {
        let key = SecretKey::from_seed(&[5; 32]);
        let name = Name::new("f").unwrap();
        Manifest::build(&name, 1, data.len() as u64, data, &key).unwrap()
    }

    #[test]
    fn bits_lost_before_a_sync_are_recovered_by_rehashing() {
        let root = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let m = manifest(&data);
        let mut s = Staged::create(root.path(), m.clone()).unwrap();
        let dir = s.dir().to_owned();
        assert_eq!(dir.file_name().unwrap(), dir_name(m.id()).as_str());
        let piece = |i: u32| {
            let at = m.piece_offset(i) as usize;
            &data[at..at + m.piece_len(i) as usize]
        };
        assert!(s.write_piece(1, piece(1)).unwrap());
        assert!(!s.write_piece(1, piece(1)).unwrap(), "already there");
        assert!(matches!(
            s.write_piece(2, piece(1)),
            Err(StoreError::BadPiece { piece: 2, .. })
        ));
        assert!(matches!(
            s.write_piece(9, piece(1)),
            Err(StoreError::PieceOutOfRange {
                piece: 9,
                count: 5,
                ..
            })
        ));
        // Dropped without a sync, as after kill -9: the bitmap on disk is
        // still empty, but reopening finds piece 1 by its hash.
        drop(s);
        assert_eq!(fs::read(dir.join(PIECES)).unwrap(), [0]);
        let Opened::Staged(s) = Staged::open(&dir).unwrap() else {
            panic!()
        };
        assert_eq!(s.pieces().missing().collect::<Vec<_>>(), [0, 2, 3, 4]);
        assert_eq!(fs::read(dir.join(PIECES)).unwrap(), [0b0000_0010]);
    }

    #[test]
    fn create_leaves_nothing_on_failure() {
        let root = tempfile::tempdir().unwrap();
        let m = manifest(b"abc");
        let missing = root.path().join("nope");
        assert!(Staged::create(&missing, m).is_err());
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
