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
//! Except with `corrupt` > 0: a frozen wire is a wire without noise, while
//! a real idle line takes bit errors in its delimiters (which the firmware
//! drops as runts). So with corruption the wires never freeze, and the
//! loop steps all the time, at `rate`.
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

use itcio::sim::seqpacket::{SeqConn, SeqListener};
use itcio::sim::{LinkStats, SimStats, TileStats};
use itcio::{Dir, Pru};
use mio::{Events, Interest, Poll, Token, Waker};
use pru_firmware::{
    default_config, in_data_pin, in_pins, wire, DirStats, Firmware, MAX_HOST_MSG, MAX_RPMSG_MSG,
};

/// Steps between looks at the sockets and the clock.
const BATCH: u32 = 512;
/// Most batches run in one turn to catch up with the wall clock.
const CATCH_UP_BATCHES: u32 = 16;
/// Messages held for a host whose socket is full.
const HOST_BACKLOG: usize = 64;
/// Bit rate used to credit idle wall time to the firmware's timers.
const NOMINAL_BPS: u64 = 2_500_000;
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
            rng: params.seed | 1,
            commands: rx,
            tiles: names.len(),
            kick: 0,
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
}

impl Sim {
    fn ep_index(tile: usize, dir: Dir) -> usize {
        2 * tile + dir.pru().index()
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        // Start of the current busy stretch and the bits stepped since.
        let mut busy_since: Option<(Instant, u64)> = None;
        let mut idle_since = Instant::now();
        loop {
            let busy = self.kick > 0
                || self.params.corrupt > 0.0
                || self
                    .eps
                    .iter()
                    .any(|e| !e.fw.quiescent() || e.inbox.is_some());
            let timeout = if busy {
                let (start, bits) = *busy_since.get_or_insert((Instant::now(), 0));
                if self.params.rate_bps == 0 {
                    Some(Duration::ZERO)
                } else {
                    let due = Duration::from_secs_f64(bits as f64 / self.params.rate_bps as f64);
                    Some(due.saturating_sub(start.elapsed()))
                }
            } else {
                if busy_since.take().is_some() {
                    idle_since = Instant::now();
                }
                // Wake for the next monitor report at the latest.
                Some(Duration::from_secs(1))
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
                        self.kick = self.kick.saturating_sub(1);
                        self.run_batch();
                        *bits += u64::from(BATCH);
                        if self.params.rate_bps == 0 {
                            break;
                        }
                    }
                }
                // Hand what the batches delivered to the hosts now: the
                // loop may go idle next and sleep until something else
                // wakes it.
                self.host_io();
            } else {
                let credit = idle_since.elapsed().as_secs_f64() * NOMINAL_BPS as f64;
                if credit >= 1.0 {
                    let bits = credit.min(u32::MAX as f64) as u32;
                    for ep in &mut self.eps {
                        ep.fw.advance_idle(bits);
                    }
                    idle_since = Instant::now();
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

    fn flip(&mut self) -> bool {
        // xorshift64; good enough to pick bits to damage.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        ((self.rng >> 11) as f64 / (1u64 << 53) as f64) < self.params.corrupt
    }

    fn run_batch(&mut self) {
        for _ in 0..BATCH {
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
                    }
                    let to = &mut self.eps[to];
                    to.r31 = (to.r31 & !mask) | bits;
                    to.fw.set_inputs(to.r31);
                }
            }
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
