//! Mounts: detaching a tree that an `itcd` left behind, noticing a
//! `--dir` inside a tree that an `itcd` serves, and the mount points `run`
//! creates and removes again.
//!
//! `itcd` unmounts its tree when it stops, and its mount helper
//! (`fusermount3` with `auto_unmount`) removes the tree of one that was
//! killed, a moment later. `tile-sim` detaches whatever is still there when
//! a tile is stopped or the grid shuts down, so nothing outlives it; then
//! the directories it made for the grid go too ([`CreatedDirs`]).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fuse_fs::mountinfo::{self, Mount};

/// The file system type of a tree that `itcd` serves (`subtype=itcd`).
const ITCD_FSTYPE: &str = "fuse.itcd";

/// Lazily unmounts whatever is mounted at `path`, if anything: directly as
/// root, else through `fusermount3 -u -z` ([`fuse_fs::mount::detach`]).
pub fn detach_if_mounted(path: &Path) -> Result<(), String> {
    fuse_fs::mount::detach(path).map_err(|e| format!("cannot unmount {}: {e}", path.display()))
}

/// Those of `paths` that something is mounted at, from one reading of
/// the mount table.
pub fn still_mounted(paths: &[PathBuf]) -> Vec<PathBuf> {
    let table: HashSet<PathBuf> = mountinfo::mount_points().into_iter().collect();
    paths
        .iter()
        // A dead tree cannot be resolved (ENOTCONN): its path as given.
        .filter(|p| table.contains(&fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())))
        .cloned()
        .collect()
}

/// The directories `tile-sim run` made: `--dir` and the parents it
/// lacked, and the tiles' mount points. Dropped, it removes them again,
/// deepest first, each only if nothing is mounted there and it is empty
/// (`rmdir` fails otherwise), so nothing that existed before, and nothing
/// put there since, is ever removed.
#[derive(Debug, Default)]
pub struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    /// Creates `dir` with any missing parents (as `mkdir -p`), and
    /// remembers the ones this call made.
    pub fn create(&mut self, dir: &Path) -> io::Result<()> {
        let dir = std::path::absolute(dir)?;
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| fs::symlink_metadata(a).is_err())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(&dir)?;
        // Shallowest first, so that dropping goes deepest first.
        self.0.extend(missing.into_iter().rev());
        Ok(())
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        // One reading of the mount table: removing a directory mounts
        // nothing, so it stays true throughout.
        let mounted = still_mounted(&self.0);
        for dir in self.0.iter().rev() {
            if !mounted.contains(dir) {
                let _ = fs::remove_dir(dir);
            }
        }
    }
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
    fn removes_only_the_empty_directories_it_made() {
        let base = std::env::temp_dir().join(format!("tile-sim-mounts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("old")).unwrap();
        {
            let mut made = CreatedDirs::default();
            made.create(&base.join("old/new/grid")).unwrap();
            made.create(&base.join("old/new/grid/r0c0")).unwrap();
            made.create(&base.join("old/new/grid/r0c1")).unwrap();
            // Something put there since: it and its directory stay.
            fs::write(base.join("old/new/grid/r0c1/file"), "x").unwrap();
            // Already there: nothing is recorded.
            made.create(&base.join("old")).unwrap();
        }
        assert!(!base.join("old/new/grid/r0c0").exists());
        assert!(base.join("old/new/grid/r0c1/file").exists());
        assert!(base.join("old").is_dir());
        fs::remove_file(base.join("old/new/grid/r0c1/file")).unwrap();
        {
            let mut made = CreatedDirs::default();
            made.create(&base.join("old/new/grid/r0c1/x")).unwrap();
        }
        assert!(base.join("old/new/grid/r0c1").is_dir(), "existed before");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_ordinary_directory_is_not_in_a_tree() {
        assert_eq!(
            itc_tree_containing(&std::env::temp_dir().join("no/such")),
            None
        );
    }
}
