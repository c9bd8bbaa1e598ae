//! Helpers shared by the project's integration tests (dev-dependency only).
//!
//! Tests wait for conditions with a deadline, never for a fixed time, and
//! check the mount table to prove they leave nothing mounted.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Wait until `f` holds or `timeout` passes; returns whether it held.
/// Polls with a backoff from 1 ms to 25 ms.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// Undo the octal escapes of `/proc/self/mountinfo` (space, tab, newline,
/// backslash).
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Every mount point of this process's mount namespace.
pub fn mount_points() -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .collect()
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&dir))
        .collect()
}

/// Whether something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    mount_points().contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_reports_whether_the_condition_held() {
        let mut n = 0;
        assert!(wait_for(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
        assert!(!wait_for(Duration::from_millis(20), || false));
    }

    #[test]
    fn the_root_is_mounted_and_escapes_are_undone() {
        assert!(is_mounted(Path::new("/")));
        assert!(mounts_under(Path::new("/")).contains(&PathBuf::from("/")));
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
    }
}
