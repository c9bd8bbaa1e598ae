//! Bit errors on the firmware model's wires: which bits are flipped while
//! the wires are stepped, and where the next error falls while they are
//! frozen.
//!
//! Stepping, each lane (a direction of an uncut wire) takes a trial per
//! bit, flipped with probability P, lanes in wire order within a bit
//! ([`Noise::flip`]).
//!
//! Why the receivers see, with frozen idle wires, what stepping every idle
//! bit would show them:
//!
//! - Over the sequence of trials the number of clean ones before the first
//!   error is geometric, P(K >= k) = (1 - P)^k, so the loop draws K once
//!   (from the same seeded generator) instead of every trial: the error is
//!   on bit K / lanes, lane K % lanes, and the lanes after it in that bit
//!   and every later bit take their trials as usual. The geometric
//!   distribution is memoryless: given no error in the first j trials, the
//!   rest is geometric again. So a draw may be dropped and made afresh
//!   whenever the frozen stretch ends early (a host message, a restore) or
//!   the lanes change (a cut).
//! - The grid freezes only quiescent and [`SETTLE_BITS`] after the last
//!   error ([`Noise::settled`]): every wire carries delimiters only, every
//!   transmitter is idle and every receiver restarts its empty frame at
//!   each flag (or has timed out on a cut wire, which takes no noise). The
//!   whole state but the counters and timers then repeats every
//!   [`IDLE_PERIOD_BITS`]. Freezing happens at whatever bit of the flag
//!   each wire is on (the loop looks at batch ends, and a transmitter is
//!   idle from the first bit of the flag after a frame's closing one), and
//!   the frozen state is the state the stepped grid would be in any whole
//!   number of periods later. So the loop skips `S`, the most whole
//!   periods up to bit K / lanes: it sleeps their wall time (credited to
//!   the timers as any frozen time is), resumes in the state stepping them
//!   would have left, and steps the rest, fewer than a period, with
//!   K - S * lanes trials clean and the next one flipped. The error lands
//!   on the bit of the flag, and the lane, that stepping every bit would
//!   have hit, each position of the pattern with its own probability.
//! - Nothing else changes while idle: runts need an error, and the timers
//!   (monitor reports) are credited for frozen time with
//!   `itc_fw_advance_idle`.
#![deny(unsafe_code)]

use std::time::{Duration, Instant};

use crate::rng::Rng;

/// The idle delimiter pattern's period in bits: a wire carrying only
/// delimiters, and each end of it, is back in the same state every this
/// many bits (the transmitter's 8-bit flag, its clock toggling every bit,
/// the receiver restarting its empty frame at every flag).
pub(super) const IDLE_PERIOD_BITS: u64 = 8;

/// Clean bits stepped after the last bit error before the grid may freeze
/// again: a flag follows the damaged one within 7 bits and takes 8, and the
/// receiver samples a bit a step after it goes out, so after 16 every
/// receiver has closed the noise (as a runt, or as a dropped frame or an
/// abort whose skipping keeps it from being quiescent) and restarted at a
/// clean delimiter; from
/// then on its state repeats with the idle pattern. One period more as
/// margin.
pub(super) const SETTLE_BITS: u64 = 3 * IDLE_PERIOD_BITS;

/// The next bit error on the frozen idle wires, drawn when the grid goes
/// quiescent.
#[derive(Debug, Clone, Copy)]
struct IdleError {
    /// When the skipped periods end at the idle bit rate.
    due: Instant,
    /// Trials to step clean when stepping resumes; the next is flipped.
    clean_trials: u64,
}

/// The noise on every wire of a grid.
#[derive(Debug)]
pub(super) struct Noise {
    /// Probability of flipping each data bit; 0 is none.
    p: f64,
    rng: Rng,
    /// While frozen: the next bit error.
    idle: Option<IdleError>,
    /// While stepping: trials left clean before a drawn error, which is
    /// flipped instead of drawing its trial.
    next_error: Option<u64>,
    /// Bits stepped since a bit was last flipped.
    clean_bits: u64,
}

impl Noise {
    /// Flips each bit with probability `p`, from a generator seeded with
    /// `seed`.
    pub(super) fn new(p: f64, seed: u64) -> Noise {
        Noise {
            p,
            rng: Rng::new(seed),
            idle: None,
            next_error: None,
            clean_bits: 0,
        }
    }

    /// Whether the next lane's bit is flipped: a drawn error, or a trial.
    /// Never without noise.
    pub(super) fn flip(&mut self) -> bool {
        if self.p <= 0.0 {
            return false;
        }
        let flip = match self.next_error {
            Some(0) => {
                self.next_error = None;
                true
            }
            Some(k) => {
                self.next_error = Some(k - 1);
                false
            }
            None => self.rng.chance(self.p),
        };
        if flip {
            self.clean_bits = 0;
        }
        flip
    }

    /// Every lane took its trial for one more bit.
    pub(super) fn bit_done(&mut self) {
        self.clean_bits = self.clean_bits.saturating_add(1);
    }

    /// True if the wires may freeze as far as noise goes: none at all, or
    /// [`SETTLE_BITS`] clean and no drawn error left to step.
    pub(super) fn settled(&self) -> bool {
        self.p <= 0.0 || (self.clean_bits >= SETTLE_BITS && self.next_error.is_none())
    }

    /// True while stepping toward a drawn error.
    pub(super) fn error_pending(&self) -> bool {
        self.next_error.is_some()
    }

    /// Drops the drawn idle error: stepping resumed early, or the lanes
    /// changed.
    pub(super) fn forget_idle(&mut self) {
        self.idle = None;
    }

    /// When the drawn idle error is due, if one is.
    pub(super) fn idle_due(&self) -> Option<Instant> {
        self.idle.map(|e| e.due)
    }

    /// Draws the next error on `lanes` frozen idle lanes from `from`, at
    /// `idle_bps` bits per second, unless one is drawn already. None is
    /// drawn without noise or lanes, or if it would fall after the end of
    /// time.
    pub(super) fn draw_idle(&mut self, from: Instant, lanes: u64, idle_bps: u64) {
        if self.p <= 0.0 || self.idle.is_some() || lanes == 0 {
            return;
        }
        let k = self.clean_trials();
        let bit = k / lanes;
        let skip = bit - bit % IDLE_PERIOD_BITS;
        let Ok(wait) = Duration::try_from_secs_f64(skip as f64 / idle_bps as f64) else {
            return;
        };
        self.idle = from.checked_add(wait).map(|due| IdleError {
            due,
            clean_trials: k - skip * lanes,
        });
    }

    /// If the drawn idle error is due by `now`: makes stepping flip it
    /// after its clean trials and returns when it was due (the frozen time
    /// to credit ends there, and stepping resumes from there).
    pub(super) fn take_due(&mut self, now: Instant) -> Option<Instant> {
        let error = self.idle.filter(|e| e.due <= now)?;
        self.next_error = Some(error.clean_trials);
        self.idle = None;
        Some(error.due)
    }

    /// Clean trials before the next flipped one: geometric, by inversion.
    fn clean_trials(&mut self) -> u64 {
        if self.p >= 1.0 {
            return 0;
        }
        // In (0, 1], so the logarithm is finite; the cast saturates.
        let u = 1.0 - self.rng.next_f64();
        (u.ln() / (-self.p).ln_1p()).floor() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_noise_never_flips_nor_draws() {
        let mut n = Noise::new(0.0, 1);
        assert!((0..1000).all(|_| !n.flip()));
        assert!(n.settled());
        n.draw_idle(Instant::now(), 4, 1000);
        assert_eq!(n.idle_due(), None);
    }

    #[test]
    fn a_due_idle_error_is_flipped_after_its_clean_trials() {
        let mut n = Noise::new(1e-3, 7);
        let t0 = Instant::now();
        n.draw_idle(t0, 2, 1_000_000);
        let due = n.idle_due().expect("an error drawn");
        assert!(due >= t0);
        assert_eq!(n.take_due(t0 + Duration::from_secs(3600)), Some(due));
        assert!(n.error_pending());
        assert!(!n.settled());
        // The drawn error comes within one idle period of both lanes.
        let flipped = (0..2 * IDLE_PERIOD_BITS).position(|_| n.flip());
        assert!(flipped.is_some(), "the drawn error was not flipped");
        assert!(!n.error_pending());
        for _ in 0..SETTLE_BITS {
            n.bit_done();
        }
        assert!(n.settled());
    }

    #[test]
    fn certain_noise_flips_every_bit() {
        let mut n = Noise::new(1.0, 3);
        assert!((0..100).all(|_| n.flip()));
        n.draw_idle(Instant::now(), 2, 1000);
        assert!(n.take_due(Instant::now()).is_some());
    }
}
