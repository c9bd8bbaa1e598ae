//! Which other processes have a file of the tree open, found in `/proc`,
//! and the warning for a reader of `tile/<D>/...` that takes D's packets
//! away from the holder of the `itc/...` file of the same kind.
//!
//! Inbound routing prefers `tile/<D>/...` to `itc/...`: while `itc recv
//! --dir D` (or `itc ping D`, on `tile/<D>/svc/02`) runs, packets from D no
//! longer reach the program reading `itc/...`, such as an MFM engine on
//! `itc/mfm`, and nothing tells that program. [`warn_if_shadowing`] says so
//! on standard error.
//!
//! Why `/proc` and not the tree: the tree shows no holders (neither
//! `itc/status` nor `tile/<D>/status` has such a line), and testing with
//! an `open()` of the `itc/...` file is not harmless. When nobody holds
//! it, `itcd` makes the test the exclusive holder until its release
//! arrives: an engine opening the file at that moment fails `EBUSY` (or
//! waits for the release), and packets routed there meanwhile are thrown
//! away with the test instead of counted as `drop_no_reader` (an `O_WRONLY`
//! test avoids that loss, not the `EBUSY`). Reading `/proc/PID/fd` and
//! `/proc/PID/fdinfo` changes nothing anywhere. Its limit: only processes
//! whose descriptors this user may read are seen (their own; every one as
//! root), so a holder run by another user goes unmentioned; nothing is
//! claimed then.

use std::fs;
use std::path::Path;

use itc_proto::Dir;
use nix::libc;

use crate::output;
use crate::tree::{batched_twin, Kind, Tree};

/// A process holding a file, as `comm[pid]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holder {
    /// The process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// Whether it has the file open for reading (`O_RDONLY` or `O_RDWR`).
    pub reads: bool,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.comm, self.pid)
    }
}

/// The processes other than this one that have `path` open, by pid; only
/// those whose descriptors this user may read in `/proc`.
pub fn holders(path: &Path) -> Vec<Holder> {
    let Ok(path) = fs::canonicalize(path) else {
        return Vec::new();
    };
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found: Vec<Holder> = procs
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
            let open: Vec<String> = fds
                .filter_map(Result::ok)
                .filter(|fd| fs::read_link(fd.path()).is_ok_and(|l| l == path))
                .map(|fd| fd.file_name().to_string_lossy().into_owned())
                .collect();
            if open.is_empty() {
                return None;
            }
            let reads = open.iter().any(|fd| opened_for_reading(pid, fd));
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            Some(Holder {
                pid,
                comm: comm.trim_end().to_string(),
                reads,
            })
        })
        .collect();
    found.sort();
    found
}

/// The processes other than this one that hold the channel of the packet
/// file `path`: `path` itself or its batched twin (one channel, so either
/// makes an open of the other fail `EBUSY`).
pub fn channel_holders(path: &Path) -> Vec<Holder> {
    let mut found = holders(path);
    found.extend(holders(&batched_twin(path)));
    found.sort();
    found.dedup();
    found
}

/// Whether descriptor `fd` of `pid` was opened for reading, from the
/// octal `flags:` line of `/proc/PID/fdinfo/FD`; true when that cannot be
/// read (better a warning too many than one missed).
fn opened_for_reading(pid: u32, fd: &str) -> bool {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| i32::from_str_radix(v.trim(), 8).ok());
    flags.is_none_or(|f| f & libc::O_ACCMODE != libc::O_WRONLY)
}

/// After this process opened `tile/<dir>/...` of `kind` for reading:
/// warns on standard error about each other process reading the
/// `itc/...` file of that kind (or its batched twin, where the tree has
/// one), since D's packets now come here instead.
pub fn warn_if_shadowing(tree: &Tree, kind: Kind, dir: Dir) {
    let shadowed = tree.packet_file(kind, None);
    let mine = tree.packet_file(kind, Some(dir));
    for path in [shadowed.clone(), tree.batch_packet_file(kind, None)] {
        for h in holders(&path).into_iter().filter(|h| h.reads) {
            output::note(&format!(
                "warning: {h} reads {}; while this runs, {kind} packets from {dir} come to {} \
                 instead and {h} gets none of them",
                path.display(),
                mine.display()
            ));
        }
    }
}
