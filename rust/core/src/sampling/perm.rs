//! Keyed random permutations of `0..n` that are never materialised.
//!
//! Class-aware sampling (Kang et al. 2020; Shen et al. 2016) walks each class's examples
//! in a fresh random order, each used once before any repeats. Storing one shuffled
//! copy per class would cost `n` extra words, so instead the `r`-th element of a cycle
//! is computed on demand by a 4-round Feistel network over the next even power of two
//! `>= n`, with cycle-walking to stay inside `0..n` (Black & Rogaway 2002). A Feistel
//! network is a bijection for any round function, so every cycle is a permutation.

use crate::rng::{hash_words, mix64};

/// A keyed bijection on `0..n`.
#[derive(Debug, Clone, Copy)]
pub struct Perm {
    n: u64,
    half: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Perm {
    /// The permutation of `0..n` for `key` (any 64-bit value).
    pub fn new(n: u64, key: u64) -> Self {
        // Bits of the smallest even power of two >= n (at least 2).
        let bits = if n <= 1 {
            2
        } else {
            64 - (n - 1).leading_zeros()
        };
        let bits = (bits + 1) & !1;
        let half = (bits / 2).max(1);
        let mask = if half >= 64 {
            u64::MAX
        } else {
            (1u64 << half) - 1
        };
        let keys = [
            mix64(key ^ 0x1),
            mix64(key ^ 0x2),
            mix64(key ^ 0x3),
            mix64(key ^ 0x4),
        ];
        Perm {
            n,
            half,
            mask,
            keys,
        }
    }

    /// The permutation for `(seed, epoch, stream, class, cycle)`.
    pub fn keyed(n: u64, seed: u64, epoch: u64, stream: u64, class: u64, cycle: u64) -> Self {
        Perm::new(n, hash_words(&[seed, epoch, stream, class, cycle]))
    }

    #[inline]
    fn network(&self, x: u64) -> u64 {
        let mut l = x >> self.half;
        let mut r = x & self.mask;
        for k in self.keys {
            let t = l ^ (mix64(r ^ k) & self.mask);
            l = r;
            r = t;
        }
        (l << self.half) | r
    }

    /// Image of `i` (`i < n`).
    #[inline]
    pub fn apply(&self, i: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let mut x = i;
        // Cycle-walking: the domain is at most 4n, so about 4 steps at worst on average;
        // it ends because the network's cycle through i < n comes back below n.
        loop {
            x = self.network(x);
            if x < self.n {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_permutation_for_many_sizes() {
        for n in [1u64, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100, 1000, 4097] {
            for key in 0..3 {
                let p = Perm::new(n, key);
                let mut seen = vec![false; n as usize];
                for i in 0..n {
                    let v = p.apply(i) as usize;
                    assert!(!seen[v]);
                    seen[v] = true;
                }
            }
        }
    }

    #[test]
    fn keys_give_different_orders() {
        let a: Vec<u64> = (0..50).map(|i| Perm::new(50, 1).apply(i)).collect();
        let b: Vec<u64> = (0..50).map(|i| Perm::new(50, 2).apply(i)).collect();
        assert_ne!(a, b);
    }
}
