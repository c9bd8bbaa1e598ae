//! What can go wrong in `itc`, and the one-line messages people see.
//!
//! Every failure on a file of the tree names the file and says what the
//! errno means for that file ([`explain`] is the only place that knows);
//! the errno's symbolic name ends the line so scripts and searches find it.
//! Every error exits with status 2, except a closed standard output, which
//! ends the program quietly.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use itc_files::client_error::FilesError;

/// The exit status for usage and I/O errors.
pub const EXIT_ERROR: u8 = 2;

/// A failure that ends the command.
#[derive(Debug)]
pub enum Error {
    /// Opening, reading or writing a file of the tree failed.
    File {
        /// The file.
        path: PathBuf,
        /// The mount point, named in hints.
        mount: PathBuf,
        /// What the system call reported.
        source: io::Error,
    },
    /// A file of the tree ended where a packet was expected.
    Eof(PathBuf),
    /// A text file of the tree lacks something `itc` relies on.
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        what: String,
    },
    /// The command line asks for something impossible.
    Usage(String),
    /// Blocking or unblocking SIGINT failed.
    Signals(Errno),
    /// Standard output could not be written (other than a closed pipe).
    Stdout(io::Error),
    /// Standard output was closed by its reader (`itc events | head -1`).
    StdoutClosed,
    /// The file `itc capture -w` writes could not be created or written.
    Output {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// An `itc files` command failed.
    Files(FilesError),
}

impl From<FilesError> for Error {
    fn from(e: FilesError) -> Error {
        Error::Files(e)
    }
}

impl Error {
    /// A failed system call on `path`, a file under `mount`.
    pub fn file(path: &Path, mount: &Path, source: io::Error) -> Error {
        Error::File {
            path: path.to_path_buf(),
            mount: mount.to_path_buf(),
            source,
        }
    }

    /// The errno of a failed system call, if this is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::File { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }

    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            Error::StdoutClosed => 0,
            _ => EXIT_ERROR,
        }
    }

    /// Whether the error is reported at all (a closed pipe is not).
    pub fn is_quiet(&self) -> bool {
        matches!(self, Error::StdoutClosed)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::File {
                path,
                mount,
                source,
            } => match source.raw_os_error() {
                Some(raw) => write!(
                    f,
                    "{}: {}",
                    shown(path),
                    explain(Errno::from_raw(raw), path, mount)
                ),
                None => write!(f, "{}: {source}", shown(path)),
            },
            Error::Eof(path) => write!(
                f,
                "{}: end of file where a packet was expected: did itcd stop?",
                shown(path)
            ),
            Error::Malformed { path, what } => write!(f, "{}: {what}", shown(path)),
            Error::Usage(msg) => f.write_str(msg),
            Error::Signals(e) => write!(f, "handling SIGINT: {}", e.desc()),
            Error::Stdout(e) => write!(f, "standard output: {e}"),
            Error::StdoutClosed => f.write_str("standard output closed"),
            Error::Output { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Files(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// What `errno` means for `path`, a file of the tree mounted at `mount`,
/// ending with the errno's name in parentheses.
pub fn explain(errno: Errno, path: &Path, mount: &Path) -> String {
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mfm = file == "mfm";
    let meaning = match errno {
        Errno::ENOENT => match tree_near(mount) {
            Some(tree) => format!(
                "no such file: {} is not a tree, but {} is: use --mount {}",
                shown(mount),
                shown(&tree),
                shown(&tree)
            ),
            None => format!(
                "no such file: is itcd running and mounted at {}?",
                shown(mount)
            ),
        },
        Errno::ENOTDIR => format!(
            "not a directory on the way: is itcd mounted at {}?",
            shown(mount)
        ),
        Errno::ENOTCONN if dead_mount(mount) => format!(
            "itcd is gone but its mount remains: restart itcd, or unmount with fusermount3 -u {}",
            shown(mount)
        ),
        // An open file's itcd stopped; it may unmount, or be replaced, at
        // any moment.
        Errno::ENOTCONN => format!(
            "itcd stopped serving {}: run the command again once it is back",
            shown(mount)
        ),
        Errno::EHOSTUNREACH if mfm => unreachable_mfm(path, mount),
        Errno::EHOSTUNREACH => "no neighbour in that direction".to_string(),
        Errno::EBUSY => match crate::holders::channel_holders(path).as_slice() {
            [] => "busy: another process has this file open".to_string(),
            held => {
                let names: Vec<String> = held.iter().map(ToString::to_string).collect();
                format!("busy: already open in {}", names.join(", "))
            }
        },
        Errno::ESTALE => "stale after a physics change, reopen".to_string(),
        Errno::EMSGSIZE => "packet too long: at most 255 bytes including the header".to_string(),
        Errno::EINVAL if file == "physics" => {
            "not a valid physics id: at most 64 bytes of UTF-8, no control characters".to_string()
        }
        Errno::EINVAL => "packet header not valid for this file".to_string(),
        Errno::EACCES | Errno::EPERM => {
            "permission denied: join the itc group (or run as root) to use the tree".to_string()
        }
        Errno::EAGAIN => "would block: nothing to read or no room to write".to_string(),
        Errno::EINTR => "interrupted".to_string(),
        other => lower_first(other.desc()),
    };
    format!("{meaning} ({errno:?})")
}

/// Why an MFM write to `path` found no neighbour: none is present, or
/// the one present has another physics id. For `tile/<D>/mfm` its
/// `tile/<D>/status` tells which (read now, so it may have changed since
/// the write); for `itc/mfm`, or when the status cannot be read, both
/// remain possible.
fn unreachable_mfm(path: &Path, mount: &Path) -> String {
    const EITHER: &str = "no neighbour, or none with the same physics, in that direction";
    let tiles = mount.join("tile");
    let Some(dir) = path
        .strip_prefix(&tiles)
        .ok()
        .and_then(|rest| rest.components().next())
    else {
        return EITHER.to_string();
    };
    let status_path = tiles.join(dir).join("status");
    let status = std::fs::read_to_string(status_path).unwrap_or_default();
    let kv = crate::text_file::KeyValues::parse(path, &status);
    match (kv.get("peer"), kv.get("physics")) {
        (Some("absent"), _) => "no neighbour in that direction".to_string(),
        (Some("present"), Some("incompatible")) => {
            let self_info = std::fs::read_to_string(mount.join("itc/self")).unwrap_or_default();
            let ours = crate::text_file::KeyValues::parse(path, &self_info);
            format!(
                "the neighbour in that direction ({}) has another physics id \
                 (its: {}, this tile's: {}): MFM flows only between equal ids",
                kv.get("peer_name").unwrap_or("?"),
                crate::show::physics_id(kv.get("peer_physics").unwrap_or("")),
                crate::show::physics_id(ours.get("physics").unwrap_or("")),
            )
        }
        _ => EITHER.to_string(),
    }
}

/// A served tree next to `mount`, when `mount` is not one: its parent
/// (`--mount /run/itc/itc`), or the first tile of a `tile-sim` grid
/// (`--mount /tmp/grid` rather than `/tmp/grid/r0c0`).
fn tree_near(mount: &Path) -> Option<PathBuf> {
    let is_tree = |dir: &Path| dir.join("itc/status").is_file();
    if let Some(parent) = mount.parent().filter(|p| is_tree(p)) {
        return Some(parent.to_path_buf());
    }
    let mut tiles: Vec<PathBuf> = std::fs::read_dir(mount)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_tree(p))
        .collect();
    tiles.sort();
    tiles.into_iter().next()
}

/// Whether `mount` is a FUSE mount whose daemon is gone: `stat` on it
/// fails `ENOTCONN` (until the daemon's helper or someone unmounts it).
fn dead_mount(mount: &Path) -> bool {
    std::fs::metadata(mount).is_err_and(|e| e.raw_os_error() == Some(Errno::ENOTCONN as i32))
}

/// `path` for a one-line message: control characters (a newline in a
/// directory's name) escaped, as `\n`.
pub fn shown(path: &Path) -> String {
    path.to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `desc` with its first letter in lower case, as the rest of the line,
/// unless it starts an abbreviation ("I/O error").
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

    fn line(errno: Errno, path: &str) -> String {
        Error::file(
            Path::new(path),
            Path::new("/run/itc"),
            io::Error::from_raw_os_error(errno as i32),
        )
        .to_string()
    }

    #[test]
    fn names_the_file_the_meaning_and_the_errno() {
        assert_eq!(
            line(Errno::EHOSTUNREACH, "/run/itc/tile/ET/svc/02"),
            "/run/itc/tile/ET/svc/02: no neighbour in that direction (EHOSTUNREACH)"
        );
        assert_eq!(
            line(Errno::EBUSY, "/run/itc/itc/mfm"),
            "/run/itc/itc/mfm: busy: another process has this file open (EBUSY)"
        );
        assert_eq!(
            line(Errno::ENOENT, "/run/itc/itc/status"),
            "/run/itc/itc/status: no such file: is itcd running and mounted at /run/itc? (ENOENT)"
        );
        assert_eq!(
            line(Errno::ESTALE, "/run/itc/itc/mfm"),
            "/run/itc/itc/mfm: stale after a physics change, reopen (ESTALE)"
        );
    }

    #[test]
    fn einval_depends_on_the_file() {
        assert!(line(Errno::EINVAL, "/run/itc/itc/svc/20")
            .ends_with("packet header not valid for this file (EINVAL)"));
        assert!(line(Errno::EINVAL, "/run/itc/itc/physics").contains("physics id"));
    }

    #[test]
    fn permission_errors_mention_the_group() {
        assert!(line(Errno::EACCES, "/run/itc/itc/mfm").contains("itc group"));
        assert!(line(Errno::EPERM, "/run/itc/itc/mfm").ends_with("(EPERM)"));
    }

    #[test]
    fn enotconn_blames_the_mount_only_when_it_is_dead() {
        // A plain directory: no dead mount there.
        let mount = std::env::temp_dir().join(format!("itc-errors-{}", std::process::id()));
        std::fs::create_dir_all(&mount).unwrap();
        let path = mount.join("itc/events");
        let line = Error::file(
            &path,
            &mount,
            io::Error::from_raw_os_error(Errno::ENOTCONN as i32),
        )
        .to_string();
        std::fs::remove_dir(&mount).unwrap();
        assert_eq!(
            line,
            format!(
                "{}: itcd stopped serving {}: run the command again once it is back (ENOTCONN)",
                path.display(),
                mount.display()
            )
        );
    }

    #[test]
    fn other_errnos_use_the_system_text() {
        assert_eq!(line(Errno::EIO, "/x"), "/x: I/O error (EIO)");
        assert_eq!(line(Errno::ENODEV, "/x"), "/x: no such device (ENODEV)");
    }

    #[test]
    fn a_closed_pipe_is_quiet_and_not_a_failure() {
        assert!(Error::StdoutClosed.is_quiet());
        assert_eq!(Error::StdoutClosed.exit_status(), 0);
        assert_eq!(Error::Usage("x".into()).exit_status(), EXIT_ERROR);
    }
}
