//! The interface between the tree and whatever serves it.
//!
//! The server (see [`crate::server`]) turns FUSE requests into calls on a
//! [`Backend`] and never decides anything about packets itself. A backend
//! answers every call at once: a read or write that cannot complete yet
//! returns [`Errno::EAGAIN`], and the server parks the request (or fails it,
//! for `O_NONBLOCK`) until the backend reports the handle as changed.

use crate::tree::FileKind;

/// A file handle: the backend's name for one open file description.
pub type Fh = u64;

/// An error number to hand back to the caller of a file operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// No such file or directory.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// Interrupted by a signal.
    pub const EINTR: Errno = Errno(libc::EINTR);
    /// Bad file handle.
    pub const EBADF: Errno = Errno(libc::EBADF);
    /// The operation would block.
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    /// Permission denied.
    pub const EACCES: Errno = Errno(libc::EACCES);
    /// Device or resource busy (exclusive file already open).
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// Is a directory.
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    /// Message too long (or buffer too small for the next packet).
    pub const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);
    /// No route to host: no such neighbour.
    pub const EHOSTUNREACH: Errno = Errno(libc::EHOSTUNREACH);
    /// Stale file handle: the physics id changed since open.
    pub const ESTALE: Errno = Errno(libc::ESTALE);
    /// Function not implemented.
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    /// Illegal seek.
    pub const ESPIPE: Errno = Errno(libc::ESPIPE);
}

bitflags::bitflags! {
    /// What `poll()` reports for an open file.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub struct Readiness: u8 {
        /// A read would not block.
        const READABLE = 1 << 0;
        /// A write of a maximum-size packet would not block.
        const WRITABLE = 1 << 1;
        /// The handle is in an error state (e.g. stale after a physics
        /// change).
        const ERROR = 1 << 2;
    }
}

impl Readiness {
    /// The `poll(2)` event bits for this readiness.
    pub fn revents(self) -> u32 {
        let mut ev = 0;
        if self.contains(Readiness::READABLE) {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if self.contains(Readiness::WRITABLE) {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        if self.contains(Readiness::ERROR) {
            ev |= libc::POLLERR as u32;
        }
        ev
    }
}

/// Whoever serves the tree's files.
pub trait Backend {
    /// Open a file; `flags` are the `open(2)` flags. Returns the handle.
    /// `EAGAIN` means "busy, but probably not for long" (the holder was just
    /// closed and its release is on the way): the server retries for a
    /// short while before failing the open with `EBUSY`.
    fn open(&mut self, kind: FileKind, flags: i32) -> Result<Fh, Errno>;

    /// The last reference to a handle is gone.
    fn release(&mut self, fh: Fh);

    /// A file descriptor of this handle was closed (`close(2)` sends this
    /// synchronously; the release that may follow comes asynchronously).
    fn flush(&mut self, _fh: Fh) {}

    /// Append at most `size` bytes read at `offset` to `out`. `EAGAIN` means
    /// nothing is available yet.
    fn read(&mut self, fh: Fh, offset: u64, size: u32, out: &mut Vec<u8>) -> Result<(), Errno>;

    /// Write `data` at `offset`; returns the number of bytes taken. `EAGAIN`
    /// means the write cannot be taken yet.
    fn write(&mut self, fh: Fh, offset: u64, data: &[u8]) -> Result<u32, Errno>;

    /// Current readiness of a handle.
    fn poll(&mut self, fh: Fh) -> Readiness;

    /// Move the handles whose readiness may have changed since the last call
    /// into `out`.
    fn take_changed(&mut self, out: &mut Vec<Fh>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_maps_to_poll_bits() {
        assert_eq!(Readiness::empty().revents(), 0);
        let rw = (Readiness::READABLE | Readiness::WRITABLE).revents();
        assert_eq!(
            rw,
            (libc::POLLIN | libc::POLLRDNORM | libc::POLLOUT | libc::POLLWRNORM) as u32
        );
        assert_eq!(Readiness::ERROR.revents(), libc::POLLERR as u32);
    }
}
