//! Coverage-centric stratified selection inside each class (Zheng et al. 2023, CCS).
//!
//! Per class `j` with quota `q_j`: drop the `floor(prune_fraction * n_j)` rows with the
//! highest (or lowest) scores (ties: the smaller index counts as more extreme), cut the
//! remaining score range `[lo, hi]` into `n_strata` equal-width strata, a row with
//! score `x` falling in stratum `min(floor((x - lo) / (hi - lo) * n_strata),
//! n_strata - 1)` (all in stratum 0 when `hi == lo`), computed in f64. Strata are visited
//! from the fewest members up (ties: smaller stratum first), each getting
//! `min(size, remaining // strata_left)`; inside a stratum the rows with the smallest
//! random keys of (seed, index) are taken. CCS's reference code does the same per
//! dataset; here it runs per class, classes in parallel.

use rayon::prelude::*;

use super::classes::{group_rows, ClassMap, QuotaSpec};
use super::topk::{check_rows, Ranker, RowKey};
use crate::{Error, Result};

/// Stratified selection of `quotas` rows per class of `labels` by `scores` (an
/// [`RowKey::F32`] or [`RowKey::F64`]; its `largest` flag is ignored); rows ascending.
pub fn stratified(
    labels: &[i64],
    scores: RowKey<'_>,
    quotas: &QuotaSpec,
    n_strata: usize,
    prune_fraction: f64,
    prune_high: bool,
    seed: u64,
) -> Result<Vec<i64>> {
    let n = labels.len();
    let scores = match scores {
        RowKey::F32 { scores, .. } => RowKey::F32 {
            scores,
            largest: prune_high,
        },
        RowKey::F64 { scores, .. } => RowKey::F64 {
            scores,
            largest: prune_high,
        },
        RowKey::Random { .. } => return Err(Error::type_("scores", "scores are required")),
    };
    check_rows(n, &scores, None)?;
    if n_strata == 0 {
        return Err(Error::value("n_strata", "must be >= 1"));
    }
    if !(0.0..=1.0).contains(&prune_fraction) {
        return Err(Error::value(
            "prune_fraction",
            format!("must lie in [0, 1], got {prune_fraction}"),
        ));
    }
    let map = ClassMap::new(labels, "labels")?;
    let q = quotas.resolve(&map, "quotas")?;
    let keep: Vec<bool> = q.iter().map(|&k| k > 0).collect();
    let (items, offsets, kept) = group_rows(labels, &map, &keep, |r| r as u64);
    let by_score = Ranker::new(scores, None);
    let by_key = Ranker::new(RowKey::Random { seed }, None);
    let mut out: Vec<i64> = (0..kept.len())
        .into_par_iter()
        .flat_map_iter(|s| {
            let mut rows: Vec<usize> = items[offsets[s]..offsets[s + 1]]
                .iter()
                .map(|&r| r as usize)
                .collect();
            let quota = q[kept[s] as usize] as usize;
            let drop = (prune_fraction * rows.len() as f64).floor() as usize;
            if drop > 0 {
                rows.sort_unstable_by(|&a, &b| by_score.cmp(a, b));
                rows.drain(..drop.min(rows.len()));
            }
            class_strata(&rows, quota, n_strata, &by_score, &by_key)
        })
        .collect();
    out.par_sort_unstable();
    Ok(out)
}

/// The CCS choice of `quota` rows out of `rows` (one class, after pruning).
fn class_strata(
    rows: &[usize],
    quota: usize,
    n_strata: usize,
    by_score: &Ranker<'_>,
    by_key: &Ranker<'_>,
) -> Vec<i64> {
    if quota >= rows.len() {
        return rows.iter().map(|&r| r as i64).collect();
    }
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
            let v = by_score.score(r);
            (a.min(v), b.max(v))
        });
    let stratum = |r: usize| -> usize {
        if hi > lo {
            let s = ((by_score.score(r) - lo) / (hi - lo) * n_strata as f64).floor();
            (s as usize).min(n_strata - 1)
        } else {
            0
        }
    };
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_strata];
    for &r in rows {
        members[stratum(r)].push(r);
    }
    let mut visit: Vec<usize> = (0..n_strata).collect();
    visit.sort_by_key(|&s| (members[s].len(), s));
    let mut remaining = quota;
    let mut out = Vec::with_capacity(quota);
    for (i, &s) in visit.iter().enumerate() {
        let take = members[s].len().min(remaining / (n_strata - i));
        remaining -= take;
        if take == 0 {
            continue;
        }
        let m = &mut members[s];
        if take < m.len() {
            m.select_nth_unstable_by(take - 1, |&a, &b| by_key.cmp(a, b));
        }
        out.extend(m[..take].iter().map(|&r| r as i64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_the_ccs_rule() {
        // One class, scores 0..99: with 4 strata of 25 each and quota 10, 10 // 4 = 2,
        // then 8 // 3 = 2, 6 // 2 = 3, 3 // 1 = 3.
        let labels = vec![0i64; 100];
        let scores: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let key = RowKey::F64 {
            scores: &scores,
            largest: true,
        };
        let got = stratified(&labels, key, &QuotaSpec::uniform(10), 4, 0.0, true, 3).unwrap();
        let mut per = [0usize; 4];
        for &r in &got {
            per[(r as usize * 4 / 100).min(3)] += 1;
        }
        assert_eq!(per, [2, 2, 3, 3]);
        // Pruning the 50 highest leaves rows 0..50 only.
        let got = stratified(&labels, key, &QuotaSpec::uniform(10), 4, 0.5, true, 3).unwrap();
        assert!(got.iter().all(|&r| r < 50) && got.len() == 10);
        let got = stratified(&labels, key, &QuotaSpec::uniform(10), 4, 0.5, false, 3).unwrap();
        assert!(got.iter().all(|&r| r >= 50) && got.len() == 10);
        // A quota above what is left takes all of it.
        let got = stratified(&labels, key, &QuotaSpec::uniform(99), 4, 0.9, true, 3).unwrap();
        assert_eq!(got, (0..10).collect::<Vec<i64>>());
    }

    #[test]
    fn bad_arguments_are_named() {
        let labels = [0i64, 1];
        let s = [0.0f64, 1.0];
        let key = RowKey::F64 {
            scores: &s,
            largest: true,
        };
        let q = QuotaSpec::uniform(1);
        let e = stratified(&labels, key, &q, 0, 0.0, true, 0).unwrap_err();
        assert!(e.to_string().starts_with("n_strata:"));
        let e = stratified(&labels, key, &q, 3, 1.5, true, 0).unwrap_err();
        assert!(e.to_string().starts_with("prune_fraction:"));
        let e = stratified(&labels, RowKey::Random { seed: 0 }, &q, 3, 0.0, true, 0).unwrap_err();
        assert!(e.to_string().starts_with("scores:"));
    }
}
