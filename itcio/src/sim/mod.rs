//! The emulated PRU side of a set of tiles: what the PRU firmware and the
//! wires do, as seen by each tile's `itcd`.
//!
//! Build the set with [`Wires`] (tiles, then wires between tile ends) and
//! [`Wires::start`] it. Every PRU becomes a UNIX `SOCK_SEQPACKET` listening
//! socket, `{socket_dir}/{tile}.pru0` and `.pru1`; `itcd --pru0 PATH --pru1
//! PATH` connects to them and exchanges one packet per message, exactly as
//! with `/dev/rpmsg_pru30` and `/dev/rpmsg_pru31` (SPEC section 3). One
//! thread runs a mio event loop over all of them; [`SimHandle`] controls it.
//!
//! The contract, per PRU socket:
//! - One host connection at a time; a new one replaces (closes) the old.
//!   When the host goes away the PRU is no longer started, but its links are
//!   unchanged: the firmware keeps running when the daemon dies.
//! - Nothing is sent to a host before its first, empty, message. On that
//!   message the PRU reports each of its three directions: `0xc3 'P' dir8`
//!   (wired, not cut), `0xc3 'T' dir8` (no wire: no clock) or `0xc3 'F' dir8`
//!   (cut); then `0xc3 'M' bitmap` every [`LinkParams::monitor_interval`],
//!   bit `dir8` set for each of its directions with sync.
//! - A routed packet (byte 0 `0b10xx_xxxx`) with DIR d is bounced as
//!   `0xc5, 2, original...` (truncated to 255 bytes) when d is not one of
//!   this PRU's directions or its wire is missing or cut, and as
//!   `0xc5, 1, original...` when the wire already has
//!   [`WIRE_QUEUE_PACKETS`] in flight. Otherwise it crosses the wire: after
//!   its serialisation time (`(len + 4) * 8` bits at `rate_bps`, behind the
//!   packets before it) plus the latency, it reaches the far tile's PRU for
//!   `d.opposite()`, with DIR = `d.opposite()`, MFMT and payload unchanged,
//!   EROR set if it was damaged (`damage_next`, or the `corrupt` probability,
//!   which also flips one payload bit), OVRN set if `overrun_next` says so or
//!   that PRU dropped a packet for its host before this one. `loss` drops
//!   packets silently.
//! - Local and non-standard packets, messages of 0 or over 255 bytes after
//!   the start message, and anything before it are ignored and counted.
//! - Memory is bounded: a full wire bounces, and a host whose socket would
//!   block gets at most [`HOST_BACKLOG_PACKETS`] queued messages, the oldest
//!   dropped beyond that. A packet arriving for a host that has not started
//!   is dropped. Routed packets dropped at the receiving PRU make the next
//!   delivered one carry OVRN.
//!
//! Every drop and bounce is counted in [`SimStats`]. The only failures are
//! at start ([`StartError`]); later I/O errors on a host connection close
//! that connection and are logged with `tracing`.

mod msg;
mod rng;
mod timers;
mod wire;

use std::time::Duration;

/// Packets one direction of a wire holds in flight before it bounces more.
pub const WIRE_QUEUE_PACKETS: usize = 64;

/// Messages a PRU holds for a host whose socket would block before it drops
/// the oldest.
pub const HOST_BACKLOG_PACKETS: usize = 64;

/// A tile of the emulator, numbered in the order [`Wires::add_tile`] made
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId(pub usize);

/// How a wire behaves.
#[derive(Clone, Debug)]
pub struct LinkParams {
    /// Bits per second in each direction; 0 is unlimited.
    pub rate_bps: u64,
    /// Propagation delay added after serialisation.
    pub latency: Duration,
    /// Probability (0..=1) that a packet is silently lost.
    pub loss: f64,
    /// Probability (0..=1) that a packet arrives with EROR set and one
    /// payload bit flipped.
    pub corrupt: f64,
    /// Period of each PRU's `0xc3 'M'` report once its host started; zero
    /// turns the reports off. Taken from the [`Wires::new`] parameters.
    pub monitor_interval: Duration,
    /// Seed for loss and corruption; the same seed repeats the same choices
    /// for the same traffic.
    pub seed: u64,
}

impl Default for LinkParams {
    /// Unlimited rate, no latency, no loss or corruption, monitor every 1 s.
    fn default() -> LinkParams {
        LinkParams {
            rate_bps: 0,
            latency: Duration::ZERO,
            loss: 0.0,
            corrupt: 0.0,
            monitor_interval: Duration::from_secs(1),
            seed: 0,
        }
    }
}
