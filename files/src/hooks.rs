//! The record of hook runs: `hooks/NAME` in the store holds the version
//! and record id of the installed file whose hook last ran for NAME, and
//! its status as the daemon wrote it (for example "running", then
//! "exit 0"). A daemon runs a hook only when the installed stamp differs
//! from the recorded one, and records "running" before it starts it, so a
//! hook is never run twice for one install, not even across a crash or a
//! restart. Records are replaced atomically.
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::{self, StoreError};
use crate::hex;
use crate::id::RecordId;
use crate::name::Name;
use crate::version::Stamp;

/// The store directory of hook records.
pub const HOOKS: &str = "hooks";

/// The last hook run recorded for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRecord {
    /// The installed version it ran for.
    pub stamp: Stamp,
    /// What happened, as the daemon wrote it.
    pub status: String,
}

/// The hook records in one directory.
#[derive(Debug, Clone)]
pub struct HookLog {
    dir: PathBuf,
}

impl HookLog {
    /// The records in `dir`, which must exist.
    pub fn new(dir: &Path) -> HookLog {
        HookLog {
            dir: dir.to_owned(),
        }
    }

    /// Records the hook status for the installed version `stamp` of `name`
    /// (newlines in `status` become spaces).
    pub fn record(&self, name: &Name, stamp: Stamp, status: &str) -> Result<(), StoreError> {
        let status = status.replace('\n', " ");
        let text = format!("{} {} {status}\n", stamp.version, stamp.id);
        disk::write_atomic(&self.dir, name.as_str(), text.as_bytes())
    }

    /// The last hook status recorded for `name`; `None` if there is none
    /// or it cannot be read.
    pub fn last(&self, name: &Name) -> Option<HookRecord> {
        let text = fs::read_to_string(self.dir.join(name)).ok()?;
        let line = text.strip_suffix('\n')?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next()?.parse().ok()?;
        let id = RecordId(hex::decode::<32>(parts.next()?)?);
        let status = parts.next().unwrap_or("").to_owned();
        Some(HookRecord {
            stamp: Stamp::new(version, id),
            status,
        })
    }

    /// Whether the hook for installed version `stamp` of `name` has not
    /// been started yet.
    pub fn is_due(&self, name: &Name, stamp: Stamp) -> bool {
        self.last(name).is_none_or(|r| r.stamp != stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_make_a_hook_due_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = HookLog::new(dir.path());
        let name = Name::new("physics").unwrap();
        let stamp = Stamp::new(3, RecordId::of(b"m"));
        assert_eq!(log.last(&name), None);
        assert!(log.is_due(&name, stamp));
        log.record(&name, stamp, "running").unwrap();
        assert!(!log.is_due(&name, stamp));
        log.record(&name, stamp, "exit 1\nboom").unwrap();
        assert_eq!(
            log.last(&name),
            Some(HookRecord {
                stamp,
                status: "exit 1 boom".into()
            })
        );
        assert!(log.is_due(&name, Stamp::new(4, RecordId::of(b"n"))));
    }
}
