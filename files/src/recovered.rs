//! What opening the store repaired or resumed, reported to the daemon so
//! it can log it, and the directory listing every recovery step starts
//! from, which clears away the temporaries a crash left behind.
#![forbid(unsafe_code)]

use core::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::{self, err, StoreError};
use crate::name::Name;

/// Something opening the store repaired or resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// An install cut short was finished: this version is now live.
    Installed(Name, u64),
    /// A fetch resumes with this many of its pieces.
    Resumed {
        /// The file name.
        name: Name,
        /// The version being fetched.
        version: u64,
        /// Pieces already verified.
        have: u32,
        /// Pieces in the file.
        count: u32,
    },
    /// Something was removed, and why.
    Removed(PathBuf, &'static str),
}

impl fmt::Display for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovered::Installed(n, v) => write!(f, "finished installing {n} version {v}"),
            Recovered::Resumed {
                name,
                version,
                have,
                count,
            } => write!(
                f,
                "resuming {name} version {version}: {have} of {count} pieces"
            ),
            Recovered::Removed(p, why) => write!(f, "removed {}: {why}", p.display()),
        }
    }
}

/// Lists `dir` in name order, removing entries whose names start with `.`
/// (the temporaries of an atomic write cut short) and reporting them.
pub fn list(dir: &Path, notes: &mut Vec<Recovered>) -> Result<Vec<fs::DirEntry>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(err("list", dir))? {
        let entry = entry.map_err(err("list", dir))?;
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            disk::remove_file(&entry.path())?;
            notes.push(Recovered::Removed(
                entry.path(),
                "temporary left by a crash",
            ));
        } else {
            out.push(entry);
        }
    }
    out.sort_by_key(|e| e.file_name());
    Ok(out)
}

/// The name a record file is named after; `None` if it is not a name.
pub fn name_of(entry: &fs::DirEntry) -> Option<Name> {
    Name::new(entry.file_name().to_str()?).ok()
}
