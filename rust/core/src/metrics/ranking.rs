//! ROC and precision-recall kernels over one stable sort of the scores.
//!
//! Positives and negatives are sorted separately (half the bytes per item: no label
//! travels with the key), then one merge walk visits the distinct scores in descending
//! order with the cumulative weights of positives (`tps`) and negatives (`fps`), which is
//! scikit-learn's `confusion_matrix_at_thresholds`. Because both sorts are stable, the
//! weights are added in scikit-learn's order and the cumulative sums agree bit for bit.
//!
//! ROC AUC is the trapezoid over those points (dropping collinear points, as
//! scikit-learn's `drop_intermediate` does, leaves the area unchanged); with unit weights
//! the sum is computed in exact integer-valued floats and divided once. Average precision
//! is scikit-learn's step sum `sum_n (R_n - R_{n-1}) P_n`.
//!
//! A binary metric with unit weights ([`binary_metric`] without weights) skips the sort:
//! [`super::bucket`] cuts the score range into buckets and finishes each in cache.

use rayon::prelude::*;

use super::bucket::unit_binary;
use super::sort::{desc_key, from_desc_key, lsd_sort_serial, sort_stable, Keyed};
use crate::streaming::Score;
use crate::{Error, Result};

/// An item with a key and a weight.
pub trait Weighted: Keyed {
    fn weight(&self) -> f64;
}

impl Weighted for u64 {
    #[inline(always)]
    fn weight(&self) -> f64 {
        1.0
    }
}

impl Weighted for (u64, f64) {
    #[inline(always)]
    fn weight(&self) -> f64 {
        self.1
    }
}

/// Points of the ROC / PR curve at each distinct score, highest score first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    /// Cumulative weight of negatives scored at or above each threshold.
    pub fps: Vec<f64>,
    /// Cumulative weight of positives scored at or above each threshold.
    pub tps: Vec<f64>,
    /// The distinct scores, decreasing.
    pub thresholds: Vec<f64>,
}

/// Which per-column metric to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Area under the ROC curve.
    RocAuc,
    /// Average precision (step integral of the PR curve).
    AveragePrecision,
}

/// Ground truth of a multi-column problem.
#[derive(Debug, Clone, Copy)]
pub enum Truth<'a> {
    /// Encoded class per row: row `i` is a positive of column `c` iff `y[i] == c`.
    Classes(&'a [u32]),
    /// Row-major `n x C` indicator matrix: positive iff the entry is non-zero.
    Indicator(&'a [u8]),
}

/// Visit the distinct keys of two ascending-sorted slices in ascending key order (that is
/// descending score), calling `f(key, tps, fps)` with the cumulative weights after each.
#[inline]
fn walk<T: Weighted, F: FnMut(u64, f64, f64)>(pos: &[T], neg: &[T], mut f: F) {
    let (mut i, mut j) = (0usize, 0usize);
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    loop {
        let k = match (pos.get(i), neg.get(j)) {
            (Some(a), Some(b)) => a.key().min(b.key()),
            (Some(a), None) => a.key(),
            (None, Some(b)) => b.key(),
            (None, None) => break,
        };
        while let Some(a) = pos.get(i) {
            if a.key() != k {
                break;
            }
            tp += a.weight();
            i += 1;
        }
        while let Some(b) = neg.get(j) {
            if b.key() != k {
                break;
            }
            fp += b.weight();
            j += 1;
        }
        f(k, tp, fp);
    }
}

/// Trapezoid ROC AUC over the walk; NaN when one side has no weight.
fn auc_of<T: Weighted>(pos: &[T], neg: &[T]) -> f64 {
    let (mut area, mut ptp, mut pfp) = (0.0f64, 0.0f64, 0.0f64);
    walk(pos, neg, |_, tp, fp| {
        area += (fp - pfp) * (tp + ptp);
        ptp = tp;
        pfp = fp;
    });
    if ptp <= 0.0 || pfp <= 0.0 {
        return f64::NAN;
    }
    area / (2.0 * ptp * pfp)
}

/// Average precision over the walk; 0 when there is no positive weight (scikit-learn
/// sets recall to 1 everywhere then, which makes every step zero).
fn ap_of<T: Weighted>(pos: &[T], neg: &[T]) -> f64 {
    let (mut sum, mut ptp) = (0.0f64, 0.0f64);
    walk(pos, neg, |_, tp, fp| {
        let ps = tp + fp;
        let precision = if ps != 0.0 { tp / ps } else { 0.0 };
        sum += (tp - ptp) * precision;
        ptp = tp;
    });
    if ptp == 0.0 {
        return 0.0;
    }
    (sum / ptp).max(0.0)
}

/// Largest positive side for which [`few_positives_metric`] is used.
const SEARCH_MAX: usize = 1 << 14;

/// ROC AUC or AP with unit weights when positives are few (one-vs-rest with many
/// classes): sort only the positives, then place every negative among their distinct
/// keys by binary search, which replaces sorting the (large) negative side by
/// O(N log P) lookups in an L1-resident array. `pos` must be sorted; `neg` need not be.
fn few_positives_metric(m: Metric, pos: &[u64], neg: &[u64]) -> f64 {
    let mut f = FewPositives::new(pos);
    neg.iter().for_each(|&x| f.negative(x));
    f.finish(m)
}

/// The state of [`few_positives_metric`]: the distinct positive keys with their counts,
/// and per key the negatives ranked between it and the key before (`below`) or tied
/// with it (`tied`). Negatives can be added in any order.
struct FewPositives {
    keys: Vec<u64>,
    cnt: Vec<u64>,
    below: Vec<u64>,
    tied: Vec<u64>,
    np: u64,
    nn: u64,
}

impl FewPositives {
    /// From the sorted keys of the positives.
    fn new(pos: &[u64]) -> Self {
        let mut keys: Vec<u64> = Vec::with_capacity(pos.len());
        let mut cnt: Vec<u64> = Vec::with_capacity(pos.len());
        for &k in pos {
            if keys.last() == Some(&k) {
                if let Some(c) = cnt.last_mut() {
                    *c += 1;
                }
            } else {
                keys.push(k);
                cnt.push(1);
            }
        }
        let g = keys.len();
        FewPositives {
            keys,
            cnt,
            below: vec![0; g + 1],
            tied: vec![0; g],
            np: pos.len() as u64,
            nn: 0,
        }
    }

    #[inline(always)]
    fn negative(&mut self, x: u64) {
        let i = self.keys.partition_point(|&k| k < x);
        if i < self.keys.len() && self.keys[i] == x {
            self.tied[i] += 1;
        } else {
            self.below[i] += 1;
        }
        self.nn += 1;
    }

    fn finish(&self, m: Metric) -> f64 {
        let (np, nn) = (self.np, self.nn);
        if np == 0 {
            return match m {
                Metric::RocAuc => f64::NAN,
                Metric::AveragePrecision => 0.0,
            };
        }
        if nn == 0 && m == Metric::RocAuc {
            return f64::NAN;
        }
        let (mut lt, mut tp) = (0u64, 0u64);
        let (mut u2, mut ap) = (0u128, 0.0f64);
        for (i, &c) in self.cnt.iter().enumerate() {
            lt += self.below[i];
            let le = lt + self.tied[i];
            tp += c;
            match m {
                Metric::RocAuc => u2 += u128::from(c) * u128::from(2 * nn - lt - le),
                Metric::AveragePrecision => ap += c as f64 * (tp as f64 / (tp + le) as f64),
            }
            lt = le;
        }
        match m {
            Metric::RocAuc => u2 as f64 / (2.0 * np as f64 * nn as f64),
            Metric::AveragePrecision => (ap / np as f64).max(0.0),
        }
    }
}

/// Whether a column with `np` positives among `n` rows takes [`few_positives_metric`].
fn few(np: usize, n: usize) -> bool {
    np <= SEARCH_MAX && np <= (n - np) / 4
}

fn metric_of<T: Weighted>(m: Metric, pos: &[T], neg: &[T]) -> f64 {
    match m {
        Metric::RocAuc => auc_of(pos, neg),
        Metric::AveragePrecision => ap_of(pos, neg),
    }
}

pub(super) fn check_len(n: usize, other: usize, arg: &str) -> Result<()> {
    if n != other {
        return Err(Error::value(
            arg,
            format!("length {other} does not match y_true's length {n}"),
        ));
    }
    Ok(())
}

fn check_weights(w: &[f64]) -> Result<()> {
    if w.par_iter().any(|x| !x.is_finite()) {
        return Err(Error::value("sample_weight", "contains NaN or infinity"));
    }
    Ok(())
}

pub(super) fn non_finite() -> Error {
    Error::value("y_score", "contains NaN or infinity")
}

/// Split one binary problem into positive and negative keys (unit weights), in input
/// order: chunks count their positives first, so each can fill its own disjoint slots.
fn split_unit<T: Score>(y: &[u8], s: &[T]) -> Result<(Vec<u64>, Vec<u64>)> {
    check_len(y.len(), s.len(), "y_score")?;
    const CH: usize = 1 << 16;
    let npos: Vec<usize> = y
        .par_chunks(CH)
        .map(|c| c.iter().filter(|&&v| v != 0).count())
        .collect();
    let total_pos: usize = npos.iter().sum();
    let mut pos = vec![0u64; total_pos];
    let mut neg = vec![0u64; y.len() - total_pos];
    let mut slots = Vec::with_capacity(npos.len());
    {
        let (mut rp, mut rn) = (&mut pos[..], &mut neg[..]);
        for (i, &k) in npos.iter().enumerate() {
            let len = CH.min(y.len() - i * CH);
            let (a, b) = rp.split_at_mut(k);
            let (c, d) = rn.split_at_mut(len - k);
            rp = b;
            rn = d;
            slots.push((a, c));
        }
    }
    let ok = y
        .par_chunks(CH)
        .zip(s.par_chunks(CH))
        .zip(slots.into_par_iter())
        .map(|((yc, sc), (p, q))| {
            let (mut i, mut j) = (0, 0);
            let mut ok = true;
            for (&t, &x) in yc.iter().zip(sc) {
                let x = x.to_f64();
                ok &= x.is_finite();
                if t != 0 {
                    p[i] = desc_key(x);
                    i += 1;
                } else {
                    q[j] = desc_key(x);
                    j += 1;
                }
            }
            ok
        })
        .reduce(|| true, |a, b| a && b);
    if !ok {
        return Err(non_finite());
    }
    Ok((pos, neg))
}

/// Positive and negative sides of one weighted binary problem.
type WeightedSides = (Vec<(u64, f64)>, Vec<(u64, f64)>);

/// Split one weighted binary problem, dropping zero weights as scikit-learn does.
fn split_weighted<T: Score>(y: &[u8], s: &[T], w: &[f64]) -> Result<WeightedSides> {
    check_len(y.len(), s.len(), "y_score")?;
    check_len(y.len(), w.len(), "sample_weight")?;
    check_weights(w)?;
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for ((&t, &x), &wi) in y.iter().zip(s).zip(w) {
        let x = x.to_f64();
        if !x.is_finite() {
            return Err(non_finite());
        }
        if wi == 0.0 {
            continue;
        }
        if t != 0 {
            pos.push((desc_key(x), wi));
        } else {
            neg.push((desc_key(x), wi));
        }
    }
    Ok((pos, neg))
}

/// Sort the two sides (each in parallel for large inputs, both at once).
fn sort_both<T: Keyed>(pos: &mut Vec<T>, neg: &mut Vec<T>) {
    rayon::join(|| sort_stable(pos), || sort_stable(neg));
}

/// scikit-learn's `confusion_matrix_at_thresholds` for `y` in {0, 1} (non-zero = positive):
/// cumulative `fps`, `tps` and the distinct scores, highest first. Zero weights are
/// dropped first.
pub fn binary_curve<T: Score>(y: &[u8], s: &[T], w: Option<&[f64]>) -> Result<Curve> {
    let mut c = Curve::default();
    let mut push = |k: u64, tp: f64, fp: f64| {
        c.tps.push(tp);
        c.fps.push(fp);
        c.thresholds.push(from_desc_key(k));
    };
    match w {
        None => {
            let (mut p, mut q) = split_unit(y, s)?;
            sort_both(&mut p, &mut q);
            walk(&p, &q, &mut push);
        }
        Some(w) => {
            let (mut p, mut q) = split_weighted(y, s, w)?;
            sort_both(&mut p, &mut q);
            walk(&p, &q, &mut push);
        }
    }
    Ok(c)
}

/// One binary metric (ROC AUC or average precision) without building the curve.
/// ROC AUC is NaN when either class has no weight.
pub fn binary_metric<T: Score>(y: &[u8], s: &[T], w: Option<&[f64]>, m: Metric) -> Result<f64> {
    match w {
        None => match unit_binary(y, s, m)? {
            Some(v) => Ok(v),
            None => {
                let (mut p, mut q) = split_unit(y, s)?;
                sort_both(&mut p, &mut q);
                Ok(metric_of(m, &p, &q))
            }
        },
        Some(w) => {
            let (mut p, mut q) = split_weighted(y, s, w)?;
            sort_both(&mut p, &mut q);
            Ok(metric_of(m, &p, &q))
        }
    }
}

/// Check the shape of a row-major `n x c` score matrix and that it is finite.
fn check_matrix<T: Score>(scores: &[T], n: usize, c: usize) -> Result<()> {
    check_matrix_shape(scores, n, c)?;
    check_finite_matrix(scores)
}

/// NaN or infinity anywhere in `scores` is an error (chunks in parallel, no temporary).
pub fn check_finite_matrix<T: Score>(scores: &[T]) -> Result<()> {
    if scores
        .par_chunks(1 << 16)
        .any(|ch| ch.iter().any(|x| !x.to_f64().is_finite()))
    {
        return Err(non_finite());
    }
    Ok(())
}

fn check_matrix_shape<T>(scores: &[T], n: usize, c: usize) -> Result<()> {
    if n.checked_mul(c) != Some(scores.len()) {
        return Err(Error::value(
            "y_score",
            format!(
                "expected {n} x {c} = {} values, got {}",
                n * c,
                scores.len()
            ),
        ));
    }
    Ok(())
}

/// Columns handled together: one pass over the rows gathers this many columns, so that
/// every cache line of the row-major matrix is read once per block instead of per column.
const BLOCK: usize = 8;

/// Whether every row of an `n x c` matrix sums to 1 as numpy's `allclose(1, sums)` sees
/// it (`|sum - 1| <= 1e-8 + 1e-5 |sum|`; a NaN sum fails), rows in parallel.
pub fn rows_sum_to_one<T: Score>(scores: &[T], c: usize) -> bool {
    if c == 0 {
        return scores.is_empty();
    }
    scores.par_chunks(c << 12).all(|block| {
        block.chunks(c).all(|row| {
            let s: f64 = row.iter().map(|x| x.to_f64()).sum();
            (s - 1.0).abs() <= 1e-8 + 1e-5 * s.abs()
        })
    })
}

/// Most columns per task of [`one_vs_rest_unit`]: a row's slice of them is a run of
/// adjacent cache lines, so the rows of a tile are read nearly sequentially (a block of
/// 8 columns read one cache line per row 8 KB apart, a TLB miss each at 1000 classes:
/// 2.25 s against 0.72-0.78 s for 128 columns at 1e5 x 1000; 256 was slower).
const OVR_BLOCK: usize = 128;
/// Rows per tile of [`one_vs_rest_unit`]: the tile's keys stay in L1/L2.
const OVR_TILE: usize = 256;

/// Per column of a one-vs-rest problem with unit weights: either few positives (the
/// negatives are placed among them as they come) or all keys of both sides.
enum Side {
    Few(FewPositives),
    All(Vec<u64>, Vec<u64>),
}

/// [`per_column`] for encoded classes and unit weights. Columns go in blocks of
/// [`OVR_BLOCK`] and rows in tiles of [`OVR_TILE`]; a tile is first turned column-major,
/// then each column's keys are placed with that column's state hot in cache. A column
/// with few positives gathers them first through the rows of its class, so its
/// negatives are never stored.
fn one_vs_rest_unit<T: Score>(
    y: &[u32],
    scores: &[T],
    n: usize,
    c: usize,
    m: Metric,
) -> Option<Vec<f64>> {
    // Rows grouped by class (counting sort), classes outside [0, c) dropped.
    let mut start = vec![0usize; c + 1];
    for &v in y {
        if (v as usize) < c {
            start[v as usize + 1] += 1;
        }
    }
    for j in 0..c {
        start[j + 1] += start[j];
    }
    let mut rows_of = vec![0u32; start[c]];
    let mut next = start.clone();
    for (r, &v) in y.iter().enumerate() {
        if (v as usize) < c {
            rows_of[next[v as usize]] = r as u32;
            next[v as usize] += 1;
        }
    }
    // At least two blocks per thread when there are few columns.
    let block = c
        .div_ceil(2 * rayon::current_num_threads())
        .clamp(1, OVR_BLOCK);
    let blocks: Vec<usize> = (0..c).step_by(block).collect();
    let out: Option<Vec<Vec<f64>>> = blocks
        .into_par_iter()
        .map(|c0| {
            let c1 = (c0 + block).min(c);
            let w = c1 - c0;
            let mut buf = Vec::new();
            let mut sides: Vec<Side> = (c0..c1)
                .map(|j| {
                    let np = start[j + 1] - start[j];
                    if few(np, n) {
                        let mut pos: Vec<u64> = rows_of[start[j]..start[j + 1]]
                            .iter()
                            .map(|&r| desc_key(scores[r as usize * c + j].to_f64()))
                            .collect();
                        lsd_sort_serial(&mut pos, &mut buf);
                        Side::Few(FewPositives::new(&pos))
                    } else {
                        Side::All(Vec::with_capacity(np), Vec::with_capacity(n - np))
                    }
                })
                .collect();
            let mut tile = vec![0u64; OVR_TILE * w];
            let mut finite = true;
            for r0 in (0..n).step_by(OVR_TILE) {
                let rows = (n - r0).min(OVR_TILE);
                for r in 0..rows {
                    let row = &scores[(r0 + r) * c + c0..(r0 + r) * c + c1];
                    for (t, &x) in row.iter().enumerate() {
                        let x = x.to_f64();
                        finite &= x.is_finite();
                        tile[t * OVR_TILE + r] = desc_key(x);
                    }
                }
                let yt = &y[r0..r0 + rows];
                for (t, side) in sides.iter_mut().enumerate() {
                    let j = (c0 + t) as u32;
                    let keys = &tile[t * OVR_TILE..t * OVR_TILE + rows];
                    match side {
                        Side::Few(f) => {
                            for (&k, &v) in keys.iter().zip(yt) {
                                if v != j {
                                    f.negative(k);
                                }
                            }
                        }
                        Side::All(p, q) => {
                            for (&k, &v) in keys.iter().zip(yt) {
                                if v == j {
                                    p.push(k);
                                } else {
                                    q.push(k);
                                }
                            }
                        }
                    }
                }
            }
            finite.then(|| {
                sides
                    .iter_mut()
                    .map(|side| match side {
                        Side::Few(f) => f.finish(m),
                        Side::All(p, q) => {
                            lsd_sort_serial(p, &mut buf);
                            lsd_sort_serial(q, &mut buf);
                            metric_of(m, p, q)
                        }
                    })
                    .collect()
            })
        })
        .collect();
    Some(out?.into_iter().flatten().collect())
}

/// The binary metric of every column `c` of an `n x C` row-major score matrix against
/// `truth` (one-vs-rest for classes, per label for indicators), columns in parallel.
pub fn per_column<T: Score>(
    truth: Truth<'_>,
    scores: &[T],
    n: usize,
    c: usize,
    w: Option<&[f64]>,
    m: Metric,
) -> Result<Vec<f64>> {
    check_matrix_shape(scores, n, c)?;
    match truth {
        Truth::Classes(y) => check_len(n, y.len(), "y_true")?,
        Truth::Indicator(y) => {
            if y.len() != n * c {
                return Err(Error::value("y_true", "shape does not match y_score"));
            }
        }
    }
    if let Some(w) = w {
        check_len(n, w.len(), "sample_weight")?;
        check_weights(w)?;
    }
    if let (Truth::Classes(y), None) = (truth, w) {
        // The tiled scan reads every score once and checks it on the way.
        return one_vs_rest_unit(y, scores, n, c, m).ok_or_else(non_finite);
    }
    check_finite_matrix(scores)?;
    let is_pos = |i: usize, col: usize| -> bool {
        match truth {
            Truth::Classes(y) => y[i] as usize == col,
            Truth::Indicator(y) => y[i * c + col] != 0,
        }
    };
    let blocks: Vec<usize> = (0..c).step_by(BLOCK).collect();
    let out: Vec<Vec<f64>> = blocks
        .into_par_iter()
        .map(|c0| {
            let c1 = (c0 + BLOCK).min(c);
            let mut res = Vec::with_capacity(c1 - c0);
            match w {
                None => {
                    let mut sides: Vec<(Vec<u64>, Vec<u64>)> =
                        (c0..c1).map(|_| (Vec::new(), Vec::new())).collect();
                    for i in 0..n {
                        let row = &scores[i * c..(i + 1) * c];
                        for (col, side) in (c0..c1).zip(sides.iter_mut()) {
                            let k = desc_key(row[col].to_f64());
                            if is_pos(i, col) {
                                side.0.push(k);
                            } else {
                                side.1.push(k);
                            }
                        }
                    }
                    let mut buf = Vec::new();
                    for (p, q) in sides.iter_mut() {
                        lsd_sort_serial(p, &mut buf);
                        if few(p.len(), p.len() + q.len()) {
                            res.push(few_positives_metric(m, p, q));
                        } else {
                            lsd_sort_serial(q, &mut buf);
                            res.push(metric_of(m, p, q));
                        }
                    }
                }
                Some(w) => {
                    let mut sides: Vec<WeightedSides> =
                        (c0..c1).map(|_| (Vec::new(), Vec::new())).collect();
                    for i in 0..n {
                        if w[i] == 0.0 {
                            continue;
                        }
                        let row = &scores[i * c..(i + 1) * c];
                        for (col, side) in (c0..c1).zip(sides.iter_mut()) {
                            let it = (desc_key(row[col].to_f64()), w[i]);
                            if is_pos(i, col) {
                                side.0.push(it);
                            } else {
                                side.1.push(it);
                            }
                        }
                    }
                    let mut buf = Vec::new();
                    for (p, q) in sides.iter_mut() {
                        lsd_sort_serial(p, &mut buf);
                        lsd_sort_serial(q, &mut buf);
                        res.push(metric_of(m, p, q));
                    }
                }
            }
            res
        })
        .collect();
    Ok(out.into_iter().flatten().collect())
}

/// Pairwise AUCs for one-vs-one ROC AUC (Hand & Till 2001): entry `i * C + j` is
/// A(i|j), the probability that a random row of class `i` scores higher in column `i`
/// than a random row of class `j` (ties count one half); NaN on the diagonal and where a
/// class is absent. For each class, one sort of column `i` and one pass give A(i|j) for
/// every `j`.
pub fn ovo_pairs<T: Score>(y: &[u32], scores: &[T], n: usize, c: usize) -> Result<Vec<f64>> {
    check_matrix(scores, n, c)?;
    check_len(n, y.len(), "y_true")?;
    if let Some(&bad) = y.iter().find(|&&v| v as usize >= c) {
        return Err(Error::value(
            "y_true",
            format!("encoded class {bad} out of range for {c} columns"),
        ));
    }
    let mut counts = vec![0u64; c];
    for &v in y {
        counts[v as usize] += 1;
    }
    // Column-major keys first: reading column i of the row-major matrix directly would
    // touch one cache line per row for every class.
    if n == 0 || c == 0 {
        return Ok(vec![f64::NAN; c * c]);
    }
    let mut keys_t = vec![0u64; n * c];
    keys_t
        .par_chunks_mut(n * BLOCK)
        .enumerate()
        .for_each(|(b, out)| {
            let c0 = b * BLOCK;
            let width = out.len() / n.max(1);
            for r in 0..n {
                let row = &scores[r * c + c0..r * c + c0 + width];
                for (k, &x) in row.iter().enumerate() {
                    out[k * n + r] = desc_key(x.to_f64());
                }
            }
        });
    let rows: Vec<Vec<f64>> = (0..c)
        .into_par_iter()
        .map_init(Vec::new, |buf: &mut Vec<u64>, i| {
            // Sort only class i's keys (its rows are ~n/C), then place every other row
            // among them by binary search: O(n log n_i) instead of sorting all n rows.
            let col = &keys_t[i * n..(i + 1) * n];
            let mut pos: Vec<u64> = (0..n)
                .filter(|&r| y[r] as usize == i)
                .map(|r| col[r])
                .collect();
            lsd_sort_serial(&mut pos, buf);
            let mut keys: Vec<u64> = Vec::with_capacity(pos.len());
            let mut before: Vec<u64> = Vec::with_capacity(pos.len() + 1); // # pos with key < keys[g]
            let mut cnt: Vec<u64> = Vec::with_capacity(pos.len());
            for (idx, &k) in pos.iter().enumerate() {
                if keys.last() == Some(&k) {
                    if let Some(x) = cnt.last_mut() {
                        *x += 1;
                    }
                } else {
                    keys.push(k);
                    before.push(idx as u64);
                    cnt.push(1);
                }
            }
            before.push(pos.len() as u64);
            // Twice the Mann-Whitney U of class i against each j, in exact integers: a
            // row of class j with key x loses to the class-i rows with a smaller key
            // (higher score) and ties with those of equal key.
            let mut u2 = vec![0u64; c];
            for (r, &x) in col.iter().enumerate() {
                let j = y[r] as usize;
                if j == i {
                    continue;
                }
                let g = keys.partition_point(|&k| k < x);
                let tied = if g < keys.len() && keys[g] == x {
                    cnt[g]
                } else {
                    0
                };
                u2[j] += 2 * before[g] + tied;
            }
            (0..c)
                .map(|j| {
                    if j == i || counts[i] == 0 || counts[j] == 0 {
                        f64::NAN
                    } else {
                        u2[j] as f64 / (2.0 * counts[i] as f64 * counts[j] as f64)
                    }
                })
                .collect()
        })
        .collect();
    Ok(rows.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force Mann-Whitney AUC.
    fn brute_auc(y: &[u8], s: &[f64]) -> f64 {
        let (mut num, mut np, mut nn) = (0.0, 0.0, 0.0);
        for (i, &yi) in y.iter().enumerate() {
            if yi == 0 {
                nn += 1.0;
                continue;
            }
            np += 1.0;
            for (j, &yj) in y.iter().enumerate() {
                if yj == 0 {
                    num += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        num / (np * nn)
    }

    #[test]
    fn auc_matches_rank_statistic_with_ties() {
        let y = [1u8, 0, 1, 1, 0, 0, 1, 0];
        let s = [0.9, 0.9, 0.3, 0.5, 0.1, 0.5, 0.5, -0.0];
        let got = binary_metric(&y, &s, None, Metric::RocAuc).expect("auc");
        assert!((got - brute_auc(&y, &s)).abs() < 1e-15);
        let ones = [1.0; 8];
        let gw = binary_metric(&y, &s, Some(&ones), Metric::RocAuc).expect("auc");
        assert!((gw - got).abs() < 1e-15);
    }

    #[test]
    fn curve_groups_ties_and_drops_zero_weights() {
        let y = [1u8, 0, 1, 0];
        let s = [0.8, 0.8, 0.2, 0.1];
        let c = binary_curve(&y, &s, None).expect("curve");
        assert_eq!(c.thresholds, vec![0.8, 0.2, 0.1]);
        assert_eq!(c.tps, vec![1.0, 2.0, 2.0]);
        assert_eq!(c.fps, vec![1.0, 1.0, 2.0]);
        let c = binary_curve(&y, &s, Some(&[1.0, 0.0, 2.0, 1.0])).expect("curve");
        assert_eq!(c.thresholds, vec![0.8, 0.2, 0.1]);
        assert_eq!(c.tps, vec![1.0, 3.0, 3.0]);
        assert_eq!(c.fps, vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn average_precision_by_hand() {
        // sklearn doc example: AP = 0.8333...
        let y = [0u8, 0, 1, 1];
        let s = [0.1, 0.4, 0.35, 0.8];
        let ap = binary_metric(&y, &s, None, Metric::AveragePrecision).expect("ap");
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-15);
    }

    #[test]
    fn few_positives_path_matches_the_walk() {
        let mut s = 99u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 40) % 50
        };
        for np in [1usize, 3, 40] {
            let mut p: Vec<u64> = (0..np).map(|_| desc_key(next() as f64)).collect();
            let q: Vec<u64> = (0..500).map(|_| desc_key(next() as f64)).collect();
            p.sort_unstable();
            let mut qs = q.clone();
            qs.sort_unstable();
            for m in [Metric::RocAuc, Metric::AveragePrecision] {
                let a = few_positives_metric(m, &p, &q);
                let b = metric_of(m, &p, &qs);
                assert!((a - b).abs() < 1e-14, "{m:?} {a} {b}");
            }
        }
    }

    #[test]
    fn float32_scores_give_the_float64_result() {
        let y = [1u8, 0, 1, 1, 0, 0, 1, 0];
        let s32 = [0.9f32, 0.9, 0.3, 0.5, 0.1, 0.5, 0.5, -0.0];
        let s64: Vec<f64> = s32.iter().map(|&x| x as f64).collect();
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            let a = binary_metric(&y, &s32, None, m).expect("f32");
            let b = binary_metric(&y, &s64, None, m).expect("f64");
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!(binary_metric(&[1, 0], &[0.1f32, f32::NAN], None, Metric::RocAuc).is_err());
        let c = per_column(
            Truth::Classes(&[0, 1]),
            &[0.2f32, 0.8, 0.6, 0.4],
            2,
            2,
            None,
            Metric::RocAuc,
        )
        .expect("f32 columns");
        assert_eq!(c, vec![0.0, 0.0]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(binary_metric(&[1, 0], &[0.1, f64::NAN], None, Metric::RocAuc).is_err());
        assert!(binary_metric(&[1, 0], &[0.1], None, Metric::RocAuc).is_err());
        assert!(binary_curve(&[1, 0], &[0.1, 0.2], Some(&[1.0, f64::INFINITY])).is_err());
        assert!(per_column(
            Truth::Classes(&[0, 1]),
            &[0.1, 0.2, 0.3],
            2,
            2,
            None,
            Metric::RocAuc
        )
        .is_err());
        assert!(ovo_pairs(&[0, 2], &[0.1, 0.9, 0.3, 0.7], 2, 2).is_err());
        for bad in [f64::NAN, f64::INFINITY] {
            for w in [None, Some(&[1.0, 1.0][..])] {
                let e = per_column(
                    Truth::Classes(&[0, 1]),
                    &[0.1, 0.9, bad, 0.7],
                    2,
                    2,
                    w,
                    Metric::RocAuc,
                )
                .unwrap_err();
                assert!(e.to_string().starts_with("y_score"), "{e}");
            }
        }
    }

    #[test]
    fn row_sums_like_numpy_allclose() {
        assert!(rows_sum_to_one(&[0.25, 0.75, 0.5, 0.5 + 4e-6], 2));
        assert!(!rows_sum_to_one(&[0.25, 0.75, 0.5, 0.5 + 2e-5], 2));
        assert!(!rows_sum_to_one(&[0.5, f64::NAN], 2));
        let many: Vec<f64> = (0..3 * 10_000).map(|i| [0.2, 0.3, 0.5][i % 3]).collect();
        assert!(rows_sum_to_one(&many, 3));
        assert!(rows_sum_to_one::<f64>(&[], 0) && rows_sum_to_one::<f64>(&[], 4));
    }

    #[test]
    fn tiled_one_vs_rest_equals_the_indicator_path() {
        // 1000 rows (several tiles), 300 classes: class 0 holds ~40% of the rows (all
        // keys kept), class 299 none, the rest few positives each; ties through 50
        // score levels.
        let (n, c) = (1000usize, 300usize);
        let mut s = 777u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s >> 33
        };
        let y: Vec<u32> = (0..n)
            .map(|_| {
                let v = next();
                if v % 5 < 2 {
                    0
                } else {
                    (v % 298) as u32 + 1
                }
            })
            .collect();
        let sc: Vec<f64> = (0..n * c).map(|_| (next() % 50) as f64 / 50.0).collect();
        let ind: Vec<u8> = (0..n * c)
            .map(|i| u8::from(y[i / c] as usize == i % c))
            .collect();
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            let a = per_column(Truth::Classes(&y), &sc, n, c, None, m).expect("classes");
            let b = per_column(Truth::Indicator(&ind), &sc, n, c, None, m).expect("indicator");
            for (j, (x, z)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - z).abs() < 1e-14 || (x.is_nan() && z.is_nan()),
                    "{m:?} column {j}: {x} {z}"
                );
            }
            assert!(few(1, n) && !few(400, n));
        }
    }

    #[test]
    fn ovr_and_ovo_agree_with_binary() {
        let n = 300;
        let c = 3;
        let mut s = 12345u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 40) % 7
        };
        let y: Vec<u32> = (0..n).map(|_| (next() % 3) as u32).collect();
        let sc: Vec<f64> = (0..n * c).map(|_| next() as f64 / 7.0).collect();
        let ovr = per_column(Truth::Classes(&y), &sc, n, c, None, Metric::RocAuc).expect("ovr");
        for col in 0..c {
            let yb: Vec<u8> = y.iter().map(|&v| u8::from(v as usize == col)).collect();
            let sb: Vec<f64> = (0..n).map(|i| sc[i * c + col]).collect();
            assert!((ovr[col] - brute_auc(&yb, &sb)).abs() < 1e-14);
        }
        let pairs = ovo_pairs(&y, &sc, n, c).expect("ovo");
        for i in 0..c {
            for j in 0..c {
                if i == j {
                    continue;
                }
                let rows: Vec<usize> = (0..n)
                    .filter(|&r| y[r] as usize == i || y[r] as usize == j)
                    .collect();
                let yb: Vec<u8> = rows.iter().map(|&r| u8::from(y[r] as usize == i)).collect();
                let sb: Vec<f64> = rows.iter().map(|&r| sc[r * c + i]).collect();
                assert!((pairs[i * c + j] - brute_auc(&yb, &sb)).abs() < 1e-14);
            }
        }
    }
}

/// f16 / bf16 scores (widened per element as read) give exactly the f32 results.
#[cfg(test)]
mod half_tests {
    use super::*;
    use crate::metrics::classification::top_k_hits;
    use half::{bf16, f16};

    const N: usize = 3000;
    const C: usize = 5;

    /// Deterministic scores in [0, 1) with many ties after rounding to 2 bytes.
    fn raw(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u64 * 2_654_435_761) % 10_007) as f32 / 10_007.0)
            .collect()
    }

    /// Every ranking kernel's output on `s`, as bits (NaN-safe equality).
    fn outputs<T: Score>(s: &[T], y: &[u8], cls: &[u32], ind: &[u8]) -> Vec<u64> {
        let w: Vec<f64> = (0..N).map(|i| 1.0 + (i % 3) as f64).collect();
        let col = &s[..N];
        let mut out = Vec::new();
        let c = binary_curve(y, col, None).expect("curve");
        out.extend(
            c.fps
                .iter()
                .chain(&c.tps)
                .chain(&c.thresholds)
                .map(|v| v.to_bits()),
        );
        let c = binary_curve(y, col, Some(&w)).expect("weighted curve");
        out.extend(
            c.fps
                .iter()
                .chain(&c.tps)
                .chain(&c.thresholds)
                .map(|v| v.to_bits()),
        );
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            out.push(binary_metric(y, col, None, m).expect("metric").to_bits());
            out.push(
                binary_metric(y, col, Some(&w), m)
                    .expect("metric")
                    .to_bits(),
            );
            let v = per_column(Truth::Classes(cls), s, N, C, None, m).expect("ovr");
            out.extend(v.iter().map(|v| v.to_bits()));
            let v = per_column(Truth::Indicator(ind), s, N, C, Some(&w), m).expect("ml");
            out.extend(v.iter().map(|v| v.to_bits()));
        }
        let v = ovo_pairs(cls, s, N, C).expect("ovo");
        out.extend(v.iter().map(|v| v.to_bits()));
        out.push(u64::from(rows_sum_to_one(s, C)));
        for k in 1..C {
            let hits = top_k_hits(cls, s, N, C, k).expect("top-k");
            out.extend(hits.iter().map(|&h| u64::from(h)));
        }
        out
    }

    #[test]
    fn halves_equal_f32_of_the_same_values() {
        let r = raw(N * C);
        let y: Vec<u8> = (0..N).map(|i| u8::from(i % 3 == 0)).collect();
        let cls: Vec<u32> = (0..N).map(|i| (i % C) as u32).collect();
        let ind: Vec<u8> = (0..N * C).map(|i| u8::from(i % 4 == 1)).collect();
        let h: Vec<f16> = r.iter().map(|&x| f16::from_f32(x)).collect();
        let hf: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
        assert_eq!(outputs(&h, &y, &cls, &ind), outputs(&hf, &y, &cls, &ind));
        let b: Vec<bf16> = r.iter().map(|&x| bf16::from_f32(x)).collect();
        let bf: Vec<f32> = b.iter().map(|x| x.to_f32()).collect();
        assert_eq!(outputs(&b, &y, &cls, &ind), outputs(&bf, &y, &cls, &ind));
        // The rounding made ties the kernels had to group (a test that can fail).
        let c = binary_curve(&y, &b[..N], None).expect("curve");
        assert!(c.thresholds.len() < N / 4);
    }

    #[test]
    fn half_nan_and_inf_are_errors() {
        let y = [1u8, 0, 1, 0];
        let cls = [0u32, 1];
        for bad in [f16::NAN, f16::INFINITY, f16::NEG_INFINITY] {
            let s = [f16::from_f32(0.1), bad, f16::ZERO, f16::ONE];
            assert!(check_finite_matrix(&s).is_err());
            assert!(ovo_pairs(&cls, &s, 2, 2).is_err());
            assert!(per_column(Truth::Classes(&cls), &s, 2, 2, None, Metric::RocAuc).is_err());
        }
        for bad in [bf16::NAN, bf16::INFINITY, bf16::NEG_INFINITY] {
            let s = [bf16::from_f32(0.1), bad, bf16::ZERO, bf16::ONE];
            assert!(check_finite_matrix(&s).is_err());
            assert!(ovo_pairs(&cls, &s, 2, 2).is_err());
            assert!(per_column(Truth::Classes(&cls), &s, 2, 2, None, Metric::RocAuc).is_err());
        }
        let s = [f16::from_f32(0.1), f16::NAN, f16::ZERO, f16::ONE];
        assert!(binary_metric(&y, &s, None, Metric::RocAuc).is_err());
        assert!(binary_curve(&y, &s, None).is_err());
        assert!(top_k_hits(&cls, &s, 2, 2, 1).is_err());
        let s = [bf16::from_f32(0.1), bf16::NAN, bf16::ZERO, bf16::ONE];
        assert!(binary_metric(&y, &s, None, Metric::AveragePrecision).is_err());
        assert!(binary_curve(&y, &s, None).is_err());
        assert!(top_k_hits(&cls, &s, 2, 2, 1).is_err());
        // Plain check of the widening itself: exact, NaN stays NaN.
        assert!(Score::to_f64(bf16::NAN).is_nan());
        assert_eq!(
            Score::to_f64(f16::from_f32(0.1)),
            f16::from_f32(0.1).to_f32() as f64
        );
    }
}
