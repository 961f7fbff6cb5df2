//! Balanced assignment: every cluster gets floor(n/k) or ceil(n/k) rows.
//!
//! Greedy by regret: rows are taken in decreasing order of the gap between their
//! second-nearest and nearest centre (those that lose most if moved go first), each to
//! its nearest centre that still has room; centres then move to the means, and the
//! round repeats until labels stop changing (or a round limit). The best round (lowest
//! inertia) is kept, so the result is never worse than the first balanced assignment.

use super::assign::{inertia, nearest2, row_sq_norms};
use super::{check_k, check_shape, Scalar};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Capacities: `r = n % k` clusters may hold `q + 1 = ceil(n/k)` rows, the others
/// `q = floor(n/k)`; whichever clusters fill up first get the larger size.
struct Room {
    counts: Vec<usize>,
    q: usize,
    big_left: usize,
}

impl Room {
    fn new(n: usize, k: usize) -> Self {
        Room {
            counts: vec![0; k],
            q: n / k,
            big_left: n % k,
        }
    }
    #[inline]
    fn has_room(&self, j: usize) -> bool {
        self.counts[j] < self.q || (self.counts[j] == self.q && self.big_left > 0)
    }
    #[inline]
    fn take(&mut self, j: usize) {
        if self.counts[j] == self.q {
            self.big_left -= 1;
        }
        self.counts[j] += 1;
    }
}

/// One balanced assignment of the rows of `x` to `centers`.
fn assign_balanced<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    centers: &[T],
    par: bool,
) -> Vec<i64> {
    let k = centers.len() / d;
    let n = xnorm.len();
    let (best, d1, d2) = nearest2(x, d, xnorm, centers, k, par);
    let mut order: Vec<usize> = (0..n).collect();
    let key = |&a: &usize, &b: &usize| (d2[b] - d1[b]).total_cmp(&(d2[a] - d1[a])).then(a.cmp(&b));
    if par {
        order.par_sort_unstable_by(key);
    } else {
        order.sort_unstable_by(key);
    }
    let cnorm: Vec<f64> = row_sq_norms(centers, d)
        .iter()
        .map(|v| v.to_f64())
        .collect();
    let mut room = Room::new(n, k);
    let mut labels = vec![0i64; n];
    for i in order {
        let mut j = best[i] as usize;
        if !room.has_room(j) {
            // Nearest centre with room: distances from this row to every centre.
            let xi = &x[i * d..(i + 1) * d];
            let mut bv = f64::INFINITY;
            for (c, cr) in centers.chunks_exact(d).enumerate() {
                if !room.has_room(c) {
                    continue;
                }
                let dot: f64 = xi
                    .iter()
                    .zip(cr)
                    .map(|(a, b)| a.to_f64() * b.to_f64())
                    .sum();
                let v = cnorm[c] - 2.0 * dot;
                if v < bv {
                    bv = v;
                    j = c;
                }
            }
        }
        room.take(j);
        labels[i] = j as i64;
    }
    labels
}

/// Means of each cluster (every cluster is non-empty here as sizes are balanced).
fn means<T: Scalar>(x: &[T], d: usize, labels: &[i64], k: usize) -> Vec<T> {
    let mut acc = vec![0.0f64; k * d];
    let mut cnt = vec![0usize; k];
    for (r, &l) in x.chunks_exact(d).zip(labels) {
        let l = l as usize;
        cnt[l] += 1;
        acc[l * d..(l + 1) * d]
            .iter_mut()
            .zip(r)
            .for_each(|(a, v)| *a += v.to_f64());
    }
    acc.chunks_exact(d)
        .zip(&cnt)
        .flat_map(|(a, &c)| a.iter().map(move |v| T::from_f64(v / c.max(1) as f64)))
        .collect()
}

/// Balanced k-means refinement from `centers`: returns `(centers, labels, inertia)`
/// where cluster sizes differ by at most one, `centers` are the means of the clusters
/// and `inertia` is the exact sum of squared distances to them.
pub fn balance<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    centers: &[T],
    max_rounds: usize,
    par: bool,
) -> Result<(Vec<T>, Vec<i64>, f64)> {
    let n = check_shape(x, d, "X")?;
    let k = check_shape(centers, d, "centers")?;
    check_k(k, n)?;
    if xnorm.len() != n {
        return Err(Error::value(
            "x_squared_norms",
            "must have one value per row of X",
        ));
    }
    let mut c = centers.to_vec();
    let mut prev: Option<Vec<i64>> = None;
    let mut best: Option<(Vec<T>, Vec<i64>, f64)> = None;
    for _ in 0..max_rounds.max(1) {
        let labels = assign_balanced(x, d, xnorm, &c, par);
        if prev.as_ref() == Some(&labels) {
            break;
        }
        c = means(x, d, &labels, k);
        let s = inertia(x, d, &c, &labels, par);
        if best.as_ref().is_none_or(|b| s < b.2) {
            best = Some((c.clone(), labels.clone(), s));
        }
        prev = Some(labels);
    }
    best.ok_or_else(|| Error::value("max_iter", "must be >= 1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::random;

    #[test]
    fn sizes_differ_by_at_most_one() {
        for (n, k) in [(100, 7), (257, 16), (30, 30), (31, 1), (513, 2)] {
            let d = 3;
            let x = random(n, d, n as u64);
            let xn = row_sq_norms(&x, d);
            // a skewed start: all centres near one corner
            let c: Vec<f64> = x[..k * d].iter().map(|v| v * 0.1).collect();
            let (_, labels, s) = balance(&x, d, &xn, &c, 10, n % 2 == 0).unwrap();
            let mut cnt = vec![0usize; k];
            labels.iter().for_each(|&l| cnt[l as usize] += 1);
            let (lo, hi) = (cnt.iter().min().unwrap(), cnt.iter().max().unwrap());
            assert!(hi - lo <= 1, "n={n} k={k} {cnt:?}");
            assert!(s.is_finite() && s >= 0.0);
        }
    }
}
