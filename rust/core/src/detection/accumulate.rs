//! Accumulation (pycocotools' `accumulate`, lvis-api's `accumulate`): per class, area
//! range, max-detection limit and IoU threshold, the detections of all images sorted by
//! score (stable: equal scores keep stream order), cumulative true/false positives, the
//! precision envelope and the precision at each recall threshold (`searchsorted` left).

use rayon::prelude::*;

use crate::detection::evaluate::{code, code_width, FP, TP};
use crate::detection::AREAS;
use crate::error::{Error, Result};

/// `np.spacing(1)`, the epsilon in pycocotools' precision denominator.
const EPS: f64 = f64::EPSILON;

/// The accumulated evaluation state of all images (see [`crate::detection::evaluate`]).
pub struct State<'a> {
    pub scores: &'a [f64],
    pub labels: &'a [i64],
    pub levels: &'a [u8],
    pub codes: &'a [u8],
    pub gt_labels: &'a [i64],
    pub gt_flags: &'a [u8],
}

/// Precision `T x R x K x A x M` and recall `T x K x A x M` (row-major, -1 where a class
/// has no ground truth in an area range), as in `COCOeval.eval`.
pub struct Accumulated {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
}

/// Accumulate `state` for `classes` (sorted, unique), `n_thrs` IoU thresholds, recall
/// thresholds `rec_thrs` and `n_max` max-detection limits.
pub fn accumulate(
    s: &State<'_>,
    classes: &[i64],
    n_thrs: usize,
    rec_thrs: &[f64],
    n_max: usize,
) -> Result<Accumulated> {
    let n = s.scores.len();
    let width = code_width(n_thrs);
    if s.labels.len() != n || s.levels.len() != n || s.codes.len() != n * AREAS * width {
        return Err(Error::value("state", "detection arrays differ in length"));
    }
    if s.gt_flags.len() != s.gt_labels.len() {
        return Err(Error::value(
            "state",
            "ground-truth arrays differ in length",
        ));
    }
    if classes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::value("classes", "must be sorted and unique"));
    }
    if rec_thrs.iter().any(|r| !r.is_finite()) {
        return Err(Error::value("rec_thresholds", "must be finite"));
    }
    let k_n = classes.len();
    let r_n = rec_thrs.len();
    let slot = |l: i64| classes.binary_search(&l).ok();
    // Detection rows by class, in stream order (a stable counting sort).
    let mut start = vec![0usize; k_n + 1];
    let mut slots = vec![usize::MAX; n];
    for (r, &l) in s.labels.iter().enumerate() {
        if let Some(k) = slot(l) {
            slots[r] = k;
            start[k + 1] += 1;
        }
    }
    for k in 0..k_n {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut rows = vec![0usize; start[k_n]];
    for (r, &k) in slots.iter().enumerate() {
        if k != usize::MAX {
            rows[fill[k]] = r;
            fill[k] += 1;
        }
    }
    let mut npig = vec![0u64; k_n * AREAS];
    for (&l, &f) in s.gt_labels.iter().zip(s.gt_flags) {
        if let Some(k) = slot(l) {
            for a in 0..AREAS {
                if f >> a & 1 == 1 {
                    npig[k * AREAS + a] += 1;
                }
            }
        }
    }

    // One class: precision (T, R, A, M) and recall (T, A, M).
    let per_class: Vec<(Vec<f64>, Vec<f64>)> = (0..k_n)
        .into_par_iter()
        .map(|k| {
            let mut prec = vec![-1.0; n_thrs * r_n * AREAS * n_max];
            let mut rec = vec![-1.0; n_thrs * AREAS * n_max];
            let mut mine: Vec<usize> = rows[start[k]..start[k + 1]].to_vec();
            mine.sort_by(|&a, &b| {
                s.scores[b]
                    .partial_cmp(&s.scores[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            // This class's rows in score order, copied together (sequential scans below).
            let nd_all = mine.len();
            let row_bytes = AREAS * width;
            let mut codes = Vec::with_capacity(nd_all * row_bytes);
            let mut levels = Vec::with_capacity(nd_all);
            for &r in &mine {
                codes.extend_from_slice(&s.codes[r * row_bytes..(r + 1) * row_bytes]);
                levels.push(s.levels[r] as usize);
            }
            // Precision after the j-th true positive, then its running max from the right
            // (pycocotools' envelope read at true positives: the envelope only changes
            // there, and searchsorted(left) on recall lands on a true positive).
            let mut at_tp: Vec<f64> = Vec::with_capacity(nd_all);
            for a in 0..AREAS {
                let np = npig[k * AREAS + a];
                if np == 0 {
                    continue;
                }
                let npf = np as f64;
                for m in 0..n_max {
                    let nd = levels.iter().filter(|&&l| l <= m).count();
                    for t in 0..n_thrs {
                        at_tp.clear();
                        let (mut tp, mut fp) = (0u64, 0u64);
                        for (i, &l) in levels.iter().enumerate() {
                            if l > m {
                                continue;
                            }
                            match code(&codes, width, i, a, t) {
                                TP => {
                                    tp += 1;
                                    let tpf = tp as f64;
                                    at_tp.push(tpf / (fp as f64 + tpf + EPS));
                                }
                                FP => fp += 1,
                                _ => {}
                            }
                        }
                        rec[(t * AREAS + a) * n_max + m] =
                            if nd > 0 { tp as f64 / npf } else { 0.0 };
                        for i in (1..at_tp.len()).rev() {
                            if at_tp[i] > at_tp[i - 1] {
                                at_tp[i - 1] = at_tp[i];
                            }
                        }
                        let n_tp = at_tp.len() as u64;
                        for (ri, &thr) in rec_thrs.iter().enumerate() {
                            // First index with recall >= thr: before any detection when
                            // thr <= 0, else at the j-th true positive, j the smallest
                            // count with j / npig >= thr (the same division as numpy).
                            let reach = |j: u64| j as f64 / npf >= thr;
                            let mut j = (thr * npf).ceil().max(0.0).min(n_tp as f64 + 1.0) as u64;
                            while j > 0 && reach(j - 1) {
                                j -= 1;
                            }
                            while j <= n_tp && !reach(j) {
                                j += 1;
                            }
                            // pycocotools stops at the first threshold past the curve
                            // (its try/except): the rest stay 0.
                            if nd == 0 || j > n_tp {
                                for rj in ri..r_n {
                                    prec[((t * r_n + rj) * AREAS + a) * n_max + m] = 0.0;
                                }
                                break;
                            }
                            let at = ((t * r_n + ri) * AREAS + a) * n_max + m;
                            // j == 0: index 0, whose envelope is the max over everything.
                            prec[at] = if at_tp.is_empty() {
                                0.0
                            } else {
                                at_tp[(j.max(1) - 1) as usize]
                            };
                        }
                    }
                }
            }
            (prec, rec)
        })
        .collect();

    let mut precision = vec![-1.0; n_thrs * r_n * k_n * AREAS * n_max];
    let mut recall = vec![-1.0; n_thrs * k_n * AREAS * n_max];
    let am = AREAS * n_max;
    for (k, (prec, rec)) in per_class.iter().enumerate() {
        for t in 0..n_thrs {
            for ri in 0..r_n {
                let src = (t * r_n + ri) * am;
                let dst = ((t * r_n + ri) * k_n + k) * am;
                precision[dst..dst + am].copy_from_slice(&prec[src..src + am]);
            }
            let dst = (t * k_n + k) * am;
            recall[dst..dst + am].copy_from_slice(&rec[t * am..t * am + am]);
        }
    }
    Ok(Accumulated { precision, recall })
}
