//! Per-class index lists from one counting pass (a stable counting sort).
//!
//! The result is the only `n`-sized state a class-first sampler keeps: `order` holds the
//! example indices grouped by class (`u32` while `n < 2**32`, else `u64`, so 4 or 8 bytes
//! per label) and `offsets[c]..offsets[c + 1]` is class `c`'s slice of it.

use rayon::prelude::*;

use super::Idx;
use crate::{Error, Result};

/// Example indices grouped by class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    U32(Vec<u32>),
    U64(Vec<u64>),
}

/// The grouped index of a label array.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// Distinct class ids, ascending; class `c` of the kernels is `classes[c]`.
    pub classes: Vec<i64>,
    /// `C + 1` offsets into `order`.
    pub offsets: Vec<i64>,
    pub order: Order,
}

/// Group `labels` (any integer ids, not necessarily contiguous) by class.
pub fn group_labels(labels: &[i64]) -> Result<Grouped> {
    let n = labels.len();
    if n == 0 {
        return Err(Error::value("labels", "must not be empty"));
    }
    let (lo, hi) = labels
        .par_chunks(1 << 16)
        .map(|c| {
            c.iter()
                .fold((i64::MAX, i64::MIN), |(a, b), &v| (a.min(v), b.max(v)))
        })
        .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let range = (hi as i128 - lo as i128 + 1) as u128;
    // Contiguous class ids per label, then counts. Dense lookup when the id range is
    // small (the common case: 0..C), else sort-unique and binary search.
    let (classes, ids): (Vec<i64>, Vec<u32>) = if range <= (n as u128 + (1 << 16)) {
        let range = range as usize;
        let mut present = vec![false; range];
        for &v in labels {
            present[(v - lo) as usize] = true;
        }
        let mut dense = vec![u32::MAX; range];
        let mut classes = Vec::new();
        for (k, &p) in present.iter().enumerate() {
            if p {
                dense[k] = classes.len() as u32;
                classes.push(lo + k as i64);
            }
        }
        if classes.len() > u32::MAX as usize {
            return Err(Error::value(
                "labels",
                "more than 2**32 - 1 distinct classes",
            ));
        }
        let ids = labels
            .par_iter()
            .with_min_len(1 << 14)
            .map(|&v| dense[(v - lo) as usize])
            .collect();
        (classes, ids)
    } else {
        let mut classes = labels.to_vec();
        classes.par_sort_unstable();
        classes.dedup();
        if classes.len() > u32::MAX as usize {
            return Err(Error::value(
                "labels",
                "more than 2**32 - 1 distinct classes",
            ));
        }
        let ids = labels
            .par_iter()
            .with_min_len(1 << 14)
            .map(|v| classes.binary_search(v).unwrap_or(0) as u32)
            .collect();
        (classes, ids)
    };
    let c = classes.len();
    let mut offsets = vec![0i64; c + 1];
    for &k in &ids {
        offsets[k as usize + 1] += 1;
    }
    for k in 0..c {
        offsets[k + 1] += offsets[k];
    }
    let order = if (n as u64) < (1u64 << 32) {
        Order::U32(scatter::<u32>(&ids, &offsets))
    } else {
        Order::U64(scatter::<u64>(&ids, &offsets))
    };
    Ok(Grouped {
        classes,
        offsets,
        order,
    })
}

/// Stable scatter: examples of each class keep their original (ascending) order.
fn scatter<I: Idx + Default>(ids: &[u32], offsets: &[i64]) -> Vec<I> {
    let mut pos: Vec<usize> = offsets[..offsets.len() - 1]
        .iter()
        .map(|&o| o as usize)
        .collect();
    let mut out = vec![I::default(); ids.len()];
    for (i, &k) in ids.iter().enumerate() {
        let p = &mut pos[k as usize];
        out[*p] = I::from_u64(i as u64);
        *p += 1;
    }
    out
}

/// Check offsets that came from outside against an order array of length `n`:
/// `offsets[0] == 0`, non-decreasing, last `== n`, at least one class.
pub fn check_offsets(offsets: &[i64], n: usize) -> Result<()> {
    if offsets.len() < 2 {
        return Err(Error::value("offsets", "need at least one class"));
    }
    if offsets[0] != 0 || offsets[offsets.len() - 1] != n as i64 {
        return Err(Error::value(
            "offsets",
            "must start at 0 and end at len(order)",
        ));
    }
    if offsets.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::value("offsets", "must be non-decreasing"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_dense_and_sparse_ids() {
        for labels in [
            vec![2i64, 0, 2, 1, 0, 2],
            vec![-5i64, 1 << 40, -5, 7, 1 << 40, 7],
        ] {
            let g = group_labels(&labels).unwrap();
            let order: Vec<u64> = match &g.order {
                Order::U32(o) => o.iter().map(|&x| x as u64).collect(),
                Order::U64(o) => o.clone(),
            };
            assert_eq!(g.offsets.len(), g.classes.len() + 1);
            let mut prev = i64::MIN;
            for c in 0..g.classes.len() {
                assert!(g.classes[c] > prev);
                prev = g.classes[c];
                let s = &order[g.offsets[c] as usize..g.offsets[c + 1] as usize];
                assert!(s.windows(2).all(|w| w[0] < w[1]), "stable");
                for &i in s {
                    assert_eq!(labels[i as usize], g.classes[c]);
                }
            }
            assert_eq!(*g.offsets.last().unwrap(), labels.len() as i64);
        }
    }

    #[test]
    fn empty_labels_are_an_error() {
        assert!(group_labels(&[]).is_err());
    }

    #[test]
    fn offsets_are_checked() {
        assert!(check_offsets(&[0, 2, 3], 3).is_ok());
        assert!(check_offsets(&[0, 3, 2], 3).is_err());
        assert!(check_offsets(&[1, 3], 3).is_err());
        assert!(check_offsets(&[0], 0).is_err());
    }
}
