//! The control socket of a running grid, `DIR/.sim/ctl`: the protocol and
//! the server.
//!
//! A UNIX stream socket. A client sends one request line (UTF-8, at most
//! [`MAX_REQUEST`] bytes, words separated by blanks); the server answers
//! `ok` followed by the result lines, or one line `error: MESSAGE`, and
//! closes the connection. A connection closed without a request (a
//! liveness probe) gets no answer.
//!
//! | request | effect | result lines |
//! |---|---|---|
//! | `cut TILE D` | cut the wire at TILE's D; both ends lose sync | none |
//! | `restore TILE D` | reconnect it; both ends regain sync | none |
//! | `stop TILE` | SIGTERM TILE's `itc-files` (with `--files`), then its `itcd`, waiting for each (SIGKILL after a deadline); tree unmounted | none |
//! | `start TILE` | start those of the two that do not run, `itcd` first; wait until `itc/self` is served and `itc-files` is ready | none |
//! | `list` | | one per tile: `NAME PID STATE MOUNT D:up ... [files:PID]` |
//! | `firmware TILE` | (`--link firmware` only) | one per wired direction: `D name=value ...`, the firmware's counters of TILE's end |
//! | `publish TILE FILE [--name N]` | (`--files` only) sign FILE (an absolute path) with the grid's key and publish it from TILE | the daemon's answer |
//! | `delete TILE NAME` | (`--files` only) sign a deletion of every version of NAME TILE knows, from TILE | the daemon's answer |
//! | `files` | (`--files` only) | one per tile and name: `TILE NAME STATE` (`live v5`, `fetching v6 12/40 pieces`, `deleted up to v6`) |
//!
//! D is a direction name (ET SE SW WT NW NE) and must have a wire. In
//! `list`, PID is `-` when no `itcd` runs, STATE is `running`, `stopped`,
//! `exited` (died on its own) or `stopping`, and the links are listed for
//! the wired directions only, `up` unless cut; with `--files`, `files:`
//! ends the line with the pid of the tile's `itc-files`, or its state when
//! none runs. `firmware` names the
//! counters as `struct itc_fw_dir_stats` does (`pru-firmware/include/itc_fw.h`).
//!
//! One thread serves the connections one at a time. A client that sends
//! no complete line within [`IO_TIMEOUT`] in all (however it trickles its
//! bytes) is answered with an error, and its answer gets as long to be
//! taken, so no client holds the server for longer.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use itc_emu::TileStats;
use itc_proto::Dir;

use crate::files::{self, Layout};
use crate::process::Status;
use crate::state::Shared;
use crate::tiles::Tile;

/// The longest request line accepted, newline included.
pub const MAX_REQUEST: usize = 1024;

/// How long the server waits for a client to send its request or take its
/// answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One line naming every request, for error messages and help.
pub const COMMANDS: &str =
    "cut TILE D, restore TILE D, stop TILE, start TILE, list, firmware TILE, \
     publish TILE FILE [--name N], delete TILE NAME, files";

/// The control socket of the grid in `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(".sim").join("ctl")
}

/// A parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Cut the wire at a tile's direction.
    Cut {
        /// The tile.
        tile: String,
        /// The direction.
        dir: Dir,
    },
    /// Reconnect the wire at a tile's direction.
    Restore {
        /// The tile.
        tile: String,
        /// The direction.
        dir: Dir,
    },
    /// Stop a tile's `itcd`.
    Stop {
        /// The tile.
        tile: String,
    },
    /// Start a tile's `itcd` again.
    Start {
        /// The tile.
        tile: String,
    },
    /// One line per tile.
    List,
    /// The firmware's counters of a tile, one line per wired direction.
    Firmware {
        /// The tile.
        tile: String,
    },
    /// Publish a file from a tile.
    Publish {
        /// The tile.
        tile: String,
        /// The file, an absolute path.
        file: PathBuf,
        /// Its name on the tiles, if not the file's own.
        name: Option<String>,
    },
    /// Delete a name from a tile.
    Delete {
        /// The tile.
        tile: String,
        /// The name.
        name: String,
    },
    /// Every tile's files.
    Files,
}

impl FromStr for Request {
    type Err = String;

    fn from_str(line: &str) -> Result<Request, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let usage = |u: &str| Err(format!("usage: {u}"));
        match words.as_slice() {
            [] => Err(format!("empty request (commands: {COMMANDS})")),
            ["cut", tile, dir] => Ok(Request::Cut {
                tile: tile.to_string(),
                dir: parse_dir(dir)?,
            }),
            ["cut", ..] => usage("cut TILE D"),
            ["restore", tile, dir] => Ok(Request::Restore {
                tile: tile.to_string(),
                dir: parse_dir(dir)?,
            }),
            ["restore", ..] => usage("restore TILE D"),
            ["stop", tile] => Ok(Request::Stop {
                tile: tile.to_string(),
            }),
            ["stop", ..] => usage("stop TILE"),
            ["start", tile] => Ok(Request::Start {
                tile: tile.to_string(),
            }),
            ["start", ..] => usage("start TILE"),
            ["list"] => Ok(Request::List),
            ["list", ..] => usage("list"),
            ["firmware", tile] => Ok(Request::Firmware {
                tile: tile.to_string(),
            }),
            ["firmware", ..] => usage("firmware TILE"),
            ["publish", tile, file, rest @ ..] => {
                let name = match rest {
                    [] => None,
                    ["--name", n] => Some(n.to_string()),
                    _ => return usage(PUBLISH_USAGE),
                };
                let file = PathBuf::from(file);
                if !file.is_absolute() {
                    return Err(format!(
                        "publish needs an absolute path, not {}",
                        file.display()
                    ));
                }
                Ok(Request::Publish {
                    tile: tile.to_string(),
                    file,
                    name,
                })
            }
            ["publish", ..] => usage(PUBLISH_USAGE),
            ["delete", tile, name] => Ok(Request::Delete {
                tile: tile.to_string(),
                name: name.to_string(),
            }),
            ["delete", ..] => usage("delete TILE NAME"),
            ["files"] => Ok(Request::Files),
            ["files", ..] => usage("files"),
            [other, ..] => Err(format!("unknown command {other:?} (commands: {COMMANDS})")),
        }
    }
}

const PUBLISH_USAGE: &str = "publish TILE FILE [--name N]";

fn parse_dir(word: &str) -> Result<Dir, String> {
    word.parse()
        .map_err(|e| format!("bad direction {word:?}: {e}"))
}

/// The text of an answer: `ok` and the lines, or `error: MESSAGE`.
pub fn format_answer(result: &Result<Vec<String>, String>) -> String {
    match result {
        Ok(lines) => {
            let mut text = String::from("ok\n");
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
            text
        }
        // One line, whatever the message holds.
        Err(message) => format!("error: {}\n", message.replace('\n', " ")),
    }
}

/// Carries out `request` on the grid; the result lines or the error.
pub fn execute(request: &Request, shared: &Shared) -> Result<Vec<String>, String> {
    match request {
        Request::Cut { tile, dir } | Request::Restore { tile, dir } => {
            let state = shared.lock();
            let id = state.tile(tile)?.id;
            let stats = state.sim.stats();
            if !stats.link(id, *dir).wired {
                return Err(format!("{tile} has no wire toward {dir}"));
            }
            if matches!(request, Request::Cut { .. }) {
                state.sim.cut(id, *dir);
            } else {
                state.sim.restore(id, *dir);
            }
            Ok(Vec::new())
        }
        Request::Stop { tile } => shared.stop_tile(tile).map(|()| Vec::new()),
        Request::Start { tile } => shared.start_tile(tile).map(|()| Vec::new()),
        Request::List => {
            let state = shared.lock();
            let stats = state.sim.stats();
            Ok(state
                .tiles
                .iter()
                .map(|t| list_line(t, &stats.tiles[t.id.0]))
                .collect())
        }
        Request::Firmware { tile } => {
            let state = shared.lock();
            let id = state.tile(tile)?.id;
            let stats = state.sim.stats();
            Dir::ALL
                .iter()
                .filter(|d| stats.link(id, **d).wired)
                .map(|d| {
                    let counters = state
                        .sim
                        .firmware_counters(id, *d)
                        .map_err(|e| e.to_string())?;
                    Ok(format!("{d} {counters}"))
                })
                .collect()
        }
        Request::Publish { tile, file, name } => {
            let layout = files_layout(shared, tile)?;
            layout.publish(tile, file, name.as_deref()).map(|l| vec![l])
        }
        Request::Delete { tile, name } => {
            let layout = files_layout(shared, tile)?;
            layout.delete(tile, name).map(|l| vec![l])
        }
        Request::Files => {
            let (layout, tiles) = {
                let state = shared.lock();
                let layout = state.files.clone().ok_or_else(no_files)?;
                let tiles: Vec<(String, bool)> = state
                    .tiles
                    .iter()
                    .map(|t| {
                        let up = t.files.as_ref().map(|f| f.status());
                        (t.name.clone(), up == Some(Status::Running))
                    })
                    .collect();
                (layout, tiles)
            };
            Ok(tiles
                .iter()
                .flat_map(|(tile, up)| {
                    let status = if *up {
                        layout.status(tile)
                    } else {
                        Err("itc-files not running".to_string())
                    };
                    files::lines(tile, status)
                })
                .collect())
        }
    }
}

fn no_files() -> String {
    "this grid runs without --files".to_string()
}

/// The grid's file layout, once `tile` is known to be a tile of it whose
/// `itc-files` runs. The lock is released before the daemon is asked.
fn files_layout(shared: &Shared, tile: &str) -> Result<Layout, String> {
    let state = shared.lock();
    let layout = state.files.clone().ok_or_else(no_files)?;
    let t = state.tile(tile)?;
    match t.files.as_ref().map(|f| f.status()) {
        Some(Status::Running) => Ok(layout),
        Some(other) => Err(format!("the itc-files of {tile} is {other}")),
        None => Err(no_files()),
    }
}

/// `NAME PID STATE MOUNT D:up ...`, columns aligned for a small grid.
fn list_line(tile: &Tile, stats: &TileStats) -> String {
    let pid = tile
        .pid()
        .map_or_else(|| "-".to_string(), |p| p.to_string());
    let links: Vec<String> = Dir::ALL
        .iter()
        .filter(|d| stats.links[d.index()].wired)
        .map(|d| {
            let up = if stats.links[d.index()].up {
                "up"
            } else {
                "down"
            };
            format!("{d}:{up}")
        })
        .collect();
    let mut line = format!(
        "{:<8} {:>8} {:<8} {} {}",
        tile.name,
        pid,
        tile.status().to_string(),
        tile.mount.display(),
        links.join(" ")
    );
    if let Some(f) = &tile.files {
        match f.pid() {
            Some(pid) => line.push_str(&format!(" files:{pid}")),
            None => line.push_str(&format!(" files:{}", f.status())),
        }
    }
    line.trim_end().to_string()
}

/// The bound control socket and, once serving, its thread. Dropping it
/// stops the thread (after the request it is serving; clients still
/// waiting to be accepted are not served) and removes the socket file.
#[derive(Debug)]
pub struct Control {
    listener: UnixListener,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
    closing: Arc<AtomicBool>,
}

impl Control {
    /// Binds `DIR/.sim/ctl`, replacing a stale socket file; refuses when
    /// another `tile-sim` answers on it. Connections wait until
    /// [`Control::serve`].
    pub fn bind(dir: &Path) -> Result<Control, String> {
        let path = socket_path(dir);
        let shown = path.display();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(&path) {
                Ok(_) => {
                    return Err(format!(
                        "another tile-sim is running at {} ({shown} answers); stop it or choose another --dir",
                        dir.display()
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    fs::remove_file(&path)
                        .map_err(|e| format!("removing the stale {shown}: {e}"))?;
                }
                Err(e) => return Err(format!("{shown}: {e}")),
            },
            Ok(_) => {
                return Err(format!(
                    "{shown} exists and is not a socket; remove it or choose another --dir"
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{shown}: {e}")),
        }
        let listener = UnixListener::bind(&path).map_err(|e| format!("{shown}: {e}"))?;
        Ok(Control {
            listener,
            path,
            thread: None,
            closing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Serves requests on a thread of its own until dropped.
    pub fn serve(&mut self, shared: Arc<Shared>) -> Result<(), String> {
        let listener = self
            .listener
            .try_clone()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let closing = Arc::clone(&self.closing);
        let thread = std::thread::Builder::new()
            .name("tile-sim-ctl".to_string())
            .spawn(move || serve(&listener, &shared, &closing))
            .map_err(|e| format!("starting the control thread: {e}"))?;
        self.thread = Some(thread);
        Ok(())
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // Shutting a listening socket down wakes its blocked accept(2) with
        // EINVAL, which ends the thread's loop; connections already queued
        // are still accepted, and dropped unserved.
        self.closing.store(true, Ordering::SeqCst);
        if let Err(e) =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both)
        {
            eprintln!("tile-sim: stopping the control socket: {e}");
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                eprintln!("tile-sim: the control thread panicked");
            }
        }
        let _ = fs::remove_file(&self.path);
    }
}

fn serve(listener: &UnixListener, shared: &Shared, closing: &AtomicBool) {
    loop {
        match listener.accept() {
            Ok(_) if closing.load(Ordering::SeqCst) => return,
            Ok((stream, _)) => serve_one(&stream, shared),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                // Out of descriptors or memory: give up serving rather than
                // spin; the grid keeps running.
                eprintln!("tile-sim: control socket: accept: {e}; no longer serving");
                return;
            }
        }
    }
}

fn serve_one(stream: &UnixStream, shared: &Shared) {
    let mut line = String::new();
    let limit = u64::try_from(MAX_REQUEST).unwrap_or(u64::MAX);
    let mut request = Timed::new(stream);
    let result = match BufReader::new((&mut request).take(limit)).read_line(&mut line) {
        Ok(0) => return,
        Ok(_) if !line.ends_with('\n') && line.len() >= MAX_REQUEST => Err(format!(
            "request longer than {MAX_REQUEST} bytes (commands: {COMMANDS})"
        )),
        Ok(_) => line.parse().and_then(|r| execute(&r, shared)),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            Err("the request is not UTF-8".to_string())
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(format!(
            "no complete request line within {} s",
            IO_TIMEOUT.as_secs()
        )),
        Err(e) => Err(format!("reading the request: {e}")),
    };
    // A client that went away, or does not take its answer in time, does
    // not get it.
    let _ = Timed::new(stream).write_all(format_answer(&result).as_bytes());
}

/// A connection with [`IO_TIMEOUT`] for all its reads or writes together,
/// not for each: every call waits only for the time left.
struct Timed<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
}

impl<'a> Timed<'a> {
    fn new(stream: &'a UnixStream) -> Timed<'a> {
        Timed {
            stream,
            deadline: Instant::now() + IO_TIMEOUT,
        }
    }

    /// The time left, or `TimedOut` when none is.
    fn left(&self) -> io::Result<Duration> {
        match self.deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A socket timeout, which Linux reports as `EAGAIN`, as `TimedOut`.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut.into()
    } else {
        e
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        stream.read(buf).map_err(timed_out)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        stream.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        assert_eq!(
            "cut r0c0 ET".parse(),
            Ok(Request::Cut {
                tile: "r0c0".into(),
                dir: Dir::ET
            })
        );
        assert_eq!(
            "  restore  r1c1 nw \n".parse(),
            Ok(Request::Restore {
                tile: "r1c1".into(),
                dir: Dir::NW
            })
        );
        assert_eq!(
            "stop r0c1".parse(),
            Ok(Request::Stop {
                tile: "r0c1".into()
            })
        );
        assert_eq!(
            "start r0c1".parse(),
            Ok(Request::Start {
                tile: "r0c1".into()
            })
        );
        assert_eq!("list".parse(), Ok(Request::List));
        assert_eq!(
            "publish r0c0 /tmp/a b --name x".parse::<Request>(),
            Err("usage: publish TILE FILE [--name N]".to_string())
        );
        assert_eq!(
            "publish r0c0 /tmp/a --name x".parse(),
            Ok(Request::Publish {
                tile: "r0c0".into(),
                file: "/tmp/a".into(),
                name: Some("x".into())
            })
        );
        assert_eq!(
            "delete r0c0 x".parse(),
            Ok(Request::Delete {
                tile: "r0c0".into(),
                name: "x".into()
            })
        );
        assert_eq!("files".parse(), Ok(Request::Files));
        assert_eq!(
            "firmware r0c1".parse(),
            Ok(Request::Firmware {
                tile: "r0c1".into()
            })
        );
    }

    #[test]
    fn rejects_bad_requests_with_a_reason() {
        let err = |s: &str| s.parse::<Request>().unwrap_err();
        assert!(err("").starts_with("empty request"));
        assert!(err("frob r0c0").starts_with("unknown command \"frob\""));
        assert_eq!(err("cut r0c0"), "usage: cut TILE D");
        assert_eq!(err("list all"), "usage: list");
        assert_eq!(err("stop"), "usage: stop TILE");
        assert_eq!(err("firmware"), "usage: firmware TILE");
        assert!(err("cut r0c0 NT").starts_with("bad direction \"NT\""));
        assert_eq!(err("publish r0c0"), "usage: publish TILE FILE [--name N]");
        assert_eq!(
            err("publish r0c0 /f --label x"),
            "usage: publish TILE FILE [--name N]"
        );
        assert!(err("publish r0c0 f").starts_with("publish needs an absolute path"));
        assert_eq!(err("delete r0c0"), "usage: delete TILE NAME");
        assert_eq!(err("files r0c0"), "usage: files");
    }

    #[test]
    fn answers_are_ok_lines_or_one_error_line() {
        assert_eq!(format_answer(&Ok(vec![])), "ok\n");
        assert_eq!(
            format_answer(&Ok(vec!["a".into(), "b".into()])),
            "ok\na\nb\n"
        );
        assert_eq!(format_answer(&Err("no\nway".into())), "error: no way\n");
    }
}
