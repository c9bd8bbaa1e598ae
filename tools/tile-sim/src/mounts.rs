//! What is mounted where, from `/proc/self/mountinfo`, and detaching a tree
//! that an `itcd` left behind.
//!
//! `itcd` unmounts its tree when it stops, and its mount helper
//! (`fusermount3` with `auto_unmount`) removes the tree of one that was
//! killed, a moment later. `tile-sim` detaches whatever is still there when
//! a tile is stopped or the grid shuts down, so nothing outlives it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::mount::MntFlags;

/// Whether something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let canon = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    mount_points().contains(&canon)
}

/// Every mount point in this process's mount namespace.
fn mount_points() -> Vec<PathBuf> {
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // id parent major:minor root mountpoint options ...
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .collect()
}

/// Undoes the octal escapes (`\040` for a blank) of a mountinfo field.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts whatever is mounted at `path`, if anything: directly as
/// root, else through `fusermount3 -u -z`.
pub fn detach_if_mounted(path: &Path) -> Result<(), String> {
    if !is_mounted(path) {
        return Ok(());
    }
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        // EINVAL: the mount helper removed it in the meantime.
        Ok(()) | Err(Errno::EINVAL) => return Ok(()),
        Err(Errno::EPERM) => {}
        Err(e) => return Err(format!("cannot unmount {}: {e}", path.display())),
    }
    let shown = path.display();
    let status = Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(path)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() || !is_mounted(path) => Ok(()),
        Ok(s) => Err(format!(
            "cannot unmount {shown}: fusermount3 -u -z {shown} failed ({s})"
        )),
        Err(e) => Err(format!("cannot unmount {shown}: running fusermount3: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal_sequences() {
        assert_eq!(unescape("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape("/x\\134y\\011z"), "/x\\y\tz");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }

    #[test]
    fn root_is_mounted() {
        assert!(is_mounted(Path::new("/")));
    }
}
