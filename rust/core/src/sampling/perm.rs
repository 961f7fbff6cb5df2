//! Keyed random permutations of `0..n` that are never materialised.
//!
//! Class-aware sampling (Kang et al. 2020; Shen et al. 2016) walks each class's examples
//! in a fresh random order, each used once before any repeats. Storing one shuffled
//! copy per class would cost `n` extra words, so instead the `r`-th element of a cycle
//! is computed on demand by a 6-round Feistel network (an explicit shuffle below 65 items) over the next power of two
//! `>= n`, with cycle-walking to stay inside `0..n` (Black & Rogaway 2002). A Feistel
//! network is a bijection for any round function, so every cycle is a permutation.

use crate::rng::{block_rng, bounded, hash_words, mix64};

/// A keyed bijection on `0..n`.
#[derive(Debug, Clone, Copy)]
pub struct Perm {
    n: u64,
    rbits: u32,
    lmask: u64,
    rmask: u64,
    keys: [u64; ROUNDS],
    /// Tiny domains: an explicit Fisher-Yates shuffle (a Feistel network over a few
    /// bits can only reach a few, unevenly weighted permutations).
    small: [u8; SMALL],
}

/// Domains up to this size are shuffled explicitly.
const SMALL: usize = 64;
/// Rounds of the network: six keep the bias small even for 4-bit halves.
const ROUNDS: usize = 6;

impl Perm {
    /// The permutation of `0..n` for `key` (any 64-bit value).
    pub fn new(n: u64, key: u64) -> Self {
        // The domain is 0..2**bits with 2**bits < 2n, so cycle-walking takes fewer than
        // two network passes on average. The halves may differ by one bit: each round
        // updates one half from the other (an alternating, unbalanced Feistel network),
        // which is invertible whatever the sizes.
        let bits = if n <= 1 {
            1
        } else {
            64 - (n - 1).leading_zeros()
        };
        let lbits = bits / 2;
        let rbits = bits - lbits;
        let mask = |b: u32| if b >= 64 { u64::MAX } else { (1u64 << b) - 1 };
        let mut keys = [0u64; ROUNDS];
        for (i, k) in keys.iter_mut().enumerate() {
            *k = mix64(key ^ (i as u64 + 1));
        }
        let mut small = [0u8; SMALL];
        if n as usize <= SMALL {
            let mut rng = block_rng(key, 0, 0, 0);
            for (i, v) in small.iter_mut().enumerate().take(n as usize) {
                *v = i as u8;
            }
            for i in (1..n as usize).rev() {
                let j = bounded(&mut rng, i as u64 + 1) as usize;
                small.swap(i, j);
            }
        }
        Perm {
            n,
            rbits,
            lmask: mask(lbits),
            rmask: mask(rbits),
            keys,
            small,
        }
    }

    /// The permutation for `(seed, epoch, stream, class, cycle)`.
    pub fn keyed(n: u64, seed: u64, epoch: u64, stream: u64, class: u64, cycle: u64) -> Self {
        Perm::new(n, hash_words(&[seed, epoch, stream, class, cycle]))
    }

    #[inline]
    fn network(&self, x: u64) -> u64 {
        let mut l = x >> self.rbits;
        let mut r = x & self.rmask;
        for k in self.keys.chunks_exact(2) {
            l ^= mix64(r ^ k[0]) & self.lmask;
            r ^= mix64(l ^ k[1]) & self.rmask;
        }
        (l << self.rbits) | r
    }

    /// Image of `i` (`i < n`).
    #[inline]
    pub fn apply(&self, i: u64) -> u64 {
        if self.n <= SMALL as u64 {
            return self.small[i as usize] as u64;
        }
        let mut x = i;
        // Cycle-walking: the domain is below 2n, so under two steps on average; it ends
        // because the network's cycle through i < n comes back below n.
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
    fn images_are_close_to_uniform_over_keys() {
        for n in [3u64, 6, 17, 65, 100, 300] {
            let mut hits = vec![0u32; n as usize];
            let keys = 10_000 * n;
            for key in 0..keys {
                hits[Perm::new(n, key).apply(1) as usize] += 1;
            }
            // About 10000 each; 5 sigma is ~500.
            assert!(
                hits.iter().all(|&h| (9_500..10_500).contains(&h)),
                "{n}: {hits:?}"
            );
        }
    }

    #[test]
    fn keys_give_different_orders() {
        let a: Vec<u64> = (0..50).map(|i| Perm::new(50, 1).apply(i)).collect();
        let b: Vec<u64> = (0..50).map(|i| Perm::new(50, 2).apply(i)).collect();
        assert_ne!(a, b);
    }
}
