//! `--link firmware`: every tile's two PRUs run the PRU firmware's host
//! build (`pru-firmware`), and the wires between them are simulated bit by
//! bit. Each PRU is a UNIX seqpacket socket, `{socket_dir}/{tile}.pru0` and
//! `.pru1`, with the same one-packet-per-message contract as the packet
//! emulator (`itcio::sim`) and the board's rpmsg devices.
//!
//! One thread steps every firmware instance in lockstep: one step is one
//! bit time on every wire, after which each instance's output pins for a
//! direction are copied to the facing instance's input pins
//! (`pru_firmware::wire`; PRU 0 of one tile faces PRU 1 of its neighbour
//! on the same prudir). `--corrupt P`
//! flips each data bit on each wire with probability P; a cut wire stops
//! copying, so both ends lose their clock and report a timeout.
//!
//! Time: the wires carry delimiters while idle, but stepping idle wires
//! would cost a core per grid for nothing. So the loop steps only while
//! some instance is not quiescent (a frame to send or in flight, a receiver
//! hunting or counting toward a timeout, a host message waiting). When all
//! are quiescent every wire freezes at once, which is seamless (each
//! receiver sees the same bits in the same order later), and the loop
//! sleeps in epoll until a host writes or the next monitor report is due;
//! the slept wall time is credited to the firmware's timers at `rate` (or
//! 2.5 Mbit/s if unlimited). While busy, `rate` > 0 throttles the steps to
//! that many bits per second of wall time; `rate` 0 runs as fast as the CPU
//! allows.
//!
//! With `corrupt` > 0 an idle line still takes bit errors in its
//! delimiters (which the firmware drops as runts), so a frozen wire must
//! not be a wire without noise. When the grid goes quiescent the loop
//! draws where the next bit error falls, sleeps until that bit's wall time,
//! and steps from just before it until the grid is quiescent again; see
//! [`IdleNoise`] for why the receivers see what stepping every idle bit
//! would have shown them. Frozen time passes at `rate`, or at 2.5 Mbit/s
//! with `rate` 0, as the timers' credit does: there is no wall time to
//! sleep at "as fast as possible", and racing through idle bits would make
//! an idle grid burn a core again for nothing but runts.
//!
//! Host side, per PRU: one connection at a time (a new one replaces the
//! old); messages are read only while the firmware's host queue has room,
//! so a host writing faster than the line sees its socket fill and block,
//! as with rpmsg; messages for the host wait in a bounded backlog while its
//! socket is full, and the firmware loses packets (OVRN) once that is full.
//! Host messages up to rpmsg's 496 bytes reach the firmware whole, which
//! ignores and counts those longer than a packet, as on the board.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use itc_emu::seqpacket::{SeqConn, SeqListener};
use itc_emu::{LinkStats, SimStats, TileStats};
use itc_proto::{Dir, Pru};
use mio::{Events, Interest, Poll, Token, Waker};
use pru_firmware::{
    default_config, in_data_pin, in_pins, wire, DirStats, Firmware, MAX_HOST_MSG, MAX_RPMSG_MSG,
};

/// Steps between looks at the sockets and the clock.
const BATCH: u32 = 512;
/// Steps of the first batch after frozen wires resume at a drawn error:
/// the few bits to the error and [`SETTLE_BITS`], with room for a runt to
/// close; most often the wires may freeze again after it.
const ERROR_BATCH: u32 = 64;
/// Most batches run in one turn to catch up with the wall clock.
const CATCH_UP_BATCHES: u32 = 16;
/// Messages held for a host whose socket is full.
const HOST_BACKLOG: usize = 64;
/// How far behind the wall clock frozen time may start.
const MAX_LAG: Duration = Duration::from_millis(10);
/// Bit rate of frozen wall time with `rate` 0 (unlimited): the real link's.
const NOMINAL_BPS: u64 = 2_500_000;
/// The idle delimiter pattern's period in bits: a wire carrying only
/// delimiters, and each end of it, is back in the same state every this
/// many bits (the transmitter's 8-bit flag, its clock toggling every bit,
/// the receiver restarting its empty frame at every flag).
const IDLE_PERIOD_BITS: u64 = 8;
/// Clean bits stepped after the last bit error before the grid may freeze
/// again: a flag follows the damaged one within 7 bits and takes 8, and the
/// receiver samples a bit a step after it goes out, so after 16 every
/// receiver has closed the noise (as a runt, or with a frame error that
/// keeps it from being quiescent) and restarted at a clean delimiter; from
/// then on its state repeats with the idle pattern. One period more as
/// margin.
const SETTLE_BITS: u64 = 3 * IDLE_PERIOD_BITS;
const WAKER: Token = Token(0);

/// How the wires behave.
#[derive(Debug, Clone, Copy)]
pub struct FwParams {
    /// Bits per second of wall time while busy; 0 is unlimited.
    pub rate_bps: u64,
    /// Probability of flipping each data bit on a wire.
    pub corrupt: f64,
    /// Seed for the flips.
    pub seed: u64,
}

/// The splitmix64 finaliser: spreads a small seed (`--seed 1`) over all
/// bits, so xorshift's first draws are not near 0 (a flip at once).
fn scramble(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One wire between two tiles: `a`'s `dir` to `b`'s `dir.opposite()`.
#[derive(Debug, Clone, Copy)]
struct FwWire {
    a: usize,
    dir: Dir,
    b: usize,
    cut: bool,
}

enum Command {
    Cut(usize, Dir),
    Restore(usize, Dir),
    Stats(Sender<SimStats>),
    FirmwareStats(usize, Sender<pru_firmware::Stats>),
    Shutdown,
}

/// A running firmware grid; stopped when dropped.
pub struct FwGrid {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    sockets: Vec<PathBuf>,
}

impl std::fmt::Debug for FwGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwGrid")
            .field("sockets", &self.sockets)
            .finish()
    }
}

struct Endpoint {
    fw: Firmware,
    listener: SeqListener,
    conn: Option<SeqConn>,
    /// A host message read but not yet taken by the firmware.
    inbox: Option<Vec<u8>>,
    backlog: VecDeque<Vec<u8>>,
    /// The input pins as last set.
    r31: u32,
}

/// One direction's firmware counters as `name=value` words, named as in
/// `struct itc_fw_dir_stats` (`pru-firmware/include/itc_fw.h`).
pub fn dir_stats_words(d: &DirStats) -> String {
    let counters = [
        ("frames_sent", d.frames_sent),
        ("packets_received", d.packets_received),
        ("crc_errors", d.crc_errors),
        ("aborts", d.aborts),
        ("misaligned", d.misaligned),
        ("overlong", d.overlong),
        ("runts", d.runts),
        ("not_routed", d.not_routed),
        ("timeouts", d.timeouts),
        ("syncs", d.syncs),
        ("host_overruns", d.host_overruns),
        ("bounced_full", d.bounced_full),
        ("bounced_no_sync", d.bounced_no_sync),
    ];
    let words: Vec<String> = counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    words.join(" ")
}

/// The socket of `name`'s `pru` in `dir`.
pub fn socket_path(dir: &Path, name: &str, pru: Pru) -> PathBuf {
    dir.join(format!("{name}.pru{}", pru.index()))
}

impl FwGrid {
    /// Binds two sockets per tile in `socket_dir` and starts the loop.
    pub fn start(
        socket_dir: &Path,
        names: &[String],
        links: &[(usize, Dir, usize)],
        params: FwParams,
    ) -> Result<FwGrid, String> {
        let poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(|e| format!("waker: {e}"))?);
        let mut eps = Vec::new();
        let mut sockets = Vec::new();
        let cfg = default_config();
        for name in names {
            for pru in Pru::ALL {
                let path = socket_path(socket_dir, name, pru);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("{}: {e}", path.display())),
                }
                let mut listener =
                    SeqListener::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let token = Token(1 + 2 * eps.len());
                poll.registry()
                    .register(&mut listener, token, Interest::READABLE)
                    .map_err(|e| format!("epoll: {e}"))?;
                let fw = Firmware::new(pru.index() as u8, &cfg).map_err(|e| e.to_string())?;
                sockets.push(path);
                eps.push(Endpoint {
                    fw,
                    listener,
                    conn: None,
                    inbox: None,
                    backlog: VecDeque::new(),
                    r31: 0,
                });
            }
        }
        let wires = links
            .iter()
            .map(|&(a, dir, b)| FwWire {
                a,
                dir,
                b,
                cut: false,
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        let sim = Sim {
            poll,
            eps,
            wires,
            params,
            rng: scramble(params.seed) | 1,
            commands: rx,
            tiles: names.len(),
            kick: 0,
            idle_noise: None,
            next_error: None,
            clean_bits: 0,
        };
        let thread = std::thread::Builder::new()
            .name("tile-firmware".to_owned())
            .spawn(move || sim.run())
            .map_err(|e| format!("starting the firmware thread: {e}"))?;
        Ok(FwGrid {
            tx,
            waker,
            thread: Some(thread),
            sockets,
        })
    }

    fn send(&self, c: Command) {
        if self.tx.send(c).is_ok() {
            if let Err(e) = self.waker.wake() {
                tracing::error!("cannot wake the firmware loop: {e}");
            }
        }
    }

    /// Cuts the wire at `tile`'s `dir`.
    pub fn cut(&self, tile: usize, dir: Dir) {
        self.send(Command::Cut(tile, dir));
    }

    /// Reconnects the wire at `tile`'s `dir`.
    pub fn restore(&self, tile: usize, dir: Dir) {
        self.send(Command::Restore(tile, dir));
    }

    /// Which wires exist and which have sync at both ends.
    pub fn stats(&self) -> SimStats {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Stats(tx));
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    }

    /// The counters of `tile`'s PRU `pru`'s firmware; `None` if the loop
    /// does not answer.
    pub fn firmware_stats(&self, tile: usize, pru: Pru) -> Option<pru_firmware::Stats> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::FirmwareStats(2 * tile + pru.index(), tx));
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }

    /// The firmware's counters of `tile`'s direction `dir` (kept by the
    /// PRU that serves it).
    pub fn dir_stats(&self, tile: usize, dir: Dir) -> Option<DirStats> {
        self.firmware_stats(tile, dir.pru())
            .map(|s| s.dir[usize::from(dir.prudir())])
    }
}

impl Drop for FwGrid {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the firmware thread panicked");
            }
        }
        for path in &self.sockets {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The next bit error on the frozen idle wires, drawn when the grid goes
/// quiescent.
///
/// Why the receivers see what stepping every idle bit would show them:
///
/// - Stepping, each lane (a direction of an uncut wire) takes a trial per
///   bit, flipped with probability P, lanes in wire order within a bit.
///   Over that sequence of trials the number of clean ones before the
///   first error is geometric, P(K >= k) = (1 - P)^k, so the loop draws
///   K once (from the same seeded generator) instead of every trial: the
///   error is on bit K / lanes, lane K % lanes, and the lanes after it in
///   that bit and every later bit take their trials as usual. The
///   geometric distribution is memoryless: given no error in the first j
///   trials, the rest is geometric again. So a draw may be dropped and
///   made afresh whenever the frozen stretch ends early (a host message,
///   a restore) or the lanes change (a cut).
/// - The grid freezes only quiescent and [`SETTLE_BITS`] after the last
///   error: every wire carries delimiters only, every transmitter is idle
///   and every receiver restarts its empty frame at each flag (or has
///   timed out on a cut wire, which takes no noise). The whole state but
///   the counters and timers then repeats every [`IDLE_PERIOD_BITS`].
///   Freezing happens at whatever bit of the flag each wire is on (the
///   loop looks at batch ends, and a transmitter is idle from the first
///   bit of the flag after a frame's closing one), and the frozen state is
///   the state the stepped grid would be in any whole number of periods
///   later. So the loop skips `S`, the most whole periods up to bit
///   K / lanes: it sleeps their wall time (credited to the timers as any
///   frozen time is), resumes in the state stepping them would have left,
///   and steps the rest, fewer than a period, with K - S * lanes trials
///   clean and the next one flipped. The error lands on the bit of the
///   flag, and the lane, that stepping every bit would have hit, each
///   position of the pattern with its own probability.
/// - Nothing else changes while idle: runts need an error, and the timers
///   (monitor reports) are credited for frozen time with
///   `itc_fw_advance_idle`.
#[derive(Debug, Clone, Copy)]
struct IdleNoise {
    /// When the skipped periods end at the idle bit rate.
    due: Instant,
    /// Trials to step clean when stepping resumes; the next is flipped.
    clean_trials: u64,
}

struct Sim {
    poll: Poll,
    /// Tile `t`'s PRU `p` is `eps[2 * t + p]`.
    eps: Vec<Endpoint>,
    wires: Vec<FwWire>,
    params: FwParams,
    rng: u64,
    commands: Receiver<Command>,
    tiles: usize,
    /// Batches to step even if every instance is quiescent: after a
    /// restore, timed-out receivers only notice the clock once stepped.
    kick: u32,
    /// While frozen with `corrupt` > 0: the next bit error.
    idle_noise: Option<IdleNoise>,
    /// While stepping: trials left clean before a drawn error, which is
    /// flipped instead of drawing its trial.
    next_error: Option<u64>,
    /// Bits stepped since a bit was last flipped.
    clean_bits: u64,
}

impl Sim {
    fn ep_index(tile: usize, dir: Dir) -> usize {
        2 * tile + dir.pru().index()
    }

    /// Bits per second of frozen wall time: `rate`, or the real link's if
    /// unlimited.
    fn idle_bps(&self) -> u64 {
        if self.params.rate_bps == 0 {
            NOMINAL_BPS
        } else {
            self.params.rate_bps
        }
    }

    /// Whether the wires may freeze: every instance quiescent and, with
    /// noise, the grid in the idle pattern with no drawn error still to
    /// step (see IdleNoise).
    fn may_freeze(&self) -> bool {
        let quiescent = self.kick == 0
            && self
                .eps
                .iter()
                .all(|e| e.fw.quiescent() && e.inbox.is_none());
        let settled = self.params.corrupt <= 0.0
            || (self.clean_bits >= SETTLE_BITS && self.next_error.is_none());
        quiescent && settled
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        // Start of the current busy stretch and the bits stepped since.
        let mut busy_since: Option<(Instant, u64)> = None;
        let mut idle_since = Instant::now();
        // A busy stretch that steps to a drawn error starts at its due time.
        let mut resume_at: Option<Instant> = None;
        loop {
            let busy = !self.may_freeze();
            let timeout = if busy {
                // Stepping takes its trials bit by bit again.
                self.idle_noise = None;
                let (start, bits) = *busy_since
                    .get_or_insert_with(|| (resume_at.take().unwrap_or_else(Instant::now), 0));
                if self.params.rate_bps == 0 {
                    Some(Duration::ZERO)
                } else {
                    let due = Duration::from_secs_f64(bits as f64 / self.params.rate_bps as f64);
                    Some(due.saturating_sub(start.elapsed()))
                }
            } else {
                if let Some((start, bits)) = busy_since.take() {
                    // Frozen time starts where the stepped bits end: a
                    // batch may run ahead of the wall clock, and epoll
                    // wakes up to a millisecond after an error is due, a
                    // lateness the next error must make up for the noise
                    // to keep its rate. A loop that fell further behind
                    // (a slow build) does not catch up.
                    let mut end = start;
                    if self.params.rate_bps > 0 {
                        end += Duration::from_secs_f64(bits as f64 / self.params.rate_bps as f64);
                    }
                    let now = Instant::now();
                    idle_since = now.checked_sub(MAX_LAG).map_or(end, |t| end.max(t));
                }
                if self.params.corrupt > 0.0 && self.idle_noise.is_none() {
                    self.idle_noise = self.draw_idle_noise(idle_since);
                }
                // Wake for the next monitor report or bit error at the
                // latest.
                let mut timeout = Duration::from_secs(1);
                if let Some(noise) = &self.idle_noise {
                    timeout = timeout.min(noise.due.saturating_duration_since(Instant::now()));
                }
                Some(timeout)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("firmware loop: epoll failed: {e}");
                    return;
                }
            }
            if !self.apply_commands() {
                return;
            }
            self.host_io();
            if busy {
                if let Some((start, bits)) = busy_since.as_mut() {
                    // epoll sleeps in whole milliseconds, longer than one
                    // batch at the real rate: catch up to the wall clock
                    // (a bounded number of batches per turn) so the rate
                    // holds on average.
                    for _ in 0..CATCH_UP_BATCHES {
                        let ahead = self.params.rate_bps > 0
                            && Duration::from_secs_f64(*bits as f64 / self.params.rate_bps as f64)
                                > start.elapsed();
                        if ahead {
                            break;
                        }
                        let steps = if self.next_error.is_some() && self.kick == 0 {
                            ERROR_BATCH
                        } else {
                            BATCH
                        };
                        self.kick = self.kick.saturating_sub(1);
                        self.run_batch(steps);
                        *bits += u64::from(steps);
                        // Behind the clock (a slow build) or not, stepping
                        // the wires once they may freeze is wasted.
                        if self.params.rate_bps == 0 || self.may_freeze() {
                            break;
                        }
                    }
                }
                // Hand what the batches delivered to the hosts now: the
                // loop may go idle next and sleep until something else
                // wakes it.
                self.host_io();
            } else {
                // Frozen time is credited up to now, or only up to a due
                // error: the bits after it are stepped.
                let now = Instant::now();
                let due = self.idle_noise.filter(|n| n.due <= now);
                let until = due.map_or(now, |n| n.due);
                let credit = until.saturating_duration_since(idle_since).as_secs_f64()
                    * self.idle_bps() as f64;
                if credit >= 1.0 {
                    let bits = credit.min(u32::MAX as f64) as u32;
                    for ep in &mut self.eps {
                        ep.fw.advance_idle(bits);
                    }
                    idle_since = until;
                }
                if let Some(noise) = due {
                    // The skipped periods are over: step to the error.
                    self.next_error = Some(noise.clean_trials);
                    self.idle_noise = None;
                    resume_at = Some(noise.due);
                }
                self.collect_host_messages();
                self.host_io();
            }
        }
    }

    /// Applies queued commands; false on shutdown.
    fn apply_commands(&mut self) -> bool {
        while let Ok(c) = self.commands.try_recv() {
            match c {
                Command::Cut(t, d) | Command::Restore(t, d) => {
                    let cut = matches!(c, Command::Cut(..));
                    // The lanes change: draw again (see IdleNoise).
                    self.idle_noise = None;
                    for w in &mut self.wires {
                        if (w.a == t && w.dir == d) || (w.b == t && w.dir.opposite() == d) {
                            w.cut = cut;
                        }
                    }
                    if !cut {
                        self.kick = 1;
                    }
                }
                Command::Stats(reply) => {
                    let _ = reply.send(self.stats());
                }
                Command::FirmwareStats(ep, reply) => {
                    if let Some(ep) = self.eps.get(ep) {
                        let _ = reply.send(ep.fw.stats());
                    }
                }
                Command::Shutdown => return false,
            }
        }
        true
    }

    fn stats(&self) -> SimStats {
        let mut s = SimStats {
            tiles: vec![TileStats::default(); self.tiles],
        };
        let synced = |tile: usize, dir: Dir| {
            let bitmap = self.eps[Self::ep_index(tile, dir)].fw.stats().sync_bitmap;
            bitmap & (1 << dir.dir8()) != 0
        };
        for w in &self.wires {
            let up = !w.cut && synced(w.a, w.dir) && synced(w.b, w.dir.opposite());
            for (t, d) in [(w.a, w.dir), (w.b, w.dir.opposite())] {
                s.tiles[t].links[d.index()] = LinkStats {
                    wired: true,
                    up,
                    ..LinkStats::default()
                };
            }
        }
        s
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        // xorshift64; good enough to pick bits to damage.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether the next lane's bit is flipped: a drawn error, or a trial.
    fn flip(&mut self) -> bool {
        match self.next_error {
            Some(0) => {
                self.next_error = None;
                true
            }
            Some(k) => {
                self.next_error = Some(k - 1);
                false
            }
            None => self.uniform() < self.params.corrupt,
        }
    }

    /// Clean trials before the next flipped one: geometric, by inversion.
    fn clean_trials(&mut self) -> u64 {
        let p = self.params.corrupt;
        if p >= 1.0 {
            return 0;
        }
        // In (0, 1], so the logarithm is finite; the cast saturates.
        let u = 1.0 - self.uniform();
        (u.ln() / (-p).ln_1p()).floor() as u64
    }

    /// The next bit error on the lanes of the uncut wires, frozen from
    /// `from` (see IdleNoise); `None` if no lane can take one, or not
    /// before the end of time.
    fn draw_idle_noise(&mut self, from: Instant) -> Option<IdleNoise> {
        let lanes = 2 * self.wires.iter().filter(|w| !w.cut).count() as u64;
        if lanes == 0 {
            return None;
        }
        let k = self.clean_trials();
        let bit = k / lanes;
        let skip = bit - bit % IDLE_PERIOD_BITS;
        let wait = Duration::try_from_secs_f64(skip as f64 / self.idle_bps() as f64).ok()?;
        Some(IdleNoise {
            due: from.checked_add(wait)?,
            clean_trials: k - skip * lanes,
        })
    }

    /// Steps every instance and wire `steps` times.
    fn run_batch(&mut self, steps: u32) {
        for _ in 0..steps {
            for ep in &mut self.eps {
                if let Some(msg) = ep.inbox.take() {
                    if ep.fw.push_host(&msg).is_err() {
                        ep.inbox = Some(msg);
                    }
                }
                ep.fw.step();
            }
            for i in 0..self.wires.len() {
                let w = self.wires[i];
                if w.cut {
                    continue;
                }
                let prudir = w.dir.prudir() as usize;
                let mask = in_pins(prudir);
                let ia = Self::ep_index(w.a, w.dir);
                let ib = Self::ep_index(w.b, w.dir.opposite());
                for (from, to) in [(ia, ib), (ib, ia)] {
                    let mut bits = wire(self.eps[from].fw.outputs(), prudir);
                    if self.params.corrupt > 0.0 && self.flip() {
                        bits ^= in_data_pin(prudir);
                        self.clean_bits = 0;
                    }
                    let to = &mut self.eps[to];
                    to.r31 = (to.r31 & !mask) | bits;
                    to.fw.set_inputs(to.r31);
                }
            }
            self.clean_bits = self.clean_bits.saturating_add(1);
            self.collect_host_messages();
        }
    }

    /// Moves messages from the firmware to the host backlogs while they
    /// have room; with no host they are discarded.
    fn collect_host_messages(&mut self) {
        let mut buf = [0u8; MAX_HOST_MSG];
        for ep in &mut self.eps {
            while ep.fw.host_pending() > 0 && ep.backlog.len() < HOST_BACKLOG {
                let Some(n) = ep.fw.pop_host_into(&mut buf) else {
                    break;
                };
                if ep.conn.is_some() {
                    ep.backlog.push_back(buf[..n].to_vec());
                }
            }
        }
    }

    /// Accepts, reads and writes every PRU socket as far as it goes now.
    fn host_io(&mut self) {
        // Whole messages up to what rpmsg carries reach the firmware, which
        // applies its own length rule (and counts what it ignores), as on
        // the board; one longer still could not be written to an rpmsg
        // device at all, so it is dropped here (a byte more than the
        // limit is enough to see that it is too long).
        let mut buf = [0u8; MAX_RPMSG_MSG + 1];
        for (i, ep) in self.eps.iter_mut().enumerate() {
            loop {
                match ep.listener.accept() {
                    Ok(mut conn) => {
                        let token = Token(2 + 2 * i);
                        if let Some(mut old) = ep.conn.take() {
                            let _ = self.poll.registry().deregister(&mut old);
                        }
                        let interest = Interest::READABLE | Interest::WRITABLE;
                        if let Err(e) = self.poll.registry().register(&mut conn, token, interest) {
                            tracing::warn!("cannot register a PRU connection: {e}");
                            continue;
                        }
                        ep.conn = Some(conn);
                        ep.backlog.clear();
                        ep.inbox = None;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let mut lost = false;
            if let Some(conn) = &ep.conn {
                while let Some(msg) = ep.backlog.front() {
                    match conn.send(msg) {
                        Ok(_) => {
                            ep.backlog.pop_front();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            lost = true;
                            break;
                        }
                    }
                }
                while !lost && ep.inbox.is_none() {
                    match conn.recv(&mut buf) {
                        Ok(0) if conn.peer_closed() => lost = true,
                        Ok(n) if n > MAX_RPMSG_MSG => {} // longer than rpmsg allows
                        Ok(n) => {
                            let msg = &buf[..n];
                            if ep.fw.push_host(msg).is_err() {
                                ep.inbox = Some(msg.to_vec());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => lost = true,
                    }
                }
            }
            if lost {
                if let Some(mut conn) = ep.conn.take() {
                    let _ = self.poll.registry().deregister(&mut conn);
                }
                ep.backlog.clear();
                ep.inbox = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use itcio::pru::{PruDevice, Recv};
    use pru_firmware::{sys, MAX_PACKET};

    use super::*;

    #[test]
    fn small_seeds_are_spread_over_all_bits() {
        for seed in [0, 1, 42] {
            let z = scramble(seed) | 1;
            assert!(z.count_ones() > 16, "seed {seed}: {z:#x}");
        }
        assert_ne!(scramble(1), scramble(2));
    }

    /// The next message on `host` (connected as `itcd` connects), waiting
    /// at most `deadline`.
    fn recv(host: &PruDevice, deadline: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + deadline;
        let mut buf = [0u8; 1024];
        while Instant::now() < end {
            match host.recv(&mut buf).expect("recv") {
                Recv::Message(n) => return Some(buf[..n].to_vec()),
                Recv::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
                Recv::Closed => panic!("the simulator closed the PRU socket"),
            }
        }
        None
    }

    /// Host messages longer than a packet but within rpmsg's limit reach
    /// the firmware whole and are ignored and counted there; the longest
    /// packet is still a packet (no sync on ET, so it bounces whole).
    #[test]
    fn long_host_messages_reach_the_firmware() {
        let dir = std::env::temp_dir().join(format!("tile-sim-fw-long-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let params = FwParams {
            rate_bps: 0,
            corrupt: 0.0,
            seed: 1,
        };
        let grid = FwGrid::start(&dir, &["t".to_owned()], &[], params).expect("start the grid");
        let host = PruDevice::open(&socket_path(&dir, "t", Pru::Pru0)).expect("connect");
        host.send(&[]).expect("send");
        let mut msg = vec![0x80 | 2u8; MAX_RPMSG_MSG]; // routed to ET
        for len in [MAX_PACKET + 1, 300, MAX_RPMSG_MSG] {
            host.send(&msg[..len]).expect("send");
        }
        msg[1] = 20;
        host.send(&msg[..MAX_PACKET]).expect("send");
        let bounce = loop {
            let m = recv(&host, Duration::from_secs(10)).expect("a bounce from the firmware");
            if m[0] == sys::ITC_FW_MSG_BOUNCE as u8 {
                break m;
            }
        };
        assert_eq!(bounce.len(), MAX_PACKET + 2);
        assert_eq!(bounce[1], sys::ITC_FW_BOUNCE_NO_SYNC as u8);
        assert_eq!(&bounce[2..], &msg[..MAX_PACKET]);
        let st = grid.firmware_stats(0, Pru::Pru0).expect("firmware stats");
        assert_eq!(
            st.host_ignored, 3,
            "the three messages longer than a packet"
        );
        assert_eq!(st.dir[0].bounced_no_sync, 1);
        drop(grid);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
