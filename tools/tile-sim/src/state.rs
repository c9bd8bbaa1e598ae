//! What the signal thread and the control thread of `tile-sim run` share:
//! the tiles with their daemons (`itcd`, and `itc-files` with `--files`)
//! and the wire emulation, behind one lock, and the steps that need the
//! lock released between them (stopping and starting a tile, stopping the
//! whole grid).
//!
//! Once [`Shared::stop_all`] has begun, no daemon is started any more.

use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use itc_emu::LinkModel;

use crate::files::Layout;
use crate::mounts;
use crate::process::{self, Reaped, Starting, Status, START_DEADLINE, STOP_DEADLINE};
use crate::run::note;
use crate::tiles::{Tile, Which};

/// The grid as it runs.
#[derive(Debug)]
pub struct State {
    /// Every tile, in grid order.
    pub tiles: Vec<Tile>,
    /// The emulated PRUs and wires.
    pub sim: Box<dyn LinkModel>,
    /// With `--files`, where the file service keeps its parts.
    pub files: Option<Layout>,
    /// Set when the grid is shutting down.
    pub stopping: bool,
}

impl State {
    /// The tile with this name.
    pub fn tile(&self, name: &str) -> Result<&Tile, String> {
        let i = self.index(name)?;
        Ok(&self.tiles[i])
    }

    /// The tile with this name, to change.
    pub fn tile_mut(&mut self, name: &str) -> Result<&mut Tile, String> {
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
    /// The `itc-files` that were running or being stopped, now collected.
    pub files: usize,
    /// Those of them that did not exit 0 (`itcd of r0c1`), with their
    /// status.
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

    /// Starts every tile's daemons and waits until all serve (every
    /// `itcd` first, then every `itc-files`); returns the tiles that did
    /// not come up, with the reason. Fails without waiting if a process
    /// cannot be started at all.
    pub fn start_all(&self) -> Result<Vec<(String, String)>, String> {
        let mut failed: Vec<(String, String)> = Vec::new();
        for which in [Which::Itcd, Which::Files] {
            let starting: Vec<(String, Starting)> = {
                let mut state = self.lock();
                state.check_running()?;
                let mut starting = Vec::with_capacity(state.tiles.len());
                for tile in &mut state.tiles {
                    if failed.iter().any(|(name, _)| *name == tile.name) {
                        continue;
                    }
                    if let Some(s) = tile.spawn(which)? {
                        starting.push((tile.name.clone(), s));
                    }
                }
                starting
            };
            let deadline = Instant::now() + START_DEADLINE;
            failed.extend(
                starting
                    .into_iter()
                    .filter_map(|(name, s)| s.wait(deadline).err().map(|e| (name, e))),
            );
        }
        Ok(failed)
    }

    /// Starts `name`'s daemons that do not run (its `itcd` first) and
    /// waits until they serve.
    pub fn start_tile(&self, name: &str) -> Result<(), String> {
        for which in [Which::Itcd, Which::Files] {
            let starting = {
                let mut state = self.lock();
                state.check_running()?;
                let tile = state.tile_mut(name)?;
                if which == Which::Itcd && tile.all_running() {
                    let pid = tile.pid().unwrap_or_default();
                    return Err(format!("{name} is already running (pid {pid})"));
                }
                tile.spawn(which)?
            };
            if let Some(s) = starting {
                s.wait(Instant::now() + START_DEADLINE)?;
            }
        }
        Ok(())
    }

    /// Stops `name`'s daemons (its `itc-files` first) with SIGTERM
    /// (SIGKILL after [`STOP_DEADLINE`]), collects them, and makes sure
    /// its tree is unmounted.
    pub fn stop_tile(&self, name: &str) -> Result<(), String> {
        let mount = {
            let state = self.lock();
            state.check_running()?;
            let tile = state.tile(name)?;
            if tile.status() == Status::Stopping {
                return Err(format!("{name} is already stopping"));
            }
            if !tile.any_running() {
                return Err(format!("{name} is not running"));
            }
            tile.mount.clone()
        };
        for which in [Which::Files, Which::Itcd] {
            let waits = {
                let mut state = self.lock();
                state.check_running()?;
                let tile = state.tile_mut(name)?;
                match tile.daemon_mut(which) {
                    Some(d) => {
                        d.terminate()?;
                        d.exit_fd()
                            .map(|fd| vec![(name.to_owned(), which, fd)])
                            .unwrap_or_default()
                    }
                    None => Vec::new(),
                }
            };
            self.wait_or_kill(&waits)?;
            if let Ok(tile) = self.lock().tile_mut(name) {
                for (_, label, how) in tile.reap() {
                    // Its other daemon may have gone meanwhile.
                    if let Reaped::OnItsOwn(status) = how {
                        note(&format!("{label} exited: {status}"));
                    }
                }
            }
        }
        mounts::detach_if_mounted(&mount)
    }

    /// Stops every daemon as [`Shared::stop_tile`] does, all tiles at once
    /// (every `itc-files`, then every `itcd`), and refuses to start any
    /// from now on. Returns what became of the daemons; a daemon that
    /// exited on its own before it was stopped, and other problems, are
    /// reported on stderr.
    pub fn stop_all(&self) -> Stopped {
        for which in [Which::Files, Which::Itcd] {
            let waits: Vec<(String, Which, OwnedFd)> = {
                let mut state = self.lock();
                state.stopping = true;
                let mut waits = Vec::new();
                for tile in &mut state.tiles {
                    let name = tile.name.clone();
                    let Some(d) = tile.daemon_mut(which) else {
                        continue;
                    };
                    if let Err(e) = d.terminate() {
                        note(&e);
                    }
                    // A daemon being stopped by a control request is
                    // waited for too.
                    if let Some(fd) = d.exit_fd() {
                        waits.push((name, which, fd));
                    }
                }
                waits
            };
            if let Err(e) = self.wait_or_kill(&waits) {
                note(&e);
            }
        }
        let mut stopped = Stopped::default();
        let mounts: Vec<_> = {
            let mut state = self.lock();
            for tile in &mut state.tiles {
                for (which, label, how) in tile.reap() {
                    match how {
                        Reaped::Stopped(status) => {
                            match which {
                                Which::Itcd => stopped.itcds += 1,
                                Which::Files => stopped.files += 1,
                            }
                            if !status.success() {
                                stopped.failed.push((label, status));
                            }
                        }
                        Reaped::OnItsOwn(status) => note(&format!("{label} exited: {status}")),
                    }
                }
            }
            state.tiles.iter().map(|t| t.mount.clone()).collect()
        };
        // One look at the mount table for all of them: with a thousand
        // trees, reading it once per tile costs more than the rest.
        for mount in mounts::still_mounted(&mounts) {
            if let Err(e) = mounts::detach_if_mounted(&mount) {
                note(&e);
            }
        }
        stopped
    }

    /// Collects every daemon that has exited; returns those that exited on
    /// their own (`itcd of r0c1`), with their status.
    pub fn reap(&self) -> Vec<(String, ExitStatus)> {
        let mut state = self.lock();
        state
            .tiles
            .iter_mut()
            .flat_map(|t| t.reap())
            .filter_map(|(_, label, how)| match how {
                Reaped::OnItsOwn(status) => Some((label, status)),
                Reaped::Stopped(_) => None,
            })
            .collect()
    }

    /// Waits for the processes behind `waits` to exit; SIGKILLs those that
    /// have not after [`STOP_DEADLINE`] and waits for them as long again.
    fn wait_or_kill(&self, waits: &[(String, Which, OwnedFd)]) -> Result<(), String> {
        let deadline = Instant::now() + STOP_DEADLINE;
        let mut late = Vec::new();
        for (name, which, fd) in waits {
            if !process::wait_exit(fd, deadline)? {
                late.push((name, *which, fd));
            }
        }
        if late.is_empty() {
            return Ok(());
        }
        let mut labels = Vec::new();
        {
            let mut state = self.lock();
            for (name, which, _) in &late {
                if let Some(d) = state.tile_mut(name).ok().and_then(|t| t.daemon_mut(*which)) {
                    note(&format!(
                        "the {} did not stop within {} s; killing it",
                        d.label,
                        STOP_DEADLINE.as_secs()
                    ));
                    d.kill();
                    labels.push(d.label.clone());
                } else {
                    labels.push(name.to_string());
                }
            }
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        for ((_, _, fd), label) in late.into_iter().zip(labels) {
            if !process::wait_exit(fd, deadline)? {
                return Err(format!("the {label} survived SIGKILL"));
            }
        }
        Ok(())
    }
}
