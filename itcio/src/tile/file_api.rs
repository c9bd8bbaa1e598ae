//! The words in which the tile serves its files: which file
//! ([`FileKind`]), an open file ([`FileId`]), how it was opened
//! ([`Access`]), what a poll reports ([`Readiness`]) and why a call failed
//! ([`Error`], each variant one `errno` value).
//!
//! Plain values, no state. Whoever serves the files (the FUSE tree, through
//! `crate::tree_backend`) translates its own words into these; the core
//! names nothing of it.

use core::fmt;

use itc_proto::service::FILE_SERVICES;
use itc_proto::Dir;

/// A file the tile serves. The direction is `None` for the `itc/` file,
/// which covers every direction, and `Some(D)` for the `tile/<D>/` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `mfm`: MFM packets.
    Mfm(Option<Dir>),
    /// `svc/NN`: packets of one service.
    Svc(Option<Dir>, u8),
    /// `batch/mfm`: the batched twin of `mfm`, framed items.
    BatchMfm(Option<Dir>),
    /// `batch/svc/NN`: the batched twin of `svc/NN`.
    BatchSvc(Option<Dir>, u8),
    /// `events`: Tile Event Packets.
    Events(Option<Dir>),
    /// `status`: the status table (`itc`) or key/value lines (`tile/<D>`).
    Status(Option<Dir>),
    /// `itc/self`: this tile.
    SelfInfo,
    /// `itc/physics`: this tile's physics id.
    Physics,
    /// `itc/capture`: records of every packet received, sent or dropped.
    Capture,
}

impl FileKind {
    /// Whether the tile serves this file: every service file but those of
    /// services without one (0, and hello, which `itcd` keeps to itself).
    pub fn exists(self) -> bool {
        match self {
            FileKind::Svc(_, n) | FileKind::BatchSvc(_, n) => FILE_SERVICES.contains(&n),
            _ => true,
        }
    }

    /// The plain file of a batched twin (a file and its twin are one
    /// channel), and whether this kind is the twin; other kinds are
    /// their own plain file.
    pub fn plain(self) -> (FileKind, bool) {
        match self {
            FileKind::BatchMfm(s) => (FileKind::Mfm(s), true),
            FileKind::BatchSvc(s, n) => (FileKind::Svc(s, n), true),
            other => (other, false),
        }
    }
}

/// An open file: the number the tile gave out when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u64);

bitflags::bitflags! {
    /// How a file was opened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Access: u8 {
        /// For reading: only readers take inbound packets.
        const READ = 1 << 0;
        /// For writing.
        const WRITE = 1 << 1;
    }
}

bitflags::bitflags! {
    /// What a poll of an open file reports.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub struct Readiness: u8 {
        /// A read would not wait.
        const READABLE = 1 << 0;
        /// A write of the longest packet the queues take would not wait.
        const WRITABLE = 1 << 1;
        /// The file cannot be used: not open, or an MFM file gone stale
        /// with a change of physics id.
        const ERROR = 1 << 2;
    }
}

/// Why a file operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The tile serves no such file (`ENOENT`).
    NotFound,
    /// A packet file is already open elsewhere (`EBUSY`).
    Busy,
    /// Not now: no packet to read, no room to write, or a packet file
    /// whose holder just closed it (`EAGAIN`). The file is reported
    /// changed when it may be worth trying again; an open, shortly.
    WouldBlock,
    /// Not open for that (writing a read-only file) (`EACCES`).
    Denied,
    /// Not an open file, or not one this call applies to (`EBADF`).
    BadFile,
    /// Not a valid packet or physics id for this file (`EINVAL`).
    Invalid,
    /// A packet of `len` bytes where at most `max` fit: a write longer
    /// than a packet or an outbound queue, or a read buffer shorter than
    /// the next packet (`EMSGSIZE`).
    TooLong {
        /// Length of the packet.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// No neighbour to send to: absent, or for MFM not compatible
    /// (`EHOSTUNREACH`).
    Unreachable,
    /// An MFM file opened before the physics id changed (`ESTALE`).
    Stale,
}

impl Error {
    /// The `errno` value that reports this error to a caller of the file.
    pub fn errno(self) -> i32 {
        match self {
            Error::NotFound => libc::ENOENT,
            Error::Busy => libc::EBUSY,
            Error::WouldBlock => libc::EAGAIN,
            Error::Denied => libc::EACCES,
            Error::BadFile => libc::EBADF,
            Error::Invalid => libc::EINVAL,
            Error::TooLong { .. } => libc::EMSGSIZE,
            Error::Unreachable => libc::EHOSTUNREACH,
            Error::Stale => libc::ESTALE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("no such file"),
            Error::Busy => f.write_str("packet file open elsewhere"),
            Error::WouldBlock => f.write_str("not now, try again"),
            Error::Denied => f.write_str("not open for that"),
            Error::BadFile => f.write_str("not an open file for this"),
            Error::Invalid => f.write_str("invalid packet or physics id"),
            Error::TooLong { len, max } => write!(f, "{len} bytes where at most {max} fit"),
            Error::Unreachable => f.write_str("no neighbour to send to"),
            Error::Stale => f.write_str("physics id changed since open"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_services_with_files_exist() {
        assert!(!FileKind::Svc(None, 0).exists());
        assert!(!FileKind::Svc(Some(Dir::ET), 1).exists());
        assert!(FileKind::Svc(None, 2).exists());
        assert!(FileKind::Svc(None, 63).exists());
        assert!(!FileKind::Svc(None, 64).exists());
        assert!(FileKind::Mfm(Some(Dir::NW)).exists());
        assert!(!FileKind::BatchSvc(None, 1).exists());
        assert!(FileKind::BatchSvc(Some(Dir::ET), 8).exists());
    }

    #[test]
    fn twins_share_their_plain_kind() {
        assert_eq!(
            FileKind::BatchSvc(Some(Dir::ET), 8).plain(),
            (FileKind::Svc(Some(Dir::ET), 8), true)
        );
        assert_eq!(
            FileKind::BatchMfm(None).plain(),
            (FileKind::Mfm(None), true)
        );
        assert_eq!(FileKind::Mfm(None).plain(), (FileKind::Mfm(None), false));
    }
}
