//! Detaching a tree that an `itcd` left behind.
//!
//! `itcd` unmounts its tree when it stops, and its mount helper
//! (`fusermount3` with `auto_unmount`) removes the tree of one that was
//! killed, a moment later. `tile-sim` detaches whatever is still there when
//! a tile is stopped or the grid shuts down, so nothing outlives it.

use std::path::Path;

/// Lazily unmounts whatever is mounted at `path`, if anything: directly as
/// root, else through `fusermount3 -u -z` ([`fuse_fs::mount::detach`]).
pub fn detach_if_mounted(path: &Path) -> Result<(), String> {
    fuse_fs::mount::detach(path).map_err(|e| format!("cannot unmount {}: {e}", path.display()))
}
