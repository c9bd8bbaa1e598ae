//! The counters every model reports ([`LinkModel::stats`]): which wires
//! exist and are up, each PRU's host connection, and what the model
//! counts besides. A model fills what it knows and leaves the rest zero:
//! the packet model counts every packet; the firmware model counts wires
//! and connections here and packets in the firmware's own counters.
//!
//! The packet model publishes them to [`PacketModel`] when asked: each
//! reading waits for the end of the loop's next turn, and while someone
//! waits in [`PacketModel::wait_until`] they are published after every
//! turn (never otherwise: a 1024-tile grid's counters are a megabyte). A
//! host may see a message a moment before the counters that go with it,
//! so wait for counters with [`PacketModel::wait_until`].
//!
//! Link counters belong to the sending end: `link(tile, dir)` says what
//! became of the routed packets `tile`'s host sent toward `dir`, wherever
//! they were dropped. PRU counters cover the host connection and the
//! messages that are not routed packets from a wire.
#![deny(unsafe_code)]

use crate::wires::TileId;
#[cfg(doc)]
use crate::{LinkModel, PacketModel};
use itc_proto::{Dir, Pru};

/// The fate of the packets one tile's host sent in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// A wire is attached in this direction.
    pub wired: bool,
    /// Wired and not cut: both ends have sync.
    pub up: bool,
    /// Packets put on the wire.
    pub sent: u64,
    /// Packets written to the far host.
    pub delivered_packets: u64,
    /// Bytes of those packets.
    pub delivered_bytes: u64,
    /// Packets in flight when the wire was cut.
    pub dropped_cut: u64,
    /// Packets the link lost (the `loss` probability).
    pub dropped_loss: u64,
    /// Packets that arrived while the far host was not connected or started.
    pub dropped_no_host: u64,
    /// Packets dropped from the far PRU's full backlog to its host.
    pub dropped_backlog: u64,
    /// Times a packet waited for room on the wire (its host was not read
    /// meanwhile, so the host's writes blocked).
    pub held: u64,
    /// Packets waiting for room on the wire when their host went away.
    pub dropped_held: u64,
    /// Packets damaged on the way: by `corrupt` (dropped by the far PRU,
    /// which reports `E`) or by `damage_next` (delivered with EROR set).
    pub corrupted: u64,
    /// Packets the far PRU dropped as damaged (`corrupt`), each reported
    /// to its host as `0xc3 'E' dir8`.
    pub dropped_corrupt: u64,
    /// Packets delivered with OVRN set.
    pub overrun: u64,
}

/// One emulated PRU and its host connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruStats {
    /// Host connections accepted so far.
    pub connections: u64,
    /// A host is connected now.
    pub connected: bool,
    /// The connected host has sent its start message.
    pub started: bool,
    /// Start messages received (one per started connection).
    pub starts: u64,
    /// Messages read from the host, start messages included.
    pub from_host: u64,
    /// Messages written to the host.
    pub to_host: u64,
    /// The connection agreed to batched messages (`docs/pru-messages.md`).
    pub batched: bool,
    /// Items taken out of batched messages from the host.
    pub items_from_host: u64,
    /// Messages (items) carried to the host inside batched messages.
    pub items_to_host: u64,
    /// Batched messages from the host refused whole as malformed.
    pub bad_batches: u64,
    /// Host messages ignored: anything before the start message, empty
    /// messages after it, local and non-standard packets, messages longer
    /// than 255 bytes.
    pub ignored: u64,
    /// Routed packets bounced because the direction has no sync.
    pub bounced_no_sync: u64,
    /// Status, bounce and injected messages dropped because no host had
    /// started or the backlog was full.
    pub dropped_local: u64,
    /// Messages waiting for the host's socket to drain, now.
    pub backlog: u64,
}

/// The per-tile counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TileStats {
    /// Indexed by [`Dir::index`].
    pub links: [LinkStats; 6],
    /// Indexed by [`Pru::index`].
    pub prus: [PruStats; 2],
}

/// All counters, indexed by [`TileId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// One entry per tile, in [`TileId`] order.
    pub tiles: Vec<TileStats>,
}

impl SimStats {
    /// Counters for the packets `tile` sent toward `dir`.
    pub fn link(&self, tile: TileId, dir: Dir) -> &LinkStats {
        &self.tiles[tile.0].links[dir.index()]
    }

    /// Counters for one PRU.
    pub fn pru(&self, tile: TileId, pru: Pru) -> &PruStats {
        &self.tiles[tile.0].prus[pru.index()]
    }

    pub(crate) fn link_mut(&mut self, tile: usize, dir: Dir) -> &mut LinkStats {
        &mut self.tiles[tile].links[dir.index()]
    }

    pub(crate) fn pru_mut(&mut self, tile: usize, pru: Pru) -> &mut PruStats {
        &mut self.tiles[tile].prus[pru.index()]
    }
}
