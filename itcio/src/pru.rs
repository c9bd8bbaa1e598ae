//! A PRU device: the rpmsg character device on a tile, or a UNIX seqpacket
//! socket with the same one-message-per-packet semantics under simulation.
//!
//! Opened nonblocking and close-on-exec. [`PruDevice::recv`] and
//! [`PruDevice::send`] move exactly one message; a zero-length message is
//! the start message the host sends first.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

/// The send buffer asked for on a PRU socket (the kernel doubles it and
/// charges each message its bookkeeping too): about 16 messages.
const PRU_SOCKET_SNDBUF: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CharDevice,
    Socket,
}

/// An open PRU device.
#[derive(Debug)]
pub struct PruDevice {
    path: PathBuf,
    fd: OwnedFd,
    kind: Kind,
}

/// What one receive produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// A message of this many bytes (possibly 0).
    Message(usize),
    /// Nothing is waiting.
    WouldBlock,
    /// The device or the simulator went away.
    Closed,
}

/// The longest message read from a device: rpmsg's 496 bytes fit, and a
/// longer one shows its length (`MSG_TRUNC`).
pub const MAX_MSG: usize = 512;

/// What one [`PruDevice::recv_many`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum RecvMany {
    /// This many messages (0: none was waiting).
    Messages(usize),
    /// The device or the simulator went away.
    Closed,
}

/// The path names neither a character device nor a socket (a regular
/// file, a directory, a pipe): carried inside the `io::Error` of
/// [`PruDevice::open`] so callers can tell it from a device that is absent.
#[derive(Debug, thiserror::Error)]
#[error("neither a character device nor a UNIX socket")]
pub struct NotADevice;

fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl PruDevice {
    /// Open the device at `path`: connect if it is a socket, open it if it
    /// is a character device, else fail with [`NotADevice`] inside.
    pub fn open(path: &Path) -> io::Result<PruDevice> {
        let meta = std::fs::metadata(path)?;
        if !meta.file_type().is_socket() && !meta.file_type().is_char_device() {
            return Err(io::Error::other(NotADevice));
        }
        if meta.file_type().is_socket() {
            let fd = socket::socket(
                AddressFamily::Unix,
                SockType::SeqPacket,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(to_io)?;
            // The rpmsg device takes 16 messages of up to 512 bytes before
            // a write fails EAGAIN. Bound the socket's send buffer alike, so
            // that packets wait in itcd's queues, where a hello goes ahead
            // of traffic, and not in a deep kernel buffer, where it cannot.
            socket::setsockopt(&fd, socket::sockopt::SndBuf, &PRU_SOCKET_SNDBUF).map_err(to_io)?;
            let addr = UnixAddr::new(path).map_err(to_io)?;
            socket::connect(fd.as_raw_fd(), &addr).map_err(to_io)?;
            return Ok(PruDevice {
                path: path.to_path_buf(),
                fd,
                kind: Kind::Socket,
            });
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        Ok(PruDevice {
            path: path.to_path_buf(),
            fd: file.into(),
            kind: Kind::CharDevice,
        })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Send one message.
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        let n = match self.kind {
            // write(2) of zero bytes on a socket sends nothing; send(2)
            // sends an empty message.
            Kind::Socket => socket::send(self.fd.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL),
            Kind::CharDevice => nix::unistd::write(self.fd.as_fd(), msg),
        }
        .map_err(to_io)?;
        if n != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to PRU device",
            ));
        }
        Ok(())
    }

    /// Receive one message into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Recv> {
        let r = match self.kind {
            Kind::Socket => socket::recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_TRUNC),
            Kind::CharDevice => nix::unistd::read(self.fd.as_raw_fd(), buf),
        };
        match r {
            Ok(0) if self.kind == Kind::Socket && self.peer_closed() => Ok(Recv::Closed),
            Ok(n) => Ok(Recv::Message(n)),
            Err(Errno::EAGAIN) => Ok(Recv::WouldBlock),
            Err(Errno::EINTR) => self.recv(buf),
            Err(Errno::ENODEV | Errno::ECONNRESET | Errno::EPIPE | Errno::ENOTCONN) => {
                Ok(Recv::Closed)
            }
            Err(e) => Err(to_io(e)),
        }
    }

    /// Receive up to `bufs.len()` messages in one system call where the
    /// kernel allows it (`recvmmsg(2)` on a socket; a character device
    /// gives one message per `read(2)`), their lengths in `lens`. Returns
    /// how many came, and whether the device may hold more: after fewer
    /// messages than asked for from a socket it is empty (a later message
    /// wakes the loop again), so no call is spent on finding it empty.
    pub fn recv_many(
        &self,
        bufs: &mut [[u8; MAX_MSG]],
        lens: &mut [usize],
    ) -> io::Result<(RecvMany, bool)> {
        let want = bufs.len().min(lens.len());
        if self.kind == Kind::CharDevice || want <= 1 {
            let Some(buf) = bufs.first_mut() else {
                return Ok((RecvMany::Messages(0), false));
            };
            return Ok(match self.recv(buf)? {
                Recv::Message(n) => {
                    lens[0] = n;
                    (RecvMany::Messages(1), true)
                }
                Recv::WouldBlock => (RecvMany::Messages(0), false),
                Recv::Closed => (RecvMany::Closed, false),
            });
        }
        let n = match crate::sys::recv_messages(self.fd.as_raw_fd(), &mut bufs[..want], lens) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENODEV | libc::ECONNRESET | libc::EPIPE | libc::ENOTCONN)
                ) =>
            {
                return Ok((RecvMany::Closed, false));
            }
            Err(e) => return Err(e),
        };
        match n {
            None => Ok((RecvMany::Messages(0), false)),
            Some(n) => {
                // End of file reads as empty messages: tell it from the
                // (never sent) empty message as recv does.
                if lens[..n].contains(&0) && self.peer_closed() {
                    return Ok((RecvMany::Closed, false));
                }
                Ok((RecvMany::Messages(n), n == want))
            }
        }
    }

    /// Whether the far end of a socket hung up. A seqpacket `recv` returns 0
    /// both for an empty message and at end of file; poll tells them apart.
    /// A peer that only shut down its sending side counts too: every later
    /// `recv` returns 0 at once, and taking those for empty messages would
    /// spin the loop.
    fn peer_closed(&self) -> bool {
        crate::sys::hung_up(self.fd.as_raw_fd())
    }
}

impl AsRawFd for PruDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

use std::os::unix::fs::OpenOptionsExt;
