//! The wires of a grid, whichever way they are emulated: whole packets
//! (`itcio::sim`) or the PRU firmware bit by bit ([`crate::fw_links`]).

use itc_emu::{SimHandle, SimStats, TileId};
use itc_proto::Dir;

use crate::fw_links::{dir_stats_words, FwGrid};

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

    /// The firmware's counters of `tile`'s `dir`, as `name=value` words;
    /// an error with `--link packet`, which runs no firmware.
    pub fn firmware_counters(&self, tile: TileId, dir: Dir) -> Result<String, String> {
        match self {
            Links::Packet(_) => Err("no firmware counters: the grid runs --link packet".into()),
            Links::Firmware(fw) => fw
                .dir_stats(tile.0, dir)
                .map(|d| dir_stats_words(&d))
                .ok_or_else(|| "the firmware loop did not answer".into()),
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
