//! Class-first sampling: draw a class from `C` probabilities, then an example inside it.
//!
//! Used by `ClassBalancedSampler` (p_j proportional to n_j**power; Kang et al. 2020,
//! "Decoupling representation and classifier", class-balanced / square-root sampling),
//! and `ProgressivelyBalancedSampler` (p_j(t) interpolating instance- and
//! class-balanced). The class of each position comes from an alias table over the
//! classes; the example is either uniform in the class (with replacement) or the next
//! element of a keyed within-class permutation that is reshuffled every cycle
//! (`replacement = false`: class-aware sampling, Shen et al. 2016 / Kang et al. 2020),
//! so each example of a class is used once before any repeats.

use rayon::prelude::*;

use super::alias::AliasTable;
use super::groups::check_offsets;
use super::perm::Perm;
use super::{fill_rank_blocks, first_at_or_after, streams, Idx};
use crate::rng::{block_rng, bounded};
use crate::{Error, Result};

/// Positions drawn before they are gathered (see the replacement loop).
const GATHER: usize = 512;

#[inline]
fn gather<I: Idx>(order: &[I], pos: &[u64], out: &mut [i64]) {
    for (o, &p) in out.iter_mut().zip(pos) {
        *o = order[p as usize].to_u64() as i64;
    }
}

/// Block size of the class-first stream: a function of the class count only, so the
/// per-block class counts of class-aware sampling cost at most ~1 byte per draw.
pub fn block_size(num_classes: usize) -> u64 {
    ((num_classes as u64).next_power_of_two() * 8).max(1 << 16)
}

/// Positions of the class-first stream for `(seed, epoch)` that belong to `rank`.
///
/// `order`/`offsets` are the grouped index ([`super::groups::group_labels`]),
/// `class_probs` the (unnormalised) class weights, `total` the length of the global
/// stream. Returns example indices.
#[allow(clippy::too_many_arguments)]
pub fn class_first<I: Idx>(
    order: &[I],
    offsets: &[i64],
    class_probs: &[f64],
    total: u64,
    replacement: bool,
    seed: u64,
    epoch: u64,
    rank: u64,
    replicas: u64,
) -> Result<Vec<i64>> {
    check_offsets(offsets, order.len())?;
    let c = offsets.len() - 1;
    if class_probs.len() != c {
        return Err(Error::value(
            "class_probs",
            format!("expected {c} values, got {}", class_probs.len()),
        ));
    }
    let table = AliasTable::<u64>::new(class_probs, "class_probs")?;
    if (0..c).any(|k| class_probs[k] > 0.0 && offsets[k + 1] == offsets[k]) {
        return Err(Error::value(
            "class_probs",
            "a class with no examples has positive probability",
        ));
    }
    let block = block_size(c);
    let class_rng = |b: u64| block_rng(seed, epoch, streams::CLASS_FIRST, b);

    if replacement {
        return fill_rank_blocks(total, block, rank, replicas, |b, lo, hi, out| {
            let mut rng = class_rng(b);
            let mut next = first_at_or_after(lo, rank, replicas);
            let mut w = 0;
            // Two phases per chunk: draw positions into `buf`, then gather from `order`.
            // The gather is then a tight loop of independent loads, which overlaps far
            // more cache and TLB misses than loads interleaved with the generator.
            let mut buf = [0u64; GATHER];
            let mut nb = 0;
            for p in lo..hi {
                // Every position draws its class and offset, kept or not, so the stream
                // (and each rank's share of it) does not depend on the replica count.
                let k = table.draw(&mut rng) as usize;
                let start = offsets[k] as u64;
                let j = bounded(&mut rng, offsets[k + 1] as u64 - start);
                if p == next {
                    buf[nb] = start + j;
                    nb += 1;
                    next += replicas;
                    if nb == GATHER {
                        gather(order, &buf[..nb], &mut out[w..w + nb]);
                        w += nb;
                        nb = 0;
                    }
                }
            }
            gather(order, &buf[..nb], &mut out[w..w + nb]);
        });
    }

    // Class-aware: the r-th draw of class k in the epoch takes element
    // perm_{k, r / n_k}(r % n_k). The rank r of each draw needs the class counts of all
    // earlier blocks: one counting pass, prefix sums over blocks, one filling pass.
    super::check_replicas(rank, replicas)?;
    let n_blocks = total.div_ceil(block) as usize;
    let mut counts = vec![0u64; n_blocks * c];
    counts
        .par_chunks_mut(c.max(1))
        .enumerate()
        .for_each(|(b, row)| {
            let lo = b as u64 * block;
            let hi = (lo + block).min(total);
            let mut rng = class_rng(b as u64);
            for _ in lo..hi {
                row[table.draw(&mut rng) as usize] += 1;
            }
        });
    let mut run = vec![0u64; c];
    for row in counts.chunks_mut(c.max(1)) {
        for (x, r) in row.iter_mut().zip(run.iter_mut()) {
            let t = *x;
            *x = *r;
            *r += t;
        }
    }
    fill_rank_blocks(total, block, rank, replicas, |b, lo, hi, out| {
        let mut seen: Vec<u64> = counts[b as usize * c..(b as usize + 1) * c].to_vec();
        let mut rng = class_rng(b);
        let mut next = first_at_or_after(lo, rank, replicas);
        let mut w = 0;
        let mut cache: Vec<Option<(u64, Perm)>> = vec![None; c];
        for p in lo..hi {
            let k = table.draw(&mut rng) as usize;
            let r = seen[k];
            seen[k] += 1;
            if p == next {
                let start = offsets[k] as u64;
                let size = offsets[k + 1] as u64 - start;
                // Permutations are cached per class: a class's draws in a block mostly
                // fall in one cycle, and building one costs a few hashes (or a small
                // shuffle for tiny classes).
                let cycle = r / size;
                let perm = match &cache[k] {
                    Some((c, perm)) if *c == cycle => perm,
                    _ => {
                        let perm = Perm::keyed(
                            size,
                            seed,
                            epoch,
                            streams::WITHIN_CLASS_PERM,
                            k as u64,
                            cycle,
                        );
                        &cache[k].insert((cycle, perm)).1
                    }
                };
                let j = perm.apply(r % size);
                out[w] = order[(start + j) as usize].to_u64() as i64;
                w += 1;
                next += replicas;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::groups::{group_labels, Order};

    fn grouped(labels: &[i64]) -> (Vec<u32>, Vec<i64>) {
        let g = group_labels(labels).unwrap();
        match g.order {
            Order::U32(o) => (o, g.offsets),
            Order::U64(_) => unreachable!(),
        }
    }

    #[test]
    fn ranks_interleave_to_the_global_stream() {
        let labels: Vec<i64> = (0..5000).map(|i| (i * i % 17) as i64).collect();
        let (order, offsets) = grouped(&labels);
        let probs = vec![1.0; offsets.len() - 1];
        for replacement in [true, false] {
            let total = 200_003;
            let all =
                class_first(&order, &offsets, &probs, total, replacement, 3, 1, 0, 1).unwrap();
            for replicas in [2u64, 3] {
                for rank in 0..replicas {
                    let part = class_first(
                        &order,
                        &offsets,
                        &probs,
                        total,
                        replacement,
                        3,
                        1,
                        rank,
                        replicas,
                    )
                    .unwrap();
                    let want: Vec<i64> = all
                        .iter()
                        .skip(rank as usize)
                        .step_by(replicas as usize)
                        .copied()
                        .collect();
                    assert_eq!(part, want);
                }
            }
        }
    }

    #[test]
    fn class_aware_uses_each_example_once_per_cycle() {
        let labels: Vec<i64> = (0..1000).map(|i| if i < 900 { 0 } else { 1 }).collect();
        let (order, offsets) = grouped(&labels);
        let out = class_first(&order, &offsets, &[1.0, 1.0], 150_000, false, 0, 0, 0, 1).unwrap();
        // Class 1 has 100 examples: its draws come in full permutations.
        let minority: Vec<i64> = out.iter().copied().filter(|&i| i >= 900).collect();
        for cycle in minority.chunks_exact(100) {
            let mut s = cycle.to_vec();
            s.sort_unstable();
            assert_eq!(s, (900..1000).collect::<Vec<i64>>());
        }
    }

    #[test]
    fn mismatched_probs_are_errors() {
        let (order, offsets) = grouped(&[0, 1, 1]);
        assert!(class_first(&order, &offsets, &[1.0], 10, true, 0, 0, 0, 1).is_err());
        assert!(class_first(&order, &offsets, &[0.0, 0.0], 10, true, 0, 0, 0, 1).is_err());
        assert!(class_first(&order, &offsets, &[1.0, 1.0], 10, true, 0, 0, 2, 2).is_err());
    }
}
