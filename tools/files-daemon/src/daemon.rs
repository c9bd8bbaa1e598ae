//! The daemon: setting up (the store and its lock, the trusted keys, the
//! signals, the control socket, service 8's packet file) and the event
//! loop that runs them.
//!
//! One mio loop watches service 8's packet file (through the service
//! library, which also keeps the timers), a signalfd (SIGINT and SIGTERM
//! stop the daemon, SIGHUP reloads the trusted keys, SIGCHLD collects
//! hooks) and the control socket with its clients. After every wakeup the
//! node asks for what its transfers' windows allow and times its next
//! wakeup; otherwise the loop sleeps in `epoll` until something happens.
//!
//! Ready: once the control socket serves, `READY=1` goes to
//! `$NOTIFY_SOCKET` if it is set (the systemd protocol), so a service
//! manager or `tile-sim` knows `itc-files` can be used.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use itc_files::control::Request;
use itc_files::{KeyError, Keyring, Store, StoreError};
use itc_service::{Config, Dir, Handler, Service};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::control::{Control, ControlError, Incoming};
use crate::hooks::Hooks;
use crate::node::{Installed, Node};
use crate::status::{self, Context};
use crate::timers;

const SERVICE: Token = Token(0);
const SIGNALS: Token = Token(1);
const LISTENER: Token = Token(2);
const FIRST_CLIENT: usize = 16;

/// The service number of managed files.
pub const SERVICE_NUMBER: u8 = itc_proto::SVC_FILE_UPDATE;
/// Packets queued per neighbour in the daemon before sends are refused:
/// a neighbour's whole window of data (`fetches::WINDOW`), and room for
/// announces.
pub const QUEUE_LIMIT: usize = 96;
/// The lock file in the store that keeps a second daemon out.
pub const LOCK_NAME: &str = "lock";

/// What the daemon runs with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The tree's mount point.
    pub mount: PathBuf,
    /// The store directory.
    pub store: PathBuf,
    /// The directory of trusted public keys.
    pub keys: PathBuf,
    /// The directory of hooks.
    pub hooks: PathBuf,
    /// How long a hook may run.
    pub hook_timeout: Duration,
}

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store directory could not be made.
    #[error("cannot create the store {0}: {1}")]
    StoreDir(PathBuf, #[source] io::Error),
    /// Another daemon holds the store.
    #[error("another itc-files uses the store {0} (it holds {1}); stop it first, or give this one another --store")]
    Locked(PathBuf, PathBuf),
    /// The lock could not be taken.
    #[error("cannot lock {0}: {1}")]
    Lock(PathBuf, #[source] io::Error),
    /// A key file is broken.
    #[error("trusted keys: {0}")]
    Keys(#[source] KeyError),
    /// The store could not be opened.
    #[error("opening the store {0}: {1}")]
    Store(PathBuf, #[source] StoreError),
    /// The control socket could not be set up.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// Service 8's packet file failed.
    #[error(transparent)]
    Service(#[from] itc_service::Error),
    /// A step of the event loop's setup failed.
    #[error("{0}: {1}")]
    Setup(&'static str, #[source] io::Error),
}

/// Loads the trusted keys; a missing directory trusts nothing (and says so).
pub fn load_keys(dir: &Path) -> Result<Keyring, Error> {
    match Keyring::load_dir(dir) {
        Ok(k) => {
            if k.is_empty() {
                tracing::warn!(
                    "no trusted keys in {}: nothing will be accepted (add KEY.pub files there)",
                    dir.display()
                );
            }
            Ok(k)
        }
        Err(KeyError::ListDir(_, e)) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!(
                "{} does not exist: no key is trusted and nothing will be accepted",
                dir.display()
            );
            Ok(Keyring::new())
        }
        Err(e) => Err(Error::Keys(e)),
    }
}

/// Takes the store's lock, creating the store directory if need be.
fn lock_store(store: &Path) -> Result<Flock<File>, Error> {
    fs::create_dir_all(store).map_err(|e| Error::StoreDir(store.to_owned(), e))?;
    let path = store.join(LOCK_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::Lock(path.clone(), e))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            Error::Locked(store.to_owned(), path.clone())
        } else {
            Error::Lock(path.clone(), errno.into())
        }
    })
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(opts: Options) -> Result<(), Error> {
    let started = Instant::now();
    let _lock = lock_store(&opts.store)?;
    let keys = load_keys(&opts.keys)?;
    let (store, notes) =
        Store::open(&opts.store).map_err(|e| Error::Store(opts.store.clone(), e))?;
    for note in &notes {
        tracing::info!("store: {note}");
    }
    let hooks = Hooks::new(
        &opts.hooks,
        &opts.store,
        opts.hook_timeout,
        store.hooks().clone(),
    );
    let seed = u64::from(std::process::id()) ^ started.elapsed().as_nanos() as u64;
    let node = Node::new(store, keys, &opts.keys, seed ^ 0x9e37_79b9_7f4a_7c15);

    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| Error::Setup("blocking signals", e.into()))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::Setup("signalfd", e.into()))?;

    let mut poll = Poll::new().map_err(|e| Error::Setup("epoll", e))?;
    let config = Config::new(SERVICE_NUMBER)
        .mount(&opts.mount)
        .wait_for_tree(true)
        .queue_limit(QUEUE_LIMIT);
    let mut svc: Service = Service::open(config)?;
    svc.register(poll.registry(), SERVICE)?;
    poll.registry()
        .register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )
        .map_err(|e| Error::Setup("watching signals", e))?;
    let control = Control::bind(&opts.store, FIRST_CLIENT)?;
    control
        .register(poll.registry(), LISTENER)
        .map_err(|e| Error::Setup("watching the control socket", e))?;
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| Error::Setup("epoll", e))?;
    let mut app = App {
        node,
        hooks,
        control,
        registry,
        opts,
        started,
    };
    app.start(&mut svc);
    notify_ready();
    tracing::info!(
        "serving {} with the store {}; control socket {}",
        svc.path().display(),
        app.opts.store.display(),
        app.control.path().display()
    );

    let mut events = Events::with_capacity(64);
    let result = 'run: loop {
        match poll.poll(&mut events, svc.timeout()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Error::Setup("epoll_wait", e)),
        }
        if let Err(e) = svc.handle(&events, &mut app) {
            break Err(e.into());
        }
        for ev in events.iter() {
            match ev.token() {
                SERVICE => {}
                SIGNALS => {
                    if app.signals(&mut svc, &signals) {
                        break 'run Ok(());
                    }
                }
                LISTENER => app.control.accept(&app.registry),
                t => {
                    if let Some(slot) = app.control.client_of(t) {
                        for inc in app.control.read(&app.registry, slot) {
                            app.request(&mut svc, inc);
                        }
                    }
                }
            }
        }
        app.settle(&mut svc);
    };
    tracing::info!("stopping");
    app.hooks.stop_all();
    if let Err(e) = app.node.store.sync() {
        tracing::error!("syncing the store: {e}");
    }
    app.control.remove();
    result
}

/// Tells the service manager (or `tile-sim`) that the daemon serves.
fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to(b"READY=1\n", &path));
    if let Err(e) = sent {
        tracing::warn!("NOTIFY_SOCKET {}: {e}", Path::new(&path).display());
    }
}

/// Everything the loop drives.
struct App {
    node: Node,
    hooks: Hooks,
    control: Control,
    registry: Registry,
    opts: Options,
    started: Instant,
}

impl App {
    fn start(&mut self, svc: &mut Service) {
        self.node.start(svc);
        // Installs whose hook never ran (a crash between install and hook,
        // or an install finished when the store was opened).
        let live: Vec<Installed> = self
            .node
            .store
            .installed_all()
            .map(|m| Installed {
                name: m.name().clone(),
                stamp: m.stamp(),
                path: self.node.store.live_path(m.name()),
            })
            .collect();
        for job in live {
            self.hooks.installed(svc, job, &mut self.node.counters);
        }
    }

    /// Reads the waiting signals; true to stop.
    fn signals(&mut self, svc: &mut Service, fd: &SignalFd) -> bool {
        let mut stop = false;
        loop {
            let info = match fd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!("reading signals: {e}");
                    break;
                }
            };
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGINT | Signal::SIGTERM) => stop = true,
                Ok(Signal::SIGCHLD) => self.hooks.reap(svc, &mut self.node.counters),
                Ok(Signal::SIGHUP) => match load_keys(&self.opts.keys) {
                    Ok(keys) => {
                        tracing::info!(
                            "trusted keys reloaded from {}: {}",
                            self.opts.keys.display(),
                            keys.len()
                        );
                        self.node.set_keys(keys);
                    }
                    Err(e) => tracing::error!("{e}; keeping the keys loaded before"),
                },
                _ => {}
            }
        }
        stop
    }

    /// One control request.
    fn request(&mut self, svc: &mut Service, inc: Incoming) {
        let Incoming {
            client,
            message,
            fd,
        } = inc;
        let result: Result<Vec<u8>, String> = match Request::parse(&message) {
            Err(e) => Err(e.to_string()),
            Ok(Request::Publish(manifest)) => match fd {
                Some(fd) => self.publish(svc, manifest, &fd),
                None => Err("publish needs the content's file descriptor".to_string()),
            },
            Ok(Request::Delete(record)) => {
                self.node.delete(svc, record).map(|line| line.into_bytes())
            }
            Ok(Request::Status) => Ok(self.status_json(svc)),
            Ok(Request::Watch) => {
                self.control.watch(client);
                Ok(self.status_json(svc))
            }
        };
        if let Err(e) = &result {
            tracing::info!("control: refused: {e}");
        }
        let reply = result.as_deref().map_err(String::as_str);
        self.control.reply(&self.registry, client, reply);
    }

    fn publish(
        &mut self,
        svc: &mut Service,
        manifest: &[u8],
        fd: &OwnedFd,
    ) -> Result<Vec<u8>, String> {
        let line = self.node.publish(svc, manifest, fd)?;
        tracing::info!("control: {line}");
        Ok(line.into_bytes())
    }

    fn status_json(&self, svc: &Service) -> Vec<u8> {
        let ctx = Context {
            store: &self.opts.store,
            mount: &self.opts.mount,
            started: self.started,
        };
        let status = status::build(&self.node, svc, &ctx);
        // Plain data: serialising it cannot fail.
        serde_json::to_vec(&status).unwrap_or_default()
    }

    /// After every wakeup: requests, hooks of new installs, watchers.
    fn settle(&mut self, svc: &mut Service) {
        self.node.pump(svc);
        for job in self.node.take_installed() {
            self.hooks.installed(svc, job, &mut self.node.counters);
        }
        if self.control.has_watchers()
            && !self.control.watch_armed
            && self.control.sent_generation != self.node.generation
        {
            self.control.watch_armed = true;
            svc.set_timer(self.control.watch_delay(), timers::WATCH);
        }
    }
}

impl Handler for App {
    fn on_connect(&mut self, svc: &mut Service, dir: Dir) {
        tracing::debug!("{dir}: connected");
        self.node.on_connect(svc, dir);
    }

    fn on_disconnect(&mut self, _svc: &mut Service, dir: Dir) {
        tracing::debug!("{dir}: disconnected");
        self.node.on_disconnect(dir);
    }

    fn on_packet(&mut self, svc: &mut Service, dir: Dir, payload: &[u8]) {
        self.node.on_packet(svc, dir, payload);
    }

    fn on_timer(&mut self, svc: &mut Service, token: u64) {
        match token {
            timers::PUMP => {}
            timers::ANNOUNCE => self.node.announce_changes(svc),
            timers::PERIODIC => self.node.announce_periodic(svc),
            timers::RECAP => self.node.announce_recap(svc),
            timers::DISK_RETRY => self.node.retry_disk(svc),
            timers::WATCH => {
                let json = self.status_json(svc);
                let generation = self.node.generation;
                self.control
                    .send_watchers(&self.registry, &json, generation);
            }
            t if t >= timers::HOOK_BASE => self.hooks.timed_out(svc, t, &mut self.node.counters),
            _ => {}
        }
    }

    fn on_room(&mut self, svc: &mut Service, _dir: Dir) {
        self.node.pump(svc);
    }
}
