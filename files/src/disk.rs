//! Careful file system steps for the store, and the one error type they
//! fail with. Every error names the path and the step; a full file system
//! (ENOSPC, or EDQUOT for a quota) is its own variant, [`StoreError::DiskFull`],
//! so the daemon can report it plainly and retry once there is room.
//!
//! - [`write_atomic`]: write `dir/.NAME.tmp`, fsync it, rename it over
//!   `dir/NAME`, fsync `dir`. A reader sees the old file or the new one,
//!   never a mixture, and after power loss the rename is either done or not.
//! - [`reserve`]: allocate a file's blocks up front (`fallocate`), so that a
//!   transfer that cannot fit fails at its start, not half way.
//! - [`sync_dir`]: fsync a directory so renames and unlinks in it persist.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fallocate, FallocateFlags};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system is full.
    #[error("no space left writing {0}; free space in the store's file system (the transfer resumes when there is room)")]
    DiskFull(PathBuf),
    /// A file system step failed.
    #[error("cannot {0} {1}: {2}")]
    Io(&'static str, PathBuf, #[source] io::Error),
    /// A piece did not match its hash in the manifest.
    #[error("piece {piece} of {name} does not match its hash")]
    BadPiece {
        /// The file name.
        name: String,
        /// The piece index.
        piece: u32,
    },
    /// A piece index past the end of the file.
    #[error("piece {piece} of {name} is out of range ({count} pieces)")]
    PieceOutOfRange {
        /// The file name.
        name: String,
        /// The piece index.
        piece: u32,
        /// How many pieces the file has.
        count: u32,
    },
    /// No transfer with this id is staged.
    #[error("no transfer {0} in the store")]
    NoSuchFetch(String),
    /// The transfer is not complete yet.
    #[error("{name} is not complete ({have} of {count} pieces)")]
    Incomplete {
        /// The file name.
        name: String,
        /// Pieces verified.
        have: u32,
        /// Pieces in the file.
        count: u32,
    },
    /// A tombstone in the store covers this version.
    #[error("{name} version {version} is deleted by a tombstone")]
    Deleted {
        /// The file name.
        name: String,
        /// The version.
        version: u64,
    },
}

/// Whether `e` means the file system is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == Errno::ENOSPC as i32 || c == Errno::EDQUOT as i32)
}

/// A function that turns an `io::Error` from step `op` on `path` into a
/// [`StoreError`], recognising a full disk.
pub fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |e| {
        if is_disk_full(&e) {
            StoreError::DiskFull(path.to_owned())
        } else {
            StoreError::Io(op, path.to_owned(), e)
        }
    }
}

/// Fsyncs directory `dir`.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("sync directory", dir))
}

/// Creates `dir` (and its parents) if missing.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(err("create directory", dir))
}

/// The temporary name [`write_atomic`] writes before renaming.
pub fn tmp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.tmp"))
}

/// Replaces `dir/name` with `bytes` atomically and durably.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_path(dir, name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(err("create", &tmp))?;
        f.write_all(bytes).map_err(err("write", &tmp))?;
        f.sync_all().map_err(err("sync", &tmp))?;
        let path = dir.join(name);
        fs::rename(&tmp, &path).map_err(err("rename into place", &path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `path` if it exists.
pub fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Removes directory `path` and everything in it, if it exists.
pub fn remove_dir(path: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Allocates the first `len` bytes of `file` (at `path`, for errors). File
/// systems without `fallocate` get a sparse file of that length instead.
pub fn reserve(file: &File, path: &Path, len: u64) -> Result<(), StoreError> {
    if len == 0 {
        return Ok(());
    }
    let Ok(off_len) = i64::try_from(len) else {
        return Err(StoreError::Io(
            "reserve space for",
            path.to_owned(),
            io::Error::new(io::ErrorKind::InvalidInput, "length too large"),
        ));
    };
    match fallocate(file.as_raw_fd(), FallocateFlags::empty(), 0, off_len) {
        Ok(()) => Ok(()),
        Err(Errno::EOPNOTSUPP) => file.set_len(len).map_err(err("size", path)),
        Err(e) => Err(err("reserve space for", path)(io::Error::from(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "a", b"one").unwrap();
        write_atomic(dir.path(), "a", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"two");
        assert!(!tmp_path(dir.path(), "a").exists());
    }

    #[test]
    fn disk_full_is_recognised() {
        let e = io::Error::from_raw_os_error(Errno::ENOSPC as i32);
        assert!(matches!(
            err("write", Path::new("/x"))(e),
            StoreError::DiskFull(p) if p == Path::new("/x")
        ));
        let e = io::Error::from_raw_os_error(Errno::EIO as i32);
        let msg = err("write", Path::new("/x"))(e).to_string();
        assert!(msg.starts_with("cannot write /x: "), "{msg}");
    }
}
