//! The service's hold on the tree: its open packet file, the file's place
//! in a mio event loop, and the back-off between attempts to reopen it
//! after `itcd` went away.
//!
//! The file opened is the batched twin of the service's packet file
//! (`MOUNT/itc/batch/svc/NN` for `MOUNT/itc/svc/NN`): each read returns as
//! many whole items (a length byte, then a packet or TEP) as fit, and each
//! write takes a sequence of items, so a busy service makes one system
//! call for many packets. Errors still name the plain file, the one users
//! know. The file is opened read-write with `O_NONBLOCK | O_CLOEXEC` and watched
//! for readable and writable (edge-triggered: the service reads until
//! `EAGAIN`). Each read and write is classified here, once: `ENOTCONN`,
//! `ECONNABORTED`, `ENODEV`, `ENXIO` and end of file mean the tree is
//! gone ([`Loss`]); `EHOSTUNREACH`, `EAGAIN`, `EINVAL` and `EMSGSIZE` are
//! about one packet; `EINTR` is retried. Opening classifies in the same way
//! with [`is_absent`]: the errnos of a tree that is not (yet) there.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::errno::Errno;

use crate::error::Error;

/// Why the service let go of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// A read or write failed with this errno: `itcd` stopped.
    Errno(Errno),
    /// A read returned end of file.
    EndOfFile,
    /// Events were lost: the file is reopened at once to learn the
    /// neighbours again from the Connects every open starts with.
    Resync,
}

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadResult {
    /// This many bytes of whole items (packets and TEPs, each after its
    /// length byte) are in the buffer.
    Items(usize),
    /// Nothing queued (or no file open).
    WouldBlock,
    /// The tree is gone.
    Lost(Loss),
    /// Any other failure.
    Failed(Errno),
}

/// What one write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteResult {
    /// `itcd` took the whole items in this many bytes (all of a write, or
    /// the items before the first it could not take now).
    Sent(usize),
    /// The neighbour's queue is full (`EAGAIN`); try again when writable.
    WouldBlock,
    /// No neighbour there (`EHOSTUNREACH`).
    Unreachable,
    /// `itcd` refused the packet itself (`EINVAL`, `EMSGSIZE`, ...).
    Rejected(Errno),
    /// The tree is gone.
    Lost(Loss),
    /// No file is open.
    Offline,
}

/// Whether `errno` from an `open()` or read means the tree is not served
/// right now (stopped, restarting, not yet mounted) rather than a mistake:
/// worth retrying later.
pub fn is_absent(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ENOENT
            | Errno::ENOTDIR
            | Errno::ENXIO
            | Errno::ENODEV
            | Errno::ENOTCONN
            | Errno::ECONNABORTED
    )
}

/// Whether `errno` from a read or write means the tree went away.
fn is_lost(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ENOTCONN | Errno::ECONNABORTED | Errno::ENODEV | Errno::ENXIO
    )
}

fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// A pause that doubles from `min` to `max` with each use.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// The pause to take now; the next one is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    /// Starts again at `min`.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// The packet file and its registration.
#[derive(Debug)]
pub struct Connection {
    path: PathBuf,
    file: Option<File>,
    registry: Option<(Registry, Token)>,
    lost: Option<Loss>,
    /// Pauses between reopen attempts.
    pub backoff: Backoff,
}

impl Connection {
    /// Not yet open.
    pub fn new(path: PathBuf, backoff: Backoff) -> Connection {
        Connection {
            path,
            file: None,
            registry: None,
            lost: None,
            backoff,
        }
    }

    /// The packet file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file (closing any earlier one) and registers it with the
    /// event loop, if attached.
    pub fn open(&mut self) -> Result<(), Error> {
        self.close();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(batched_twin(&self.path))
            .map_err(|e| Error::Open {
                path: self.path.clone(),
                errno: errno_of(&e),
            })?;
        if let Some((registry, token)) = &self.registry {
            register(registry, *token, &file, &self.path)?;
        }
        self.file = Some(file);
        self.lost = None;
        Ok(())
    }

    /// Watches the file in `registry` under `token`, now and after every
    /// reopen; leaves an earlier registry first.
    pub fn attach(&mut self, registry: &Registry, token: Token) -> Result<(), Error> {
        self.detach();
        let clone = registry.try_clone().map_err(Error::Poll)?;
        if let Some(file) = &self.file {
            register(&clone, token, file, &self.path)?;
        }
        self.registry = Some((clone, token));
        Ok(())
    }

    /// Stops watching the file.
    pub fn detach(&mut self) {
        if let (Some((registry, _)), Some(file)) = (self.registry.take(), &self.file) {
            // A descriptor that epoll no longer holds is fine to forget.
            let _ = registry.deregister(&mut SourceFd(&file.as_raw_fd()));
        }
    }

    /// The token the file is watched under.
    pub fn token(&self) -> Option<Token> {
        self.registry.as_ref().map(|(_, t)| *t)
    }

    /// Closes the file (it stays attached: a reopen is watched again).
    pub fn close(&mut self) {
        if let Some(file) = self.file.take() {
            if let Some((registry, _)) = &self.registry {
                let _ = registry.deregister(&mut SourceFd(&file.as_raw_fd()));
            }
        }
    }

    /// Whether a file is open and not known to be lost.
    pub fn is_online(&self) -> bool {
        self.file.is_some() && self.lost.is_none()
    }

    /// Notes that the tree is gone; the service handles it next.
    pub fn mark_lost(&mut self, loss: Loss) {
        self.lost.get_or_insert(loss);
    }

    /// Whether a loss waits to be handled.
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// The loss to handle, if any; the file is closed.
    pub fn take_lost(&mut self) -> Option<Loss> {
        let loss = self.lost.take()?;
        self.close();
        Some(loss)
    }

    /// Reads as many whole items as fit into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> ReadResult {
        let Some(mut file) = self.file.as_ref().filter(|_| self.lost.is_none()) else {
            return ReadResult::WouldBlock;
        };
        loop {
            return match file.read(buf) {
                Ok(0) => ReadResult::Lost(Loss::EndOfFile),
                Ok(n) => ReadResult::Items(n),
                Err(e) => match errno_of(&e) {
                    Errno::EINTR => continue,
                    Errno::EAGAIN => ReadResult::WouldBlock,
                    errno if is_lost(errno) => ReadResult::Lost(Loss::Errno(errno)),
                    errno => ReadResult::Failed(errno),
                },
            };
        }
    }

    /// Writes a sequence of items; the errors are those of the first item,
    /// when not even that one was taken.
    pub fn write(&mut self, items: &[u8]) -> WriteResult {
        let Some(mut file) = self.file.as_ref().filter(|_| self.lost.is_none()) else {
            return WriteResult::Offline;
        };
        loop {
            return match file.write(items) {
                // Nothing taken without an error: wait for room.
                Ok(0) => WriteResult::WouldBlock,
                Ok(n) => WriteResult::Sent(n),
                Err(e) => match errno_of(&e) {
                    Errno::EINTR => continue,
                    Errno::EAGAIN => WriteResult::WouldBlock,
                    Errno::EHOSTUNREACH => WriteResult::Unreachable,
                    errno if is_lost(errno) => WriteResult::Lost(Loss::Errno(errno)),
                    errno => WriteResult::Rejected(errno),
                },
            };
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// The batched twin of a packet file: `MOUNT/itc/batch/svc/NN` for
/// `MOUNT/itc/svc/NN`.
fn batched_twin(path: &Path) -> PathBuf {
    match (path.parent().and_then(Path::parent), path.file_name()) {
        (Some(itc), Some(name)) => itc.join("batch/svc").join(name),
        _ => path.to_path_buf(),
    }
}

fn register(registry: &Registry, token: Token, file: &File, path: &Path) -> Result<(), Error> {
    registry
        .register(
            &mut SourceFd(&file.as_raw_fd()),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|source| Error::Register {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batched_twin_sits_under_itc_batch() {
        assert_eq!(
            batched_twin(Path::new("/run/itc/itc/svc/08")),
            Path::new("/run/itc/itc/batch/svc/08")
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(2000));
        let seen: Vec<_> = (0..7).map(|_| b.next_delay()).collect();
        assert_eq!(
            seen,
            [100, 200, 400, 800, 1600, 2000, 2000].map(ms).to_vec()
        );
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
    }

    #[test]
    fn errnos_of_a_missing_tree_are_retried_others_are_not() {
        for e in [
            Errno::ENOENT,
            Errno::ENXIO,
            Errno::ENOTCONN,
            Errno::ECONNABORTED,
        ] {
            assert!(is_absent(e), "{e}");
        }
        for e in [Errno::EACCES, Errno::EBUSY, Errno::EINVAL] {
            assert!(!is_absent(e), "{e}");
        }
    }

    #[test]
    fn a_missing_file_fails_open_with_its_errno() {
        let path = std::env::temp_dir().join(format!("itc-service-none-{}", std::process::id()));
        let mut c = Connection::new(
            path.join("itc/svc/20"),
            Backoff::new(Duration::ZERO, Duration::ZERO),
        );
        match c.open() {
            Err(Error::Open { errno, .. }) => assert_eq!(errno, Errno::ENOENT),
            other => panic!("{other:?}"),
        }
        assert!(!c.is_online());
        assert_eq!(c.write(&[0x82, 20]), WriteResult::Offline);
        let mut buf = [0u8; 4];
        assert_eq!(c.read(&mut buf), ReadResult::WouldBlock);
    }
}
