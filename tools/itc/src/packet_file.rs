//! One open packet or events file of the tree: one `read()` is one packet,
//! one `write()` sends one packet. Or the batched twin of a packet file,
//! the same channel, for commands that move many packets: one `read()`
//! takes every item queued, which [`PacketFile::recv`] hands out one at a
//! time, and [`PacketFile::send_some`] writes many items at once. A twin
//! is named by its plain file in every message, so output is the same.
//!
//! The file is opened with `O_NONBLOCK`; every wait happens in `ppoll`
//! with SIGINT let in (see [`crate::signals`]), so waiting for a packet, for
//! room to write, or for a deadline ends at once on Ctrl-C. Errors name the
//! file (see [`crate::errors`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;

use crate::errors::Error;
use crate::{output, signals};

/// How a wait for a file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait<T> {
    /// The operation completed.
    Done(T),
    /// The deadline passed first.
    TimedOut,
    /// SIGINT arrived.
    Interrupted,
}

/// Which directions of traffic the file is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading packets or events.
    Read,
    /// Writing packets.
    Write,
    /// Both (`itc ping`).
    ReadWrite,
}

/// An open packet or events file.
#[derive(Debug)]
pub struct PacketFile {
    file: File,
    path: PathBuf,
    mount: PathBuf,
    /// Whether waits end when standard output's reader goes away: only
    /// for commands that print (not `send`, which must send every packet).
    watch_stdout: bool,
    /// For a batched twin: items read and not yet handed out.
    batch: Option<Batch>,
}

/// What one read of a batched file returned, handed out an item at a time.
#[derive(Debug)]
struct Batch {
    buf: Vec<u8>,
    len: usize,
    at: usize,
}

/// How much one read of a batched file takes.
const BATCH_READ: usize = 4096;

impl Batch {
    fn new() -> Batch {
        Batch {
            buf: vec![0; BATCH_READ],
            len: 0,
            at: 0,
        }
    }

    /// Copy the next item's packet into `out`; its length, or `None`
    /// when all were handed out. `itcd` only returns whole items.
    fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let rest = &self.buf[self.at..self.len];
        let (&len, tail) = rest.split_first()?;
        let len = usize::from(len).min(tail.len()).min(out.len());
        out[..len].copy_from_slice(&tail[..len]);
        self.at += 1 + usize::from(rest[0]);
        Some(len)
    }
}

impl PacketFile {
    /// Opens `path`, a file of the tree mounted at `mount`, then takes
    /// over SIGINT for the waits (see [`crate::signals`]). Until then
    /// SIGINT kills `itc`, so an `open()` that a stopped or hung `itcd`
    /// never answers still ends on Ctrl-C.
    pub fn open(path: &Path, mount: &Path, access: Access) -> Result<PacketFile, Error> {
        let file = open_file(path, access).map_err(|e| Error::file(path, mount, e))?;
        signals::install().map_err(Error::Signals)?;
        Ok(PacketFile::new(file, path, mount, access))
    }

    /// Opens `twin`, the batched twin of the packet file `path`, as
    /// [`PacketFile::open`] opens `path`; errors name `path`.
    pub fn open_twin(
        path: &Path,
        twin: &Path,
        mount: &Path,
        access: Access,
    ) -> Result<PacketFile, Error> {
        let file = open_file(twin, access).map_err(|e| Error::file(path, mount, e))?;
        signals::install().map_err(Error::Signals)?;
        Ok(PacketFile::new(file, path, mount, access).batched())
    }

    /// [`PacketFile::open_again`] for a batched twin, as
    /// [`PacketFile::open_twin`].
    pub fn open_twin_again(
        path: &Path,
        twin: &Path,
        mount: &Path,
        access: Access,
    ) -> Result<Wait<PacketFile>, Error> {
        match signals::killable(|| open_file(twin, access)).map_err(Error::Signals)? {
            None => Ok(Wait::Interrupted),
            Some(Ok(file)) => Ok(Wait::Done(
                PacketFile::new(file, path, mount, access).batched(),
            )),
            Some(Err(e)) => Err(Error::file(path, mount, e)),
        }
    }

    fn batched(mut self) -> PacketFile {
        self.batch = Some(Batch::new());
        self
    }

    /// Opens `path` as [`PacketFile::open`] does, once SIGINT has been
    /// taken over: the `open()` waits for an `itcd` that has only just
    /// started (or hangs), so SIGINT has its default action meanwhile
    /// (see [`signals::killable`]). A SIGINT that came before is
    /// [`Wait::Interrupted`].
    pub fn open_again(
        path: &Path,
        mount: &Path,
        access: Access,
    ) -> Result<Wait<PacketFile>, Error> {
        match signals::killable(|| open_file(path, access)).map_err(Error::Signals)? {
            None => Ok(Wait::Interrupted),
            Some(Ok(file)) => Ok(Wait::Done(PacketFile::new(file, path, mount, access))),
            Some(Err(e)) => Err(Error::file(path, mount, e)),
        }
    }

    fn new(file: File, path: &Path, mount: &Path, access: Access) -> PacketFile {
        PacketFile {
            file,
            path: path.to_path_buf(),
            mount: mount.to_path_buf(),
            watch_stdout: access != Access::Write,
            batch: None,
        }
    }

    /// Reads one packet into `buf` and returns its length, waiting until
    /// one is queued, `deadline` passes, or SIGINT arrives.
    pub fn recv(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Wait<usize>, Error> {
        loop {
            if let Some(n) = self.batch.as_mut().and_then(|b| b.next_into(buf)) {
                return Ok(Wait::Done(n));
            }
            match self.wait(PollFlags::POLLIN, deadline)? {
                Wait::Done(()) => {}
                Wait::TimedOut => return Ok(Wait::TimedOut),
                Wait::Interrupted => return Ok(Wait::Interrupted),
            }
            let read = match self.batch.as_mut() {
                Some(b) => self.file.read(&mut b.buf).inspect(|&n| {
                    b.len = n;
                    b.at = 0;
                }),
                None => self.file.read(buf),
            };
            match read {
                Ok(0) => return Err(Error::Eof(self.path.clone())),
                Ok(_) if self.batch.is_some() => continue,
                Ok(n) => return Ok(Wait::Done(n)),
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Writes `packet` with one `write()`, waiting for room until SIGINT
    /// arrives.
    pub fn send(&mut self, packet: &[u8]) -> Result<Wait<()>, Error> {
        loop {
            match self.wait(PollFlags::POLLOUT, None)? {
                Wait::Done(()) => {}
                Wait::TimedOut => return Ok(Wait::TimedOut),
                Wait::Interrupted => return Ok(Wait::Interrupted),
            }
            match self.file.write(packet) {
                Ok(_) => return Ok(Wait::Done(())),
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Writes as much of `bytes` as the file takes with one `write()`,
    /// waiting for room until SIGINT arrives; returns the bytes taken (a
    /// batched file may take fewer than given).
    pub fn send_some(&mut self, bytes: &[u8]) -> Result<Wait<usize>, Error> {
        loop {
            match self.wait(PollFlags::POLLOUT, None)? {
                Wait::Done(()) => {}
                Wait::TimedOut => return Ok(Wait::TimedOut),
                Wait::Interrupted => return Ok(Wait::Interrupted),
            }
            match self.file.write(bytes) {
                Ok(n) => return Ok(Wait::Done(n)),
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Waits until the file is ready for `events` (or reports an error,
    /// which the following read or write returns). For a file opened to
    /// read, a pipe on standard output whose reader went away ends the
    /// wait with [`Error::StdoutClosed`], so `itc events | head -1` does
    /// not wait for one more event to notice.
    fn wait(&self, events: PollFlags, deadline: Option<Instant>) -> Result<Wait<()>, Error> {
        let stdout = io::stdout();
        let watch_stdout = self.watch_stdout && output::is_pipe();
        loop {
            if signals::interrupted() {
                return Ok(Wait::Interrupted);
            }
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    Some(TimeSpec::from_duration(left))
                }
                None => None,
            };
            let mut fds = vec![PollFd::new(self.file.as_fd(), events)];
            if watch_stdout {
                // No events asked: only POLLERR or POLLHUP can come back.
                fds.push(PollFd::new(stdout.as_fd(), PollFlags::empty()));
            }
            match ppoll(&mut fds, timeout, signals::wait_mask()) {
                Ok(0) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Wait::TimedOut);
                    }
                }
                Ok(_) => {
                    // A ready file ends ppoll before a pending SIGINT gets in.
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
                Err(e) => return Err(self.error(io::Error::from(e))),
            }
        }
    }

    fn error(&self, e: io::Error) -> Error {
        Error::file(&self.path, &self.mount, e)
    }
}

/// Opens `path` nonblocking for `access`.
fn open_file(path: &Path, access: Access) -> io::Result<File> {
    OpenOptions::new()
        .read(access != Access::Write)
        .write(access != Access::Read)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
}

/// Whether a failed read or write should wait and try again: the packet or
/// the room `ppoll` reported went elsewhere, or a signal other than SIGINT
/// interrupted the call.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// A deadline `after` from now; none if `after` is none or too far away to
/// matter.
pub fn deadline_after(after: Option<Duration>) -> Option<Instant> {
    after.and_then(|d| Instant::now().checked_add(d))
}
