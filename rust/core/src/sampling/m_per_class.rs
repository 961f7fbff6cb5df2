//! m-per-class batches (as in pytorch-metric-learning's `MPerClassSampler`, used for
//! metric learning and contrastive losses): every batch holds `batch_size / m`
//! distinct classes with `m` examples each.
//!
//! The class sequence of an epoch is a concatenation of random permutations of all
//! classes, cut into consecutive groups of `k = batch_size / m`; where a group straddles
//! two permutations, the start of the new permutation is reordered so the group has no
//! repeated class (possible whenever `k <= C`). So every class is visited once before
//! any class repeats. Within a class, examples come from a keyed permutation that is
//! reshuffled each cycle (class-aware, as in `class_first`); a group of `m` never
//! straddles two permutations of a class with at least `m` examples (the few left at
//! the end of a permutation are skipped), so only a class smaller than `m` repeats
//! examples inside a batch.

use rayon::prelude::*;

use super::groups::check_offsets;
use super::perm::Perm;
use super::{check_replicas, streams, Idx};
use crate::rng::{block_rng, bounded};
use crate::{Error, Result};

/// The batches of `rank` for `(seed, epoch)`: global batch `b` goes to rank `b % R`;
/// each rank gets `batches_per_rank` batches. Returns them flattened (row-major).
#[allow(clippy::too_many_arguments)]
pub fn m_per_class<I: Idx>(
    order: &[I],
    offsets: &[i64],
    m: u64,
    batch_size: u64,
    batches_per_rank: u64,
    seed: u64,
    epoch: u64,
    rank: u64,
    replicas: u64,
) -> Result<Vec<i64>> {
    check_offsets(offsets, order.len())?;
    check_replicas(rank, replicas)?;
    let c = (offsets.len() - 1) as u64;
    if m == 0 {
        return Err(Error::value("m", "must be >= 1"));
    }
    if batch_size < m {
        return Err(Error::value(
            "m",
            format!("m={m} is larger than batch_size={batch_size}"),
        ));
    }
    // Not `is_multiple_of`: that needs Rust 1.87 and the workspace supports 1.80.
    #[allow(clippy::manual_is_multiple_of)]
    if batch_size % m != 0 {
        return Err(Error::value(
            "batch_size",
            format!("batch_size={batch_size} must be a multiple of m={m}"),
        ));
    }
    let k = batch_size / m;
    if k > c {
        return Err(Error::value(
            "batch_size",
            format!("batch_size / m = {k} classes per batch, but labels have only {c} classes"),
        ));
    }
    if (0..c as usize).any(|j| offsets[j + 1] == offsets[j]) {
        return Err(Error::value("offsets", "every class needs an example"));
    }
    let n_batches = batches_per_rank
        .checked_mul(replicas)
        .ok_or_else(|| Error::value("length", "too large"))?;
    // Sequential pass over class slots (n_batches * k of them, i.e. n / m): the class of
    // each slot and how many draws its class had before it. Only this rank's slots are
    // kept; the m draws of each kept slot are then computed in parallel.
    let mut rng = block_rng(seed, epoch, streams::M_PER_CLASS, 0);
    let mut perm: Vec<u64> = (0..c).collect();
    let mut pos = c; // exhausted: shuffle on first use
    let mut drawn = vec![0u64; c as usize];
    let mut last_batch = vec![u64::MAX; c as usize];
    let mut slots: Vec<(u64, u64)> = Vec::with_capacity((batches_per_rank * k) as usize);
    for b in 0..n_batches {
        for s in 0..k {
            if pos == c {
                for i in (1..c as usize).rev() {
                    let j = bounded(&mut rng, i as u64 + 1) as usize;
                    perm.swap(i, j);
                }
                // Classes already in the current batch must not start the new cycle.
                let need = (k - s) as usize;
                let mut spare = need;
                for t in 0..need {
                    if last_batch[perm[t] as usize] == b {
                        while last_batch[perm[spare] as usize] == b {
                            spare += 1;
                        }
                        perm.swap(t, spare);
                        spare += 1;
                    }
                }
                pos = 0;
            }
            let cls = perm[pos as usize];
            pos += 1;
            last_batch[cls as usize] = b;
            let size = (offsets[cls as usize + 1] - offsets[cls as usize]) as u64;
            let d = &mut drawn[cls as usize];
            // A group of m never straddles two within-class permutations when the
            // class has at least m examples (the rest of the permutation is skipped),
            // so its m examples are distinct.
            // (A class smaller than m starts at a permutation boundary, so its group
            // holds every example of the class.)
            let rem = *d % size;
            if rem > 0 && rem + m > size {
                *d = d.div_ceil(size) * size;
            }
            if b % replicas == rank {
                slots.push((cls, *d));
            }
            *d += m;
        }
    }
    let mut out = vec![0i64; slots.len() * m as usize];
    out.par_chunks_mut(m as usize)
        .zip(slots.par_iter())
        .with_min_len(256)
        .for_each(|(row, &(cls, first))| {
            let start = offsets[cls as usize] as u64;
            let size = offsets[cls as usize + 1] as u64 - start;
            // One keyed permutation per cycle touched (usually one per group).
            let mut cycle = first / size;
            let mut p = Perm::keyed(size, seed, epoch, streams::WITHIN_CLASS_PERM, cls, cycle);
            for (t, x) in row.iter_mut().enumerate() {
                let r = first + t as u64;
                if r / size != cycle {
                    cycle = r / size;
                    p = Perm::keyed(size, seed, epoch, streams::WITHIN_CLASS_PERM, cls, cycle);
                }
                *x = order[(start + p.apply(r % size)) as usize].to_u64() as i64;
            }
        });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::groups::{group_labels, Order};

    #[test]
    fn batches_have_k_distinct_classes_with_m_each() {
        let labels: Vec<i64> = (0..3000)
            .map(|i| (i % 7 + (i % 3) * (i % 5)) as i64)
            .collect();
        let g = group_labels(&labels).unwrap();
        let Order::U32(order) = g.order else { panic!() };
        let c = g.classes.len();
        for (m, bs) in [(2u64, 8u64), (4, 4), (1, c as u64), (3, 9)] {
            let out = m_per_class(&order, &g.offsets, m, bs, 50, 1, 0, 0, 1).unwrap();
            assert_eq!(out.len(), 50 * bs as usize);
            let mut seen_in_cycle = std::collections::HashSet::new();
            for batch in out.chunks(bs as usize) {
                let mut cls: Vec<i64> = batch.iter().map(|&i| labels[i as usize]).collect();
                for grp in cls.chunks(m as usize) {
                    assert!(grp.iter().all(|&x| x == grp[0]));
                }
                cls.dedup();
                let mut d = cls.clone();
                d.sort_unstable();
                d.dedup();
                assert_eq!(d.len(), (bs / m) as usize);
                for x in d {
                    if seen_in_cycle.len() == c {
                        seen_in_cycle.clear();
                    }
                    let _ = seen_in_cycle.insert(x);
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let g = group_labels(&[0, 1, 1, 2]).unwrap();
        let Order::U32(order) = g.order else { panic!() };
        assert!(m_per_class(&order, &g.offsets, 4, 2, 1, 0, 0, 0, 1).is_err());
        assert!(m_per_class(&order, &g.offsets, 2, 5, 1, 0, 0, 0, 1).is_err());
        assert!(m_per_class(&order, &g.offsets, 1, 4, 1, 0, 0, 0, 1).is_err());
        assert!(m_per_class(&order, &g.offsets, 0, 4, 1, 0, 0, 0, 1).is_err());
    }
}
