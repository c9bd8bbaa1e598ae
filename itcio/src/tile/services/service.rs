//! What a service is ([`Service`]) and all it sees of the tile: a
//! [`Context`] to read and count in the link state, queue packets and
//! report [`Notice`]s, and the [`Event`]s it may act on.
//!
//! A service owns its own state and never reaches into the tile's other
//! parts: what the open files must learn (a neighbour came or went) goes
//! out as a notice, and a packet for the readers of its `svc/NN` file is
//! handed back.

use std::time::Instant;

use crate::neighbour::Change;
use crate::stats::DropReason;
use crate::tile::capture::Capture;
use crate::tile::config::Config;
use crate::tile::links::Links;
use crate::tile::outbound::Outbound;
use itc_proto::capture::Way;
use itc_proto::Dir;

/// Something that happened to the tile that a service may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The link at this direction came up.
    LinkUp(Dir),
    /// This tile's physics id changed.
    PhysicsChanged,
    /// The daemon's periodic tick, about once per hello interval.
    Tick,
}

/// What a service tells the tile, for the open files to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The neighbour at `dir` became present or absent.
    Presence(Dir, Change),
    /// Whether MFM traffic may flow with `dir` changed; presence did not.
    Compatibility(Dir),
}

/// What a service sees of the tile while it handles something.
pub struct Context<'a> {
    /// The time of the packet or timer being handled.
    pub now: Instant,
    /// Link and neighbour state, counters and the physics id.
    pub links: &'a mut Links,
    outbound: &'a mut Outbound,
    notices: &'a mut Vec<Notice>,
    capture: &'a mut Capture,
    /// Why the packet being handled was dropped, if it was.
    dropped: Option<DropReason>,
}

impl<'a> Context<'a> {
    /// A context over the tile's parts; notices are appended to `notices`,
    /// drops of packets sent are recorded in `capture`.
    pub fn new(
        now: Instant,
        links: &'a mut Links,
        outbound: &'a mut Outbound,
        notices: &'a mut Vec<Notice>,
        capture: &'a mut Capture,
    ) -> Context<'a> {
        Context {
            now,
            links,
            outbound,
            notices,
            capture,
            dropped: None,
        }
    }

    /// Queue a service packet for `dir`; a full queue drops (and counts) it.
    pub fn send(&mut self, dir: Dir, packet: Box<[u8]>) {
        if let Err(packet) = self.outbound.push(dir, false, packet) {
            self.links.drop_packet(dir, DropReason::QueueFull);
            if self.capture.is_on() {
                self.capture
                    .record(dir, Way::Out, Some(DropReason::QueueFull), &packet);
            }
        }
    }

    /// Drop (and count) the packet being handled, which came from `dir`.
    pub fn drop_received(&mut self, dir: Dir, reason: DropReason) {
        self.links.drop_packet(dir, reason);
        self.dropped = Some(reason);
    }

    /// Why the packet handled was dropped, if it was.
    pub fn dropped(&self) -> Option<DropReason> {
        self.dropped
    }

    /// Queue a packet for `dir` ahead of all traffic, replacing one queued
    /// so that has not gone yet (the hello lane: at most one waits).
    pub fn send_ahead(&mut self, dir: Dir, packet: Box<[u8]>) {
        self.outbound.set_hello(dir, packet);
    }

    /// Tell the tile something the open files must learn.
    pub fn notify(&mut self, notice: Notice) {
        self.notices.push(notice);
    }
}

/// A service `itcd` answers itself.
pub trait Service {
    /// The handler for a tile with these settings.
    fn new(cfg: &Config) -> Self
    where
        Self: Sized;

    /// The service number it owns.
    fn number(&self) -> u8;

    /// Whether it takes packets from a neighbour that is not present (the
    /// hello service: that is how a neighbour becomes present). Others
    /// never see them: they are dropped as from an absent neighbour.
    fn takes_absent(&self) -> bool {
        false
    }

    /// Handle a packet of this service from `dir`. Returns the packet if
    /// it is for the readers of the service's file.
    fn on_packet(
        &mut self,
        ctx: &mut Context<'_>,
        dir: Dir,
        packet: Box<[u8]>,
    ) -> Option<Box<[u8]>>;

    /// Act on something that happened to the tile.
    fn on_event(&mut self, _ctx: &mut Context<'_>, _event: Event) {}

    /// When [`Service::on_timer`] has something to do.
    fn next_deadline(&self, _links: &Links) -> Option<Instant> {
        None
    }

    /// Do what was due by `ctx.now`.
    fn on_timer(&mut self, _ctx: &mut Context<'_>) {}
}
