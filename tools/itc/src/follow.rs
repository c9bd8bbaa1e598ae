//! Reading a packet or events file across `itcd` restarts, like `ip
//! monitor` across an interface going away: `itc events` by default,
//! `itc recv --follow`.
//!
//! When `itcd` stops, an open file of its tree is dead for good: a read
//! parked in `itcd` fails `ECONNABORTED`, every later call `ENOTCONN`
//! (`itc` waits in `ppoll` and then reads, so it sees `ENOTCONN`). The
//! path then names the bare mount point (`ENOENT`), or a dead mount
//! (`ENOTCONN`) until it is removed, and then the new `itcd`'s tree.
//! [`Followed`] notices the loss, says so on standard error, waits for the
//! mount table to change (`/proc/self/mountinfo` reports every change to
//! `poll` as `POLLPRI`, so nothing polls on a timer), opens the path again
//! once the tree is served, and says so too. The new file starts, like
//! any, with a Connect for each neighbour present.
//!
//! An MFM file made stale by a physics change (`ESTALE`) is opened again
//! at once. Without following, each of these is the error it always was.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;

use crate::errors::{shown, Error};
use crate::packet_file::{Access, PacketFile, Wait};
use crate::{output, signals};

/// The mount table of this process's mount namespace.
const MOUNTINFO: &str = "/proc/self/mountinfo";

/// A packet or events file read across `itcd` restarts and physics
/// changes (when following).
#[derive(Debug)]
pub struct Followed {
    /// `None` while the tree is away.
    file: Option<PacketFile>,
    path: PathBuf,
    /// The batched twin of `path` that is read instead, if any.
    twin: Option<PathBuf>,
    mount: PathBuf,
    access: Access,
    follow: bool,
}

impl Followed {
    /// Opens `path`, a file of the tree mounted at `mount`. The first
    /// open is not followed: a tree that is not there is an error.
    pub fn open(
        path: &Path,
        mount: &Path,
        access: Access,
        follow: bool,
    ) -> Result<Followed, Error> {
        Ok(Followed {
            file: Some(PacketFile::open(path, mount, access)?),
            path: path.to_path_buf(),
            twin: None,
            mount: mount.to_path_buf(),
            access,
            follow,
        })
    }

    /// Opens `twin`, the batched twin of the packet file `path`, as
    /// [`Followed::open`] opens `path`; what it says names `path`.
    pub fn open_twin(
        path: &Path,
        twin: &Path,
        mount: &Path,
        access: Access,
        follow: bool,
    ) -> Result<Followed, Error> {
        Ok(Followed {
            file: Some(PacketFile::open_twin(path, twin, mount, access)?),
            path: path.to_path_buf(),
            twin: Some(twin.to_path_buf()),
            mount: mount.to_path_buf(),
            access,
            follow,
        })
    }

    /// Reads one packet as [`PacketFile::recv`] does; when following,
    /// waits through a restart of `itcd` (until `deadline`) and reopens
    /// a stale file.
    pub fn recv(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Wait<usize>, Error> {
        loop {
            let Some(file) = self.file.as_mut() else {
                match self.reopen(deadline)? {
                    Wait::Done(()) => continue,
                    Wait::TimedOut => return Ok(Wait::TimedOut),
                    Wait::Interrupted => return Ok(Wait::Interrupted),
                }
            };
            let e = match file.recv(buf, deadline) {
                Err(e) if self.follow => e,
                other => return other,
            };
            let (path, mount) = (shown(&self.path), shown(&self.mount));
            if gone(&e) {
                let why = e
                    .errno()
                    .map_or("end of file".to_string(), |n| format!("{n:?}"));
                output::note(&format!(
                    "{path}: itcd stopped serving {mount} ({why}); waiting for it to come back"
                ));
            } else if e.errno() == Some(Errno::ESTALE) {
                output::note(&format!(
                    "{path}: stale after a physics change (ESTALE): reopening it"
                ));
            } else {
                return Err(e);
            }
            // Closed before opening again: the file may be exclusive.
            self.file = None;
        }
    }

    /// Opens the path again, waiting for the tree while it is away.
    fn reopen(&mut self, deadline: Option<Instant>) -> Result<Wait<()>, Error> {
        // Opened before the first try, so that no change of the mount
        // table after that try goes unnoticed.
        let mounts = File::open(MOUNTINFO).map_err(|e| Error::File {
            path: PathBuf::from(MOUNTINFO),
            mount: self.mount.clone(),
            source: e,
        })?;
        let mut waited = false;
        loop {
            let opened = match &self.twin {
                Some(twin) => {
                    PacketFile::open_twin_again(&self.path, twin, &self.mount, self.access)
                }
                None => PacketFile::open_again(&self.path, &self.mount, self.access),
            };
            match opened {
                Ok(Wait::Done(file)) => {
                    if waited {
                        output::note(&format!(
                            "{}: served again; reading {}",
                            shown(&self.mount),
                            shown(&self.path)
                        ));
                    }
                    self.file = Some(file);
                    return Ok(Wait::Done(()));
                }
                Ok(Wait::TimedOut) => return Ok(Wait::TimedOut),
                Ok(Wait::Interrupted) => return Ok(Wait::Interrupted),
                Err(e) if away(&e) => {}
                Err(e) => return Err(e),
            }
            waited = true;
            match wait_for_mount_change(&mounts, deadline)? {
                Wait::Done(()) => {}
                Wait::TimedOut => return Ok(Wait::TimedOut),
                Wait::Interrupted => return Ok(Wait::Interrupted),
            }
        }
    }
}

/// Whether an open file's tree went away: its `itcd` stopped.
fn gone(e: &Error) -> bool {
    matches!(e, Error::Eof(_)) || matches!(e.errno(), Some(Errno::ENOTCONN | Errno::ECONNABORTED))
}

/// Whether an `open()` failed because no tree is served at the mount
/// point yet: the bare directory, or a dead mount not yet removed.
fn away(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENOENT | Errno::ENOTCONN | Errno::ECONNABORTED)
    )
}

/// Waits until the mount table changes, `deadline` passes or SIGINT
/// arrives; a pipe on standard output whose reader went away ends the
/// wait with [`Error::StdoutClosed`], as in [`PacketFile`]'s waits.
fn wait_for_mount_change(mounts: &File, deadline: Option<Instant>) -> Result<Wait<()>, Error> {
    let stdout = io::stdout();
    let watch_stdout = output::is_pipe();
    loop {
        if signals::interrupted() {
            return Ok(Wait::Interrupted);
        }
        let timeout =
            deadline.map(|d| TimeSpec::from_duration(d.saturating_duration_since(Instant::now())));
        let mut fds = vec![PollFd::new(mounts.as_fd(), PollFlags::POLLPRI)];
        if watch_stdout {
            fds.push(PollFd::new(stdout.as_fd(), PollFlags::empty()));
        }
        match ppoll(&mut fds, timeout, signals::wait_mask()) {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Wait::TimedOut);
                }
            }
            Ok(_) => {
                if signals::let_pending_in().map_err(Error::Signals)? {
                    return Ok(Wait::Interrupted);
                }
                let closed = PollFlags::POLLERR | PollFlags::POLLHUP;
                if fds
                    .get(1)
                    .and_then(|fd| fd.revents())
                    .is_some_and(|r| r.intersects(closed))
                {
                    return Err(Error::StdoutClosed);
                }
                if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                    return Ok(Wait::Done(()));
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::File {
                    path: PathBuf::from(MOUNTINFO),
                    mount: PathBuf::new(),
                    source: io::Error::from(e),
                })
            }
        }
    }
}
