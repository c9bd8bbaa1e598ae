//! The one error type of the crate, and what each errno means for a
//! service's packet file.
//!
//! Every variant that concerns the packet file names it; every variant that
//! carries an errno says what that errno means for the file (not the
//! system's generic text) and ends with the errno's symbolic name in
//! parentheses, so logs and searches find it: `/run/itc/itc/svc/20: no such
//! file: is itcd running and serving /run/itc? (ENOENT)`.

use std::io;
use std::path::{Path, PathBuf};

use itc_proto::Dir;
use nix::errno::Errno;

/// What went wrong; see the module documentation for the message format.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service number has no packet file in the tree.
    #[error("service {0} has no packet file: services 2..=63 do (0 is null, 1 belongs to itcd)")]
    BadService(u8),
    /// Opening the packet file failed.
    #[error("{}: {}", path.display(), meaning(*errno, path))]
    Open {
        /// The packet file.
        path: PathBuf,
        /// What `open()` reported.
        errno: Errno,
    },
    /// Reading the packet file failed for a reason other than the tree
    /// going away (which is reported as Disconnects, then survived).
    #[error("{}: reading: {}", path.display(), meaning(*errno, path))]
    Read {
        /// The packet file.
        path: PathBuf,
        /// What `read()` reported.
        errno: Errno,
    },
    /// The event loop could not watch the packet file.
    #[error("{}: watching it in the event loop: {source}", path.display())]
    Register {
        /// The packet file.
        path: PathBuf,
        /// What epoll reported.
        source: io::Error,
    },
    /// Creating or waiting in the event loop failed.
    #[error("event loop: {0}")]
    Poll(#[source] io::Error),
    /// A payload does not fit one packet.
    #[error("{}: payload of {len} bytes is too long: at most {max} fit one packet (EMSGSIZE)", path.display(), max = crate::MAX_PAYLOAD)]
    TooLong {
        /// The packet file.
        path: PathBuf,
        /// Length of the payload.
        len: usize,
    },
    /// No neighbour is present in that direction.
    #[error("{}: no neighbour at {dir} (EHOSTUNREACH)", path.display())]
    NoNeighbour {
        /// The packet file.
        path: PathBuf,
        /// The direction asked for.
        dir: Dir,
    },
    /// The outbound queue of that direction is full: the caller should
    /// hold back until [`crate::Handler::on_room`] for `dir`.
    #[error("{}: the queue to {dir} is full ({limit} packets): wait for room (EAGAIN)", path.display())]
    QueueFull {
        /// The packet file.
        path: PathBuf,
        /// The direction asked for.
        dir: Dir,
        /// The queue's bound in packets.
        limit: usize,
    },
    /// The tree is not being served (`itcd` stopped or restarting); the
    /// service reopens the file by itself and reports Connects when the
    /// tree is back.
    #[error("{}: itcd is not serving the tree; reopening (ENOTCONN)", path.display())]
    Offline {
        /// The packet file.
        path: PathBuf,
    },
    /// A request with this key is already outstanding (at most one is).
    #[error("{}: request {key} is already outstanding", path.display())]
    Outstanding {
        /// The packet file.
        path: PathBuf,
        /// The key, as `{:?}` shows it.
        key: String,
    },
}

impl Error {
    /// The errno behind the error, when a system call failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Open { errno, .. } | Error::Read { errno, .. } => Some(*errno),
            Error::Register { source, .. } | Error::Poll(source) => {
                source.raw_os_error().map(Errno::from_raw)
            }
            Error::TooLong { .. } => Some(Errno::EMSGSIZE),
            Error::NoNeighbour { .. } => Some(Errno::EHOSTUNREACH),
            Error::QueueFull { .. } => Some(Errno::EAGAIN),
            Error::Offline { .. } => Some(Errno::ENOTCONN),
            Error::BadService(_) | Error::Outstanding { .. } => None,
        }
    }
}

/// The mount point of a packet file `MOUNT/itc/svc/NN`.
fn mount_of(path: &Path) -> &Path {
    path.ancestors().nth(3).unwrap_or(path)
}

/// What `errno` means for the packet file at `path`, ending with the
/// errno's name in parentheses.
pub fn meaning(errno: Errno, path: &Path) -> String {
    let mount = mount_of(path).display();
    let text = match errno {
        Errno::ENOENT | Errno::ENOTDIR => {
            format!("no such file: is itcd running and serving {mount}?")
        }
        Errno::ENOTCONN => format!("itcd stopped serving {mount}"),
        Errno::ECONNABORTED => format!("itcd's connection to {mount} was aborted"),
        Errno::ENODEV | Errno::ENXIO => format!("the tree at {mount} is gone"),
        Errno::EBUSY => "busy: another process has this service's file open".to_string(),
        Errno::EACCES | Errno::EPERM => {
            "permission denied: join the itc group (or run as root) to use the tree".to_string()
        }
        Errno::EHOSTUNREACH => "no neighbour in that direction".to_string(),
        Errno::EINVAL => "packet header not valid for this file".to_string(),
        Errno::EMSGSIZE => "packet too long: at most 255 bytes including the header".to_string(),
        Errno::EAGAIN => "would block: nothing to read or no room to write".to_string(),
        other => lower_first(other.desc()),
    };
    format!("{text} ({errno:?})")
}

/// `desc` with its first letter in lower case, unless it starts an
/// abbreviation ("I/O error").
fn lower_first(desc: &str) -> String {
    let mut chars = desc.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => {
            first.to_lowercase().chain(desc.chars().skip(1)).collect()
        }
        _ => desc.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc20() -> PathBuf {
        PathBuf::from("/run/itc/itc/svc/20")
    }

    #[test]
    fn open_errors_name_the_file_the_meaning_and_the_errno() {
        let e = Error::Open {
            path: svc20(),
            errno: Errno::ENOENT,
        };
        assert_eq!(
            e.to_string(),
            "/run/itc/itc/svc/20: no such file: is itcd running and serving /run/itc? (ENOENT)"
        );
        let e = Error::Open {
            path: svc20(),
            errno: Errno::EBUSY,
        };
        assert!(e
            .to_string()
            .ends_with("another process has this service's file open (EBUSY)"));
        assert_eq!(e.errno(), Some(Errno::EBUSY));
    }

    #[test]
    fn send_refusals_carry_their_errno_meaning() {
        let e = Error::QueueFull {
            path: svc20(),
            dir: Dir::ET,
            limit: 32,
        };
        assert_eq!(
            e.to_string(),
            "/run/itc/itc/svc/20: the queue to ET is full (32 packets): wait for room (EAGAIN)"
        );
        assert_eq!(e.errno(), Some(Errno::EAGAIN));
        let e = Error::NoNeighbour {
            path: svc20(),
            dir: Dir::NW,
        };
        assert_eq!(
            e.to_string(),
            "/run/itc/itc/svc/20: no neighbour at NW (EHOSTUNREACH)"
        );
    }

    #[test]
    fn other_errnos_use_the_system_text() {
        assert_eq!(meaning(Errno::EIO, &svc20()), "I/O error (EIO)");
        assert_eq!(
            meaning(Errno::ENOTCONN, &svc20()),
            "itcd stopped serving /run/itc (ENOTCONN)"
        );
    }
}
