//! Detaching a tree that an `itcd` left behind (what is mounted where comes
//! from [`fuse_fs::mountinfo`]).
//!
//! `itcd` unmounts its tree when it stops, and its mount helper
//! (`fusermount3` with `auto_unmount`) removes the tree of one that was
//! killed, a moment later. `tile-sim` detaches whatever is still there when
//! a tile is stopped or the grid shuts down, so nothing outlives it.

use std::path::Path;
use std::process::{Command, Stdio};

use fuse_fs::mountinfo::is_mounted;
use nix::errno::Errno;
use nix::mount::MntFlags;

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
