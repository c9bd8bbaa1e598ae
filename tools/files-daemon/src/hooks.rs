//! Hooks: after a version goes live, `HOOKS/NAME` runs if it is an
//! executable file, with the name, version, id and live path in its
//! environment:
//!
//! ```text
//! ITC_FILE_NAME=physics.mfz  ITC_FILE_VERSION=1700000000
//! ITC_FILE_ID=<64 hex digits>  ITC_FILE_PATH=/var/lib/itc-files/live/physics.mfz
//! ITC_STORE=/var/lib/itc-files
//! ```
//!
//! Rules:
//! - A hook never blocks the daemon: it runs as a child process in a
//!   process group of its own, collected when SIGCHLD arrives (the daemon
//!   reads it from its signalfd), and killed with its group after the
//!   time-out.
//! - The store's hook record says "running" before the hook starts and its
//!   outcome after (`exit 0`, `exit 3`, `signal 9`, `timed out after 60 s`,
//!   `cannot start: ...`), so a hook runs once per install, never again for
//!   the same version, not even after a crash or restart, and a failing
//!   hook is never re-run in a loop.
//! - One run per name at a time: a newer install that arrives while a hook
//!   runs waits for it, and only the newest waiting install runs next.
//! - A hook's outcome never stops distribution.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itc_files::{HookLog, Name};
use itc_service::Service;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::counters::Counters;
use crate::node::Installed;
use crate::timers;

/// How long a hook may run by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Running {
    job: Installed,
    child: Child,
    token: u64,
    started: Instant,
}

/// The hooks directory and the hooks running from it.
#[derive(Debug)]
pub struct Hooks {
    dir: PathBuf,
    store: PathBuf,
    timeout: Duration,
    log: HookLog,
    running: BTreeMap<Name, Running>,
    waiting: BTreeMap<Name, Installed>,
    next_token: u64,
}

impl Hooks {
    /// Hooks from `dir`, recorded in `log`, for the store at `store`.
    pub fn new(dir: &Path, store: &Path, timeout: Duration, log: HookLog) -> Hooks {
        Hooks {
            dir: dir.to_owned(),
            store: store.to_owned(),
            timeout,
            log,
            running: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_token: 0,
        }
    }

    /// The executable hook for `name`, if there is one.
    fn hook_for(&self, name: &Name) -> Option<PathBuf> {
        let path = self.dir.join(name.as_str());
        let meta = std::fs::metadata(&path).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
    }

    /// Runs the hook of an install that just went live (or that went live
    /// while no hook ran for it: at start), unless it ran for it already.
    pub fn installed(&mut self, svc: &mut Service, job: Installed, counters: &mut Counters) {
        if !self.log.is_due(&job.name, job.stamp) || self.hook_for(&job.name).is_none() {
            return;
        }
        if self.running.contains_key(&job.name) {
            self.waiting.insert(job.name.clone(), job);
            return;
        }
        self.start(svc, job, counters);
    }

    fn start(&mut self, svc: &mut Service, job: Installed, counters: &mut Counters) {
        let Some(hook) = self.hook_for(&job.name) else {
            return;
        };
        if !self.log.is_due(&job.name, job.stamp) {
            return;
        }
        // Recorded before it starts: a crash while it runs does not run it
        // again.
        if let Err(e) = self.log.record(&job.name, job.stamp, "running") {
            tracing::error!("hook for {}: not started: {e}", job.name);
            return;
        }
        let mut cmd = Command::new(&hook);
        cmd.env("ITC_FILE_NAME", job.name.as_str())
            .env("ITC_FILE_VERSION", job.stamp.version.to_string())
            .env("ITC_FILE_ID", job.stamp.id.to_string())
            .env("ITC_FILE_PATH", &job.path)
            .env("ITC_STORE", &self.store)
            .current_dir("/")
            .stdin(Stdio::null())
            .process_group(0);
        counters.hooks_run += 1;
        match cmd.spawn() {
            Ok(child) => {
                tracing::info!(
                    "hook {} started for version {} (pid {})",
                    hook.display(),
                    job.stamp.version,
                    child.id()
                );
                self.next_token += 1;
                let token = timers::HOOK_BASE + self.next_token;
                svc.set_timer(self.timeout, token);
                self.running.insert(
                    job.name.clone(),
                    Running {
                        job,
                        child,
                        token,
                        started: Instant::now(),
                    },
                );
            }
            Err(e) => {
                counters.hooks_failed += 1;
                tracing::error!("hook {}: cannot start: {e}", hook.display());
                self.finish(&job, &format!("cannot start: {e}"));
            }
        }
    }

    fn finish(&self, job: &Installed, status: &str) {
        if let Err(e) = self.log.record(&job.name, job.stamp, status) {
            tracing::error!("hook for {}: cannot record {status:?}: {e}", job.name);
        }
    }

    /// SIGCHLD: collects the hooks that ended and starts those waiting.
    pub fn reap(&mut self, svc: &mut Service, counters: &mut Counters) {
        let mut ended = Vec::new();
        for (name, r) in &mut self.running {
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let text = match (status.code(), status.signal()) {
                        (Some(c), _) => format!("exit {c}"),
                        (None, Some(s)) => format!("signal {s}"),
                        _ => status.to_string(),
                    };
                    ended.push((name.clone(), text, status.success()));
                }
                Ok(None) => {}
                Err(e) => ended.push((name.clone(), format!("cannot wait: {e}"), false)),
            }
        }
        for (name, text, ok) in ended {
            self.end(svc, &name, &text, ok, counters);
        }
    }

    /// A hook's time-out token fired: kills its process group; SIGCHLD
    /// collects it.
    pub fn timed_out(&mut self, svc: &mut Service, token: u64, counters: &mut Counters) {
        let Some(name) = self
            .running
            .iter()
            .find(|(_, r)| r.token == token)
            .map(|(n, _)| n.clone())
        else {
            return;
        };
        let r = &mut self.running.get_mut(&name).expect("found above");
        let pid = Pid::from_raw(r.child.id() as i32);
        tracing::warn!(
            "hook for {name} still running after {} s; killing it",
            self.timeout.as_secs()
        );
        let _ = killpg(pid, Signal::SIGKILL);
        // Collected here, so the record says why it ended.
        let _ = r.child.wait();
        let text = format!("timed out after {} s", self.timeout.as_secs());
        self.end(svc, &name, &text, false, counters);
    }

    fn end(
        &mut self,
        svc: &mut Service,
        name: &Name,
        text: &str,
        ok: bool,
        counters: &mut Counters,
    ) {
        let Some(r) = self.running.remove(name) else {
            return;
        };
        svc.cancel_timer(r.token);
        if !ok {
            counters.hooks_failed += 1;
        }
        let took = r.started.elapsed();
        if ok {
            tracing::info!(
                "hook for {name} version {}: {text} ({took:.1?})",
                r.job.stamp.version
            );
        } else {
            tracing::warn!(
                "hook for {name} version {}: {text} ({took:.1?})",
                r.job.stamp.version
            );
        }
        self.finish(&r.job, text);
        if let Some(next) = self.waiting.remove(name) {
            self.start(svc, next, counters);
        }
    }

    /// Kills every running hook (the daemon is stopping); their records
    /// say so.
    pub fn stop_all(&mut self) {
        for (name, mut r) in std::mem::take(&mut self.running) {
            let _ = killpg(Pid::from_raw(r.child.id() as i32), Signal::SIGKILL);
            let _ = r.child.wait();
            tracing::warn!("hook for {name} killed: the daemon is stopping");
            self.finish(&r.job, "killed: the daemon stopped");
        }
    }
}
