//! The control side of a running packet model: commands to the loop, the
//! published counters, and an orderly stop.
//!
//! Every command method returns once the loop has applied the command (or
//! the loop has stopped), so its effects are visible to
//! [`PacketModel::stats`] and the next command. Dropping the handle stops
//! the loop, closes every socket and removes the socket files.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Waker;
use tracing::error;

use super::engine::Command;
use crate::error::Error;
use crate::host_port::SocketFiles;
use crate::model::{FirmwareCounters, LinkModel};
use crate::stats::SimStats;
use crate::wires::{TileId, Wires};
use itc_proto::{Dir, Pru};

/// What the loop publishes.
#[derive(Debug)]
struct Published {
    stats: SimStats,
    /// The number of the last command applied.
    applied: u64,
    running: bool,
    /// Threads waiting on `changed`: while there are any, the loop
    /// publishes after every turn; while there are none and nothing is
    /// `wanted`, it publishes nothing (a turn is a few packets, and the
    /// counters of a large grid are a megabyte).
    waiters: usize,
    /// A reader asked for the counters as they are now.
    wanted: bool,
    /// Publications so far.
    publications: u64,
}

/// State shared between the loop and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<Published>,
    changed: Condvar,
}

impl Shared {
    /// Shared state starting from `stats`, loop running.
    pub(crate) fn new(stats: SimStats) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(Published {
                stats,
                applied: 0,
                running: true,
                waiters: 0,
                wanted: false,
                publications: 0,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Published> {
        // The loop never panics while holding the lock; a poisoned lock
        // still holds consistent counters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether anyone waits for a publication: the loop publishes only
    /// then.
    pub(crate) fn wanted(&self) -> bool {
        let state = self.lock();
        state.wanted || state.waiters > 0
    }

    /// Publishes the loop's counters and the last command applied.
    pub(crate) fn publish(&self, stats: &SimStats, applied: u64) {
        let mut state = self.lock();
        state.stats.clone_from(stats);
        state.applied = applied;
        state.wanted = false;
        state.publications += 1;
        let waiting = state.waiters > 0;
        drop(state);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// Waits for the next publication, at most `timeout`.
    fn wait<'a>(
        &self,
        mut state: MutexGuard<'a, Published>,
        timeout: Duration,
    ) -> MutexGuard<'a, Published> {
        state.waiters += 1;
        let mut state = self
            .changed
            .wait_timeout(state, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        state.waiters -= 1;
        state
    }

    /// Marks the loop stopped when dropped, however the loop ended.
    pub(crate) fn stop_guard(self: &Arc<Shared>) -> StopGuard {
        StopGuard(Arc::clone(self))
    }
}

/// See [`Shared::stop_guard`].
pub(crate) struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.lock().running = false;
        self.0.changed.notify_all();
    }
}

/// The command channel and the number of the last command sent, locked
/// together so that numbers reach the loop in order.
#[derive(Debug)]
struct Submit {
    tx: Sender<(u64, Command)>,
    sent: u64,
}

/// A running packet model. See the [module documentation](super).
#[derive(Debug)]
pub struct PacketModel {
    shared: Arc<Shared>,
    submit: Mutex<Submit>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
    wires: Wires,
    /// Removed after the loop has stopped (fields drop after `drop`).
    _files: SocketFiles,
}

impl PacketModel {
    /// Checks `wires`, binds every socket (replacing stale socket files),
    /// and starts the loop thread. The sockets accept connections as soon
    /// as this returns.
    pub fn start(wires: Wires) -> Result<PacketModel, Error> {
        super::start(wires)
    }

    pub(crate) fn new(
        shared: Arc<Shared>,
        tx: Sender<(u64, Command)>,
        waker: Waker,
        thread: JoinHandle<()>,
        wires: Wires,
        files: SocketFiles,
    ) -> PacketModel {
        PacketModel {
            shared,
            submit: Mutex::new(Submit { tx, sent: 0 }),
            waker,
            thread: Some(thread),
            wires,
            _files: files,
        }
    }

    /// Cuts the wire at `tile`'s `dir`: both ends' hosts get
    /// `0xc3 'T' dir8`, packets in flight are dropped and counted.
    pub fn cut(&self, tile: TileId, dir: Dir) {
        self.command(Command::Cut { tile: tile.0, dir });
    }

    /// Reconnects the wire at `tile`'s `dir`: both ends' hosts get
    /// `0xc3 'P' dir8`.
    pub fn restore(&self, tile: TileId, dir: Dir) {
        self.command(Command::Restore { tile: tile.0, dir });
    }

    /// Delivers `msg` unchanged to the host of `tile`'s `pru`, as if the PRU
    /// sent it (dropped and counted if that host has not started).
    pub fn inject(&self, tile: TileId, pru: Pru, msg: Vec<u8>) {
        self.command(Command::Inject {
            tile: tile.0,
            pru,
            msg,
        });
    }

    /// The next `n` packets `from` sends toward `dir` arrive with EROR set
    /// (payload unchanged).
    pub fn damage_next(&self, from: TileId, dir: Dir, n: u32) {
        self.command(Command::DamageNext {
            tile: from.0,
            dir,
            n,
        });
    }

    /// The next `n` packets `from` sends toward `dir` arrive with OVRN set.
    pub fn overrun_next(&self, from: TileId, dir: Dir, n: u32) {
        self.command(Command::OverrunNext {
            tile: from.0,
            dir,
            n,
        });
    }

    /// True once the host connected to `tile`'s `pru` has sent its start
    /// message (and has not gone since).
    pub fn host_started(&self, tile: TileId, pru: Pru) -> bool {
        let state = self.fresh();
        state
            .stats
            .tiles
            .get(tile.0)
            .is_some_and(|t| t.prus[pru.index()].started)
    }

    /// True while `tile` has a wire toward `dir` that is not cut.
    pub fn link_up(&self, tile: TileId, dir: Dir) -> bool {
        let state = self.fresh();
        state
            .stats
            .tiles
            .get(tile.0)
            .is_some_and(|t| t.links[dir.index()].up)
    }

    /// Waits until `f` holds for the counters or `deadline` passes; returns
    /// whether it held. Wakes whenever the loop publishes. `f` runs with the
    /// counters locked, so it must not call this handle's methods.
    pub fn wait_until(&self, deadline: Instant, f: impl Fn(&SimStats) -> bool) -> bool {
        let mut state = self.fresh();
        loop {
            if f(&state.stats) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.shared.wait(state, deadline - now);
        }
    }

    /// A copy of the counters as they are at the loop's next turn (as
    /// last published, once the loop has stopped).
    pub fn stats(&self) -> SimStats {
        self.fresh().stats.clone()
    }

    /// The counters, locked, once the loop has published them after this
    /// call: it publishes only when asked.
    fn fresh(&self) -> MutexGuard<'_, Published> {
        let mut state = self.shared.lock();
        if !state.running {
            return state;
        }
        let seen = state.publications;
        state.wanted = true;
        drop(state);
        if let Err(e) = self.waker.wake() {
            error!("cannot wake the emulator loop: {e}");
            return self.shared.lock();
        }
        let mut state = self.shared.lock();
        while state.running && state.publications == seen {
            state = self.shared.wait(state, Duration::from_secs(3600));
        }
        state
    }

    /// True until the loop has stopped.
    pub fn is_running(&self) -> bool {
        self.shared.lock().running
    }

    /// The socket a host connects to for `tile`'s `pru`.
    pub fn pru_socket(&self, tile: TileId, pru: Pru) -> PathBuf {
        self.wires.pru_socket(tile, pru)
    }

    /// The name `tile` was added with.
    pub fn tile_name(&self, tile: TileId) -> &str {
        &self.wires.names()[tile.0]
    }

    /// The tile with this name.
    pub fn tile(&self, name: &str) -> Option<TileId> {
        self.wires.tile(name)
    }

    /// Every tile, in the order added.
    pub fn tiles(&self) -> impl Iterator<Item = TileId> {
        (0..self.wires.names().len()).map(TileId)
    }

    /// Stops the loop, closes every socket and removes the socket files.
    pub fn shutdown(self) {
        // Drop does the work.
    }

    /// Sends a command and waits until the loop has applied it.
    fn command(&self, command: Command) {
        let number = {
            let mut submit = self.submit.lock().unwrap_or_else(PoisonError::into_inner);
            let number = submit.sent + 1;
            if submit.tx.send((number, command)).is_err() {
                return; // the loop has stopped
            }
            submit.sent = number;
            number
        };
        if let Err(e) = self.waker.wake() {
            error!("cannot wake the emulator loop: {e}");
            return;
        }
        let mut state = self.shared.lock();
        while state.running && state.applied < number {
            state = self.shared.wait(state, Duration::from_secs(3600));
        }
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        {
            let submit = self.submit.lock().unwrap_or_else(PoisonError::into_inner);
            // An error means the loop is already gone; join regardless.
            let _ = submit.tx.send((submit.sent + 1, Command::Shutdown));
        }
        if let Err(e) = self.waker.wake() {
            error!("cannot wake the emulator loop to stop it: {e}");
        }
        if thread.join().is_err() {
            error!("the emulator thread panicked");
        }
    }
}

impl Drop for PacketModel {
    fn drop(&mut self) {
        self.stop();
    }
}

impl LinkModel for PacketModel {
    fn start(wires: Wires) -> Result<PacketModel, Error> {
        PacketModel::start(wires)
    }

    fn name(&self) -> &'static str {
        super::NAME
    }

    fn cut(&self, tile: TileId, dir: Dir) {
        PacketModel::cut(self, tile, dir);
    }

    fn restore(&self, tile: TileId, dir: Dir) {
        PacketModel::restore(self, tile, dir);
    }

    fn stats(&self) -> SimStats {
        PacketModel::stats(self)
    }

    fn firmware_counters(&self, _tile: TileId, _dir: Dir) -> Result<FirmwareCounters, Error> {
        Err(Error::NoFirmware { model: super::NAME })
    }

    fn stop(self: Box<Self>) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PacketModel>();
    }
}
