//! One tile's `itcd` process: starting it and waiting until its tree is
//! served, stopping it, and collecting it when it exits.
//!
//! Waiting is event-driven. Each `itcd` starts with `NOTIFY_SOCKET` set to a
//! datagram socket of its own, `DIR/.sim/{tile}.ready`, and sends `READY=1`
//! there once its tree is mounted (the systemd protocol); a pidfd becomes
//! readable when the process exits. A start succeeds when READY arrives and
//! the tree's `itc/self` shows the new process's pid; it fails if the process
//! exits first or the deadline passes.
//!
//! Nothing here locks or waits with a lock held: the caller keeps each
//! [`Tile`] behind the shared lock, changes it there, and waits on a
//! [`Starting`] or on [`Tile::exit_fd`] with the lock released. Whoever holds
//! the lock may collect exited processes with [`Tile::reap`]; only an
//! `itcd` that exits while running (not one being stopped) is reported.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use itc_emu::TileId;

use crate::sys;

/// How long an `itcd` may take to serve its tree after it was started.
pub const START_DEADLINE: Duration = Duration::from_secs(10);

/// How long an `itcd` may take to exit after SIGTERM (and again after
/// SIGKILL).
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// How a tile's `itcd` is started: the same way every time.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `itcd` binary.
    pub itcd: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// What a tile's `itcd` is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Started and not exited.
    Running,
    /// Sent SIGTERM on purpose; not yet collected.
    Stopping,
    /// Stopped on purpose (or never started).
    Stopped,
    /// Exited on its own.
    Exited,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Exited => "exited",
        })
    }
}

/// A started `itcd` that has not been collected.
#[derive(Debug)]
struct Process {
    child: Child,
    /// Readable once the process has exited.
    pidfd: OwnedFd,
}

#[derive(Debug)]
enum Proc {
    Running(Process),
    Stopping(Process),
    Stopped,
    Exited,
}

/// One tile of the grid and its `itcd`.
#[derive(Debug)]
pub struct Tile {
    /// `r{row}c{col}`.
    pub name: String,
    /// The tile in the wire emulation.
    pub id: TileId,
    /// Where its tree is mounted.
    pub mount: PathBuf,
    launch: Launch,
    ready_path: PathBuf,
    proc: Proc,
}

impl Tile {
    /// A tile whose `itcd` is not started yet; `ready_path` is where its
    /// readiness socket goes.
    pub fn new(
        name: String,
        id: TileId,
        mount: PathBuf,
        launch: Launch,
        ready_path: PathBuf,
    ) -> Tile {
        Tile {
            name,
            id,
            mount,
            launch,
            ready_path,
            proc: Proc::Stopped,
        }
    }

    /// What its `itcd` is doing.
    pub fn status(&self) -> Status {
        match self.proc {
            Proc::Running(_) => Status::Running,
            Proc::Stopping(_) => Status::Stopping,
            Proc::Stopped => Status::Stopped,
            Proc::Exited => Status::Exited,
        }
    }

    /// The pid of its `itcd` while one is running or being stopped.
    pub fn pid(&self) -> Option<u32> {
        match &self.proc {
            Proc::Running(p) | Proc::Stopping(p) => Some(p.child.id()),
            Proc::Stopped | Proc::Exited => None,
        }
    }

    /// Starts its `itcd` (when stopped or exited); wait for the tree with
    /// [`Starting::wait`].
    pub fn spawn(&mut self) -> Result<Starting, String> {
        if let Some(pid) = self.pid() {
            return Err(format!("{} is already running (pid {pid})", self.name));
        }
        let ready = ReadySocket::bind(&self.ready_path)?;
        let mut cmd = Command::new(&self.launch.itcd);
        cmd.args(&self.launch.args)
            .env("NOTIFY_SOCKET", &self.ready_path)
            .stdin(Stdio::null());
        sys::prepare_child(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.launch.itcd.display()))?;
        let fds = sys::pidfd_open(child.id()).and_then(|fd| Ok((fd.try_clone()?, fd)));
        let (exited, pidfd) = match fds {
            Ok(fds) => fds,
            Err(e) => {
                // Without a pidfd the process could not be waited for.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "watching the itcd of {}: pidfd_open: {e}",
                    self.name
                ));
            }
        };
        let pid = child.id();
        self.proc = Proc::Running(Process { child, pidfd });
        Ok(Starting {
            name: self.name.clone(),
            pid,
            mount: self.mount.clone(),
            ready,
            exited,
        })
    }

    /// Sends SIGTERM to a running `itcd`, which is then stopping: its exit
    /// is expected and not reported. Wait for it with [`Tile::exit_fd`].
    pub fn terminate(&mut self) -> Result<(), String> {
        match std::mem::replace(&mut self.proc, Proc::Stopped) {
            Proc::Running(p) => {
                let pid = nix::unistd::Pid::from_raw(p.child.id() as i32);
                // The process is not collected yet, so the pid is still its.
                let sent = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                self.proc = Proc::Stopping(p);
                sent.map_err(|e| format!("sending SIGTERM to the itcd of {}: {e}", self.name))
            }
            other => {
                let status = match &other {
                    Proc::Stopping(_) => "already stopping",
                    _ => "not running",
                };
                self.proc = other;
                Err(format!("{} is {status}", self.name))
            }
        }
    }

    /// Sends SIGKILL to its `itcd`, if one is running or being stopped.
    pub fn kill(&mut self) {
        if let Proc::Running(p) | Proc::Stopping(p) = &mut self.proc {
            // Fails only if it has exited already, which is what is wanted.
            let _ = p.child.kill();
        }
    }

    /// A descriptor that becomes readable once its `itcd` has exited; `None`
    /// if none is running or being stopped.
    pub fn exit_fd(&self) -> Option<OwnedFd> {
        match &self.proc {
            Proc::Running(p) | Proc::Stopping(p) => p.pidfd.try_clone().ok(),
            Proc::Stopped | Proc::Exited => None,
        }
    }

    /// Collects its `itcd` if it has exited, with its status and whether
    /// it exited on its own while running (to be reported) or was being
    /// stopped (it is stopped now).
    pub fn reap(&mut self) -> Option<Reaped> {
        let (Proc::Running(p) | Proc::Stopping(p)) = &mut self.proc else {
            return None;
        };
        let status = match p.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return None,
            Err(e) => {
                eprintln!("tile-sim: waiting for the itcd of {}: {e}", self.name);
                return None;
            }
        };
        match self.proc {
            Proc::Running(_) => {
                self.proc = Proc::Exited;
                Some(Reaped::OnItsOwn(status))
            }
            _ => {
                self.proc = Proc::Stopped;
                Some(Reaped::Stopped(status))
            }
        }
    }
}

/// An `itcd` collected by [`Tile::reap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// It exited while running: nobody asked it to.
    OnItsOwn(ExitStatus),
    /// It exited after SIGTERM (or SIGKILL) from [`Tile::terminate`] or
    /// [`Tile::kill`].
    Stopped(ExitStatus),
}

/// Waits until the process behind `exit_fd` has exited or `deadline`
/// passes; returns whether it exited.
pub fn wait_exit(exit_fd: &OwnedFd, deadline: Instant) -> Result<bool, String> {
    sys::wait_readable(&[exit_fd.as_fd()], deadline)
        .map(|ready| ready.is_some())
        .map_err(|e| format!("waiting for an itcd to exit: {e}"))
}

/// The socket an `itcd` reports readiness on; its file is removed on drop.
#[derive(Debug)]
struct ReadySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl ReadySocket {
    fn bind(path: &Path) -> Result<ReadySocket, String> {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", path.display())),
        }
        let socket = UnixDatagram::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ReadySocket {
            socket,
            path: path.to_owned(),
        })
    }

    /// Reads the waiting messages; true if one said `READY=1`.
    fn ready(&self) -> bool {
        let mut buf = [0u8; 512];
        let mut ready = false;
        while let Ok(n) = self.socket.recv(&mut buf) {
            // Messages are newline-separated assignments.
            ready |= buf[..n].split(|b| *b == b'\n').any(|l| l == b"READY=1");
        }
        ready
    }
}

impl Drop for ReadySocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// An `itcd` that was started and has not yet been seen serving its tree.
#[derive(Debug)]
pub struct Starting {
    name: String,
    pid: u32,
    mount: PathBuf,
    ready: ReadySocket,
    exited: OwnedFd,
}

impl Starting {
    /// The tile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the tree is served, the process exits, or `deadline`
    /// passes; errors say which.
    pub fn wait(self, deadline: Instant) -> Result<(), String> {
        loop {
            let fds = [self.ready.socket.as_fd(), self.exited.as_fd()];
            match sys::wait_readable(&fds, deadline) {
                Ok(Some(0)) if self.ready.ready() => break,
                Ok(Some(0)) => {}
                Ok(Some(_)) => {
                    return Err(format!(
                        "the itcd of {} (pid {}) exited before serving its tree (its messages are above)",
                        self.name, self.pid
                    ))
                }
                Ok(None) => {
                    return Err(format!(
                        "the itcd of {} (pid {}) did not serve its tree within {} s",
                        self.name,
                        self.pid,
                        START_DEADLINE.as_secs()
                    ))
                }
                Err(e) => return Err(format!("waiting for the itcd of {}: {e}", self.name)),
            }
        }
        // READY comes once the tree is mounted; the first request waits until
        // the daemon serves it.
        let me = self.mount.join("itc/self");
        let text = fs::read_to_string(&me).map_err(|e| format!("{}: {e}", me.display()))?;
        let pid = text.lines().find_map(|l| l.strip_prefix("pid: "));
        if pid != Some(self.pid.to_string().as_str()) {
            return Err(format!(
                "{} is not served by the itcd just started (pid {}, tree says {})",
                self.mount.display(),
                self.pid,
                pid.unwrap_or("nothing")
            ));
        }
        Ok(())
    }
}
