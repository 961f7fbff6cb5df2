//! numpy's pairwise summation, bit for bit, so that the confident thresholds
//! (`np.mean(pred_probs[:, k][labels == k])` in cleanlab) come out identical.
//!
//! numpy sums a contiguous run of `n` values as `pairwise_sum` in
//! `numpy/_core/src/umath/loops_utils.h.src`: `n < 8` sequentially; `8 <= n <= 128`
//! with eight interleaved accumulators combined as `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`
//! and the `n % 8` tail added after; larger `n` split at `n/2` rounded down to a multiple
//! of 8, recursively. The tree depends only on `n`, so a class's values can be summed as
//! they stream in (a DFS over the tree with O(log n) state), and a shard that holds a
//! contiguous run of a class's positions can emit the sums of the subtrees it covers fully
//! plus the raw values of the (at most two) leaves it shares with another shard:
//! [`evaluate`] rebuilds the exact numpy sum from the pieces of all shards.

use std::collections::HashMap;

use super::Prob;
use crate::error::{Error, Result};

const BLOCK: usize = 128;

fn split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

/// The sum numpy's `np.add.reduce` gives for a contiguous 1-D array.
pub fn pairwise_sum<T: Prob>(a: &[T]) -> T {
    let n = a.len();
    if n < 8 {
        let mut r = T::zero();
        for &x in a {
            r = r + x;
        }
        r
    } else if n <= BLOCK {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let main = n - n % 8;
        let mut i = 8;
        while i < main {
            for (t, acc) in r.iter_mut().enumerate() {
                *acc = *acc + a[i + t];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[main..] {
            res = res + x;
        }
        res
    } else {
        let n2 = split(n);
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// One leaf (at most 128 values) summed as its values arrive.
#[derive(Clone, Debug)]
struct Leaf<T> {
    len: usize,
    filled: usize,
    lanes: [T; 8],
    res: T,
}

impl<T: Prob> Leaf<T> {
    fn new(len: usize) -> Self {
        Leaf {
            len,
            filled: 0,
            lanes: [T::zero(); 8],
            res: T::zero(),
        }
    }

    fn push(&mut self, x: T) -> Option<T> {
        let j = self.filled;
        if self.len < 8 {
            self.res = self.res + x;
        } else {
            let main = self.len - self.len % 8;
            if j < 8 {
                self.lanes[j] = x;
            } else if j < main {
                self.lanes[j % 8] = self.lanes[j % 8] + x;
            } else {
                self.res = self.res + x;
            }
            if j + 1 == main {
                let r = &self.lanes;
                self.res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            }
        }
        self.filled += 1;
        (self.filled == self.len).then_some(self.res)
    }
}

/// A whole subtree of `n` values summed as they arrive: a DFS stack of pending right
/// halves (with the finished left half's sum) and the leaf being filled.
#[derive(Clone, Debug)]
struct Subtree<T> {
    stack: Vec<(usize, Option<T>)>,
    leaf: Leaf<T>,
}

impl<T: Prob> Subtree<T> {
    fn new(n: usize) -> Self {
        let mut s = Subtree {
            stack: Vec::new(),
            leaf: Leaf::new(0),
        };
        s.descend(n);
        s
    }

    fn descend(&mut self, mut n: usize) {
        while n > BLOCK {
            let n2 = split(n);
            self.stack.push((n - n2, None));
            n = n2;
        }
        self.leaf = Leaf::new(n);
    }

    fn push(&mut self, x: T) -> Option<T> {
        let mut v = self.leaf.push(x)?;
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Some(v);
            };
            match top.1 {
                None => {
                    top.1 = Some(v);
                    let right = top.0;
                    self.descend(right);
                    return None;
                }
                Some(left) => {
                    v = left + v;
                    self.stack.pop();
                }
            }
        }
    }
}

/// A part of a class's sum: the numpy sum of the subtree over positions
/// `start..start + len`, or (`raw`) the single value at position `start` of a leaf
/// this shard holds only partly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece<T> {
    pub start: usize,
    pub len: usize,
    pub value: T,
    pub raw: bool,
}

#[derive(Clone, Copy, Debug)]
enum Seg {
    Full(usize, usize),
    Raw(usize, usize),
}

fn plan(start: usize, len: usize, lo: usize, hi: usize, out: &mut Vec<Seg>) {
    let a = start.max(lo);
    let b = (start + len).min(hi);
    if a >= b {
        return;
    }
    if a == start && b == start + len {
        out.push(Seg::Full(start, len));
    } else if len <= BLOCK {
        out.push(Seg::Raw(a, b - a));
    } else {
        let n2 = split(len);
        plan(start, n2, lo, hi, out);
        plan(start + n2, len - n2, lo, hi, out);
    }
}

/// The streaming sum of one class over the positions `lo..hi` of its `total` values.
#[derive(Clone, Debug)]
pub struct ClassSum<T> {
    segs: Vec<Seg>,
    seg: usize,
    pos: usize,
    cur: Option<Subtree<T>>,
    pieces: Vec<Piece<T>>,
}

impl<T: Prob> ClassSum<T> {
    /// Positions `lo..hi` of a class with `total` values (hi <= total).
    pub fn new(total: usize, lo: usize, hi: usize) -> Self {
        let mut segs = Vec::new();
        plan(0, total, lo, hi.min(total), &mut segs);
        let mut s = ClassSum {
            segs,
            seg: 0,
            pos: lo,
            cur: None,
            pieces: Vec::new(),
        };
        s.open();
        s
    }

    fn open(&mut self) {
        self.cur = match self.segs.get(self.seg) {
            Some(Seg::Full(_, len)) => Some(Subtree::new(*len)),
            _ => None,
        };
    }

    /// The next value of this class (in position order).
    pub fn push(&mut self, x: T) -> Result<()> {
        match self.segs.get(self.seg).copied() {
            None => Err(Error::value(
                "labels",
                "more rows of a class than counted in the first pass (every pass must see the same rows)",
            )),
            Some(Seg::Raw(start, len)) => {
                self.pieces.push(Piece {
                    start: self.pos,
                    len: 1,
                    value: x,
                    raw: true,
                });
                self.pos += 1;
                if self.pos == start + len {
                    self.seg += 1;
                    self.open();
                }
                Ok(())
            }
            Some(Seg::Full(start, len)) => {
                self.pos += 1;
                if let Some(v) = self.cur.as_mut().and_then(|s| s.push(x)) {
                    self.pieces.push(Piece {
                        start,
                        len,
                        value: v,
                        raw: false,
                    });
                    self.seg += 1;
                    self.open();
                }
                Ok(())
            }
        }
    }

    /// True when every position of the range has been pushed.
    pub fn complete(&self) -> bool {
        self.seg == self.segs.len()
    }

    /// The pieces emitted so far.
    pub fn pieces(&self) -> &[Piece<T>] {
        &self.pieces
    }
}

/// The numpy sum of `total` values from the pieces of every shard (`None` if `total == 0`).
pub fn evaluate<T: Prob>(total: usize, pieces: &[Piece<T>]) -> Result<Option<T>> {
    if total == 0 {
        return Ok(None);
    }
    let mut full = HashMap::new();
    let mut raw = HashMap::new();
    for p in pieces {
        if p.raw {
            raw.insert(p.start, p.value);
        } else {
            full.insert((p.start, p.len), p.value);
        }
    }
    fn go<T: Prob>(
        s: usize,
        l: usize,
        full: &HashMap<(usize, usize), T>,
        raw: &HashMap<usize, T>,
    ) -> Result<T> {
        if let Some(&v) = full.get(&(s, l)) {
            return Ok(v);
        }
        if l <= BLOCK {
            let vals = (s..s + l)
                .map(|i| raw.get(&i).copied())
                .collect::<Option<Vec<T>>>()
                .ok_or_else(|| {
                    Error::value(
                        "state",
                        "the shards' pieces do not cover every row of a class",
                    )
                })?;
            return Ok(pairwise_sum(&vals));
        }
        let n2 = split(l);
        Ok(go(s, n2, full, raw)? + go(s + n2, l - n2, full, raw)?)
    }
    // np.add.reduce starts from the identity: 0 + sum.
    Ok(Some(T::zero() + go(0, total, &full, &raw)?))
}

/// Per-class numpy sums of `probs[i, labels[i]]` over all rows, and the class counts,
/// in one pass over the rows (the in-memory case of [`ClassSum`]).
pub fn class_sums<T: Prob>(probs: &[T], labels: &[i64], c: usize) -> Result<(Vec<i64>, Vec<f64>)> {
    super::check_inputs(probs, labels, c)?;
    let mut counts = vec![0i64; c];
    for &y in labels {
        counts[y as usize] += 1;
    }
    let mut sums: Vec<ClassSum<T>> = counts
        .iter()
        .map(|&n| ClassSum::new(n as usize, 0, n as usize))
        .collect();
    for (i, &y) in labels.iter().enumerate() {
        let y = y as usize;
        sums[y].push(probs[i * c + y])?;
    }
    let mut out = vec![f64::NAN; c];
    for (k, s) in sums.iter().enumerate() {
        if let Some(v) = evaluate(counts[k] as usize, s.pieces())? {
            out[k] = v.to_f64();
        }
    }
    Ok((counts, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32).powi(3)
            })
            .collect()
    }

    #[test]
    fn streaming_equals_recursive_for_every_length() {
        for n in (1..600).chain([1000, 4097, 10_000]) {
            let a = data(n, n as u64);
            let mut s = ClassSum::new(n, 0, n);
            for &x in &a {
                s.push(x).unwrap();
            }
            assert!(s.complete());
            let got = evaluate(n, s.pieces()).unwrap().unwrap();
            assert_eq!(got.to_bits(), (0.0 + pairwise_sum(&a)).to_bits(), "n = {n}");
        }
    }

    #[test]
    fn shards_merge_to_the_same_bits() {
        let n = 5000;
        let a = data(n, 7);
        let want = pairwise_sum(&a);
        for cuts in [vec![0, 1, n], vec![0, 77, 1300, 1301, n], vec![0, 2500, n]] {
            let mut pieces = Vec::new();
            for w in cuts.windows(2) {
                let mut s = ClassSum::new(n, w[0], w[1]);
                for &x in &a[w[0]..w[1]] {
                    s.push(x).unwrap();
                }
                assert!(s.complete());
                pieces.extend_from_slice(s.pieces());
            }
            let got = evaluate(n, &pieces).unwrap().unwrap();
            assert_eq!(got.to_bits(), want.to_bits());
        }
    }

    #[test]
    fn missing_pieces_and_extra_rows_are_errors() {
        let mut s = ClassSum::new(3, 0, 2);
        s.push(1.0f64).unwrap();
        s.push(1.0).unwrap();
        assert!(s.push(1.0).is_err());
        assert!(evaluate(3, s.pieces()).is_err());
        assert_eq!(evaluate::<f64>(0, &[]).unwrap(), None);
    }

    #[test]
    fn class_sums_counts_and_sums() {
        let p = [0.9f64, 0.1, 0.2, 0.8, 0.7, 0.3];
        let (counts, sums) = class_sums(&p, &[0, 1, 0], 2).unwrap();
        assert_eq!(counts, vec![2, 1]);
        assert_eq!(sums, vec![0.9 + 0.7, 0.8]);
        assert!(class_sums(&p, &[0, 2, 0], 2).is_err());
    }
}
