//! Binary ROC AUC and average precision with unit weights, by buckets of the score range
//! instead of one global sort.
//!
//! A first pass finds the range of the scores and of their sortable keys ([`desc_key`])
//! and counts the positives (a non-finite score shows as a key outside the finite range,
//! so this pass is also the NaN check). The range is cut into at most `2^MAX_BITS`
//! buckets, either linearly in the score or by the highest bits of `key - min key`
//! (whichever spreads a sample of the scores better); both are monotone, so bucket order
//! is score order and equal scores share a bucket. A second pass counts every bucket
//! (and its positives) per chunk, a third scatters each item into its bucket as one
//! `u64`: the offset of its key, shifted left once, with the label in the low bit.
//!
//! Buckets are then handled one by one in cache, in parallel: a counting pass on the
//! items' own range splits a bucket into about two sub-buckets per item, the few items
//! of a sub-bucket are sorted by insertion, and the tie groups (equal offsets: negatives
//! first, then positives) are visited in key order. The counts of the buckets before
//! give the cumulative true / false positives at the start of each bucket, so every
//! bucket's share of the sums is independent of the others:
//!
//! - ROC AUC is twice the Mann-Whitney U (ties count one half) in exact integers,
//!   `sum_g pos_g * (2 * nn - 2 * fp_before_g - neg_g)`, divided once;
//! - average precision is `sum_g pos_g * tp_g / (tp_g + fp_g) / P`, with `tp_g`, `fp_g`
//!   cumulative through group `g` (scikit-learn's step sum, grouped by threshold).
//!
//! Bucket shares are added in bucket order, so the result does not depend on the number
//! of threads. A bucket too large for the cache (a cluster of scores) is sorted by the
//! parallel radix sort of [`super::sort`] instead.

use rayon::prelude::*;

use super::ranking::{check_len, non_finite, Metric};
use super::sort::{desc_key, from_desc_key, sort_stable_slice};
use crate::streaming::Score;
use crate::Result;

/// Items per chunk of the first pass.
const CH: usize = 1 << 16;
/// Most bits of the bucket digit.
const MAX_BITS: u32 = 11;
/// Buckets larger than this are sorted by the parallel sort.
const BIG: usize = 1 << 21;
/// Sub-buckets at most this large are sorted by insertion.
const SMALL: usize = 32;
/// Scores sampled to choose the bucket mapping.
const SAMPLE: usize = 4096;

/// Bits of the bucket digit for `n` items: about one bucket per 16 items, at most
/// [`MAX_BITS`], at least one (so that small inputs use several buckets too).
fn bucket_bits(n: usize) -> u32 {
    (usize::BITS - n.leading_zeros())
        .saturating_sub(4)
        .clamp(1, MAX_BITS)
}

/// Monotone map from a score (and its key) to its bucket: bucket order is descending
/// score order, equal scores share a bucket.
trait Bucketer: Copy + Send + Sync {
    fn bucket(self, x: f64, k: u64) -> usize;
}

/// `(key - lo) >> shift`, at most `last`: the highest bits that vary in the key range
/// of a sample (keys outside it go to the first or last bucket).
#[derive(Debug, Clone, Copy)]
struct Bits {
    lo: u64,
    shift: u32,
    last: usize,
}

impl Bucketer for Bits {
    #[inline(always)]
    fn bucket(self, _: f64, k: u64) -> usize {
        ((k.saturating_sub(self.lo) >> self.shift) as usize).min(self.last)
    }
}

/// `(max - x) * scale` rounded to the nearest integer (adding 2^52 rounds a float in
/// [0, 2^51] to an integer in the low mantissa bits, without a branch), clamped to
/// `[0, last]` (scores above the sampled maximum go to the first bucket), plus one for
/// negative scores: still monotone, and no bucket holds scores of both signs, whose
/// keys could be 2^63 apart.
#[derive(Debug, Clone, Copy)]
struct Linear {
    max: f64,
    scale: f64,
    last: usize,
}

/// 2^52.
const ROUND: f64 = 4_503_599_627_370_496.0;

impl Bucketer for Linear {
    #[inline(always)]
    fn bucket(self, x: f64, _: u64) -> usize {
        let v = ((self.max - x) * self.scale).max(0.0) + ROUND;
        ((v.to_bits() - ROUND.to_bits()) as usize).min(self.last) + usize::from(x < 0.0)
    }
}

/// Running sums over the tie groups of one bucket, in key order (`AUC`: ROC AUC, else
/// average precision).
struct Acc<const AUC: bool> {
    /// Twice the number of negatives.
    nn2: u64,
    /// Positives / negatives seen so far (including the buckets before).
    tp: u64,
    fp: u64,
    u2: u128,
    ap: f64,
}

impl<const AUC: bool> Acc<AUC> {
    #[inline(always)]
    fn group(&mut self, neg: u64, pos: u64) {
        if AUC {
            self.u2 += u128::from(pos) * u128::from(self.nn2 - 2 * self.fp - neg);
        } else if pos > 0 {
            let t = (self.tp + pos) as i64 as f64;
            let seen = (self.tp + pos + self.fp + neg) as i64 as f64;
            self.ap += pos as i64 as f64 * (t / seen);
        }
        self.tp += pos;
        self.fp += neg;
    }

    /// A group of one item with label `l` (branch-free: labels are unpredictable).
    #[inline(always)]
    fn single(&mut self, l: u64) {
        if AUC {
            self.u2 += u128::from(l * (self.nn2 - 2 * self.fp));
        } else {
            // Counts are below 2^63: converting through i64 is one instruction.
            let t = (self.tp + l) as i64 as f64;
            let seen = (self.tp + self.fp + 1) as i64 as f64;
            self.ap += (l as i64 as f64) * (t / seen);
        }
        self.tp += l;
        self.fp += 1 - l;
    }

    /// Walk the tie groups of sorted items.
    fn sorted(&mut self, v: &[u64]) {
        let mut i = 0;
        while i < v.len() {
            let x = v[i];
            if v.get(i + 1).is_none_or(|&y| y >> 1 != x >> 1) {
                self.single(x & 1);
                i += 1;
                continue;
            }
            let neg_item = x & !1;
            let mut neg = 0u64;
            while i < v.len() && v[i] == neg_item {
                neg += 1;
                i += 1;
            }
            let mut pos = 0u64;
            while i < v.len() && v[i] == neg_item | 1 {
                pos += 1;
                i += 1;
            }
            self.group(neg, pos);
        }
    }

    /// Visit the tie groups of unsorted items (`v` is reordered).
    fn items(&mut self, v: &mut [u64], sc: &mut Scratch) {
        let n = v.len();
        if n <= SMALL {
            insertion_sort(v);
            self.sorted(v);
            return;
        }
        let (lo, hi) = v
            .iter()
            .fold((u64::MAX, 0u64), |(a, b), &x| (a.min(x), b.max(x)));
        let (lo, hi) = (lo >> 1, hi >> 1);
        if lo == hi {
            let pos: u64 = v.iter().map(|&x| x & 1).sum();
            self.group(n as u64 - pos, pos);
            return;
        }
        // One or two sub-buckets per item, on the highest bits that vary.
        let top = u64::BITS - (hi - lo).leading_zeros();
        let want = (usize::BITS - n.leading_zeros()).min(16);
        let shift = top - top.min(want);
        let nsub = ((hi - lo) >> shift) as usize + 1;
        let Scratch { buf, count } = sc;
        count.clear();
        count.resize(nsub, 0);
        for &x in v.iter() {
            count[(((x >> 1) - lo) >> shift) as usize] += 1;
        }
        let (mut sum, mut most) = (0u32, 0u32);
        for c in count.iter_mut() {
            let k = *c;
            most = most.max(k);
            *c = sum;
            sum += k;
        }
        buf.clear();
        buf.resize(n, 0);
        for &x in v.iter() {
            let b = (((x >> 1) - lo) >> shift) as usize;
            buf[count[b] as usize] = x;
            count[b] += 1;
        }
        if most as usize <= SMALL {
            // Spread out: the items are nearly sorted, insertion finishes them.
            insertion_sort(buf);
            self.sorted(buf);
            return;
        }
        // count[b] is now the end of sub-bucket b.
        let mut start = 0usize;
        for &end in count.iter() {
            let end = end as usize;
            match end - start {
                0 => {}
                len if len <= SMALL => {
                    let s = &mut buf[start..end];
                    insertion_sort(s);
                    self.sorted(s);
                }
                _ => {
                    // A cluster inside the bucket: split it again on its own range.
                    self.items(&mut buf[start..end], &mut Scratch::default());
                }
            }
            start = end;
        }
    }
}

/// Per-thread buffers of [`Acc::items`].
#[derive(Default)]
struct Scratch {
    buf: Vec<u64>,
    count: Vec<u32>,
}

#[inline]
fn insertion_sort(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Share of one bucket; `tp0` / `fp0` count the positives / negatives of the buckets
/// before it, `nn` all negatives.
fn bucket_share<const AUC: bool>(
    v: &mut [u64],
    sc: &mut Scratch,
    tp0: usize,
    fp0: usize,
    nn: usize,
    big: usize,
) -> (u128, f64) {
    let mut acc = Acc::<AUC> {
        nn2: 2 * nn as u64,
        tp: tp0 as u64,
        fp: fp0 as u64,
        u2: 0,
        ap: 0.0,
    };
    if v.len() > big {
        sort_stable_slice(v);
        acc.sorted(v);
    } else {
        acc.items(v, sc);
    }
    (acc.u2, acc.ap)
}

/// Largest count of `sample` in one of the `nb` buckets of `map`.
fn sample_max<B: Bucketer>(sample: &[f64], map: B, nb: usize) -> usize {
    let mut h = vec![0usize; nb];
    for &x in sample {
        h[map.bucket(x, desc_key(x))] += 1;
    }
    h.into_iter().max().unwrap_or(0)
}

/// Per-chunk bucket counts (all items, positives), the smallest key of every bucket and
/// the key range of the input.
struct Counts {
    chunk: usize,
    hists: Vec<(Vec<usize>, Vec<usize>)>,
    base: Vec<u64>,
    lo: u64,
    hi: u64,
}

fn count<T: Score, B: Bucketer>(y: &[u8], s: &[T], map: B, nb: usize) -> Counts {
    // At most 2^31 items per chunk: a chunk's counts share one u64 per bucket.
    let chunk = y
        .len()
        .div_ceil(rayon::current_num_threads() * 4)
        .clamp(CH, 1 << 31);
    type Part = (Vec<usize>, Vec<usize>, Vec<u64>, u64, u64);
    let parts: Vec<Part> = y
        .par_chunks(chunk)
        .zip(s.par_chunks(chunk))
        .map(|(yc, sc)| {
            // Items in the low half, positives in the high half: one add per item.
            let mut both = vec![0u64; nb];
            let mut base = vec![u64::MAX; nb];
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            for (&t, &x) in yc.iter().zip(sc) {
                let x = x.to_f64();
                let k = desc_key(x);
                lo = lo.min(k);
                hi = hi.max(k);
                let b = map.bucket(x, k);
                both[b] += 1 | u64::from(t != 0) << 32;
                base[b] = base[b].min(k);
            }
            let h = both.iter().map(|&c| (c & 0xFFFF_FFFF) as usize).collect();
            let hp = both.iter().map(|&c| (c >> 32) as usize).collect();
            (h, hp, base, lo, hi)
        })
        .collect();
    let lo = parts.iter().map(|p| p.3).min().unwrap_or(0);
    let hi = parts.iter().map(|p| p.4).max().unwrap_or(0);
    let mut base = vec![u64::MAX; nb];
    for p in &parts {
        base.iter_mut()
            .zip(&p.2)
            .for_each(|(a, &b)| *a = (*a).min(b));
    }
    let hists = parts.into_iter().map(|p| (p.0, p.1)).collect();
    Counts {
        chunk,
        hists,
        base,
        lo,
        hi,
    }
}

/// Ask for transparent huge pages on a large fresh buffer (before its first write):
/// scattering into 4 KiB pages costs one page fault per page.
#[cfg(target_os = "linux")]
fn huge_pages(v: &mut [u64]) {
    const HUGE: usize = 1 << 21;
    let bytes = std::mem::size_of_val(v);
    if bytes < 4 * HUGE {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: the range lies inside the allocation of `v`; MADV_HUGEPAGE is advice
        // only (it changes no contents), and a failure is harmless.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn huge_pages(_: &mut [u64]) {}

/// A raw pointer that may cross threads (each thread writes its own elements).
#[derive(Clone, Copy)]
struct SendPtr(*mut u64);
// SAFETY: used only for writes to disjoint elements, see `distribute`.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    fn get(self) -> *mut u64 {
        self.0
    }
}

/// Items of every bucket, bucket after bucket (`out`), with each bucket's size and
/// positives. An item is `(key - base) << 1 | label`, `base` the smallest key of its
/// bucket.
struct Distributed {
    out: Vec<u64>,
    size: Vec<usize>,
    npos: Vec<usize>,
}

/// None when a bucket spans 2^63 keys or more (no bit left for the label).
fn distribute<T: Score, B: Bucketer>(
    y: &[u8],
    s: &[T],
    map: B,
    nb: usize,
    c: &Counts,
) -> Option<Distributed> {
    let n = y.len();
    let (chunk, kbase) = (c.chunk, &c.base[..]);
    // Chunk t's part of bucket b follows the parts of the chunks before it: `starts[t][b]`.
    let mut out = vec![0u64; n];
    huge_pages(&mut out);
    let (mut size, mut npos) = (vec![0usize; nb], vec![0usize; nb]);
    let mut starts: Vec<Vec<usize>> = c.hists.iter().map(|_| Vec::with_capacity(nb)).collect();
    let mut at = 0usize;
    for b in 0..nb {
        for ((h, hp), st) in c.hists.iter().zip(starts.iter_mut()) {
            st.push(at);
            at += h[b];
            size[b] += h[b];
            npos[b] += hp[b];
        }
    }
    assert_eq!(at, n, "bucket counts must cover the input");
    let base = SendPtr(out.as_mut_ptr());
    let wide = y
        .par_chunks(chunk)
        .zip(s.par_chunks(chunk))
        .zip(starts.into_par_iter())
        .zip(c.hists.par_iter())
        .map(|(((yc, sc), mut next), (h, _))| {
            // Each chunk writes exactly h[b] items from next[b] on: its own slots.
            let end: Vec<usize> = next.iter().zip(h).map(|(a, b)| a + b).collect();
            let mut all = 0u64;
            for (&t, &x) in yc.iter().zip(sc) {
                let x = x.to_f64();
                let k = desc_key(x);
                let b = map.bucket(x, k);
                let off = k - kbase[b];
                all |= off;
                let i = next[b];
                assert!(i < end[b]);
                // SAFETY: `i < end[b] <= n` is inside `out`, and the ranges
                // `starts[t][b]..end` of different chunks and buckets are disjoint, so
                // no two threads write the same element; `out` outlives this loop.
                unsafe { *base.get().add(i) = (off << 1) | u64::from(t != 0) };
                next[b] = i + 1;
            }
            all >> 63 != 0
        })
        .reduce(|| false, |a, b| a || b);
    (!wide).then_some(Distributed { out, size, npos })
}

/// Count, then scatter and sum the buckets; None when a bucket's key range leaves no bit
/// for the label (scores of both signs with a bucket across zero wider than about 2).
fn bucketed<T: Score, B: Bucketer>(
    y: &[u8],
    s: &[T],
    m: Metric,
    map: B,
    nb: usize,
    big: usize,
) -> Result<Option<f64>> {
    let c = count(y, s, map, nb);
    let n = y.len();
    if c.lo <= desc_key(f64::INFINITY) || c.hi >= desc_key(f64::NEG_INFINITY) {
        return Err(non_finite());
    }
    let np: usize = c.hists.iter().map(|h| h.1.iter().sum::<usize>()).sum();
    let nn = n - np;
    if np == 0 {
        return Ok(Some(match m {
            Metric::RocAuc => f64::NAN,
            Metric::AveragePrecision => 0.0,
        }));
    }
    if nn == 0 && m == Metric::RocAuc {
        return Ok(Some(f64::NAN));
    }
    let Some(Distributed {
        mut out,
        size,
        npos,
    }) = distribute(y, s, map, nb, &c)
    else {
        return Ok(None);
    };
    drop(c);
    let mut buckets: Vec<(&mut [u64], usize, usize)> = Vec::with_capacity(nb);
    {
        let mut rest: &mut [u64] = &mut out[..];
        let (mut tp0, mut fp0) = (0, 0);
        for (&len, &p) in size.iter().zip(&npos) {
            let (head, tail) = rest.split_at_mut(len);
            rest = tail;
            buckets.push((head, tp0, fp0));
            tp0 += p;
            fp0 += len - p;
        }
    }
    let shares: Vec<(u128, f64)> = buckets
        .into_par_iter()
        .map_init(Scratch::default, |sc, (v, tp0, fp0)| {
            if m == Metric::RocAuc {
                bucket_share::<true>(v, sc, tp0, fp0, nn, big)
            } else {
                bucket_share::<false>(v, sc, tp0, fp0, nn, big)
            }
        })
        .collect();
    let (u2, ap) = shares
        .iter()
        .fold((0u128, 0.0f64), |(a, b), &(c, d)| (a + c, b + d));
    Ok(Some(match m {
        Metric::RocAuc => u2 as f64 / (2.0 * np as f64 * nn as f64),
        Metric::AveragePrecision => (ap / np as f64).max(0.0),
    }))
}

/// ROC AUC (NaN when a class is absent) or average precision (0 without positives) of
/// `y` (non-zero = positive) and finite scores `s`, unit weights; None when the scores
/// span nearly all floats of both signs (left to the sort).
pub fn unit_binary<T: Score>(y: &[u8], s: &[T], m: Metric) -> Result<Option<f64>> {
    unit_binary_at(y, s, m, BIG)
}

/// [`unit_binary`], sorting buckets of more than `big` items with the parallel sort.
fn unit_binary_at<T: Score>(y: &[u8], s: &[T], m: Metric, big: usize) -> Result<Option<f64>> {
    check_len(y.len(), s.len(), "y_score")?;
    let n = y.len();
    if n == 0 {
        return Ok(Some(match m {
            Metric::RocAuc => f64::NAN,
            Metric::AveragePrecision => 0.0,
        }));
    }
    // Bucket mapping from a sample: the highest varying bits of the key, or linear in
    // the score when that spreads the sample better (uniform scores: the top binade
    // holds half of them).
    let sample: Vec<f64> = s
        .iter()
        .step_by((n / SAMPLE).max(1))
        .map(|x| x.to_f64())
        .collect();
    if sample.iter().any(|x| !x.is_finite()) {
        return Err(non_finite());
    }
    let (lo, hi) = sample.iter().fold((u64::MAX, 0u64), |(a, b), &x| {
        let k = desc_key(x);
        (a.min(k), b.max(k))
    });
    let d = hi - lo;
    let top = u64::BITS - d.leading_zeros();
    let bits = bucket_bits(n);
    let shift = top - top.min(bits);
    let nb = (d >> shift) as usize + 1;
    let keyed = Bits {
        lo,
        shift,
        last: nb - 1,
    };
    let (xmax, xmin) = (from_desc_key(lo), from_desc_key(hi));
    let range = xmax - xmin;
    let lnb = 1usize << bits;
    let lin = Linear {
        max: xmax,
        scale: (lnb - 1) as f64 / range,
        last: lnb - 1,
    };
    if range.is_finite()
        && range > 0.0
        && sample_max(&sample, lin, lnb + 1) < sample_max(&sample, keyed, nb)
    {
        bucketed(y, s, m, lin, lnb + 1, big)
    } else {
        bucketed(y, s, m, keyed, nb, big)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: sort by descending score, group ties, scikit-learn's formulas.
    fn reference(y: &[u8], s: &[f64], m: Metric) -> f64 {
        let mut idx: Vec<usize> = (0..y.len()).collect();
        idx.sort_by(|&a, &b| s[b].partial_cmp(&s[a]).expect("finite"));
        let (np, nn) = (
            y.iter().filter(|&&t| t != 0).count() as f64,
            y.iter().filter(|&&t| t == 0).count() as f64,
        );
        let (mut tp, mut fp, mut area, mut ap) = (0.0, 0.0, 0.0, 0.0);
        let mut i = 0;
        while i < idx.len() {
            let (ptp, pfp) = (tp, fp);
            let x = s[idx[i]];
            while i < idx.len() && s[idx[i]] == x {
                if y[idx[i]] != 0 {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
                i += 1;
            }
            area += (fp - pfp) * (tp + ptp) / 2.0;
            ap += (tp - ptp) * tp / (tp + fp);
        }
        match m {
            Metric::RocAuc if np == 0.0 || nn == 0.0 => f64::NAN,
            Metric::RocAuc => area / (np * nn),
            Metric::AveragePrecision if np == 0.0 => 0.0,
            Metric::AveragePrecision => ap / np,
        }
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn check(y: &[u8], s: &[f64], what: &str) {
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            let want = reference(y, s, m);
            // Also with a small `big`, so that buckets take the parallel sort too.
            for big in [BIG, 1 << 10] {
                let got = unit_binary_at(y, s, m, big)
                    .expect("metric")
                    .unwrap_or_else(|| panic!("{what}: no bucketing"));
                assert!(
                    (got - want).abs() < 1e-12 || (got.is_nan() && want.is_nan()),
                    "{what} {m:?} big={big}: {got} vs {want}"
                );
            }
        }
    }

    fn data(n: usize, seed: u64, f: impl Fn(f64) -> f64) -> (Vec<u8>, Vec<f64>) {
        let mut st = seed;
        let y = (0..n).map(|_| u8::from(lcg(&mut st) < 0.3)).collect();
        let s = (0..n).map(|_| f(lcg(&mut st))).collect();
        (y, s)
    }

    #[test]
    fn matches_reference_on_many_distributions() {
        type Dist = (&'static str, fn(f64) -> f64);
        let dists: [Dist; 8] = [
            ("uniform", |u| u),
            ("ties", |u| (u * 7.0).floor() / 7.0),
            ("sigmoid", |u| 1.0 / (1.0 + (-60.0 * (u - 0.5)).exp())),
            ("log", |u| (-700.0 * u).exp()),
            ("signed", |u| (u - 0.5) * 1e6),
            ("cluster", |u| if u < 0.99 { 0.5 + u * 1e-12 } else { u }),
            ("zeros", |u| if u < 0.5 { 0.0 } else { -0.0 }),
            ("spiky", |u| if u < 0.9 { 1.0 } else { u }),
        ];
        for (name, f) in dists {
            for n in [1usize, 2, 3, 17, 100, 1000, 20_000] {
                let (y, s) = data(n, n as u64 + 7, f);
                check(&y, &s, &format!("{name} n={n}"));
            }
        }
    }

    #[test]
    fn all_equal_scores_and_single_class() {
        let y = [1u8, 0, 1, 0, 0];
        check(&y, &[0.25; 5], "all equal");
        check(&[1, 1, 1], &[0.1, 0.2, 0.3], "positives only");
        check(&[0, 0], &[0.1, 0.2], "negatives only");
        let empty = unit_binary::<f64>(&[], &[], Metric::RocAuc).expect("empty");
        assert!(empty.is_some_and(f64::is_nan));
    }

    #[test]
    fn non_finite_scores_are_errors() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -f64::NAN] {
            let mut s: Vec<f64> = (0..50_000).map(|i| i as f64).collect();
            s[31_337] = bad;
            let y: Vec<u8> = (0..50_000).map(|i| (i % 2) as u8).collect();
            assert!(unit_binary(&y, &s, Metric::RocAuc).is_err(), "{bad}");
            assert!(unit_binary(&[1], &[bad], Metric::AveragePrecision).is_err());
        }
    }

    #[test]
    fn wide_signed_scores() {
        let (y, s) = data(5000, 3, |u| (u - 0.5) * 1e300);
        check(&y, &s, "wide");
        let s = [-1e300, 1e300, 0.0, -3.0, 3.0];
        check(&[1, 0, 1, 0, 1], &s, "five");
        check(&[1, 0, 1], &[-3.0, 3.0, -0.0], "three");
        let (y, s) = data(5000, 4, |u| if u < 0.5 { -f64::MAX } else { f64::MAX * u });
        check(&y, &s, "extremes");
    }

    #[test]
    fn result_does_not_depend_on_threads() {
        let (y, s) = data(300_000, 5, |u| (u * 1000.0).floor() * 1e-3);
        let run = |threads: usize, m: Metric| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| unit_binary(&y, &s, m).expect("metric").expect("range"))
        };
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            assert_eq!(run(1, m).to_bits(), run(3, m).to_bits());
        }
        check(&y, &s, "300k ties");
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Manual profile: `cargo test --release -p longtail-core bucket::timing -- --ignored
    /// --nocapture` (`LT_N` items, `LT_DIST` = uniform | sigmoid | few).
    #[test]
    #[ignore]
    fn profile_unit_binary() {
        let n: usize = std::env::var("LT_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000_000);
        let dist = std::env::var("LT_DIST").unwrap_or_else(|_| "uniform".into());
        let mut s = 1u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s >> 11
        };
        let y: Vec<u8> = (0..n).map(|_| (next() & 1) as u8).collect();
        let sc: Vec<f64> = (0..n)
            .map(|_| {
                let u = next() as f64 / (1u64 << 53) as f64;
                match dist.as_str() {
                    "sigmoid" => 1.0 / (1.0 + (-40.0 * (u - 0.5)).exp()),
                    "few" => (u * 100.0).floor(),
                    "log" => (-700.0 * u).exp(),
                    _ => u,
                }
            })
            .collect();
        // Process CPU time in clock ticks (utime + stime of /proc/self/stat): less
        // sensitive than wall time to other jobs on the machine.
        let cpu = || -> f64 {
            let st = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let f: Vec<&str> = st
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            (tick(11) + tick(12)) / 100.0
        };
        for m in [Metric::RocAuc, Metric::AveragePrecision] {
            let mut best = f64::MAX;
            let c0 = cpu();
            for _ in 0..10 {
                let t = std::time::Instant::now();
                let v = unit_binary(&y, &sc, m).expect("metric").expect("range");
                best = best.min(t.elapsed().as_secs_f64());
                std::hint::black_box(v);
            }
            let c = (cpu() - c0) / 10.0;
            eprintln!(
                "{m:?} {dist} n={n}: best {:.1} ms, cpu {:.1} ms",
                best * 1e3,
                c * 1e3
            );
        }
    }
}
