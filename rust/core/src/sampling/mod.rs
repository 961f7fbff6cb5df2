//! Sampling kernels behind `longtail.samplers`.
//!
//! Every sampler draws one *global stream* of positions fixed by `(seed, epoch)`. The
//! stream is cut into fixed-size blocks (the size depends only on the problem size,
//! never on the thread count) and each block has its own PCG generator
//! ([`crate::rng::block_rng`]), so blocks are filled in parallel and the result is a
//! pure function of the key. Rank `r` of `R` replicas keeps the positions
//! `r, r + R, r + 2R, ...` of that stream, so the ranks together form the stream and
//! the stream is prefix-stable: asking for more samples only appends.

pub mod alias;
pub mod class_first;
pub mod groups;
pub mod m_per_class;
pub mod perm;
pub mod repeat;
pub mod weighted;

use rayon::prelude::*;

use crate::{Error, Result};

/// Independent uses of one `(seed, epoch)` key get distinct stream numbers.
pub(crate) mod streams {
    pub const CLASS_FIRST: u64 = 1;
    pub const WEIGHTED_DRAW: u64 = 2;
    pub const WEIGHTED_KEYS: u64 = 3;
    pub const WITHIN_CLASS_PERM: u64 = 4;
    pub const REPEAT_ROUND: u64 = 5;
    pub const REPEAT_SHUFFLE: u64 = 6;
    pub const M_PER_CLASS: u64 = 7;
}

/// An index type for the grouped index arrays: `u32` while `n < 2**32`, else `u64`.
pub trait Idx: Copy + Send + Sync + 'static {
    fn to_u64(self) -> u64;
    fn from_u64(v: u64) -> Self;
}

impl Idx for u32 {
    #[inline]
    fn to_u64(self) -> u64 {
        self as u64
    }
    #[inline]
    fn from_u64(v: u64) -> Self {
        v as u32
    }
}

impl Idx for u64 {
    #[inline]
    fn to_u64(self) -> u64 {
        self
    }
    #[inline]
    fn from_u64(v: u64) -> Self {
        v
    }
}

/// Check `num_replicas >= 1` and `rank < num_replicas`.
pub fn check_replicas(rank: u64, num_replicas: u64) -> Result<()> {
    if num_replicas == 0 {
        return Err(Error::value("num_replicas", "must be >= 1"));
    }
    if rank >= num_replicas {
        return Err(Error::value(
            "rank",
            format!("must be in [0, num_replicas={num_replicas}), got {rank}"),
        ));
    }
    Ok(())
}

/// Number of positions `p < x` with `p % replicas == rank`.
#[inline]
pub(crate) fn count_below(x: u64, rank: u64, replicas: u64) -> u64 {
    if x <= rank {
        0
    } else {
        (x - rank).div_ceil(replicas)
    }
}

/// Number of positions of the global stream `0..total` that `rank` keeps.
pub fn rank_len(total: u64, rank: u64, replicas: u64) -> u64 {
    count_below(total, rank, replicas)
}

/// Fill the output of one rank block by block, in parallel.
///
/// The global stream `0..total` is cut into blocks of `block` positions; `fill(b, lo, hi,
/// out)` must generate the positions `lo..hi` of block `b` and write those that belong
/// to `rank` (in order) into `out`, whose length is exactly their number. Which thread
/// runs which block never changes the result.
pub(crate) fn fill_rank_blocks<F>(
    total: u64,
    block: u64,
    rank: u64,
    replicas: u64,
    fill: F,
) -> Result<Vec<i64>>
where
    F: Fn(u64, u64, u64, &mut [i64]) + Sync,
{
    check_replicas(rank, replicas)?;
    let n_out = usize::try_from(rank_len(total, rank, replicas))
        .map_err(|_| Error::value("num_samples", "too large for this platform"))?;
    let mut out = vec![0i64; n_out];
    let n_blocks = total.div_ceil(block);
    let mut parts: Vec<(u64, &mut [i64])> = Vec::with_capacity(n_blocks as usize);
    let mut rest: &mut [i64] = &mut out;
    for b in 0..n_blocks {
        let lo = b * block;
        let hi = (lo + block).min(total);
        let len = (count_below(hi, rank, replicas) - count_below(lo, rank, replicas)) as usize;
        let (head, tail) = rest.split_at_mut(len);
        parts.push((b, head));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(b, chunk)| {
        let lo = b * block;
        let hi = (lo + block).min(total);
        fill(b, lo, hi, chunk);
    });
    Ok(out)
}

/// The first position `>= lo` that belongs to `rank`.
#[inline]
pub(crate) fn first_at_or_after(lo: u64, rank: u64, replicas: u64) -> u64 {
    if lo <= rank {
        rank
    } else {
        lo + (replicas - (lo - rank) % replicas) % replicas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_blocks_partition_the_stream() {
        let total = 1000;
        for replicas in 1..5u64 {
            let mut all = vec![-1i64; total as usize];
            for rank in 0..replicas {
                let out = fill_rank_blocks(total, 64, rank, replicas, |_, lo, hi, out| {
                    let mut w = 0;
                    let mut next = first_at_or_after(lo, rank, replicas);
                    for p in lo..hi {
                        if p == next {
                            out[w] = p as i64;
                            w += 1;
                            next += replicas;
                        }
                    }
                    assert_eq!(w, out.len());
                })
                .unwrap();
                for (i, &p) in out.iter().enumerate() {
                    assert_eq!(p as u64, rank + i as u64 * replicas);
                    all[p as usize] = p;
                }
            }
            assert!(all.iter().all(|&p| p >= 0));
        }
    }

    #[test]
    fn bad_rank_is_an_error() {
        assert!(check_replicas(2, 2).is_err());
        assert!(check_replicas(0, 0).is_err());
        assert!(check_replicas(1, 2).is_ok());
    }
}
