//! The log lines of link and neighbour changes, rate limited per
//! direction. A PRU whose link status flaps, or a neighbour that comes and
//! goes, would otherwise write lines as fast as it sends messages.
//!
//! Each direction may write [`LINES_PER_WINDOW`] lines per [`WINDOW`];
//! further lines in that window are counted, not written. Once the window
//! has ended, one line says how many were suppressed: before the
//! direction's next line, or when the tile's timers next run
//! ([`LinkLog::expire`], due at [`LinkLog::next_deadline`]), whichever
//! comes first. Nothing here decides what is logged, only whether.

use std::fmt;
use std::time::{Duration, Instant};

use itc_proto::Dir;

/// The window over which lines are counted.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Lines a direction may write per [`WINDOW`].
pub const LINES_PER_WINDOW: u32 = 10;

/// One direction's window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Limit {
    /// Start of the current window; `None` before the first line.
    start: Option<Instant>,
    /// Lines written in it.
    written: u32,
    /// Lines not written, not yet reported.
    suppressed: u64,
}

impl Limit {
    /// The count of suppressed lines, if their window has ended by `now`
    /// (then reported: it starts again from 0).
    fn flush(&mut self, now: Instant) -> Option<u64> {
        let due = self.deadline()?;
        if now < due {
            return None;
        }
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Whether a line at `now` may be written (if not, it is counted).
    fn admit(&mut self, now: Instant) -> bool {
        if self.start.is_none_or(|s| now >= s + WINDOW) {
            self.start = Some(now);
            self.written = 0;
        }
        if self.written < LINES_PER_WINDOW {
            self.written += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// When suppressed lines are due to be reported.
    fn deadline(&self) -> Option<Instant> {
        match (self.suppressed, self.start) {
            (0, _) | (_, None) => None,
            (_, Some(s)) => Some(s + WINDOW),
        }
    }
}

/// The rate-limited log of the six directions' link and neighbour changes.
#[derive(Debug, Default)]
pub struct LinkLog {
    limits: [Limit; 6],
}

impl LinkLog {
    /// Log `line`, about `dir`, at `now`, unless `dir` has written its
    /// share of this window.
    pub fn info(&mut self, dir: Dir, now: Instant, line: fmt::Arguments<'_>) {
        let limit = &mut self.limits[dir.index()];
        if let Some(n) = limit.flush(now) {
            report(dir, n);
        }
        if limit.admit(now) {
            tracing::info!("{line}");
        }
    }

    /// Report the suppressed lines whose window has ended by `now`.
    pub fn expire(&mut self, now: Instant) {
        for (dir, limit) in Dir::ALL.into_iter().zip(&mut self.limits) {
            if let Some(n) = limit.flush(now) {
                report(dir, n);
            }
        }
    }

    /// The earliest time [`LinkLog::expire`] has something to report.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.limits.iter().filter_map(Limit::deadline).min()
    }
}

fn report(dir: Dir, n: u64) {
    tracing::info!(
        "{dir}: {n} similar messages suppressed (more than {LINES_PER_WINDOW} a second)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_admits_its_share_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut l = Limit::default();
        assert_eq!(l.deadline(), None);
        for i in 0..LINES_PER_WINDOW {
            assert!(
                l.admit(t0 + Duration::from_millis(u64::from(i))),
                "line {i}"
            );
        }
        for _ in 0..25 {
            assert!(!l.admit(t0 + Duration::from_millis(500)));
        }
        assert_eq!(l.deadline(), Some(t0 + WINDOW));
        assert_eq!(l.flush(t0 + WINDOW - Duration::from_nanos(1)), None);
        assert_eq!(l.flush(t0 + WINDOW), Some(25));
        assert_eq!(l.flush(t0 + WINDOW), None, "reported once");
        assert_eq!(l.deadline(), None);
        // The next window starts with the next line.
        assert!(l.admit(t0 + WINDOW + Duration::from_millis(3)));
    }

    #[test]
    fn quiet_directions_have_nothing_due() {
        let t0 = Instant::now();
        let mut log = LinkLog::default();
        for _ in 0..LINES_PER_WINDOW {
            log.info(Dir::ET, t0, format_args!("ET: link up"));
        }
        assert_eq!(log.next_deadline(), None, "nothing suppressed yet");
        log.info(Dir::ET, t0, format_args!("ET: link up"));
        log.info(Dir::WT, t0, format_args!("WT: link up"));
        assert_eq!(log.next_deadline(), Some(t0 + WINDOW));
        log.expire(t0 + WINDOW);
        assert_eq!(log.next_deadline(), None);
        assert_eq!(log.limits[Dir::ET.index()].suppressed, 0);
    }
}
