//! The event loop's timers: a min-heap of deadlines.
//!
//! Entries are never cancelled; an entry whose reason has gone (a wire was
//! cut, a host reconnected) fires and finds nothing to do. Entries due at the
//! same instant fire in the order they were added.
#![deny(unsafe_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Why the loop must wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A packet on `wire`'s lane leaving `side` may have arrived.
    Arrival { wire: usize, side: usize },
    /// Time for PRU `pru`'s monitor report, if its host connection is still
    /// the one numbered `generation`.
    Monitor { pru: usize, generation: u64 },
}

/// A min-heap of timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    added: u64,
}

impl Timers {
    /// Wakes the loop for `timer` at `at`.
    pub(crate) fn add(&mut self, at: Instant, timer: Timer) {
        self.added += 1;
        self.heap.push(Reverse((at, self.added, timer)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns a timer due by `now`, earliest first.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, t))| t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = Timers::default();
        let mon = |pru| Timer::Monitor { pru, generation: 0 };
        timers.add(t0 + ms(20), mon(2));
        timers.add(t0 + ms(10), mon(1));
        timers.add(t0 + ms(20), mon(3));
        assert_eq!(timers.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(timers.pop_due(t0 + ms(5)), None);
        assert_eq!(timers.pop_due(t0 + ms(30)), Some(mon(1)));
        assert_eq!(timers.pop_due(t0 + ms(30)), Some(mon(2)));
        assert_eq!(timers.pop_due(t0 + ms(30)), Some(mon(3)));
        assert_eq!(timers.pop_due(t0 + ms(30)), None);
        assert_eq!(timers.next_deadline(), None);
    }
}
