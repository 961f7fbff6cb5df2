//! Bootstrap intervals for classification and ranking metrics.
//!
//! **Stratified bootstrap on confusion counts.** Resampling the `n_i` examples of true
//! class `i` with replacement and counting where they land gives a multinomial draw
//! `Multinomial(n_i, row_i / n_i)` over the cells of row `i` of the confusion table: the
//! two are the same distribution, so a resample costs one multinomial draw per row,
//! O(non-zero cells) = O(C^2) at most, whatever the number of examples. A paired
//! comparison of two models does the same on the joint table (true class, prediction of
//! model a, prediction of model b). The multinomial is drawn as a chain of conditional
//! binomials, each drawn exactly (inversion for small means, Hormann's BTRS otherwise).
//!
//! **Poisson bootstrap for ranking metrics.** ROC AUC, average precision and the
//! calibration error depend on every example, so their resamples weight each example by
//! an independent Poisson(1) count (Hanley & MacGibbon 2006; Chamandy et al. 2012), over
//! one sort of the scores made once by the caller.
//!
//! Every resample has its own generator, seeded from `(seed, resample)` through
//! [`crate::rng::block_rng`], so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::rng::{block_rng, uniform, uniform_open0, Rng};
use crate::{Error, Result};

/// Stream ids of [`block_rng`] used here (distinct from the samplers').
const STREAM_CELLS: u64 = 0xB007_0001;
const STREAM_POISSON: u64 = 0xB007_0002;

/// The per-class metric of a bootstrap on confusion counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassMetric {
    /// tp / true count.
    Recall,
    /// tp / predicted count.
    Precision,
    /// 2 tp / (true + predicted).
    F1,
}

impl ClassMetric {
    /// Parse `"recall" | "precision" | "f1"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "recall" => Ok(ClassMetric::Recall),
            "precision" => Ok(ClassMetric::Precision),
            "f1" => Ok(ClassMetric::F1),
            _ => Err(Error::value(
                "metric",
                format!("expected 'recall', 'precision' or 'f1', got {name:?}"),
            )),
        }
    }
}

/// Cells of a confusion table (one model) or a paired table (two models).
///
/// Cells of stratum `s` are `strata[s]..strata[s + 1]`; each has a true class, the class
/// predicted by model a (and b), and a count. A predicted class equal to `n_classes`
/// stands for "some other class, not tracked" (the caller merges the off-diagonal cells
/// of a row when only recall is needed).
#[derive(Debug, Clone, Copy)]
pub struct Cells<'a> {
    pub strata: &'a [usize],
    pub true_class: &'a [u32],
    pub pred_a: &'a [u32],
    pub pred_b: Option<&'a [u32]>,
    pub count: &'a [u64],
}

/// Per-resample results, row-major `(n_resamples, n_classes)` for the per-class metric and
/// `(n_resamples, 3)` for the summaries (balanced accuracy, macro F1, accuracy).
#[derive(Debug, Clone, PartialEq)]
pub struct Resamples {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub summary_a: Vec<f64>,
    pub summary_b: Vec<f64>,
}

/// Summaries per resample.
pub const N_SUMMARY: usize = 3;

/// One resample: per-class values of a and b, summaries of a and b.
type OneResample = (Vec<f64>, Vec<f64>, [f64; N_SUMMARY], [f64; N_SUMMARY]);

fn check_cells(c: &Cells<'_>, n_classes: usize) -> Result<()> {
    let m = c.count.len();
    if c.true_class.len() != m || c.pred_a.len() != m || c.pred_b.is_some_and(|b| b.len() != m) {
        return Err(Error::value("cells", "arrays must have the same length"));
    }
    if c.strata.first() != Some(&0)
        || c.strata.last() != Some(&m)
        || c.strata.windows(2).any(|w| w[0] > w[1])
    {
        return Err(Error::value(
            "strata",
            "must be non-decreasing offsets from 0 to the number of cells",
        ));
    }
    let k = n_classes as u32;
    if c.true_class.iter().any(|&t| t >= k) {
        return Err(Error::value("cells", "true class out of range"));
    }
    let pred_ok = |p: &[u32]| p.iter().all(|&v| v <= k);
    if !pred_ok(c.pred_a) || c.pred_b.is_some_and(|b| !pred_ok(b)) {
        return Err(Error::value("cells", "predicted class out of range"));
    }
    Ok(())
}

/// Per-class metric values of `n_resamples` stratified (multinomial per stratum) resamples.
pub fn confusion_bootstrap(
    cells: Cells<'_>,
    n_classes: usize,
    metric: ClassMetric,
    n_resamples: usize,
    seed: u64,
) -> Result<Resamples> {
    if n_classes == 0 {
        return Err(Error::value("n_classes", "must be >= 1"));
    }
    if n_resamples == 0 {
        return Err(Error::value("n_resamples", "must be >= 1"));
    }
    check_cells(&cells, n_classes)?;
    let totals: Vec<u64> = cells
        .strata
        .windows(2)
        .map(|w| cells.count[w[0]..w[1]].iter().sum())
        .collect();
    let paired = cells.pred_b.is_some();
    let per: Vec<OneResample> = (0..n_resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = block_rng(seed, 0, STREAM_CELLS, r as u64);
            let mut draw = vec![0u64; cells.count.len()];
            for (s, w) in cells.strata.windows(2).enumerate() {
                multinomial(
                    &mut rng,
                    totals[s],
                    &cells.count[w[0]..w[1]],
                    &mut draw[w[0]..w[1]],
                );
            }
            let (va, sa) = tally(&draw, cells.true_class, cells.pred_a, n_classes, metric);
            let (vb, sb) = match cells.pred_b {
                Some(pb) if paired => tally(&draw, cells.true_class, pb, n_classes, metric),
                _ => (Vec::new(), [f64::NAN; N_SUMMARY]),
            };
            (va, vb, sa, sb)
        })
        .collect();
    let mut out = Resamples {
        a: Vec::with_capacity(n_resamples * n_classes),
        b: Vec::with_capacity(if paired { n_resamples * n_classes } else { 0 }),
        summary_a: Vec::with_capacity(n_resamples * N_SUMMARY),
        summary_b: Vec::with_capacity(if paired { n_resamples * N_SUMMARY } else { 0 }),
    };
    for (va, vb, sa, sb) in per {
        out.a.extend_from_slice(&va);
        out.summary_a.extend_from_slice(&sa);
        if paired {
            out.b.extend_from_slice(&vb);
            out.summary_b.extend_from_slice(&sb);
        }
    }
    Ok(out)
}

/// Per-class metric and summaries (balanced accuracy, macro F1, accuracy) of drawn counts.
fn tally(
    draw: &[u64],
    true_class: &[u32],
    pred: &[u32],
    n_classes: usize,
    metric: ClassMetric,
) -> (Vec<f64>, [f64; N_SUMMARY]) {
    let mut tp = vec![0u64; n_classes];
    let mut t = vec![0u64; n_classes];
    let mut p = vec![0u64; n_classes + 1];
    let mut n = 0u64;
    for ((&x, &i), &j) in draw.iter().zip(true_class).zip(pred) {
        if x == 0 {
            continue;
        }
        t[i as usize] += x;
        p[j as usize] += x;
        if i == j {
            tp[i as usize] += x;
        }
        n += x;
    }
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let values = (0..n_classes)
        .map(|k| match metric {
            ClassMetric::Recall => ratio(tp[k], t[k]),
            ClassMetric::Precision => ratio(tp[k], p[k]),
            ClassMetric::F1 => ratio(2 * tp[k], t[k] + p[k]),
        })
        .collect();
    // As scikit-learn: balanced accuracy averages the recall of the classes present in
    // y_true; macro F1 averages over the classes present in y_true or y_pred, 0 where
    // tp = 0.
    let (mut rec_sum, mut rec_n, mut f1_sum, mut f1_n) = (0.0, 0usize, 0.0, 0usize);
    let mut hits = 0u64;
    for k in 0..n_classes {
        hits += tp[k];
        if t[k] > 0 {
            rec_sum += tp[k] as f64 / t[k] as f64;
            rec_n += 1;
        }
        if t[k] + p[k] > 0 {
            f1_sum += 2.0 * tp[k] as f64 / (t[k] + p[k]) as f64;
            f1_n += 1;
        }
    }
    let mean = |s: f64, c: usize| if c == 0 { f64::NAN } else { s / c as f64 };
    (
        values,
        [mean(rec_sum, rec_n), mean(f1_sum, f1_n), ratio(hits, n)],
    )
}

/// `out[k] ~ Multinomial(total, counts / sum(counts))`, by conditional binomials.
fn multinomial(rng: &mut Rng, total: u64, counts: &[u64], out: &mut [u64]) {
    let mut left_n = total;
    let mut left_w: u64 = counts.iter().sum();
    for (k, (&c, o)) in counts.iter().zip(out.iter_mut()).enumerate() {
        if left_n == 0 || left_w == 0 {
            *o = 0;
            continue;
        }
        let x = if c >= left_w || k + 1 == counts.len() {
            left_n
        } else {
            binomial(rng, left_n, c as f64 / left_w as f64)
        };
        *o = x;
        left_n -= x;
        left_w -= c;
    }
}

/// An exact `Binomial(n, p)` draw.
///
/// Inversion by geometric waiting times when `n min(p, 1-p) < 10` (expected cost
/// O(np + 1)), else Hormann's (1993) BTRS transformed rejection with squeeze (O(1)),
/// as TensorFlow and PyTorch draw binomials.
pub fn binomial(rng: &mut Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p > 0.5 {
        return n - binomial(rng, n, 1.0 - p);
    }
    if (n as f64) * p < 10.0 {
        binomial_inversion(rng, n, p)
    } else {
        binomial_btrs(rng, n, p)
    }
}

fn binomial_inversion(rng: &mut Rng, n: u64, p: f64) -> u64 {
    // Successes are at the partial sums of Geometric(p) gaps; count those <= n.
    let log_q = (-p).ln_1p();
    let limit = n as f64;
    let mut sum = 0.0f64;
    let mut x = 0u64;
    loop {
        let gap = (uniform_open0(rng).ln() / log_q).ceil().max(1.0);
        sum += gap;
        if sum > limit {
            return x;
        }
        x += 1;
    }
}

/// `log(k!) - (k + 1/2) log(k + 1) + (k + 1) - log(2 pi)/2`, the Stirling tail of BTRS.
fn stirling_tail(k: f64) -> f64 {
    const TAIL: [f64; 10] = [
        0.081_061_466_795_327_26,
        0.041_340_695_955_409_29,
        0.027_677_925_684_998_34,
        0.020_790_672_103_765_09,
        0.016_644_691_189_821_19,
        0.013_876_128_823_070_75,
        0.011_896_709_945_891_77,
        0.010_411_265_261_972_09,
        0.009_255_462_182_712_733,
        0.008_330_563_433_362_87,
    ];
    if k <= 9.0 {
        return TAIL[k as usize];
    }
    let kp1sq = (k + 1.0) * (k + 1.0);
    (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 / kp1sq) / kp1sq) / (k + 1.0)
}

fn binomial_btrs(rng: &mut Rng, n: u64, p: f64) -> u64 {
    let count = n as f64;
    let spq = (count * p * (1.0 - p)).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = count * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    let r = p / (1.0 - p);
    let alpha = (2.83 + 5.1 / b) * spq;
    let m = ((count + 1.0) * p).floor();
    loop {
        let u = uniform(rng) - 0.5;
        let mut v = uniform(rng);
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + c).floor();
        if !(0.0..=count).contains(&k) {
            continue;
        }
        if us >= 0.07 && v <= v_r {
            return k as u64;
        }
        v = (v * alpha / (a / (us * us) + b)).ln();
        let bound = (m + 0.5) * ((m + 1.0) / (r * (count - m + 1.0))).ln()
            + (count + 1.0) * ((count - m + 1.0) / (count - k + 1.0)).ln()
            + (k + 0.5) * (r * (count - k + 1.0) / (k + 1.0)).ln()
            + stirling_tail(m)
            + stirling_tail(count - m)
            - stirling_tail(k)
            - stirling_tail(count - k);
        if v <= bound {
            return k as u64;
        }
    }
}

/// A Poisson(1) draw by inversion of its CDF (exact to double precision: P(X > 19) < 1e-17).
#[inline]
fn poisson1(rng: &mut Rng) -> u32 {
    const CDF: [f64; 20] = {
        let mut cdf = [0.0; 20];
        let mut p = 0.367_879_441_171_442_33; // e^-1
        let mut acc = 0.0;
        let mut k = 0;
        while k < 20 {
            acc += p;
            cdf[k] = acc;
            k += 1;
            p /= k as f64;
        }
        cdf
    };
    let u = uniform(rng);
    let mut k = 0;
    while k < CDF.len() - 1 && u >= CDF[k] {
        k += 1;
    }
    k as u32
}

/// The ranking metric of [`poisson_ranking`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankMetric {
    /// Area under the ROC curve (ties count one half).
    RocAuc,
    /// scikit-learn's average precision (step-wise, thresholds at the distinct scores).
    AveragePrecision,
}

impl RankMetric {
    /// Parse `"roc_auc" | "average_precision"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "roc_auc" => Ok(RankMetric::RocAuc),
            "average_precision" => Ok(RankMetric::AveragePrecision),
            _ => Err(Error::value(
                "metric",
                format!("expected 'roc_auc' or 'average_precision', got {name:?}"),
            )),
        }
    }
}

fn check_groups(n: usize, group_ends: &[usize]) -> Result<()> {
    if group_ends.last() != Some(&n) || group_ends.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::value(
            "group_ends",
            "must be increasing and end at the number of rows",
        ));
    }
    if group_ends.first() == Some(&0) {
        return Err(Error::value("group_ends", "groups must not be empty"));
    }
    Ok(())
}

/// ROC AUC or average precision of `n_resamples` Poisson-weighted resamples.
///
/// `y_sorted` holds the 0/1 labels in order of decreasing score and `group_ends` the
/// (exclusive) end of each run of tied scores: the one sort is the caller's. NaN for a
/// resample without positives (or, for ROC AUC, without negatives).
pub fn poisson_ranking(
    y_sorted: &[u8],
    group_ends: &[usize],
    metric: RankMetric,
    n_resamples: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    if y_sorted.is_empty() {
        return Err(Error::value("y_true", "must not be empty"));
    }
    check_groups(y_sorted.len(), group_ends)?;
    Ok((0..n_resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = block_rng(seed, 1, STREAM_POISSON, r as u64);
            let (mut tp, mut fp) = (0.0f64, 0.0f64);
            // AUC: sum over groups of neg_g * (pos above + pos_g / 2); AP: sum of
            // (tp - tp_prev) * precision at each threshold (divided by P at the end).
            let mut acc = 0.0f64;
            let mut start = 0usize;
            for &end in group_ends {
                let (mut gp, mut gn) = (0.0f64, 0.0f64);
                for &y in &y_sorted[start..end] {
                    let w = poisson1(&mut rng) as f64;
                    if y != 0 {
                        gp += w;
                    } else {
                        gn += w;
                    }
                }
                match metric {
                    RankMetric::RocAuc => acc += gn * (tp + 0.5 * gp),
                    RankMetric::AveragePrecision => {
                        if gp > 0.0 {
                            acc += gp * (tp + gp) / (tp + gp + fp + gn);
                        }
                    }
                }
                tp += gp;
                fp += gn;
                start = end;
            }
            match metric {
                RankMetric::RocAuc if tp > 0.0 && fp > 0.0 => acc / (tp * fp),
                RankMetric::AveragePrecision if tp > 0.0 => acc / tp,
                _ => f64::NAN,
            }
        })
        .collect())
}

/// Top-label expected calibration error (L1, equal-width bins) of `n_resamples`
/// Poisson-weighted resamples; `bin[i]` is the bin of example i's confidence `conf[i]`.
pub fn poisson_ece(
    bin: &[u32],
    conf: &[f64],
    correct: &[u8],
    n_bins: usize,
    n_resamples: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    if bin.is_empty() {
        return Err(Error::value("y_true", "must not be empty"));
    }
    if conf.len() != bin.len() || correct.len() != bin.len() {
        return Err(Error::value("conf", "arrays must have the same length"));
    }
    if bin.iter().any(|&b| b as usize >= n_bins) {
        return Err(Error::value("bin", "bin index out of range"));
    }
    Ok((0..n_resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = block_rng(seed, 2, STREAM_POISSON, r as u64);
            let mut w_sum = vec![0.0f64; n_bins];
            let mut c_sum = vec![0.0f64; n_bins];
            let mut a_sum = vec![0.0f64; n_bins];
            for ((&b, &c), &ok) in bin.iter().zip(conf).zip(correct) {
                let w = poisson1(&mut rng) as f64;
                if w > 0.0 {
                    let b = b as usize;
                    w_sum[b] += w;
                    c_sum[b] += w * c;
                    if ok != 0 {
                        a_sum[b] += w;
                    }
                }
            }
            let total: f64 = w_sum.iter().sum();
            if total == 0.0 {
                return f64::NAN;
            }
            (0..n_bins)
                .map(|b| (a_sum[b] - c_sum[b]).abs())
                .sum::<f64>()
                / total
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(n: u64, p: f64, draws: usize) -> (f64, f64) {
        let mut rng = block_rng(7, 0, 0, n ^ p.to_bits());
        let xs: Vec<f64> = (0..draws)
            .map(|_| binomial(&mut rng, n, p) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / draws as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / draws as f64;
        (mean, var)
    }

    #[test]
    fn binomial_moments_match() {
        for &(n, p) in &[
            (5u64, 0.3),
            (30, 0.1),
            (1000, 0.02),
            (1000, 0.5),
            (100_000, 0.97),
            (40, 0.9),
        ] {
            let (mean, var) = moments(n, p, 40_000);
            let (m0, v0) = (n as f64 * p, n as f64 * p * (1.0 - p));
            let se = (v0 / 40_000.0).sqrt();
            assert!(
                (mean - m0).abs() < 5.0 * se + 1e-9,
                "{n} {p}: {mean} vs {m0}"
            );
            assert!((var / v0 - 1.0).abs() < 0.05, "{n} {p}: var {var} vs {v0}");
        }
    }

    #[test]
    fn binomial_edges() {
        let mut rng = block_rng(1, 0, 0, 0);
        assert_eq!(binomial(&mut rng, 0, 0.5), 0);
        assert_eq!(binomial(&mut rng, 10, 0.0), 0);
        assert_eq!(binomial(&mut rng, 10, 1.0), 10);
        assert_eq!(binomial(&mut rng, 10, f64::NAN), 0);
        for _ in 0..1000 {
            assert!(binomial(&mut rng, 17, 0.7) <= 17);
            assert!(binomial(&mut rng, 170, 0.3) <= 170);
        }
    }

    #[test]
    fn multinomial_keeps_the_total() {
        let mut rng = block_rng(2, 0, 0, 0);
        let counts = [5u64, 0, 3, 12, 1];
        let mut out = [0u64; 5];
        for _ in 0..500 {
            multinomial(&mut rng, 21, &counts, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 21);
            assert_eq!(out[1], 0);
        }
    }

    #[allow(clippy::type_complexity)]
    fn two_class_cells() -> (Vec<usize>, Vec<u32>, Vec<u32>, Vec<u32>, Vec<u64>) {
        // class 0: 8 right, 2 wrong; class 1: 3 right, 1 wrong (b flips one of each).
        (
            vec![0, 3, 6],
            vec![0, 0, 0, 1, 1, 1],
            vec![0, 1, 0, 1, 0, 1],
            vec![0, 0, 1, 1, 1, 0],
            vec![7, 2, 1, 2, 1, 1],
        )
    }

    #[test]
    fn deterministic_and_thread_independent() {
        let (s, t, a, b, c) = two_class_cells();
        let cells = Cells {
            strata: &s,
            true_class: &t,
            pred_a: &a,
            pred_b: Some(&b),
            count: &c,
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let r1 = one.install(|| confusion_bootstrap(cells, 2, ClassMetric::F1, 64, 3).unwrap());
        let r2 = confusion_bootstrap(cells, 2, ClassMetric::F1, 64, 3).unwrap();
        assert_eq!(r1, r2);
        let r3 = confusion_bootstrap(cells, 2, ClassMetric::F1, 64, 4).unwrap();
        assert_ne!(r1.a, r3.a);
        assert_eq!(r1.a.len(), 128);
        assert_eq!(r1.summary_b.len(), 64 * N_SUMMARY);
    }

    #[test]
    fn stratified_recall_keeps_class_sizes() {
        let (s, t, a, _, c) = two_class_cells();
        let cells = Cells {
            strata: &s,
            true_class: &t,
            pred_a: &a,
            pred_b: None,
            count: &c,
        };
        let r = confusion_bootstrap(cells, 2, ClassMetric::Recall, 200, 0).unwrap();
        // Recall of class 0 is k/10 and of class 1 is k/4: the strata keep their sizes.
        for row in r.a.chunks(2) {
            assert_eq!((row[0] * 10.0).fract(), 0.0);
            assert_eq!((row[1] * 4.0).fract(), 0.0);
        }
        assert!(r.b.is_empty());
    }

    #[test]
    fn bad_cells_are_errors() {
        let s = [0usize, 2];
        let t = [0u32, 3];
        let p = [0u32, 0];
        let c = [1u64, 1];
        let cells = Cells {
            strata: &s,
            true_class: &t,
            pred_a: &p,
            pred_b: None,
            count: &c,
        };
        assert!(confusion_bootstrap(cells, 2, ClassMetric::Recall, 5, 0).is_err());
        let bad_strata = [0usize, 3];
        let cells = Cells {
            strata: &bad_strata,
            ..cells
        };
        assert!(confusion_bootstrap(cells, 4, ClassMetric::Recall, 5, 0).is_err());
        assert!(ClassMetric::parse("auc").is_err());
        assert!(RankMetric::parse("f1").is_err());
        assert!(poisson_ranking(&[1, 0], &[1, 1], RankMetric::RocAuc, 3, 0).is_err());
        assert!(poisson_ranking(&[], &[], RankMetric::RocAuc, 3, 0).is_err());
        assert!(poisson_ece(&[0, 5], &[0.5, 0.5], &[1, 0], 3, 3, 0).is_err());
    }

    #[test]
    fn poisson_ranking_is_near_the_full_value() {
        // Perfect ranking: every resample with both classes has AUC 1 and AP 1.
        let y = [1u8, 1, 1, 0, 0, 0];
        let ends = [1usize, 2, 3, 4, 5, 6];
        for m in [RankMetric::RocAuc, RankMetric::AveragePrecision] {
            let v = poisson_ranking(&y, &ends, m, 50, 1).unwrap();
            assert!(v.iter().all(|x| x.is_nan() || (*x - 1.0).abs() < 1e-12));
        }
        // One tie group: AUC 1/2.
        let v = poisson_ranking(&y, &[6], RankMetric::RocAuc, 50, 1).unwrap();
        assert!(v.iter().all(|x| x.is_nan() || (*x - 0.5).abs() < 1e-12));
    }

    #[test]
    fn poisson1_mean_is_one() {
        let mut rng = block_rng(5, 0, 0, 0);
        let n = 100_000;
        let s: u64 = (0..n).map(|_| poisson1(&mut rng) as u64).sum();
        assert!((s as f64 / n as f64 - 1.0).abs() < 0.02);
    }
}
