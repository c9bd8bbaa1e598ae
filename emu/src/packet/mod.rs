//! The packet model (`--link packet`): what the PRU firmware and the wires
//! do, emulated a whole packet at a time, as seen by each tile's `itcd`.
//!
//! Describe the grid with [`Wires`] and [`PacketModel::start`] it. Every
//! PRU is a host port (`crate::host_port`: one seqpacket socket per PRU,
//! one host at a time, the start message, the bounded backlog). One thread
//! runs a mio event loop over all of them; [`PacketModel`] controls it.
//!
//! The contract, per PRU, beyond the port's:
//! - When the host goes away the PRU is no longer started, but its links
//!   are unchanged: the firmware keeps running when the daemon dies.
//! - On the host's start message the PRU reports each of its three
//!   directions: `0xc3 'P' dir8` (wired, not cut) or `0xc3 'T' dir8` (no
//!   wire, or a cut one: no clock); then `0xc3 'M' bitmap` every
//!   [`LinkParams::monitor_interval`](crate::LinkParams::monitor_interval),
//!   bit `dir8` set for each of its directions with sync.
//! - A routed packet (byte 0 `0b10xx_xxxx`) with DIR d is bounced as
//!   `0xc5, 2, original...` (truncated to 255 bytes) when d is not one of
//!   this PRU's directions or its wire is missing or cut. When the wire
//!   already has [`WIRE_QUEUE_PACKETS`] in flight it waits, and the PRU
//!   reads nothing more from its host, until one arrives: as with the
//!   firmware, a host that writes faster than the line sees its writes
//!   block, never a bounce. Otherwise it crosses the wire: after
//!   its serialisation time (`(len + 4) * 8` bits at `rate_bps`, behind the
//!   packets before it) plus the latency, it reaches the far tile's PRU for
//!   `d.opposite()`, with DIR = `d.opposite()`, MFMT and payload unchanged,
//!   EROR set if `damage_next` says so, OVRN set if `overrun_next` says so
//!   or that PRU dropped a packet for its host before this one. `loss`
//!   drops packets silently.
//! - A packet damaged on the wire (the `corrupt` probability) is handled
//!   as the firmware handles a frame that fails its check: the far PRU
//!   does not deliver it, reports `0xc3 'E' dir8` (one frame dropped) to
//!   its host instead, and keeps sync, so the link stays up. EROR is never
//!   set by `corrupt`: the firmware never sets it either. `damage_next`
//!   is the one way to have a packet delivered with EROR, for testing a
//!   host's handling of that bit, which the packet format defines.
//! - Local and non-standard packets, messages of 0 or over 255 bytes after
//!   the start message, and anything before it are ignored and counted.
//! - Memory is bounded: a full wire holds one packet and stops reading its
//!   host, and a host whose socket would block gets at most
//!   [`HOST_BACKLOG_PACKETS`](crate::HOST_BACKLOG_PACKETS) queued
//!   messages, the oldest dropped beyond that. A packet arriving for a host
//!   that has not started is dropped. Routed packets dropped at the
//!   receiving PRU make the next delivered one carry OVRN.
//!
//! Every drop and bounce is counted in [`SimStats`]. The only failures are
//! at start ([`Error`]); later I/O errors on a host connection close that
//! connection and are logged with `tracing`.

mod engine;
mod handle;
mod msg;
mod pru;
mod timers;
mod wire;

use std::sync::mpsc;
use std::thread;

use mio::{Poll, Waker};

pub use handle::PacketModel;

use crate::error::Error;
use crate::host_port::{self, WAKER};
use crate::stats::SimStats;
use crate::wires::Wires;
use engine::Engine;
use handle::Shared;
use pru::PacketPru;
use wire::{End, Wire};

/// Packets one direction of a wire holds in flight before it bounces more.
pub const WIRE_QUEUE_PACKETS: usize = 64;

/// The model's name.
const NAME: &str = "packet";

/// Checks `wires`, binds every socket (replacing stale socket files), and
/// starts the loop thread.
fn start(wires: Wires) -> Result<PacketModel, Error> {
    wires.check()?;
    let (ports, files) = host_port::bind_all(&wires)?;
    let mut prus: Vec<PacketPru> = ports.into_iter().map(PacketPru::new).collect();

    let poll = Poll::new().map_err(Error::EventLoop)?;
    let waker = Waker::new(poll.registry(), WAKER).map_err(Error::EventLoop)?;
    for p in &mut prus {
        p.register(poll.registry()).map_err(Error::EventLoop)?;
    }
    let params = wires.params();
    let links = wires
        .wires()
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let a = End {
                tile: w.a.0,
                dir: w.dir,
            };
            let b = End {
                tile: w.b.0,
                dir: w.dir.opposite(),
            };
            Wire::new(a, b, params.clone(), i as u64)
        })
        .collect();

    let (tx, rx) = mpsc::channel();
    // The counters start as the engine will first publish them.
    let shared = Shared::new(SimStats::default());
    let engine = Engine::new(
        poll,
        prus,
        links,
        params.monitor_interval,
        rx,
        shared.clone(),
    );
    shared.publish(engine.stats(), 0);
    let guard = shared.stop_guard();
    let thread = thread::Builder::new()
        .name("tile-wires".to_owned())
        .spawn(move || {
            let _stopped = guard;
            engine.run();
        })
        .map_err(Error::Spawn)?;
    Ok(PacketModel::new(shared, tx, waker, thread, wires, files))
}
