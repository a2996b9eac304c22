//! A tiny deterministic pseudo-random number generator (SplitMix64).
//!
//! The generator is written here rather than taken from a crate so that the
//! synthetic data can never change because a dependency changed its algorithm:
//! benchmarks and golden tests compare runs across months. SplitMix64 is not
//! cryptographic, which is fine for synthetic data, and is fast, has a 64-bit
//! state that any value seeds well, and passes BigCrush.

/// The SplitMix64 increment: 2^64 divided by the golden ratio, made odd.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function, a bijection on `u64` with good avalanche.
///
/// Being a bijection matters: distinct inputs (such as member indices) are
/// guaranteed to give distinct outputs.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// The stream for one member: a pure function of `(seed, index)`.
    ///
    /// The index is spread by an odd multiplier and the result mixed, so
    /// neighbouring indices start far apart in the SplitMix64 sequence and
    /// their streams do not overlap in practice.
    pub(crate) const fn for_member(seed: u64, index: u64) -> Self {
        Self {
            state: mix(mix(seed) ^ index.wrapping_mul(GOLDEN)),
        }
    }

    /// A stream from a fixed seed, for seed-independent tables.
    pub(crate) const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// A uniform value in `0..n` (0 when `n` is 0).
    ///
    /// Lemire's multiply-shift: one multiplication and no division; the bias
    /// is below n / 2^64, far too small to see.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform value in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.saturating_sub(lo).max(0) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen element. `items` must not be empty.
    pub(crate) fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An element chosen with a linear skew towards the front of the list:
    /// the minimum of two uniform draws, so the first entry is about twice as
    /// likely as the middle one and the last is rare. `items` must not be
    /// empty.
    pub(crate) fn pick_skewed<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        let n = items.len() as u64;
        items[self.below(n).min(self.below(n)) as usize]
    }

    /// An element chosen by weight (weights in thousandths summing to 1000).
    pub(crate) fn pick_weighted<'a>(&mut self, items: &[(&'a str, u64)]) -> &'a str {
        let mut roll = self.below(1000);
        for &(item, weight) in items {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        // Unreachable while the weights sum to 1000 (a unit test checks);
        // falling back to the first entry keeps this total.
        items.first().map_or("", |&(item, _)| item)
    }
}
