//! A transfer's rate: bytes per second over the last few seconds, from a
//! bounded list of samples. Time is passed in. No I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the rate looks.
pub const WINDOW: Duration = Duration::from_secs(5);
/// The most samples kept; older ones go first.
const MAX_SAMPLES: usize = 64;

/// Samples of a growing byte count.
#[derive(Debug, Clone, Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// No samples.
    pub fn new() -> Rate {
        Rate::default()
    }

    /// Notes that `total` bytes had arrived at `now`.
    pub fn record(&mut self, now: Instant, total: u64) {
        while self.samples.len() >= MAX_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
        self.samples.push_back((now, total));
    }

    /// Bytes per second from the samples of the window before `now` up to
    /// `now`; 0 without two samples.
    pub fn per_sec(&self, now: Instant) -> f64 {
        let recent: Vec<&(Instant, u64)> = self
            .samples
            .iter()
            .filter(|(t, _)| now.saturating_duration_since(*t) <= WINDOW)
            .collect();
        let (Some(first), Some(last)) = (recent.first(), recent.last()) else {
            return 0.0;
        };
        let secs = now.saturating_duration_since(first.0).as_secs_f64();
        if recent.len() < 2 || secs <= 0.0 {
            return 0.0;
        }
        (last.1 - first.1) as f64 / secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_bytes_over_the_window_and_fades_when_idle() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut r = Rate::new();
        assert_eq!(r.per_sec(t0), 0.0);
        for i in 0..=10u64 {
            r.record(t0 + ms(100 * i), 1000 * i);
        }
        let at_1s = r.per_sec(t0 + ms(1000));
        assert!((at_1s - 10_000.0).abs() < 1.0, "{at_1s}");
        assert!(r.per_sec(t0 + ms(2000)) < at_1s);
        assert_eq!(r.per_sec(t0 + ms(7000)), 0.0);
    }

    #[test]
    fn samples_are_bounded() {
        let t0 = Instant::now();
        let mut r = Rate::new();
        for i in 0..1000u64 {
            r.record(t0 + Duration::from_micros(i), i);
        }
        assert!(r.samples.len() <= MAX_SAMPLES);
    }
}
