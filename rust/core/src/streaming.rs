//! Streaming accumulator kernels: fixed-bin score histograms (binned AUROC / AP) and
//! confusion counts. Every state here is a plain count array that merges by addition,
//! so the Python layer can all-reduce it across ranks in one call.
//!
//! Histogram layout: `hist[(k * classes + c) * bins + b]` for `k = 0` (negatives) and
//! `k = 1` (positives), class `c` and bin `b`. Bin `b` holds scores in
//! `[lo + b*w, lo + (b+1)*w)` with `w = (hi - lo) / bins`; scores below `lo` fall in the
//! first bin and scores at or above `hi` in the last, so nothing is dropped.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows per parallel work item; small enough to balance, large enough to amortise the
/// per-chunk histogram allocation.
const CHUNK_ROWS: usize = 1 << 16;

/// Past this many counters per local histogram we stop giving each chunk its own copy
/// (memory would be `threads * 2 * classes * bins`) and scan serially instead.
const MAX_LOCAL_COUNTERS: usize = 1 << 22;

/// Counters (per side) of one class block: 2 x 64K x 8 bytes = 1 MiB, an L2's worth.
const CACHE_COUNTERS: usize = 1 << 16;

/// Scores a histogram kernel accepts (f32 from torch models, f64 from numpy, and the
/// 2-byte f16 / bf16, widened per element as read).
pub trait Score: Copy + Send + Sync {
    fn to_f64(self) -> f64;
}

impl Score for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Score for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Half precision (numpy float16): widened exactly as each element is read, so a half
/// score matrix reaches the kernels at 2 bytes per element, never as a widened copy.
impl Score for half::f16 {
    #[inline]
    fn to_f64(self) -> f64 {
        half::f16::to_f64(self)
    }
}

/// bfloat16 (torch's `bfloat16`): widened exactly as each element is read.
impl Score for half::bf16 {
    #[inline]
    fn to_f64(self) -> f64 {
        half::bf16::to_f64(self)
    }
}

/// Fixed equal-width bins over `[lo, hi)`.
#[derive(Debug, Clone, Copy)]
pub struct Bins {
    pub n: usize,
    pub lo: f64,
    pub hi: f64,
}

impl Bins {
    /// Checked constructor: `n >= 1`, finite `lo < hi`.
    pub fn new(n: usize, lo: f64, hi: f64) -> Result<Self> {
        if n == 0 {
            return Err(Error::value("bins", "must be >= 1"));
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::value(
                "score_range",
                format!("must be finite with low < high, got ({lo}, {hi})"),
            ));
        }
        Ok(Bins { n, lo, hi })
    }

    /// Bin of one score; `None` for NaN (the caller reports it).
    #[inline]
    fn index(&self, s: f64, scale: f64) -> Option<usize> {
        if s.is_nan() {
            return None;
        }
        let x = (s - self.lo) * scale;
        // `as usize` saturates: negatives (and -inf) go to 0, +inf to usize::MAX.
        Some((x as usize).min(self.n - 1))
    }

    fn scale(&self) -> f64 {
        self.n as f64 / (self.hi - self.lo)
    }
}

/// Run `fill(rows, local_hist)` over row chunks in parallel and sum the local
/// histograms into `out`; serially when a local copy per chunk would be too large.
fn chunked_fill<F>(n_rows: usize, out: &mut [i64], fill: F) -> Result<()>
where
    F: Fn(std::ops::Range<usize>, &mut [i64]) -> Result<()> + Sync,
{
    let len = out.len();
    if n_rows <= CHUNK_ROWS || len > MAX_LOCAL_COUNTERS {
        return fill(0..n_rows, out);
    }
    let n_chunks = n_rows.div_ceil(CHUNK_ROWS);
    // At most one local histogram per thread (fold), then a tree of additions (reduce).
    let total = (0..n_chunks)
        .into_par_iter()
        .map(|i| i * CHUNK_ROWS..((i + 1) * CHUNK_ROWS).min(n_rows))
        .try_fold(
            || vec![0i64; len],
            |mut acc, rows| {
                fill(rows, &mut acc)?;
                Ok(acc)
            },
        )
        .try_reduce(
            || vec![0i64; len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    out.iter_mut().zip(&total).for_each(|(x, y)| *x += y);
    Ok(())
}

/// Fill a large histogram by blocks of classes in parallel: each task owns the negative
/// and positive counters of its classes and scans all rows, so no local copies are made.
/// `fill(classes, neg, pos)` gets the counters of `classes` (`len * bins` each).
fn class_block_fill<F>(classes: usize, bins: usize, hist: &mut [i64], fill: F) -> Result<()>
where
    F: Fn(std::ops::Range<usize>, &mut [i64], &mut [i64]) -> Result<()> + Sync,
{
    // Blocks whose counters fit in a core's L2 cache (the increments land at random
    // bins), but at least one block per thread.
    let fits = (CACHE_COUNTERS / bins).max(1);
    let block = fits
        .min(classes.div_ceil(rayon::current_num_threads()))
        .max(1);
    let (neg, pos) = hist.split_at_mut(classes * bins);
    neg.par_chunks_mut(block * bins)
        .zip(pos.par_chunks_mut(block * bins))
        .enumerate()
        .try_for_each(|(j, (ng, ps))| {
            let c0 = j * block;
            fill(c0..(c0 + block).min(classes), ng, ps)
        })
}

/// Whether to split by class: when the histogram is too large for a per-thread copy to
/// stay in cache and there are enough classes to keep every thread busy.
fn use_class_blocks(n_rows: usize, classes: usize, len: usize) -> bool {
    n_rows > CHUNK_ROWS
        && (len > MAX_LOCAL_COUNTERS
            || (len > 2 * CACHE_COUNTERS && classes >= 2 * rayon::current_num_threads()))
}

fn nan_error() -> Error {
    Error::value("preds", "contains NaN")
}

/// NaN anywhere in `scores` is an error, found before any count is written: the fills
/// below add straight into the caller's state on their serial and class-block paths,
/// and a batch rejected half-way would otherwise leave its first rows counted.
fn reject_nan<T: Score>(scores: &[T]) -> Result<()> {
    if scores
        .par_chunks(CHUNK_ROWS)
        .any(|c| c.iter().any(|x| x.to_f64().is_nan()))
    {
        return Err(nan_error());
    }
    Ok(())
}

/// Add rows of multiclass scores (`n x classes`, row-major) with class ids `target`
/// to `hist` (one-vs-rest: row i is a positive of class `target[i]` and a negative of
/// every other class).
pub fn hist_multiclass<T: Score>(
    scores: &[T],
    target: &[i64],
    classes: usize,
    bins: Bins,
    hist: &mut [i64],
) -> Result<()> {
    let n = target.len();
    if classes == 0 {
        return Err(Error::value("num_classes", "must be >= 1"));
    }
    if scores.len() != n * classes {
        return Err(Error::value(
            "preds",
            format!("expected {n} x {classes} scores, got {}", scores.len()),
        ));
    }
    if hist.len() != 2 * classes * bins.n {
        return Err(Error::value("state", "histogram has the wrong size"));
    }
    if let Some(bad) = target.iter().find(|&&t| t < 0 || t as usize >= classes) {
        return Err(Error::value(
            "target",
            format!("class id {bad} is outside [0, {classes})"),
        ));
    }
    reject_nan(scores)?;
    let scale = bins.scale();
    let nb = bins.n;
    if use_class_blocks(n, classes, hist.len()) {
        return class_block_fill(classes, nb, hist, |cs, neg, pos| {
            for (i, &t) in target.iter().enumerate() {
                let row = &scores[i * classes..(i + 1) * classes];
                for c in cs.clone() {
                    let b = bins.index(row[c].to_f64(), scale).ok_or_else(nan_error)?;
                    let h = if c == t as usize {
                        &mut *pos
                    } else {
                        &mut *neg
                    };
                    h[(c - cs.start) * nb + b] += 1;
                }
            }
            Ok(())
        });
    }
    chunked_fill(n, hist, |rows, h| {
        for i in rows {
            let t = target[i] as usize;
            let row = &scores[i * classes..(i + 1) * classes];
            for (c, &s) in row.iter().enumerate() {
                let b = bins.index(s.to_f64(), scale).ok_or_else(nan_error)?;
                let k = usize::from(c == t);
                h[(k * classes + c) * nb + b] += 1;
            }
        }
        Ok(())
    })
}

/// Add rows of multilabel (or binary, `classes = 1`) scores with 0/1 targets of the
/// same shape to `hist`.
pub fn hist_multilabel<T: Score>(
    scores: &[T],
    target: &[u8],
    classes: usize,
    bins: Bins,
    hist: &mut [i64],
) -> Result<()> {
    if classes == 0 {
        return Err(Error::value("num_classes", "must be >= 1"));
    }
    if scores.len() != target.len() || (scores.len() / classes) * classes != scores.len() {
        return Err(Error::value(
            "target",
            format!(
                "expected as many targets as scores ({}), got {}",
                scores.len(),
                target.len()
            ),
        ));
    }
    if hist.len() != 2 * classes * bins.n {
        return Err(Error::value("state", "histogram has the wrong size"));
    }
    if target.iter().any(|&t| t > 1) {
        return Err(Error::value("target", "must hold only 0 and 1"));
    }
    let n = scores.len() / classes;
    reject_nan(scores)?;
    let scale = bins.scale();
    let nb = bins.n;
    if use_class_blocks(n, classes, hist.len()) {
        return class_block_fill(classes, nb, hist, |cs, neg, pos| {
            for i in 0..n {
                for c in cs.clone() {
                    let j = i * classes + c;
                    let b = bins
                        .index(scores[j].to_f64(), scale)
                        .ok_or_else(nan_error)?;
                    let h = if target[j] == 1 { &mut *pos } else { &mut *neg };
                    h[(c - cs.start) * nb + b] += 1;
                }
            }
            Ok(())
        });
    }
    chunked_fill(n, hist, |rows, h| {
        for i in rows {
            for c in 0..classes {
                let j = i * classes + c;
                let b = bins
                    .index(scores[j].to_f64(), scale)
                    .ok_or_else(nan_error)?;
                let k = target[j] as usize;
                h[(k * classes + c) * nb + b] += 1;
            }
        }
        Ok(())
    })
}

/// Add binary rows (scores, 0/1 targets) to `hist` (`2 x bins`, negatives first).
///
/// The common streaming case gets its own loop: labels are read as the caller's int64
/// (no 0/1 byte copy), validity is collected with `|=` instead of a branch per item, and
/// each chunk counts into four interleaved histograms, so that runs of equal bins do not
/// wait on each other's increments. `hist` is left unchanged on an error.
pub fn hist_binary<T: Score>(
    scores: &[T],
    target: &[i64],
    bins: Bins,
    hist: &mut [i64],
) -> Result<()> {
    if scores.len() != target.len() {
        return Err(Error::value(
            "target",
            format!(
                "expected as many targets as scores ({}), got {}",
                scores.len(),
                target.len()
            ),
        ));
    }
    let nb = bins.n;
    if hist.len() != 2 * nb {
        return Err(Error::value("state", "histogram has the wrong size"));
    }
    let (lo, scale, top) = (bins.lo, bins.scale(), (nb - 1) as f64);
    const WAYS: usize = 4;
    const BUF: usize = 256;
    let width = 2 * nb;
    let count = |s: &[T], t: &[i64], h: &mut [i64]| -> Result<()> {
        let (mut nan, mut odd) = (false, 0i64);
        let mut idx = [0usize; BUF];
        for (sc, tc) in s.chunks(BUF).zip(t.chunks(BUF)) {
            // Bin indices first, in a loop without stores to the histogram, so that it
            // vectorises: clamping in floating point sends NaN, negatives and -inf to
            // bin 0 and +inf to the last, like `Bins::index`.
            for ((o, &x), &y) in idx.iter_mut().zip(sc).zip(tc) {
                let v = x.to_f64();
                nan |= v.is_nan();
                odd |= y & !1;
                let b = ((v - lo) * scale).max(0.0).min(top) as usize;
                *o = b + (y & 1) as usize * nb;
            }
            for (i, &b) in idx[..sc.len()].iter().enumerate() {
                h[(i % WAYS) * width + b] += 1;
            }
        }
        if nan {
            return Err(nan_error());
        }
        if odd != 0 {
            return Err(Error::value("target", "binary targets must be 0 or 1"));
        }
        Ok(())
    };
    let total = scores
        .par_chunks(CHUNK_ROWS)
        .zip(target.par_chunks(CHUNK_ROWS))
        .try_fold(
            || vec![0i64; WAYS * width],
            |mut acc, (s, t)| {
                count(s, t, &mut acc)?;
                Ok(acc)
            },
        )
        .try_reduce(
            || vec![0i64; WAYS * width],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    for way in total.chunks_exact(width) {
        hist.iter_mut().zip(way).for_each(|(x, y)| *x += y);
    }
    Ok(())
}

/// ROC AUC of one class from its negative and positive bin counts: the trapezoid over
/// the binned ROC curve, i.e. P(score_pos > score_neg) + P(same bin) / 2.
/// NaN when the class has no positives or no negatives.
pub fn binned_auroc(neg: &[i64], pos: &[i64]) -> f64 {
    let (n_neg, n_pos): (i64, i64) = (neg.iter().sum(), pos.iter().sum());
    if n_neg <= 0 || n_pos <= 0 {
        return f64::NAN;
    }
    // Walk thresholds from the highest bin down; count pairs instead of areas so the
    // sum stays exact in integers as long as it fits (u128 always does).
    let mut pos_above: u128 = 0;
    let mut twice_pairs: u128 = 0;
    for (&ng, &ps) in neg.iter().zip(pos).rev() {
        let (ng, ps) = (ng.max(0) as u128, ps.max(0) as u128);
        twice_pairs += 2 * pos_above * ng + ps * ng;
        pos_above += ps;
    }
    twice_pairs as f64 / (2.0 * n_neg as f64 * n_pos as f64)
}

/// Average precision of one class from the binned precision-recall curve (scikit-learn's
/// step-wise sum of precision times recall increments, bins acting as tied scores).
/// NaN when the class has no positives.
pub fn binned_average_precision(neg: &[i64], pos: &[i64]) -> f64 {
    let n_pos: i64 = pos.iter().sum();
    if n_pos <= 0 {
        return f64::NAN;
    }
    let (mut tp, mut fp) = (0i64, 0i64);
    let mut ap = 0.0;
    for (&ng, &ps) in neg.iter().zip(pos).rev() {
        tp += ps;
        fp += ng;
        if ps > 0 {
            ap += (ps as f64 / n_pos as f64) * (tp as f64 / (tp + fp) as f64);
        }
    }
    ap
}

/// Per-class binned AUROC (`ap = false`) or AP (`ap = true`) from a full histogram.
pub fn binned_scores(hist: &[i64], classes: usize, bins: usize, ap: bool) -> Result<Vec<f64>> {
    if classes == 0 || bins == 0 || hist.len() != 2 * classes * bins {
        return Err(Error::value("state", "histogram has the wrong size"));
    }
    let (neg, pos) = hist.split_at(classes * bins);
    Ok((0..classes)
        .map(|c| {
            let r = c * bins..(c + 1) * bins;
            if ap {
                binned_average_precision(&neg[r.clone()], &pos[r])
            } else {
                binned_auroc(&neg[r.clone()], &pos[r])
            }
        })
        .collect())
}

/// Add the confusion counts of (`target`, `preds`) class-id pairs to the row-major
/// `classes x classes` matrix `cm` (rows: true class, columns: predicted class).
/// Per-chunk local matrices, no n-sized temporary.
pub fn confusion_counts(
    target: &[i64],
    preds: &[i64],
    classes: usize,
    cm: &mut [i64],
) -> Result<()> {
    if target.len() != preds.len() {
        return Err(Error::value(
            "preds",
            format!("has {} items but target has {}", preds.len(), target.len()),
        ));
    }
    if cm.len() != classes * classes {
        return Err(Error::value("state", "confusion matrix has the wrong size"));
    }
    for (name, v) in [("target", target), ("preds", preds)] {
        if let Some(bad) = v.iter().find(|&&t| t < 0 || t as usize >= classes) {
            return Err(Error::value(
                name,
                format!("class id {bad} is outside [0, {classes})"),
            ));
        }
    }
    chunked_fill(target.len(), cm, |rows, m| {
        for i in rows {
            m[target[i] as usize * classes + preds[i] as usize] += 1;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairwise definition of AUC, O(P*N), ties count one half.
    fn pairwise_auc(scores: &[f64], labels: &[u8]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] == 1 && labels[j] == 0 {
                    den += 1.0;
                    num += if si > sj {
                        1.0
                    } else if si == sj {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        num / den
    }

    #[test]
    fn bins_place_edges_and_outliers() {
        let b = Bins::new(4, 0.0, 1.0).unwrap();
        let s = b.scale();
        assert_eq!(b.index(0.0, s), Some(0));
        assert_eq!(b.index(0.25, s), Some(1));
        assert_eq!(b.index(0.999, s), Some(3));
        assert_eq!(b.index(1.0, s), Some(3));
        assert_eq!(b.index(-3.0, s), Some(0));
        assert_eq!(b.index(f64::INFINITY, s), Some(3));
        assert_eq!(b.index(f64::NAN, s), None);
        assert!(Bins::new(0, 0.0, 1.0).is_err());
        assert!(Bins::new(3, 1.0, 1.0).is_err());
    }

    #[test]
    fn binned_auc_equals_pairwise_auc_on_bin_centres() {
        // Scores already on bin centres: binning loses nothing, so the binned AUC must
        // equal the exact pairwise AUC (ties included).
        let bins = Bins::new(10, 0.0, 1.0).unwrap();
        let scores: Vec<f64> = (0..200)
            .map(|i| ((i * 7919) % 10) as f64 / 10.0 + 0.05)
            .collect();
        let labels: Vec<u8> = (0..200)
            .map(|i| ((i * 31 + i / 3) % 3 == 0) as u8)
            .collect();
        let mut h = vec![0i64; 2 * bins.n];
        hist_multilabel(&scores, &labels, 1, bins, &mut h).unwrap();
        let auc = binned_scores(&h, 1, bins.n, false).unwrap()[0];
        assert!((auc - pairwise_auc(&scores, &labels)).abs() < 1e-12);
    }

    #[test]
    fn binned_ap_matches_hand_computation() {
        // Bins from high to low: bin 2 has 1 pos, bin 1 has 1 pos + 1 neg, bin 0 1 neg.
        // AP = 1/2 * 1/1 + 1/2 * 2/3.
        let neg = [1i64, 1, 0];
        let pos = [0i64, 1, 1];
        let ap = binned_average_precision(&neg, &pos);
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        assert!(binned_average_precision(&[3, 1], &[0, 0]).is_nan());
        assert!(binned_auroc(&[0, 0], &[1, 2]).is_nan());
    }

    #[test]
    fn binary_histogram_equals_the_multilabel_one() {
        let bins = Bins::new(7, -0.5, 1.25).unwrap();
        let n = 3 * CHUNK_ROWS + 5; // several chunks and a remainder of the 4-way loop
        let mut scores: Vec<f32> = (0..n)
            .map(|i| ((i * 2654435761) % 2000) as f32 / 1000.0 - 0.5)
            .collect();
        scores[3] = f32::INFINITY;
        scores[n - 1] = f32::NEG_INFINITY;
        let labels: Vec<u8> = (0..n).map(|i| u8::from((i * 7919) % 3 == 0)).collect();
        let target: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        let mut want = vec![1i64; 2 * bins.n];
        hist_multilabel(&scores, &labels, 1, bins, &mut want).unwrap();
        let mut got = vec![1i64; 2 * bins.n];
        hist_binary(&scores, &target, bins, &mut got).unwrap();
        assert_eq!(got, want);
        assert_eq!(got.iter().sum::<i64>(), n as i64 + 14);
    }

    #[test]
    fn multi_histograms_keep_the_state_when_a_late_row_is_nan() {
        // Small batches take the serial path, which adds into `hist` directly.
        let bins = Bins::new(4, 0.0, 1.0).unwrap();
        let s = [0.1f64, 0.5, 0.9, 0.3, f64::NAN, 0.2];
        let mut h = vec![7i64; 2 * 3 * 4];
        let e = hist_multiclass(&s, &[0, 2], 3, bins, &mut h).unwrap_err();
        assert!(e.to_string().starts_with("preds"), "{e}");
        assert_eq!(h, vec![7i64; 24]);
        let e = hist_multilabel(&s, &[1, 0, 0, 1, 1, 0], 3, bins, &mut h).unwrap_err();
        assert!(e.to_string().starts_with("preds"), "{e}");
        assert_eq!(h, vec![7i64; 24]);
    }

    #[test]
    fn binary_histogram_rejects_bad_rows_and_keeps_the_state() {
        let bins = Bins::new(4, 0.0, 1.0).unwrap();
        let mut h = vec![5i64; 8];
        let e = hist_binary(&[0.1f64, f64::NAN], &[0, 1], bins, &mut h).unwrap_err();
        assert!(e.to_string().starts_with("preds"), "{e}");
        for bad in [2i64, -1] {
            let e = hist_binary(&[0.1f64, 0.2], &[0, bad], bins, &mut h).unwrap_err();
            assert!(e.to_string().starts_with("target"), "{e}");
        }
        assert!(hist_binary(&[0.1f64], &[0, 1], bins, &mut h).is_err());
        assert!(hist_binary(&[0.1f64], &[0], bins, &mut h[..6]).is_err());
        assert_eq!(h, vec![5i64; 8]);
    }

    #[test]
    fn multiclass_histogram_counts_one_vs_rest_and_parallel_equals_serial() {
        let classes = 3;
        let n = 3 * CHUNK_ROWS + 17; // several parallel chunks
        let scores: Vec<f32> = (0..n * classes)
            .map(|i| ((i * 2654435761) % 1000) as f32 / 1000.0)
            .collect();
        let target: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
        let bins = Bins::new(16, 0.0, 1.0).unwrap();
        let mut par = vec![0i64; 2 * classes * bins.n];
        hist_multiclass(&scores, &target, classes, bins, &mut par).unwrap();
        let mut ser = vec![0i64; 2 * classes * bins.n];
        let scale = bins.scale();
        for i in 0..n {
            for c in 0..classes {
                let b = bins.index(scores[i * classes + c] as f64, scale).unwrap();
                let k = usize::from(target[i] as usize == c);
                ser[(k * classes + c) * bins.n + b] += 1;
            }
        }
        assert_eq!(par, ser);
        let pos: i64 = par[classes * bins.n..].iter().sum();
        assert_eq!(pos as usize, n);
        assert_eq!(par.iter().sum::<i64>() as usize, n * classes);
    }

    #[test]
    fn class_blocks_for_large_histograms_equal_serial_counts() {
        // 2 * 40 * 60_000 counters > MAX_LOCAL_COUNTERS and > CHUNK_ROWS rows: the
        // class-block path; compare with a plain serial count.
        let (classes, n) = (40, CHUNK_ROWS + 5);
        let bins = Bins::new(60_000, 0.0, 1.0).unwrap();
        let scores: Vec<f32> = (0..n * classes)
            .map(|i| ((i * 2654435761) % 100_003) as f32 / 100_003.0)
            .collect();
        let target: Vec<i64> = (0..n).map(|i| ((i * 7) % classes) as i64).collect();
        let labels: Vec<u8> = (0..n * classes).map(|i| (i % 3 == 0) as u8).collect();
        assert!(use_class_blocks(n, classes, 2 * classes * bins.n));
        let scale = bins.scale();
        let mut got = vec![0i64; 2 * classes * bins.n];
        hist_multiclass(&scores, &target, classes, bins, &mut got).unwrap();
        let mut want = vec![0i64; 2 * classes * bins.n];
        for i in 0..n {
            for c in 0..classes {
                let b = bins.index(scores[i * classes + c] as f64, scale).unwrap();
                let k = usize::from(target[i] as usize == c);
                want[(k * classes + c) * bins.n + b] += 1;
            }
        }
        assert_eq!(got, want);
        let mut got = vec![0i64; 2 * classes * bins.n];
        hist_multilabel(&scores, &labels, classes, bins, &mut got).unwrap();
        let mut want = vec![0i64; 2 * classes * bins.n];
        for (j, (&s, &l)) in scores.iter().zip(&labels).enumerate() {
            let b = bins.index(s as f64, scale).unwrap();
            want[(l as usize * classes + j % classes) * bins.n + b] += 1;
        }
        assert_eq!(got, want);
        let mut h = vec![0i64; 2 * classes * bins.n];
        let mut bad = scores.clone();
        bad[n * classes - 1] = f32::NAN;
        assert!(hist_multiclass(&bad, &target, classes, bins, &mut h).is_err());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let bins = Bins::new(4, 0.0, 1.0).unwrap();
        let mut h = vec![0i64; 2 * 2 * 4];
        assert!(hist_multiclass(&[0.1f64, f64::NAN], &[0], 2, bins, &mut h).is_err());
        assert!(hist_multiclass(&[0.1f64, 0.2], &[2], 2, bins, &mut h).is_err());
        assert!(hist_multiclass(&[0.1f64, 0.2, 0.3], &[0], 2, bins, &mut h).is_err());
        assert!(hist_multilabel(&[0.1f64, 0.2], &[0, 2], 2, bins, &mut h).is_err());
        let mut cm = vec![0i64; 4];
        assert!(confusion_counts(&[0, 1], &[1], 2, &mut cm).is_err());
        assert!(confusion_counts(&[0, 5], &[1, 0], 2, &mut cm).is_err());
    }

    #[test]
    fn confusion_counts_rows_are_true_classes() {
        let mut cm = vec![0i64; 9];
        let t: Vec<i64> = (0..300_000).map(|i| i % 3).collect();
        let p: Vec<i64> = (0..300_000).map(|i| (i / 2) % 3).collect();
        confusion_counts(&t, &p, 3, &mut cm).unwrap();
        let mut want = vec![0i64; 9];
        for (a, b) in t.iter().zip(&p) {
            want[*a as usize * 3 + *b as usize] += 1;
        }
        assert_eq!(cm, want);
    }
}

/// f16 / bf16 scores fill the histograms exactly as the same values in f32.
#[cfg(test)]
mod half_tests {
    use super::*;
    use half::{bf16, f16};

    fn fill<T: Score>(s: &[T], n: usize, c: usize) -> Vec<i64> {
        let b = Bins::new(50, 0.0, 1.0).expect("bins");
        let t: Vec<i64> = (0..n).map(|i| (i % c) as i64).collect();
        let t01: Vec<i64> = (0..n).map(|i| (i % 2) as i64).collect();
        let ind: Vec<u8> = (0..n * c).map(|i| u8::from(i % 3 == 0)).collect();
        let mut h = vec![0i64; 2 * c * 50];
        hist_multiclass(s, &t, c, b, &mut h).expect("multiclass");
        hist_multilabel(s, &ind, c, b, &mut h).expect("multilabel");
        let mut hb = vec![0i64; 2 * 50];
        hist_binary(&s[..n], &t01, b, &mut hb).expect("binary");
        h.extend(hb);
        h
    }

    #[test]
    fn halves_fill_as_f32() {
        let (n, c) = (4000, 3);
        let r: Vec<f32> = (0..n * c)
            .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0)
            .collect();
        let h: Vec<f16> = r.iter().map(|&x| f16::from_f32(x)).collect();
        let hf: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
        assert_eq!(fill(&h, n, c), fill(&hf, n, c));
        let b: Vec<bf16> = r.iter().map(|&x| bf16::from_f32(x)).collect();
        let bf: Vec<f32> = b.iter().map(|x| x.to_f32()).collect();
        assert_eq!(fill(&b, n, c), fill(&bf, n, c));
        // bf16 rounding moved scores across bin edges: the two inputs differ.
        assert_ne!(fill(&b, n, c), fill(&r, n, c));
    }

    #[test]
    fn half_nan_is_an_error_and_leaves_the_state() {
        let b = Bins::new(4, 0.0, 1.0).expect("bins");
        let mut h = vec![0i64; 2 * 2 * 4];
        let s = [f16::from_f32(0.2), f16::NAN, f16::ZERO, f16::ONE];
        assert!(hist_multiclass(&s, &[0, 1], 2, b, &mut h).is_err());
        let s = [bf16::from_f32(0.2), bf16::NAN, bf16::ZERO, bf16::ONE];
        assert!(hist_multilabel(&s, &[0, 1, 1, 0], 2, b, &mut h).is_err());
        let mut hb = vec![0i64; 2 * 4];
        assert!(hist_binary(&s, &[0, 1, 1, 0], b, &mut hb).is_err());
        assert!(h.iter().chain(&hb).all(|&v| v == 0));
    }
}
