//! Labels to dense class ids, per-class counts, and a parallel grouping scatter: the one
//! class grouping every kernel uses (the class-first samplers' grouped index in
//! [`crate::sampling::groups`], and every selection kernel in [`crate::select`]).
//!
//! The class of a row is its position in the sorted distinct labels. Small id ranges
//! (the usual `0..C`) use a dense lookup table; others a binary search of the sorted
//! distinct ids. Grouping is a counting sort by chunks: every chunk of rows counts its
//! classes, then writes its rows into its own sub-slices of each class's segment, so
//! chunks run in parallel without sharing a cursor, and every class keeps its rows in
//! ascending order whatever the thread count.

use rayon::prelude::*;

use crate::{Error, Result};

/// Sorted distinct class ids of a label array and the map from a label to its class.
#[derive(Debug, Clone)]
pub struct ClassMap {
    /// Distinct class ids, ascending.
    pub classes: Vec<i64>,
    /// Rows per class.
    pub counts: Vec<u64>,
    lo: i64,
    dense: Option<Vec<u32>>,
}

impl ClassMap {
    /// Map and count `labels` (`arg` names them in errors).
    pub fn new(labels: &[i64], arg: &str) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::value(arg, "must not be empty"));
        }
        let (lo, hi) = labels
            .par_chunks(1 << 16)
            .map(|c| {
                c.iter()
                    .fold((i64::MAX, i64::MIN), |(a, b), &v| (a.min(v), b.max(v)))
            })
            .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
        let range = (hi as i128 - lo as i128 + 1) as u128;
        // A dense table when the id range is small next to the rows (the common case:
        // 0..C): at most 4 bytes per row plus 256 KiB.
        let mut map = if range <= labels.len() as u128 + (1 << 16) {
            let range = range as usize;
            // Chunks of at least 8 rows per table slot, so zeroing the per-chunk
            // tables costs at most an eighth of the pass over the labels.
            let hist = labels
                .par_chunks((1 << 18).max(range * 8))
                .map(|c| {
                    let mut h = vec![0u64; range];
                    for &v in c {
                        h[(v - lo) as usize] += 1;
                    }
                    h
                })
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                })
                .unwrap_or_default();
            let mut dense = vec![u32::MAX; range];
            let mut classes = Vec::new();
            let mut counts = Vec::new();
            for (k, &h) in hist.iter().enumerate() {
                if h > 0 {
                    dense[k] = classes.len() as u32;
                    classes.push(lo + k as i64);
                    counts.push(h);
                }
            }
            ClassMap {
                classes,
                counts,
                lo,
                dense: Some(dense),
            }
        } else {
            let mut classes = labels.to_vec();
            classes.par_sort_unstable();
            classes.dedup();
            if classes.len() > u32::MAX as usize {
                return Err(Error::value(arg, "more than 2**32 - 1 distinct classes"));
            }
            ClassMap {
                counts: vec![0; classes.len()],
                classes,
                lo,
                dense: None,
            }
        };
        if map.dense.is_none() {
            let c = map.classes.len();
            let counts = labels
                .par_chunks(1 << 18)
                .map(|ch| {
                    let mut h = vec![0u64; c];
                    for &v in ch {
                        h[map.id(v) as usize] += 1;
                    }
                    h
                })
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                })
                .unwrap_or_default();
            map.counts = counts;
        }
        Ok(map)
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there are no classes (never, for a map built from labels).
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Dense class of a label that occurs in the labels the map was built from.
    #[inline]
    pub fn id(&self, v: i64) -> u32 {
        match &self.dense {
            Some(d) => d[(v - self.lo) as usize],
            None => self.classes.binary_search(&v).unwrap_or(0) as u32,
        }
    }
}

/// Rows of the classes with `keep[c]`, grouped by class: returns `(items, offsets)`
/// where `items[offsets[k]..offsets[k + 1]]` holds `make(row)` for the rows of the
/// `k`-th kept class in ascending row order, and `kept[k]` the class of that segment.
pub fn group_rows<E, F>(
    labels: &[i64],
    map: &ClassMap,
    keep: &[bool],
    make: F,
) -> (Vec<E>, Vec<usize>, Vec<u32>)
where
    E: Send + Sync + Copy + Default,
    F: Fn(usize) -> E + Sync + Send,
{
    group_rows_where(labels, map, keep, |_, _| true, make)
}

/// [`group_rows`] of only the rows with `take(row, class)`.
pub fn group_rows_where<E, T, F>(
    labels: &[i64],
    map: &ClassMap,
    keep: &[bool],
    take: T,
    make: F,
) -> (Vec<E>, Vec<usize>, Vec<u32>)
where
    E: Send + Sync + Copy + Default,
    T: Fn(usize, usize) -> bool + Sync + Send,
    F: Fn(usize) -> E + Sync + Send,
{
    let c = map.len();
    let n = labels.len();
    // Kept classes get consecutive slots; others map to NONE.
    const NONE: u32 = u32::MAX;
    let mut slot = vec![NONE; c];
    let mut kept = Vec::new();
    for (k, &on) in keep.iter().enumerate() {
        if on && map.counts[k] > 0 {
            slot[k] = kept.len() as u32;
            kept.push(k as u32);
        }
    }
    let m = kept.len();
    if m == 0 {
        return (Vec::new(), vec![0], kept);
    }
    // Chunks: enough for the threads, few enough that the per-chunk class tables stay
    // small next to the rows. Only the work split depends on the thread count; every
    // row still lands in its class segment in ascending order.
    let threads = rayon::current_num_threads().max(1);
    let by_size = n / (m * 8).max(1 << 16);
    let nchunks = (threads * 4).min(by_size).max(1);
    let chunk = n.div_ceil(nchunks);
    let chunk_counts: Vec<Vec<usize>> = labels
        .par_chunks(chunk)
        .enumerate()
        .map(|(ch, lab)| {
            let mut h = vec![0usize; m];
            for (r, &v) in lab.iter().enumerate() {
                let k = map.id(v) as usize;
                let s = slot[k];
                if s != NONE && take(ch * chunk + r, k) {
                    h[s as usize] += 1;
                }
            }
            h
        })
        .collect();
    let mut offsets = vec![0usize; m + 1];
    for s in 0..m {
        offsets[s + 1] = offsets[s] + chunk_counts.iter().map(|h| h[s]).sum::<usize>();
    }
    let mut items = vec![E::default(); offsets[m]];
    // Cut every class segment into per-chunk parts, then hand each chunk its parts.
    let mut parts: Vec<Vec<&mut [E]>> = (0..chunk_counts.len())
        .map(|_| Vec::with_capacity(m))
        .collect();
    let mut rest: &mut [E] = &mut items;
    for s in 0..m {
        for (ch, counts) in chunk_counts.iter().enumerate() {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(counts[s]);
            parts[ch].push(head);
            rest = tail;
        }
    }
    labels
        .par_chunks(chunk)
        .zip(parts.into_par_iter())
        .enumerate()
        .for_each(|(ch, (lab, mut dst))| {
            let mut pos = vec![0usize; m];
            let base = ch * chunk;
            for (r, &v) in lab.iter().enumerate() {
                let k = map.id(v) as usize;
                let s = slot[k];
                if s != NONE && take(base + r, k) {
                    let s = s as usize;
                    dst[s][pos[s]] = make(base + r);
                    pos[s] += 1;
                }
            }
        });
    (items, offsets, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_maps_agree() {
        for labels in [
            vec![3i64, 1, 3, 7, 1, 3],
            vec![-5, 1 << 40, -5, 7, 1 << 40, 7],
        ] {
            let m = ClassMap::new(&labels, "labels").unwrap();
            let mut want = labels.clone();
            want.sort();
            want.dedup();
            assert_eq!(m.classes, want);
            for &v in &labels {
                assert_eq!(m.classes[m.id(v) as usize], v);
            }
            let tot: u64 = m.counts.iter().sum();
            assert_eq!(tot, labels.len() as u64);
        }
    }

    #[test]
    fn empty_labels_are_an_error() {
        let e = ClassMap::new(&[], "labels").unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
    }

    #[test]
    fn grouping_keeps_row_order_and_skips_classes() {
        let n = 300_000;
        let labels: Vec<i64> = (0..n).map(|i| ((i * 7919) % 13) as i64).collect();
        let m = ClassMap::new(&labels, "labels").unwrap();
        let keep: Vec<bool> = (0..13).map(|c| c % 3 != 0).collect();
        let (items, offsets, kept) = group_rows(&labels, &m, &keep, |r| r as u64);
        for (s, &k) in kept.iter().enumerate() {
            let seg = &items[offsets[s]..offsets[s + 1]];
            assert!(seg.windows(2).all(|w| w[0] < w[1]));
            assert!(seg
                .iter()
                .all(|&r| labels[r as usize] == m.classes[k as usize]));
            assert_eq!(seg.len() as u64, m.counts[k as usize]);
            assert!(keep[k as usize]);
        }
        assert_eq!(kept.len(), 8);
    }
}
