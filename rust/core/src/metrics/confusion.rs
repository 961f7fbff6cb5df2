//! Confusion matrices by parallel counting.
//!
//! Each chunk of rows counts into its own small `k x k` matrix and the matrices are added
//! at the end, so there is no n-sized temporary (numpy's `bincount(k * y + p)` builds two).
//! Labels are mapped to matrix indices through a dense lookup table over the label range.

use rayon::prelude::*;

use crate::{Error, Result};

/// Absent from the lookup table: rows with such a label are not counted.
pub const ABSENT: u32 = u32::MAX;

/// Largest label range (max - min + 1) for which [`present_labels`] uses a bitmap.
pub const MAX_RANGE: u64 = 1 << 26;

/// Smallest and largest value over both arrays (`None` when both are empty).
pub fn label_range(a: &[i64], b: &[i64]) -> Option<(i64, i64)> {
    let mm = |s: &[i64]| {
        s.par_chunks(1 << 16)
            .map(|c| {
                c.iter()
                    .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
            })
            .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)))
    };
    let (x, y) = rayon::join(|| mm(a), || mm(b));
    let (lo, hi) = (x.0.min(y.0), x.1.max(y.1));
    (lo <= hi).then_some((lo, hi))
}

/// [`label_range`] of `a` together with `a == value` as 0/1 bytes, in one parallel pass
/// (binary ranking metrics need both, and each alone is a pass over 8 bytes per item).
pub fn label_range_eq(a: &[i64], value: i64) -> (Option<(i64, i64)>, Vec<u8>) {
    const CHUNK: usize = 1 << 16;
    let mut mask = vec![0u8; a.len()];
    let (lo, hi) = a
        .par_chunks(CHUNK)
        .zip(mask.par_chunks_mut(CHUNK))
        .map(|(c, m)| {
            let mut range = (i64::MAX, i64::MIN);
            for (&v, o) in c.iter().zip(m.iter_mut()) {
                range = (range.0.min(v), range.1.max(v));
                *o = u8::from(v == value);
            }
            range
        })
        .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    ((lo <= hi).then_some((lo, hi)), mask)
}

/// The sorted distinct values of both arrays, all inside `[lo, hi]`, by a bitmap.
pub fn present_labels(a: &[i64], b: &[i64], lo: i64, hi: i64) -> Result<Vec<i64>> {
    let range = (hi as i128 - lo as i128 + 1) as u64;
    if hi < lo || range > MAX_RANGE {
        return Err(Error::value("labels", "label range too large for a bitmap"));
    }
    let r = range as usize;
    let mark = |s: &[i64]| -> Vec<bool> {
        s.par_chunks(1 << 18)
            .fold(
                || vec![false; r],
                |mut m, c| {
                    for &v in c {
                        if let Some(slot) = m.get_mut(v.wrapping_sub(lo) as usize) {
                            *slot = true;
                        }
                    }
                    m
                },
            )
            .reduce(
                || vec![false; r],
                |mut x, y| {
                    x.iter_mut().zip(y).for_each(|(p, q)| *p |= q);
                    x
                },
            )
    };
    let (ma, mb) = rayon::join(|| mark(a), || mark(b));
    Ok((0..r)
        .filter(|&i| ma[i] || mb[i])
        .map(|i| lo + i as i64)
        .collect())
}

fn chunking(n: usize, k: usize) -> usize {
    // Enough chunks to balance the threads, few enough that the k*k partial matrices
    // stay small next to the input.
    let threads = rayon::current_num_threads().max(1);
    let cells = (k * k).max(1);
    let max_chunks = ((1usize << 24) / cells).max(1);
    let chunks = (threads * 4).min(max_chunks).max(1);
    n.div_ceil(chunks).max(1 << 12)
}

fn check(y_true: &[i64], y_pred: &[i64], lut_len: usize, k: usize) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::value(
            "y_pred",
            format!(
                "length {} does not match y_true's length {}",
                y_pred.len(),
                y_true.len()
            ),
        ));
    }
    if lut_len == 0 || k == 0 {
        return Err(Error::value("labels", "must not be empty"));
    }
    Ok(())
}

#[inline(always)]
fn index(lut: &[u32], lo: i64, v: i64) -> u32 {
    match lut.get(v.wrapping_sub(lo) as usize) {
        Some(&i) if v >= lo => i,
        _ => ABSENT,
    }
}

/// Unweighted `k x k` counts (row-major, true label by row): `lut[v - lo]` is the matrix
/// index of label `v` or [`ABSENT`]; rows with an absent label are skipped.
pub fn confusion_counts(
    y_true: &[i64],
    y_pred: &[i64],
    lo: i64,
    lut: &[u32],
    k: usize,
) -> Result<Vec<u64>> {
    check(y_true, y_pred, lut.len(), k)?;
    if let Some(&bad) = lut.iter().find(|&&i| i != ABSENT && i as usize >= k) {
        return Err(Error::value("labels", format!("index {bad} out of range")));
    }
    let chunk = chunking(y_true.len(), k);
    Ok(y_true
        .par_chunks(chunk)
        .zip(y_pred.par_chunks(chunk))
        .map(|(t, p)| {
            let mut m = vec![0u64; k * k];
            for (&a, &b) in t.iter().zip(p) {
                let (i, j) = (index(lut, lo, a), index(lut, lo, b));
                if i != ABSENT && j != ABSENT {
                    m[i as usize * k + j as usize] += 1;
                }
            }
            m
        })
        .reduce(
            || vec![0u64; k * k],
            |mut x, y| {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
                x
            },
        ))
}

/// Weighted counterpart of [`confusion_counts`].
pub fn confusion_weighted(
    y_true: &[i64],
    y_pred: &[i64],
    w: &[f64],
    lo: i64,
    lut: &[u32],
    k: usize,
) -> Result<Vec<f64>> {
    check(y_true, y_pred, lut.len(), k)?;
    if w.len() != y_true.len() {
        return Err(Error::value(
            "sample_weight",
            format!(
                "length {} does not match y_true's length {}",
                w.len(),
                y_true.len()
            ),
        ));
    }
    if let Some(&bad) = lut.iter().find(|&&i| i != ABSENT && i as usize >= k) {
        return Err(Error::value("labels", format!("index {bad} out of range")));
    }
    let chunk = chunking(y_true.len(), k);
    Ok(y_true
        .par_chunks(chunk)
        .zip(y_pred.par_chunks(chunk))
        .zip(w.par_chunks(chunk))
        .map(|((t, p), w)| {
            let mut m = vec![0f64; k * k];
            for ((&a, &b), &wi) in t.iter().zip(p).zip(w) {
                let (i, j) = (index(lut, lo, a), index(lut, lo, b));
                if i != ABSENT && j != ABSENT {
                    m[i as usize * k + j as usize] += wi;
                }
            }
            m
        })
        .reduce(
            || vec![0f64; k * k],
            |mut x, y| {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
                x
            },
        ))
}

/// Largest label range counted densely by [`confusion_auto`].
const DENSE_RANGE: u64 = 256;

/// Labels and counts in one counting pass when the label range is small: counts the
/// dense `range x range` matrix, keeps the labels that occur in either array (in order),
/// and compacts. `None` when the range is too wide (the caller maps labels first).
pub fn confusion_auto(y_true: &[i64], y_pred: &[i64]) -> Result<Option<(Vec<i64>, Vec<u64>)>> {
    check(y_true, y_pred, 1, 1)?;
    let Some((lo, hi)) = label_range(y_true, y_pred) else {
        return Err(Error::value("y_true", "must not be empty"));
    };
    let range = (hi as i128 - lo as i128 + 1) as u64;
    if range > DENSE_RANGE {
        return Ok(None);
    }
    let r = range as usize;
    let lut: Vec<u32> = (0..r as u32).collect();
    let dense = confusion_counts(y_true, y_pred, lo, &lut, r)?;
    let keep: Vec<usize> = (0..r)
        .filter(|&i| (0..r).any(|j| dense[i * r + j] != 0 || dense[j * r + i] != 0))
        .collect();
    let k = keep.len();
    let mut m = vec![0u64; k * k];
    for (a, &i) in keep.iter().enumerate() {
        for (b, &j) in keep.iter().enumerate() {
            m[a * k + b] = dense[i * r + j];
        }
    }
    Ok(Some((keep.iter().map(|&i| lo + i as i64).collect(), m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_brute_force() {
        let t: Vec<i64> = (0..50_000).map(|i| (i * 7 % 13) as i64 - 3).collect();
        let p: Vec<i64> = (0..50_000).map(|i| (i * 5 % 11) as i64 - 3).collect();
        let (labels, m) = confusion_auto(&t, &p).expect("ok").expect("dense");
        assert_eq!(labels, (-3..10).collect::<Vec<_>>());
        let k = labels.len();
        let mut want = vec![0u64; k * k];
        for (&a, &b) in t.iter().zip(&p) {
            want[(a + 3) as usize * k + (b + 3) as usize] += 1;
        }
        assert_eq!(m, want);
        let w = vec![0.5; t.len()];
        let mw = confusion_weighted(&t, &p, &w, -3, &(0..13).collect::<Vec<u32>>(), 13).expect("w");
        assert!(mw.iter().zip(&want).all(|(x, &y)| *x == y as f64 * 0.5));
    }

    #[test]
    fn labels_outside_the_table_are_skipped() {
        // Only labels 5 and 9 are wanted, in the order 9, 5.
        let lut = [1, ABSENT, ABSENT, ABSENT, 0];
        let m = confusion_counts(&[5, 9, 9, 7, -1], &[5, 5, 9, 9, 5], 5, &lut, 2).expect("ok");
        assert_eq!(m, vec![1, 1, 0, 1]);
        assert_eq!(
            present_labels(&[5, 9], &[7, 5], 5, 9).expect("ok"),
            vec![5, 7, 9]
        );
        assert_eq!(label_range(&[], &[]), None);
        assert!(confusion_counts(&[1], &[1, 2], 0, &lut, 2).is_err());
    }

    #[test]
    fn range_and_mask_in_one_pass() {
        let a: Vec<i64> = (0..200_000).map(|i| (i * 7919 % 5) as i64 - 1).collect();
        let (range, mask) = label_range_eq(&a, 2);
        assert_eq!(range, label_range(&a, &[]));
        assert!(mask.iter().zip(&a).all(|(&m, &v)| m == u8::from(v == 2)));
        assert_eq!(label_range_eq(&[], 0), (None, vec![]));
    }
}
