//! One PRU of the packet model: its host port ([`HostPort`]), the host's
//! packet waiting for room on its wire, and the OVRN owed to the host for
//! a routed packet lost on the way to it.
//!
//! Contract, beyond the port's:
//! - A routed packet dropped on the way to the host (no started host, full
//!   backlog, connection closed) makes the next routed packet written to
//!   the host carry OVRN. Dropped status, bounce and injected messages are
//!   only counted.
//! - While a packet is held the host is not read. When the connection
//!   closes, the held packet is dropped and counted.
#![deny(unsafe_code)]

use std::io;

use mio::Registry;

use crate::host_port::{Dropped, HostPort, Ledger, Outgoing, Recv};
use crate::stats::SimStats;
use itc_proto::field::OVRN;
use itc_proto::{Dir, Pru, MAX_PACKET_LEN as MAX_PACKET};

use super::wire::End;

/// The note on a message for the host: for a routed packet from a wire,
/// the end that sent it; `None` for status, bounce and injected bytes.
pub(crate) type Origin = Option<End>;

/// A routed packet from the host that waits for room on its wire.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) bytes: Vec<u8>,
    /// The direction it leaves in, the wire there and the side of it.
    pub(crate) dir: Dir,
    pub(crate) wire: usize,
    pub(crate) side: usize,
}

/// One PRU of the packet model.
#[derive(Debug)]
pub(crate) struct PacketPru {
    port: HostPort<Origin>,
    tile: usize,
    pru: Pru,
    /// A routed packet for the host was dropped; mark the next with OVRN.
    lost: bool,
    /// The host's packet waiting for room on its wire; the host is not
    /// read while there is one.
    held: Option<Held>,
}

/// The counting a port does for a [`PacketPru`].
struct Account<'a> {
    stats: &'a mut SimStats,
    tile: usize,
    pru: Pru,
    lost: &'a mut bool,
    held: &'a mut Option<Held>,
}

impl Account<'_> {
    /// True if `out` is a routed packet that must carry OVRN now.
    fn owes_overrun(&self, out: &Outgoing<Origin>) -> bool {
        *self.lost && out.tag.is_some() && (1..=MAX_PACKET).contains(&out.bytes.len())
    }
}

impl Ledger<Origin> for Account<'_> {
    fn prepare(&mut self, out: &mut Outgoing<Origin>) {
        // The mark goes with this packet from now on: if it is dropped in
        // turn, `dropped` owes it to the next one again. So the packets
        // prepared together for one batched message carry it once.
        if self.owes_overrun(out) {
            out.bytes[0] |= OVRN;
            *self.lost = false;
        }
    }

    fn written(&mut self, out: &Outgoing<Origin>) {
        let Some(end) = out.tag else {
            return;
        };
        let l = self.stats.link_mut(end.tile, end.dir);
        l.delivered_packets += 1;
        l.delivered_bytes += out.bytes.len() as u64;
        if out.bytes.first().is_some_and(|b| b & OVRN != 0) {
            l.overrun += 1;
        }
    }

    fn dropped(&mut self, out: Outgoing<Origin>, why: Dropped) {
        match out.tag {
            Some(end) => {
                let l = self.stats.link_mut(end.tile, end.dir);
                match why {
                    Dropped::NoHost => l.dropped_no_host += 1,
                    Dropped::Backlog => l.dropped_backlog += 1,
                }
                *self.lost = true;
            }
            None => self.stats.pru_mut(self.tile, self.pru).dropped_local += 1,
        }
    }

    fn closed(&mut self) {
        if let Some(held) = self.held.take() {
            self.stats.link_mut(self.tile, held.dir).dropped_held += 1;
        }
    }
}

impl PacketPru {
    /// The PRU behind `port`.
    pub(crate) fn new(port: HostPort<Origin>) -> PacketPru {
        PacketPru {
            tile: port.tile(),
            pru: port.pru(),
            port,
            lost: false,
            held: None,
        }
    }

    /// The port and the account of its messages in `stats`.
    fn parts<'a>(&'a mut self, stats: &'a mut SimStats) -> (&'a mut HostPort<Origin>, Account<'a>) {
        let account = Account {
            stats,
            tile: self.tile,
            pru: self.pru,
            lost: &mut self.lost,
            held: &mut self.held,
        };
        (&mut self.port, account)
    }

    /// True while a packet from the host waits for room on its wire.
    pub(crate) fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Keeps a packet that found its wire full; stop reading the host.
    pub(crate) fn hold(&mut self, held: Held) {
        self.held = Some(held);
    }

    /// The held packet, if it waits for the lane of `wire` leaving `side`.
    pub(crate) fn take_held_for(&mut self, wire: usize, side: usize) -> Option<Held> {
        if self
            .held
            .as_ref()
            .is_some_and(|h| h.wire == wire && h.side == side)
        {
            self.held.take()
        } else {
            None
        }
    }

    /// The tile's name.
    pub(crate) fn name(&self) -> &str {
        self.port.name()
    }

    /// The tile this PRU belongs to.
    pub(crate) fn tile(&self) -> usize {
        self.tile
    }

    /// Which of the tile's PRUs this is.
    pub(crate) fn pru(&self) -> Pru {
        self.pru
    }

    /// True while the connection carries batched messages.
    pub(crate) fn batched(&self) -> bool {
        self.port.batched()
    }

    /// True while the connected host has started.
    pub(crate) fn started(&self) -> bool {
        self.port.started()
    }

    /// The port's generation: changes with every connection and start.
    pub(crate) fn generation(&self) -> u64 {
        self.port.generation()
    }

    /// Registers the listening socket.
    pub(crate) fn register(&mut self, registry: &Registry) -> io::Result<()> {
        self.port.register(registry)
    }

    /// Accepts every pending connection; the last one wins.
    pub(crate) fn accept(&mut self, registry: &Registry, stats: &mut SimStats) {
        let (port, mut account) = self.parts(stats);
        port.accept(registry, &mut account);
    }

    /// Reads the host's next message into `buf`.
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        registry: &Registry,
        stats: &mut SimStats,
    ) -> Recv {
        let (port, mut account) = self.parts(stats);
        port.recv(buf, registry, &mut account)
    }

    /// Writes `bytes` to the host, or queues or drops them; `from` is the
    /// sending end of a routed packet from a wire.
    pub(crate) fn send(
        &mut self,
        registry: &Registry,
        stats: &mut SimStats,
        bytes: Vec<u8>,
        from: Origin,
    ) {
        let (port, mut account) = self.parts(stats);
        port.send(registry, Outgoing { bytes, tag: from }, &mut account);
    }

    /// Writes as much of the backlog as the host's socket takes.
    pub(crate) fn flush(&mut self, registry: &Registry, stats: &mut SimStats) {
        let (port, mut account) = self.parts(stats);
        port.flush(registry, &mut account);
    }

    /// Writes the connection's counters into `stats`.
    pub(crate) fn publish(&self, stats: &mut SimStats) {
        self.port.publish(stats.pru_mut(self.tile, self.pru));
    }
}
