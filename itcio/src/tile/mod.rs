//! The core of `itcd`: one tile's links, neighbours, services, queues and
//! open files, and every routing decision between the PRUs and the files.
//! No I/O: the daemon feeds it PRU messages and timer ticks, drains its
//! outbound queues into the PRUs, and serves its files (through
//! `crate::tree_backend`, which speaks FUSE; nothing here does).
//!
//! [`Tile`] only coordinates. Each part owns its state and they meet
//! through the small values this module passes between them:
//!
//! - [`links`]: link and neighbour state, counters, physics id; returns
//!   each transition as a value.
//! - [`pru_message`]: what a PRU message means, without state.
//! - [`services`]: the services `itcd` answers itself (hello, echo), by
//!   number; they report presence changes as notices.
//! - [`outbound`]: the per-direction queues and the per-PRU turns.
//! - [`files`]: the open files, their holders, and inbound delivery.
//! - [`capture`]: the records of `itc/capture`, one per packet received,
//!   sent or dropped, for each capture file open.
//! - [`file_api`]: the words in which files are served.
//! - [`link_log`]: the log lines of link and neighbour changes, rate
//!   limited per direction.
//!
//! Inbound, a routed packet from D is dropped if damaged (EROR); MFM goes
//! to the files if D's neighbour is present and compatible; a service
//! packet goes to the service `itcd` answers, if any (hellos even from an
//! absent neighbour), else to the files if D's neighbour is present.
//! Outbound, a packet written to a packet file is validated, checked for a
//! present (for MFM: compatible) neighbour and room, and queued per
//! direction, MFM first.

pub mod capture;
pub mod config;
pub mod file_api;
pub mod files;
pub mod link_log;
pub mod links;
pub mod outbound;
pub mod pru_message;
pub mod services;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant, SystemTime};

use crate::channel::Carries;
use crate::neighbour::{Change, Neighbour};
use crate::queue::Lane;
use crate::stats::{DirStats, DropReason};
use crate::text;
use files::{Files, Write};
use itc_proto::capture::Way;
use itc_proto::service::SVC_NULL;
use itc_proto::{Dir, Packet, Pru, TepEvent};
use link_log::LinkLog;
use links::{Links, Transition};
use outbound::Outbound;
use pru_message::Message;
use services::{Context, Event, Notice, Services};

pub use crate::stats::TileStats;
pub use config::Config;
pub use file_api::{Access, Error, FileId, FileKind, Readiness};
/// Longest physics id or tile name, in bytes.
pub use itc_proto::{MAX_NAME_LEN, MAX_PHYSICS_LEN};

/// One tile's state.
#[derive(Debug)]
pub struct Tile {
    cfg: Config,
    started: Instant,
    started_wall: SystemTime,
    links: Links,
    services: Services,
    outbound: Outbound,
    files: Files,
    /// Notices from the services not yet passed on (kept for its buffer).
    notices: Vec<Notice>,
    link_log: LinkLog,
}

impl Tile {
    /// A tile with no links up and nothing open.
    pub fn new(cfg: Config) -> Tile {
        Tile {
            links: Links::new(cfg.physics.clone()),
            services: Services::new(&cfg),
            outbound: Outbound::new(cfg.out_queue_limit),
            files: Files::new(cfg.reader_queue_limit),
            notices: Vec::new(),
            link_log: LinkLog::default(),
            started: Instant::now(),
            started_wall: SystemTime::now(),
            cfg,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Link and neighbour state, counters and physics id.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The current physics id.
    pub fn physics(&self) -> &str {
        self.links.physics()
    }

    /// State of one direction.
    pub fn neighbour(&self, dir: Dir) -> &Neighbour {
        self.links.neighbour(dir)
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Dir) -> &DirStats {
        self.links.stats(dir)
    }

    /// Counters not tied to a direction.
    pub fn tile_stats(&self) -> &TileStats {
        self.links.tile_stats()
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Wall-clock start time.
    pub fn started_wall(&self) -> SystemTime {
        self.started_wall
    }

    /// The PRU device counters, to count in.
    pub fn pru_stats_mut(&mut self) -> &mut TileStats {
        self.links.tile_stats_mut()
    }

    /// Whether the PRU device is open.
    pub fn pru_up(&self, pru: Pru) -> bool {
        self.links.pru_up(pru)
    }

    /// Whether MFM traffic may flow with the neighbour at `dir`.
    pub fn compatible(&self, dir: Dir) -> bool {
        self.links.compatible(dir)
    }

    // ---- PRU side -------------------------------------------------------

    /// The PRU device was opened (`true`) or lost (`false`). Losing it takes
    /// its links down.
    pub fn set_pru_up(&mut self, pru: Pru, up: bool) {
        self.links.set_pru_up(pru, up);
        if !up {
            for dir in pru.dirs() {
                let t = self.links.set_link(dir, false);
                self.link_changed(dir, t);
            }
        }
    }

    /// Handle one message from a PRU.
    pub fn on_pru_message(&mut self, pru: Pru, msg: &[u8], now: Instant) {
        match pru_message::classify(pru, msg) {
            Message::Routed {
                dir,
                mfm,
                ovrn,
                eror,
            } => self.on_routed(dir, mfm, ovrn, eror, msg, now),
            Message::Link { dir, code } => {
                let t = self.links.link_report(dir, code);
                self.link_changed(dir, t);
            }
            Message::Monitor(bitmap) => {
                for dir in pru.dirs() {
                    let up = bitmap & (1 << dir.dir8()) != 0;
                    if up != self.links.neighbour(dir).link_up() {
                        let t = self.links.set_link(dir, up);
                        self.link_changed(dir, t);
                    }
                }
            }
            Message::Bounced { dir, reason } => {
                self.links.drop_packet(dir, reason);
                // 0xc5 REASON, then the packet.
                self.record(dir, Way::Out, Some(reason), msg.get(2..).unwrap_or(&[]));
            }
            Message::Debug => tracing::debug!("PRU{} debug message: {:02x?}", pru.index(), msg),
            Message::Malformed => self.links.pru_malformed(pru),
        }
    }

    fn link_changed(&mut self, dir: Dir, transition: Option<Transition>) {
        match transition {
            Some(Transition::Down(change)) => {
                if self.files.capture.is_on() {
                    while let Some(p) = self.outbound.pop_dir(dir) {
                        self.links.drop_packet(dir, DropReason::LinkDown);
                        let reason = Some(DropReason::LinkDown);
                        self.files.capture.record(dir, Way::Out, reason, &p);
                    }
                }
                for _ in 0..self.outbound.clear(dir) {
                    self.links.drop_packet(dir, DropReason::LinkDown);
                }
                let now = Instant::now();
                self.link_log
                    .info(dir, now, format_args!("{dir}: link down"));
                if let Some(change) = change {
                    self.announce(dir, change);
                }
            }
            Some(Transition::Up) => {
                let now = Instant::now();
                self.link_log.info(dir, now, format_args!("{dir}: link up"));
                self.event(Event::LinkUp(dir));
            }
            None => {}
        }
    }

    /// Record a packet in the capture files, if any is open: the one
    /// branch a packet costs when none is.
    #[inline]
    fn record(&mut self, dir: Dir, way: Way, drop: Option<DropReason>, packet: &[u8]) {
        if self.files.capture.is_on() {
            self.files.capture.record(dir, way, drop, packet);
        }
    }

    fn on_routed(&mut self, dir: Dir, mfm: bool, ovrn: bool, eror: bool, msg: &[u8], now: Instant) {
        let drop = self.route_in(dir, mfm, ovrn, eror, msg, now);
        // As it arrived: OVRN and EROR still set.
        self.record(dir, Way::In, drop, msg);
    }

    /// Count a packet from `dir` dropped for `reason`, and say so.
    fn dropped(&mut self, dir: Dir, reason: DropReason) -> Option<DropReason> {
        self.links.drop_packet(dir, reason);
        Some(reason)
    }

    /// Take an inbound packet where it goes; returns why it was dropped,
    /// if it was.
    fn route_in(
        &mut self,
        dir: Dir,
        mfm: bool,
        ovrn: bool,
        eror: bool,
        msg: &[u8],
        now: Instant,
    ) -> Option<DropReason> {
        if eror {
            return self.dropped(dir, DropReason::Eror);
        }
        if ovrn {
            self.links.stats_mut(dir).overruns += 1;
        }
        let mut buf: Box<[u8]> = msg.into();
        if ovrn {
            Packet::new_unchecked(&mut buf[..]).set_ovrn(false);
        }
        let present = self.links.neighbour(dir).present();
        if mfm {
            if !present {
                return self.dropped(dir, DropReason::Absent);
            } else if !self.links.compatible(dir) {
                return self.dropped(dir, DropReason::Incompatible);
            }
            return self.deliver(dir, Carries::Mfm, buf);
        }
        let svc = Packet::new_unchecked(&buf[..]).service();
        if svc == SVC_NULL {
            return self.dropped(dir, DropReason::Malformed);
        }
        let Some(service) = self.services.get_mut(svc) else {
            if present {
                return self.deliver(dir, Carries::Svc(svc), buf);
            }
            return self.dropped(dir, DropReason::Absent);
        };
        if !present && !service.takes_absent() {
            return self.dropped(dir, DropReason::Absent);
        }
        let mut ctx = Context::new(
            now,
            &mut self.links,
            &mut self.outbound,
            &mut self.notices,
            &mut self.files.capture,
        );
        let for_files = service.on_packet(&mut ctx, dir, buf);
        let drop = ctx.dropped();
        self.pass_notices();
        match for_files {
            Some(buf) => self.deliver(dir, Carries::Svc(svc), buf),
            None => drop,
        }
    }

    /// Hand an inbound packet to the file that takes it, or count the
    /// drop and return its reason.
    fn deliver(&mut self, dir: Dir, carries: Carries, buf: Box<[u8]>) -> Option<DropReason> {
        let len = buf.len();
        match self
            .files
            .deliver(dir, carries, &buf, self.links.physics_gen())
        {
            Ok(()) => {
                let s = self.links.stats_mut(dir);
                match carries {
                    Carries::Mfm => s.rx_mfm.count(len),
                    _ => s.rx_svc.count(len),
                }
                None
            }
            Err(reason) => self.dropped(dir, reason),
        }
    }

    /// Let every service act on `event`.
    fn event(&mut self, event: Event) {
        let mut ctx = Context::new(
            Instant::now(),
            &mut self.links,
            &mut self.outbound,
            &mut self.notices,
            &mut self.files.capture,
        );
        self.services.on_event(&mut ctx, event);
        self.pass_notices();
    }

    /// Pass the services' notices on to the open files.
    fn pass_notices(&mut self) {
        if self.notices.is_empty() {
            return;
        }
        let mut notices = std::mem::take(&mut self.notices);
        for notice in notices.drain(..) {
            match notice {
                Notice::Presence(dir, change) => self.announce(dir, change),
                Notice::Compatibility(_) => self.files.mark_packet_files(),
            }
        }
        self.notices = notices;
    }

    /// Put a presence change into every channel that covers `dir`.
    fn announce(&mut self, dir: Dir, change: Change) {
        let (event, word) = match change {
            Change::Connected => (TepEvent::Connect, "present"),
            Change::Disconnected => (TepEvent::Disconnect, "absent"),
        };
        let name = text::one_line(self.links.neighbour(dir).name());
        let now = Instant::now();
        self.link_log
            .info(dir, now, format_args!("{dir}: neighbour {word} ({name})"));
        self.files.fan_out(dir, event);
        // Writes may now succeed or fail with EHOSTUNREACH.
        self.files.mark_packet_files();
    }

    // ---- timers -----------------------------------------------------------

    /// Queue a hello on every direction whose link is up (the daemon's
    /// periodic tick).
    pub fn send_hellos(&mut self) {
        self.event(Event::Tick);
    }

    /// Do what was due by `now`: declare absent every neighbour whose
    /// hellos stopped, ask again those that do not answer, say how many
    /// log lines were suppressed.
    pub fn expire(&mut self, now: Instant) {
        let mut ctx = Context::new(
            now,
            &mut self.links,
            &mut self.outbound,
            &mut self.notices,
            &mut self.files.capture,
        );
        self.services.on_timer(&mut ctx);
        self.pass_notices();
        self.link_log.expire(now);
    }

    /// The earliest time [`Tile::expire`] has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        let services = self.services.next_deadline(&self.links);
        services
            .into_iter()
            .chain(self.link_log.next_deadline())
            .min()
    }

    // ---- outbound --------------------------------------------------------

    /// Whether anything waits to go to this PRU.
    pub fn has_outbound(&self, pru: Pru) -> bool {
        self.outbound.has_any(pru)
    }

    /// Take the next packet for this PRU, taking directions in turn.
    pub fn pop_outbound(&mut self, pru: Pru) -> Option<(Dir, Lane, Box<[u8]>)> {
        let popped = self.outbound.pop(pru)?;
        if popped.was_full {
            // Blocked writers and pollers may proceed now.
            self.files.mark_packet_files();
        }
        Some((popped.dir, popped.lane, popped.packet))
    }

    /// Give back a packet the PRU could not take yet.
    pub fn unpop_outbound(&mut self, dir: Dir, lane: Lane, packet: Box<[u8]>) {
        self.outbound.unpop(dir, lane, packet);
    }

    /// A packet was handed to the PRU.
    pub fn sent(&mut self, dir: Dir, lane: Lane, packet: &[u8]) {
        self.record(dir, Way::Out, None, packet);
        let len = packet.len();
        let s = self.links.stats_mut(dir);
        if lane == Lane::Mfm {
            s.tx_mfm.count(len);
        } else {
            s.tx_svc.count(len);
        }
    }

    /// The PRU could not send a packet (device error): count and forget it.
    pub fn send_failed(&mut self, dir: Dir, packet: &[u8]) {
        self.links.drop_packet(dir, DropReason::LinkDown);
        self.record(dir, Way::Out, Some(DropReason::LinkDown), packet);
    }

    // ---- physics ----------------------------------------------------------

    /// Set this tile's physics id. Open MFM files go stale.
    pub fn set_physics(&mut self, physics: &str) -> Result<(), Error> {
        if self.links.set_physics(physics)? {
            self.files.mark_mfm_files();
            self.event(Event::PhysicsChanged);
        }
        Ok(())
    }

    // ---- files --------------------------------------------------------------

    /// Open a file; returns its id.
    pub fn open_file(&mut self, kind: FileKind, access: Access) -> Result<FileId, Error> {
        if !kind.exists() {
            return Err(Error::NotFound);
        }
        match kind {
            FileKind::Mfm(_)
            | FileKind::Svc(..)
            | FileKind::BatchMfm(_)
            | FileKind::BatchSvc(..)
            | FileKind::Events(_) => {
                let links = &self.links;
                self.files
                    .open_channel(kind, access, links.physics_gen(), |d| {
                        links.neighbour(d).present()
                    })
            }
            FileKind::Physics => Ok(self.files.open_physics(self.render(kind))),
            FileKind::Capture => self.files.open_capture(access),
            FileKind::Status(_) | FileKind::SelfInfo => {
                if access.contains(Access::WRITE) {
                    return Err(Error::Denied);
                }
                Ok(self.files.open_text(self.render(kind)))
            }
        }
    }

    /// The last reference to a file is gone.
    pub fn release_file(&mut self, id: FileId) {
        self.files.release(id);
    }

    /// A descriptor of a file was closed (others may remain).
    pub fn flush_file(&mut self, id: FileId) {
        self.files.flush(id);
    }

    /// Append at most `size` bytes read at `offset` to `out`.
    /// [`Error::WouldBlock`]: no packet yet.
    pub fn read_file(
        &mut self,
        id: FileId,
        offset: u64,
        size: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let physics_gen = self.links.physics_gen();
        self.files.read(id, offset, size, out, physics_gen)
    }

    /// Write `data` at `offset`; returns the bytes taken.
    /// [`Error::WouldBlock`]: no room in the outbound queue yet.
    pub fn write_file(&mut self, id: FileId, offset: u64, data: &[u8]) -> Result<u32, Error> {
        if self.files.is_batched(id) {
            return self.write_batch(id, offset, data);
        }
        let physics_gen = self.links.physics_gen();
        let limit = self.cfg.out_queue_limit;
        match self.files.write(id, offset, data, physics_gen, limit)? {
            Write::Packet { dir, mfm, packet } => {
                let mut refused = None;
                let r = queue_written(
                    &mut self.links,
                    &mut self.outbound,
                    dir,
                    mfm,
                    packet,
                    &mut |p| refused = Some(p),
                );
                if let Some(packet) = refused {
                    self.record(dir, Way::Out, Some(DropReason::QueueFull), &packet);
                }
                r
            }
            Write::Physics(edit) => {
                self.set_physics(edit.physics())?;
                let taken = edit.taken();
                self.files.commit_physics(id, edit);
                Ok(taken)
            }
        }
    }

    /// A write to a batched file: framed packets taken in order up to the
    /// first that cannot be taken now.
    fn write_batch(&mut self, id: FileId, offset: u64, data: &[u8]) -> Result<u32, Error> {
        let physics_gen = self.links.physics_gen();
        let limit = self.cfg.out_queue_limit;
        let (links, outbound) = (&mut self.links, &mut self.outbound);
        // Packets the queue refused, for the capture files once the open
        // files are free again.
        let mut refused = Vec::new();
        let r = self
            .files
            .write_batch(id, offset, data, physics_gen, limit, |dir, mfm, packet| {
                queue_written(links, outbound, dir, mfm, packet, &mut |p| {
                    refused.push((dir, p))
                })
            });
        for (dir, packet) in refused {
            self.record(dir, Way::Out, Some(DropReason::QueueFull), &packet);
        }
        r
    }

    /// Current readiness of a file.
    pub fn poll_file(&self, id: FileId) -> Readiness {
        let (links, outbound) = (&self.links, &self.outbound);
        self.files.poll(id, links.physics_gen(), |mfm, scope| {
            // Room for the longest packet the queue can take: then any
            // write goes through or fails at once (a longer one with
            // EMSGSIZE).
            match scope {
                // Without its neighbour a write fails at once.
                Some(d) => !links.reaches(d, mfm) || outbound.has_room_for_any(d, mfm),
                // A maximum-size packet to any reachable neighbour is
                // accepted.
                None => Dir::ALL
                    .iter()
                    .filter(|d| links.reaches(**d, mfm))
                    .all(|d| outbound.has_room_for_any(*d, mfm)),
            }
        })
    }

    /// The files whose readiness may have changed since the last call.
    pub fn drain_changed(&mut self) -> impl Iterator<Item = FileId> + '_ {
        self.files.drain_changed()
    }

    fn render(&self, kind: FileKind) -> Vec<u8> {
        let links = &self.links;
        let ours = links.physics();
        match kind {
            FileKind::Status(None) => {
                text::itc_status(Dir::ALL.map(|d| (links.neighbour(d), links.stats(d))), ours)
            }
            FileKind::Status(Some(dir)) => {
                text::dir_status(dir, links.neighbour(dir), links.stats(dir), ours)
            }
            FileKind::SelfInfo => text::self_info(&text::SelfInfo {
                name: &self.cfg.name,
                physics: ours,
                started: self.started_wall,
                uptime: self.uptime(),
                hello_interval: self.cfg.hello_interval,
                absent_after: self.cfg.absent_after,
                pru_open: Pru::ALL.map(|p| links.pru_up(p)),
                stats: links.tile_stats(),
            }),
            FileKind::Physics => format!("{ours}\n").into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// Queue a packet a user wrote, if its neighbour is there and its queue
/// has room; returns its length. A packet the queue still refuses is
/// counted as dropped and handed to `refused` (for the capture files).
fn queue_written(
    links: &mut Links,
    outbound: &mut Outbound,
    dir: Dir,
    mfm: bool,
    packet: Box<[u8]>,
    refused: &mut dyn FnMut(Box<[u8]>),
) -> Result<u32, Error> {
    if !links.reaches(dir, mfm) {
        return Err(Error::Unreachable);
    }
    if !outbound.has_room(dir, mfm, packet.len()) {
        return Err(Error::WouldBlock);
    }
    let len = packet.len() as u32;
    if let Err(packet) = outbound.push(dir, mfm, packet) {
        links.drop_packet(dir, DropReason::QueueFull);
        refused(packet);
    }
    Ok(len)
}
