//! A running service: its packet file, neighbours, outbound queues,
//! timers, requests and counters, and the event loop that drives a
//! [`Handler`] with them.
//!
//! Contract:
//! - [`Service::open`] opens `MOUNT/itc/svc/NN` (nonblocking) and fails
//!   with an [`Error`] naming the file, unless the tree is merely absent
//!   and [`Config::wait_for_tree`] is set.
//! - Either [`Service::run`] runs a mio loop of its own until
//!   [`Service::stop`], or the caller registers the service in its own
//!   `Poll` ([`Service::register`]), polls with [`Service::timeout`] and
//!   passes every wakeup to [`Service::handle`]. Nothing busy-polls: the
//!   loop sleeps until the file is ready or the next timer is due.
//! - [`Service::send`] queues a packet to one neighbour and writes it at
//!   once if it can; it fails, queueing nothing, when the payload is too
//!   long, no neighbour is present there, the tree is gone, or that
//!   direction's queue is full (the caller throttles until
//!   [`Handler::on_room`]). A write the tree answers with `EAGAIN` stays
//!   queued until the file is writable; `EHOSTUNREACH` drops the packet
//!   and counts it; a Disconnect drops the direction's queue and counts it.
//! - [`Service::request`] sends a request that is retried with exponential
//!   back-off until the caller calls [`Service::complete`], at most one per
//!   key; a try's clock starts only once its packet left the service's
//!   queue. The handler learns of a request's end without reply through
//!   [`Handler::on_request_failed`].
//! - When the tree goes away (`ENOTCONN`, `ECONNABORTED`, end of file),
//!   every present neighbour gets its Disconnect, the file is closed and
//!   reopened on a timer that backs off from [`Config::reopen_min`] to
//!   [`Config::reopen_max`]; the tree's Connects follow once it is back.

use std::path::Path;
use std::time::{Duration, Instant};

use itc_proto::service::FILE_SERVICES;
use itc_proto::Dir;
use mio::{Events, Poll, Registry, Token};
use nix::errno::Errno;

use crate::config::Config;
use crate::connection::{is_absent, Backoff, Connection, Loss, ReadResult, WriteResult};
use crate::error::Error;
use crate::handler::Handler;
use crate::inbound::{classify, emit, Inbound};
use crate::neighbours::Neighbours;
use crate::outq::OutQueues;
use crate::requests::{Failure, Key, OnTimeout, Requests, RetryPolicy};
use crate::stats::Stats;
use crate::timers::Timers;
use crate::MAX_PAYLOAD;

/// The token [`Service::run`] registers the file under in its own loop.
const RUN_TOKEN: Token = Token(0);

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TimerKey<K> {
    /// The caller's [`Service::set_timer`].
    User(u64),
    /// A request's try ran out of time.
    Request(K),
    /// Time to try opening the lost tree again.
    Reopen,
}

/// A service on the tree; see the module documentation. `K` keys its
/// requests.
#[derive(Debug)]
pub struct Service<K: Key = ()> {
    config: Config,
    conn: Connection,
    neighbours: Neighbours,
    outq: OutQueues,
    timers: Timers<TimerKey<K>>,
    requests: Requests<K>,
    stats: Stats,
    /// The tag of the next request packet queued.
    next_tag: u64,
    /// Whether the file was ever open (then opening again is a reconnect).
    opened: bool,
    stopped: bool,
    /// Kept for reads: many items at a time.
    read_buf: Vec<u8>,
    /// Kept for writes: the items of one write.
    write_buf: Vec<u8>,
}

/// Bytes one read may return: many items at a time.
const READ_BYTES: usize = 64 * 1024;
/// Bytes one write takes at most: a write of up to 4096 bytes from one
/// buffer reaches `itcd` whole, in one request.
const WRITE_BYTES: usize = 4096;

impl<K: Key> Service<K> {
    /// Opens the packet file of `config.service` in `config.mount`.
    pub fn open(config: Config) -> Result<Service<K>, Error> {
        if !FILE_SERVICES.contains(&config.service) {
            return Err(Error::BadService(config.service));
        }
        let backoff = Backoff::new(config.reopen_min, config.reopen_max);
        let mut svc = Service {
            conn: Connection::new(config.path(), backoff),
            outq: OutQueues::new(config.queue_limit),
            config,
            neighbours: Neighbours::new(),
            timers: Timers::new(),
            requests: Requests::new(),
            stats: Stats::default(),
            next_tag: 1,
            opened: false,
            stopped: false,
            read_buf: Vec::new(),
            write_buf: Vec::new(),
        };
        match svc.conn.open() {
            Ok(()) => {
                svc.opened = true;
                tracing::info!("{}: open", svc.path().display());
            }
            Err(e) if svc.config.wait_for_tree && e.errno().is_some_and(is_absent) => {
                tracing::warn!("{e}; waiting for the tree");
                let delay = svc.conn.backoff.next_delay();
                svc.timers.set(TimerKey::Reopen, Instant::now() + delay);
            }
            Err(e) => return Err(e),
        }
        Ok(svc)
    }

    /// The packet file.
    pub fn path(&self) -> &Path {
        self.conn.path()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- event loop ------------------------------------------------------

    /// Watches the packet file in `registry` under `token` (also after
    /// every reopen). Then poll with [`Service::timeout`] and pass every
    /// wakeup to [`Service::handle`]:
    ///
    /// ```no_run
    /// # use itc_service::{Config, Dir, Handler, Service};
    /// # struct Quiet;
    /// # impl Handler for Quiet {
    /// #     fn on_packet(&mut self, _: &mut Service, _: Dir, _: &[u8]) {}
    /// # }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mio::{Events, Poll, Token};
    ///
    /// const SERVICE: Token = Token(0);
    /// let mut poll = Poll::new()?;
    /// let mut svc = Service::open(Config::new(20))?;
    /// svc.register(poll.registry(), SERVICE)?;
    /// // ... register the program's own sources under other tokens ...
    /// let mut events = Events::with_capacity(16);
    /// loop {
    ///     poll.poll(&mut events, svc.timeout())?;
    ///     svc.handle(&events, &mut Quiet)?;
    ///     // ... then the program's own events ...
    /// }
    /// # }
    /// ```
    pub fn register(&mut self, registry: &Registry, token: Token) -> Result<(), Error> {
        self.conn.attach(registry, token)
    }

    /// Stops watching the packet file.
    pub fn deregister(&mut self) {
        self.conn.detach();
    }

    /// How long the caller's poll may sleep: until the next timer, or not
    /// at all when work is pending; `None` for no limit.
    pub fn timeout(&mut self) -> Option<Duration> {
        if self.conn.is_lost() {
            return Some(Duration::ZERO);
        }
        let at = self.timers.next_deadline()?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// Handles one wakeup of the caller's poll: reads the file and writes
    /// what waited for room if `events` has its token, then runs the timers
    /// that are due. Fails only on errors a restart of `itcd` does not
    /// explain.
    pub fn handle<H: Handler<K>>(&mut self, events: &Events, handler: &mut H) -> Result<(), Error> {
        let token = self.conn.token();
        let mut ready = false;
        let mut writable = false;
        for e in events.iter().filter(|e| Some(e.token()) == token) {
            ready = true;
            // An error is reported as both: the next read or write says
            // what it is.
            writable |= e.is_writable() || e.is_error() || e.is_write_closed();
        }
        if ready {
            self.on_ready(writable, handler)?;
        }
        self.on_tick(handler)
    }

    /// Runs the service in an event loop of its own until a callback
    /// calls [`Service::stop`] or an error a restart of `itcd` does not
    /// explain.
    pub fn run<H: Handler<K>>(&mut self, handler: &mut H) -> Result<(), Error> {
        self.stopped = false;
        let mut poll = Poll::new().map_err(Error::Poll)?;
        self.register(poll.registry(), RUN_TOKEN)?;
        let mut events = Events::with_capacity(8);
        let result = loop {
            let timeout = self.timeout();
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(Error::Poll(e)),
            }
            if let Err(e) = self.handle(&events, handler) {
                break Err(e);
            }
            if self.stopped {
                break Ok(());
            }
        };
        self.stopped = false;
        self.deregister();
        result
    }

    /// Ends [`Service::run`] once the work of the current wakeup is done
    /// (callbacks for what was already read still come). Outside `run`
    /// it does nothing.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Reads until the file has nothing more (or is lost), handing each
    /// item to [`Service::inbound`].
    fn read_all<H: Handler<K>>(&mut self, buf: &mut [u8], handler: &mut H) -> Result<(), Error> {
        loop {
            match self.conn.read(buf) {
                ReadResult::Items(n) => {
                    for item in itc_proto::batch::Items::new(&buf[..n]) {
                        match item {
                            Ok(bytes) => self.inbound(bytes, handler),
                            // itcd frames what it reads out; a bad frame
                            // would be its bug. The rest of the read cannot
                            // be split, and counts as one malformed packet.
                            Err(e) => {
                                self.stats.drop_malformed += 1;
                                tracing::warn!("{}: a read held {e}", self.path().display());
                                break;
                            }
                        }
                        if self.conn.is_lost() {
                            return Ok(());
                        }
                    }
                }
                ReadResult::WouldBlock => return Ok(()),
                ReadResult::Lost(loss) => {
                    self.conn.mark_lost(loss);
                    return Ok(());
                }
                ReadResult::Failed(errno) => {
                    return Err(Error::Read {
                        path: self.path().to_path_buf(),
                        errno,
                    })
                }
            }
        }
    }

    /// Reads everything queued for the file (the file is watched
    /// edge-triggered), then, if it became `writable`, writes what waited
    /// for room.
    fn on_ready<H: Handler<K>>(&mut self, writable: bool, handler: &mut H) -> Result<(), Error> {
        let mut buf = std::mem::take(&mut self.read_buf);
        buf.resize(READ_BYTES, 0);
        let read = self.read_all(&mut buf, handler);
        self.read_buf = buf;
        read?;
        if writable {
            self.outq.unblock_all();
            for dir in Dir::ALL {
                self.flush(dir);
            }
        }
        for dir in Dir::ALL {
            if self.outq.take_room(dir) {
                handler.on_room(self, dir);
            }
        }
        Ok(())
    }

    /// Handles a lost tree and the timers that are due.
    fn on_tick<H: Handler<K>>(&mut self, handler: &mut H) -> Result<(), Error> {
        self.handle_loss(handler);
        let now = Instant::now();
        while let Some(key) = self.timers.pop_due(now) {
            match key {
                TimerKey::User(token) => handler.on_timer(self, token),
                TimerKey::Request(key) => self.request_timeout(key, handler),
                TimerKey::Reopen => self.reopen()?,
            }
            self.handle_loss(handler);
        }
        Ok(())
    }

    fn inbound<H: Handler<K>>(&mut self, bytes: &[u8], handler: &mut H) {
        match classify(bytes, self.config.service) {
            Inbound::Connect(dir) => {
                if self.neighbours.connect(dir) {
                    self.stats.connects += 1;
                    tracing::debug!("{}: {dir} connected", self.path().display());
                    handler.on_connect(self, dir);
                }
            }
            Inbound::Disconnect(dir) => self.neighbour_gone(dir, handler),
            Inbound::EventsLost => {
                self.stats.events_lost += 1;
                tracing::warn!(
                    "{}: events were lost; reopening to learn the neighbours again",
                    self.path().display()
                );
                self.conn.mark_lost(Loss::Resync);
            }
            Inbound::PacketsLost { dir, count } => {
                self.stats.packets_lost += u64::from(count);
                tracing::debug!(
                    "{}: itcd dropped {count} packets from {dir}: its queue was full",
                    self.path().display()
                );
            }
            Inbound::Packet { dir, payload } => {
                self.stats.count_rx(bytes.len());
                tracing::trace!(
                    "{}: {} bytes from {dir}",
                    self.path().display(),
                    bytes.len()
                );
                handler.on_packet(self, dir, payload);
            }
            Inbound::Malformed => {
                self.stats.drop_malformed += 1;
                tracing::debug!("{}: dropped {bytes:02x?}", self.path().display());
            }
        }
    }

    /// `dir`'s neighbour went away: drop its queue, end its requests, tell
    /// the handler.
    fn neighbour_gone<H: Handler<K>>(&mut self, dir: Dir, handler: &mut H) {
        if !self.neighbours.disconnect(dir) {
            return;
        }
        self.stats.disconnects += 1;
        let dropped = self.outq.clear(dir);
        self.stats.drop_disconnected += dropped as u64;
        let failed = self.requests.take_dir(dir);
        for key in &failed {
            self.timers.cancel(&TimerKey::Request(key.clone()));
        }
        self.stats.failed += failed.len() as u64;
        tracing::debug!(
            "{}: {dir} disconnected; {dropped} queued packets dropped, {} requests failed",
            self.path().display(),
            failed.len()
        );
        handler.on_disconnect(self, dir);
        for key in failed {
            handler.on_request_failed(self, key, Failure::Disconnected(dir));
        }
    }

    /// If the tree went away: every neighbour goes, the file closes, and a
    /// reopen is timed.
    fn handle_loss<H: Handler<K>>(&mut self, handler: &mut H) {
        let Some(loss) = self.conn.take_lost() else {
            return;
        };
        let delay = match loss {
            Loss::Resync => Duration::ZERO,
            Loss::Errno(_) | Loss::EndOfFile => {
                self.stats.tree_lost += 1;
                let why = match loss {
                    Loss::Errno(errno) => crate::error::meaning(errno, self.path()),
                    _ => "end of file".to_string(),
                };
                tracing::warn!("{}: {why}; reopening", self.path().display());
                self.conn.backoff.reset();
                self.conn.backoff.next_delay()
            }
        };
        let present: Vec<Dir> = self.neighbours.iter().collect();
        for dir in present {
            self.neighbour_gone(dir, handler);
        }
        self.timers.set(TimerKey::Reopen, Instant::now() + delay);
    }

    /// Tries to open the file again; on an absent tree, times the next try.
    fn reopen(&mut self) -> Result<(), Error> {
        self.stats.reopen_attempts += 1;
        match self.conn.open() {
            Ok(()) => {
                if self.opened {
                    self.stats.reconnects += 1;
                }
                self.opened = true;
                self.conn.backoff.reset();
                tracing::info!("{}: open", self.path().display());
                Ok(())
            }
            // Busy: the old file's release may still be on its way, or
            // another process holds it for now.
            Err(e) if e.errno().is_some_and(|n| is_absent(n) || n == Errno::EBUSY) => {
                let delay = self.conn.backoff.next_delay();
                tracing::debug!("{e}; trying again in {delay:?}");
                self.timers.set(TimerKey::Reopen, Instant::now() + delay);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    // ---- neighbours and sending ----------------------------------------

    /// The directions with a present neighbour.
    pub fn neighbours(&self) -> impl Iterator<Item = Dir> + '_ {
        self.neighbours.iter()
    }

    /// Whether a neighbour is present at `dir`.
    pub fn is_present(&self, dir: Dir) -> bool {
        self.neighbours.contains(dir)
    }

    /// Whether the packet file is open (the tree is served).
    pub fn is_online(&self) -> bool {
        self.conn.is_online()
    }

    /// Sends `payload` (at most [`MAX_PAYLOAD`] bytes) to the neighbour at
    /// `dir`; see the module documentation for what can fail.
    pub fn send(&mut self, dir: Dir, payload: &[u8]) -> Result<(), Error> {
        self.enqueue(dir, payload, 0)
    }

    /// Packets queued to `dir`, not yet taken by the tree.
    pub fn queued(&self, dir: Dir) -> usize {
        self.outq.len(dir)
    }

    /// Whether the tree pushed back on `dir` (its queue there was full)
    /// and the service waits for the file to become writable.
    pub fn is_blocked(&self, dir: Dir) -> bool {
        self.outq.is_blocked(dir)
    }

    /// The bound of each direction's queue, in packets.
    pub fn queue_limit(&self) -> usize {
        self.outq.limit()
    }

    fn enqueue(&mut self, dir: Dir, payload: &[u8], tag: u64) -> Result<(), Error> {
        let path = || self.conn.path().to_path_buf();
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::TooLong {
                path: path(),
                len: payload.len(),
            });
        }
        if !self.conn.is_online() {
            return Err(Error::Offline { path: path() });
        }
        if !self.neighbours.contains(dir) {
            self.stats.refused_absent += 1;
            return Err(Error::NoNeighbour { path: path(), dir });
        }
        let mut packet = Vec::with_capacity(payload.len() + 2);
        emit(&mut packet, dir, self.config.service, payload);
        if self.outq.push(dir, packet.into(), tag).is_err() {
            self.stats.throttled += 1;
            return Err(Error::QueueFull {
                path: self.conn.path().to_path_buf(),
                dir,
                limit: self.outq.limit(),
            });
        }
        self.flush(dir);
        Ok(())
    }

    /// Writes `dir`'s queue until it is empty or the tree pushes back,
    /// many packets per write.
    fn flush(&mut self, dir: Dir) {
        let mut items = std::mem::take(&mut self.write_buf);
        loop {
            items.clear();
            for packet in self.outq.waiting(dir) {
                if !items.is_empty() && items.len() + 1 + packet.len() > WRITE_BYTES {
                    break;
                }
                itc_proto::batch::push_item(&mut items, packet);
            }
            if items.is_empty() {
                break;
            }
            match self.conn.write(&items) {
                WriteResult::Sent(taken) => {
                    // The items wholly taken, oldest first; one that was
                    // not is the first of the next write, which says why.
                    let mut done = 0;
                    while let Some(len) = self.outq.next(dir).map(<[u8]>::len) {
                        if done + 1 + len > taken {
                            break;
                        }
                        done += 1 + len;
                        self.stats.count_tx(len);
                        self.outq.pop(dir);
                    }
                    if done == 0 {
                        // Less than one item: itcd never answers so, but
                        // waiting for room cannot loop.
                        self.outq.block(dir);
                        break;
                    }
                }
                WriteResult::WouldBlock => {
                    self.stats.would_block += 1;
                    self.outq.block(dir);
                    break;
                }
                WriteResult::Unreachable => {
                    self.stats.drop_unreachable += 1;
                    self.outq.pop(dir);
                }
                WriteResult::Rejected(errno) => {
                    tracing::warn!(
                        "{}: a packet to {dir} was refused: {}",
                        self.path().display(),
                        crate::error::meaning(errno, self.path())
                    );
                    self.stats.drop_rejected += 1;
                    self.outq.pop(dir);
                }
                WriteResult::Lost(loss) => {
                    self.conn.mark_lost(loss);
                    break;
                }
                WriteResult::Offline => break,
            }
        }
        self.write_buf = items;
    }

    // ---- timers ----------------------------------------------------------

    /// Calls [`Handler::on_timer`] with `token` after `after`; a timer
    /// already set for `token` is moved.
    pub fn set_timer(&mut self, after: Duration, token: u64) {
        self.timers
            .set(TimerKey::User(token), Instant::now() + after);
    }

    /// Cancels the timer of `token`; true if one was set.
    pub fn cancel_timer(&mut self, token: u64) -> bool {
        self.timers.cancel(&TimerKey::User(token))
    }

    // ---- requests --------------------------------------------------------

    /// Sends `payload` to `dir` as request `key`, retried by the
    /// configured [`RetryPolicy`] until [`Service::complete`]. Fails as
    /// [`Service::send`] does (nothing is then outstanding), or when `key`
    /// is already outstanding.
    pub fn request(&mut self, key: K, dir: Dir, payload: &[u8]) -> Result<(), Error> {
        let policy = self.config.retry;
        self.request_with(key, dir, payload, policy)
    }

    /// [`Service::request`] with a policy of its own.
    pub fn request_with(
        &mut self,
        key: K,
        dir: Dir,
        payload: &[u8],
        policy: RetryPolicy,
    ) -> Result<(), Error> {
        if self.requests.contains(&key) {
            return Err(Error::Outstanding {
                path: self.path().to_path_buf(),
                key: format!("{key:?}"),
            });
        }
        let tag = self.new_tag();
        self.enqueue(dir, payload, tag)?;
        if let Some(wait) = self.requests.start(key.clone(), dir, payload, policy, tag) {
            self.timers
                .set(TimerKey::Request(key), Instant::now() + wait);
            self.stats.requests += 1;
        }
        Ok(())
    }

    /// Ends request `key` because its reply arrived; false if it was not
    /// outstanding (a late or duplicate reply, to be ignored).
    pub fn complete(&mut self, key: &K) -> bool {
        if !self.requests.complete(key) {
            return false;
        }
        self.timers.cancel(&TimerKey::Request(key.clone()));
        self.stats.completed += 1;
        true
    }

    /// Ends request `key` without a reply and without telling the
    /// handler; false if it was not outstanding.
    pub fn cancel_request(&mut self, key: &K) -> bool {
        if !self.requests.complete(key) {
            return false;
        }
        self.timers.cancel(&TimerKey::Request(key.clone()));
        true
    }

    /// Whether request `key` is outstanding.
    pub fn is_outstanding(&self, key: &K) -> bool {
        self.requests.contains(key)
    }

    /// Outstanding requests in all.
    pub fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// Outstanding requests to `dir`.
    pub fn in_flight(&self, dir: Dir) -> usize {
        self.requests.in_flight(dir)
    }

    fn new_tag(&mut self) -> u64 {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        tag
    }

    fn request_timeout<H: Handler<K>>(&mut self, key: K, handler: &mut H) {
        let Some((dir, tag, wait)) = self.requests.current(&key) else {
            return;
        };
        let now = Instant::now();
        if self.outq.holds(dir, tag) || self.outq.len(dir) >= self.outq.limit() {
            // The try has not left yet, or there is no room for the next:
            // its clock has not started.
            self.timers.set(TimerKey::Request(key), now + wait);
            return;
        }
        self.stats.timeouts += 1;
        match self.requests.expire(&key) {
            None => {}
            Some(OnTimeout::GiveUp { tries }) => {
                self.stats.failed += 1;
                tracing::debug!(
                    "{}: request {key:?} failed after {tries} tries",
                    self.path().display()
                );
                handler.on_request_failed(self, key, Failure::TimedOut { tries });
            }
            Some(OnTimeout::Resend { dir, timeout }) => {
                let payload: Box<[u8]> = self.requests.payload(&key).unwrap_or_default().into();
                let tag = self.new_tag();
                // A failure here means the neighbour or the tree is going
                // away; its Disconnect ends the request.
                if self.enqueue(dir, &payload, tag).is_ok() {
                    self.stats.retries += 1;
                    self.requests.set_tag(&key, tag);
                }
                self.timers.set(TimerKey::Request(key), now + timeout);
            }
        }
    }

    // ---- counters --------------------------------------------------------

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}
