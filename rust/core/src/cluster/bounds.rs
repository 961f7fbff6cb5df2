//! Lloyd's iterations with Hamerly's bounds (Hamerly 2010, "Making k-means even
//! faster"): exact Lloyd, but most rows skip the distance computation.
//!
//! Every row keeps an upper bound `u` on the distance to its centre and a lower bound
//! `l` on the distance to every other centre. When centres move, `u` grows by its own
//! centre's move and `l` shrinks by the largest move of any other centre; a row whose
//! `u` stays at or below `max(l, s)` (`s`: half the distance from its centre to the
//! nearest other centre) cannot change cluster and is skipped. Otherwise `u` is made
//! exact (one row-centre distance) and, if the test still fails, the row joins the
//! rows whose distances to all centres are recomputed, gathered into dense blocks for
//! the same GEMM as the plain step. After the first iterations only a few per cent of
//! the rows get that far, so an iteration costs little more than the bound updates.
//! Cluster sums are kept in `f64` and updated only for rows that changed cluster.
//!
//! Bounds from the GEMM expansion carry a rounding slack, so a skipped row is one whose
//! nearest centre cannot differ beyond rounding. Every row's work depends on its own
//! state only and the recomputed rows are cut into fixed blocks in row order, so the
//! result does not depend on the number of threads.

use super::assign::{best_two, gemm_cross, map_blocks, row_sq_norms, sq_dist};
use super::lloyd::relocate_empty;
use super::{check_k, check_shape, simd, Kernel, Scalar, BLOCK};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// What one [`Lloyd::step`] did.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Squared centre shift, `sum ||new - old||^2`.
    pub shift: f64,
    /// Rows whose label changed (every row on the first step).
    pub n_changed: usize,
}

/// The state of one run of Lloyd's iterations over fixed data.
#[derive(Debug, Clone)]
pub struct Lloyd<T> {
    d: usize,
    k: usize,
    centers: Vec<T>,
    labels: Vec<i64>,
    upper: Vec<f64>,
    lower: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    /// How far each centre moved in the last update (an upper bound).
    moved: Vec<f64>,
    /// Rows whose distances to every centre the last assignment computed.
    recomputed: usize,
}

/// Relative rounding slack of a squared distance from the GEMM expansion.
fn slack<T: Scalar>(d: usize) -> f64 {
    let eps = if std::mem::size_of::<T>() == 4 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    16.0 * eps * ((d as f64).sqrt() + 2.0)
}

/// Exact (direct-difference, `f64`) distance between a row and a centre.
#[inline(always)]
fn direct<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    sq_dist(a, b).sqrt()
}

/// Cluster sums (`f64`, `k x d`) and sizes of `labels`, each summed in row order.
pub(crate) fn cluster_sums<T: Scalar>(
    x: &[T],
    d: usize,
    labels: &[i64],
    k: usize,
    par: bool,
) -> (Vec<f64>, Vec<usize>) {
    let mut start = vec![0usize; k + 1];
    for &l in labels {
        start[l as usize + 1] += 1;
    }
    for j in 0..k {
        start[j + 1] += start[j];
    }
    let mut fill = start.clone();
    let mut order = vec![0usize; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        order[fill[l as usize]] = i;
        fill[l as usize] += 1;
    }
    let mut sums = vec![0.0f64; k * d];
    let one = |(j, acc): (usize, &mut [f64])| {
        for &i in &order[start[j]..start[j + 1]] {
            acc.iter_mut()
                .zip(&x[i * d..(i + 1) * d])
                .for_each(|(a, v)| *a += v.to_f64());
        }
    };
    if par {
        sums.par_chunks_mut(d).enumerate().for_each(one);
    } else {
        sums.chunks_mut(d).enumerate().for_each(one);
    }
    let counts = (0..k).map(|j| start[j + 1] - start[j]).collect();
    (sums, counts)
}

/// Half the distance from each centre to its nearest other centre (a lower bound,
/// rounding slack removed); infinite when `k == 1`.
fn half_gaps<T: Scalar>(c: &[T], d: usize, k: usize) -> Vec<f64> {
    let cf: Vec<f64> = c.iter().map(|v| v.to_f64()).collect();
    let cn = row_sq_norms(&cf, d);
    let mut g = vec![0.0f64; k * k];
    // -2 c c^T by the same blocked GEMM (f64); k x k is small.
    for (b, chunk) in cf.chunks(BLOCK * d).enumerate() {
        let rows = chunk.len() / d;
        let mut gb = vec![0.0f64; rows * k];
        gemm_cross(chunk, d, &cf, k, &mut gb);
        for r in 0..rows {
            for j in 0..k {
                g[(b * BLOCK + r) * k + j] = gb[j * rows + r];
            }
        }
    }
    let tol = slack::<f64>(d) + slack::<T>(d);
    (0..k)
        .map(|i| {
            let mut m = f64::INFINITY;
            for j in 0..k {
                if j != i {
                    let v = cn[i] + cn[j] + g[i * k + j];
                    let v = v - tol * (cn[i] + cn[j]);
                    if v < m {
                        m = v;
                    }
                }
            }
            0.5 * m.max(0.0).sqrt()
        })
        .collect()
}

/// Hamerly's test for one block of rows (see [`Lloyd::assign_pruned`]): moves the
/// bounds, tightens the upper bound of the rows that fail it, and returns the rows
/// that still fail (their distances to every centre must be recomputed).
struct Scan<'a, T> {
    upper: &'a mut [f64],
    lower: &'a mut [f64],
    first: usize,
    labels: &'a [i64],
    x: &'a [T],
    centers: &'a [T],
    d: usize,
    moved: &'a [f64],
    half_gap: &'a [f64],
    /// (centre that moved most, its move, the second-largest move)
    top: (usize, f64, f64),
}

impl<T: Scalar> Kernel for Scan<'_, T> {
    type Out = Vec<usize>;
    #[inline(always)]
    fn run(self) -> Vec<usize> {
        let (a1, m1, m2) = self.top;
        let d = self.d;
        let mut out = Vec::new();
        for (r, (u, l)) in self.upper.iter_mut().zip(self.lower.iter_mut()).enumerate() {
            let i = self.first + r;
            let a = self.labels[i] as usize;
            *u += self.moved[a];
            *l -= if a == a1 { m2 } else { m1 };
            let z = l.max(self.half_gap[a]);
            if *u <= z {
                continue;
            }
            *u = direct(
                &self.x[i * d..(i + 1) * d],
                &self.centers[a * d..(a + 1) * d],
            );
            if *u > z {
                out.push(i);
            }
        }
        out
    }
}

impl<T: Scalar> Lloyd<T> {
    /// Start from `centers` (`k x d`, row-major); no assignment yet.
    pub fn new(centers: Vec<T>, d: usize) -> Self {
        let k = centers.len() / d;
        Lloyd {
            d,
            k,
            centers,
            labels: Vec::new(),
            upper: Vec::new(),
            lower: Vec::new(),
            sums: Vec::new(),
            counts: Vec::new(),
            moved: vec![0.0; k],
            recomputed: 0,
        }
    }

    /// Check that `x` and `xnorm` describe the same `n x d` rows as earlier steps (the
    /// bounds belong to those rows).
    pub fn validate(&self, x: &[T], xnorm: &[T]) -> Result<()> {
        let n = check_shape(x, self.d, "X")?;
        check_shape(&self.centers, self.d, "centers")?;
        check_k(self.k, n)?;
        if xnorm.len() != n {
            return Err(Error::value(
                "x_squared_norms",
                "must have one value per row of X",
            ));
        }
        if !self.labels.is_empty() && self.labels.len() != n {
            return Err(Error::value(
                "X",
                format!(
                    "has {n} rows; earlier steps of this run had {}",
                    self.labels.len()
                ),
            ));
        }
        Ok(())
    }

    /// Rows whose distances to every centre the last assignment computed (all rows on
    /// the first; the rest passed the bound test).
    pub fn recomputed(&self) -> usize {
        self.recomputed
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The current centres.
    pub fn centers(&self) -> &[T] {
        &self.centers
    }

    /// The labels of the last assignment (empty before the first step).
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// (centres, labels).
    pub fn into_parts(self) -> (Vec<T>, Vec<i64>) {
        (self.centers, self.labels)
    }

    /// Bounds from squared (nearest, second) distances of row `i` with norm `xn`.
    #[inline]
    fn bounds_from(&self, xn: f64, b1: f64, b2: f64, cmax: f64) -> (f64, f64) {
        let e = slack::<T>(self.d) * (xn + cmax);
        let u = (b1.max(0.0) + e).sqrt();
        let l = if self.k == 1 {
            f64::INFINITY
        } else {
            (b2 - e).max(0.0).sqrt()
        };
        (u, l)
    }

    /// Exact assignment of every row (the GEMM over the packed blocks): labels and
    /// fresh bounds. Returns the previous labels (empty on the first call).
    fn assign_all(&mut self, x: &[T], xnorm: &[T], par: bool) -> Vec<i64> {
        let (d, k) = (self.d, self.k);
        let cn = row_sq_norms(&self.centers, d);
        let cmax = cn.iter().fold(0.0f64, |m, v| m.max(v.to_f64()));
        let parts = map_blocks(x, d, &self.centers, k, par, |_, xb, g| {
            best_two(g, xb.len() / d, k, &cn)
        });
        let n = xnorm.len();
        self.recomputed = n;
        let old = std::mem::replace(&mut self.labels, Vec::with_capacity(n));
        self.upper.clear();
        self.lower.clear();
        for (i, (l, b1, b2)) in parts.into_iter().flatten().enumerate() {
            let xn = xnorm[i].to_f64();
            let (u, lo) = self.bounds_from(xn, xn + b1, xn + b2, cmax);
            self.labels.push(l);
            self.upper.push(u);
            self.lower.push(lo);
        }
        old
    }

    /// Give every empty cluster one of the rows farthest from their centre (largest
    /// upper bound, ties by index), as scikit-learn; true if any was empty.
    fn relocate_empty(&mut self, x: &[T]) -> bool {
        let u = &self.upper;
        let Some(moves) = relocate_empty(&mut self.labels, self.k, |i| u[i]) else {
            return false;
        };
        let d = self.d;
        for (i, j) in moves {
            self.upper[i] = direct(&x[i * d..(i + 1) * d], &self.centers[j * d..(j + 1) * d]);
            self.lower[i] = 0.0;
        }
        true
    }

    /// Pruned assignment to the current centres. Returns the rows that changed
    /// cluster as (row, old label).
    fn assign_pruned(&mut self, x: &[T], xnorm: &[T], par: bool) -> Vec<(usize, i64)> {
        let (d, k) = (self.d, self.k);
        // The largest and second-largest move: a row's lower bound shrinks by the
        // largest move of any centre other than its own.
        let (mut a1, mut m1, mut m2) = (0usize, 0.0f64, 0.0f64);
        for (j, &m) in self.moved.iter().enumerate() {
            if m > m1 {
                m2 = m1;
                m1 = m;
                a1 = j;
            } else if m > m2 {
                m2 = m;
            }
        }
        let s = half_gaps(&self.centers, d, k);
        let (centers, moved, labels) = (&self.centers, &self.moved, &self.labels);
        let scan = |(b, (upper, lower)): (usize, (&mut [f64], &mut [f64]))| -> Vec<usize> {
            simd(Scan {
                upper,
                lower,
                first: b * BLOCK,
                labels,
                x,
                centers,
                d,
                moved,
                half_gap: &s,
                top: (a1, m1, m2),
            })
        };
        let todo: Vec<usize> = if par {
            let parts: Vec<Vec<usize>> = self
                .upper
                .par_chunks_mut(BLOCK)
                .zip(self.lower.par_chunks_mut(BLOCK))
                .enumerate()
                .map(scan)
                .collect();
            parts.concat()
        } else {
            self.upper
                .chunks_mut(BLOCK)
                .zip(self.lower.chunks_mut(BLOCK))
                .enumerate()
                .flat_map(scan)
                .collect()
        };
        self.recomputed = todo.len();
        if todo.is_empty() {
            return Vec::new();
        }
        // Recompute every distance of the remaining rows, gathered into dense blocks.
        let cn = row_sq_norms(centers, d);
        let cmax = cn.iter().fold(0.0f64, |m, v| m.max(v.to_f64()));
        let one = |(buf, g): &mut (Vec<T>, Vec<T>), rows: &[usize]| -> Vec<(i64, f64, f64)> {
            let m = rows.len();
            buf.clear();
            for &i in rows {
                buf.extend_from_slice(&x[i * d..(i + 1) * d]);
            }
            g.resize(m * k, T::default());
            gemm_cross(buf, d, centers, k, g);
            best_two(g, m, k, &cn)
        };
        let res: Vec<Vec<(i64, f64, f64)>> = if par {
            todo.par_chunks(BLOCK)
                .map_init(|| (Vec::new(), Vec::new()), one)
                .collect()
        } else {
            let mut scratch = (Vec::new(), Vec::new());
            todo.chunks(BLOCK).map(|c| one(&mut scratch, c)).collect()
        };
        let mut changed = Vec::new();
        for (&i, (l, b1, b2)) in todo.iter().zip(res.into_iter().flatten()) {
            let xn = xnorm[i].to_f64();
            let (u, lo) = self.bounds_from(xn, xn + b1, xn + b2, cmax);
            let old = self.labels[i];
            if l != old {
                changed.push((i, old));
                self.labels[i] = l;
            }
            self.upper[i] = u;
            self.lower[i] = lo;
        }
        changed
    }

    /// Assign every row to its nearest current centre: exact on the first call,
    /// pruned by the bounds after that. With `relocate`, empty clusters are re-seeded
    /// (then the cluster sums are rebuilt). Returns the number of changed labels.
    fn assign(&mut self, x: &[T], xnorm: &[T], relocate: bool, par: bool) -> usize {
        let (d, k) = (self.d, self.k);
        if self.labels.is_empty() {
            self.assign_all(x, xnorm, par);
            if relocate {
                self.relocate_empty(x);
            }
            (self.sums, self.counts) = cluster_sums(x, d, &self.labels, k, par);
            return self.labels.len();
        }
        let changed = self.assign_pruned(x, xnorm, par);
        for &(i, old) in &changed {
            let new = self.labels[i] as usize;
            let row = &x[i * d..(i + 1) * d];
            let old = old as usize;
            self.sums[old * d..(old + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(s, v)| *s -= v.to_f64());
            self.sums[new * d..(new + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(s, v)| *s += v.to_f64());
            self.counts[old] -= 1;
            self.counts[new] += 1;
        }
        if relocate && self.counts.contains(&0) {
            // Rare: an exact assignment (fresh bounds), re-seeding, and exact sums.
            let mut before = self.labels.clone();
            for &(i, old) in &changed {
                before[i] = old;
            }
            self.assign_all(x, xnorm, par);
            self.relocate_empty(x);
            (self.sums, self.counts) = cluster_sums(x, d, &self.labels, k, par);
            return before
                .iter()
                .zip(&self.labels)
                .filter(|(a, b)| a != b)
                .count();
        }
        changed.len()
    }

    /// One Lloyd iteration: assign the rows (`x` row-major, `xnorm` their squared norms) to
    /// the current centres, re-seed empty clusters, then move every centre to the mean
    /// of its rows.
    pub fn step(&mut self, x: &[T], xnorm: &[T], par: bool) -> Progress {
        let n_changed = self.assign(x, xnorm, true, par);
        let d = self.d;
        let mut shift = 0.0f64;
        for j in 0..self.k {
            let cnt = self.counts[j];
            if cnt == 0 {
                self.moved[j] = 0.0;
                continue;
            }
            let inv = 1.0 / cnt as f64;
            let mut sq = 0.0f64;
            for (c, s) in self.centers[j * d..(j + 1) * d]
                .iter_mut()
                .zip(&self.sums[j * d..(j + 1) * d])
            {
                let new = T::from_f64(s * inv);
                let t = new.to_f64() - c.to_f64();
                sq += t * t;
                *c = new;
            }
            shift += sq;
            // A hair more than the move, so that bounds stay bounds after rounding.
            self.moved[j] = sq.sqrt() * (1.0 + 1e-12);
        }
        Progress { shift, n_changed }
    }

    /// Labels for the current centres (after the last move; no re-seeding).
    pub fn finish(&mut self, x: &[T], xnorm: &[T], par: bool) -> &[i64] {
        self.assign(x, xnorm, false, par);
        &self.labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::assign::nearest;
    use crate::cluster::testutil::{blobs, random};

    /// Plain Lloyd (exact assignment every iteration) for comparison.
    fn plain(x: &[f64], d: usize, c0: &[f64], iters: usize) -> (Vec<f64>, Vec<i64>) {
        let k = c0.len() / d;
        let xn = row_sq_norms(x, d);
        let mut c = c0.to_vec();
        let mut lab = Vec::new();
        for _ in 0..iters {
            lab = nearest(x, d, &xn, &c, k, false).labels;
            let (s, n) = cluster_sums(x, d, &lab, k, false);
            for j in 0..k {
                if n[j] > 0 {
                    for t in 0..d {
                        c[j * d + t] = s[j * d + t] / n[j] as f64;
                    }
                }
            }
        }
        (c, lab)
    }

    #[test]
    fn same_path_as_plain_lloyd() {
        for (x, d, k) in [
            (blobs(6, 200, 5, 1), 5, 9),
            (random(BLOCK * 3 + 11, 4, 2), 4, 12),
            (random(700, 32, 3), 32, 40),
        ] {
            let c0 = x[..k * d].to_vec();
            let (pc, pl) = plain(&x, d, &c0, 15);
            let xn = row_sq_norms(&x, d);
            for par in [false, true] {
                let mut h = Lloyd::new(c0.clone(), d);
                for _ in 0..15 {
                    h.step(&x, &xn, par);
                }
                // labels of the 15th assignment and the centres after it
                assert_eq!(h.labels(), &pl[..]);
                for (a, b) in h.centers().iter().zip(&pc) {
                    assert!((a - b).abs() < 1e-9, "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn prunes_on_separated_blobs() {
        let (d, k) = (8, 6);
        let x = blobs(k, 400, d, 5);
        let xn = row_sq_norms(&x, d);
        // one seed per blob
        let c0: Vec<f64> = (0..k)
            .flat_map(|b| x[b * 400 * d..(b * 400 + 1) * d].to_vec())
            .collect();
        let mut h = Lloyd::new(c0, d);
        h.step(&x, &xn, false);
        h.step(&x, &xn, false);
        // after the centres settle, every row passes the bound test
        assert!(h.recomputed() < 400 * k, "{}", h.recomputed());
        let p = h.step(&x, &xn, false);
        assert_eq!(p.n_changed, 0);
        assert_eq!(h.recomputed(), 0);
    }

    #[test]
    fn empty_cluster_is_reseeded_with_the_farthest_row() {
        let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let xn = row_sq_norms(&x, 1);
        let mut h = Lloyd::new(vec![100.0, 100.0, -5.0], 1);
        let p = h.step(&x, &xn, false);
        assert_eq!(p.n_changed, 20);
        let mut counts = [0; 3];
        h.labels().iter().for_each(|&l| counts[l as usize] += 1);
        assert!(counts.iter().all(|&v| v > 0), "{counts:?}");
    }

    #[test]
    fn single_cluster() {
        let x = random(50, 3, 4);
        let xn = row_sq_norms(&x, 3);
        let mut h = Lloyd::new(x[..3].to_vec(), 3);
        h.step(&x, &xn, false);
        let p = h.step(&x, &xn, false);
        assert_eq!(p.n_changed, 0);
        assert!(p.shift < 1e-20);
        assert!(h.labels().iter().all(|&l| l == 0));
    }
}
