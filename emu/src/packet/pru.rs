//! One emulated PRU as its host sees it: the listening socket, at most one
//! host connection, and the bounded backlog of messages to that host.
//!
//! Contract:
//! - A new connection replaces the old one, which is closed. EOF or an error
//!   on the connection closes it; the PRU's links are not affected.
//! - A connection is "started" by its host's empty message; nothing is
//!   written to a host before that.
//! - Messages to the host keep their order. When the host's socket would
//!   block, up to [`HOST_BACKLOG_PACKETS`] wait (WRITABLE interest is
//!   registered only while any do); beyond that the oldest is dropped.
//! - A routed packet dropped on the way to the host (no started host, full
//!   backlog, connection closed) makes the next routed packet written to the
//!   host carry OVRN. Dropped status, bounce and injected messages are only
//!   counted.
#![deny(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::mem;

use mio::{Interest, Registry, Token};
use tracing::{debug, info, warn};

use super::wire::End;
use super::HOST_BACKLOG_PACKETS;
use crate::seqpacket::{SeqConn, SeqListener};
use crate::stats::SimStats;
use itc_proto::field::OVRN;
use itc_proto::MAX_PACKET_LEN as MAX_PACKET;
use itc_proto::{Dir, Pru};

/// The token of the loop's waker; PRU sockets use the tokens after it.
pub(crate) const WAKER: Token = Token(0);

/// Which of a PRU's two sockets a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Socket {
    /// The listening socket.
    Listener,
    /// The current host connection.
    Host,
}

/// The token of PRU number `index`'s `socket`.
pub(crate) fn token(index: usize, socket: Socket) -> Token {
    match socket {
        Socket::Listener => Token(1 + 2 * index),
        Socket::Host => Token(2 + 2 * index),
    }
}

/// The PRU number and socket a token names; `None` for the waker.
pub(crate) fn socket_of(token: Token) -> Option<(usize, Socket)> {
    let n = token.0.checked_sub(1)?;
    let socket = if n % 2 == 0 {
        Socket::Listener
    } else {
        Socket::Host
    };
    Some((n / 2, socket))
}

/// A message for the host.
#[derive(Debug)]
pub(crate) struct Outgoing {
    bytes: Vec<u8>,
    /// For a routed packet from a wire: the end that sent it.
    from: Option<End>,
}

impl Outgoing {
    /// A routed packet that crossed the wire from `from`.
    pub(crate) fn routed(bytes: Vec<u8>, from: End) -> Outgoing {
        Outgoing {
            bytes,
            from: Some(from),
        }
    }

    /// Anything else: status, bounce, injected bytes.
    pub(crate) fn local(bytes: Vec<u8>) -> Outgoing {
        Outgoing { bytes, from: None }
    }
}

/// A routed packet from the host that waits for room on its wire.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) bytes: Vec<u8>,
    /// The direction it leaves in, the wire there and the side of it.
    pub(crate) dir: Dir,
    pub(crate) wire: usize,
    pub(crate) side: usize,
}

/// Why a message for the host was dropped.
#[derive(Clone, Copy, Debug)]
enum Dropped {
    NoHost,
    Backlog,
}

/// One PRU endpoint.
#[derive(Debug)]
pub(crate) struct PruEndpoint {
    index: usize,
    tile: usize,
    pru: Pru,
    name: String,
    listener: SeqListener,
    conn: Option<SeqConn>,
    started: bool,
    /// Changes whenever the connection or its start changes, to retire the
    /// monitor timers of the previous one.
    generation: u64,
    backlog: VecDeque<Outgoing>,
    /// A routed packet for the host was dropped; mark the next with OVRN.
    lost: bool,
    /// WRITABLE interest is registered on the connection.
    writable: bool,
    /// The host's packet waiting for room on its wire; the host is not
    /// read while there is one.
    held: Option<Held>,
}

impl PruEndpoint {
    /// The endpoint of `tile`'s `pru`, listening on `listener`; `name` is
    /// the tile's, for logs.
    pub(crate) fn new(tile: usize, pru: Pru, name: &str, listener: SeqListener) -> PruEndpoint {
        PruEndpoint {
            index: tile * 2 + pru.index(),
            tile,
            pru,
            name: name.to_owned(),
            listener,
            conn: None,
            started: false,
            generation: 0,
            backlog: VecDeque::new(),
            lost: false,
            writable: false,
            held: None,
        }
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
        &self.name
    }

    /// The tile this PRU belongs to.
    pub(crate) fn tile(&self) -> usize {
        self.tile
    }

    /// Which of the tile's PRUs this is.
    pub(crate) fn pru(&self) -> Pru {
        self.pru
    }

    /// True while the connected host has started.
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// The current connection generation (see [`PruEndpoint::start`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Registers the listening socket.
    pub(crate) fn register(&mut self, registry: &Registry) -> io::Result<()> {
        let t = token(self.index, Socket::Listener);
        registry.register(&mut self.listener, t, Interest::READABLE)
    }

    /// Accepts every pending connection; the last one wins.
    pub(crate) fn accept(&mut self, registry: &Registry, stats: &mut SimStats) {
        loop {
            match self.listener.accept() {
                Ok(mut conn) => {
                    if self.conn.is_some() {
                        info!(tile = %self.name, pru = self.pru.index(), "new host connection replaces the old one");
                        self.close(registry, stats);
                    }
                    let t = token(self.index, Socket::Host);
                    if let Err(e) = registry.register(&mut conn, t, Interest::READABLE) {
                        warn!(tile = %self.name, pru = self.pru.index(), "cannot register host connection: {e}");
                        continue;
                    }
                    info!(tile = %self.name, pru = self.pru.index(), "host connected");
                    self.conn = Some(conn);
                    self.generation += 1;
                    let s = stats.pru_mut(self.tile, self.pru);
                    s.connections += 1;
                    s.connected = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    warn!(tile = %self.name, pru = self.pru.index(), "accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Reads the host's next message into `buf` and returns its length
    /// (0 for an empty message; `buf.len()` if it was truncated). `None`
    /// when there is nothing more to read now or the connection closed.
    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        registry: &Registry,
        stats: &mut SimStats,
    ) -> Option<usize> {
        loop {
            let conn = self.conn.as_ref()?;
            match conn.recv(buf) {
                Ok(0) if conn.peer_closed() => {
                    info!(tile = %self.name, pru = self.pru.index(), "host closed the connection");
                    self.close(registry, stats);
                    return None;
                }
                Ok(n) => {
                    stats.pru_mut(self.tile, self.pru).from_host += 1;
                    return Some(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(tile = %self.name, pru = self.pru.index(), "reading from host failed, closing: {e}");
                    self.close(registry, stats);
                    return None;
                }
            }
        }
    }

    /// Marks the connection started and returns its new generation.
    pub(crate) fn start(&mut self, stats: &mut SimStats) -> u64 {
        self.started = true;
        self.generation += 1;
        let s = stats.pru_mut(self.tile, self.pru);
        s.started = true;
        s.starts += 1;
        self.generation
    }

    /// Closes the host connection, if any; its backlog is dropped.
    pub(crate) fn close(&mut self, registry: &Registry, stats: &mut SimStats) {
        if let Some(mut conn) = self.conn.take() {
            if let Err(e) = registry.deregister(&mut conn) {
                debug!(tile = %self.name, pru = self.pru.index(), "deregistering host connection: {e}");
            }
        }
        self.started = false;
        self.generation += 1;
        self.writable = false;
        if let Some(held) = self.held.take() {
            stats.link_mut(self.tile, held.dir).dropped_held += 1;
        }
        for out in mem::take(&mut self.backlog) {
            self.count_drop(stats, &out, Dropped::NoHost);
        }
        let s = stats.pru_mut(self.tile, self.pru);
        s.connected = false;
        s.started = false;
        s.backlog = 0;
    }

    /// Writes `out` to the host now, or queues it behind the backlog, or
    /// drops it if no host has started.
    pub(crate) fn send(&mut self, registry: &Registry, stats: &mut SimStats, out: Outgoing) {
        if !self.started {
            self.count_drop(stats, &out, Dropped::NoHost);
            return;
        }
        let out = if self.backlog.is_empty() {
            match self.write(registry, stats, out) {
                Some(out) => out,
                None => return,
            }
        } else {
            out
        };
        if self.backlog.len() >= HOST_BACKLOG_PACKETS {
            if let Some(old) = self.backlog.pop_front() {
                debug!(tile = %self.name, pru = self.pru.index(), "host backlog full, dropping the oldest message");
                self.count_drop(stats, &old, Dropped::Backlog);
            }
        }
        self.backlog.push_back(out);
        self.set_writable(registry, true);
        stats.pru_mut(self.tile, self.pru).backlog = self.backlog.len() as u64;
    }

    /// Writes as much of the backlog as the host's socket takes.
    pub(crate) fn flush(&mut self, registry: &Registry, stats: &mut SimStats) {
        while let Some(out) = self.backlog.pop_front() {
            if let Some(out) = self.write(registry, stats, out) {
                self.backlog.push_front(out);
                break;
            }
            if self.conn.is_none() {
                return;
            }
        }
        if self.backlog.is_empty() {
            self.set_writable(registry, false);
        }
        stats.pru_mut(self.tile, self.pru).backlog = self.backlog.len() as u64;
    }

    /// Tries to write one message. Returns it if the socket would block;
    /// `None` if it was written, or dropped because it cannot be (the
    /// connection is then closed unless only the message was at fault).
    fn write(
        &mut self,
        registry: &Registry,
        stats: &mut SimStats,
        out: Outgoing,
    ) -> Option<Outgoing> {
        let Some(conn) = self.conn.as_ref() else {
            self.count_drop(stats, &out, Dropped::NoHost);
            return None;
        };
        let mark = self.lost && out.from.is_some() && (1..=MAX_PACKET).contains(&out.bytes.len());
        let mut marked = [0u8; MAX_PACKET];
        let msg: &[u8] = if mark {
            let m = &mut marked[..out.bytes.len()];
            m.copy_from_slice(&out.bytes);
            m[0] |= OVRN;
            m
        } else {
            &out.bytes
        };
        let result = loop {
            match conn.send(msg) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match result {
            Ok(_) => {
                stats.pru_mut(self.tile, self.pru).to_host += 1;
                if let Some(end) = out.from {
                    let l = stats.link_mut(end.tile, end.dir);
                    l.delivered_packets += 1;
                    l.delivered_bytes += out.bytes.len() as u64;
                    if msg.first().is_some_and(|b| b & OVRN != 0) {
                        l.overrun += 1;
                    }
                    if mark {
                        self.lost = false;
                    }
                }
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(out),
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                warn!(tile = %self.name, pru = self.pru.index(), len = out.bytes.len(), "message too long for the host socket, dropped");
                self.count_drop(stats, &out, Dropped::NoHost);
                None
            }
            Err(e) => {
                warn!(tile = %self.name, pru = self.pru.index(), "writing to host failed, closing: {e}");
                self.count_drop(stats, &out, Dropped::NoHost);
                self.close(registry, stats);
                None
            }
        }
    }

    fn set_writable(&mut self, registry: &Registry, on: bool) {
        if self.writable == on {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        match registry.reregister(conn, token(self.index, Socket::Host), interest) {
            Ok(()) => self.writable = on,
            Err(e) => {
                warn!(tile = %self.name, pru = self.pru.index(), "cannot change host interest: {e}")
            }
        }
    }

    fn count_drop(&mut self, stats: &mut SimStats, out: &Outgoing, why: Dropped) {
        match out.from {
            Some(end) => {
                let l = stats.link_mut(end.tile, end.dir);
                match why {
                    Dropped::NoHost => l.dropped_no_host += 1,
                    Dropped::Backlog => l.dropped_backlog += 1,
                }
                self.lost = true;
            }
            None => stats.pru_mut(self.tile, self.pru).dropped_local += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_skip_the_waker() {
        assert_eq!(socket_of(WAKER), None);
        for index in 0..10 {
            for s in [Socket::Listener, Socket::Host] {
                let t = token(index, s);
                assert_ne!(t, WAKER);
                assert_eq!(socket_of(t), Some((index, s)));
            }
        }
    }
}
