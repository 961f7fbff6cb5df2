//! Per-class top-k by key: the shared mechanism of `select_per_class`, the pseudo-label
//! and active-learning queries (and later the noise module).
//!
//! Rows are ranked by a total order ([`RowKey`]): a score (largest or smallest first) or
//! a random key (smallest first), then the smaller global index. One counting pass maps
//! labels to classes; the rows of every class whose quota is below its size are
//! scattered into one array of `(32-bit key prefix, row)` pairs (8 bytes a row while
//! `n < 2**32`), and each class segment is partitioned in place with
//! `select_nth_unstable_by`, classes in parallel. Comparisons look at the 32-bit
//! prefix first and only recompute the full key (f64 score, 64-bit hash) on a tie, so
//! the pairs stay small. Classes whose quota covers them are taken whole without
//! being scattered.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::classes::{group_rows_where, ClassMap, QuotaSpec};
use super::keys::{random_key, seed_key};
use crate::cluster::{check_finite, Scalar};
use crate::sampling::Idx;
use crate::{Error, Result};

/// How rows are ranked inside a class (first = chosen first).
#[derive(Debug, Clone, Copy)]
pub enum RowKey<'a> {
    /// float32 scores, largest first when `largest`, else smallest first.
    F32 { scores: &'a [f32], largest: bool },
    /// float64 scores.
    F64 { scores: &'a [f64], largest: bool },
    /// Smallest random key of (seed, global index) first ([`super::keys`]).
    Random { seed: u64 },
}

/// Monotone map of a float32 to u32 (`-0.0` counts as `0.0`; no NaN reaches it).
#[inline(always)]
pub fn ord_f32(v: f32) -> u32 {
    let b = (v + 0.0).to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Monotone map of a float64 to u64 (`-0.0` counts as `0.0`).
#[inline(always)]
pub fn ord_f64(v: f64) -> u64 {
    let b = (v + 0.0).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 0x8000_0000_0000_0000
    }
}

/// A [`RowKey`] with the global indexes: the full key of a row and its 32-bit prefix.
pub(crate) struct Ranker<'a> {
    key: RowKey<'a>,
    indexes: Option<&'a [i64]>,
    seed_key: u64,
}

impl<'a> Ranker<'a> {
    pub(crate) fn new(key: RowKey<'a>, indexes: Option<&'a [i64]>) -> Self {
        let seed_key = match key {
            RowKey::Random { seed } => seed_key(seed),
            _ => 0,
        };
        Ranker {
            key,
            indexes,
            seed_key,
        }
    }

    #[inline(always)]
    pub(crate) fn global(&self, r: usize) -> i64 {
        match self.indexes {
            Some(ix) => ix[r],
            None => r as i64,
        }
    }

    /// The score of a row (0 for random keys).
    #[inline(always)]
    pub(crate) fn score(&self, r: usize) -> f64 {
        match self.key {
            RowKey::F32 { scores, .. } => scores[r] as f64,
            RowKey::F64 { scores, .. } => scores[r],
            RowKey::Random { .. } => 0.0,
        }
    }

    /// Full 64-bit key: smaller is chosen first.
    #[inline(always)]
    fn full(&self, r: usize) -> u64 {
        match self.key {
            RowKey::F32 { scores, largest } => {
                let k = ord_f32(scores[r]) as u64;
                let k = if largest { (!k) & 0xFFFF_FFFF } else { k };
                k << 32
            }
            RowKey::F64 { scores, largest } => {
                let k = ord_f64(scores[r]);
                if largest {
                    !k
                } else {
                    k
                }
            }
            RowKey::Random { .. } => random_key(self.seed_key, self.global(r)),
        }
    }

    #[inline(always)]
    pub(crate) fn prefix(&self, r: usize) -> u32 {
        (self.full(r) >> 32) as u32
    }

    /// Order of two rows with the same prefix.
    #[inline(always)]
    pub(crate) fn tie(&self, a: usize, b: usize) -> Ordering {
        let by_key = match self.key {
            RowKey::F32 { .. } => Ordering::Equal,
            _ => self.full(a).cmp(&self.full(b)),
        };
        by_key.then_with(|| self.global(a).cmp(&self.global(b)))
    }

    /// Order of two rows.
    #[inline(always)]
    pub(crate) fn cmp(&self, a: usize, b: usize) -> Ordering {
        self.prefix(a)
            .cmp(&self.prefix(b))
            .then_with(|| self.tie(a, b))
    }
}

/// Check the lengths and values of the row keys and indexes against `n` rows.
pub(crate) fn check_rows(n: usize, key: &RowKey<'_>, indexes: Option<&[i64]>) -> Result<()> {
    match key {
        RowKey::F32 { scores, .. } => check_scores(scores, n)?,
        RowKey::F64 { scores, .. } => check_scores(scores, n)?,
        RowKey::Random { .. } => {}
    }
    if let Some(ix) = indexes {
        if ix.len() != n {
            return Err(Error::value(
                "indexes",
                format!("expected {n} values (one per label), got {}", ix.len()),
            ));
        }
    }
    Ok(())
}

fn check_scores<T: Scalar>(s: &[T], n: usize) -> Result<()> {
    if s.len() != n {
        return Err(Error::value(
            "scores",
            format!("expected {n} values (one per label), got {}", s.len()),
        ));
    }
    check_finite(s, "scores")
}

/// The rows chosen by `quotas` in every class of `labels`, ranked by `key` (ties to the
/// smaller global index, `indexes[row]` or the row itself); local rows, ascending.
pub fn select_topk(
    labels: &[i64],
    quotas: &QuotaSpec,
    key: RowKey<'_>,
    indexes: Option<&[i64]>,
) -> Result<Vec<i64>> {
    let n = labels.len();
    check_rows(n, &key, indexes)?;
    let map = ClassMap::new(labels, "labels")?;
    let q = quotas.resolve(&map, "quotas")?;
    let ranker = Ranker::new(key, indexes);
    if (n as u64) < (1u64 << 32) {
        Ok(topk_with::<u32>(labels, &map, &q, &ranker))
    } else {
        Ok(topk_with::<u64>(labels, &map, &q, &ranker))
    }
}

/// Rows sampled per class for the cuts: one row in `SAMPLE`.
const SAMPLE: usize = 32;

/// Per class, a key prefix that at least `q[k]` rows of the class are very likely at or
/// below, from every `SAMPLE`-th row; `u32::MAX` (no cut) where a cut would not pay.
/// Only rows at or below the cut are grouped. The cut never changes the result: if at
/// least `q[k]` rows pass it, every row of the top `q[k]` passes (a row above the cut
/// ranks after all of them); if fewer pass, the caller regroups the class uncut.
fn prefix_cuts(
    labels: &[i64],
    map: &ClassMap,
    q: &[u64],
    partial: &[bool],
    ranker: &Ranker<'_>,
) -> Vec<u32> {
    let mut cut = vec![u32::MAX; map.len()];
    let worth: Vec<bool> = (0..map.len())
        .map(|k| partial[k] && map.counts[k] >= 4 * q[k] && map.counts[k] >= 4 * SAMPLE as u64)
        .collect();
    if !worth.iter().any(|&w| w) {
        return cut;
    }
    let mut samples: Vec<Vec<u32>> = vec![Vec::new(); map.len()];
    for r in (0..labels.len()).step_by(SAMPLE) {
        let k = map.id(labels[r]) as usize;
        if worth[k] {
            samples[k].push(ranker.prefix(r));
        }
    }
    cut.par_iter_mut()
        .zip(samples.par_iter_mut())
        .enumerate()
        .for_each(|(k, (c, smp))| {
            if !worth[k] {
                return;
            }
            // Expected sample rows within the top q, with a margin of ~4 standard
            // deviations plus a few rows: a short cut (caught and redone) is rare.
            let want = q[k] as f64 / SAMPLE as f64;
            let at = (want * 1.1 + 4.0 * want.sqrt() + 4.0).ceil() as usize;
            if at < smp.len() {
                let (_, v, _) = smp.select_nth_unstable(at);
                *c = *v;
            }
        });
    cut
}

/// [`select_topk`] once the classes and quotas are known; `I` holds row numbers.
pub(crate) fn topk_with<I: Idx + Default>(
    labels: &[i64],
    map: &ClassMap,
    q: &[u64],
    ranker: &Ranker<'_>,
) -> Vec<i64> {
    let partial: Vec<bool> = q
        .iter()
        .zip(&map.counts)
        .map(|(&k, &c)| k > 0 && k < c)
        .collect();
    let whole: Vec<bool> = q.iter().zip(&map.counts).map(|(&k, &c)| k >= c).collect();
    let cut = prefix_cuts(labels, map, q, &partial, ranker);
    let (items, offsets, kept) = group_rows_where(
        labels,
        map,
        &partial,
        |r, k| ranker.prefix(r) <= cut[k],
        |r| (ranker.prefix(r), I::from_u64(r as u64)),
    );
    // A class whose cut let through fewer than its quota (an unlucky sample) is grouped
    // again without one; the cut is exact otherwise (see `prefix_cuts`).
    let short: Vec<bool> = kept
        .iter()
        .enumerate()
        .map(|(s, &k)| offsets[s + 1] - offsets[s] < q[k as usize] as usize)
        .collect();
    let (items, offsets, kept) = if short.iter().any(|&b| b) {
        let mut redo = vec![false; map.len()];
        for (s, &k) in kept.iter().enumerate() {
            redo[k as usize] = short[s];
        }
        let (extra, eoff, ekept) = group_rows_where(
            labels,
            map,
            &redo,
            |_, _| true,
            |r| (ranker.prefix(r), I::from_u64(r as u64)),
        );
        let mut all = Vec::with_capacity(items.len() + extra.len());
        let (mut off, mut kk) = (vec![0usize], Vec::new());
        for (s, &k) in kept.iter().enumerate() {
            if !short[s] {
                all.extend_from_slice(&items[offsets[s]..offsets[s + 1]]);
                off.push(all.len());
                kk.push(k);
            }
        }
        drop(items);
        for (s, &k) in ekept.iter().enumerate() {
            all.extend_from_slice(&extra[eoff[s]..eoff[s + 1]]);
            off.push(all.len());
            kk.push(k);
        }
        (all, off, kk)
    } else {
        (items, offsets, kept)
    };
    let mut items = items;
    let mut segs: Vec<&mut [(u32, I)]> = Vec::with_capacity(kept.len());
    let mut rest: &mut [(u32, I)] = &mut items;
    for s in 0..kept.len() {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(offsets[s + 1] - offsets[s]);
        segs.push(head);
        rest = tail;
    }
    let picks: Vec<Vec<usize>> = segs
        .into_par_iter()
        .zip(kept.par_iter())
        .map(|(seg, &k)| {
            let m = q[k as usize] as usize;
            seg.select_nth_unstable_by(m - 1, |a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| ranker.tie(a.1.to_u64() as usize, b.1.to_u64() as usize))
            });
            seg[..m].iter().map(|p| p.1.to_u64() as usize).collect()
        })
        .collect();
    drop(items);
    // One bit per row for the picks, then one ordered pass over the labels: the output
    // comes out ascending without a sort.
    let mut bits = vec![0u64; labels.len().div_ceil(64)];
    for p in picks.iter().flatten() {
        bits[p / 64] |= 1u64 << (p % 64);
    }
    drop(picks);
    let any_whole = whole.iter().any(|&w| w);
    if !any_whole {
        // Only the bits: no pass over the labels.
        let parts: Vec<Vec<i64>> = bits
            .par_chunks(1 << 10)
            .enumerate()
            .map(|(b, words)| {
                let mut out = Vec::new();
                for (w, &word) in words.iter().enumerate() {
                    let mut x = word;
                    let base = ((b << 10) + w) * 64;
                    while x != 0 {
                        out.push((base + x.trailing_zeros() as usize) as i64);
                        x &= x - 1;
                    }
                }
                out
            })
            .collect();
        return parts.concat();
    }
    let parts: Vec<Vec<i64>> = labels
        .par_chunks(1 << 16)
        .enumerate()
        .map(|(b, lab)| {
            let base = b << 16;
            let mut out = Vec::new();
            for (r, &v) in lab.iter().enumerate() {
                let i = base + r;
                let hit = (bits[i / 64] >> (i % 64)) & 1 == 1;
                if hit || (any_whole && whole[map.id(v) as usize]) {
                    out.push(i as i64);
                }
            }
            out
        })
        .collect();
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: sort each class by (key, global index), take the first quota rows.
    fn brute(labels: &[i64], q: &QuotaSpec, key: RowKey<'_>, ix: Option<&[i64]>) -> Vec<i64> {
        let map = ClassMap::new(labels, "labels").unwrap();
        let qs = q.resolve(&map, "quotas").unwrap();
        let r = Ranker::new(key, ix);
        let mut out = vec![];
        for (k, &c) in map.classes.iter().enumerate() {
            let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            rows.sort_by(|&a, &b| r.cmp(a, b));
            out.extend(rows.iter().take(qs[k] as usize).map(|&i| i as i64));
        }
        out.sort();
        out
    }

    fn data(n: usize) -> (Vec<i64>, Vec<f64>) {
        let labels = (0..n).map(|i| ((i * i * 31 + 7) % 11) as i64 - 3).collect();
        // Coarse scores: many ties, so the index rule matters.
        let scores = (0..n)
            .map(|i| ((i * 2654435761) % 17) as f64 - 8.0)
            .collect();
        (labels, scores)
    }

    #[test]
    fn matches_brute_force_for_every_key_kind() {
        let (labels, scores) = data(5000);
        let s32: Vec<f32> = scores.iter().map(|&v| v as f32).collect();
        let q = QuotaSpec {
            classes: vec![-3, 0, 4],
            values: vec![0, 100_000, 17],
            default: 40,
        };
        let ix: Vec<i64> = (0..5000)
            .map(|i| (i * 7919 % 5000) as i64 * 3 - 100)
            .collect();
        for largest in [true, false] {
            for indexes in [None, Some(&ix[..])] {
                let keys = [
                    RowKey::F32 {
                        scores: &s32,
                        largest,
                    },
                    RowKey::F64 {
                        scores: &scores,
                        largest,
                    },
                    RowKey::Random { seed: 5 },
                ];
                for key in keys {
                    let got = select_topk(&labels, &q, key, indexes).unwrap();
                    assert_eq!(got, brute(&labels, &q, key, indexes));
                }
            }
        }
    }

    #[test]
    fn a_cut_that_lets_too_few_rows_through_is_redone() {
        // Every 32nd row (the sampled ones) scores high, so the sample's cut would
        // let only those 32 rows through: fewer than the quota of 100.
        let labels = vec![0i64; 1024];
        let scores: Vec<f32> = (0..1024)
            .map(|i| if i % 32 == 0 { 10.0 } else { 0.0 })
            .collect();
        let key = RowKey::F32 {
            scores: &scores,
            largest: true,
        };
        let q = QuotaSpec::uniform(100);
        let got = select_topk(&labels, &q, key, None).unwrap();
        assert_eq!(got, brute(&labels, &q, key, None));
        assert_eq!(got.len(), 100);
    }

    #[test]
    fn ties_go_to_the_smaller_index_and_zero_signs_are_equal() {
        let labels = [0i64; 6];
        let scores = [1.0f32, -0.0, 0.0, 1.0, 0.0, -0.0];
        let q = QuotaSpec::uniform(3);
        let key = RowKey::F32 {
            scores: &scores,
            largest: true,
        };
        assert_eq!(select_topk(&labels, &q, key, None).unwrap(), vec![0, 1, 3]);
        let key = RowKey::F32 {
            scores: &scores,
            largest: false,
        };
        assert_eq!(select_topk(&labels, &q, key, None).unwrap(), vec![1, 2, 4]);
    }

    #[test]
    fn random_choice_is_independent_of_row_order() {
        let n = 2000;
        let labels: Vec<i64> = (0..n).map(|i| (i % 5) as i64).collect();
        let ix: Vec<i64> = (0..n as i64).collect();
        let q = QuotaSpec::uniform(37);
        let key = RowKey::Random { seed: 11 };
        let a = select_topk(&labels, &q, key, Some(&ix)).unwrap();
        // Reverse the rows: the same global rows must be chosen.
        let rl: Vec<i64> = labels.iter().rev().copied().collect();
        let rix: Vec<i64> = ix.iter().rev().copied().collect();
        let b = select_topk(&rl, &q, key, Some(&rix)).unwrap();
        let mut bg: Vec<i64> = b.iter().map(|&r| rix[r as usize]).collect();
        bg.sort();
        assert_eq!(a, bg);
        assert_eq!(a.len(), 5 * 37);
    }

    #[test]
    fn bad_input_names_the_argument() {
        let labels = [0i64, 1, 1];
        let q = QuotaSpec::uniform(1);
        let e = select_topk(
            &labels,
            &q,
            RowKey::F64 {
                scores: &[1.0, f64::NAN, 0.0],
                largest: true,
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("scores:"), "{e}");
        let e = select_topk(
            &labels,
            &q,
            RowKey::F64 {
                scores: &[1.0],
                largest: true,
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("scores:"));
        let e = select_topk(&labels, &q, RowKey::Random { seed: 0 }, Some(&[1])).unwrap_err();
        assert!(e.to_string().starts_with("indexes:"));
        let e = select_topk(&[], &q, RowKey::Random { seed: 0 }, None).unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
        let e = select_topk(
            &labels,
            &QuotaSpec::uniform(-1),
            RowKey::Random { seed: 0 },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("quotas:"));
    }
}
