//! The emulator's socket calls: a listening UNIX `SOCK_SEQPACKET` socket and
//! the connections it accepts, all non-blocking and close-on-exec.
//!
//! One `send` is one message and one `recv` returns one message, as with the
//! rpmsg character devices on the board. A zero-length message and
//! end-of-file both read as 0 bytes; [`SeqConn::peer_closed`] tells them
//! apart. Every raw call of the emulator is in this file.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::socket::{
    accept4, bind, listen, recv, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
    SockType, UnixAddr,
};

/// The longest socket path, in bytes: `sun_path` holds 108 including the NUL.
pub const MAX_PATH: usize = 107;

/// Pending connections the kernel holds before `accept`; hosts are few.
const BACKLOG: i32 = 4;

fn flags() -> SockFlag {
    SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC
}

/// A non-blocking seqpacket socket; `K` ([`Listening`] or [`Connected`])
/// says which calls it has. Registers with mio through its descriptor.
#[derive(Debug)]
pub struct SeqSocket<K> {
    fd: OwnedFd,
    kind: PhantomData<K>,
}

/// The kind of a bound, listening socket.
#[derive(Debug)]
pub enum Listening {}

/// The kind of an accepted connection.
#[derive(Debug)]
pub enum Connected {}

/// A bound, listening seqpacket socket.
pub type SeqListener = SeqSocket<Listening>;

/// One accepted host connection.
pub type SeqConn = SeqSocket<Connected>;

impl<K> SeqSocket<K> {
    fn new(fd: OwnedFd) -> SeqSocket<K> {
        SeqSocket {
            fd,
            kind: PhantomData,
        }
    }
}

impl SeqListener {
    /// Creates the socket, binds it to `path` (which must not exist) and
    /// listens.
    pub fn bind(path: &Path) -> io::Result<SeqListener> {
        let fd = socket(AddressFamily::Unix, SockType::SeqPacket, flags(), None)?;
        let addr = UnixAddr::new(path)?;
        bind(fd.as_raw_fd(), &addr)?;
        listen(&fd, Backlog::new(BACKLOG)?)?;
        Ok(SeqListener::new(fd))
    }

    /// Accepts one pending connection; `WouldBlock` when there is none.
    pub fn accept(&self) -> io::Result<SeqConn> {
        let raw = accept4(self.fd.as_raw_fd(), flags())?;
        // SAFETY: accept4 just returned this descriptor and nothing else
        // refers to it, so the OwnedFd is its only owner and closes it once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(SeqConn::new(fd))
    }
}

impl SeqConn {
    /// Sends one message; `WouldBlock` when the host's queue is full. Never
    /// raises SIGPIPE: a gone host is an `EPIPE` error.
    pub fn send(&self, msg: &[u8]) -> io::Result<usize> {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        Ok(send(self.fd.as_raw_fd(), msg, flags)?)
    }

    /// Receives one message into `buf`, truncating a longer one to
    /// `buf.len()`; `WouldBlock` when there is none.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)?)
    }

    /// True once the host has closed its end (or shut down writing), so a
    /// 0-byte read is end-of-file rather than an empty message.
    pub fn peer_closed(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        loop {
            // SAFETY: pfd is a valid, initialised pollfd that outlives the
            // call, the count is 1, and a zero timeout never blocks.
            let n = unsafe { libc::poll(&mut pfd, 1, 0) };
            if n >= 0 {
                let closed = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR;
                return n > 0 && pfd.revents & closed != 0;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
    }
}

impl<K> Source for SeqSocket<K> {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).deregister(registry)
    }
}
