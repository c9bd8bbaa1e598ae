//! The wires of a grid, whichever way they are emulated: whole packets
//! (`itcio::sim`) or the PRU firmware bit by bit ([`crate::fw_links`]).

use itcio::sim::{SimHandle, SimStats, TileId};
use itcio::Dir;

use crate::fw_links::FwGrid;

/// The running emulation of a grid's PRUs and wires.
#[derive(Debug)]
pub enum Links {
    /// `--link packet`.
    Packet(SimHandle),
    /// `--link firmware`.
    Firmware(FwGrid),
}

impl Links {
    /// Which wires exist and which are up (for `firmware`: both ends have
    /// sync); the packet emulator's counters besides.
    pub fn stats(&self) -> SimStats {
        match self {
            Links::Packet(sim) => sim.stats(),
            Links::Firmware(fw) => fw.stats(),
        }
    }

    /// Cuts the wire at `tile`'s `dir`.
    pub fn cut(&self, tile: TileId, dir: Dir) {
        match self {
            Links::Packet(sim) => sim.cut(tile, dir),
            Links::Firmware(fw) => fw.cut(tile.0, dir),
        }
    }

    /// Reconnects the wire at `tile`'s `dir`.
    pub fn restore(&self, tile: TileId, dir: Dir) {
        match self {
            Links::Packet(sim) => sim.restore(tile, dir),
            Links::Firmware(fw) => fw.restore(tile.0, dir),
        }
    }
}
