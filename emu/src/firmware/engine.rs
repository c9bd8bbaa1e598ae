//! The firmware model's loop: one thread steps every firmware instance in
//! lockstep, copies pins between the ends of each wire, and moves messages
//! between the instances and their host ports.
//!
//! One step is one bit time on every wire, after which each instance's
//! output pins for a direction are copied to the facing instance's input
//! pins (`pru_firmware::wire`; PRU 0 of one tile faces PRU 1 of its
//! neighbour on the same prudir), each data bit flipped as [`Noise`] says;
//! a cut wire stops copying, so both ends lose their clock and report a
//! timeout.
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
//! With noise an idle line still takes bit errors in its delimiters (which
//! the firmware drops as runts), so a frozen wire must not be a wire
//! without noise. When the grid goes quiescent the loop draws where the
//! next bit error falls, sleeps until that bit's wall time, and steps from
//! just before it until the grid is quiescent again (the argument is in
//! [`super::noise`]). Frozen time passes at `rate`, or at 2.5 Mbit/s with
//! `rate` 0, as the timers' credit does: there is no wall time to sleep at
//! "as fast as possible", and racing through idle bits would make an idle
//! grid burn a core again for nothing but runts.
//!
//! Host side, per PRU (a host port, `crate::host_port`): messages are read
//! only while the firmware has taken the last one, so a host writing faster
//! than the line sees its socket fill and block, as with rpmsg; messages
//! from the firmware are taken only while the port's backlog has room, so
//! the firmware loses packets (OVRN) once that is full. Host messages up to
//! rpmsg's 496 bytes reach the firmware whole, which ignores and counts
//! those longer than a packet, as on the board; longer ones could not be
//! written to an rpmsg device at all, and are dropped.

use std::io;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use itc_proto::Dir;
use mio::{Events, Poll};
use pru_firmware::{in_data_pin, in_pins, wire, Firmware, MAX_RPMSG_MSG};

use super::noise::Noise;
use crate::host_port::{HostPort, Ledger, Outgoing, Recv};
use crate::stats::{LinkStats, SimStats, TileStats};

/// Steps between looks at the sockets and the clock.
const BATCH: u32 = 512;
/// Steps of the first batch after frozen wires resume at a drawn error:
/// the few bits to the error and the settling bits after it, with room for
/// a runt to close; most often the wires may freeze again after it.
const ERROR_BATCH: u32 = 64;
/// Most batches run in one turn to catch up with the wall clock.
const CATCH_UP_BATCHES: u32 = 16;
/// How far behind the wall clock frozen time may start.
const MAX_LAG: Duration = Duration::from_millis(10);
/// Bit rate of frozen wall time with `rate` 0 (unlimited): the real link's.
const NOMINAL_BPS: u64 = 2_500_000;

/// A request from [`FirmwareModel`](super::FirmwareModel) to the loop.
#[derive(Debug)]
pub(super) enum Command {
    /// Cut the wire at this tile end.
    Cut(usize, Dir),
    /// Reconnect the wire at this tile end.
    Restore(usize, Dir),
    /// Send the counters.
    Stats(Sender<SimStats>),
    /// Send this PRU's (`2 * tile + pru`) firmware counters.
    FirmwareStats(usize, Sender<pru_firmware::Stats>),
    /// Leave the loop.
    Shutdown,
}

/// One wire between two tiles: `a`'s `dir` to `b`'s `dir.opposite()`.
#[derive(Debug, Clone, Copy)]
pub(super) struct FwWire {
    pub(super) a: usize,
    pub(super) dir: Dir,
    pub(super) b: usize,
    pub(super) cut: bool,
}

/// One PRU: a firmware instance behind its host port.
#[derive(Debug)]
pub(super) struct Endpoint {
    fw: Firmware,
    port: HostPort<()>,
    /// A host message read but not yet taken by the firmware.
    inbox: Option<Vec<u8>>,
    /// The input pins as last set.
    r31: u32,
}

impl Endpoint {
    /// `fw` behind `port` (registered already).
    pub(super) fn new(fw: Firmware, port: HostPort<()>) -> Endpoint {
        Endpoint {
            fw,
            port,
            inbox: None,
            r31: 0,
        }
    }

    /// Hands `msg` to the firmware, or keeps it until the firmware has room.
    fn push(&mut self, msg: &[u8]) {
        if self.fw.push_host(msg).is_err() {
            self.inbox = Some(msg.to_vec());
        }
    }
}

/// The account the firmware model keeps of its host connections: a host
/// message the firmware has not taken goes with the connection.
struct Inbox<'a>(&'a mut Option<Vec<u8>>);

impl Ledger<()> for Inbox<'_> {
    fn closed(&mut self) {
        *self.0 = None;
    }
}

/// The loop's state.
pub(super) struct Engine {
    poll: Poll,
    /// Tile `t`'s PRU `p` is `eps[2 * t + p]`.
    eps: Vec<Endpoint>,
    wires: Vec<FwWire>,
    /// Bits per second of wall time while busy; 0 is unlimited.
    rate_bps: u64,
    noise: Noise,
    commands: Receiver<Command>,
    /// Batches to step even if every instance is quiescent: after a
    /// restore, timed-out receivers only notice the clock once stepped.
    kick: u32,
}

impl Engine {
    /// A loop over `eps` (two per tile, in tile order) and `wires`.
    pub(super) fn new(
        poll: Poll,
        eps: Vec<Endpoint>,
        wires: Vec<FwWire>,
        rate_bps: u64,
        noise: Noise,
        commands: Receiver<Command>,
    ) -> Engine {
        Engine {
            poll,
            eps,
            wires,
            rate_bps,
            noise,
            commands,
            kick: 0,
        }
    }

    fn ep_index(tile: usize, dir: Dir) -> usize {
        2 * tile + dir.pru().index()
    }

    /// Bits per second of frozen wall time: `rate`, or the real link's if
    /// unlimited.
    fn idle_bps(&self) -> u64 {
        if self.rate_bps == 0 {
            NOMINAL_BPS
        } else {
            self.rate_bps
        }
    }

    /// The wall time `bits` take at `rate`; none if unlimited.
    fn bit_time(&self, bits: u64) -> Duration {
        if self.rate_bps == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(bits as f64 / self.rate_bps as f64)
        }
    }

    /// Lanes that take noise: both directions of every uncut wire.
    fn lanes(&self) -> u64 {
        2 * self.wires.iter().filter(|w| !w.cut).count() as u64
    }

    /// Whether the wires may freeze: every instance quiescent and the noise
    /// settled (see [`super::noise`]).
    fn may_freeze(&self) -> bool {
        let quiescent = self.kick == 0
            && self
                .eps
                .iter()
                .all(|e| e.fw.quiescent() && e.inbox.is_none());
        quiescent && self.noise.settled()
    }

    /// Runs until told to shut down (or epoll fails).
    pub(super) fn run(mut self) {
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
                self.noise.forget_idle();
                let (start, bits) = *busy_since
                    .get_or_insert_with(|| (resume_at.take().unwrap_or_else(Instant::now), 0));
                if self.rate_bps == 0 {
                    Some(Duration::ZERO)
                } else {
                    Some(self.bit_time(bits).saturating_sub(start.elapsed()))
                }
            } else {
                if let Some((start, bits)) = busy_since.take() {
                    // Frozen time starts where the stepped bits end: a
                    // batch may run ahead of the wall clock, and epoll
                    // wakes up to a millisecond after an error is due, a
                    // lateness the next error must make up for the noise
                    // to keep its rate. A loop that fell further behind
                    // (a slow build) does not catch up.
                    let end = start + self.bit_time(bits);
                    let now = Instant::now();
                    idle_since = now.checked_sub(MAX_LAG).map_or(end, |t| end.max(t));
                }
                self.noise
                    .draw_idle(idle_since, self.lanes(), self.idle_bps());
                // Wake for the next monitor report or bit error at the
                // latest.
                let mut timeout = Duration::from_secs(1);
                if let Some(due) = self.noise.idle_due() {
                    timeout = timeout.min(due.saturating_duration_since(Instant::now()));
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
                        let ahead = self.rate_bps > 0 && self.bit_time(*bits) > start.elapsed();
                        if ahead {
                            break;
                        }
                        let steps = if self.noise.error_pending() && self.kick == 0 {
                            ERROR_BATCH
                        } else {
                            BATCH
                        };
                        self.kick = self.kick.saturating_sub(1);
                        self.run_batch(steps);
                        *bits += u64::from(steps);
                        // Behind the clock (a slow build) or not, stepping
                        // the wires once they may freeze is wasted.
                        if self.rate_bps == 0 || self.may_freeze() {
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
                let due = self.noise.take_due(now);
                let until = due.unwrap_or(now);
                let credit = until.saturating_duration_since(idle_since).as_secs_f64()
                    * self.idle_bps() as f64;
                if credit >= 1.0 {
                    let bits = credit.min(u32::MAX as f64) as u32;
                    for ep in &mut self.eps {
                        ep.fw.advance_idle(bits);
                    }
                    idle_since = until;
                }
                // The skipped periods are over: step to the error.
                if due.is_some() {
                    resume_at = due;
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
                    // The lanes change: draw again (see the noise module).
                    self.noise.forget_idle();
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

    /// Which wires exist and which have sync at both ends; each PRU's host
    /// connection.
    fn stats(&self) -> SimStats {
        let mut s = SimStats {
            tiles: vec![TileStats::default(); self.eps.len() / 2],
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
        for (i, ep) in self.eps.iter().enumerate() {
            ep.port.publish(&mut s.tiles[i / 2].prus[i % 2]);
        }
        s
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
                    if self.noise.flip() {
                        bits ^= in_data_pin(prudir);
                    }
                    let to = &mut self.eps[to];
                    to.r31 = (to.r31 & !mask) | bits;
                    to.fw.set_inputs(to.r31);
                }
            }
            self.noise.bit_done();
            self.collect_host_messages();
        }
    }

    /// Moves messages from the firmware to the host ports while their
    /// backlogs have room; with no started host they are dropped.
    fn collect_host_messages(&mut self) {
        let mut buf = [0u8; MAX_RPMSG_MSG];
        let registry = self.poll.registry();
        for ep in &mut self.eps {
            while ep.fw.host_pending() > 0 && ep.port.has_room() {
                let Some(n) = ep.fw.pop_host_into(&mut buf) else {
                    break;
                };
                let out = Outgoing {
                    bytes: buf[..n].to_vec(),
                    tag: (),
                };
                ep.port.send(registry, out, &mut Inbox(&mut ep.inbox));
            }
        }
    }

    /// Accepts, writes and reads every PRU socket as far as it goes now.
    fn host_io(&mut self) {
        // Whole messages up to what rpmsg carries reach the firmware, which
        // applies its own length rule (and counts what it ignores), as on
        // the board; one longer still could not be written to an rpmsg
        // device at all, so it is dropped here (a byte more than the
        // limit is enough to see that it is too long).
        let mut buf = [0u8; MAX_RPMSG_MSG + 1];
        let registry = self.poll.registry();
        for ep in &mut self.eps {
            ep.port.accept(registry, &mut Inbox(&mut ep.inbox));
            ep.port.flush(registry, &mut Inbox(&mut ep.inbox));
            while ep.inbox.is_none() {
                match ep.port.recv(&mut buf, registry, &mut Inbox(&mut ep.inbox)) {
                    Recv::Start { .. } => ep.push(&[]),
                    Recv::Message(n) if n > MAX_RPMSG_MSG => {}
                    Recv::Message(n) => ep.push(&buf[..n]),
                    Recv::Idle | Recv::Closed => break,
                }
            }
        }
    }
}
