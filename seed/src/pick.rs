//! Random choices over the generator's one `ChaCha8Rng` stream: uniform
//! integers, coin flips, uniform and weighted picks from tables, shuffles.
//!
//! The city is byte-identical for a seed only as long as these draw from the
//! stream in exactly the same way; change them and the city changes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Uniform integer in `[lo, hi]`; `lo` (drawing nothing) if the range is empty.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: i32, hi: i32) -> i32 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// A uniformly chosen entry of `list`; `""` (drawing nothing) if it is empty.
pub(crate) fn pick_str(rng: &mut ChaCha8Rng, list: &'static [&'static str]) -> &'static str {
    if list.is_empty() {
        return "";
    }
    let i = rng.random_range(0..list.len() as u32) as usize;
    list.get(i).copied().unwrap_or("")
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        v.swap(i, j);
    }
}

/// A weighted choice table built once from a static slice.
pub(crate) struct Weighted<T: 'static> {
    items: &'static [T],
    cum: Vec<u32>,
    total: u32,
}

impl<T: 'static> Weighted<T> {
    /// A table over `items` (which must not be empty), weighted by `weight`.
    pub(crate) fn new(items: &'static [T], weight: impl Fn(&T) -> u32) -> Self {
        let mut total = 0u32;
        let cum = items
            .iter()
            .map(|it| {
                total += weight(it);
                total
            })
            .collect();
        Self { items, cum, total }
    }

    /// Index of a weighted random entry (0 if every weight is zero).
    pub(crate) fn pick_index(&self, rng: &mut ChaCha8Rng) -> usize {
        if self.total == 0 {
            return 0;
        }
        let r = rng.random_range(0..self.total);
        self.cum
            .partition_point(|&c| c <= r)
            .min(self.items.len().saturating_sub(1))
    }

    /// A weighted random entry.
    pub(crate) fn pick(&self, rng: &mut ChaCha8Rng) -> &'static T {
        let items: &'static [T] = self.items;
        &items[self.pick_index(rng)]
    }
}
