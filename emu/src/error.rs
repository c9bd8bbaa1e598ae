//! Why an emulator could not start. Each message names what to check.
//!
//! [`Wires::start`](crate::Wires::start) returns these inside an
//! `io::Error` (recover them with `io::Error::get_ref` and `downcast_ref`);
//! configuration mistakes have kind `InvalidInput`, system failures the
//! kind of the underlying error.
#![deny(unsafe_code)]

use std::io;
use std::path::PathBuf;

use itc_proto::Dir;

/// A reason the emulator did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A tile name that cannot be part of a socket file name, or a repeat.
    #[error(
        "tile name {0:?} is not usable: names must be non-empty, unique, and free of '/' and NUL"
    )]
    BadTileName(String),
    /// Two wires at the same tile end.
    #[error("tile {tile} has two wires toward {dir}")]
    WiredTwice {
        /// The tile's name.
        tile: String,
        /// The direction wired twice.
        dir: Dir,
    },
    /// A loss or corruption probability outside `0..=1`.
    #[error("{what} probability {value} is outside 0..=1")]
    BadProbability {
        /// `"loss"` or `"corrupt"`.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// A socket path longer than a UNIX socket address holds.
    #[error(
        "socket path {} is {len} bytes, more than the 107 a UNIX socket address holds; \
         use a shorter socket directory or shorter tile names",
        path.display()
    )]
    PathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// The socket directory was missing and could not be created.
    #[error("cannot create socket directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Something other than a socket is in the way.
    #[error("{} exists and is not a socket; remove it or use another socket directory", .0.display())]
    NotASocket(PathBuf),
    /// A stale socket file could not be inspected or removed.
    #[error("cannot remove stale socket {}: {source}", path.display())]
    RemoveStale {
        /// The socket file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Creating, binding or listening on a PRU socket failed.
    #[error("cannot listen on seqpacket socket {}: {source}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Creating the poll instance or registering a socket failed.
    #[error("cannot set up the emulator's event loop: {0}")]
    EventLoop(#[source] io::Error),
    /// The loop's thread could not be started.
    #[error("cannot start the emulator thread: {0}")]
    Spawn(#[source] io::Error),
}

impl From<StartError> for io::Error {
    fn from(e: StartError) -> io::Error {
        let kind = match &e {
            StartError::BadTileName(_)
            | StartError::WiredTwice { .. }
            | StartError::BadProbability { .. }
            | StartError::PathTooLong { .. } => io::ErrorKind::InvalidInput,
            StartError::NotASocket(_) => io::ErrorKind::AlreadyExists,
            StartError::CreateDir { source, .. }
            | StartError::RemoveStale { source, .. }
            | StartError::Bind { source, .. }
            | StartError::EventLoop(source)
            | StartError::Spawn(source) => source.kind(),
        };
        io::Error::new(kind, e)
    }
}
