//! Per-class index lists from one counting pass (a stable counting sort).
//!
//! The result is the only `n`-sized state a class-first sampler keeps: `order` holds the
//! example indices grouped by class (`u32` while `n < 2**32`, else `u64`, so 4 or 8 bytes
//! per label) and `offsets[c]..offsets[c + 1]` is class `c`'s slice of it.

use crate::classes::{group_rows, ClassMap};
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

/// Group `labels` (any integer ids, not necessarily contiguous) by class: the shared
/// class map and grouping scatter of [`crate::classes`], stored as 4-byte indices
/// while `n < 2**32`.
pub fn group_labels(labels: &[i64]) -> Result<Grouped> {
    let map = ClassMap::new(labels, "labels")?;
    let keep = vec![true; map.len()];
    let (order, offsets) = if (labels.len() as u64) < (1u64 << 32) {
        let (items, offsets, _) = group_rows(labels, &map, &keep, |r| r as u32);
        (Order::U32(items), offsets)
    } else {
        let (items, offsets, _) = group_rows(labels, &map, &keep, |r| r as u64);
        (Order::U64(items), offsets)
    };
    Ok(Grouped {
        classes: map.classes,
        offsets: offsets.into_iter().map(|o| o as i64).collect(),
        order,
    })
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
