//! Repeat-factor sampling (Gupta et al. 2019, LVIS, section 4.2 / appendix).
//!
//! Each epoch, image `i` appears `floor(r_i)` times plus once more with probability
//! `frac(r_i)` (stochastic rounding, a fresh draw per epoch), and the repeated list is
//! shuffled.

use rayon::prelude::*;

use super::streams;
use crate::rng::{block_rng, bounded, uniform};
use crate::{Error, Result};

const BLOCK: usize = 1 << 16;
/// Largest epoch we agree to build (guards against absurd repeat factors).
const MAX_EPOCH: u64 = 1 << 40;

/// The shuffled, repeated image indices of one epoch (the global stream).
pub fn repeat_factor_epoch(factors: &[f64], seed: u64, epoch: u64) -> Result<Vec<u64>> {
    if factors.is_empty() {
        return Err(Error::value("repeat_factors", "must not be empty"));
    }
    if factors
        .par_iter()
        .any(|r| !r.is_finite() || *r < 0.0 || *r > MAX_EPOCH as f64)
    {
        return Err(Error::value(
            "repeat_factors",
            "must be finite, non-negative and not absurdly large",
        ));
    }
    // Stochastic rounding in fixed blocks, one generator each.
    let counts: Vec<u64> = factors
        .par_chunks(BLOCK)
        .enumerate()
        .flat_map_iter(|(b, chunk)| {
            let mut rng = block_rng(seed, epoch, streams::REPEAT_ROUND, b as u64);
            chunk
                .iter()
                .map(|&r| {
                    let whole = r.floor();
                    let extra = uniform(&mut rng) < r - whole;
                    whole as u64 + extra as u64
                })
                .collect::<Vec<u64>>()
        })
        .collect();
    let total: u64 = counts.iter().sum();
    if total > MAX_EPOCH {
        return Err(Error::value(
            "repeat_factors",
            "the epoch would be too long",
        ));
    }
    let mut out: Vec<u64> = Vec::with_capacity(total as usize);
    for (i, &c) in counts.iter().enumerate() {
        for _ in 0..c {
            out.push(i as u64);
        }
    }
    // Fisher-Yates with one generator: sequential, but a pure function of the key.
    let mut rng = block_rng(seed, epoch, streams::REPEAT_SHUFFLE, 0);
    for i in (1..out.len()).rev() {
        let j = bounded(&mut rng, i as u64 + 1) as usize;
        out.swap(i, j);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_factors_repeat_exactly() {
        let out = repeat_factor_epoch(&[1.0, 3.0, 0.0, 2.0], 0, 0).unwrap();
        let mut s = out.clone();
        s.sort_unstable();
        assert_eq!(s, vec![0, 1, 1, 1, 3, 3]);
    }

    #[test]
    fn fractions_round_stochastically() {
        let f = vec![1.5; 100_000];
        let n = repeat_factor_epoch(&f, 1, 0).unwrap().len();
        assert!((148_000..152_000).contains(&n), "{n}");
        let m = repeat_factor_epoch(&f, 1, 1).unwrap().len();
        assert_ne!(n, m);
    }

    #[test]
    fn bad_factors_are_errors() {
        assert!(repeat_factor_epoch(&[], 0, 0).is_err());
        assert!(repeat_factor_epoch(&[f64::NAN], 0, 0).is_err());
        assert!(repeat_factor_epoch(&[-1.0], 0, 0).is_err());
    }
}
