//! Row-wise kernels of the classification metrics.

use rayon::prelude::*;

use crate::streaming::Score;
use crate::{Error, Result};

/// Whether the true class of each row is among its `k` highest scores, with
/// scikit-learn's tie order: `argsort(kind="mergesort")[:, ::-1]` puts, among equal
/// scores, the higher class index first. So class `t` is a hit iff
/// `#{j: s_j > s_t} + #{j > t: s_j == s_t} < k`.
pub fn top_k_hits<T: Score>(
    y: &[u32],
    scores: &[T],
    n: usize,
    c: usize,
    k: usize,
) -> Result<Vec<u8>> {
    if n.checked_mul(c) != Some(scores.len()) {
        return Err(Error::value("y_score", "shape does not match y_true"));
    }
    if y.len() != n {
        return Err(Error::value("y_true", "length does not match y_score"));
    }
    if scores
        .par_chunks(1 << 16)
        .any(|ch| ch.iter().any(|x| x.to_f64().is_nan()))
    {
        return Err(Error::value("y_score", "contains NaN"));
    }
    if let Some(&bad) = y.iter().find(|&&v| v as usize >= c) {
        return Err(Error::value(
            "y_true",
            format!("encoded class {bad} out of range for {c} columns"),
        ));
    }
    Ok(scores
        .par_chunks(c.max(1))
        .zip(y.par_iter())
        .map(|(row, &t)| {
            let t = t as usize;
            let st = row[t].to_f64();
            let mut rank = 0usize;
            for (j, &s) in row.iter().enumerate() {
                let s = s.to_f64();
                rank += usize::from(s > st || (s == st && j > t));
            }
            u8::from(rank < k)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_higher_index() {
        let s = [0.2, 0.4, 0.4, 0.3, 0.3, 0.4];
        // row 0: class 1 tied with 2 -> class 2 ranks first, class 1 second.
        assert_eq!(top_k_hits(&[1, 2], &s, 2, 3, 1).expect("ok"), vec![0, 1]);
        assert_eq!(top_k_hits(&[1, 0], &s, 2, 3, 2).expect("ok"), vec![1, 0]);
        assert!(top_k_hits(&[3, 0], &s, 2, 3, 1).is_err());
    }
}
