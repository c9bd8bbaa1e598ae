//! Round-trip time statistics for `itc ping`: min, average, max and mean
//! deviation, as `ping` reports them.

use std::time::Duration;

/// Running statistics over round-trip times.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttStats {
    count: u64,
    min_ms: f64,
    max_ms: f64,
    sum_ms: f64,
    sum_sq_ms: f64,
}

impl RttStats {
    /// Adds one round-trip time.
    pub fn add(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        if self.count == 0 || ms > self.max_ms {
            self.max_ms = ms;
        }
        self.count += 1;
        self.sum_ms += ms;
        self.sum_sq_ms += ms * ms;
    }

    /// `rtt min/avg/max/mdev = a/b/c/d ms`, or `None` with no samples.
    pub fn summary(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let n = self.count as f64;
        let avg = self.sum_ms / n;
        // Mean deviation as ping computes it: sqrt(E[x^2] - E[x]^2).
        let mdev = (self.sum_sq_ms / n - avg * avg).max(0.0).sqrt();
        Some(format!(
            "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
            self.min_ms, avg, self.max_ms, mdev
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_has_no_summary() {
        assert_eq!(RttStats::default().summary(), None);
    }

    #[test]
    fn min_avg_max_mdev() {
        let mut s = RttStats::default();
        for us in [1000, 2000, 3000] {
            s.add(Duration::from_micros(us));
        }
        assert_eq!(
            s.summary().unwrap(),
            "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms"
        );
    }
}
