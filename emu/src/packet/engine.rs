//! The emulator's event loop: one thread, one `mio::Poll`, every PRU socket,
//! every wire, a timer heap and the control channel.
//!
//! Each turn: wait in epoll until a socket is ready, a command is queued
//! (the waker), or the earliest timer is due; accept and read every ready
//! socket until it would block; apply queued commands; fire due timers
//! (packet arrivals, monitor reports); publish the counters if a reader
//! asked for them (see `handle`). An idle emulator with no started host
//! has no timers and sleeps until woken.
//!
//! Host messages (`docs/pru-messages.md`), per PRU connection:
//! - the first empty message: start; report `P` or `T` for each of the
//!   PRU's three directions, then `M` every monitor interval;
//! - anything before the start message, later empty messages, local
//!   (`0xc0..`) and non-standard (`..0x80`) packets, and messages over 255
//!   bytes: ignored and counted;
//! - a routed packet: bounced with "no sync" if its DIR is not one of this
//!   PRU's directions or has no working wire, else put on the wire; if the
//!   wire's queue is full it is held, and the host is not read, until the
//!   queue has room (or the wire is cut: then it is bounced with "no
//!   sync"). On arrival its byte 0 is rewritten for the receiving PRU (see
//!   `msg::arrived`); a corrupted one is not delivered: the receiving PRU
//!   reports `E` for it instead.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use tracing::{debug, error, info, warn};

use mio::unix::SourceFd;
use mio::{Interest, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::os::fd::{AsFd, AsRawFd};

use super::handle::Shared;
use super::msg::{self, Bounce, Status};
use super::pru::{Held, PacketPru};
use super::timers::{Timer, Timers};
use super::wire::{Sent, Wire};
use crate::host_port::{self, Recv, Socket};
use crate::stats::{SimStats, TileStats};
use itc_proto::MAX_PACKET_LEN as MAX_PACKET;
use itc_proto::{Dir, Pru};

/// Readiness events taken from epoll per turn.
const EVENTS_PER_TURN: usize = 256;

/// A request from [`PacketModel`](super::PacketModel) to the loop.
#[derive(Debug)]
pub(crate) enum Command {
    /// Cut the wire at this tile end.
    Cut { tile: usize, dir: Dir },
    /// Reconnect the wire at this tile end.
    Restore { tile: usize, dir: Dir },
    /// Hand these bytes to the PRU's host as if the PRU sent them.
    Inject { tile: usize, pru: Pru, msg: Vec<u8> },
    /// The next `n` packets from this end arrive with EROR set.
    DamageNext { tile: usize, dir: Dir, n: u32 },
    /// The next `n` packets from this end arrive with OVRN set.
    OverrunNext { tile: usize, dir: Dir, n: u32 },
    /// Leave the loop.
    Shutdown,
}

/// The loop's state.
pub(crate) struct Engine {
    poll: Poll,
    /// PRU `tile * 2 + pru.index()`.
    prus: Vec<PacketPru>,
    wires: Vec<Wire>,
    /// Per tile, per [`Dir::index`]: the wire there and which side of it.
    ends: Vec<[Option<(usize, usize)>; 6]>,
    timers: Timers,
    stats: SimStats,
    /// Zero: no monitor reports.
    monitor_interval: Duration,
    commands: Receiver<(u64, Command)>,
    /// PRUs whose held packet went, to be read again this turn.
    resume: Vec<usize>,
    /// The number of the last command applied.
    applied: u64,
    shared: Arc<Shared>,
}

impl Engine {
    /// A loop over `prus` (already registered with `poll`, two per tile in
    /// tile order) and `wires` (whose ends must be distinct).
    pub(crate) fn new(
        poll: Poll,
        prus: Vec<PacketPru>,
        wires: Vec<Wire>,
        monitor_interval: Duration,
        commands: Receiver<(u64, Command)>,
        shared: Arc<Shared>,
    ) -> Engine {
        let tiles = prus.len() / 2;
        let mut ends = vec![[None; 6]; tiles];
        let mut stats = SimStats {
            tiles: vec![TileStats::default(); tiles],
        };
        for (w, wire) in wires.iter().enumerate() {
            for side in 0..2 {
                let end = wire.end(side);
                ends[end.tile][end.dir.index()] = Some((w, side));
                let link = stats.link_mut(end.tile, end.dir);
                link.wired = true;
                link.up = true;
            }
        }
        Engine {
            poll,
            prus,
            wires,
            ends,
            timers: Timers::default(),
            stats,
            monitor_interval,
            commands,
            resume: Vec::new(),
            applied: 0,
            shared,
        }
    }

    /// The counters as they are before the loop runs.
    pub(crate) fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Runs until told to shut down (or epoll fails), then closes every
    /// socket by dropping them.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        // epoll's timeout counts whole milliseconds; a link at 2.5 Mbit/s
        // needs microseconds. Deadlines are kept by a timerfd instead.
        let clock = match PreciseClock::new(&self.poll) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!("no timerfd ({e}); wire timing rounds up to milliseconds");
                None
            }
        };
        // The deadline the timerfd is set for: re-arming it every turn
        // would cost a system call per packet.
        let mut armed: Option<Instant> = None;
        // The last command number published.
        let mut published = self.applied;
        loop {
            let now = Instant::now();
            let timeout = match (&clock, self.timers.next_deadline()) {
                (_, None) => None,
                (Some(_), Some(at)) if at > now && armed.is_some_and(|a| a <= at) => None,
                (Some(c), Some(at)) if at > now => {
                    if c.arm(at - now) {
                        armed = Some(at);
                        None
                    } else {
                        Some(at - now)
                    }
                }
                (_, Some(at)) => Some(at.saturating_duration_since(now)),
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                error!("emulator poll failed, stopping: {e}");
                break;
            }
            for event in events.iter() {
                if event.token() == CLOCK {
                    if let Some(c) = &clock {
                        c.clear();
                    }
                    armed = None;
                    continue;
                }
                let Some((p, socket)) = host_port::socket_of(event.token()) else {
                    continue; // the waker: commands are read below
                };
                if p >= self.prus.len() {
                    continue;
                }
                match socket {
                    Socket::Listener => {
                        self.prus[p].accept(self.poll.registry(), &mut self.stats);
                    }
                    Socket::Host => {
                        if event.is_writable() {
                            self.prus[p].flush(self.poll.registry(), &mut self.stats);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_host(p);
                        }
                    }
                }
            }
            let stop = self.run_commands();
            self.run_timers();
            self.resume_hosts();
            // Batched connections send what the turn produced, packed.
            for p in &mut self.prus {
                if p.batched() {
                    p.flush(self.poll.registry(), &mut self.stats);
                }
            }
            // Only for a reader, or for a command's sender, who waits for
            // its number (and may not be waiting yet): a large grid's
            // counters cost more to copy than a turn's packets cost to
            // move.
            if stop || self.applied != published || self.shared.wanted() {
                for p in &self.prus {
                    p.publish(&mut self.stats);
                }
                self.shared.publish(&self.stats, self.applied);
                published = self.applied;
            }
            if stop {
                break;
            }
        }
        debug!("emulator loop stopped");
    }

    /// Reads the host's messages until its socket would block or a packet
    /// has to wait for room on its wire.
    fn read_host(&mut self, p: usize) {
        // One byte more than a packet, so that a longer message is seen.
        let mut buf = [0u8; MAX_PACKET + 1];
        while !self.prus[p].holding() {
            match self.prus[p].recv(&mut buf, self.poll.registry(), &mut self.stats) {
                Recv::Start { first: true } => self.start_host(p),
                Recv::Start { first: false } => {
                    let (tile, pru) = (self.prus[p].tile(), self.prus[p].pru());
                    debug!(
                        tile = self.tile_name(tile),
                        pru = pru.index(),
                        "ignoring empty message after start"
                    );
                    self.stats.pru_mut(tile, pru).ignored += 1;
                }
                Recv::Message(n) => self.host_message(p, &buf[..n]),
                Recv::Idle | Recv::Closed => break,
            }
        }
    }

    /// Reads again the hosts whose held packet went: their sockets are
    /// edge-triggered and will not report the messages still waiting.
    fn resume_hosts(&mut self) {
        while let Some(p) = self.resume.pop() {
            self.read_host(p);
        }
    }

    /// A non-empty message from PRU `p`'s host.
    fn host_message(&mut self, p: usize, bytes: &[u8]) {
        let (tile, pru) = (self.prus[p].tile(), self.prus[p].pru());
        let started = self.prus[p].started();
        let Some(&byte0) = bytes.first() else {
            return;
        };
        let why_ignored = if !started {
            Some("before the start message")
        } else if bytes.len() > MAX_PACKET {
            Some("longer than 255 bytes")
        } else if !msg::is_routed(byte0) {
            Some("local or non-standard packet")
        } else {
            None
        };
        if let Some(why) = why_ignored {
            debug!(
                tile = self.tile_name(tile),
                pru = pru.index(),
                byte0,
                "ignoring host message: {why}"
            );
            self.stats.pru_mut(tile, pru).ignored += 1;
            return;
        }
        let wire = match Dir::from_dir8(msg::dir8(byte0)) {
            Ok(dir) if dir.pru() == pru => self.ends[tile][dir.index()]
                .filter(|&(w, _)| !self.wires[w].is_cut())
                .map(|ws| (dir, ws)),
            _ => None,
        };
        let Some((dir, (w, side))) = wire else {
            self.stats.pru_mut(tile, pru).bounced_no_sync += 1;
            self.send_host(p, msg::bounce(Bounce::NoSync, bytes));
            return;
        };
        if let Err(bytes) = self.put_on_wire(w, side, bytes.to_vec()) {
            // The firmware stops taking host messages while the ring of
            // the head one is full; so does the emulator, and the host's
            // writes block instead of bouncing.
            self.stats.link_mut(tile, dir).held += 1;
            self.prus[p].hold(Held {
                bytes,
                dir,
                wire: w,
                side,
            });
        }
    }

    /// Puts a routed packet from a host on the lane of wire `w` leaving
    /// `side`, or gives it back if that lane is full.
    fn put_on_wire(&mut self, w: usize, side: usize, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        let now = Instant::now();
        let from = self.wires[w].end(side);
        match self.wires[w].send(side, now, bytes) {
            Sent::QueueFull(bytes) => Err(bytes),
            Sent::Queued { arrival, damaged } => {
                let link = self.stats.link_mut(from.tile, from.dir);
                link.sent += 1;
                if damaged {
                    link.corrupted += 1;
                }
                if arrival <= now {
                    self.deliver_arrived(w, side, now);
                } else {
                    self.timers.add(arrival, Timer::Arrival { wire: w, side });
                }
                Ok(())
            }
        }
    }

    /// Retries the packet PRU `p` holds, if it waits for `(w, side)`; when
    /// it goes, the host is read again.
    fn retry_held(&mut self, p: usize, w: usize, side: usize) {
        let Some(held) = self.prus[p].take_held_for(w, side) else {
            return;
        };
        let dir = held.dir;
        match self.put_on_wire(w, side, held.bytes) {
            Ok(()) => self.resume.push(p),
            Err(bytes) => self.prus[p].hold(Held {
                bytes,
                dir,
                wire: w,
                side,
            }),
        }
    }

    /// PRU `p`'s host has just started.
    fn start_host(&mut self, p: usize) {
        let generation = self.prus[p].generation();
        let (tile, pru) = (self.prus[p].tile(), self.prus[p].pru());
        info!(
            tile = self.tile_name(tile),
            pru = pru.index(),
            "host started"
        );
        for dir in pru.dirs() {
            let status = match self.ends[tile][dir.index()] {
                None => Status::Timeout,
                Some((w, _)) if self.wires[w].is_cut() => Status::Timeout,
                Some(_) => Status::Sync,
            };
            self.send_host(p, msg::status(status, dir));
        }
        if !self.monitor_interval.is_zero() {
            let at = Instant::now() + self.monitor_interval;
            self.timers.add(at, Timer::Monitor { pru: p, generation });
        }
    }

    /// Hands every packet that has arrived on a lane to the receiving PRU.
    fn deliver_arrived(&mut self, w: usize, side: usize, now: Instant) {
        let from = self.wires[w].end(side);
        let to = self.wires[w].end(1 - side);
        let p = to.tile * 2 + to.dir.pru().index();
        let mut popped = false;
        while let Some(packet) = self.wires[w].pop_arrived(side, now) {
            popped = true;
            if packet.lost {
                self.stats.link_mut(from.tile, from.dir).dropped_loss += 1;
                continue;
            }
            if packet.corrupted {
                // As the firmware does with a frame that fails its check:
                // dropped, reported, sync kept.
                self.stats.link_mut(from.tile, from.dir).dropped_corrupt += 1;
                self.send_host(p, msg::status(Status::Dropped, to.dir));
                continue;
            }
            let mut bytes = packet.bytes;
            msg::arrived(&mut bytes, to.dir, packet.eror, packet.overrun);
            self.prus[p].send(self.poll.registry(), &mut self.stats, bytes, Some(from));
        }
        if popped {
            self.retry_held(from.tile * 2 + from.dir.pru().index(), w, side);
        }
    }

    /// A tile's name, for logs.
    fn tile_name(&self, tile: usize) -> &str {
        self.prus.get(tile * 2).map_or("?", PacketPru::name)
    }

    fn send_host(&mut self, p: usize, bytes: Vec<u8>) {
        self.prus[p].send(self.poll.registry(), &mut self.stats, bytes, None);
    }

    /// The wire and side at a tile end, if the tile exists and is wired there.
    fn end_at(&self, tile: usize, dir: Dir) -> Option<(usize, usize)> {
        let end = self.ends.get(tile).and_then(|e| e[dir.index()]);
        if end.is_none() {
            warn!(tile = self.tile_name(tile), %dir, "no wire at that tile end; command ignored");
        }
        end
    }

    /// Applies queued commands; true when told to shut down.
    fn run_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok((number, command)) => {
                    let stop = self.command(command);
                    self.applied = number;
                    if stop {
                        return true;
                    }
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    fn command(&mut self, command: Command) -> bool {
        debug!(?command, "command");
        match command {
            Command::Cut { tile, dir } => self.set_cut(tile, dir, true),
            Command::Restore { tile, dir } => self.set_cut(tile, dir, false),
            Command::Inject { tile, pru, msg } => {
                if tile < self.ends.len() {
                    self.send_host(tile * 2 + pru.index(), msg);
                } else {
                    warn!(tile, "no such tile; inject ignored");
                }
            }
            Command::DamageNext { tile, dir, n } => {
                if let Some((w, side)) = self.end_at(tile, dir) {
                    self.wires[w].damage_next(side, n);
                }
            }
            Command::OverrunNext { tile, dir, n } => {
                if let Some((w, side)) = self.end_at(tile, dir) {
                    self.wires[w].overrun_next(side, n);
                }
            }
            Command::Shutdown => return true,
        }
        false
    }

    /// Cuts or restores a wire; both ends' hosts hear of a change.
    fn set_cut(&mut self, tile: usize, dir: Dir, cut: bool) {
        let Some((w, _)) = self.end_at(tile, dir) else {
            return;
        };
        if self.wires[w].is_cut() == cut {
            return;
        }
        let dropped = if cut {
            self.wires[w].cut()
        } else {
            self.wires[w].restore();
            [0, 0]
        };
        // A cut wire carries no clock: the firmware times out on it.
        let status = if cut { Status::Timeout } else { Status::Sync };
        for (side, dropped) in dropped.into_iter().enumerate() {
            let end = self.wires[w].end(side);
            let link = self.stats.link_mut(end.tile, end.dir);
            link.dropped_cut += dropped as u64;
            link.up = !cut;
            let p = end.tile * 2 + end.dir.pru().index();
            self.send_host(p, msg::status(status, end.dir));
            // A packet waiting for the cut wire has no sync to go to now.
            if let Some(held) = self.prus[p].take_held_for(w, side) {
                self.stats.pru_mut(end.tile, end.dir.pru()).bounced_no_sync += 1;
                self.send_host(p, msg::bounce(Bounce::NoSync, &held.bytes));
                self.resume.push(p);
            }
        }
        info!(tile = self.tile_name(tile), %dir, cut, "wire changed");
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Arrival { wire, side } => self.deliver_arrived(wire, side, now),
                Timer::Monitor { pru: p, generation } => {
                    let endpoint = &self.prus[p];
                    if !endpoint.started() || endpoint.generation() != generation {
                        continue;
                    }
                    let (tile, pru) = (endpoint.tile(), endpoint.pru());
                    let synced = pru.dirs().into_iter().filter(|d| {
                        self.ends[tile][d.index()].is_some_and(|(w, _)| !self.wires[w].is_cut())
                    });
                    let report = msg::monitor(synced);
                    self.send_host(p, report);
                    let at = now + self.monitor_interval;
                    self.timers.add(at, Timer::Monitor { pru: p, generation });
                }
            }
        }
    }
}

/// The token of the timerfd; far from the PRU sockets' tokens.
const CLOCK: Token = Token(usize::MAX);

/// A one-shot timerfd registered with the loop: wakes it at a deadline
/// with nanosecond resolution.
struct PreciseClock {
    fd: TimerFd,
}

impl PreciseClock {
    fn new(poll: &Poll) -> std::io::Result<PreciseClock> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        poll.registry().register(
            &mut SourceFd(&fd.as_fd().as_raw_fd()),
            CLOCK,
            Interest::READABLE,
        )?;
        Ok(PreciseClock { fd })
    }

    /// Fire once after `after`; false if the timer could not be set.
    fn arm(&self, after: Duration) -> bool {
        self.fd
            .set(
                Expiration::OneShot(TimeSpec::from_duration(after)),
                TimerSetTimeFlags::empty(),
            )
            .is_ok()
    }

    /// Consume an expiry so the descriptor stops being readable.
    fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = nix::unistd::read(self.fd.as_fd().as_raw_fd(), &mut buf);
    }
}
