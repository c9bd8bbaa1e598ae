//! What can go wrong for a client of the daemon (`itc files`, `tile-sim
//! ctl`), as one line each: the daemon cannot be
//! reached (naming the store and the socket, and what to check), a key or
//! the file to publish cannot be used, the daemon refused (its own words),
//! or the exchange broke.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::keys::KeyError;

/// A failure of a request to the daemon.
#[derive(Debug)]
pub enum FilesError {
    /// The daemon's control socket cannot be reached.
    NoDaemon {
        /// The store the socket is looked for in.
        store: PathBuf,
        /// The socket.
        socket: PathBuf,
        /// What `connect` reported.
        source: io::Error,
    },
    /// A key file cannot be used.
    Key(KeyError),
    /// The file to publish cannot be read.
    Content {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The daemon refused or failed the request; its message.
    Refused(String),
    /// The exchange with the daemon broke.
    Exchange {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        what: String,
    },
    /// The arguments do not make a request (no version to delete...).
    Usage(String),
}

impl fmt::Display for FilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilesError::NoDaemon {
                store,
                socket,
                source,
            } => {
                let s = store.display();
                let why = match source.kind() {
                    io::ErrorKind::NotFound => format!(
                        "no such socket: is itc-files running with --store {s}? (or set --store or $ITC_STORE)"
                    ),
                    io::ErrorKind::ConnectionRefused => {
                        "the daemon that made it is gone: start itc-files again".to_string()
                    }
                    io::ErrorKind::PermissionDenied => format!(
                        "permission denied: use the store's group (ls -l {s}) or run as root"
                    ),
                    _ => source.to_string(),
                };
                write!(
                    f,
                    "no itc-files daemon for the store {s}: {}: {why}",
                    socket.display()
                )
            }
            FilesError::Key(e) => write!(f, "{e}"),
            FilesError::Content { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            FilesError::Refused(m) => write!(f, "itc-files: {m}"),
            FilesError::Exchange { socket, what } => write!(f, "{}: {what}", socket.display()),
            FilesError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FilesError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_daemon_names_the_store_and_the_socket() {
        let e = FilesError::NoDaemon {
            store: "/var/lib/itc-files".into(),
            socket: "/var/lib/itc-files/control.sock".into(),
            source: io::ErrorKind::NotFound.into(),
        };
        let line = e.to_string();
        assert!(line.contains("/var/lib/itc-files/control.sock"), "{line}");
        assert!(line.contains("--store /var/lib/itc-files"), "{line}");
        assert!(!line.contains('\n'));
    }
}
