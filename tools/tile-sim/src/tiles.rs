//! One tile of the grid: its place in the wire emulation, its `itcd` and,
//! with `run --files`, its `itc-files`. The processes themselves are
//! [`Daemon`]s; what a tile adds is their order: `itcd` starts first and
//! stops last, so `itc-files` finds a tree at once (it also rides out one
//! that goes away).

use std::path::PathBuf;

use itc_emu::TileId;

use crate::process::{Daemon, Reaped, Starting, Status};

/// One tile of the grid and its daemons.
#[derive(Debug)]
pub struct Tile {
    /// `r{row}c{col}`.
    pub name: String,
    /// The tile in the wire emulation.
    pub id: TileId,
    /// Where its tree is mounted.
    pub mount: PathBuf,
    /// Its `itcd`.
    pub itcd: Daemon,
    /// Its `itc-files`, with `run --files` (its store is
    /// `DIR/.sim/store/{name}`).
    pub files: Option<Daemon>,
}

/// Which of a tile's daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The `itcd`.
    Itcd,
    /// The `itc-files`.
    Files,
}

impl Tile {
    /// Its daemons, the one to start first first.
    pub fn daemons(&self) -> impl Iterator<Item = (Which, &Daemon)> {
        std::iter::once((Which::Itcd, &self.itcd))
            .chain(self.files.as_ref().map(|f| (Which::Files, f)))
    }

    /// The daemon `which`, if the tile has it.
    pub fn daemon_mut(&mut self, which: Which) -> Option<&mut Daemon> {
        match which {
            Which::Itcd => Some(&mut self.itcd),
            Which::Files => self.files.as_mut(),
        }
    }

    /// What its `itcd` is doing (the tile's state in `list`).
    pub fn status(&self) -> Status {
        self.itcd.status()
    }

    /// The pid of its `itcd` while one is running or being stopped.
    pub fn pid(&self) -> Option<u32> {
        self.itcd.pid()
    }

    /// Whether every daemon it has runs.
    pub fn all_running(&self) -> bool {
        self.daemons().all(|(_, d)| d.status() == Status::Running)
    }

    /// Whether any of its daemons runs.
    pub fn any_running(&self) -> bool {
        self.daemons().any(|(_, d)| d.status() == Status::Running)
    }

    /// Starts the daemon `which` unless it runs already; `None` if it does
    /// or the tile has none.
    pub fn spawn(&mut self, which: Which) -> Result<Option<Starting>, String> {
        match self.daemon_mut(which) {
            Some(d) if d.status() != Status::Running => d.spawn().map(Some),
            _ => Ok(None),
        }
    }

    /// Collects its daemons that exited: which one, its label, and how.
    pub fn reap(&mut self) -> Vec<(Which, String, Reaped)> {
        let daemons = [
            (Which::Itcd, Some(&mut self.itcd)),
            (Which::Files, self.files.as_mut()),
        ];
        daemons
            .into_iter()
            .filter_map(|(which, d)| {
                let d = d?;
                let how = d.reap()?;
                Some((which, d.label.clone(), how))
            })
            .collect()
    }
}
