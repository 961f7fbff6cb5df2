//! Walker's alias method (Walker 1977; Vose 1991) for O(1) weighted draws.
//!
//! The table is built by one linear *sweep* (Hübschle-Schneider & Sanders 2019,
//! "Parallel weighted random sampling", sweeping construction): two cursors walk the
//! light (`q <= 1`) and heavy (`q > 1`) items in index order, so no worklists are
//! needed and the only memory is the table itself (8 bytes of probability plus a
//! 4- or 8-byte alias per item). That is what lets `WeightedSampler` hold 3e8 weights.

use rand_core::RngCore;
use rayon::prelude::*;

use super::Idx;
use crate::rng::{bounded, uniform, Rng};
use crate::{Error, Result};

/// An alias table: draw a column `k` uniformly, keep it with probability `prob[k]`,
/// else take `alias[k]`.
#[derive(Debug, Clone)]
pub struct AliasTable<I: Idx> {
    pub prob: Vec<f64>,
    pub alias: Vec<I>,
}

/// Check that `weights` is non-empty and each weight is finite and `>= 0`.
pub fn check_weights(weights: &[f64], arg: &str) -> Result<()> {
    if weights.is_empty() {
        return Err(Error::value(arg, "must not be empty"));
    }
    let bad = weights
        .par_iter()
        .with_min_len(1 << 14)
        .any(|w| !w.is_finite() || *w < 0.0);
    if bad {
        return Err(Error::value(
            arg,
            "must be finite and non-negative (found NaN, infinity or a negative value)",
        ));
    }
    Ok(())
}

/// Sum of `weights` after [`check_weights`]; errors unless positive and finite.
pub fn checked_sum(weights: &[f64], arg: &str) -> Result<f64> {
    check_weights(weights, arg)?;
    // Pairwise-ish: per-chunk sums then a sum of those, in a fixed chunking so the
    // result does not depend on the thread count.
    let total: f64 = weights
        .par_chunks(1 << 16)
        .map(|c| c.iter().sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    if total <= 0.0 || !total.is_finite() {
        return Err(Error::value(
            arg,
            "must have a positive, finite sum (all weights are zero or they overflow)",
        ));
    }
    Ok(total)
}

impl<I: Idx> AliasTable<I> {
    /// Build the table for `weights` (finite, `>= 0`, positive sum; checked here).
    pub fn new(weights: &[f64], arg: &str) -> Result<Self> {
        let n = weights.len();
        let total = checked_sum(weights, arg)?;
        // w / total first: it cannot overflow, even for tiny (subnormal) totals.
        let nf = n as f64;
        let q = |k: usize| weights[k] / total * nf;
        let mut prob = vec![1.0f64; n];
        let mut alias: Vec<I> = (0..n as u64).into_par_iter().map(I::from_u64).collect();

        let next_light = |from: usize| (from..n).find(|&k| q(k) <= 1.0).unwrap_or(n);
        let next_heavy = |from: usize| (from..n).find(|&k| q(k) > 1.0).unwrap_or(n);
        let mut i = next_light(0);
        let mut j = next_heavy(0);
        // Residual mass of the current heavy item j.
        let mut r = if j < n { q(j) } else { 0.0 };
        while j < n {
            if r > 1.0 {
                if i >= n {
                    break;
                }
                // Light item i tops up its column with the heavy item j.
                prob[i] = q(i);
                alias[i] = I::from_u64(j as u64);
                r -= 1.0 - q(i);
                i = next_light(i + 1);
            } else {
                // j has become light: its column is topped up by the next heavy item.
                let jn = next_heavy(j + 1);
                if jn >= n {
                    break;
                }
                prob[j] = r;
                alias[j] = I::from_u64(jn as u64);
                r = q(jn) - (1.0 - r);
                j = jn;
            }
        }
        // Whatever is left (rounding) keeps its column with probability 1; a light item
        // left unpaired only happens through rounding, so its column is already full.
        Ok(AliasTable { prob, alias })
    }

    /// One draw from one 64-bit word: the high half of `x * n` is the column (Lemire's
    /// multiply-and-reject, so columns are exactly uniform), and the low half, uniform
    /// within the column up to a step of `n / 2**64`, is the coin. Used for the class
    /// tables, where `n` (the number of classes) is small next to 2**64.
    #[inline]
    pub fn draw(&self, rng: &mut Rng) -> u64 {
        let n = self.prob.len() as u64;
        loop {
            let m = (rng.next_u64() as u128) * (n as u128);
            let lo = m as u64;
            if lo < n && lo < n.wrapping_neg() % n {
                continue;
            }
            let k = (m >> 64) as usize;
            let u = (lo >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            return if u < self.prob[k] {
                k as u64
            } else {
                self.alias[k].to_u64()
            };
        }
    }
}

/// Draw from a table given as two slices (from numpy); both are checked.
#[inline]
pub fn draw_from<I: Idx>(prob: &[f64], alias: &[I], rng: &mut Rng) -> u64 {
    let k = bounded(rng, prob.len() as u64) as usize;
    if uniform(rng) < prob[k] {
        k as u64
    } else {
        alias[k].to_u64()
    }
}

/// Check a table that came from outside (shapes and ranges), so draws cannot index
/// out of bounds.
pub fn check_table<I: Idx>(prob: &[f64], alias: &[I]) -> Result<()> {
    if prob.is_empty() || prob.len() != alias.len() {
        return Err(Error::value(
            "alias",
            "prob and alias must be non-empty and of equal length",
        ));
    }
    let n = prob.len() as u64;
    if alias.par_iter().any(|a| a.to_u64() >= n) {
        return Err(Error::value("alias", "entry out of range"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::block_rng;

    fn exact_masses(t: &AliasTable<u32>) -> Vec<f64> {
        let n = t.prob.len();
        let mut m = vec![0.0; n];
        for k in 0..n {
            m[k] += t.prob[k] / n as f64;
            m[t.alias[k] as usize] += (1.0 - t.prob[k]) / n as f64;
        }
        m
    }

    #[test]
    fn table_reproduces_the_weights_exactly() {
        let cases: Vec<Vec<f64>> = vec![
            vec![1.0],
            vec![0.0, 1.0],
            vec![1.0, 2.0, 3.0, 4.0],
            vec![10.0, 0.0, 0.0, 0.0, 1.0],
            (0..1000).map(|i| 1.0 / (1.0 + i as f64)).collect(),
            (0..997).map(|i| ((i * 7919) % 13) as f64).collect(),
        ];
        for w in cases {
            let t = AliasTable::<u32>::new(&w, "weights").unwrap();
            let s: f64 = w.iter().sum();
            for (a, b) in exact_masses(&t).iter().zip(&w) {
                assert!((a - b / s).abs() < 1e-12, "{a} vs {}", b / s);
            }
        }
    }

    #[test]
    fn draws_follow_the_weights() {
        let w = [1.0, 0.0, 3.0];
        let t = AliasTable::<u64>::new(&w, "weights").unwrap();
        let mut rng = block_rng(1, 0, 0, 0);
        let mut c = [0u32; 3];
        for _ in 0..40_000 {
            c[t.draw(&mut rng) as usize] += 1;
        }
        assert_eq!(c[1], 0);
        assert!((9_000..11_000).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn bad_weights_are_errors() {
        for w in [vec![], vec![0.0, 0.0], vec![1.0, f64::NAN], vec![-1.0, 2.0]] {
            assert!(AliasTable::<u32>::new(&w, "weights").is_err());
        }
        assert!(AliasTable::<u32>::new(&[f64::MAX, f64::MAX], "weights").is_err());
    }
}
