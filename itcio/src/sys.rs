//! Operating-system glue that fits nowhere else.

use std::os::fd::RawFd;
use std::os::unix::net::UnixDatagram;

/// Tell systemd (`Type=notify`) that the tree is mounted and served.
/// Does nothing when not started by systemd.
pub fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| sock.send_to_addr(b"READY=1", &addr))
    } else {
        sock.send_to(b"READY=1", &path)
    };
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Whether the far end of `fd` hung up or shut down its sending side
/// (`POLLHUP`, `POLLERR` or `POLLRDHUP` now). An error of poll itself
/// counts as hung up. Raw libc: nix's poll flags do not know `POLLRDHUP`
/// and report no events at all when it is set.
pub fn hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: pfd is a valid array of one pollfd for the call's duration,
    // and a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n < 0 || pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLRDHUP) != 0
}

/// Hand the memory the allocator holds free back to the kernel, after a
/// large release (glibc keeps freed memory below the top of its heap, and
/// the resident size would not fall). Walks the allocator's free lists:
/// call it rarely.
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) takes no pointer; it only returns free pages
    // of the allocator's own heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Receives up to `bufs.len()` messages from the nonblocking socket `fd`
/// in one `recvmmsg(2)`, each message's length (as `MSG_TRUNC` reports it)
/// in `lens`. `None` if none was waiting; errors as `recv(2)`'s.
pub fn recv_messages(
    fd: RawFd,
    bufs: &mut [[u8; crate::pru::MAX_MSG]],
    lens: &mut [usize],
) -> std::io::Result<Option<usize>> {
    let n = bufs.len().min(lens.len()).min(64);
    let mut iovs: Vec<libc::iovec> = bufs[..n]
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is a valid empty header (null name and
    // control, no iovecs), filled in below.
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, iov) in hdrs.iter_mut().zip(iovs.iter_mut()) {
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
    }
    loop {
        // SAFETY: hdrs holds n headers, each pointing at one iovec of iovs,
        // which points at a live, writable buffer of its stated length; all
        // outlive the call, and a null timeout never blocks with
        // MSG_DONTWAIT.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if r >= 0 {
            let got = r as usize;
            for (len, h) in lens.iter_mut().zip(&hdrs[..got]) {
                *len = h.msg_len as usize;
            }
            return Ok(Some(got));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(e),
        }
    }
}
