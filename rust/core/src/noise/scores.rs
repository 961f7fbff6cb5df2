//! Label quality scores (Northcutt et al., JAIR 2021; cleanlab `rank.py`) and the
//! "predicted != given" baseline, one parallel pass over the rows each.

use rayon::prelude::*;

use super::pairwise::pairwise_sum;
use super::{check_inputs, check_row, chunk_rows, label_is_argmax, Prob};
use crate::error::{Error, Result};

/// Which per-row quantity [`quality`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `p[y]`.
    SelfConfidence,
    /// `(p[y] - max_{j != y} p[j] + 1) / 2`, in the matrix's dtype.
    NormalizedMargin,
    /// `sum_j xlogy(p[j], p[j])` with numpy's pairwise row sum (the caller finishes
    /// cleanlab's confidence-weighted entropy from it with numpy's own `log`).
    RowXlogxSum,
}

impl Method {
    /// From the binding's integer code.
    pub fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Method::SelfConfidence),
            1 => Ok(Method::NormalizedMargin),
            2 => Ok(Method::RowXlogxSum),
            _ => Err(Error::value(
                "method",
                format!("unknown method code {code}"),
            )),
        }
    }
}

/// One value per row (see [`Method`]); NaN or values outside `lo..=hi` are errors.
pub fn quality<T: Prob>(
    probs: &[T],
    labels: &[i64],
    c: usize,
    method: Method,
    lo: f64,
    hi: f64,
) -> Result<Vec<T>> {
    check_inputs(probs, labels, c)?;
    if method == Method::NormalizedMargin && c < 2 {
        return Err(Error::value(
            "pred_probs",
            "normalized_margin needs at least 2 columns",
        ));
    }
    let rows = chunk_rows(c);
    let parts: Vec<Result<Vec<T>>> = probs
        .par_chunks(rows * c)
        .zip(labels.par_chunks(rows))
        .map(|(block, ys)| {
            let mut out = Vec::with_capacity(ys.len());
            let mut buf: Vec<T> = Vec::new();
            for (row, &y) in block.chunks_exact(c).zip(ys) {
                check_row(row, lo, hi)?;
                let y = y as usize;
                out.push(match method {
                    Method::SelfConfidence => row[y],
                    Method::NormalizedMargin => {
                        let mut m: Option<T> = None;
                        for (j, &p) in row.iter().enumerate() {
                            if j != y && m.is_none_or(|b| p > b) {
                                m = Some(p);
                            }
                        }
                        let m = m.unwrap_or(row[y]);
                        (row[y] - m + T::one()) / (T::one() + T::one())
                    }
                    Method::RowXlogxSum => {
                        buf.clear();
                        buf.extend(row.iter().map(|&p| {
                            if p == T::zero() {
                                T::zero()
                            } else {
                                p * p.ln()
                            }
                        }));
                        pairwise_sum(&buf)
                    }
                });
            }
            Ok(out)
        })
        .collect();
    let mut out = Vec::with_capacity(labels.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Rows whose argmax (first maximum) is not the given label, except those where the
/// label is the argmax once 1e-6 (`eps`) is added to it: cleanlab's `predicted_neq_given`
/// after `_reduce_issues`. Ascending row numbers.
pub fn predicted_neq_given<T: Prob>(
    probs: &[T],
    labels: &[i64],
    c: usize,
    eps: T,
    lo: f64,
    hi: f64,
) -> Result<Vec<usize>> {
    check_inputs(probs, labels, c)?;
    let rows = chunk_rows(c);
    let parts: Vec<Result<Vec<usize>>> = probs
        .par_chunks(rows * c)
        .zip(labels.par_chunks(rows))
        .enumerate()
        .map(|(ci, (block, ys))| {
            let mut out = Vec::new();
            for (r, (row, &y)) in block.chunks_exact(c).zip(ys).enumerate() {
                check_row(row, lo, hi)?;
                let y = y as usize;
                let mut arg = 0;
                for (j, &p) in row.iter().enumerate() {
                    if p > row[arg] {
                        arg = j;
                    }
                }
                if arg != y && !label_is_argmax(row, y, eps) {
                    out.push(ci * rows + r);
                }
            }
            Ok(out)
        })
        .collect();
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_a_small_matrix() {
        let p = [0.7f64, 0.2, 0.1, 0.1, 0.3, 0.6];
        let y = [0, 0];
        let sc = quality(&p, &y, 3, Method::SelfConfidence, 0.0, 1.0).unwrap();
        assert_eq!(sc, vec![0.7, 0.1]);
        let nm = quality(&p, &y, 3, Method::NormalizedMargin, 0.0, 1.0).unwrap();
        assert_eq!(nm, vec![(0.7 - 0.2 + 1.0) / 2.0, (0.1 - 0.6 + 1.0) / 2.0]);
        let h = quality(&p, &y, 3, Method::RowXlogxSum, 0.0, 1.0).unwrap();
        assert!(
            (h[0] - (0.7f64 * 0.7f64.ln() + 0.2 * 0.2f64.ln() + 0.1 * 0.1f64.ln())).abs() < 1e-15
        );
        assert!(quality(&p, &y, 3, Method::SelfConfidence, 0.0, 0.5).is_err());
        assert!(Method::from_code(9).is_err());
    }

    #[test]
    fn predicted_neq_given_skips_near_ties() {
        let p = [0.5f32, 0.5, 0.2, 0.8, 0.9, 0.1];
        assert_eq!(
            predicted_neq_given(&p, &[1, 0, 0], 2, 1e-6, -1e-6, 1.0).unwrap(),
            vec![1]
        );
    }
}
