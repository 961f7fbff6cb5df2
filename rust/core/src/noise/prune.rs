//! Bounded selection: keep the `m` best candidates of a stream, per slot.
//!
//! This is the reusable piece behind cleanlab's `_prune_by_count` (per (given, true) pair:
//! the `m` examples of given class k with the largest margin `p[j] - p[k]`) and
//! `_prune_by_class` (per class: the `m` smallest `p[k]`, i.e. the largest `-p[k]`):
//! instead of one full argsort per pair, one pass offers every row to a heap of size `m`.
//!
//! Order: a larger key is better; equal keys go to the smaller index (a stable sort's
//! order). `-0.0 == 0.0`. The best `m` under this total order are unique, so the result
//! does not depend on how the rows were split between threads, batches or processes:
//! [`TopM::merge`] of partial selections equals the selection over all rows.
//! (The `select` module has its own per-class top-k; the two can be unified.)

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::{check_inputs, check_row, chunk_rows, label_is_argmax, Prob};
use crate::error::{Error, Result};

/// Up to this many classes, the selection keeps its bars as a dense C x C matrix.
const DENSE_MAX: usize = 1024;

/// One candidate: its key, its index, and a flag carried along (here: "the given label
/// is the argmax", which removes the row from the final issues but not from selection).
#[derive(Clone, Copy, Debug)]
pub struct Cand {
    pub key: f64,
    pub index: u64,
    pub flag: bool,
}

/// Heap order: "greater" means worse, so the heap's top is the one to evict.
#[derive(Clone, Copy, Debug)]
struct Worst(Cand);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        // smaller key = worse = greater; equal keys: larger index = worse
        other
            .0
            .key
            .partial_cmp(&self.0.key)
            .unwrap_or(Ordering::Equal)
            .then(self.0.index.cmp(&other.0.index))
    }
}

/// The `cap` best candidates seen so far.
#[derive(Clone, Debug, Default)]
pub struct TopM {
    cap: usize,
    heap: BinaryHeap<Worst>,
}

impl TopM {
    /// An empty selection keeping at most `cap`.
    pub fn new(cap: usize) -> Self {
        TopM {
            cap,
            heap: BinaryHeap::new(),
        }
    }

    /// Offer one candidate.
    #[inline]
    pub fn offer(&mut self, c: Cand) {
        if self.cap == 0 {
            return;
        }
        if self.heap.len() < self.cap {
            self.heap.push(Worst(c));
        } else if let Some(mut top) = self.heap.peek_mut() {
            if Worst(c) < *top {
                *top = Worst(c);
            }
        }
    }

    /// The worst kept key once `cap` candidates are kept.
    #[inline]
    pub fn worst_if_full(&self) -> Option<f64> {
        if self.heap.len() < self.cap {
            None
        } else {
            self.heap.peek().map(|w| w.0.key)
        }
    }

    /// Fold another selection (same cap) into this one.
    pub fn merge(&mut self, other: TopM) {
        for w in other.heap {
            self.offer(w.0);
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(self) -> Vec<Cand> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|w| w.0)
            .collect()
    }
}

/// What to select: per given class k, the (true class j, slot) pairs of
/// `prune_by_noise_rate`, and the slot of `prune_by_class` if any.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Optional starting bar per slot (the worst key kept by earlier rows with smaller
    /// indexes, once the slot is full); empty: none.
    pub bars: Vec<f64>,
    pub caps: Vec<usize>,
    pub by_pair: Vec<Vec<(usize, usize)>>,
    pub by_class: Vec<Option<usize>>,
}

impl Spec {
    /// Slots `0..pairs` are the (k, j) pairs with their caps, then one slot per class
    /// with `class_caps[k] > 0`.
    pub fn new(
        c: usize,
        pair_k: &[i64],
        pair_j: &[i64],
        pair_cap: &[i64],
        class_caps: &[i64],
    ) -> Result<Self> {
        if pair_j.len() != pair_k.len() || pair_cap.len() != pair_k.len() {
            return Err(Error::value(
                "pairs",
                "k, j and cap must have the same length",
            ));
        }
        if class_caps.len() != c && !class_caps.is_empty() {
            return Err(Error::value("class_caps", format!("expected {c} values")));
        }
        let mut caps = Vec::new();
        let mut by_pair = vec![Vec::new(); c];
        for ((&k, &j), &m) in pair_k.iter().zip(pair_j).zip(pair_cap) {
            if k < 0 || j < 0 || k as u64 >= c as u64 || j as u64 >= c as u64 || m < 0 {
                return Err(Error::value("pairs", format!("bad pair ({k}, {j}, {m})")));
            }
            by_pair[k as usize].push((j as usize, caps.len()));
            caps.push(m as usize);
        }
        let mut by_class = vec![None; c];
        for (k, &m) in class_caps.iter().enumerate() {
            if m > 0 {
                by_class[k] = Some(caps.len());
                caps.push(m as usize);
            }
        }
        Ok(Spec {
            bars: Vec::new(),
            caps,
            by_pair,
            by_class,
        })
    }

    fn empty(&self) -> Vec<TopM> {
        self.caps.iter().map(|&m| TopM::new(m)).collect()
    }
}

/// Offer every row of `probs` (`n x c`) to the selections of `spec`: for a row of given
/// class k, slot (k, j) gets key `p[j] - p[k]` (computed in the matrix's dtype, as
/// cleanlab does), class k's slot gets `-p[k]`. Indexes are row numbers plus `offset`.
/// Returns, per slot, the kept candidates best first.
#[allow(clippy::too_many_arguments)]
pub fn select<T: Prob>(
    probs: &[T],
    labels: &[i64],
    c: usize,
    spec: &Spec,
    offset: u64,
    eps: T,
    lo: f64,
    hi: f64,
) -> Result<Vec<Vec<Cand>>> {
    check_inputs(probs, labels, c)?;
    if spec.by_pair.len() != c {
        return Err(Error::value(
            "pairs",
            "spec was built for another number of classes",
        ));
    }
    // The kept set is unique under the total order, so chunking may follow the thread
    // count: a few large chunks keep the per-chunk heaps and their merges cheap.
    let n = labels.len();
    let tasks = rayon::current_num_threads().max(1) * 2;
    let rows = n.div_ceil(tasks).max(chunk_rows(c)).max(1);
    let merged = probs
        .par_chunks(rows * c)
        .zip(labels.par_chunks(rows))
        .enumerate()
        .map(|(ci, (block, ys))| -> Result<Vec<TopM>> {
            let mut sel = spec.empty();
            // per slot, the key a new row must beat once the slot is full (rows arrive in
            // increasing index here, so an equal key loses): a dense array, so most offers
            // are one load and one compare
            let mut bar: Vec<f64> = spec
                .caps
                .iter()
                .enumerate()
                .map(|(slot, &m)| {
                    if m == 0 {
                        f64::INFINITY
                    } else {
                        // a bar carried over from earlier rows (streaming): a row must
                        // beat what those rows already keep
                        spec.bars.get(slot).copied().unwrap_or(f64::NEG_INFINITY)
                    }
                })
                .collect();
            // the same bars as a dense C x C matrix in the probabilities' dtype (for
            // C <= 1024): one vectorised sweep over a row tells whether any pair can take
            // it, and most rows need nothing more
            let dense = c <= DENSE_MAX;
            let mut bar_t: Vec<T> = Vec::new();
            if dense {
                bar_t = vec![T::infinity(); c * c];
                for (k, pairs) in spec.by_pair.iter().enumerate() {
                    for &(j, slot) in pairs {
                        bar_t[k * c + j] = T::from_f64(bar[slot]);
                    }
                }
            }
            for (r, (row, &y)) in block.chunks_exact(c).zip(ys).enumerate() {
                check_row(row, lo, hi)?;
                let k = y as usize;
                let pairs = &spec.by_pair[k];
                let cls = spec.by_class[k];
                if pairs.is_empty() && cls.is_none() {
                    continue;
                }
                let pk = row[k];
                if dense {
                    let b = &bar_t[k * c..(k + 1) * c];
                    let mut hit = false;
                    for (&p, &bb) in row.iter().zip(b) {
                        hit |= p - pk > bb;
                    }
                    if !hit && cls.is_none_or(|s| -pk.to_f64() <= bar[s]) {
                        continue;
                    }
                }
                let index = (ci * rows + r) as u64;
                let mut offer = |slot: usize, key: f64, j: Option<usize>| {
                    if key <= bar[slot] {
                        return;
                    }
                    let t = &mut sel[slot];
                    // the flag is filled in for the survivors only, below
                    t.offer(Cand {
                        key,
                        index,
                        flag: false,
                    });
                    if let Some(w) = t.worst_if_full() {
                        bar[slot] = w;
                        if let (true, Some(j)) = (dense, j) {
                            bar_t[k * c + j] = T::from_f64(w);
                        }
                    }
                };
                for &(j, slot) in pairs {
                    offer(slot, (row[j] - pk).to_f64(), Some(j));
                }
                if let Some(slot) = cls {
                    offer(slot, -pk.to_f64(), None);
                }
            }
            Ok(sel)
        })
        .try_reduce(
            || spec.empty(),
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.merge(y);
                }
                Ok(a)
            },
        )?;
    Ok(merged
        .into_iter()
        .map(|t| {
            let mut v = t.into_sorted();
            for cand in &mut v {
                let i = cand.index as usize;
                cand.flag = label_is_argmax(&probs[i * c..(i + 1) * c], labels[i] as usize, eps);
                cand.index += offset;
            }
            v
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_with_ties_to_the_smaller_index() {
        let mut t = TopM::new(2);
        for (i, key) in [0.5, 0.9, 0.5, 0.9, -0.0].iter().enumerate() {
            t.offer(Cand {
                key: *key,
                index: i as u64,
                flag: false,
            });
        }
        let got: Vec<u64> = t.into_sorted().iter().map(|c| c.index).collect();
        assert_eq!(got, vec![1, 3]);
    }

    #[test]
    fn merge_equals_one_pass() {
        let keys: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64).collect();
        let mut one = TopM::new(7);
        let mut a = TopM::new(7);
        let mut b = TopM::new(7);
        for (i, &k) in keys.iter().enumerate() {
            let c = Cand {
                key: k,
                index: i as u64,
                flag: false,
            };
            one.offer(c);
            if i % 3 == 0 {
                a.offer(c)
            } else {
                b.offer(c)
            }
        }
        a.merge(b);
        let x: Vec<u64> = one.into_sorted().iter().map(|c| c.index).collect();
        let y: Vec<u64> = a.into_sorted().iter().map(|c| c.index).collect();
        assert_eq!(x, y);
    }

    #[test]
    fn select_by_pair_and_class() {
        // class 0 rows: 0, 1, 2; pair (0, 1) keeps 1 by margin p1 - p0; class 0 keeps 2 by -p0
        let p = [0.9f64, 0.1, 0.4, 0.6, 0.2, 0.8, 0.3, 0.7];
        let spec = Spec::new(2, &[0], &[1], &[1], &[2, 0]).unwrap();
        let got = select(&p, &[0, 0, 0, 1], 2, &spec, 10, 1e-6, -1e-6, 1.0).unwrap();
        assert_eq!(got[0].iter().map(|c| c.index).collect::<Vec<_>>(), vec![12]);
        assert_eq!(
            got[1].iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![12, 11]
        );
        assert!(!got[0][0].flag);
        assert!(Spec::new(2, &[0], &[2], &[1], &[]).is_err());
        assert!(select(&p, &[0, 0, 0, 2], 2, &spec, 0, 1e-6, -1e-6, 1.0).is_err());
    }
}
