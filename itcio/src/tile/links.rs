//! The tile's side of its six links: link and neighbour state per
//! direction, the PRUs' state, every counter, and this tile's physics id,
//! which decides compatibility with each neighbour.
//!
//! Each transition is returned as a value ([`Transition`], [`Heard`],
//! [`Change`]) for the caller to act on: nothing here queues a packet,
//! touches an open file or logs a neighbour's coming and going. A
//! neighbour is only ever present while its link is up.

use std::time::{Duration, Instant};

use crate::neighbour::{Change, Neighbour};
use crate::stats::{DirStats, DropReason, TileStats};
use crate::tile::file_api::Error;
use itc_proto::{Dir, LinkCode, Pru, MAX_PHYSICS_LEN};

/// What a link report did to a direction's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The link came up.
    Up,
    /// The link went down; the neighbour with it, if it was present.
    Down(Option<Change>),
}

/// What a hello did to a direction's neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// The neighbour became present.
    pub change: Option<Change>,
    /// Whether MFM traffic may flow changed (with or without presence).
    pub compatibility_changed: bool,
}

/// Links, neighbours, counters and the physics id.
#[derive(Debug)]
pub struct Links {
    neighbours: [Neighbour; 6],
    stats: [DirStats; 6],
    tile_stats: TileStats,
    pru_up: [bool; 2],
    physics: String,
    /// Bumped at every change of physics id: MFM files opened under an
    /// older one are stale.
    physics_gen: u64,
}

impl Links {
    /// Every link down, no PRU open, the physics id `physics`.
    pub fn new(physics: String) -> Links {
        Links {
            neighbours: Default::default(),
            stats: Default::default(),
            tile_stats: TileStats::default(),
            pru_up: [false; 2],
            physics,
            physics_gen: 0,
        }
    }

    /// State of one direction.
    pub fn neighbour(&self, dir: Dir) -> &Neighbour {
        &self.neighbours[dir.index()]
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Dir) -> &DirStats {
        &self.stats[dir.index()]
    }

    /// Counters of one direction, to count in.
    pub fn stats_mut(&mut self, dir: Dir) -> &mut DirStats {
        &mut self.stats[dir.index()]
    }

    /// Count a packet of `dir` dropped for `reason`.
    pub fn drop_packet(&mut self, dir: Dir, reason: DropReason) {
        self.stats[dir.index()].drop_packet(reason);
    }

    /// Counters not tied to a direction.
    pub fn tile_stats(&self) -> &TileStats {
        &self.tile_stats
    }

    /// Count a message from `pru` that belongs to none of its directions.
    pub fn pru_malformed(&mut self, pru: Pru) {
        self.tile_stats.pru_malformed[pru.index()] += 1;
    }

    /// Whether the PRU device is open.
    pub fn pru_up(&self, pru: Pru) -> bool {
        self.pru_up[pru.index()]
    }

    /// The PRU device was opened (`true`) or lost (`false`). The caller
    /// takes the links of a lost one down.
    pub fn set_pru_up(&mut self, pru: Pru, up: bool) {
        self.pru_up[pru.index()] = up;
        if up {
            self.tile_stats.pru_opens[pru.index()] += 1;
        }
    }

    /// The PRU reported sync gained (`true`) or lost (`false`) at `dir`.
    /// `None` if the link stays as it was.
    pub fn set_link(&mut self, dir: Dir, up: bool) -> Option<Transition> {
        let n = &mut self.neighbours[dir.index()];
        let was = n.link_up();
        let change = n.set_link(up);
        match (was, up) {
            (false, true) => Some(Transition::Up),
            (true, false) => Some(Transition::Down(change)),
            _ => None,
        }
    }

    /// A link status report for `dir`: sync gained, or lost for want of a
    /// delimiter or a clock (each counted); or one damaged frame dropped,
    /// which is counted and leaves the link as it was.
    pub fn link_report(&mut self, dir: Dir, code: LinkCode) -> Option<Transition> {
        let s = &mut self.stats[dir.index()];
        match code {
            LinkCode::FrameDropped => {
                s.frame_errors += 1;
                return None;
            }
            LinkCode::FrameError => s.sync_losses += 1,
            LinkCode::Timeout => s.timeouts += 1,
            _ => {}
        }
        self.set_link(dir, code == LinkCode::SyncGained)
    }

    /// A hello from the neighbour at `dir` arrived at `now`.
    pub fn hello(&mut self, dir: Dir, name: &str, physics: &str, now: Instant) -> Heard {
        let was = self.compatible(dir);
        let change = self.neighbours[dir.index()].hello(name, physics, now);
        Heard {
            change,
            compatibility_changed: was != self.compatible(dir),
        }
    }

    /// Declare the neighbour at `dir` absent if no hello came for
    /// `absent_after`.
    pub fn expire(&mut self, dir: Dir, now: Instant, absent_after: Duration) -> Option<Change> {
        self.neighbours[dir.index()].expire(now, absent_after)
    }

    /// The current physics id.
    pub fn physics(&self) -> &str {
        &self.physics
    }

    /// Changes with every change of physics id.
    pub fn physics_gen(&self) -> u64 {
        self.physics_gen
    }

    /// Set the physics id: at most [`MAX_PHYSICS_LEN`] bytes without
    /// control characters. Returns whether it changed.
    pub fn set_physics(&mut self, physics: &str) -> Result<bool, Error> {
        if physics.len() > MAX_PHYSICS_LEN || physics.chars().any(|c| c.is_control()) {
            return Err(Error::Invalid);
        }
        if physics == self.physics {
            return Ok(false);
        }
        tracing::info!(
            "physics id changed from {:?} to {:?}",
            self.physics,
            physics
        );
        self.physics = physics.to_string();
        self.physics_gen += 1;
        Ok(true)
    }

    /// Whether MFM traffic may flow with the neighbour at `dir`.
    pub fn compatible(&self, dir: Dir) -> bool {
        self.neighbours[dir.index()].compatible(&self.physics)
    }

    /// Whether traffic may go to `dir` at all: to a compatible neighbour
    /// for MFM, to a present one otherwise.
    pub fn reaches(&self, dir: Dir, mfm: bool) -> bool {
        if mfm {
            self.compatible(dir)
        } else {
            self.neighbours[dir.index()].present()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_reported_once() {
        let mut links = Links::new("p".into());
        assert_eq!(links.set_link(Dir::ET, false), None);
        assert_eq!(links.set_link(Dir::ET, true), Some(Transition::Up));
        assert_eq!(links.set_link(Dir::ET, true), None);
        let heard = links.hello(Dir::ET, "n", "p", Instant::now());
        assert_eq!(heard.change, Some(Change::Connected));
        assert!(heard.compatibility_changed);
        assert!(links.reaches(Dir::ET, true) && links.reaches(Dir::ET, false));
        assert_eq!(
            links.link_report(Dir::ET, LinkCode::FrameError),
            Some(Transition::Down(Some(Change::Disconnected)))
        );
        assert_eq!(links.stats(Dir::ET).sync_losses, 1);
        assert_eq!(links.stats(Dir::ET).frame_errors, 0);
        assert!(!links.reaches(Dir::ET, false));
    }

    #[test]
    fn a_dropped_frame_is_counted_and_leaves_the_link_alone() {
        let mut links = Links::new("p".into());
        links.set_link(Dir::SW, true);
        links.hello(Dir::SW, "n", "p", Instant::now());
        for n in 1..=3 {
            assert_eq!(links.link_report(Dir::SW, LinkCode::FrameDropped), None);
            assert_eq!(links.stats(Dir::SW).frame_errors, n);
        }
        assert!(links.neighbour(Dir::SW).link_up());
        assert!(links.reaches(Dir::SW, true));
        assert_eq!(links.stats(Dir::SW).sync_losses, 0);
        // Nor does it bring a link up that is down.
        assert_eq!(links.link_report(Dir::NE, LinkCode::FrameDropped), None);
        assert!(!links.neighbour(Dir::NE).link_up());
        assert_eq!(links.stats(Dir::NE).frame_errors, 1);
    }

    #[test]
    fn a_new_physics_id_changes_compatibility_and_generation() {
        let mut links = Links::new(String::new());
        links.set_link(Dir::WT, true);
        links.hello(Dir::WT, "n", "x", Instant::now());
        assert!(!links.compatible(Dir::WT));
        assert_eq!(links.set_physics("x"), Ok(true));
        assert_eq!(links.physics_gen(), 1);
        assert!(links.compatible(Dir::WT));
        assert_eq!(links.set_physics("x"), Ok(false), "unchanged");
        assert_eq!(links.set_physics("a\nb"), Err(Error::Invalid));
        assert_eq!(links.physics_gen(), 1);
        let heard = links.hello(Dir::WT, "n", "y", Instant::now());
        assert_eq!(heard.change, None);
        assert!(heard.compatibility_changed);
    }
}
