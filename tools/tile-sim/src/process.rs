//! One daemon process of a tile (its `itcd`, or its `itc-files`): starting
//! it and waiting until it is ready, stopping it, and collecting it when it
//! exits.
//!
//! Waiting is event-driven. Each daemon starts with `NOTIFY_SOCKET` set to
//! a datagram socket of its own in `DIR/.sim` and sends `READY=1` there
//! once it serves (the systemd protocol); a pidfd becomes readable when the
//! process exits. A start succeeds when READY arrives (for an `itcd`, also
//! once the tree's `itc/self` shows the new process's pid); it fails if the
//! process exits first or the deadline passes.
//!
//! Nothing here locks or waits with a lock held: the caller keeps each
//! [`Daemon`] behind the shared lock, changes it there, and waits on a
//! [`Starting`] or on [`Daemon::exit_fd`] with the lock released. Whoever
//! holds the lock may collect exited processes with [`Daemon::reap`], which
//! tells a daemon that exited while running (to be reported) from one that
//! was being stopped.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::run::note;
use crate::sys;

/// How long a daemon may take to be ready after it was started.
pub const START_DEADLINE: Duration = Duration::from_secs(10);

/// How long a daemon may take to exit after SIGTERM (and again after
/// SIGKILL).
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// How a daemon is started: the same way every time.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The binary.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// What a daemon is doing.
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

/// A started process that has not been collected.
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

/// One daemon of a tile.
#[derive(Debug)]
pub struct Daemon {
    /// `itcd of r0c1`, for messages.
    pub label: String,
    launch: Launch,
    ready_path: PathBuf,
    /// For an `itcd`: the mount whose `itc/self` must show its pid.
    tree: Option<PathBuf>,
    proc: Proc,
}

impl Daemon {
    /// A daemon not started yet; `ready_path` is where its readiness socket
    /// goes; `tree`, for an `itcd`, the mount it serves.
    pub fn new(
        label: String,
        launch: Launch,
        ready_path: PathBuf,
        tree: Option<PathBuf>,
    ) -> Daemon {
        Daemon {
            label,
            launch,
            ready_path,
            tree,
            proc: Proc::Stopped,
        }
    }

    /// What it is doing.
    pub fn status(&self) -> Status {
        match self.proc {
            Proc::Running(_) => Status::Running,
            Proc::Stopping(_) => Status::Stopping,
            Proc::Stopped => Status::Stopped,
            Proc::Exited => Status::Exited,
        }
    }

    /// Its pid while it is running or being stopped.
    pub fn pid(&self) -> Option<u32> {
        match &self.proc {
            Proc::Running(p) | Proc::Stopping(p) => Some(p.child.id()),
            Proc::Stopped | Proc::Exited => None,
        }
    }

    /// Starts it (when stopped or exited); wait with [`Starting::wait`].
    pub fn spawn(&mut self) -> Result<Starting, String> {
        if let Some(pid) = self.pid() {
            return Err(format!("the {} is already running (pid {pid})", self.label));
        }
        let ready = ReadySocket::bind(&self.ready_path)?;
        let mut cmd = Command::new(&self.launch.program);
        cmd.args(&self.launch.args)
            .env("NOTIFY_SOCKET", &self.ready_path)
            .stdin(Stdio::null());
        sys::prepare_child(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.launch.program.display()))?;
        let fds = sys::pidfd_open(child.id()).and_then(|fd| Ok((fd.try_clone()?, fd)));
        let (exited, pidfd) = match fds {
            Ok(fds) => fds,
            Err(e) => {
                // Without a pidfd the process could not be waited for.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("watching the {}: pidfd_open: {e}", self.label));
            }
        };
        let pid = child.id();
        self.proc = Proc::Running(Process { child, pidfd });
        Ok(Starting {
            label: self.label.clone(),
            pid,
            tree: self.tree.clone(),
            ready,
            exited,
        })
    }

    /// Sends SIGTERM to it while it runs; it is then stopping: its exit is
    /// expected and not reported. Wait for it with [`Daemon::exit_fd`].
    pub fn terminate(&mut self) -> Result<(), String> {
        match std::mem::replace(&mut self.proc, Proc::Stopped) {
            Proc::Running(p) => {
                let pid = nix::unistd::Pid::from_raw(p.child.id() as i32);
                // The process is not collected yet, so the pid is still its.
                let sent = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                self.proc = Proc::Stopping(p);
                sent.map_err(|e| format!("sending SIGTERM to the {}: {e}", self.label))
            }
            other => {
                self.proc = other;
                Ok(())
            }
        }
    }

    /// Sends SIGKILL to it, if it is running or being stopped.
    pub fn kill(&mut self) {
        if let Proc::Running(p) | Proc::Stopping(p) = &mut self.proc {
            // Fails only if it has exited already, which is what is wanted.
            let _ = p.child.kill();
        }
    }

    /// A descriptor that becomes readable once it has exited; `None` if it
    /// is not running or being stopped.
    pub fn exit_fd(&self) -> Option<OwnedFd> {
        match &self.proc {
            Proc::Running(p) | Proc::Stopping(p) => p.pidfd.try_clone().ok(),
            Proc::Stopped | Proc::Exited => None,
        }
    }

    /// Collects it if it has exited, with its status and whether it exited
    /// on its own while running (to be reported) or was being stopped (it
    /// is stopped now).
    pub fn reap(&mut self) -> Option<Reaped> {
        let (Proc::Running(p) | Proc::Stopping(p)) = &mut self.proc else {
            return None;
        };
        let status = match p.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return None,
            Err(e) => {
                note(&format!("waiting for the {}: {e}", self.label));
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

/// A daemon collected by [`Daemon::reap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// It exited while running: nobody asked it to.
    OnItsOwn(ExitStatus),
    /// It exited after SIGTERM (or SIGKILL) from [`Daemon::terminate`] or
    /// [`Daemon::kill`].
    Stopped(ExitStatus),
}

/// Waits until the process behind `exit_fd` has exited or `deadline`
/// passes; returns whether it exited.
pub fn wait_exit(exit_fd: &OwnedFd, deadline: Instant) -> Result<bool, String> {
    sys::wait_readable(&[exit_fd.as_fd()], deadline)
        .map(|ready| ready.is_some())
        .map_err(|e| format!("waiting for a daemon to exit: {e}"))
}

/// The socket a daemon reports readiness on; its file is removed on drop.
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

/// A daemon that was started and has not yet been seen ready.
#[derive(Debug)]
pub struct Starting {
    label: String,
    pid: u32,
    tree: Option<PathBuf>,
    ready: ReadySocket,
    exited: OwnedFd,
}

impl Starting {
    /// Waits until the daemon is ready, exits, or `deadline` passes; errors
    /// say which.
    pub fn wait(self, deadline: Instant) -> Result<(), String> {
        let serving = if self.tree.is_some() {
            "serving its tree"
        } else {
            "being ready"
        };
        loop {
            let fds = [self.ready.socket.as_fd(), self.exited.as_fd()];
            match sys::wait_readable(&fds, deadline) {
                Ok(Some(0)) if self.ready.ready() => break,
                Ok(Some(0)) => {}
                Ok(Some(_)) => {
                    return Err(format!(
                        "the {} (pid {}) exited before {serving} (its messages are above)",
                        self.label, self.pid
                    ))
                }
                Ok(None) => {
                    let verb = if self.tree.is_some() {
                        "serve its tree"
                    } else {
                        "become ready"
                    };
                    return Err(format!(
                        "the {} (pid {}) did not {verb} within {} s",
                        self.label,
                        self.pid,
                        START_DEADLINE.as_secs()
                    ));
                }
                Err(e) => return Err(format!("waiting for the {}: {e}", self.label)),
            }
        }
        let Some(mount) = &self.tree else {
            return Ok(());
        };
        // READY comes once the tree is mounted; the first request waits until
        // the daemon serves it.
        let me = mount.join("itc/self");
        let text = fs::read_to_string(&me).map_err(|e| format!("{}: {e}", me.display()))?;
        let pid = text.lines().find_map(|l| l.strip_prefix("pid: "));
        if pid != Some(self.pid.to_string().as_str()) {
            return Err(format!(
                "{} is not served by the itcd just started (pid {}, tree says {})",
                mount.display(),
                self.pid,
                pid.unwrap_or("nothing")
            ));
        }
        Ok(())
    }
}
