//! What a service is configured with: which tree and service, how deep its
//! outbound queues are (the throttling knob), how requests are retried and
//! how quickly a lost tree is reopened.
//!
//! Nothing here does I/O except reading `$ITC_MOUNT` in [`default_mount`];
//! the service number is checked when the service opens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::requests::RetryPolicy;

/// Where `itcd` mounts its tree on a board.
pub const DEFAULT_MOUNT: &str = "/run/itc";

/// The tree to use when none is given: `$ITC_MOUNT` if set and not empty,
/// else [`DEFAULT_MOUNT`] (as `itc` does).
pub fn default_mount() -> PathBuf {
    match std::env::var_os("ITC_MOUNT") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_MOUNT),
    }
}

/// The packet file of service `service` in the tree mounted at `mount`:
/// `MOUNT/itc/svc/NN`, two digits.
pub fn packet_file(mount: &Path, service: u8) -> PathBuf {
    mount.join("itc/svc").join(format!("{service:02}"))
}

/// How a service runs. Build with [`Config::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The tree's mount point (default [`default_mount`]).
    pub mount: PathBuf,
    /// The service number, 2..=63 (16..=63 for applications).
    pub service: u8,
    /// Packets each direction's outbound queue holds before
    /// [`crate::Service::send`] refuses with `QueueFull` (default 32). A
    /// smaller queue throttles the sender sooner.
    pub queue_limit: usize,
    /// How requests are timed out and retried unless a request says
    /// otherwise.
    pub retry: RetryPolicy,
    /// The first pause before reopening a lost tree (default 100 ms); it
    /// doubles with each failed attempt...
    pub reopen_min: Duration,
    /// ...up to this (default 2 s).
    pub reopen_max: Duration,
    /// When the tree is not there at start (`itcd` not yet running), wait
    /// for it as after a restart instead of failing (default false).
    pub wait_for_tree: bool,
}

impl Config {
    /// Defaults for service `service` in [`default_mount`].
    pub fn new(service: u8) -> Config {
        Config {
            mount: default_mount(),
            service,
            queue_limit: 32,
            retry: RetryPolicy::default(),
            reopen_min: Duration::from_millis(100),
            reopen_max: Duration::from_secs(2),
            wait_for_tree: false,
        }
    }

    /// Uses the tree mounted at `mount`.
    pub fn mount(mut self, mount: impl Into<PathBuf>) -> Config {
        self.mount = mount.into();
        self
    }

    /// Bounds each direction's outbound queue to `packets` (at least 1).
    pub fn queue_limit(mut self, packets: usize) -> Config {
        self.queue_limit = packets.max(1);
        self
    }

    /// Retries requests by `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Config {
        self.retry = policy;
        self
    }

    /// Reopens a lost tree after `min`, doubling up to `max`.
    pub fn reopen_backoff(mut self, min: Duration, max: Duration) -> Config {
        self.reopen_min = min;
        self.reopen_max = max.max(min);
        self
    }

    /// Waits for a tree that is not there at start.
    pub fn wait_for_tree(mut self, wait: bool) -> Config {
        self.wait_for_tree = wait;
        self
    }

    /// The packet file this configuration opens.
    pub fn path(&self) -> PathBuf {
        packet_file(&self.mount, self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_two_digits() {
        assert_eq!(
            Config::new(8).mount("/t").path(),
            PathBuf::from("/t/itc/svc/08")
        );
        assert_eq!(
            packet_file(Path::new("/run/itc"), 20),
            PathBuf::from("/run/itc/itc/svc/20")
        );
    }

    #[test]
    fn setters_keep_bounds_sane() {
        let c = Config::new(20)
            .queue_limit(0)
            .reopen_backoff(Duration::from_secs(3), Duration::from_secs(1));
        assert_eq!(c.queue_limit, 1);
        assert_eq!(c.reopen_max, Duration::from_secs(3));
    }
}
