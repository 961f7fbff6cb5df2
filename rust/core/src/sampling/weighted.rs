//! Weighted sampling over `n` items (`WeightedSampler`, a drop-in for
//! `torch.utils.data.WeightedRandomSampler` without its 2**24 limit).
//!
//! With replacement: an alias table over the weights, O(1) per draw.
//! Without replacement: exponential random keys `-ln(u) / w_i` (the "exponential
//! clocks" form of Efraimidis & Spirakis 2006): the `m` items with the smallest keys,
//! in key order, are distributed exactly as `m` successive weighted draws without
//! replacement. O(n) keys plus a partial selection, instead of torch's O(n * m).

use rayon::prelude::*;

use super::alias::check_table;
use super::{fill_rank_blocks, first_at_or_after, streams, Idx};
use crate::rng::{block_rng, bounded, uniform, uniform_open0};
use crate::{Error, Result};

/// Block size of the weighted streams (fixed: results never depend on thread count).
pub const BLOCK: u64 = 1 << 16;

/// Positions `rank, rank + R, ...` of `total` draws with replacement from an alias table.
#[allow(clippy::too_many_arguments)]
pub fn weighted_with_replacement<I: Idx>(
    prob: &[f64],
    alias: &[I],
    total: u64,
    seed: u64,
    epoch: u64,
    rank: u64,
    replicas: u64,
) -> Result<Vec<i64>> {
    check_table(prob, alias)?;
    fill_rank_blocks(total, BLOCK, rank, replicas, |b, lo, hi, out| {
        let mut rng = block_rng(seed, epoch, streams::WEIGHTED_DRAW, b);
        let mut next = first_at_or_after(lo, rank, replicas);
        let n = prob.len() as u64;
        let mut w = 0;
        // Draw (column, coin) pairs first, then resolve them against the table in a
        // tight loop: independent loads overlap their cache/TLB misses (the table of
        // a large n is far bigger than the caches).
        let mut cols = [0u64; 512];
        let mut coins = [0f64; 512];
        let mut nb = 0;
        let flush = |cols: &[u64], coins: &[f64], out: &mut [i64]| {
            for ((o, &k), &u) in out.iter_mut().zip(cols).zip(coins) {
                let k = k as usize;
                *o = if u < prob[k] {
                    k as i64
                } else {
                    alias[k].to_u64() as i64
                };
            }
        };
        for p in lo..hi {
            // Both draws happen for every position, kept or not (rank-independent).
            let k = bounded(&mut rng, n);
            let u = uniform(&mut rng);
            if p == next {
                cols[nb] = k;
                coins[nb] = u;
                nb += 1;
                next += replicas;
                if nb == cols.len() {
                    flush(&cols, &coins, &mut out[w..w + nb]);
                    w += nb;
                    nb = 0;
                }
            }
        }
        flush(&cols[..nb], &coins[..nb], &mut out[w..w + nb]);
    })
}

/// The first `num_samples` items of a weighted draw without replacement, in draw order.
pub fn weighted_sample_without_replacement(
    weights: &[f64],
    num_samples: u64,
    seed: u64,
    epoch: u64,
) -> Result<Vec<u64>> {
    // No sum needed (keys are per item), so huge weights whose sum overflows are fine.
    super::alias::check_weights(weights, "weights")?;
    let m = num_samples as usize;
    // Each block keeps its m smallest keys; together they contain the global m smallest.
    let blocks: Vec<Vec<(f64, u64)>> = weights
        .par_chunks(BLOCK as usize)
        .enumerate()
        .map(|(b, chunk)| {
            let mut rng = block_rng(seed, epoch, streams::WEIGHTED_KEYS, b as u64);
            let base = b as u64 * BLOCK;
            let mut keys: Vec<(f64, u64)> = Vec::with_capacity(chunk.len().min(m));
            for (i, &w) in chunk.iter().enumerate() {
                // Draw for every item (zero weights too) so keys do not shift.
                let u = uniform_open0(&mut rng);
                if w > 0.0 {
                    keys.push((-u.ln() / w, base + i as u64));
                }
            }
            if keys.len() > m {
                if m == 0 {
                    keys.clear();
                } else {
                    keys.select_nth_unstable_by(m - 1, cmp_key);
                    keys.truncate(m);
                }
            }
            keys.shrink_to_fit();
            keys
        })
        .collect();
    let positive: usize = blocks.iter().map(Vec::len).sum();
    if positive < m {
        return Err(Error::value(
            "num_samples",
            format!(
                "without replacement needs at least num_samples={m} positive weights, \
                 found {positive} usable ones"
            ),
        ));
    }
    let mut all: Vec<(f64, u64)> = Vec::with_capacity(positive);
    for blk in blocks {
        all.extend_from_slice(&blk);
    }
    if all.len() > m && m > 0 {
        all.select_nth_unstable_by(m - 1, cmp_key);
    }
    all.truncate(m);
    all.par_sort_unstable_by(cmp_key);
    Ok(all.into_iter().map(|(_, i)| i).collect())
}

#[inline]
fn cmp_key(a: &(f64, u64), b: &(f64, u64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The share of `rank` of a finite stream padded to `total` positions by wrapping
/// around (as `DistributedSampler` pads), or cut to `total` (`drop_last`).
pub fn rank_share(stream: &[u64], total: u64, rank: u64, replicas: u64) -> Result<Vec<i64>> {
    super::check_replicas(rank, replicas)?;
    let len = stream.len() as u64;
    if len == 0 {
        return if total == 0 {
            Ok(Vec::new())
        } else {
            Err(Error::value("num_samples", "cannot pad an empty stream"))
        };
    }
    let n_out = super::rank_len(total, rank, replicas) as usize;
    Ok((0..n_out)
        .into_par_iter()
        .with_min_len(1 << 14)
        .map(|i| stream[((rank + i as u64 * replicas) % len) as usize] as i64)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::alias::AliasTable;
    use super::*;

    #[test]
    fn with_replacement_ranks_form_one_stream() {
        let w: Vec<f64> = (0..300_000).map(|i| (i % 7) as f64).collect();
        let t = AliasTable::<u32>::new(&w, "weights").unwrap();
        let all = weighted_with_replacement(&t.prob, &t.alias, 150_001, 5, 2, 0, 1).unwrap();
        assert!(all.iter().all(|&k| k % 7 != 0));
        let r1 = weighted_with_replacement(&t.prob, &t.alias, 150_001, 5, 2, 1, 2).unwrap();
        let want: Vec<i64> = all.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(r1, want);
    }

    #[test]
    fn without_replacement_is_distinct_and_ordered_by_weight() {
        let mut w = vec![1.0; 200_000];
        w[123_456] = 1e9;
        w[7] = 0.0;
        let s = weighted_sample_without_replacement(&w, 199_999, 0, 0).unwrap();
        assert_eq!(s[0], 123_456);
        let mut t = s.clone();
        t.sort_unstable();
        t.dedup();
        assert_eq!(t.len(), s.len());
        assert!(!s.contains(&7));
        assert!(weighted_sample_without_replacement(&w, 200_000, 0, 0).is_err());
    }

    #[test]
    fn rank_share_wraps() {
        let s = [10u64, 11, 12];
        assert_eq!(rank_share(&s, 4, 1, 2).unwrap(), vec![11, 10]);
        assert_eq!(rank_share(&s, 4, 0, 2).unwrap(), vec![10, 12]);
    }
}
