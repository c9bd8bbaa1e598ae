//! What the signal thread and the control thread of `tile-sim run` share:
//! the tiles with their `itcd` processes and the wire emulation, behind one
//! lock, and the steps that need the lock released between them (stopping
//! and starting a tile, stopping the whole grid).
//!
//! Once [`Shared::stop_all`] has begun, no `itcd` is started any more.

use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use itc_emu::LinkModel;

use crate::mounts;
use crate::tiles::{self, Reaped, Starting, Tile, START_DEADLINE, STOP_DEADLINE};

/// The grid as it runs.
#[derive(Debug)]
pub struct State {
    /// Every tile, in grid order.
    pub tiles: Vec<Tile>,
    /// The emulated PRUs and wires.
    pub sim: Box<dyn LinkModel>,
    /// Set when the grid is shutting down.
    pub stopping: bool,
}

impl State {
    /// The tile with this name.
    pub fn tile(&self, name: &str) -> Result<&Tile, String> {
        let i = self.index(name)?;
        Ok(&self.tiles[i])
    }

    fn tile_mut(&mut self, name: &str) -> Result<&mut Tile, String> {
        let i = self.index(name)?;
        Ok(&mut self.tiles[i])
    }

    fn index(&self, name: &str) -> Result<usize, String> {
        if let Some(i) = self.tiles.iter().position(|t| t.name == name) {
            return Ok(i);
        }
        let range = match (self.tiles.first(), self.tiles.last()) {
            (Some(a), Some(b)) if a.name != b.name => format!("{} .. {}", a.name, b.name),
            (Some(a), _) => a.name.clone(),
            _ => "none".to_string(),
        };
        Err(format!("no tile {name:?} in this grid (tiles: {range})"))
    }

    fn check_running(&self) -> Result<(), String> {
        if self.stopping {
            return Err("tile-sim is shutting down".to_string());
        }
        Ok(())
    }
}

/// What [`Shared::stop_all`] stopped.
#[derive(Debug, Default)]
pub struct Stopped {
    /// The `itcd`s that were running or being stopped, now collected.
    pub itcds: usize,
    /// Those of them that did not exit 0, with their status.
    pub failed: Vec<(String, ExitStatus)>,
}

/// [`State`] behind its lock.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
}

impl Shared {
    /// Shares `state`.
    pub fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
        })
    }

    /// Locks the state. A thread that panicked while holding the lock
    /// leaves it usable: every change to it is a single assignment.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts every tile's `itcd` and waits until all serve their trees;
    /// returns the tiles that did not come up, with the reason. Fails
    /// without waiting if a process cannot be started at all.
    pub fn start_all(&self) -> Result<Vec<(String, String)>, String> {
        let starting: Vec<Starting> = {
            let mut state = self.lock();
            state.check_running()?;
            let mut starting = Vec::with_capacity(state.tiles.len());
            for tile in &mut state.tiles {
                starting.push(tile.spawn()?);
            }
            starting
        };
        let deadline = Instant::now() + START_DEADLINE;
        Ok(starting
            .into_iter()
            .filter_map(|s| {
                let name = s.name().to_owned();
                s.wait(deadline).err().map(|e| (name, e))
            })
            .collect())
    }

    /// Starts `name`'s `itcd` again and waits until it serves its tree.
    pub fn start_tile(&self, name: &str) -> Result<(), String> {
        let starting = {
            let mut state = self.lock();
            state.check_running()?;
            state.tile_mut(name)?.spawn()?
        };
        starting.wait(Instant::now() + START_DEADLINE)
    }

    /// Stops `name`'s `itcd` with SIGTERM (SIGKILL after
    /// [`STOP_DEADLINE`]), collects it, and makes sure its tree is
    /// unmounted.
    pub fn stop_tile(&self, name: &str) -> Result<(), String> {
        let (exit_fd, mount) = {
            let mut state = self.lock();
            state.check_running()?;
            let tile = state.tile_mut(name)?;
            tile.terminate()?;
            let fd = tile.exit_fd();
            (fd, tile.mount.clone())
        };
        if let Some(fd) = exit_fd {
            self.wait_or_kill(&[(name.to_owned(), fd)])?;
        }
        if let Ok(tile) = self.lock().tile_mut(name) {
            tile.reap();
        }
        mounts::detach_if_mounted(&mount)
    }

    /// Stops every `itcd` as [`Shared::stop_tile`] does, all at once, and
    /// refuses to start any from now on. Returns what became of the
    /// `itcd`s; other problems are reported on stderr.
    pub fn stop_all(&self) -> Stopped {
        let waits: Vec<(String, OwnedFd)> = {
            let mut state = self.lock();
            state.stopping = true;
            let mut waits = Vec::new();
            for tile in &mut state.tiles {
                if tile.status() == tiles::Status::Running {
                    if let Err(e) = tile.terminate() {
                        eprintln!("tile-sim: {e}");
                    }
                }
                // A tile being stopped by a control request is waited for
                // too.
                if let Some(fd) = tile.exit_fd() {
                    waits.push((tile.name.clone(), fd));
                }
            }
            waits
        };
        if let Err(e) = self.wait_or_kill(&waits) {
            eprintln!("tile-sim: {e}");
        }
        let mut stopped = Stopped::default();
        let mounts: Vec<_> = {
            let mut state = self.lock();
            for tile in &mut state.tiles {
                match tile.reap() {
                    Some(Reaped::Stopped(status)) => {
                        stopped.itcds += 1;
                        if !status.success() {
                            stopped.failed.push((tile.name.clone(), status));
                        }
                    }
                    Some(Reaped::OnItsOwn(status)) => {
                        eprintln!("tile-sim: itcd of {} exited: {status}", tile.name);
                    }
                    None => {}
                }
            }
            state.tiles.iter().map(|t| t.mount.clone()).collect()
        };
        // One look at the mount table for all of them: with a thousand
        // trees, reading it once per tile costs more than the rest.
        for mount in mounts::still_mounted(&mounts) {
            if let Err(e) = mounts::detach_if_mounted(&mount) {
                eprintln!("tile-sim: {e}");
            }
        }
        stopped
    }

    /// Collects every `itcd` that has exited; returns those that exited on
    /// their own, with their status.
    pub fn reap(&self) -> Vec<(String, ExitStatus)> {
        let mut state = self.lock();
        state
            .tiles
            .iter_mut()
            .filter_map(|t| match t.reap() {
                Some(Reaped::OnItsOwn(status)) => Some((t.name.clone(), status)),
                _ => None,
            })
            .collect()
    }

    /// Waits for the processes behind `waits` to exit; SIGKILLs those that
    /// have not after [`STOP_DEADLINE`] and waits for them as long again.
    fn wait_or_kill(&self, waits: &[(String, OwnedFd)]) -> Result<(), String> {
        let deadline = Instant::now() + STOP_DEADLINE;
        let mut late = Vec::new();
        for (name, fd) in waits {
            if !tiles::wait_exit(fd, deadline)? {
                late.push((name, fd));
            }
        }
        if late.is_empty() {
            return Ok(());
        }
        {
            let mut state = self.lock();
            for (name, _) in &late {
                eprintln!(
                    "tile-sim: the itcd of {name} did not stop within {} s; killing it",
                    STOP_DEADLINE.as_secs()
                );
                if let Ok(tile) = state.tile_mut(name) {
                    tile.kill();
                }
            }
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        for (name, fd) in late {
            if !tiles::wait_exit(fd, deadline)? {
                return Err(format!("the itcd of {name} survived SIGKILL"));
            }
        }
        Ok(())
    }
}
