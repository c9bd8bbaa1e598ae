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
//!   (wired, not cut) or `0xc3 'T' dir8` (no wire, or a cut one: no clock);
//!   then `0xc3 'M' bitmap` every [`LinkParams::monitor_interval`],
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
//!   EROR set if it was damaged (`damage_next`, or the `corrupt` probability,
//!   which also flips one payload bit), OVRN set if `overrun_next` says so or
//!   that PRU dropped a packet for its host before this one. `loss` drops
//!   packets silently.
//! - Local and non-standard packets, messages of 0 or over 255 bytes after
//!   the start message, and anything before it are ignored and counted.
//! - Memory is bounded: a full wire holds one packet and stops reading its
//!   host, and a host whose socket would block gets at most
//!   [`HOST_BACKLOG_PACKETS`] queued messages, the oldest dropped beyond
//!   that. A packet arriving for a host that has not started
//!   is dropped. Routed packets dropped at the receiving PRU make the next
//!   delivered one carry OVRN.
//!
//! Every drop and bounce is counted in [`SimStats`]. The only failures are
//! at start ([`StartError`]); later I/O errors on a host connection close
//! that connection and are logged with `tracing`.

mod engine;

mod handle;
mod msg;
mod pru;

mod timers;
mod wire;

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mio::{Poll, Waker};

pub use crate::error::StartError;
pub use crate::stats::{LinkStats, PruStats, SimStats, TileStats};
pub use handle::SimHandle;

use crate::seqpacket::{self, SeqListener};
use engine::Engine;
use handle::Shared;
use pru::PruEndpoint;
use wire::{End, Wire};

use itc_proto::{Dir, Pru};

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

/// A wire requested with [`Wires::connect`].
#[derive(Clone, Debug)]
struct Link {
    a: TileId,
    dir: Dir,
    b: TileId,
    params: LinkParams,
}

/// Builds an emulator: tiles, wires between them, then [`Wires::start`].
#[derive(Clone, Debug)]
pub struct Wires {
    socket_dir: PathBuf,
    params: LinkParams,
    names: Vec<String>,
    links: Vec<Link>,
}

impl Wires {
    /// An empty set whose sockets go in `socket_dir` (created at start if
    /// missing) and whose wires behave as `params` says unless
    /// [`Wires::connect_with`] says otherwise.
    pub fn new(socket_dir: &Path, params: LinkParams) -> Wires {
        Wires {
            socket_dir: socket_dir.to_owned(),
            params,
            names: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Adds a tile; `name` becomes part of its socket file names.
    pub fn add_tile(&mut self, name: &str) -> TileId {
        self.names.push(name.to_owned());
        TileId(self.names.len() - 1)
    }

    /// The tile with this name.
    pub fn tile(&self, name: &str) -> Option<TileId> {
        self.names.iter().position(|n| n == name).map(TileId)
    }

    /// The socket a host connects to for `tile`'s `pru`:
    /// `socket_dir/{name}.pru0` or `.pru1`.
    pub fn pru_socket(&self, tile: TileId, pru: Pru) -> PathBuf {
        socket_path(&self.socket_dir, &self.names[tile.0], pru)
    }

    /// A wire from `a`'s `dir` to `b`'s `dir.opposite()`, with the default
    /// parameters.
    ///
    /// # Panics
    ///
    /// If either tile was not made by this builder.
    pub fn connect(&mut self, a: TileId, dir: Dir, b: TileId) {
        let params = self.params.clone();
        self.connect_with(a, dir, b, params);
    }

    /// Like [`Wires::connect`], with this wire's own parameters
    /// (`monitor_interval` is ignored here).
    ///
    /// # Panics
    ///
    /// If either tile was not made by this builder.
    pub fn connect_with(&mut self, a: TileId, dir: Dir, b: TileId, params: LinkParams) {
        assert!(
            a.0 < self.names.len() && b.0 < self.names.len(),
            "TileId not made by this Wires"
        );
        self.links.push(Link { a, dir, b, params });
    }

    /// Checks the set, binds every socket (replacing stale socket files),
    /// and starts the loop thread. The sockets accept connections as soon as
    /// this returns. Errors are [`StartError`]s inside `io::Error`.
    pub fn start(self) -> io::Result<SimHandle> {
        self.try_start().map_err(io::Error::from)
    }

    fn check(&self) -> Result<(), StartError> {
        for (i, name) in self.names.iter().enumerate() {
            let bad =
                name.is_empty() || name.contains(['/', '\0']) || self.names[..i].contains(name);
            if bad {
                return Err(StartError::BadTileName(name.clone()));
            }
        }
        let mut wired = vec![[false; 6]; self.names.len()];
        let all_params = self.links.iter().map(|l| &l.params);
        for params in std::iter::once(&self.params).chain(all_params) {
            for (what, value) in [("loss", params.loss), ("corrupt", params.corrupt)] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(StartError::BadProbability { what, value });
                }
            }
        }
        for link in &self.links {
            for (tile, dir) in [(link.a, link.dir), (link.b, link.dir.opposite())] {
                let slot = &mut wired[tile.0][dir.index()];
                if *slot {
                    let tile = self.names[tile.0].clone();
                    return Err(StartError::WiredTwice { tile, dir });
                }
                *slot = true;
            }
        }
        Ok(())
    }

    fn try_start(self) -> Result<SimHandle, StartError> {
        self.check()?;
        let sockets: Vec<[PathBuf; 2]> = self
            .names
            .iter()
            .map(|n| Pru::ALL.map(|p| socket_path(&self.socket_dir, n, p)))
            .collect();
        for path in sockets.iter().flatten() {
            let len = path.as_os_str().len();
            if len > seqpacket::MAX_PATH {
                let path = path.clone();
                return Err(StartError::PathTooLong { path, len });
            }
        }
        fs::create_dir_all(&self.socket_dir).map_err(|source| StartError::CreateDir {
            path: self.socket_dir.clone(),
            source,
        })?;

        let mut bound = SocketFiles(Vec::new());
        let mut prus = Vec::with_capacity(sockets.len() * 2);
        for (tile, (name, paths)) in self.names.iter().zip(&sockets).enumerate() {
            for (pru, path) in Pru::ALL.into_iter().zip(paths) {
                remove_stale(path)?;
                let listener = SeqListener::bind(path).map_err(|source| StartError::Bind {
                    path: path.clone(),
                    source,
                })?;
                bound.0.push(path.clone());
                prus.push(PruEndpoint::new(tile, pru, name, listener));
            }
        }

        let poll = Poll::new().map_err(StartError::EventLoop)?;
        let waker = Waker::new(poll.registry(), pru::WAKER).map_err(StartError::EventLoop)?;
        for p in &mut prus {
            p.register(poll.registry()).map_err(StartError::EventLoop)?;
        }
        let wires = self
            .links
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let a = End {
                    tile: l.a.0,
                    dir: l.dir,
                };
                let b = End {
                    tile: l.b.0,
                    dir: l.dir.opposite(),
                };
                Wire::new(a, b, l.params, i as u64)
            })
            .collect();

        let (tx, rx) = mpsc::channel();
        let monitor = self.params.monitor_interval;
        // The counters start as the engine will first publish them.
        let shared = Shared::new(Default::default());
        let engine = Engine::new(poll, prus, wires, monitor, rx, shared.clone());
        shared.publish(engine.stats(), 0);
        let guard = shared.stop_guard();
        let thread = thread::Builder::new()
            .name("tile-wires".to_owned())
            .spawn(move || {
                let _stopped = guard;
                engine.run();
            })
            .map_err(StartError::Spawn)?;
        bound.0.clear(); // the handle removes them from now on
        Ok(SimHandle::new(
            shared, tx, waker, thread, self.names, sockets,
        ))
    }
}

fn socket_path(dir: &Path, name: &str, pru: Pru) -> PathBuf {
    dir.join(format!("{name}.pru{}", pru.index()))
}

/// Removes a socket file left by an earlier run; refuses to remove anything
/// else.
fn remove_stale(path: &Path) -> Result<(), StartError> {
    let stale = |source| StartError::RemoveStale {
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => fs::remove_file(path).map_err(stale),
        Ok(_) => Err(StartError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(stale(e)),
    }
}

/// Socket files bound so far by a start that may still fail; removed on
/// drop.
struct SocketFiles(Vec<PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            if let Err(e) = fs::remove_file(path) {
                tracing::warn!("cannot remove socket {}: {e}", path.display());
            }
        }
    }
}
