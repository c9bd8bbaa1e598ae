//! The host side of one emulated PRU, the same for every model: the
//! listening seqpacket socket `itcd` opens as it opens an rpmsg device, at
//! most one host connection, the host's start message, and the bounded
//! backlog of messages waiting for the host's socket to drain.
//!
//! Contract:
//! - [`bind_all`] creates the socket directory if missing and binds every
//!   PRU's socket, replacing a stale socket file and refusing to remove
//!   anything else; when it fails, nothing it bound stays. The
//!   [`SocketFiles`] it returns remove the files when dropped.
//! - One host at a time: a new connection replaces (closes) the old one.
//!   End of file (told apart from an empty message by
//!   [`SeqConn::peer_closed`]) or an error closes the connection.
//! - A connection's first empty message starts it ([`Recv::Start`]).
//!   Nothing is written to a host before that: messages for it are dropped.
//! - Messages to the host keep their order. When the host's socket would
//!   block, up to [`HOST_BACKLOG_PACKETS`] wait (WRITABLE interest is
//!   registered only while any do); beyond that the oldest is dropped. A
//!   model that would rather hold messages back asks
//!   [`HostPort::has_room`] first.
//! - The model hears of every message written or dropped, and of every
//!   closed connection, through its [`Ledger`], which may also rewrite a
//!   message just before it is written.
//! - Batched messages (`docs/pru-messages.md`): when the port agrees to
//!   them (the packet model's, as [`LinkParams::pru_batch`](crate::LinkParams)
//!   says; the firmware model's ports never do, the firmware answers) and
//!   the host
//!   offers them (`0xc6 0x01`) before its start message, the start is
//!   answered with the agreement (`0xc6 0x01`) before anything else, and
//!   from then on, in both directions, each socket message carries framed
//!   items. [`HostPort::recv`] hands the model one item at a time, as if
//!   each had come alone; messages for the host wait in the backlog until
//!   [`HostPort::flush`] (each turn of the model's loop) packs as many as
//!   fit into each socket message. A port that does not agree passes the
//!   offer to the model like any other message (an old firmware ignores
//!   it), and the connection keeps one message per packet.
//!
//! What a model does with the messages (the PRU's behaviour) is not this
//! file's business; nor are wires.
#![deny(unsafe_code)]

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::mem;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use mio::{Interest, Registry, Token};
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::seqpacket::{SeqConn, SeqListener};
use crate::stats::PruStats;
use crate::wires::Wires;
use itc_proto::pru_batch::{
    self, framing_bytes, parse_framing, BatchItems, BatchWriter, FRAMING_BATCHED, MAX_RPMSG_MSG,
};
use itc_proto::Pru;

/// Messages a PRU holds for a host whose socket would block before it drops
/// the oldest.
pub const HOST_BACKLOG_PACKETS: usize = 64;

/// The token of a model loop's waker; the ports use the tokens after it.
pub(crate) const WAKER: Token = Token(0);

/// Which of a port's two sockets a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Socket {
    /// The listening socket.
    Listener,
    /// The current host connection.
    Host,
}

/// The token of port number `index`'s `socket`.
pub(crate) fn token(index: usize, socket: Socket) -> Token {
    match socket {
        Socket::Listener => Token(1 + 2 * index),
        Socket::Host => Token(2 + 2 * index),
    }
}

/// The port number and socket a token names; `None` for the waker.
pub(crate) fn socket_of(token: Token) -> Option<(usize, Socket)> {
    let n = token.0.checked_sub(1)?;
    let socket = if n % 2 == 0 {
        Socket::Listener
    } else {
        Socket::Host
    };
    Some((n / 2, socket))
}

/// A message for the host, with what the model needs to know about it
/// when it is written or dropped.
#[derive(Debug)]
pub(crate) struct Outgoing<T> {
    /// The message.
    pub(crate) bytes: Vec<u8>,
    /// The model's note.
    pub(crate) tag: T,
}

/// Why a message for the host was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// No started host: none connected, not started yet, the connection
    /// closed or failed, or its socket refused the message's size.
    NoHost,
    /// The backlog was full; this was its oldest message.
    Backlog,
}

/// A model's account of its messages to the host and its connection.
/// Every method has a default that does nothing.
pub(crate) trait Ledger<T> {
    /// `out` is about to be written (again, if the socket was full before);
    /// the model may rewrite it.
    fn prepare(&mut self, _out: &mut Outgoing<T>) {}
    /// `out` was written whole.
    fn written(&mut self, _out: &Outgoing<T>) {}
    /// `out` was dropped, for `why`.
    fn dropped(&mut self, _out: Outgoing<T>, _why: Dropped) {}
    /// The host connection closed (its backlog is reported dropped first).
    fn closed(&mut self) {}
}

/// What [`HostPort::recv`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recv {
    /// An empty message; `first` if it started the connection.
    Start { first: bool },
    /// A message of this many bytes in the buffer; as long as the buffer
    /// if it was cut.
    Message(usize),
    /// Nothing more to read now, or no host.
    Idle,
    /// The host went away; the connection is closed.
    Closed,
}

/// One PRU's host side. `T` is the model's note on each outgoing message.
#[derive(Debug)]
pub(crate) struct HostPort<T> {
    index: usize,
    /// The tile's name, for logs.
    name: String,
    pru: Pru,
    listener: SeqListener,
    conn: Option<SeqConn>,
    started: bool,
    /// Changes whenever the connection or its start changes.
    generation: u64,
    backlog: VecDeque<Outgoing<T>>,
    /// WRITABLE interest is registered on the connection.
    writable: bool,
    connections: u64,
    starts: u64,
    from_host: u64,
    to_host: u64,
    /// Agree to batched messages when the host offers them.
    agree_batch: bool,
    /// The connected host offered batched messages (before its start).
    offered: bool,
    /// The connection carries batched messages.
    batched: bool,
    /// The host's last batched message and where its next item starts.
    rx: Box<[u8; MAX_RPMSG_MSG + 1]>,
    rx_len: usize,
    rx_at: usize,
    /// A batched message being filled for the host.
    tx: BatchWriter,
    items_from_host: u64,
    items_to_host: u64,
    bad_batches: u64,
}

impl<T> HostPort<T> {
    fn new(
        index: usize,
        name: &str,
        pru: Pru,
        listener: SeqListener,
        agree_batch: bool,
    ) -> HostPort<T> {
        HostPort {
            index,
            name: name.to_owned(),
            pru,
            listener,
            conn: None,
            started: false,
            generation: 0,
            backlog: VecDeque::new(),
            writable: false,
            connections: 0,
            starts: 0,
            from_host: 0,
            to_host: 0,
            agree_batch,
            offered: false,
            batched: false,
            rx: Box::new([0; MAX_RPMSG_MSG + 1]),
            rx_len: 0,
            rx_at: 0,
            tx: BatchWriter::new(),
            items_from_host: 0,
            items_to_host: 0,
            bad_batches: 0,
        }
    }

    /// True while the connection carries batched messages.
    pub(crate) fn batched(&self) -> bool {
        self.batched
    }

    /// The tile's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The tile's number (its [`TileId`](crate::TileId)).
    pub(crate) fn tile(&self) -> usize {
        self.index / 2
    }

    /// Which of the tile's PRUs this is.
    pub(crate) fn pru(&self) -> Pru {
        self.pru
    }

    /// True while the connected host has started.
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// A number that changes whenever the connection or its start does.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// True while the backlog can take a message without dropping one.
    pub(crate) fn has_room(&self) -> bool {
        self.backlog.len() < HOST_BACKLOG_PACKETS
    }

    /// Writes the connection's counters into `s`.
    pub(crate) fn publish(&self, s: &mut PruStats) {
        s.connections = self.connections;
        s.connected = self.conn.is_some();
        s.started = self.started;
        s.starts = self.starts;
        s.from_host = self.from_host;
        s.to_host = self.to_host;
        s.batched = self.batched;
        s.items_from_host = self.items_from_host;
        s.items_to_host = self.items_to_host;
        s.bad_batches = self.bad_batches;
        s.backlog = self.backlog.len() as u64;
    }

    /// Registers the listening socket.
    pub(crate) fn register(&mut self, registry: &Registry) -> io::Result<()> {
        let t = token(self.index, Socket::Listener);
        registry.register(&mut self.listener, t, Interest::READABLE)
    }

    /// Accepts every pending connection; the last one wins.
    pub(crate) fn accept(&mut self, registry: &Registry, ledger: &mut impl Ledger<T>) {
        loop {
            match self.listener.accept() {
                Ok(mut conn) => {
                    if self.conn.is_some() {
                        info!(tile = %self.name, pru = self.pru.index(), "new host connection replaces the old one");
                        self.close(registry, ledger);
                    }
                    let t = token(self.index, Socket::Host);
                    if let Err(e) = registry.register(&mut conn, t, Interest::READABLE) {
                        warn!(tile = %self.name, pru = self.pru.index(), "cannot register host connection: {e}");
                        continue;
                    }
                    info!(tile = %self.name, pru = self.pru.index(), "host connected");
                    self.conn = Some(conn);
                    self.generation += 1;
                    self.connections += 1;
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

    /// The next item of the host's last batched message, copied into
    /// `buf` (cut to its length), if any is left.
    fn next_item(&mut self, buf: &mut [u8]) -> Option<Recv> {
        let rest = &self.rx[self.rx_at..self.rx_len];
        let (&len, tail) = rest.split_first()?;
        // The message was validated whole when it was read.
        let item = &tail[..usize::from(len).min(tail.len())];
        let n = item.len().min(buf.len());
        buf[..n].copy_from_slice(&item[..n]);
        self.rx_at += 1 + item.len();
        self.items_from_host += 1;
        Some(Recv::Message(n))
    }

    /// Reads the host's next message into `buf` (cut to its length); on a
    /// batched connection, the next item.
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        registry: &Registry,
        ledger: &mut impl Ledger<T>,
    ) -> Recv {
        loop {
            if let Some(item) = self.next_item(buf) {
                return item;
            }
            let Some(conn) = self.conn.as_ref() else {
                return Recv::Idle;
            };
            match conn.recv(&mut self.rx[..]) {
                Ok(0) if conn.peer_closed() => {
                    info!(tile = %self.name, pru = self.pru.index(), "host closed the connection");
                    self.close(registry, ledger);
                    return Recv::Closed;
                }
                Ok(0) => {
                    self.from_host += 1;
                    let first = !self.started;
                    if first {
                        self.started = true;
                        self.generation += 1;
                        self.starts += 1;
                        if self.offered {
                            self.agree(registry, ledger);
                        }
                    }
                    return Recv::Start { first };
                }
                Ok(n) => {
                    self.from_host += 1;
                    let msg = &self.rx[..n.min(self.rx.len())];
                    if self.agree_batch && !self.started {
                        if let Some(flags) = parse_framing(msg) {
                            self.offered = flags & FRAMING_BATCHED != 0;
                            continue;
                        }
                    }
                    if !self.batched {
                        let n = n.min(self.rx.len()).min(buf.len());
                        buf[..n].copy_from_slice(&self.rx[..n]);
                        return Recv::Message(n);
                    }
                    match BatchItems::parse(&self.rx[..n.min(self.rx.len())], false) {
                        Ok(_) => {
                            self.rx_len = n;
                            self.rx_at = 0;
                        }
                        Err(e) => {
                            self.bad_batches += 1;
                            debug!(tile = %self.name, pru = self.pru.index(), "malformed batched message from host: {e}");
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Recv::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(tile = %self.name, pru = self.pru.index(), "reading from host failed, closing: {e}");
                    self.close(registry, ledger);
                    return Recv::Closed;
                }
            }
        }
    }

    /// Answers the host's offer: the agreement goes out first, alone.
    fn agree(&mut self, registry: &Registry, ledger: &mut impl Ledger<T>) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let result = loop {
            match conn.send(&framing_bytes(FRAMING_BATCHED)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match result {
            Ok(_) => {
                self.to_host += 1;
                self.batched = true;
                info!(tile = %self.name, pru = self.pru.index(), "batched messages agreed");
            }
            Err(e) => {
                // A fresh connection's socket is empty: this cannot block.
                warn!(tile = %self.name, pru = self.pru.index(), "cannot answer the framing offer, closing: {e}");
                self.close(registry, ledger);
            }
        }
    }

    /// Closes the host connection, if any; its backlog is dropped.
    pub(crate) fn close(&mut self, registry: &Registry, ledger: &mut impl Ledger<T>) {
        if let Some(mut conn) = self.conn.take() {
            if let Err(e) = registry.deregister(&mut conn) {
                debug!(tile = %self.name, pru = self.pru.index(), "deregistering host connection: {e}");
            }
        }
        self.started = false;
        self.offered = false;
        self.batched = false;
        self.rx_len = 0;
        self.rx_at = 0;
        self.generation += 1;
        self.writable = false;
        for out in mem::take(&mut self.backlog) {
            ledger.dropped(out, Dropped::NoHost);
        }
        ledger.closed();
    }

    /// Writes `out` to the host now, or queues it behind the backlog
    /// (dropping the oldest if full), or drops it if no host has started.
    pub(crate) fn send(
        &mut self,
        registry: &Registry,
        out: Outgoing<T>,
        ledger: &mut impl Ledger<T>,
    ) {
        if !self.started {
            ledger.dropped(out, Dropped::NoHost);
            return;
        }
        // Batched: everything waits for the turn's flush, which packs it.
        let out = if self.backlog.is_empty() && !self.batched {
            match self.write(registry, out, ledger) {
                Some(out) => out,
                None => return,
            }
        } else {
            out
        };
        if !self.has_room() {
            if let Some(old) = self.backlog.pop_front() {
                debug!(tile = %self.name, pru = self.pru.index(), "host backlog full, dropping the oldest message");
                ledger.dropped(old, Dropped::Backlog);
            }
        }
        self.backlog.push_back(out);
        if self.batched {
            // Packed at the turn's flush, or now once half the backlog
            // waits: a busy turn must not overflow it.
            if self.backlog.len() >= HOST_BACKLOG_PACKETS / 2 {
                self.flush(registry, ledger);
            }
        } else {
            self.set_writable(registry, true);
        }
    }

    /// Writes as much of the backlog as the host's socket takes.
    pub(crate) fn flush(&mut self, registry: &Registry, ledger: &mut impl Ledger<T>) {
        if self.batched {
            while !self.backlog.is_empty() && self.conn.is_some() {
                if !self.write_batch(registry, ledger) {
                    break;
                }
            }
            let idle = self.backlog.is_empty();
            self.set_writable(registry, !idle);
            return;
        }
        while let Some(out) = self.backlog.pop_front() {
            if let Some(out) = self.write(registry, out, ledger) {
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
    }

    /// Tries to write one message. Returns it if the socket would block;
    /// `None` if it was written, or dropped because it cannot be (the
    /// connection is then closed unless only the message was at fault).
    fn write(
        &mut self,
        registry: &Registry,
        mut out: Outgoing<T>,
        ledger: &mut impl Ledger<T>,
    ) -> Option<Outgoing<T>> {
        let Some(conn) = self.conn.as_ref() else {
            ledger.dropped(out, Dropped::NoHost);
            return None;
        };
        ledger.prepare(&mut out);
        let result = loop {
            match conn.send(&out.bytes) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match result {
            Ok(_) => {
                self.to_host += 1;
                ledger.written(&out);
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(out),
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                warn!(tile = %self.name, pru = self.pru.index(), len = out.bytes.len(), "message too long for the host socket, dropped");
                ledger.dropped(out, Dropped::NoHost);
                None
            }
            Err(e) => {
                warn!(tile = %self.name, pru = self.pru.index(), "writing to host failed, closing: {e}");
                ledger.dropped(out, Dropped::NoHost);
                self.close(registry, ledger);
                None
            }
        }
    }

    /// Packs the oldest messages of the backlog into one batched message
    /// and writes it. False if the socket would block (they stay) or the
    /// connection closed.
    fn write_batch(&mut self, registry: &Registry, ledger: &mut impl Ledger<T>) -> bool {
        let Some(conn) = self.conn.as_ref() else {
            return false;
        };
        self.tx.clear();
        let mut lone = None;
        let mut taken = 0;
        for out in self.backlog.iter_mut() {
            ledger.prepare(out);
            if self.tx.push(&out.bytes) {
                taken += 1;
            } else {
                if taken == 0 {
                    // Too long for an item (a bounce of a 254- or 255-byte
                    // packet): it goes alone.
                    lone = pru_batch::lone_bytes(&out.bytes);
                    taken = 1;
                }
                break;
            }
        }
        let bytes = lone.as_deref().unwrap_or(self.tx.as_bytes());
        if bytes.is_empty() {
            // Not even a lone message can carry it (empty or too long).
            if let Some(out) = self.backlog.pop_front() {
                warn!(tile = %self.name, pru = self.pru.index(), len = out.bytes.len(), "message cannot be batched, dropped");
                ledger.dropped(out, Dropped::NoHost);
            }
            return true;
        }
        let result = loop {
            match conn.send(bytes) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match result {
            Ok(_) => {
                self.to_host += 1;
                for out in self.backlog.drain(..taken) {
                    self.items_to_host += 1;
                    ledger.written(&out);
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => {
                warn!(tile = %self.name, pru = self.pru.index(), "writing to host failed, closing: {e}");
                self.close(registry, ledger);
                false
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
}

/// Binds every PRU socket of `wires` (which passed [`Wires::check`]),
/// creating the socket directory if missing; `agree_batch`: the ports
/// answer batching offers themselves (a model whose PRUs frame their own
/// messages passes false). Port `2 * tile + pru` is
/// `tile`'s `pru` (each port's [`HostPort::tile`] and [`HostPort::pru`]);
/// none is registered yet.
pub(crate) fn bind_all<T>(
    wires: &Wires,
    agree_batch: bool,
) -> Result<(Vec<HostPort<T>>, SocketFiles), Error> {
    let dir = wires.socket_dir();
    fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = SocketFiles(Vec::new());
    let mut ports = Vec::with_capacity(wires.names().len() * 2);
    for (name, paths) in wires.names().iter().zip(wires.sockets()) {
        for (pru, path) in Pru::ALL.into_iter().zip(paths) {
            remove_stale(&path)?;
            let listener = SeqListener::bind(&path).map_err(|source| Error::Bind {
                path: path.clone(),
                source,
            })?;
            files.0.push(path);
            ports.push(HostPort::new(ports.len(), name, pru, listener, agree_batch));
        }
    }
    Ok((ports, files))
}

/// Removes a socket file left by an earlier run; refuses to remove anything
/// else.
fn remove_stale(path: &Path) -> Result<(), Error> {
    let stale = |source| Error::RemoveStale {
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => fs::remove_file(path).map_err(stale),
        Ok(_) => Err(Error::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(stale(e)),
    }
}

/// The socket files a model bound; removed when dropped (after the
/// model's loop has closed the sockets, if the owner drops it last).
#[derive(Debug)]
pub(crate) struct SocketFiles(Vec<PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => warn!("cannot remove socket {}: {e}", path.display()),
            }
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
