//! The one small seeded pseudo-random generator of the emulator (loss and
//! corruption on packet wires, bit flips on firmware wires) and of the
//! tests' random choices: xorshift64* with a splitmix64-scrambled seed.
//!
//! Not cryptographic. The same seed always gives the same sequence, so a run
//! that lost or damaged packets in an interesting way can be repeated.
#![deny(unsafe_code)]

/// A seeded generator (xorshift64* state; never zero).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

/// Any non-zero state works; this one replaces the (unlikely) zero result.
const NONZERO_STATE: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator for `seed`; nearby seeds give unrelated sequences.
    pub fn new(seed: u64) -> Rng {
        // splitmix64 finaliser: spreads small or similar seeds over all bits.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let state = if z == 0 { NONZERO_STATE } else { z };
        Rng { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`; 0 and below never, 1 and above always.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.next_f64() < p
        }
    }

    /// Uniform in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// One of `items`, which must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn small_seeds_are_spread_over_all_bits() {
        // So that the first draws are not near 0 (a flip at once).
        for seed in [0, 1, 42] {
            let state = Rng::new(seed).state;
            assert!(state.count_ones() > 16, "seed {seed}: {state:#x}");
        }
    }

    #[test]
    fn nearby_seeds_differ_and_zero_seed_works() {
        let mut a = Rng::new(0);
        let mut b = Rng::new(1);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_ne!(xs, ys);
        assert!(xs.iter().any(|&x| x != 0));
    }

    #[test]
    fn floats_in_unit_interval_and_chance_roughly_right() {
        let mut r = Rng::new(42);
        let mut hits = 0;
        for _ in 0..10_000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
            if r.chance(0.25) {
                hits += 1;
            }
        }
        assert!((2_000..3_000).contains(&hits), "hits {hits}");
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(3);
        let mut seen = [false; 5];
        for _ in 0..1_000 {
            seen[r.below(5)] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.bytes(7).len(), 7);
        assert!([3, 4].contains(r.pick(&[3, 4])));
    }
}
