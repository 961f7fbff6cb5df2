//! Label issues under class imbalance (confident learning, Northcutt et al., JAIR 2021),
//! computed so that every count and every selection equals cleanlab 2.x's.
//!
//! The Python layer (`longtail.noise`) keeps the O(C^2) arithmetic (calibration, the
//! prune-count matrix) in numpy, written as cleanlab writes it; the kernels here do the
//! O(n C) passes:
//!
//! - [`pairwise`]: the per-class sums behind the confident thresholds, with numpy's
//!   pairwise summation reproduced bit for bit, streamable and mergeable across shards;
//! - [`joint`]: the confident-joint count (threshold test, cleanlab's collision rule,
//!   C x C counting) in one pass with no n x C temporary;
//! - [`prune`]: one bounded "keep the m best" selection per (given, true) pair
//!   (prune_by_noise_rate) or per class (prune_by_class);
//! - [`scores`]: label quality scores and the predicted != given filter.

pub mod joint;
pub mod pairwise;
pub mod prune;
pub mod scores;

use crate::error::{Error, Result};

/// The float types a probability matrix may have (f32 stays f32: no widened copy).
pub trait Prob:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + 'static
{
    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// +infinity.
    fn infinity() -> Self;
    /// Exact widening.
    fn to_f64(self) -> f64;
    /// Rounding to nearest (as numpy converts a Python float to the array's dtype).
    fn from_f64(x: f64) -> Self;
    /// Natural log in this width (`logf` for f32, `log` for f64: what scipy's xlogy calls).
    fn ln(self) -> Self;
}

impl Prob for f32 {
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn infinity() -> Self {
        f32::INFINITY
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
}

impl Prob for f64 {
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn infinity() -> Self {
        f64::INFINITY
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
}

/// Check the shapes shared by every kernel: `probs` is `labels.len() x c`, `c >= 1`,
/// and every label is a class id in `0..c`.
pub(crate) fn check_inputs<T>(probs: &[T], labels: &[i64], c: usize) -> Result<()> {
    if c == 0 {
        return Err(Error::value("pred_probs", "must have at least one column"));
    }
    if probs.len() != labels.len() * c {
        return Err(Error::value(
            "labels",
            format!(
                "length {} does not match pred_probs with {} rows",
                labels.len(),
                probs.len() / c
            ),
        ));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y < 0 || y as u64 >= c as u64) {
        return Err(Error::value(
            "labels",
            format!("class id {bad} is out of range for pred_probs with {c} columns"),
        ));
    }
    Ok(())
}

/// Rows per parallel task: fixed (not derived from the thread count), so results never
/// depend on how many threads ran.
pub(crate) fn chunk_rows(c: usize) -> usize {
    (1usize << 16).div_ceil(c.max(1)).max(64)
}

/// The range check cleanlab applies (`min < lo` or `max > hi` refuses) plus NaN.
#[inline]
pub(crate) fn check_row<T: Prob>(row: &[T], lo: f64, hi: f64) -> Result<()> {
    // branch-free first (vectorises); find the culprit only if there is one
    let mut bad = false;
    for &p in row {
        let v = p.to_f64();
        bad |= !(v >= lo && v <= hi);
    }
    if !bad {
        return Ok(());
    }
    for &p in row {
        let v = p.to_f64();
        if !(v >= lo && v <= hi) {
            return Err(if v.is_nan() {
                Error::value("pred_probs", "contains NaN")
            } else {
                Error::value(
                    "pred_probs",
                    format!("values must be between 0 and 1, got {v}"),
                )
            });
        }
    }
    Ok(())
}

/// cleanlab's `_reduce_issues` for one row: with `eps` added to the given label's
/// probability, is the given label the (first) argmax? Such rows are never issues.
#[inline]
pub(crate) fn label_is_argmax<T: Prob>(row: &[T], y: usize, eps: T) -> bool {
    let q = row[y] + eps;
    row[..y].iter().all(|&p| p < q) && row[y + 1..].iter().all(|&p| p <= q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shapes_and_labels_name_the_argument() {
        let p = [0.5f32, 0.5, 0.5, 0.5];
        assert!(check_inputs(&p, &[0, 1], 2).is_ok());
        let e = check_inputs(&p, &[0, 2], 2).unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
        let e = check_inputs(&p, &[0], 2).unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
        let e = check_inputs(&p, &[0, -1], 2).unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
        let e = check_inputs::<f32>(&[], &[], 0).unwrap_err();
        assert!(e.to_string().starts_with("pred_probs:"));
    }

    #[test]
    fn row_check_rejects_nan_and_out_of_range() {
        assert!(check_row(&[0.0f64, 1.0], -1e-6, 1.0 + 1e-6).is_ok());
        assert!(check_row(&[f64::NAN, 1.0], -1e-6, 1.0 + 1e-6).is_err());
        assert!(check_row(&[1.1f64], -1e-6, 1.0 + 1e-6).is_err());
    }

    #[test]
    fn reduce_rule_breaks_ties_like_argmax() {
        // label 1 tied with class 0 before it: 0.5 + eps > 0.5, so label 1 wins
        assert!(label_is_argmax(&[0.5f64, 0.5], 1, 1e-6));
        assert!(!label_is_argmax(&[0.6f64, 0.4], 1, 1e-6));
        assert!(label_is_argmax(&[0.4f64, 0.6], 1, 1e-6));
    }
}
