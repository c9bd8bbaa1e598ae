//! The few socket calls that hand back raw descriptors: accepting a control
//! client and receiving a message with a descriptor beside it. Each raw
//! descriptor becomes an `OwnedFd` at once, so every descriptor the daemon
//! holds is closed exactly once. Everything else uses `nix`'s safe calls.

use std::io;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{accept4, recvmsg, ControlMessageOwned, MsgFlags, SockFlag, UnixAddr};

/// Accepts one connection on the nonblocking `listener`, nonblocking and
/// close-on-exec; `None` when none waits.
pub fn accept(listener: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    loop {
        match accept4(
            listener.as_raw_fd(),
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        ) {
            // SAFETY: accept4 returned a new descriptor that nothing else
            // owns; it is wrapped once, here.
            Ok(fd) => return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
            Err(Errno::EAGAIN) => return Ok(None),
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One message received.
#[derive(Debug)]
pub struct Received {
    /// Bytes placed in the buffer; 0 means the peer closed.
    pub len: usize,
    /// The message was longer than the buffer.
    pub truncated: bool,
    /// The first descriptor that came with it (others are closed).
    pub fd: Option<OwnedFd>,
}

/// Receives one message from the nonblocking seqpacket `socket` into `buf`,
/// with at most a few descriptors beside it; `None` when none waits.
pub fn recv_with_fd(socket: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<Received>> {
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<UnixAddr>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(msg) => msg,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut fds: Vec<OwnedFd> = Vec::new();
        // A truncated control buffer still delivered the descriptors that
        // fit; they are collected and closed below.
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    // SAFETY: the kernel installed these descriptors in
                    // this process for this message; nothing else owns
                    // them, and each is wrapped once.
                    fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                }
            }
        }
        return Ok(Some(Received {
            len: msg.bytes,
            truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
            fd: fds.into_iter().next(),
        }));
    }
}
