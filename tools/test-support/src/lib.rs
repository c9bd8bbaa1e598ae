//! Helpers shared by the project's integration tests (dev-dependency only).
//!
//! Tests wait for conditions with a deadline, never for a fixed time, and
//! check the mount table to prove they leave nothing mounted.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use fuse_fs::mount::detach;
pub use fuse_fs::mountinfo::{is_mounted, mount_points, mounts_under};

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

/// The value of `key` in a file of `key: value` lines (the tree's status
/// files); empty when the file cannot be read or has no such line.
pub fn status_value(file: &Path, key: &str) -> String {
    let text = fs::read_to_string(file).unwrap_or_default();
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

/// Lazily unmount everything mounted at or below `dir`, for guards that
/// clean up after a test; returns what was mounted there.
pub fn unmount_all_under(dir: &Path) -> Vec<PathBuf> {
    let mounted = mounts_under(dir);
    for m in &mounted {
        // A parent's lazy unmount takes its children along; they are then
        // no longer mounted, which is success.
        let _ = detach(m);
    }
    mounted
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
    fn status_value_finds_the_key_or_nothing() {
        let file = std::env::temp_dir().join(format!("test-support-status-{}", std::process::id()));
        fs::write(&file, "peer: present\nlink: up\npeer_name: B\n").unwrap();
        assert_eq!(status_value(&file, "link"), "up");
        assert_eq!(status_value(&file, "peer"), "present");
        assert_eq!(status_value(&file, "name"), "");
        fs::remove_file(&file).unwrap();
        assert_eq!(status_value(&file, "link"), "");
    }
}
