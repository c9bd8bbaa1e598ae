//! Outstanding requests: at most one per caller key, each with its
//! destination, its payload (to send again), how often it was tried and
//! how long the current try may take. No I/O, no timers: the service arms
//! a timer per key and asks [`Requests::expire`] what to do when it fires.
//!
//! Back-off: the first try waits [`RetryPolicy::timeout`], each retry twice
//! as long as the one before, at most [`RetryPolicy::max_timeout`]; after
//! [`RetryPolicy::max_tries`] tries in all the request fails.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

use itc_proto::Dir;

/// What a request key must be: a small value the caller picks, such as
/// `(Dir, u32)` for (source, piece).
pub trait Key: Clone + Eq + Hash + fmt::Debug {}

impl<T: Clone + Eq + Hash + fmt::Debug> Key for T {}

/// How a request is timed out and retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long the first try waits for its reply (default 500 ms).
    pub timeout: Duration,
    /// Tries in all, the first included (default 4; at least 1).
    pub max_tries: u32,
    /// The longest wait of any try (default 8 s).
    pub max_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            timeout: Duration::from_millis(500),
            max_tries: 4,
            max_timeout: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// `max_tries` tries, the first waiting `timeout`, each next one twice
    /// as long (capped at 16 times `timeout`).
    pub fn new(timeout: Duration, max_tries: u32) -> RetryPolicy {
        RetryPolicy {
            timeout,
            max_tries: max_tries.max(1),
            max_timeout: timeout.saturating_mul(16),
        }
    }

    /// Caps each try's wait at `max`.
    pub fn max_timeout(mut self, max: Duration) -> RetryPolicy {
        self.max_timeout = max;
        self
    }

    /// The wait of the try after one that waited `current`.
    pub fn next_timeout(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.max_timeout)
    }

    /// The first try's wait.
    fn first_timeout(&self) -> Duration {
        self.timeout.min(self.max_timeout)
    }
}

/// Why a request ended without the caller completing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No reply after this many tries.
    TimedOut {
        /// Tries made, the first included.
        tries: u32,
    },
    /// The neighbour it was sent to went away (or the whole tree did).
    Disconnected(Dir),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimedOut { tries } => write!(f, "no reply after {tries} tries"),
            Failure::Disconnected(d) => write!(f, "the neighbour at {d} went away"),
        }
    }
}

/// One outstanding request.
#[derive(Debug)]
struct Pending {
    dir: Dir,
    payload: Box<[u8]>,
    policy: RetryPolicy,
    tries: u32,
    timeout: Duration,
    /// The tag of its latest copy in the outbound queue.
    tag: u64,
}

/// What to do when a request's timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// Send it again and wait `timeout`.
    Resend {
        /// Where it goes.
        dir: Dir,
        /// How long this try waits.
        timeout: Duration,
    },
    /// It failed after `tries` tries and is no longer outstanding.
    GiveUp {
        /// Tries made.
        tries: u32,
    },
}

/// The outstanding requests by key.
#[derive(Debug)]
pub struct Requests<K> {
    pending: HashMap<K, Pending>,
}

impl<K: Key> Default for Requests<K> {
    fn default() -> Self {
        Requests::new()
    }
}

impl<K: Key> Requests<K> {
    /// None outstanding.
    pub fn new() -> Requests<K> {
        Requests {
            pending: HashMap::new(),
        }
    }

    /// Records the first try of `key`, whose packet is queued with `tag`;
    /// returns how long it waits, or `None` if `key` is already
    /// outstanding (nothing changes then).
    pub fn start(
        &mut self,
        key: K,
        dir: Dir,
        payload: &[u8],
        policy: RetryPolicy,
        tag: u64,
    ) -> Option<Duration> {
        if self.pending.contains_key(&key) {
            return None;
        }
        let timeout = policy.first_timeout();
        self.pending.insert(
            key,
            Pending {
                dir,
                payload: payload.into(),
                policy,
                tries: 1,
                timeout,
                tag,
            },
        );
        Some(timeout)
    }

    /// Whether `key` is outstanding.
    pub fn contains(&self, key: &K) -> bool {
        self.pending.contains_key(key)
    }

    /// Where `key` went, the tag of its latest copy and its current wait.
    pub fn current(&self, key: &K) -> Option<(Dir, u64, Duration)> {
        self.pending.get(key).map(|p| (p.dir, p.tag, p.timeout))
    }

    /// The payload of `key`, to send again.
    pub fn payload(&self, key: &K) -> Option<&[u8]> {
        self.pending.get(key).map(|p| &*p.payload)
    }

    /// Notes that the latest copy of `key` is queued with `tag`.
    pub fn set_tag(&mut self, key: &K, tag: u64) {
        if let Some(p) = self.pending.get_mut(key) {
            p.tag = tag;
        }
    }

    /// `key`'s try timed out: the next try, or the end of the request
    /// (which then is no longer outstanding). `None` if `key` is not
    /// outstanding.
    pub fn expire(&mut self, key: &K) -> Option<OnTimeout> {
        let p = self.pending.get_mut(key)?;
        if p.tries >= p.policy.max_tries {
            let tries = p.tries;
            self.pending.remove(key);
            return Some(OnTimeout::GiveUp { tries });
        }
        p.tries += 1;
        p.timeout = p.policy.next_timeout(p.timeout);
        Some(OnTimeout::Resend {
            dir: p.dir,
            timeout: p.timeout,
        })
    }

    /// Ends `key` because its reply came; false if it was not outstanding
    /// (a late or duplicate reply).
    pub fn complete(&mut self, key: &K) -> bool {
        self.pending.remove(key).is_some()
    }

    /// Ends every request sent to `dir` and returns their keys.
    pub fn take_dir(&mut self, dir: Dir) -> Vec<K> {
        let keys: Vec<K> = self
            .pending
            .iter()
            .filter(|(_, p)| p.dir == dir)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.pending.remove(k);
        }
        keys
    }

    /// Outstanding requests to `dir` (a window's fill).
    pub fn in_flight(&self, dir: Dir) -> usize {
        self.pending.values().filter(|p| p.dir == dir).count()
    }

    /// Outstanding requests in all.
    pub fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn one_outstanding_per_key() {
        let mut r = Requests::new();
        let policy = RetryPolicy::new(ms(100), 3);
        assert_eq!(
            r.start((Dir::ET, 1), Dir::ET, b"a", policy, 1),
            Some(ms(100))
        );
        assert_eq!(r.start((Dir::ET, 1), Dir::ET, b"b", policy, 2), None);
        assert_eq!(r.payload(&(Dir::ET, 1)), Some(&b"a"[..]));
        assert_eq!(
            r.start((Dir::WT, 1), Dir::WT, b"c", policy, 3),
            Some(ms(100))
        );
        assert_eq!(
            (r.in_flight(Dir::ET), r.in_flight(Dir::WT), r.len()),
            (1, 1, 2)
        );
        assert!(r.complete(&(Dir::ET, 1)));
        assert!(!r.complete(&(Dir::ET, 1)), "a duplicate reply");
        assert_eq!(
            r.start((Dir::ET, 1), Dir::ET, b"d", policy, 4),
            Some(ms(100))
        );
    }

    #[test]
    fn retries_back_off_then_give_up() {
        let mut r = Requests::new();
        let policy = RetryPolicy::new(ms(100), 4).max_timeout(ms(300));
        r.start(9u32, Dir::SE, b"x", policy, 1).unwrap();
        let resend = |timeout| {
            Some(OnTimeout::Resend {
                dir: Dir::SE,
                timeout,
            })
        };
        assert_eq!(r.expire(&9), resend(ms(200)));
        assert_eq!(r.expire(&9), resend(ms(300)), "capped");
        assert_eq!(r.expire(&9), resend(ms(300)));
        assert_eq!(r.expire(&9), Some(OnTimeout::GiveUp { tries: 4 }));
        assert!(!r.contains(&9));
        assert_eq!(r.expire(&9), None);
    }

    #[test]
    fn a_single_try_gives_up_at_its_first_timeout() {
        let mut r = Requests::new();
        r.start(1u8, Dir::NE, b"", RetryPolicy::new(ms(10), 0), 0)
            .unwrap();
        assert_eq!(r.expire(&1), Some(OnTimeout::GiveUp { tries: 1 }));
    }

    #[test]
    fn a_neighbour_leaving_ends_its_requests_only() {
        let mut r = Requests::new();
        let p = RetryPolicy::default();
        r.start(1u8, Dir::NE, b"", p, 1).unwrap();
        r.start(2u8, Dir::NE, b"", p, 2).unwrap();
        r.start(3u8, Dir::SW, b"", p, 3).unwrap();
        let mut gone = r.take_dir(Dir::NE);
        gone.sort();
        assert_eq!(gone, [1, 2]);
        assert!(r.contains(&3) && r.len() == 1);
        r.set_tag(&3, 42);
        assert_eq!(r.current(&3), Some((Dir::SW, 42, ms(500))));
    }
}
