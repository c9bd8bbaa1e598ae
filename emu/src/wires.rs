//! What to emulate, whatever the model: the tiles (by name), the wires
//! between tile ends, the directory of the PRU sockets, and how the wires
//! behave ([`LinkParams`]). Every model starts from a [`Wires`]
//! ([`LinkModel::start`](crate::LinkModel::start)).
//!
//! [`Wires::check`] is the one validation every model runs before it
//! touches the file system: tile names usable in a file name and unique, at
//! most one wire per tile end, probabilities within `0..=1`, socket paths
//! short enough for a UNIX socket address. Nothing here does I/O.
#![deny(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use itc_proto::{Dir, Pru};

use crate::error::Error;
use crate::seqpacket;

/// A tile of the emulator, numbered in the order [`Wires::add_tile`] made
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId(pub usize);

/// How the wires behave. Models take what applies to them and refuse
/// settings they cannot honour (see each model's documentation).
#[derive(Clone, Debug)]
pub struct LinkParams {
    /// Bits per second in each direction; 0 is unlimited.
    pub rate_bps: u64,
    /// Propagation delay added after serialisation.
    pub latency: Duration,
    /// Probability (0..=1) that a packet is silently lost.
    pub loss: f64,
    /// Probability (0..=1) that a packet arrives damaged; for a model that
    /// simulates bits, that a bit is flipped.
    pub corrupt: f64,
    /// Period of each PRU's `0xc3 'M'` report once its host started; zero
    /// turns the reports off. A model that runs the firmware keeps the
    /// firmware's own period.
    pub monitor_interval: Duration,
    /// Seed for the random choices; the same seed repeats the same choices
    /// for the same traffic.
    pub seed: u64,
    /// The PRUs agree to batched messages when the host offers them
    /// (`docs/pru-messages.md`); false: they behave as firmware that does
    /// not batch, and keep one message per packet.
    pub pru_batch: bool,
}

impl Default for LinkParams {
    /// Unlimited rate, no latency, no loss or corruption, monitor every 1 s,
    /// batched messages agreed when offered.
    fn default() -> LinkParams {
        LinkParams {
            rate_bps: 0,
            latency: Duration::ZERO,
            loss: 0.0,
            corrupt: 0.0,
            monitor_interval: Duration::from_secs(1),
            seed: 0,
            pru_batch: true,
        }
    }
}

/// A wire requested with [`Wires::connect`]: `a`'s `dir` to `b`'s
/// `dir.opposite()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireSpec {
    /// One end's tile.
    pub a: TileId,
    /// The direction the wire leaves `a` in.
    pub dir: Dir,
    /// The other end's tile, reached at its `dir.opposite()`.
    pub b: TileId,
}

/// The grid to emulate: tiles, wires between them, the socket directory
/// and the wires' behaviour.
#[derive(Clone, Debug)]
pub struct Wires {
    socket_dir: PathBuf,
    params: LinkParams,
    names: Vec<String>,
    wires: Vec<WireSpec>,
}

impl Wires {
    /// An empty set whose sockets go in `socket_dir` (created at start if
    /// missing) and whose wires behave as `params` says.
    pub fn new(socket_dir: &Path, params: LinkParams) -> Wires {
        Wires {
            socket_dir: socket_dir.to_owned(),
            params,
            names: Vec::new(),
            wires: Vec::new(),
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

    /// A wire from `a`'s `dir` to `b`'s `dir.opposite()`.
    ///
    /// # Panics
    ///
    /// If either tile was not made by this builder.
    pub fn connect(&mut self, a: TileId, dir: Dir, b: TileId) {
        assert!(
            a.0 < self.names.len() && b.0 < self.names.len(),
            "TileId not made by this Wires"
        );
        self.wires.push(WireSpec { a, dir, b });
    }

    /// The directory of the PRU sockets.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// How the wires behave.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// The tiles' names, in [`TileId`] order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The wires, in the order connected.
    pub fn wires(&self) -> &[WireSpec] {
        &self.wires
    }

    /// Every tile's two socket paths, in [`TileId`] order, indexed by
    /// [`Pru::index`].
    pub fn sockets(&self) -> Vec<[PathBuf; 2]> {
        self.names
            .iter()
            .map(|n| Pru::ALL.map(|p| socket_path(&self.socket_dir, n, p)))
            .collect()
    }

    /// Checks what every model needs: usable, unique tile names; one wire
    /// at most per tile end; probabilities within `0..=1`; socket paths
    /// that fit a UNIX socket address.
    pub fn check(&self) -> Result<(), Error> {
        for (i, name) in self.names.iter().enumerate() {
            let bad =
                name.is_empty() || name.contains(['/', '\0']) || self.names[..i].contains(name);
            if bad {
                return Err(Error::BadTileName(name.clone()));
            }
        }
        let params = &self.params;
        for (what, value) in [("loss", params.loss), ("corrupt", params.corrupt)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::BadProbability { what, value });
            }
        }
        let mut wired = vec![[false; 6]; self.names.len()];
        for w in &self.wires {
            for (tile, dir) in [(w.a, w.dir), (w.b, w.dir.opposite())] {
                let slot = &mut wired[tile.0][dir.index()];
                if *slot {
                    let tile = self.names[tile.0].clone();
                    return Err(Error::WiredTwice { tile, dir });
                }
                *slot = true;
            }
        }
        for path in self.sockets().iter().flatten() {
            let len = path.as_os_str().len();
            if len > seqpacket::MAX_PATH {
                let path = path.clone();
                return Err(Error::PathTooLong { path, len });
            }
        }
        Ok(())
    }
}

/// `dir/{name}.pru0` or `.pru1`.
fn socket_path(dir: &Path, name: &str, pru: Pru) -> PathBuf {
    dir.join(format!("{name}.pru{}", pru.index()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wires() -> Wires {
        Wires::new(Path::new("/tmp/s"), LinkParams::default())
    }

    #[test]
    fn sockets_are_named_after_tile_and_pru() {
        let mut w = wires();
        let t = w.add_tile("r0c1");
        assert_eq!(w.pru_socket(t, Pru::Pru1), Path::new("/tmp/s/r0c1.pru1"));
        assert_eq!(w.tile("r0c1"), Some(t));
        assert_eq!(w.tile("r9c9"), None);
    }

    #[test]
    fn check_refuses_what_no_model_can_run() {
        let mut w = wires();
        let a = w.add_tile("a");
        let b = w.add_tile("b");
        w.connect(a, Dir::ET, b);
        assert!(w.check().is_ok());
        // b's WT is taken by the first wire.
        w.connect(b, Dir::WT, a);
        assert!(matches!(
            w.check(),
            Err(Error::WiredTwice { dir: Dir::WT, .. })
        ));

        let mut w = wires();
        w.add_tile("x");
        w.add_tile("x");
        assert!(matches!(w.check(), Err(Error::BadTileName(_))));

        let mut w = Wires::new(
            Path::new("/tmp"),
            LinkParams {
                corrupt: -0.5,
                ..LinkParams::default()
            },
        );
        w.add_tile("t");
        assert!(matches!(w.check(), Err(Error::BadProbability { .. })));
    }
}
