//! Keyed one-shot timers in a heap. No I/O, no clock of its own: callers
//! pass the time in, which keeps the queue testable.
//!
//! A key has at most one deadline: setting it again moves it, cancelling
//! removes it. Moved or cancelled entries stay in the heap until they come
//! up and are then skipped; the heap is rebuilt when such stale entries
//! outnumber the live ones, so re-arming a timer often does not grow it.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// One heap entry; ordered by time, then by when it was set.
#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    seq: u64,
    key: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed, so that the max-heap yields the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Timers keyed by `T`.
#[derive(Debug)]
pub struct Timers<T> {
    heap: BinaryHeap<Entry<T>>,
    /// The live entry of each key: its sequence number.
    live: HashMap<T, u64>,
    next_seq: u64,
}

impl<T: Clone + Eq + Hash> Default for Timers<T> {
    fn default() -> Self {
        Timers::new()
    }
}

impl<T: Clone + Eq + Hash> Timers<T> {
    /// No timers.
    pub fn new() -> Timers<T> {
        Timers {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Fires `key` at `at`, replacing its earlier deadline if any.
    pub fn set(&mut self, key: T, at: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.live.insert(key.clone(), seq);
        self.heap.push(Entry { at, seq, key });
        if self.heap.len() > 2 * self.live.len() + 64 {
            self.compact();
        }
    }

    /// Removes `key`'s deadline; true if it had one.
    pub fn cancel(&mut self, key: &T) -> bool {
        self.live.remove(key).is_some()
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_stale();
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns a key whose deadline is at or before `now`,
    /// earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        self.skip_stale();
        if self.heap.peek()?.at > now {
            return None;
        }
        let e = self.heap.pop()?;
        self.live.remove(&e.key);
        Some(e.key)
    }

    fn is_live(&self, e: &Entry<T>) -> bool {
        self.live.get(&e.key) == Some(&e.seq)
    }

    fn skip_stale(&mut self) {
        while let Some(e) = self.heap.peek() {
            if self.is_live(e) {
                break;
            }
            self.heap.pop();
        }
    }

    fn compact(&mut self) {
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap.into_iter().filter(|e| self.is_live(e)).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut t = Timers::new();
        t.set("b", t0 + ms(20));
        t.set("a", t0 + ms(10));
        t.set("c", t0 + ms(10));
        assert_eq!(t.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(t.pop_due(t0 + ms(5)), None);
        assert_eq!(t.pop_due(t0 + ms(10)), Some("a"));
        assert_eq!(t.pop_due(t0 + ms(10)), Some("c"), "same time: set order");
        assert_eq!(t.pop_due(t0 + ms(10)), None);
        assert_eq!(t.pop_due(t0 + ms(30)), Some("b"));
        assert!(t.live.is_empty() && t.next_deadline().is_none());
    }

    #[test]
    fn setting_again_moves_and_cancel_removes() {
        let t0 = Instant::now();
        let mut t = Timers::new();
        t.set(1, t0 + ms(10));
        t.set(1, t0 + ms(50));
        t.set(2, t0 + ms(20));
        assert!(t.cancel(&2));
        assert!(!t.cancel(&2));
        assert_eq!(t.live.len(), 1);
        assert_eq!(t.next_deadline(), Some(t0 + ms(50)));
        assert_eq!(t.pop_due(t0 + ms(40)), None);
        assert_eq!(t.pop_due(t0 + ms(50)), Some(1));
        assert!(!t.live.contains_key(&1));
    }

    #[test]
    fn re_arming_often_does_not_grow_the_heap() {
        let t0 = Instant::now();
        let mut t = Timers::new();
        for i in 0..10_000u64 {
            t.set(7u8, t0 + ms(i));
        }
        assert!(t.heap.len() <= 2 * t.live.len() + 65, "{}", t.heap.len());
        assert_eq!(t.pop_due(t0 + ms(20_000)), Some(7));
        assert_eq!(t.pop_due(t0 + ms(20_000)), None);
    }
}
