//! The core of `itcd`: one tile's links, neighbours, queues and open files,
//! and every routing decision between the PRUs and the tree. No I/O: the
//! daemon feeds it PRU messages and timer ticks, drains its outbound queues
//! into the PRUs, and serves the tree through its [`Backend`] impl.
//!
//! Inbound, a routed packet from D goes to `tile/<D>/...` if open for
//! reading, else to `itc/...` if open for reading, else it is dropped (no
//! reader). Outbound, a packet written to a packet file is validated
//! (SPEC 5), checked for a present (for MFM: compatible) neighbour, and
//! queued per direction, MFM first.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use fuse_fs::{Backend, Errno, Fh, FileKind, Readiness, Scope};

use crate::channel::{Carries, Channel};
use crate::neighbour::{Change, Neighbour};
use crate::queue::{Lane, OutQueue};
use crate::stats::{DirStats, DropReason};
use crate::text;
use itc_proto::{
    BounceReason, BounceRepr, EchoOp, EchoRepr, HeaderRepr, HelloFlags, HelloRepr, LinkCode,
    LinkStatusRepr, LocalType, Packet, TepEvent, MAX_PACKET_LEN, SVC_ECHO, SVC_HELLO,
};
use itc_proto::{Dir, Pru};

/// Longest physics id or tile name, in bytes.
pub use itc_proto::{MAX_NAME_LEN, MAX_PHYSICS_LEN};

/// Settings of a tile.
#[derive(Debug, Clone)]
pub struct Config {
    /// This tile's name, sent in hellos.
    pub name: String,
    /// Initial physics id.
    pub physics: String,
    /// Mean time between hellos.
    pub hello_interval: Duration,
    /// Silence after which a neighbour is absent.
    pub absent_after: Duration,
    /// Bound of each outbound lane per direction, in bytes.
    pub out_queue_limit: usize,
    /// Bound of each reader's queue, in bytes.
    pub reader_queue_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: String::new(),
            physics: String::new(),
            hello_interval: Duration::from_secs(1),
            absent_after: Duration::from_millis(3500),
            out_queue_limit: 16 * 1024,
            reader_queue_limit: 16 * 1024,
        }
    }
}

/// An open file of the tree.
#[derive(Debug)]
enum OpenFile {
    Channel(Channel),
    /// A generated text file: its content as of open.
    Text(Vec<u8>),
    /// `itc/physics`: content at open, and what was written so far.
    Physics {
        snapshot: Vec<u8>,
        written: Vec<u8>,
    },
}

/// Counters not tied to a direction.
#[derive(Debug, Clone, Default)]
pub struct TileStats {
    /// Messages from each PRU that could not be attributed to a direction.
    pub pru_malformed: [u64; 2],
    /// Times each PRU device was (re)opened.
    pub pru_opens: [u64; 2],
}

/// One tile's state.
pub struct Tile {
    cfg: Config,
    physics: String,
    physics_gen: u64,
    started: Instant,
    started_wall: SystemTime,
    neighbours: [Neighbour; 6],
    stats: [DirStats; 6],
    tile_stats: TileStats,
    outq: [OutQueue; 6],
    next_pop: [usize; 2],
    files: HashMap<Fh, OpenFile>,
    exclusive: HashMap<FileKind, Fh>,
    /// Exclusive holders that saw a close and may be released any moment.
    flushed: HashSet<Fh>,
    next_fh: Fh,
    changed: Vec<Fh>,
    pru_up: [bool; 2],
    /// Per direction whose link is up without a present neighbour: when to
    /// ask for a hello again, and the wait after that one.
    probes: [Option<(Instant, Duration)>; 6],
}

/// The first wait before asking an absent neighbour for a hello again.
/// Each later wait doubles, until it would reach the hello interval, after
/// which the regular hellos (which ask too) take over. A lost hello then
/// costs a fraction of a second, not a whole hello interval.
const FIRST_PROBE: Duration = Duration::from_millis(250);

fn scope_dir(scope: Scope) -> Option<Dir> {
    match scope {
        Scope::All => None,
        Scope::Dir(i) => Dir::ALL.get(usize::from(i)).copied(),
    }
}

fn dir_scope(dir: Dir) -> Scope {
    Scope::Dir(dir.index() as u8)
}

impl Tile {
    /// A tile with no links up and nothing open.
    pub fn new(cfg: Config) -> Tile {
        let limit = cfg.out_queue_limit;
        Tile {
            physics: cfg.physics.clone(),
            cfg,
            physics_gen: 0,
            started: Instant::now(),
            started_wall: SystemTime::now(),
            neighbours: Default::default(),
            stats: Default::default(),
            tile_stats: TileStats::default(),
            outq: std::array::from_fn(|_| OutQueue::new(limit)),
            next_pop: [0; 2],
            files: HashMap::new(),
            exclusive: HashMap::new(),
            flushed: HashSet::new(),
            next_fh: 1,
            changed: Vec::new(),
            probes: [None; 6],
            pru_up: [false; 2],
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current physics id.
    pub fn physics(&self) -> &str {
        &self.physics
    }

    /// State of one direction.
    pub fn neighbour(&self, dir: Dir) -> &Neighbour {
        &self.neighbours[dir.index()]
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Dir) -> &DirStats {
        &self.stats[dir.index()]
    }

    /// Counters not tied to a direction.
    pub fn tile_stats(&self) -> &TileStats {
        &self.tile_stats
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Wall-clock start time.
    pub fn started_wall(&self) -> SystemTime {
        self.started_wall
    }

    /// Whether the PRU device is open.
    pub fn pru_up(&self, pru: Pru) -> bool {
        self.pru_up[pru.index()]
    }

    /// Whether MFM traffic may flow with the neighbour at `dir`.
    pub fn compatible(&self, dir: Dir) -> bool {
        self.neighbours[dir.index()].compatible(&self.physics)
    }

    // ---- PRU side -------------------------------------------------------

    /// The PRU device was opened (`true`) or lost (`false`). Losing it takes
    /// its links down.
    pub fn set_pru_up(&mut self, pru: Pru, up: bool) {
        self.pru_up[pru.index()] = up;
        if up {
            self.tile_stats.pru_opens[pru.index()] += 1;
        } else {
            for dir in pru.dirs() {
                self.set_link(dir, false);
            }
        }
    }

    /// Handle one message from a PRU.
    pub fn on_pru_message(&mut self, pru: Pru, msg: &[u8], now: Instant) {
        let Ok(packet) = Packet::new_checked(msg) else {
            self.tile_stats.pru_malformed[pru.index()] += 1;
            return;
        };
        if packet.is_routed() {
            // Routed packets are judged per direction (service 0, bad
            // hellos count as that direction's malformed drops).
            match Dir::from_dir8(packet.dir8()) {
                Ok(dir) if dir.pru() == pru => {
                    self.on_routed(dir, packet.is_mfm(), packet.ovrn(), packet.eror(), msg, now)
                }
                _ => self.tile_stats.pru_malformed[pru.index()] += 1,
            }
            return;
        }
        match HeaderRepr::parse(&packet) {
            Ok(HeaderRepr::Local(LocalType::LinkStatus)) => match LinkStatusRepr::parse(&packet) {
                Ok(ls) => self.on_link_status(pru, ls),
                Err(_) => self.tile_stats.pru_malformed[pru.index()] += 1,
            },
            Ok(HeaderRepr::Local(LocalType::Bounce)) => match BounceRepr::parse(&packet) {
                Ok(b) => self.on_bounce(pru, b),
                Err(_) => self.tile_stats.pru_malformed[pru.index()] += 1,
            },
            Ok(HeaderRepr::Local(LocalType::LabelledValue | LocalType::ThreadDebug)) => {
                tracing::debug!("PRU{} debug message: {:02x?}", pru.index(), msg);
            }
            _ => self.tile_stats.pru_malformed[pru.index()] += 1,
        }
    }

    fn on_link_status(&mut self, pru: Pru, ls: LinkStatusRepr) {
        match ls.code {
            LinkCode::SyncGained | LinkCode::FrameError | LinkCode::Timeout => {
                match Dir::from_dir8(ls.arg) {
                    Ok(dir) if dir.pru() == pru => {
                        match ls.code {
                            LinkCode::FrameError => self.stats[dir.index()].frame_errors += 1,
                            LinkCode::Timeout => self.stats[dir.index()].timeouts += 1,
                            _ => {}
                        }
                        self.set_link(dir, ls.code == LinkCode::SyncGained)
                    }
                    _ => self.tile_stats.pru_malformed[pru.index()] += 1,
                }
            }
            LinkCode::Monitor => {
                for dir in pru.dirs() {
                    let up = ls.arg & (1 << dir.dir8()) != 0;
                    if up != self.neighbours[dir.index()].link_up() {
                        self.set_link(dir, up);
                    }
                }
            }
            LinkCode::Unknown(_) => self.tile_stats.pru_malformed[pru.index()] += 1,
        }
    }

    fn on_bounce(&mut self, pru: Pru, b: BounceRepr<'_>) {
        // Only routed packets carry a direction (and only they go to a
        // PRU to be sent): the low bits of any other header mean nothing.
        let dir = Packet::new_checked(b.packet)
            .ok()
            .filter(|p| p.is_routed())
            .and_then(|p| Dir::from_dir8(p.dir8()).ok())
            .filter(|d| d.pru() == pru);
        let Some(dir) = dir else {
            self.tile_stats.pru_malformed[pru.index()] += 1;
            return;
        };
        let reason = match b.reason {
            BounceReason::QueueFull => DropReason::QueueFull,
            _ => DropReason::LinkDown,
        };
        self.stats[dir.index()].drop_packet(reason);
    }

    fn set_link(&mut self, dir: Dir, up: bool) {
        let was = self.neighbours[dir.index()].link_up();
        let change = self.neighbours[dir.index()].set_link(up);
        if was && !up {
            let n = self.outq[dir.index()].clear();
            for _ in 0..n {
                self.stats[dir.index()].drop_packet(DropReason::LinkDown);
            }
            tracing::info!("{dir}: link down");
        } else if !was && up {
            tracing::info!("{dir}: link up");
            // Say hello at once so the neighbour appears without waiting
            // for the next tick, and again soon if no answer comes.
            self.queue_hello(dir);
            self.arm_probe(dir, Instant::now(), FIRST_PROBE);
        }
        self.announce(dir, change);
    }

    fn on_routed(&mut self, dir: Dir, mfm: bool, ovrn: bool, eror: bool, msg: &[u8], now: Instant) {
        let i = dir.index();
        if eror {
            self.stats[i].drop_packet(DropReason::Eror);
            return;
        }
        if ovrn {
            self.stats[i].overruns += 1;
        }
        let mut buf: Box<[u8]> = msg.into();
        if ovrn {
            Packet::new_unchecked(&mut buf[..]).set_ovrn(false);
        }
        if mfm {
            if !self.neighbours[i].present() {
                self.stats[i].drop_packet(DropReason::Absent);
            } else if !self.compatible(dir) {
                self.stats[i].drop_packet(DropReason::Incompatible);
            } else {
                self.deliver(dir, Carries::Mfm, buf);
            }
            return;
        }
        let svc = Packet::new_unchecked(&buf[..]).service();
        match svc {
            0 => self.stats[i].drop_packet(DropReason::Malformed),
            SVC_HELLO => self.on_hello(dir, &buf, now),
            _ if !self.neighbours[i].present() => self.stats[i].drop_packet(DropReason::Absent),
            SVC_ECHO => self.on_echo(dir, buf),
            _ => self.deliver(dir, Carries::Svc(svc), buf),
        }
    }

    fn on_hello(&mut self, dir: Dir, buf: &[u8], now: Instant) {
        let i = dir.index();
        let Ok(hello) = HelloRepr::parse(&Packet::new_unchecked(buf)) else {
            self.stats[i].drop_packet(DropReason::Malformed);
            return;
        };
        self.stats[i].hellos += 1;
        self.stats[i].rx_svc.count(buf.len());
        let was_compatible = self.compatible(dir);
        let change = self.neighbours[i].hello(hello.name, hello.physics, now);
        let asked = hello.flags.contains(HelloFlags::ASK);
        tracing::debug!(
            "{dir}: hello from {:?} (ask {asked}, change {change:?})",
            hello.name
        );
        if self.neighbours[i].link_up() && (asked || change == Some(Change::Connected)) {
            // Answer at once a neighbour that asks, or that just appeared
            // (it may have missed our hellos): neither should wait a whole
            // interval to see us.
            self.queue_hello(dir);
        }
        if change.is_none() && was_compatible != self.compatible(dir) {
            // Writability of MFM files depends on compatibility.
            self.mark_packet_files();
        }
        self.announce(dir, change);
    }

    fn on_echo(&mut self, dir: Dir, buf: Box<[u8]>) {
        let i = dir.index();
        let Ok(echo) = EchoRepr::parse(&Packet::new_unchecked(&buf[..])) else {
            self.stats[i].drop_packet(DropReason::Malformed);
            return;
        };
        match echo.op {
            EchoOp::Request => {
                self.stats[i].rx_svc.count(buf.len());
                let reply = EchoRepr {
                    op: EchoOp::Reply,
                    payload: echo.payload,
                };
                let mut out = vec![0u8; reply.buffer_len()];
                match reply.emit(&mut out, dir) {
                    Ok(n) => self.queue_out(dir, false, out[..n].into()),
                    Err(_) => self.stats[i].drop_packet(DropReason::Malformed),
                }
            }
            _ => self.deliver(dir, Carries::Svc(SVC_ECHO), buf),
        }
    }

    /// Hand an inbound packet to the file that takes it, or count the drop.
    fn deliver(&mut self, dir: Dir, carries: Carries, buf: Box<[u8]>) {
        let i = dir.index();
        let (tile_kind, itc_kind) = match carries {
            Carries::Mfm => (FileKind::Mfm(dir_scope(dir)), FileKind::Mfm(Scope::All)),
            Carries::Svc(n) => (
                FileKind::Svc(dir_scope(dir), n),
                FileKind::Svc(Scope::All, n),
            ),
            Carries::Events => return,
        };
        // A flushed holder still counts: FUSE_FLUSH also comes when a forked
        // child's exec closes its inherited copy, so it does not mean the
        // owner is done. A write-only holder does not: it keeps the file
        // exclusive but could never read what it was given. Nor does an MFM
        // handle gone stale with a physics change, until it is reopened.
        let reader = |kind: &FileKind| {
            self.exclusive.get(kind).copied().filter(|fh| {
                matches!(self.files.get(fh),
                    Some(OpenFile::Channel(ch)) if ch.reads && !self.stale(ch))
            })
        };
        let fh = reader(&tile_kind).or_else(|| reader(&itc_kind));
        let Some(fh) = fh else {
            self.stats[i].drop_packet(DropReason::NoReader);
            return;
        };
        let len = buf.len();
        let Some(OpenFile::Channel(ch)) = self.files.get_mut(&fh) else {
            self.stats[i].drop_packet(DropReason::NoReader);
            return;
        };
        match ch.push_data(buf) {
            Ok(()) => {
                match carries {
                    Carries::Mfm => self.stats[i].rx_mfm.count(len),
                    _ => self.stats[i].rx_svc.count(len),
                }
                self.changed.push(fh);
            }
            Err(_) => self.stats[i].drop_packet(DropReason::QueueFull),
        }
    }

    /// Put a presence change into every channel that covers `dir`.
    fn announce(&mut self, dir: Dir, change: Option<Change>) {
        let Some(change) = change else {
            return;
        };
        let event = match change {
            Change::Connected => TepEvent::Connect,
            Change::Disconnected => TepEvent::Disconnect,
        };
        if change == Change::Connected {
            self.probes[dir.index()] = None;
        } else if self.neighbours[dir.index()].link_up() {
            // Gone silent on a working link: ask again soon.
            self.arm_probe(dir, Instant::now(), FIRST_PROBE);
        }
        tracing::info!(
            "{dir}: neighbour {} ({})",
            if change == Change::Connected {
                "present"
            } else {
                "absent"
            },
            text::one_line(self.neighbours[dir.index()].name())
        );
        for (fh, file) in self.files.iter_mut() {
            if let OpenFile::Channel(ch) = file {
                if ch.scope.is_none() || ch.scope == Some(dir) {
                    ch.push_event(event, dir);
                    self.changed.push(*fh);
                }
            }
        }
        // Writes may now succeed or fail with EHOSTUNREACH.
        self.mark_packet_files();
    }

    fn mark_packet_files(&mut self) {
        for (fh, file) in &self.files {
            if matches!(file, OpenFile::Channel(ch) if ch.is_packet_file()) {
                self.changed.push(*fh);
            }
        }
    }

    // ---- hellos and timers ----------------------------------------------

    fn queue_hello(&mut self, dir: Dir) {
        // Ask for an answer while the neighbour is not present here: after
        // a frame error or a restart this side should not wait a whole
        // hello interval for the far side's next hello.
        let flags = if self.neighbours[dir.index()].present() {
            HelloFlags::empty()
        } else {
            HelloFlags::ASK
        };
        let hello = HelloRepr {
            name: &self.cfg.name,
            physics: &self.physics,
            flags,
        };
        let mut out = vec![0u8; hello.buffer_len()];
        match hello.emit(&mut out, dir) {
            Ok(n) => self.outq[dir.index()].set_hello(out[..n].into()),
            // Name and physics are checked when set; this cannot happen.
            Err(e) => tracing::error!("cannot build a hello: {e}"),
        }
    }

    /// Queue a hello on every direction whose link is up.
    pub fn send_hellos(&mut self) {
        for dir in Dir::ALL {
            if self.neighbours[dir.index()].link_up() {
                self.queue_hello(dir);
            }
        }
    }

    /// Declare absent every neighbour whose hellos stopped.
    pub fn expire(&mut self, now: Instant) {
        for dir in Dir::ALL {
            let change = self.neighbours[dir.index()].expire(now, self.cfg.absent_after);
            self.announce(dir, change);
            if let Some((at, wait)) = self.probes[dir.index()] {
                if at <= now {
                    self.probes[dir.index()] = None;
                    let n = &self.neighbours[dir.index()];
                    if n.link_up() && !n.present() {
                        self.queue_hello(dir);
                        self.arm_probe(dir, now, wait * 2);
                    }
                }
            }
        }
    }

    /// The earliest time [`Tile::expire`] has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        let absences = self
            .neighbours
            .iter()
            .filter_map(|n| n.deadline(self.cfg.absent_after));
        let probes = self.probes.iter().flatten().map(|&(at, _)| at);
        absences.chain(probes).min()
    }

    /// Ask the neighbour at `dir` for a hello again after `wait`, unless
    /// the regular hellos come as soon.
    fn arm_probe(&mut self, dir: Dir, now: Instant, wait: Duration) {
        self.probes[dir.index()] = (wait < self.cfg.hello_interval).then_some((now + wait, wait));
    }

    // ---- outbound --------------------------------------------------------

    fn queue_out(&mut self, dir: Dir, mfm: bool, packet: Box<[u8]>) {
        if self.outq[dir.index()].push(mfm, packet).is_err() {
            self.stats[dir.index()].drop_packet(DropReason::QueueFull);
        }
    }

    /// Whether anything waits to go to this PRU.
    pub fn has_outbound(&self, pru: Pru) -> bool {
        pru.dirs().iter().any(|d| !self.outq[d.index()].is_empty())
    }

    /// Take the next packet for this PRU, taking directions in turn.
    pub fn pop_outbound(&mut self, pru: Pru) -> Option<(Dir, Lane, Box<[u8]>)> {
        let dirs = pru.dirs();
        for k in 0..dirs.len() {
            let at = (self.next_pop[pru.index()] + k) % dirs.len();
            let dir = dirs[at];
            if let Some((lane, p)) = self.outq[dir.index()].pop() {
                self.next_pop[pru.index()] = (at + 1) % dirs.len();
                let mfm = lane == Lane::Mfm;
                let q = &self.outq[dir.index()];
                if lane != Lane::Hello && !q.has_room(mfm, q.largest().saturating_add(p.len())) {
                    // Before this pop the largest packet did not fit:
                    // blocked writers and pollers may proceed now.
                    self.mark_packet_files();
                }
                return Some((dir, lane, p));
            }
        }
        None
    }

    /// Give back a packet the PRU could not take yet.
    pub fn unpop_outbound(&mut self, dir: Dir, lane: Lane, packet: Box<[u8]>) {
        self.outq[dir.index()].unpop(lane, packet);
    }

    /// A packet was handed to the PRU.
    pub fn sent(&mut self, dir: Dir, lane: Lane, len: usize) {
        let s = &mut self.stats[dir.index()];
        if lane == Lane::Mfm {
            s.tx_mfm.count(len);
        } else {
            s.tx_svc.count(len);
        }
    }

    /// The PRU could not send a packet (device error): count and forget it.
    pub fn send_failed(&mut self, dir: Dir) {
        self.stats[dir.index()].drop_packet(DropReason::LinkDown);
    }

    // ---- physics ----------------------------------------------------------

    /// Set this tile's physics id. Open MFM files go stale.
    pub fn set_physics(&mut self, physics: &str) -> Result<(), Errno> {
        if physics.len() > MAX_PHYSICS_LEN || physics.chars().any(|c| c.is_control()) {
            return Err(Errno::EINVAL);
        }
        if physics == self.physics {
            return Ok(());
        }
        tracing::info!(
            "physics id changed from {:?} to {:?}",
            self.physics,
            physics
        );
        self.physics = physics.to_string();
        self.physics_gen += 1;
        self.mark_mfm_files();
        self.send_hellos();
        Ok(())
    }

    fn mark_mfm_files(&mut self) {
        for (fh, file) in &self.files {
            if matches!(file, OpenFile::Channel(ch) if ch.carries == Carries::Mfm) {
                self.changed.push(*fh);
            }
        }
    }

    // ---- files --------------------------------------------------------------

    fn stale(&self, ch: &Channel) -> bool {
        ch.carries == Carries::Mfm && ch.physics_gen != self.physics_gen
    }

    fn present_for(&self, dir: Dir, mfm: bool) -> bool {
        if mfm {
            self.compatible(dir)
        } else {
            self.neighbours[dir.index()].present()
        }
    }

    fn write_packet(&mut self, fh: Fh, data: &[u8]) -> Result<u32, Errno> {
        let Some(OpenFile::Channel(ch)) = self.files.get(&fh) else {
            return Err(Errno::EBADF);
        };
        let (mfm, svc) = match ch.carries {
            Carries::Mfm => (true, None),
            Carries::Svc(n) => (false, Some(n)),
            Carries::Events => return Err(Errno::EBADF),
        };
        if self.stale(ch) {
            return Err(Errno::ESTALE);
        }
        if data.is_empty() {
            return Err(Errno::EINVAL);
        }
        if data.len() > MAX_PACKET_LEN {
            return Err(Errno::EMSGSIZE);
        }
        // Longer than an outbound queue holds (with --queue-bytes below
        // 255): it could never be queued, so waiting for room would block
        // the writer for ever.
        if data.len() > self.cfg.out_queue_limit {
            return Err(Errno::EMSGSIZE);
        }
        let mut packet: Box<[u8]> = data.into();
        if let Some(dir) = ch.scope {
            // In tile/<D> files itcd fills in DIR = D.
            packet[0] = (packet[0] & !0x07) | dir.dir8();
        }
        let dir = itc_proto::check_user_write(&packet, mfm, svc).map_err(|e| match e {
            itc_proto::Error::TooLong { .. } => Errno::EMSGSIZE,
            _ => Errno::EINVAL,
        })?;
        if !self.present_for(dir, mfm) {
            return Err(Errno::EHOSTUNREACH);
        }
        if !self.outq[dir.index()].has_room(mfm, packet.len()) {
            return Err(Errno::EAGAIN);
        }
        let len = packet.len() as u32;
        self.queue_out(dir, mfm, packet);
        Ok(len)
    }

    fn read_channel(&mut self, fh: Fh, size: u32, out: &mut Vec<u8>) -> Result<(), Errno> {
        let stale = match self.files.get(&fh) {
            Some(OpenFile::Channel(ch)) => self.stale(ch),
            _ => return Err(Errno::EBADF),
        };
        if stale {
            return Err(Errno::ESTALE);
        }
        let Some(OpenFile::Channel(ch)) = self.files.get_mut(&fh) else {
            return Err(Errno::EBADF);
        };
        match ch.front() {
            None => Err(Errno::EAGAIN),
            Some(p) if p.len() > size as usize => Err(Errno::EMSGSIZE),
            Some(_) => {
                if let Some(p) = ch.pop() {
                    out.extend_from_slice(&p);
                }
                Ok(())
            }
        }
    }

    fn channel_writable(&self, ch: &Channel) -> bool {
        let mfm = match ch.carries {
            Carries::Mfm => true,
            Carries::Svc(_) => false,
            Carries::Events => return false,
        };
        // Room for the longest packet the queue can take: then any write
        // goes through or fails at once (a longer one with EMSGSIZE).
        let room = |d: Dir| {
            let q = &self.outq[d.index()];
            q.has_room(mfm, q.largest())
        };
        match ch.scope {
            // Without its neighbour a write fails at once (EHOSTUNREACH).
            Some(d) => !self.present_for(d, mfm) || room(d),
            // A maximum-size packet to any reachable neighbour is accepted.
            None => Dir::ALL
                .iter()
                .filter(|d| self.present_for(**d, mfm))
                .all(|d| room(*d)),
        }
    }

    fn render(&self, kind: FileKind) -> Vec<u8> {
        match kind {
            FileKind::Status(Scope::All) => text::itc_status(self),
            FileKind::Status(scope) => match scope_dir(scope) {
                Some(dir) => text::dir_status(self, dir),
                None => Vec::new(),
            },
            FileKind::SelfInfo => text::self_info(self),
            FileKind::Physics => format!("{}\n", self.physics).into_bytes(),
            _ => Vec::new(),
        }
    }
}

fn access_mode(flags: i32) -> (bool, bool) {
    match flags & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        _ => (true, true),
    }
}

fn read_text(content: &[u8], offset: u64, size: u32, out: &mut Vec<u8>) {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let end = start.saturating_add(size as usize).min(content.len());
    out.extend_from_slice(&content[start..end]);
}

impl Backend for Tile {
    fn open(&mut self, kind: FileKind, flags: i32) -> Result<Fh, Errno> {
        // The server opens only files it looked up, but a backend cannot
        // rely on that: a direction past the six would be taken for all of
        // them, and service 1 would let a reader take itcd's hellos.
        if !kind.exists() {
            return Err(Errno::ENOENT);
        }
        let (read, write) = access_mode(flags);
        let file = match kind {
            FileKind::Mfm(scope) | FileKind::Svc(scope, _) | FileKind::Events(scope) => {
                let carries = match kind {
                    FileKind::Mfm(_) => Carries::Mfm,
                    FileKind::Svc(_, n) => Carries::Svc(n),
                    _ => Carries::Events,
                };
                if carries != Carries::Events {
                    if let Some(holder) = self.exclusive.get(&kind) {
                        // Just closed: its release is on the way, so ask
                        // the server to retry for a moment.
                        return Err(if self.flushed.contains(holder) {
                            Errno::EAGAIN
                        } else {
                            Errno::EBUSY
                        });
                    }
                }
                if carries == Carries::Events && write {
                    return Err(Errno::EACCES);
                }
                let scope = scope_dir(scope);
                let mut ch = Channel::new(
                    carries,
                    scope,
                    self.physics_gen,
                    self.cfg.reader_queue_limit,
                );
                ch.reads = read;
                // The snapshot: a Connect for each neighbour present now.
                for dir in Dir::ALL {
                    if (scope.is_none() || scope == Some(dir))
                        && self.neighbours[dir.index()].present()
                    {
                        ch.push_event(TepEvent::Connect, dir);
                    }
                }
                OpenFile::Channel(ch)
            }
            FileKind::Physics => {
                let snapshot = self.render(kind);
                OpenFile::Physics {
                    snapshot,
                    written: Vec::new(),
                }
            }
            FileKind::Status(_) | FileKind::SelfInfo => {
                if write {
                    return Err(Errno::EACCES);
                }
                OpenFile::Text(self.render(kind))
            }
        };
        let fh = self.next_fh;
        self.next_fh += 1;
        if matches!(&file, OpenFile::Channel(ch) if ch.is_packet_file()) {
            self.exclusive.insert(kind, fh);
        }
        self.files.insert(fh, file);
        Ok(fh)
    }

    fn release(&mut self, fh: Fh) {
        self.files.remove(&fh);
        self.flushed.remove(&fh);
        self.exclusive.retain(|_, v| *v != fh);
    }

    fn flush(&mut self, fh: Fh) {
        if self.exclusive.values().any(|v| *v == fh) {
            self.flushed.insert(fh);
        }
    }

    fn read(&mut self, fh: Fh, offset: u64, size: u32, out: &mut Vec<u8>) -> Result<(), Errno> {
        // Still in use after a close (a dup or a forked copy remains).
        self.flushed.remove(&fh);
        match self.files.get(&fh) {
            Some(OpenFile::Channel(_)) => self.read_channel(fh, size, out),
            Some(OpenFile::Text(content)) => {
                read_text(content, offset, size, out);
                Ok(())
            }
            Some(OpenFile::Physics { snapshot, .. }) => {
                read_text(snapshot, offset, size, out);
                Ok(())
            }
            None => Err(Errno::EBADF),
        }
    }

    fn write(&mut self, fh: Fh, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        self.flushed.remove(&fh);
        match self.files.get_mut(&fh) {
            Some(OpenFile::Channel(_)) => self.write_packet(fh, data),
            Some(OpenFile::Physics { written, .. }) => {
                let offset = usize::try_from(offset).map_err(|_| Errno::EINVAL)?;
                if offset > written.len() || offset + data.len() > MAX_PHYSICS_LEN + 2 {
                    return Err(Errno::EINVAL);
                }
                let mut next = written.clone();
                next.truncate(offset);
                next.extend_from_slice(data);
                let text = std::str::from_utf8(&next).map_err(|_| Errno::EINVAL)?;
                let physics = text.trim_end_matches(['\n', '\r']).trim();
                self.set_physics(physics)?;
                if let Some(OpenFile::Physics { written, .. }) = self.files.get_mut(&fh) {
                    *written = next;
                }
                Ok(data.len() as u32)
            }
            Some(OpenFile::Text(_)) => Err(Errno::EBADF),
            None => Err(Errno::EBADF),
        }
    }

    fn poll(&mut self, fh: Fh) -> Readiness {
        match self.files.get(&fh) {
            Some(OpenFile::Channel(ch)) => {
                if self.stale(ch) {
                    return Readiness::all();
                }
                let mut ready = Readiness::empty();
                ready.set(Readiness::READABLE, ch.readable());
                ready.set(Readiness::WRITABLE, self.channel_writable(ch));
                ready
            }
            Some(_) => Readiness::READABLE | Readiness::WRITABLE,
            None => Readiness::ERROR,
        }
    }

    fn take_changed(&mut self, out: &mut Vec<Fh>) {
        out.append(&mut self.changed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tile with queues of `limit` bytes and a present, compatible
    /// neighbour named `name` at ET.
    fn tile_with_et(limit: usize, name: &[u8]) -> Tile {
        let mut tile = Tile::new(Config {
            name: "T".into(),
            out_queue_limit: limit,
            reader_queue_limit: limit,
            ..Config::default()
        });
        let now = Instant::now();
        tile.set_pru_up(Pru::Pru0, true);
        tile.on_pru_message(Pru::Pru0, &[0xc3, b'P', Dir::ET.dir8()], now);
        // hello: header, svc 1, version 1, name, physics "".
        let mut hello = vec![0x80 | Dir::ET.dir8(), 1, 1, name.len() as u8];
        hello.extend_from_slice(name);
        hello.push(0);
        tile.on_pru_message(Pru::Pru0, &hello, now);
        assert!(tile.neighbour(Dir::ET).present());
        while tile.pop_outbound(Pru::Pru0).is_some() {}
        tile
    }

    fn mfm(len: usize) -> Vec<u8> {
        let mut p = vec![0xa0 | Dir::ET.dir8()];
        p.resize(len, 0x55);
        p
    }

    #[test]
    fn a_packet_longer_than_the_queue_bound_fails_at_once() {
        let mut tile = tile_with_et(100, b"Z");
        for kind in [FileKind::Mfm(Scope::All), FileKind::Mfm(Scope::Dir(0))] {
            let fh = tile.open(kind, libc::O_RDWR).unwrap();
            assert!(
                tile.poll(fh).contains(Readiness::WRITABLE),
                "{kind:?}: an empty queue"
            );
            assert_eq!(tile.write(fh, 0, &mfm(101)), Err(Errno::EMSGSIZE));
            assert_eq!(tile.write(fh, 0, &mfm(100)), Ok(100));
            assert!(
                !tile.poll(fh).contains(Readiness::WRITABLE),
                "{kind:?}: full"
            );
            assert_eq!(tile.write(fh, 0, &mfm(1)), Err(Errno::EAGAIN));
            while tile.pop_outbound(Pru::Pru0).is_some() {}
            assert!(
                tile.poll(fh).contains(Readiness::WRITABLE),
                "{kind:?}: emptied"
            );
            tile.release(fh);
        }
    }

    #[test]
    fn a_direction_without_its_neighbour_is_writable_as_its_write_fails_at_once() {
        let mut tile = tile_with_et(100, b"Z");
        let fh = tile
            .open(FileKind::Mfm(dir_scope(Dir::ET)), libc::O_RDWR)
            .unwrap();
        assert_eq!(tile.write(fh, 0, &mfm(100)), Ok(100));
        assert!(!tile.poll(fh).contains(Readiness::WRITABLE), "full");
        // The hellos stop; the link stays up, the queue full.
        tile.expire(Instant::now() + Duration::from_secs(10));
        assert!(!tile.neighbour(Dir::ET).present());
        assert_eq!(tile.write(fh, 0, &mfm(1)), Err(Errno::EHOSTUNREACH));
        assert!(
            tile.poll(fh).contains(Readiness::WRITABLE),
            "a select-driven writer learns of it"
        );
    }

    #[test]
    fn the_status_table_stays_aligned_with_a_long_name() {
        let tile = tile_with_et(1024, b"a-name-well-beyond-sixteen-characters");
        let table = String::from_utf8(text::itc_status(&tile)).unwrap();
        let at = |line: &str, word: &str| line.find(word);
        let lines: Vec<&str> = table.lines().collect();
        let header = at(lines[0], "physics").unwrap();
        for line in &lines[1..] {
            let col = at(line, "compatible").or_else(|| at(line, "unknown"));
            assert_eq!(col, Some(header), "{table}");
        }
    }

    #[test]
    fn a_neighbours_control_characters_are_escaped_in_status_files() {
        let tile = tile_with_et(1024, b"Z\nlink: down\x1b[2J");
        let status = String::from_utf8(text::dir_status(&tile, Dir::ET)).unwrap();
        assert!(!status.contains('\x1b'), "{status}");
        assert!(
            status.contains("peer_name: Z\\nlink: down\\x1b[2J\n"),
            "{status}"
        );
        assert_eq!(
            status.lines().filter(|l| l.starts_with("link:")).count(),
            1,
            "no forged line: {status}"
        );
        let table = String::from_utf8(text::itc_status(&tile)).unwrap();
        assert_eq!(table.lines().count(), 7, "{table}");
        assert!(!table.contains('\x1b'), "{table}");
    }

    #[test]
    fn files_the_tree_lacks_cannot_be_opened() {
        let mut tile = tile_with_et(1024, b"Z");
        for kind in [
            FileKind::Svc(Scope::All, 0),
            FileKind::Svc(Scope::All, 1),
            FileKind::Svc(Scope::Dir(0), 64),
            FileKind::Mfm(Scope::Dir(6)),
            FileKind::Events(Scope::Dir(200)),
            FileKind::Status(Scope::Dir(6)),
        ] {
            assert_eq!(
                tile.open(kind, libc::O_RDWR),
                Err(Errno::ENOENT),
                "{kind:?}"
            );
        }
        // Nothing took the neighbour's hellos or its packets.
        let fh = tile
            .open(FileKind::Svc(Scope::All, 9), libc::O_RDWR)
            .unwrap();
        assert!(tile.poll(fh).contains(Readiness::READABLE), "the Connect");
    }

    #[test]
    fn only_bounces_of_routed_packets_count_on_a_direction() {
        let mut tile = tile_with_et(1024, b"Z");
        let now = Instant::now();
        // 0xc2 (local) and 0x42 (non-standard) have ET's low bits.
        for original in [0xc2u8, 0x42, 0xc4] {
            tile.on_pru_message(Pru::Pru0, &[0xc5, 0x01, original, 7], now);
        }
        assert_eq!(tile.stats(Dir::ET).total_drops(), 0);
        assert_eq!(tile.tile_stats().pru_malformed[0], 3);
        tile.on_pru_message(Pru::Pru0, &[0xc5, 0x01, 0x80 | Dir::ET.dir8(), 9], now);
        tile.on_pru_message(Pru::Pru0, &[0xc5, 0x02, 0xa0 | Dir::ET.dir8()], now);
        let s = tile.stats(Dir::ET);
        assert_eq!(s.drops(DropReason::QueueFull), 1);
        assert_eq!(s.drops(DropReason::LinkDown), 1);
        assert_eq!(tile.tile_stats().pru_malformed[0], 3);
    }
}
