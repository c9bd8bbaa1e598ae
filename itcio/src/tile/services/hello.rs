//! Service 1, hello: how neighbouring `itcd`s learn of each other.
//!
//! Sends a hello (name, physics id) on every link that is up: when it
//! comes up, at each tick, when the physics id changes, and at once to a
//! neighbour that asks or that just appeared. Takes hellos from any
//! neighbour, present or not (a hello is what makes it present), and
//! declares a neighbour absent once its hellos stop for the absence
//! timeout. While a link is up without a present neighbour it asks again
//! soon ("probes"), so a lost hello costs a fraction of a second, not a
//! whole hello interval.
//!
//! A hello that does not parse is dropped as malformed; every other one is
//! counted (`hellos`, and received service traffic).

use std::time::{Duration, Instant};

use super::service::{Context, Event, Notice, Service};
use crate::neighbour::Change;
use crate::stats::DropReason;
use crate::tile::config::Config;
use crate::tile::links::Links;
use itc_proto::{Dir, HelloFlags, HelloRepr, Packet, SVC_HELLO};

/// The first wait before asking an absent neighbour for a hello again.
/// Each later wait doubles, until it would reach the hello interval, after
/// which the regular hellos (which ask too) take over.
const FIRST_PROBE: Duration = Duration::from_millis(250);

/// The hello service.
#[derive(Debug)]
pub struct Hello {
    name: String,
    interval: Duration,
    absent_after: Duration,
    /// Per direction whose link is up without a present neighbour: when
    /// to ask for a hello again, and the wait after that one.
    probes: [Option<(Instant, Duration)>; 6],
}

impl Hello {
    /// Queue a hello for `dir`, asking for an answer while the neighbour
    /// is not present here: after a frame error or a restart this side
    /// should not wait a whole hello interval for the far side's next one.
    fn queue_hello(&self, ctx: &mut Context<'_>, dir: Dir) {
        let flags = if ctx.links.neighbour(dir).present() {
            HelloFlags::empty()
        } else {
            HelloFlags::ASK
        };
        let hello = HelloRepr {
            name: &self.name,
            physics: ctx.links.physics(),
            flags,
        };
        let mut out = vec![0u8; hello.buffer_len()];
        match hello.emit(&mut out, dir) {
            Ok(n) => ctx.send_ahead(dir, out[..n].into()),
            // Name and physics are checked when set; this cannot happen.
            Err(e) => tracing::error!("cannot build a hello: {e}"),
        }
    }

    /// Queue a hello on every direction whose link is up.
    fn send_hellos(&self, ctx: &mut Context<'_>) {
        for dir in Dir::ALL {
            if ctx.links.neighbour(dir).link_up() {
                self.queue_hello(ctx, dir);
            }
        }
    }

    /// Ask the neighbour at `dir` for a hello again after `wait`, unless
    /// the regular hellos come as soon.
    fn arm_probe(&mut self, dir: Dir, now: Instant, wait: Duration) {
        self.probes[dir.index()] = (wait < self.interval).then_some((now + wait, wait));
    }

    /// The neighbour at `dir` came or went: stop asking, or (gone silent
    /// on a working link) ask again soon. The tile learns of it too.
    fn presence(&mut self, ctx: &mut Context<'_>, dir: Dir, change: Change) {
        if change == Change::Connected {
            self.probes[dir.index()] = None;
        } else if ctx.links.neighbour(dir).link_up() {
            self.arm_probe(dir, Instant::now(), FIRST_PROBE);
        }
        ctx.notify(Notice::Presence(dir, change));
    }
}

impl Service for Hello {
    fn new(cfg: &Config) -> Hello {
        Hello {
            name: cfg.name.clone(),
            interval: cfg.hello_interval,
            absent_after: cfg.absent_after,
            probes: [None; 6],
        }
    }

    fn number(&self) -> u8 {
        SVC_HELLO
    }

    fn takes_absent(&self) -> bool {
        true
    }

    fn on_packet(
        &mut self,
        ctx: &mut Context<'_>,
        dir: Dir,
        packet: Box<[u8]>,
    ) -> Option<Box<[u8]>> {
        let Ok(hello) = HelloRepr::parse(&Packet::new_unchecked(&packet[..])) else {
            ctx.drop_received(dir, DropReason::Malformed);
            return None;
        };
        let stats = ctx.links.stats_mut(dir);
        stats.hellos += 1;
        stats.rx_svc.count(packet.len());
        let heard = ctx.links.hello(dir, hello.name, hello.physics, ctx.now);
        let asked = hello.flags.contains(HelloFlags::ASK);
        tracing::debug!(
            "{dir}: hello from {:?} (ask {asked}, change {:?})",
            hello.name,
            heard.change
        );
        if ctx.links.neighbour(dir).link_up() && (asked || heard.change == Some(Change::Connected))
        {
            // Answer at once a neighbour that asks, or that just appeared
            // (it may have missed our hellos): neither should wait a whole
            // interval to see us.
            self.queue_hello(ctx, dir);
        }
        match heard.change {
            Some(change) => self.presence(ctx, dir, change),
            // Writability of MFM files depends on compatibility.
            None if heard.compatibility_changed => ctx.notify(Notice::Compatibility(dir)),
            None => {}
        }
        None
    }

    fn on_event(&mut self, ctx: &mut Context<'_>, event: Event) {
        match event {
            Event::LinkUp(dir) => {
                // Say hello at once so the neighbour appears without
                // waiting for the next tick, and again soon if no answer
                // comes.
                self.queue_hello(ctx, dir);
                self.arm_probe(dir, ctx.now, FIRST_PROBE);
            }
            Event::PhysicsChanged | Event::Tick => self.send_hellos(ctx),
        }
    }

    fn next_deadline(&self, links: &Links) -> Option<Instant> {
        let absences = Dir::ALL
            .iter()
            .filter_map(|&d| links.neighbour(d).deadline(self.absent_after));
        let probes = self.probes.iter().flatten().map(|&(at, _)| at);
        absences.chain(probes).min()
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now;
        for dir in Dir::ALL {
            if let Some(change) = ctx.links.expire(dir, now, self.absent_after) {
                self.presence(ctx, dir, change);
            }
            if let Some((at, wait)) = self.probes[dir.index()] {
                if at <= now {
                    self.probes[dir.index()] = None;
                    let n = ctx.links.neighbour(dir);
                    if n.link_up() && !n.present() {
                        self.queue_hello(ctx, dir);
                        self.arm_probe(dir, now, wait * 2);
                    }
                }
            }
        }
    }
}
