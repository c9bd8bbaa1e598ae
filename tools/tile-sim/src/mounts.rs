//! Mounts: detaching a tree that an `itcd` left behind, and noticing a
//! `--dir` inside a tree that an `itcd` serves.
//!
//! `itcd` unmounts its tree when it stops, and its mount helper
//! (`fusermount3` with `auto_unmount`) removes the tree of one that was
//! killed, a moment later. `tile-sim` detaches whatever is still there when
//! a tile is stopped or the grid shuts down, so nothing outlives it.

use std::path::{Path, PathBuf};

use fuse_fs::mountinfo::{self, Mount};

/// The file system type of a tree that `itcd` serves (`subtype=itcd`).
const ITCD_FSTYPE: &str = "fuse.itcd";

/// Lazily unmounts whatever is mounted at `path`, if anything: directly as
/// root, else through `fusermount3 -u -z` ([`fuse_fs::mount::detach`]).
pub fn detach_if_mounted(path: &Path) -> Result<(), String> {
    fuse_fs::mount::detach(path).map_err(|e| format!("cannot unmount {}: {e}", path.display()))
}

/// The mount point of the `itcd` tree that `dir` is in (or would be in,
/// once created), if any. An `itcd` tree is fixed: no directory can be
/// created in it, so a grid cannot live there.
pub fn itc_tree_containing(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    // The nearest part of `dir` that exists, with its links resolved.
    let existing = dir
        .ancestors()
        .find_map(|a| std::fs::canonicalize(a).ok())?;
    innermost_mount(&mountinfo::mounts(), &existing)
        .filter(|m| m.fstype == ITCD_FSTYPE)
        .map(|m| m.mount_point)
}

/// The mount that `path` (canonical) lies on: the one with the longest
/// mount point above it, the last in table order among equals (a mount
/// stacked on another hides it).
fn innermost_mount(mounts: &[Mount], path: &Path) -> Option<Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        // The last of equals, as `max_by_key` returns.
        .max_by_key(|m| m.mount_point.as_os_str().len())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(at: &str, fstype: &str) -> Mount {
        Mount {
            mount_point: PathBuf::from(at),
            fstype: fstype.to_string(),
        }
    }

    #[test]
    fn finds_the_innermost_mount() {
        let table = [
            mount("/", "ext4"),
            mount("/tmp", "tmpfs"),
            mount("/tmp/grid/r0c0", ITCD_FSTYPE),
            mount("/tmp/grid/r0c0", "tmpfs"),
            mount("/tmp/grid/r0c1", ITCD_FSTYPE),
        ];
        let at = |p: &str| innermost_mount(&table, Path::new(p)).map(|m| m.fstype);
        assert_eq!(at("/tmp/grid/r0c1/tile/ET").as_deref(), Some(ITCD_FSTYPE));
        assert_eq!(at("/tmp/grid/r0c1").as_deref(), Some(ITCD_FSTYPE));
        // Stacked: the later mount hides the tree.
        assert_eq!(at("/tmp/grid/r0c0/x").as_deref(), Some("tmpfs"));
        assert_eq!(at("/tmp/grid").as_deref(), Some("tmpfs"));
        // A sibling whose name merely starts the same is not inside.
        assert_eq!(at("/tmp/grid/r0c10").as_deref(), Some("tmpfs"));
        assert_eq!(at("/home").as_deref(), Some("ext4"));
    }

    #[test]
    fn an_ordinary_directory_is_not_in_a_tree() {
        assert_eq!(
            itc_tree_containing(&std::env::temp_dir().join("no/such")),
            None
        );
    }
}
