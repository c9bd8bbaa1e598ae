//! What the service tests share: a real 1x2 grid (`tile-sim run`, one real
//! `itcd` per tile on a real FUSE mount) and a [`Peer`], the library
//! running at one tile in a thread of its own.
//!
//! A [`Peer`] runs the service in a mio `Poll` it shares with a waker (the
//! caller-shared loop of the library), records everything its handler sees,
//! and runs closures the test sends it on the service's thread. Guards stop
//! peers and grids, also when a test fails, and check that nothing stays
//! mounted. Nothing sleeps for a fixed time: conditions are awaited with a
//! deadline.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use itc_service::{Config, Dir, Error, Failure, Handler, Service, Stats};
use mio::{Events, Poll, Token, Waker};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{unmount_all_under, wait_for, workspace_bins};

/// How long any condition may take; generous, as tests share the CPU.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The directory cargo put this test's binaries in (`target/debug`).
pub fn exe_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/debug/deps/TEST-HASH
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary sits in a deps directory")
        .to_path_buf()
}

/// `tile-sim` and `itcd`, built if need be.
pub fn grid_bins() -> (PathBuf, PathBuf) {
    let built = workspace_bins(&exe_dir(), &[("tile-sim", "tile-sim"), ("itcio", "itcd")]);
    (built[0].clone(), built[1].clone())
}

/// A fresh directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "itc-service-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

pub fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// Waits for `child` until `timeout`; kills it if it is still running.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Logs of the library (`RUST_LOG`) go to the test's output.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A running `tile-sim run --rows 1 --cols 2`: r0c0 has r0c1 at ET.
/// Stopped with SIGTERM, and checked, on drop.
pub struct Grid {
    pub tile_sim: PathBuf,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Grid {
    /// Starts the grid with `extra` options (such as `--rate`; `--hello`
    /// is 100 unless given) and waits until both tiles see each other.
    pub fn start(tag: &str, extra: &[&str]) -> Grid {
        init_tracing();
        let (tile_sim, itcd) = grid_bins();
        let dir = scratch(tag);
        let log = fs::File::create(dir.join("tile-sim.log")).expect("log file");
        // Quick hellos (absent after 350 ms) unless the test sets its own.
        let hello: &[&str] = if extra.contains(&"--hello") {
            &[]
        } else {
            &["--hello", "100"]
        };
        let child = Command::new(&tile_sim)
            .args(["run", "--rows", "1", "--cols", "2"])
            .args(hello)
            .args(extra)
            .arg("--dir")
            .arg(dir.join("grid"))
            .arg("--itcd")
            .arg(&itcd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start tile-sim");
        let grid = Grid {
            tile_sim,
            dir,
            child: Some(child),
        };
        assert!(
            wait_for(DEADLINE, || grid.present("r0c0", Dir::ET)
                && grid.present("r0c1", Dir::WT)),
            "the tiles never saw each other; tile-sim log:\n{}",
            grid.log()
        );
        grid
    }

    /// Where `tile`'s tree is mounted.
    pub fn mount(&self, tile: &str) -> PathBuf {
        self.dir.join("grid").join(tile)
    }

    /// Whether `tile` has a present neighbour at `dir`.
    pub fn present(&self, tile: &str, dir: Dir) -> bool {
        fs::read_to_string(self.mount(tile).join(format!("tile/{dir}/status")))
            .is_ok_and(|s| s.lines().any(|l| l == "peer: present"))
    }

    /// `tile`'s status file of `dir`, for failure messages.
    pub fn status(&self, tile: &str, dir: Dir) -> String {
        fs::read_to_string(self.mount(tile).join(format!("tile/{dir}/status"))).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("tile-sim.log")).unwrap_or_default()
    }

    /// `tile-sim ctl --dir GRID ARGS`, run to completion.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.tile_sim)
            .arg("ctl")
            .arg("--dir")
            .arg(self.dir.join("grid"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tile-sim ctl");
        assert_eq!(
            out.status.code(),
            Some(0),
            "tile-sim ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(child.id(), Signal::SIGTERM);
        if wait_child(&mut child, DEADLINE).is_none() {
            unmount_all_under(&self.dir);
            if !std::thread::panicking() {
                panic!("tile-sim did not stop on SIGTERM; log:\n{}", self.log());
            }
        }
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
        let left = unmount_all_under(&self.dir);
        if left.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        } else if !std::thread::panicking() {
            panic!("still mounted after tile-sim stopped: {left:?}");
        }
    }
}

/// The request key of the tests: (direction, piece).
pub type Key = (Dir, u32);

/// A request: `Q` and the piece, big-endian.
pub fn question(piece: u32) -> Vec<u8> {
    [&b"Q"[..], &piece.to_be_bytes()].concat()
}

/// Its answer: `A` and the piece.
pub fn answer(piece: u32) -> Vec<u8> {
    [&b"A"[..], &piece.to_be_bytes()].concat()
}

fn piece_of(payload: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(1..5)?.try_into().ok()?))
}

/// Something the handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Connect(Dir),
    Disconnect(Dir),
    Packet(Dir, Vec<u8>, Instant),
    Failed(Key, Failure, Instant),
    Room(Dir),
    Timer(u64),
}

/// What a peer shows the test.
#[derive(Debug, Default)]
pub struct Shared {
    pub seen: Vec<Seen>,
    pub stats: Stats,
    /// Packets still waiting in the recorder's outbox.
    pub outbox: usize,
    /// The error that ended the loop, if one did.
    pub ended: Option<String>,
}

/// The test's handler: records, answers questions when asked to,
/// completes requests on answers, and pumps an outbox as fast as the
/// service takes it (the throttling a real service does).
pub struct Recorder {
    shared: Arc<Mutex<Shared>>,
    pub answer: bool,
    pub outbox: VecDeque<(Dir, Vec<u8>)>,
}

impl Recorder {
    fn record(&self, seen: Seen) {
        self.shared.lock().unwrap().seen.push(seen);
    }

    /// Sends from the outbox until it is empty or a queue is full.
    pub fn pump(&mut self, svc: &mut Service<Key>) {
        while let Some((dir, payload)) = self.outbox.front() {
            match svc.send(*dir, payload) {
                Ok(()) => {
                    self.outbox.pop_front();
                }
                // Full: on_room calls again. Anything else leaves the
                // rest in the outbox, where the test sees it.
                Err(_) => break,
            }
        }
    }
}

impl Handler<Key> for Recorder {
    fn on_connect(&mut self, _svc: &mut Service<Key>, dir: Dir) {
        self.record(Seen::Connect(dir));
    }

    fn on_disconnect(&mut self, _svc: &mut Service<Key>, dir: Dir) {
        self.record(Seen::Disconnect(dir));
    }

    fn on_packet(&mut self, svc: &mut Service<Key>, dir: Dir, payload: &[u8]) {
        self.record(Seen::Packet(dir, payload.to_vec(), Instant::now()));
        match (payload.first(), piece_of(payload)) {
            (Some(b'Q'), Some(piece)) if self.answer => {
                svc.send(dir, &answer(piece)).expect("answer");
            }
            (Some(b'A'), Some(piece)) => {
                svc.complete(&(dir, piece));
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _svc: &mut Service<Key>, token: u64) {
        self.record(Seen::Timer(token));
    }

    fn on_request_failed(&mut self, _svc: &mut Service<Key>, key: Key, failure: Failure) {
        self.record(Seen::Failed(key, failure, Instant::now()));
    }

    fn on_room(&mut self, svc: &mut Service<Key>, dir: Dir) {
        self.record(Seen::Room(dir));
        self.pump(svc);
    }
}

type Job = Box<dyn FnOnce(&mut Service<Key>, &mut Recorder) + Send>;

const SVC: Token = Token(1);
const WAKE: Token = Token(2);

/// The library at one tile, in a thread running a shared mio loop.
pub struct Peer {
    shared: Arc<Mutex<Shared>>,
    jobs: mpsc::Sender<Option<Job>>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    pub path: PathBuf,
}

impl Peer {
    /// Opens `config`'s service and runs it; fails as `Service::open` does.
    pub fn start(config: Config) -> Result<Peer, Error> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (jobs, rx) = mpsc::channel::<Option<Job>>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let path = config.path();
        let thread_shared = shared.clone();
        let thread = std::thread::spawn(move || {
            let setup = || -> Result<(Service<Key>, Poll, Arc<Waker>), Error> {
                let mut svc = Service::open(config)?;
                let poll = Poll::new().map_err(Error::Poll)?;
                let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(Error::Poll)?);
                svc.register(poll.registry(), SVC)?;
                Ok((svc, poll, waker))
            };
            let (mut svc, mut poll, waker) = match setup() {
                Ok(parts) => parts,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(waker));
            let mut rec = Recorder {
                shared: thread_shared.clone(),
                answer: false,
                outbox: VecDeque::new(),
            };
            let mut events = Events::with_capacity(8);
            let ended = loop {
                if let Err(e) = poll.poll(&mut events, svc.timeout()) {
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    break Some(e.to_string());
                }
                if let Err(e) = svc.handle(&events, &mut rec) {
                    break Some(e.to_string());
                }
                let mut quit = false;
                while let Ok(job) = rx.try_recv() {
                    match job {
                        Some(job) => job(&mut svc, &mut rec),
                        None => quit = true,
                    }
                }
                rec.pump(&mut svc);
                let mut shared = thread_shared.lock().unwrap();
                shared.stats = svc.stats();
                shared.outbox = rec.outbox.len();
                if quit {
                    break None;
                }
            };
            thread_shared.lock().unwrap().ended = Some(ended.unwrap_or_default());
        });
        match ready_rx.recv() {
            Ok(Ok(waker)) => Ok(Peer {
                shared,
                jobs,
                waker,
                thread: Some(thread),
                path,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => panic!("the service thread died while starting"),
        }
    }

    /// Runs `f` on the service's thread and returns what it returns.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Service<Key>, &mut Recorder) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Some(Box::new(move |svc, rec| {
                let _ = tx.send(f(svc, rec));
            })))
            .expect("the service thread is running");
        self.waker.wake().expect("wake the service thread");
        rx.recv_timeout(DEADLINE)
            .expect("the service thread answered in time")
    }

    /// Everything the handler saw so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// The counters as of the loop's last turn.
    pub fn stats(&self) -> Stats {
        self.shared.lock().unwrap().stats
    }

    /// Packets still in the recorder's outbox.
    pub fn outbox(&self) -> usize {
        self.shared.lock().unwrap().outbox
    }

    /// Whether the loop still runs.
    pub fn running(&self) -> bool {
        self.shared.lock().unwrap().ended.is_none()
    }

    /// How many times the handler saw `what`.
    pub fn count(&self, what: &Seen) -> usize {
        self.seen().iter().filter(|s| *s == what).count()
    }

    /// The payloads that arrived from `dir`, with their times.
    pub fn packets(&self, dir: Dir) -> Vec<(Vec<u8>, Instant)> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Packet(d, p, at) if d == dir => Some((p, at)),
                _ => None,
            })
            .collect()
    }

    /// Waits until the handler saw `what` `n` times.
    pub fn wait_seen(&self, what: Seen, n: usize) {
        assert!(
            wait_for(DEADLINE, || self.count(&what) >= n),
            "{}: never saw {what:?} {n} times; saw {:?}",
            self.path.display(),
            self.seen()
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.jobs.send(None);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let end = Instant::now() + DEADLINE;
            while !thread.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else if !std::thread::panicking() {
                panic!("{}: the service thread did not stop", self.path.display());
            }
        }
    }
}
