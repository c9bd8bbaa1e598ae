//! Mounting the tree: checks that explain failures, recovery of a stale
//! mount left by a crashed daemon, the FUSE session set-up, and detaching a
//! mount (also for tools and tests that clean up after `itcd`).
//!
//! The session is handed out as this crate's [`Session`], which only a
//! [`crate::Server`] can use: callers never name the FUSE library's types.
//!
//! The mount goes through `fusermount3` with `auto_unmount`, so a daemon
//! that dies for any reason (even SIGKILL) leaves no mount behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use polyfuse::KernelConfig;

use crate::mountinfo;

/// The most pages of user memory one FUSE request may cover: enough that
/// any write of a packet's size, however its buffers lie, arrives whole.
const MAX_PAGES_PER_REQUEST: u16 = 256;

/// Why the tree could not be mounted; each message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mount point does not exist.
    #[error("mount point {0} does not exist (create it, e.g. mkdir -p {0})")]
    Missing(PathBuf),
    /// The mount point is not a directory.
    #[error("mount point {0} is not a directory ({1})")]
    NotADirectory(PathBuf, io::Error),
    /// `/dev/fuse` cannot be opened.
    #[error("cannot open /dev/fuse: {0} (is the fuse module loaded? try modprobe fuse; in a container pass --device /dev/fuse)")]
    NoFuseDevice(io::Error),
    /// `fusermount3` is missing.
    #[error("fusermount3 not found: {0} (install the fuse3 package)")]
    NoFusermount(io::Error),
    /// Something live is already mounted there.
    #[error("mount point {0} is busy: {1} is mounted there (another itcd running? unmount it with fusermount3 -u {0})")]
    Busy(PathBuf, String),
    /// A stale mount was found and could not be removed.
    #[error("mount point {0} holds a stale FUSE mount that could not be removed: {1} (try fusermount3 -u -z {0} as root)")]
    Stale(PathBuf, io::Error),
    /// The mount itself failed.
    #[error(
        "mounting at {0} failed: {1} (non-root users need user_allow_other in /etc/fuse.conf)"
    )]
    Mount(PathBuf, io::Error),
}

/// Options of the mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Name shown as the file system source in `mount` output.
    pub fsname: String,
}

/// A mounted tree whose requests nobody answers yet: give it to
/// [`crate::Server::new`]. Dropping it unmounts the tree.
pub struct Session {
    pub(crate) inner: polyfuse::Session,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Whether a tree may be mounted at `mountpoint`: an existing directory
/// where no live file system is mounted ([`MountError::Busy`] if one is,
/// for instance another `itcd`'s tree). A stale mount left there by a
/// crashed instance is removed. [`mount`] checks this itself; a daemon
/// calls it first to fail before it takes any other resource.
pub fn check_mount_point(mountpoint: &Path) -> Result<(), MountError> {
    recover_stale(mountpoint)?;
    match fs::metadata(mountpoint) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            let e = io::Error::from_raw_os_error(libc::ENOTDIR);
            return Err(MountError::NotADirectory(mountpoint.to_path_buf(), e));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(MountError::Missing(mountpoint.to_path_buf()));
        }
        Err(e) => return Err(MountError::NotADirectory(mountpoint.to_path_buf(), e)),
    }
    Ok(())
}

/// Mount a fresh session at `mountpoint`, first recovering a stale mount
/// left there by a crashed instance.
pub fn mount(mountpoint: &Path, options: &MountOptions) -> Result<Session, MountError> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(MountError::NoFuseDevice)?;
    let fusermount = find_fusermount()?;
    check_mount_point(mountpoint)?;

    let mut config = KernelConfig::default();
    config
        .fusermount_path(&fusermount)
        .auto_unmount(true)
        .mount_option("allow_other")
        .mount_option("default_permissions")
        .mount_option(&format!("fsname={}", quote_option_value(&options.fsname)))
        .mount_option("subtype=itcd")
        // A packet must reach the daemon in one request. Packets are at
        // most 255 bytes, so 8 KiB per request is plenty and keeps every
        // request buffer small; but the kernel also splits a write whose
        // buffers touch more pages than a request may cover, and a
        // writev(2) of 255 one-byte buffers touches 255 pages. 256 is the
        // kernel's own limit.
        .max_write(8192)
        .max_pages_per_request(MAX_PAGES_PER_REQUEST)
        .async_read(false);
    warn_if_pages_capped();
    polyfuse::Session::mount(mountpoint.to_path_buf(), config)
        .map(|inner| Session { inner })
        .map_err(|e| MountError::Mount(mountpoint.to_path_buf(), e))
}

/// The kernel caps the pages per request at `fs.fuse.max_pages_limit`
/// (256 unless an administrator lowered it; older kernels have no such
/// setting and a fixed 256). Below 255, a `writev(2)` of a packet in many
/// scattered buffers could reach the daemon in two pieces; the second is
/// refused, but the first may already have gone out alone.
fn warn_if_pages_capped() {
    let limit = fs::read_to_string("/proc/sys/fs/fuse/max_pages_limit")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(limit) = limit.filter(|l| *l < 255) {
        tracing::warn!(
            "fs.fuse.max_pages_limit is {limit}: a packet written with writev(2) from \
             more than {limit} pages may be split (set it to 256)"
        );
    }
}

/// `value` quoted for a `-o` option of `fusermount3`, which takes a
/// backslash to quote the next character of an `fsname=` value. A comma
/// would otherwise end the value and start an option of the caller's
/// choosing (`--name 'x,ro'` mounted the tree read-only). Every character
/// but letters, digits and `-.:/+=@` is quoted: polyfuse splits the option
/// string at every comma (quoted or not) and trims blanks off each piece,
/// and takes a piece that reads `auto_unmount` for its own, so blanks and
/// `_` next to a comma must not show either. Trailing blanks are dropped:
/// trimmed off, they would leave their quoting backslash to swallow the
/// comma before the next option.
fn quote_option_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for c in value.trim_end().chars() {
        let plain =
            c.is_alphanumeric() && !c.is_control() && !c.is_whitespace() || "-.:/+=@".contains(c);
        if !plain {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The absolute path of `fusermount3`, from `PATH` or the usual places.
fn find_fusermount() -> Result<PathBuf, MountError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/bin".into(), "/usr/local/bin".into()])
        .filter(|d| d.is_absolute())
        .map(|d| d.join("fusermount3"))
        .find(|p| p.is_file())
        .ok_or_else(|| MountError::NoFusermount(io::Error::from(io::ErrorKind::NotFound)))
}

/// How long a file system mounted at the mount point may take to answer
/// `statfs` before it counts as live but hung.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// If a FUSE mount whose daemon is gone sits at `path`, detach it.
fn recover_stale(path: &Path) -> Result<(), MountError> {
    let Some(fstype) = mountinfo::fstype_at(path) else {
        return Ok(());
    };
    // A daemon that is alive but stopped or hung never answers, and the
    // call would wait for it for ever: ask from a thread, wait a while.
    // A thread left waiting ends with the process.
    let (tx, rx) = mpsc::channel();
    let probed = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(crate::sys::statfs_errno(&probed));
    });
    let Ok(answer) = rx.recv_timeout(PROBE_WAIT) else {
        let what = format!("{fstype}, whose daemon does not answer,");
        return Err(MountError::Busy(path.to_path_buf(), what));
    };
    match answer {
        Some(libc::ENOTCONN) => {
            tracing::warn!(
                "removing stale mount at {} left by a dead daemon",
                path.display()
            );
            detach(path).map_err(|e| MountError::Stale(path.to_path_buf(), e))?;
            Ok(())
        }
        _ => Err(MountError::Busy(path.to_path_buf(), fstype)),
    }
}

/// Lazily unmount (detach) whatever is mounted at `path`: directly where
/// privileged, else through `fusermount3 -u -z`. Nothing mounted there,
/// before or after a failed attempt, is success.
pub fn detach(path: &Path) -> io::Result<()> {
    if !mountinfo::is_mounted(path) {
        return Ok(());
    }
    match crate::sys::detach(path) {
        Ok(()) => return Ok(()),
        // EINVAL: no longer a mount point (its helper removed it meanwhile).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
        Err(e) => return Err(e),
    }
    let status = Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("running fusermount3: {e}")))?;
    if status.success() || !mountinfo::is_mounted(path) {
        Ok(())
    } else {
        let shown = path.display();
        Err(io::Error::other(format!(
            "fusermount3 -u -z {shown} failed ({status})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_cannot_end_early() {
        assert_eq!(quote_option_value("itcd:r0c1"), "itcd:r0c1");
        assert_eq!(quote_option_value("itcd:A,ro"), "itcd:A\\,ro");
        assert_eq!(
            quote_option_value("a\\b c,auto_unmount"),
            "a\\\\b\\ c\\,auto\\_unmount"
        );
        // Whatever the value, no piece between commas is blank-edged or
        // a bare option word.
        for value in ["x, ro", "x,auto_unmount", " lead,trail ", "\\,\\"] {
            let quoted = quote_option_value(value);
            for piece in quoted.split(',') {
                assert_eq!(piece.trim(), piece, "{value:?}: {quoted}");
                assert_ne!(piece, "auto_unmount", "{value:?}: {quoted}");
            }
        }
    }
}
