//! The emulator's one error type: why a model did not start, or could not
//! answer a request. Each message names what to check.
//!
//! [`Error::kind`] sorts them as `io::ErrorKind`s (configuration mistakes
//! are `InvalidInput`, system failures keep the kind of the underlying
//! error), and `From<Error> for io::Error` wraps them with that kind.
#![deny(unsafe_code)]

use std::io;
use std::path::PathBuf;

use itc_proto::Dir;

/// Why a model did not start, or could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A firmware instance could not be made.
    #[error("cannot create an instance of the PRU firmware's host build: {0}")]
    Firmware(#[source] pru_firmware::Error),
    /// A setting the model cannot honour.
    #[error("the {model} link model has no {what}; leave it at zero")]
    Unsupported {
        /// The model's name.
        model: &'static str,
        /// The setting.
        what: &'static str,
    },
    /// Firmware counters asked of a model that runs no firmware.
    #[error("no firmware counters: the {model} link model runs no firmware")]
    NoFirmware {
        /// The model's name.
        model: &'static str,
    },
    /// The model's loop did not answer a request in time.
    #[error("the {model} link model's loop did not answer")]
    NoAnswer {
        /// The model's name.
        model: &'static str,
    },
}

impl Error {
    /// The `io::ErrorKind` this error is reported as.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::BadTileName(_)
            | Error::WiredTwice { .. }
            | Error::BadProbability { .. }
            | Error::PathTooLong { .. }
            | Error::Unsupported { .. } => io::ErrorKind::InvalidInput,
            Error::NotASocket(_) => io::ErrorKind::AlreadyExists,
            Error::CreateDir { source, .. }
            | Error::RemoveStale { source, .. }
            | Error::Bind { source, .. }
            | Error::EventLoop(source)
            | Error::Spawn(source) => source.kind(),
            Error::Firmware(pru_firmware::Error::OutOfMemory) => io::ErrorKind::OutOfMemory,
            Error::Firmware(_) => io::ErrorKind::Other,
            Error::NoFirmware { .. } => io::ErrorKind::Unsupported,
            Error::NoAnswer { .. } => io::ErrorKind::TimedOut,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
