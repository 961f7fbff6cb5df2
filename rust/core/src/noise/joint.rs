//! The confident joint (Northcutt et al., JAIR 2021, eq. 1) counted as cleanlab's
//! `compute_confident_joint` counts it, in one parallel pass with no n x C temporary.
//!
//! Row i is "confident" for class j when `p[i, j] >= t[j]` (t = per-class threshold
//! minus 1e-6, prepared by the caller as the smallest value of the matrix's dtype that
//! passes numpy's comparison). A row with no confident class is not counted; with one,
//! it counts as that class; with several, as its argmax (the first maximum) — cleanlab's
//! collision rule. The count goes to `(given label, that class)`.

use rayon::prelude::*;

use super::{check_inputs, check_row, chunk_rows, label_is_argmax, Prob};
use crate::error::{Error, Result};

/// What one pass returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    /// Row-major `C x C` counts, `[given, guessed true class]`.
    pub counts: Vec<i64>,
    /// Rows counted off the diagonal whose given label is not (with 1e-6 slack) their
    /// argmax: cleanlab's `confident_learning` issues, ascending. Empty unless asked.
    pub off_diagonal: Vec<usize>,
}

/// The confident class of one row (None if no class is confident).
#[inline]
fn guess<T: Prob>(row: &[T], thr: &[T]) -> Option<usize> {
    let mut n_conf = 0usize;
    let mut first = 0usize;
    let mut arg = 0usize;
    let mut best = row[0];
    for (j, (&p, &t)) in row.iter().zip(thr).enumerate() {
        if p >= t {
            if n_conf == 0 {
                first = j;
            }
            n_conf += 1;
        }
        if p > best {
            best = p;
            arg = j;
        }
    }
    match n_conf {
        0 => None,
        1 => Some(first),
        _ => Some(arg),
    }
}

/// Count the confident joint of `probs` (`n x c`, row-major) and `labels`.
///
/// `thr`: per-class thresholds already lowered by 1e-6; `eps`: cleanlab's 1e-6 slack for
/// the "label is the argmax" rule; `lo`/`hi`: the accepted value range (NaN or a value
/// outside it is an error naming `pred_probs`).
#[allow(clippy::too_many_arguments)]
pub fn confident_joint<T: Prob>(
    probs: &[T],
    labels: &[i64],
    c: usize,
    thr: &[T],
    eps: T,
    lo: f64,
    hi: f64,
    want_off_diagonal: bool,
) -> Result<Joint> {
    check_inputs(probs, labels, c)?;
    if thr.len() != c {
        return Err(Error::value(
            "thresholds",
            format!("expected {c} values, got {}", thr.len()),
        ));
    }
    let rows = chunk_rows(c);
    let parts: Vec<Result<(Vec<u32>, Vec<usize>)>> = probs
        .par_chunks(rows * c)
        .zip(labels.par_chunks(rows))
        .enumerate()
        .map(|(ci, (block, ys))| {
            let mut g = Vec::with_capacity(ys.len());
            let mut off = Vec::new();
            for (r, (row, &y)) in block.chunks_exact(c).zip(ys).enumerate() {
                check_row(row, lo, hi)?;
                let y = y as usize;
                match guess(row, thr) {
                    None => g.push(u32::MAX),
                    Some(k) => {
                        g.push(k as u32);
                        if want_off_diagonal && k != y && !label_is_argmax(row, y, eps) {
                            off.push(ci * rows + r);
                        }
                    }
                }
            }
            Ok((g, off))
        })
        .collect();
    let mut counts = vec![0i64; c * c];
    let mut off_diagonal = Vec::new();
    for (ci, part) in parts.into_iter().enumerate() {
        let (g, off) = part?;
        for (r, &k) in g.iter().enumerate() {
            if k != u32::MAX {
                counts[labels[ci * rows + r] as usize * c + k as usize] += 1;
            }
        }
        off_diagonal.extend(off);
    }
    Ok(Joint {
        counts,
        off_diagonal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_collision_rule() {
        // thresholds 0.5 for both classes
        let p = [
            0.9f64, 0.1, // confident in 0 only
            0.6, 0.6, // both confident: argmax is the first max, 0
            0.4, 0.6, // 1 only
            0.3, 0.3, // none
        ];
        let j = confident_joint(&p, &[1, 1, 0, 0], 2, &[0.5, 0.5], 1e-6, -1e-6, 1.0, true).unwrap();
        assert_eq!(j.counts, vec![0, 1, 2, 0]);
        // row 0 (given 1, guessed 0, p[1] far below) and row 2 are issues; row 1's
        // label ties the max, so the 1e-6 slack keeps it
        assert_eq!(j.off_diagonal, vec![0, 2]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let p = [0.5f32, f32::NAN];
        assert!(confident_joint(&p, &[0], 2, &[0.5, 0.5], 1e-6, -1e-6, 1.0, false).is_err());
        let p = [0.5f32, 0.5];
        let e = confident_joint(&p, &[0], 2, &[0.5], 1e-6, -1e-6, 1.0, false).unwrap_err();
        assert!(e.to_string().starts_with("thresholds:"));
        assert!(confident_joint(&p, &[3], 2, &[0.5, 0.5], 1e-6, -1e-6, 1.0, false).is_err());
    }
}
