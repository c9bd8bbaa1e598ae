//! The `itcd` event loop: one thread, one `epoll` (through mio), owning the
//! two PRU devices, the FUSE device, a signalfd and the timers.
//!
//! Every ready source is drained until it would block; then expired timers
//! run, outbound queues are flushed into the PRUs, and parked FUSE requests
//! are retried. With nothing to do the loop sleeps until the next timer
//! (a hello, an absence deadline, a device reopen): no busy polling.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fuse_fs::{MountError, MountOptions, Ownership, Progress, Server};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::pru::{PruDevice, RecvMany, MAX_MSG};
use crate::pru_framing::{Framing, Incoming, PruFraming};
use crate::tile::{Config, Tile};
use itc_proto::pru_batch::BatchWriter;
use itc_proto::Pru;

const FUSE: Token = Token(0);
const SIGNALS: Token = Token(1);
const PRU_TOKENS: [Token; 2] = [Token(2), Token(3)];

/// Longest wait between attempts to reopen a lost PRU device.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First wait before reopening a lost PRU device.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Most FUSE requests or PRU messages handled per source per turn of the
/// loop, so one busy source cannot starve the others or the timers.
const BATCH: usize = 64;
/// Most messages taken from a PRU socket in one system call.
const READ_MANY: usize = 8;

/// What `itcd` needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// PRU 0 and PRU 1 device paths.
    pub pru: [PathBuf; 2],
    /// Where to mount the tree.
    pub mount: PathBuf,
    /// Owner and group of the tree.
    pub owner: Ownership,
    /// Tile settings.
    pub tile: Config,
    /// Offer the PRUs batched messages at start.
    pub pru_batch: bool,
}

/// Why `itcd` stopped or could not start; messages say what to check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PRU device could not be opened at start.
    #[error("cannot open PRU device {0}: {1} (is the PRU firmware running and the rpmsg device present? under simulation, is tile-sim running?)")]
    OpenDevice(PathBuf, io::Error),
    /// A PRU path names something else than a device.
    #[error("PRU device {0} is neither a character device nor a UNIX socket (check --pru0 and --pru1: the rpmsg device such as /dev/rpmsg_pru30, or a tile-sim socket)")]
    NotADevice(PathBuf),
    /// A PRU device cannot be waited on.
    #[error("cannot wait for messages from PRU device {0}: {1} (check --pru0 and --pru1: the rpmsg device such as /dev/rpmsg_pru30, or a tile-sim socket)")]
    WatchDevice(PathBuf, io::Error),
    /// The start message could not be sent.
    #[error("cannot start PRU device {0}: {1} (the PRU side closed or refused the start message: is the PRU firmware running? under simulation, is tile-sim still running?)")]
    StartDevice(PathBuf, io::Error),
    /// The tree could not be mounted.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// The FUSE session failed.
    #[error("FUSE session: {0}")]
    Fuse(io::Error),
    /// Signal handling could not be set up.
    #[error("setting up signal handling: {0}")]
    Signals(nix::Error),
    /// The event loop failed.
    #[error("event loop: {0}")]
    Poll(io::Error),
}

bitflags::bitflags! {
    /// A set of the loop's event sources that have work.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    struct Sources: u8 {
        /// The FUSE device.
        const FUSE = 1 << 0;
        /// PRU 0's device.
        const PRU0 = 1 << 1;
        /// PRU 1's device.
        const PRU1 = 1 << 2;
    }
}

impl Sources {
    /// The device of `pru`.
    fn pru(pru: Pru) -> Sources {
        match pru {
            Pru::Pru0 => Sources::PRU0,
            Pru::Pru1 => Sources::PRU1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Hello,
    Reopen(usize),
}

/// One PRU slot: the device while open, and its reopen backoff. The
/// backoff grows with every loss or failed reopen and falls back to the
/// minimum only once the device has sent a message: a device that opens
/// and hangs up at once must not be reopened ten times a second forever.
struct PruSlot {
    path: PathBuf,
    dev: Option<PruDevice>,
    /// How the open device's messages are framed.
    framing: PruFraming,
    writable: bool,
    backoff: Duration,
}

struct Daemon {
    tile: Tile,
    server: Server,
    poll: Poll,
    signals: SignalFd,
    prus: [PruSlot; 2],
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    rng: u64,
    /// Sources left with work after a full batch.
    more: Sources,
    /// Offer the PRUs batched messages at start.
    pru_batch: bool,
    /// The batched message being filled for a PRU.
    batch: BatchWriter,
}

/// Run `itcd` until SIGINT, SIGTERM or SIGHUP (returns Ok) or a fatal error.
pub fn run(opts: Options) -> Result<(), Error> {
    // Every log line names the tile: a simulated grid shares one terminal.
    let _span =
        tracing::info_span!("itcd", tile = %crate::text::one_line(&opts.tile.name)).entered();
    // The mount point before anything else: a second itcd for a tile that
    // is already served must fail before it opens the PRU devices, which
    // would take them from the running one (a seqpacket PRU serves one
    // host at a time, and an rpmsg device is not to be shared either).
    fuse_fs::check_mount_point(&opts.mount)?;
    // Then the devices: a missing device, or one epoll cannot wait on, is
    // reported before anything is mounted.
    let poll = Poll::new().map_err(Error::Poll)?;
    let mut devs = Vec::new();
    for (i, path) in opts.pru.iter().enumerate() {
        let dev = PruDevice::open(path).map_err(|e| {
            if e.get_ref()
                .is_some_and(|e| e.is::<crate::pru::NotADevice>())
            {
                Error::NotADevice(path.clone())
            } else {
                Error::OpenDevice(path.clone(), e)
            }
        })?;
        watch_pru(&poll, i, &dev).map_err(|e| Error::WatchDevice(path.clone(), e))?;
        devs.push(dev);
    }
    let session = fuse_fs::mount(
        &opts.mount,
        &MountOptions {
            fsname: format!("itcd:{}", opts.tile.name),
        },
    )?;
    let server = Server::new(session, opts.owner).map_err(Error::Fuse)?;

    // Signals become events; blocked only after the mount helper started so
    // it keeps default dispositions.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    // A hang-up (the terminal of an itcd run by hand closing) ends it as
    // cleanly: there is no configuration to reload.
    mask.add(Signal::SIGHUP);
    mask.thread_block().map_err(Error::Signals)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(Error::Signals)?;

    poll.registry()
        .register(&mut SourceFd(&server.as_raw_fd()), FUSE, Interest::READABLE)
        .map_err(Error::Poll)?;
    poll.registry()
        .register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )
        .map_err(Error::Poll)?;

    let mut devs = devs.into_iter();
    let prus = std::array::from_fn(|i| PruSlot {
        path: opts.pru[i].clone(),
        dev: devs.next(),
        framing: PruFraming::new(opts.pru_batch),
        writable: true,
        backoff: MIN_BACKOFF,
    });
    let seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    let mut d = Daemon {
        tile: Tile::new(opts.tile),
        server,
        poll,
        signals,
        prus,
        timers: BinaryHeap::new(),
        rng: seed | 1,
        more: Sources::empty(),
        pru_batch: opts.pru_batch,
        batch: BatchWriter::new(),
    };
    for pru in Pru::ALL {
        d.start_pru(pru)?;
    }
    d.schedule_hello(Instant::now());
    crate::sys::notify_ready();
    tracing::info!(
        "tile {:?} serving {} (pru0 {}, pru1 {})",
        d.tile.config().name,
        opts.mount.display(),
        opts.pru[0].display(),
        opts.pru[1].display()
    );
    d.run()
}

/// Wait for messages from PRU `i`'s device.
fn watch_pru(poll: &Poll, i: usize, dev: &PruDevice) -> io::Result<()> {
    poll.registry().register(
        &mut SourceFd(&dev.as_raw_fd()),
        PRU_TOKENS[i],
        Interest::READABLE,
    )
}

impl Daemon {
    /// Send the start message (after the framing offer, if batching is
    /// on) to a device already watched.
    fn start_pru(&mut self, pru: Pru) -> Result<(), Error> {
        let i = pru.index();
        let slot = &mut self.prus[i];
        let Some(dev) = &slot.dev else {
            return Ok(());
        };
        slot.framing = PruFraming::new(self.pru_batch);
        let stats = self.tile.pru_stats_mut();
        for msg in slot.framing.start_messages() {
            stats.pru_writes[i] += 1;
            dev.send(&msg)
                .map_err(|e| Error::StartDevice(slot.path.clone(), e))?;
            stats.pru_messages_out[i] += 1;
        }
        stats.pru_framing[i] = slot.framing.state();
        slot.writable = true;
        self.tile.set_pru_up(pru, true);
        Ok(())
    }

    fn run(mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = if !self.more.is_empty() {
                Some(Duration::ZERO)
            } else {
                self.next_deadline()
                    .map(|t| t.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Poll(e)),
            }
            let mut ready = std::mem::take(&mut self.more);
            for event in events.iter() {
                match event.token() {
                    FUSE => ready |= Sources::FUSE,
                    SIGNALS => {
                        if let Ok(Some(info)) = self.signals.read_signal() {
                            tracing::info!("signal {}: unmounting and exiting", info.ssi_signo);
                            return Ok(());
                        }
                    }
                    t => {
                        if let Some(i) = PRU_TOKENS.iter().position(|p| *p == t) {
                            if event.is_writable() && !self.prus[i].writable {
                                self.prus[i].writable = true;
                                self.watch_writable(i, false);
                            }
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                ready |= Sources::pru(Pru::ALL[i]);
                            }
                        }
                    }
                }
            }
            for pru in Pru::ALL {
                if ready.contains(Sources::pru(pru)) {
                    let more = self.read_pru(pru);
                    self.more.set(Sources::pru(pru), more);
                }
            }
            if ready.contains(Sources::FUSE) {
                // One request at a time, flushing after each, so a written
                // packet reaches the PRU before the writer's next request
                // is judged against the queue.
                for n in 1..=BATCH {
                    match self.server.process(&mut self.tile, 1) {
                        Ok(Progress::Idle) => break,
                        Ok(Progress::More) => {
                            self.flush_all();
                            self.server.finish_writes();
                            if n == BATCH {
                                self.more |= Sources::FUSE;
                            }
                        }
                        Ok(Progress::Unmounted) => {
                            tracing::warn!("the tree was unmounted from outside; exiting");
                            return Ok(());
                        }
                        Err(e) => return Err(Error::Fuse(e)),
                    }
                }
            }
            self.run_timers();
            self.flush_and_service();
        }
    }

    /// Send what waits, then retry the requests parked on what changed,
    /// until nothing more can go: a parked write taken by the retry queues
    /// a packet that no later event may come to send (the writer is
    /// answered, the PRU is still writable and was not watched for it).
    /// Ends: a round sends until the queue is empty or the PRU is full,
    /// and each parked write is taken at most once.
    fn flush_and_service(&mut self) {
        loop {
            self.flush_all();
            self.server.service(&mut self.tile);
            let sendable = Pru::ALL.iter().any(|&pru| {
                let slot = &self.prus[pru.index()];
                slot.writable
                    && slot.dev.is_some()
                    && slot.framing.can_send()
                    && self.tile.has_outbound(pru)
            });
            if !sendable {
                return;
            }
        }
    }

    fn flush_all(&mut self) {
        for pru in Pru::ALL {
            if self.tile.has_outbound(pru) {
                self.flush_pru(pru);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((t, _))| *t);
        [timer, self.tile.next_expiry(), self.server.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        self.tile.expire(now);
        self.server.expire(now);
        while let Some(Reverse((t, timer))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Hello => {
                    self.tile.send_hellos();
                    self.schedule_hello(now);
                }
                Timer::Reopen(i) => self.reopen(Pru::ALL[i], now),
            }
        }
    }

    fn schedule_hello(&mut self, now: Instant) {
        // +-10% jitter keeps neighbours from beating in step.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let base = self.tile.config().hello_interval;
        let jitter = 0.9 + (self.rng % 2001) as f64 / 10_000.0;
        self.timers
            .push(Reverse((now + base.mul_f64(jitter), Timer::Hello)));
    }

    /// Read up to a batch of messages; returns whether more may wait.
    /// A socket gives up to [`READ_MANY`] messages per system call, and
    /// a call that gives fewer has emptied it.
    fn read_pru(&mut self, pru: Pru) -> bool {
        let i = pru.index();
        let mut bufs = [[0u8; MAX_MSG]; READ_MANY];
        let mut lens = [0usize; READ_MANY];
        let mut taken = 0;
        while taken < BATCH {
            let Some(dev) = &self.prus[i].dev else {
                return false;
            };
            self.tile.pru_stats_mut().pru_reads[i] += 1;
            match dev.recv_many(&mut bufs, &mut lens) {
                Ok((RecvMany::Messages(n), more)) => {
                    if n > 0 {
                        self.prus[i].backoff = MIN_BACKOFF;
                    }
                    self.tile.pru_stats_mut().pru_messages_in[i] += n as u64;
                    for (buf, &len) in bufs.iter().zip(&lens[..n]) {
                        // One longer than the buffer (MSG_TRUNC reports the
                        // full length) is handed on empty: malformed either
                        // way.
                        let msg = buf.get(..len).unwrap_or(&[]);
                        self.on_pru_message(pru, msg);
                    }
                    if !more {
                        return false;
                    }
                    taken += n;
                }
                Ok((RecvMany::Closed, _)) => {
                    self.lose_pru(pru, "closed");
                    return false;
                }
                Err(e) => {
                    self.lose_pru(pru, &e.to_string());
                    return false;
                }
            }
        }
        true
    }

    /// One message from `pru`, taken apart as the framing says.
    fn on_pru_message(&mut self, pru: Pru, msg: &[u8]) {
        let i = pru.index();
        let now = Instant::now();
        match self.prus[i].framing.on_message(msg) {
            Incoming::Agreed(framing) => {
                tracing::info!("PRU{i}: messages {}", framing.name());
                self.tile.pru_stats_mut().pru_framing[i] = framing;
            }
            Incoming::One(msg) => {
                self.tile.pru_stats_mut().pru_framing[i] = self.prus[i].framing.state();
                // An empty message is no packet, and one longer than a
                // bounce cannot be one: either is handed on empty, for the
                // tile to count as malformed.
                let msg = Some(msg)
                    .filter(|m| m.len() <= itc_proto::MAX_BOUNCE_LEN)
                    .unwrap_or(&[]);
                self.tile.on_pru_message(pru, msg, now);
            }
            Incoming::Items(items) => {
                for item in items {
                    self.tile.on_pru_message(pru, item, now);
                }
            }
            Incoming::Bad(e) => {
                tracing::debug!("PRU{i}: malformed batched message: {e}");
                self.tile.pru_stats_mut().pru_bad_batches[i][e.index()] += 1;
                self.tile.pru_stats_mut().pru_malformed[i] += 1;
            }
        }
    }

    fn flush_pru(&mut self, pru: Pru) {
        let i = pru.index();
        match self.prus[i].framing.state() {
            Framing::Starting => {}
            Framing::Single => self.flush_pru_single(pru),
            Framing::Batched => self.flush_pru_batched(pru),
        }
    }

    /// Fills batched messages from the outbound queues (in their order)
    /// and sends each, until the queues are empty or the device is full.
    fn flush_pru_batched(&mut self, pru: Pru) {
        let i = pru.index();
        let mut taken = Vec::new();
        while self.prus[i].writable && self.prus[i].dev.is_some() {
            self.batch.clear();
            taken.clear();
            while let Some((dir, lane, packet)) = self.tile.pop_outbound(pru) {
                if !self.batch.push(&packet) {
                    self.tile.unpop_outbound(dir, lane, packet);
                    break;
                }
                taken.push((dir, lane, packet));
            }
            if taken.is_empty() {
                return;
            }
            let Some(dev) = &self.prus[i].dev else {
                return;
            };
            self.tile.pru_stats_mut().pru_writes[i] += 1;
            match dev.send(self.batch.as_bytes()) {
                Ok(()) => {
                    self.tile.pru_stats_mut().pru_messages_out[i] += 1;
                    for (dir, lane, packet) in taken.drain(..) {
                        self.tile.sent(dir, lane, &packet);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tracing::debug!("PRU{i} device full; {} packets wait", taken.len());
                    for (dir, lane, packet) in taken.drain(..).rev() {
                        self.tile.unpop_outbound(dir, lane, packet);
                    }
                    self.prus[i].writable = false;
                    self.watch_writable(i, true);
                }
                Err(e) => {
                    for (dir, _, packet) in taken.drain(..) {
                        self.tile.send_failed(dir, &packet);
                    }
                    self.lose_pru(pru, &e.to_string());
                }
            }
        }
    }

    fn flush_pru_single(&mut self, pru: Pru) {
        let i = pru.index();
        while self.prus[i].writable && self.prus[i].dev.is_some() {
            let Some((dir, lane, packet)) = self.tile.pop_outbound(pru) else {
                return;
            };
            let Some(dev) = &self.prus[i].dev else {
                return;
            };
            self.tile.pru_stats_mut().pru_writes[i] += 1;
            match dev.send(&packet) {
                Ok(()) => {
                    self.tile.pru_stats_mut().pru_messages_out[i] += 1;
                    self.tile.sent(dir, lane, &packet);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tracing::debug!("PRU{i} device full; {dir} waits");
                    self.tile.unpop_outbound(dir, lane, packet);
                    self.prus[i].writable = false;
                    self.watch_writable(i, true);
                }
                Err(e) => {
                    self.tile.send_failed(dir, &packet);
                    self.lose_pru(pru, &e.to_string());
                }
            }
        }
    }

    /// Ask for writable events only while a send is blocked: otherwise every
    /// message the PRU side consumes would wake the loop for nothing.
    fn watch_writable(&mut self, i: usize, on: bool) {
        let Some(dev) = &self.prus[i].dev else {
            return;
        };
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Err(e) = self.poll.registry().reregister(
            &mut SourceFd(&dev.as_raw_fd()),
            PRU_TOKENS[i],
            interest,
        ) {
            tracing::warn!("PRU{i}: cannot change event interest: {e}");
        }
    }

    fn lose_pru(&mut self, pru: Pru, why: &str) {
        let i = pru.index();
        let Some(dev) = self.prus[i].dev.take() else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&dev.as_raw_fd()));
        tracing::warn!(
            "PRU{i} device {} lost ({why}); its links are down, reopening in {:?}",
            dev.path().display(),
            self.prus[i].backoff
        );
        drop(dev);
        self.tile.set_pru_up(pru, false);
        self.retry_later(i, Instant::now());
    }

    fn reopen(&mut self, pru: Pru, now: Instant) {
        let i = pru.index();
        let opened = PruDevice::open(&self.prus[i].path).and_then(|dev| {
            watch_pru(&self.poll, i, &dev)?;
            Ok(dev)
        });
        match opened {
            Ok(dev) => {
                self.prus[i].dev = Some(dev);
                match self.start_pru(pru) {
                    Ok(()) => {
                        tracing::info!("PRU{i} device {} reopened", self.prus[i].path.display())
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                        self.prus[i].dev = None;
                        self.retry_later(i, now);
                    }
                }
            }
            Err(e) => {
                tracing::debug!("reopening {}: {e}", self.prus[i].path.display());
                self.retry_later(i, now);
            }
        }
    }

    /// Reopen after the current backoff, and wait longer the next time.
    fn retry_later(&mut self, i: usize, now: Instant) {
        let slot = &mut self.prus[i];
        self.timers
            .push(Reverse((now + slot.backoff, Timer::Reopen(i))));
        slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF);
    }
}
