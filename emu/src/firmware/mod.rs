//! The firmware model (`--link firmware`): every tile's two PRUs run the
//! PRU firmware's host build (`pru-firmware`), and the wires between them
//! are simulated bit by bit. Each PRU is a host port (`crate::host_port`),
//! with the same one-packet-per-message contract as the packet model and
//! the board's rpmsg devices; what the PRU answers is the firmware's own
//! (a frame damaged by a bit flip, for one, is dropped and reported with
//! link status `E`, sync kept).
//!
//! From the [`LinkParams`](crate::LinkParams): `rate_bps` throttles busy
//! wires to that many bits per second of wall time (0: as fast as the CPU
//! allows), `corrupt` is the probability that each bit on a wire is
//! flipped, `seed` seeds the flips; the firmware keeps its own monitor
//! period. The model has no packet loss and no latency, and refuses to
//! start with either.
//!
//! [`FirmwareModel`] controls the loop (`engine`); bit errors are drawn
//! as `noise` explains. A request to the loop that goes unanswered for
//! [`ANSWER_TIMEOUT`] fails (or, for [`FirmwareModel::stats`], gives empty
//! counters).

mod engine;
mod noise;

use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use itc_proto::{Dir, Pru};
use mio::{Poll, Waker};
use pru_firmware::{default_config, DirStats, Firmware};

use crate::error::Error;
use crate::host_port::{self, SocketFiles, WAKER};
use crate::model::{FirmwareCounters, LinkModel};
use crate::stats::SimStats;
use crate::wires::{TileId, Wires};
use engine::{Command, Endpoint, Engine, FwWire};
use noise::Noise;

/// The model's name.
const NAME: &str = "firmware";

/// How long a request waits for the loop's answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A running firmware model; stopped when dropped.
#[derive(Debug)]
pub struct FirmwareModel {
    tx: Sender<Command>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
    wires: Wires,
    /// Removed after the loop has stopped (fields drop after `drop`).
    _files: SocketFiles,
}

impl FirmwareModel {
    /// Checks `wires`, binds two sockets per tile and starts the loop.
    pub fn start(wires: Wires) -> Result<FirmwareModel, Error> {
        wires.check()?;
        let params = wires.params();
        if params.loss > 0.0 {
            let what = "packet loss";
            return Err(Error::Unsupported { model: NAME, what });
        }
        if !params.latency.is_zero() {
            let what = "latency";
            return Err(Error::Unsupported { model: NAME, what });
        }
        let (ports, files) = host_port::bind_all(&wires)?;
        let poll = Poll::new().map_err(Error::EventLoop)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(Error::EventLoop)?;
        let cfg = default_config();
        let mut eps = Vec::with_capacity(ports.len());
        for mut port in ports {
            port.register(poll.registry()).map_err(Error::EventLoop)?;
            let pru = port.pru().index() as u8;
            let fw = Firmware::new(pru, &cfg).map_err(Error::Firmware)?;
            eps.push(Endpoint::new(fw, port));
        }
        let links = wires
            .wires()
            .iter()
            .map(|w| FwWire {
                a: w.a.0,
                dir: w.dir,
                b: w.b.0,
                cut: false,
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        let noise = Noise::new(params.corrupt, params.seed);
        let engine = Engine::new(poll, eps, links, params.rate_bps, noise, rx);
        let thread = thread::Builder::new()
            .name("tile-firmware".to_owned())
            .spawn(move || engine.run())
            .map_err(Error::Spawn)?;
        Ok(FirmwareModel {
            tx,
            waker,
            thread: Some(thread),
            wires,
            _files: files,
        })
    }

    fn send(&self, c: Command) {
        if self.tx.send(c).is_ok() {
            if let Err(e) = self.waker.wake() {
                tracing::error!("cannot wake the firmware loop: {e}");
            }
        }
    }

    /// Cuts the wire at `tile`'s `dir`.
    pub fn cut(&self, tile: TileId, dir: Dir) {
        self.send(Command::Cut(tile.0, dir));
    }

    /// Reconnects the wire at `tile`'s `dir`.
    pub fn restore(&self, tile: TileId, dir: Dir) {
        self.send(Command::Restore(tile.0, dir));
    }

    /// Which wires exist and which have sync at both ends, and each PRU's
    /// host connection; empty counters if the loop does not answer.
    pub fn stats(&self) -> SimStats {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Stats(tx));
        rx.recv_timeout(ANSWER_TIMEOUT).unwrap_or_default()
    }

    /// The counters of `tile`'s PRU `pru`'s firmware; `None` if the loop
    /// does not answer.
    pub fn firmware_stats(&self, tile: TileId, pru: Pru) -> Option<pru_firmware::Stats> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::FirmwareStats(2 * tile.0 + pru.index(), tx));
        rx.recv_timeout(ANSWER_TIMEOUT).ok()
    }

    /// The firmware's counters of `tile`'s direction `dir` (kept by the
    /// PRU that serves it).
    pub fn dir_stats(&self, tile: TileId, dir: Dir) -> Option<DirStats> {
        self.firmware_stats(tile, dir.pru())
            .map(|s| s.dir[usize::from(dir.prudir())])
    }

    /// The socket a host connects to for `tile`'s `pru`.
    pub fn pru_socket(&self, tile: TileId, pru: Pru) -> std::path::PathBuf {
        self.wires.pru_socket(tile, pru)
    }
}

impl Drop for FirmwareModel {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the firmware thread panicked");
            }
        }
    }
}

/// One direction's counters, named as in `struct itc_fw_dir_stats`
/// (`pru-firmware/include/itc_fw.h`).
pub fn counters(d: &DirStats) -> FirmwareCounters {
    FirmwareCounters(vec![
        ("frames_sent", d.frames_sent.into()),
        ("packets_received", d.packets_received.into()),
        ("crc_errors", d.crc_errors.into()),
        ("aborts", d.aborts.into()),
        ("misaligned", d.misaligned.into()),
        ("overlong", d.overlong.into()),
        ("no_delimiter", d.no_delimiter.into()),
        ("runts", d.runts.into()),
        ("not_routed", d.not_routed.into()),
        ("timeouts", d.timeouts.into()),
        ("syncs", d.syncs.into()),
        ("host_overruns", d.host_overruns.into()),
        ("bounced_full", d.bounced_full.into()),
        ("bounced_no_sync", d.bounced_no_sync.into()),
    ])
}

impl LinkModel for FirmwareModel {
    fn start(wires: Wires) -> Result<FirmwareModel, Error> {
        FirmwareModel::start(wires)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn cut(&self, tile: TileId, dir: Dir) {
        FirmwareModel::cut(self, tile, dir);
    }

    fn restore(&self, tile: TileId, dir: Dir) {
        FirmwareModel::restore(self, tile, dir);
    }

    fn stats(&self) -> SimStats {
        FirmwareModel::stats(self)
    }

    fn firmware_counters(&self, tile: TileId, dir: Dir) -> Result<FirmwareCounters, Error> {
        self.dir_stats(tile, dir)
            .map(|d| counters(&d))
            .ok_or(Error::NoAnswer { model: NAME })
    }

    fn stop(self: Box<Self>) {
        drop(self);
    }
}
