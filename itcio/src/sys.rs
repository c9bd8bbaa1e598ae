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
