//! The control socket server: `STORE/control.sock`, a UNIX seqpacket
//! socket (the framing is `itc_files::control`), mode 0660 and owned by
//! the store directory's owner and group, so whoever may use the store may
//! use the daemon.
//!
//! It accepts at most [`MAX_CLIENTS`] clients at once (more are closed at
//! once), reads one request per message, and hands each to the caller as
//! an [`Incoming`]. Replies are sent without blocking; a client that does
//! not take a one-off reply is dropped, a watching client that falls behind
//! misses updates (it gets the next one), so no client holds the daemon or
//! its memory. Watchers get the status at most every [`WATCH_INTERVAL`].
//!
//! A socket left by a daemon that died is replaced; one a live daemon
//! serves is not (the store's lock, taken first, says which).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use itc_files::control::{encode_reply, MAX_REQUEST_LEN, SOCKET_NAME};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::errno::Errno;
use nix::sys::socket::{
    bind, listen, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::sys;

/// Clients served at once.
pub const MAX_CLIENTS: usize = 32;
/// The shortest time between two status messages to watchers.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// A request read from a client.
#[derive(Debug)]
pub struct Incoming {
    /// The client's slot, to reply to.
    pub client: usize,
    /// The request message.
    pub message: Vec<u8>,
    /// A descriptor that came with it.
    pub fd: Option<OwnedFd>,
}

#[derive(Debug)]
struct Client {
    fd: OwnedFd,
    watching: bool,
}

/// The control socket and its clients.
#[derive(Debug)]
pub struct Control {
    path: PathBuf,
    listener: OwnedFd,
    clients: Vec<Option<Client>>,
    buf: Vec<u8>,
    first_token: usize,
    /// The node generation watchers last got.
    pub sent_generation: u64,
    last_watch: Option<Instant>,
    /// Whether the watch timer is set.
    pub watch_armed: bool,
}

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("control socket {path}: {what}: {source}")]
pub struct ControlError {
    path: PathBuf,
    what: &'static str,
    source: io::Error,
}

impl Control {
    /// Binds `STORE/control.sock` (replacing a stale one); clients get
    /// tokens from `first_token` on.
    pub fn bind(store: &Path, first_token: usize) -> Result<Control, ControlError> {
        let path = store.join(SOCKET_NAME);
        let fail = |what: &'static str| {
            let path = path.clone();
            move |source: io::Error| ControlError { path, what, source }
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail("removing the old socket")(e)),
        }
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| fail("socket")(e.into()))?;
        let addr = UnixAddr::new(&path).map_err(|e| fail("address")(e.into()))?;
        bind(listener.as_raw_fd(), &addr).map_err(|e| fail("bind")(e.into()))?;
        let meta = fs::metadata(store).map_err(fail("reading the store's owner"))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o660)).map_err(fail("chmod"))?;
        std::os::unix::fs::chown(&path, Some(meta.uid()), Some(meta.gid()))
            .map_err(fail("chown"))?;
        let backlog = Backlog::new(16).map_err(|e| fail("listen")(e.into()))?;
        listen(&listener, backlog).map_err(|e| fail("listen")(e.into()))?;
        Ok(Control {
            path,
            listener,
            clients: (0..MAX_CLIENTS).map(|_| None).collect(),
            buf: vec![0; MAX_REQUEST_LEN + 1],
            first_token,
            sent_generation: 0,
            last_watch: None,
            watch_armed: false,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Watches the listening socket under `token`.
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.listener.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    /// The client slot of `token`, if it is one of the clients'.
    pub fn client_of(&self, token: Token) -> Option<usize> {
        let slot = token.0.checked_sub(self.first_token)?;
        (slot < MAX_CLIENTS).then_some(slot)
    }

    /// Accepts every waiting client.
    pub fn accept(&mut self, registry: &Registry) {
        loop {
            let fd = match sys::accept(&self.listener) {
                Ok(Some(fd)) => fd,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!("{}: accept: {e}", self.path.display());
                    return;
                }
            };
            let Some(slot) = self.clients.iter().position(Option::is_none) else {
                tracing::warn!(
                    "{}: more than {MAX_CLIENTS} clients; closing the newest",
                    self.path.display()
                );
                continue;
            };
            let token = Token(self.first_token + slot);
            if let Err(e) =
                registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)
            {
                tracing::warn!("{}: {e}", self.path.display());
                continue;
            }
            self.clients[slot] = Some(Client {
                fd,
                watching: false,
            });
        }
    }

    /// Reads the requests waiting from client `slot`; closes it when it
    /// hung up or failed.
    pub fn read(&mut self, registry: &Registry, slot: usize) -> Vec<Incoming> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.clients.get(slot).and_then(Option::as_ref) else {
                return out;
            };
            match sys::recv_with_fd(&c.fd, &mut self.buf) {
                Ok(None) => return out,
                Ok(Some(r)) if r.len == 0 => {
                    self.close(registry, slot);
                    return out;
                }
                Ok(Some(r)) if r.truncated || r.len > MAX_REQUEST_LEN => {
                    let msg = format!("request longer than {MAX_REQUEST_LEN} bytes");
                    self.reply(registry, slot, Err(&msg));
                }
                Ok(Some(r)) => out.push(Incoming {
                    client: slot,
                    message: self.buf[..r.len].to_vec(),
                    fd: r.fd,
                }),
                Err(e) => {
                    tracing::debug!("{}: client: {e}", self.path.display());
                    self.close(registry, slot);
                    return out;
                }
            }
        }
    }

    /// Sends a reply to client `slot`; a client that cannot take it is
    /// closed.
    pub fn reply(&mut self, registry: &Registry, slot: usize, result: Result<&[u8], &str>) {
        let Some(c) = self.clients.get(slot).and_then(Option::as_ref) else {
            return;
        };
        if let Err(e) = send_message(&c.fd, &encode_reply(result)) {
            tracing::debug!("{}: reply: {e}", self.path.display());
            self.close(registry, slot);
        }
    }

    /// Makes client `slot` a watcher.
    pub fn watch(&mut self, slot: usize) {
        if let Some(Some(c)) = self.clients.get_mut(slot) {
            c.watching = true;
        }
    }

    /// Whether any client watches.
    pub fn has_watchers(&self) -> bool {
        self.clients.iter().flatten().any(|c| c.watching)
    }

    /// How long until watchers may get the next status.
    pub fn watch_delay(&self) -> Duration {
        self.last_watch.map_or(Duration::ZERO, |t| {
            (t + WATCH_INTERVAL).saturating_duration_since(Instant::now())
        })
    }

    /// Sends `status` (the JSON of generation `generation`) to every
    /// watcher; one that cannot take it now misses it, one that is gone is
    /// closed.
    pub fn send_watchers(&mut self, registry: &Registry, status: &[u8], generation: u64) {
        self.watch_armed = false;
        self.last_watch = Some(Instant::now());
        self.sent_generation = generation;
        let message = encode_reply(Ok(status));
        let mut gone = Vec::new();
        for (slot, c) in self.clients.iter().enumerate() {
            let Some(c) = c.as_ref().filter(|c| c.watching) else {
                continue;
            };
            match send_message(&c.fd, &message) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(Errno::EAGAIN as i32) => {}
                Err(_) => gone.push(slot),
            }
        }
        for slot in gone {
            self.close(registry, slot);
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize) {
        if let Some(c) = self.clients.get_mut(slot).and_then(Option::take) {
            let _ = registry.deregister(&mut SourceFd(&c.fd.as_raw_fd()));
        }
    }

    /// Removes the socket file.
    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn send_message(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    loop {
        match send(
            fd.as_raw_fd(),
            bytes,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
