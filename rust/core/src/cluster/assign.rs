//! The blocked GEMM assignment step and the deterministic reductions built on blocks.
//!
//! Squared distances come from ||x||^2 - 2 x.c + ||c||^2: the cross term for a block of
//! rows is one GEMM (faer, single-threaded per block), and the argmin is fused with it,
//! so memory stays O(BLOCK x k) however large `n` is.

use super::{simd, Kernel, Scalar, BLOCK};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// `g = -2 * x * c^T` for a block `x` of rows (`rows x d`, any faer layout) and `c`
/// row-major (`k x d`); `g` is column-major (`g[j * rows + r]`), so the argmin below
/// sweeps whole columns.
#[inline]
pub(crate) fn cross<T: Scalar>(x: MatRef<'_, T>, c: &[T], k: usize, g: &mut [T]) {
    let (rows, d) = (x.nrows(), x.ncols());
    let dst = MatMut::from_column_major_slice_mut(&mut g[..rows * k], rows, k);
    let rhs = MatRef::from_row_major_slice(&c[..k * d], k, d).transpose();
    matmul(dst, Accum::Replace, x, rhs, T::from_f64(-2.0), Par::Seq);
}

/// [`cross`] of a row-major block `xb` of `X`. faer packs the block itself; measured on
/// AVX-512 that is faster than handing it a pre-transposed copy once `k >= 20` (87
/// against 68 GFLOP/s per core at k = 100), and it saves a copy of `X`.
#[inline]
pub(crate) fn gemm_cross<T: Scalar>(xb: &[T], d: usize, c: &[T], k: usize, g: &mut [T]) {
    cross(MatRef::from_row_major_slice(xb, xb.len() / d, d), c, k, g);
}

/// Run `f(block_index, x_block, g)` over the fixed row blocks of `x` (row-major),
/// where `g` holds
/// `-2 x.c` for the block (rows x k); results come back in block order.
pub(crate) fn map_blocks<T, R, F>(x: &[T], d: usize, c: &[T], k: usize, par: bool, f: F) -> Vec<R>
where
    T: Scalar,
    R: Send,
    F: Fn(usize, &[T], &[T]) -> R + Sync + Send,
{
    let run = |g: &mut Vec<T>, (b, xb): (usize, &[T])| {
        let rows = xb.len() / d;
        g.resize(rows * k, T::default());
        gemm_cross(xb, d, c, k, g);
        f(b, xb, &g[..rows * k])
    };
    if par {
        x.par_chunks(BLOCK * d)
            .enumerate()
            .map_init(Vec::new, run)
            .collect()
    } else {
        let mut g = Vec::new();
        x.chunks(BLOCK * d)
            .enumerate()
            .map(|p| run(&mut g, p))
            .collect()
    }
}

/// Squared Euclidean norm of every row of `x`, accumulated in `f64` (eight independent
/// partial sums per row so the loop vectorises; fixed order, so deterministic).
pub fn row_sq_norms<T: Scalar>(x: &[T], d: usize) -> Vec<T> {
    let norm = |r: &[T]| -> T {
        let mut acc = [0.0f64; 8];
        let mut it = r.chunks_exact(8);
        for c in &mut it {
            for (a, v) in acc.iter_mut().zip(c) {
                let v = v.to_f64();
                *a += v * v;
            }
        }
        let tail: f64 = it.remainder().iter().map(|v| v.to_f64() * v.to_f64()).sum();
        T::from_f64(acc.iter().sum::<f64>() + tail)
    };
    if x.len() >= BLOCK * d * 4 {
        x.par_chunks_exact(d).map(norm).collect()
    } else {
        x.chunks_exact(d).map(norm).collect()
    }
}

/// Nearest centre of every row and the squared distance to it.
pub struct Nearest<T> {
    /// Index of the nearest centre (the first one on ties).
    pub labels: Vec<i64>,
    /// Squared distance to it (by the GEMM expansion, clipped at 0).
    pub dist: Vec<T>,
    /// Sum of `dist` per block (f64), in block order.
    pub block_sums: Vec<f64>,
}

/// Assign every row of `x` (row-major, with row norms `xnorm`) to its nearest centre of `c` (`k x d`, row-major).
pub fn nearest<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    c: &[T],
    k: usize,
    par: bool,
) -> Nearest<T> {
    let cnorm = row_sq_norms(c, d);
    let zero = T::from_f64(0.0);
    let parts = map_blocks(x, d, c, k, par, |b, xb, g| {
        let rows = xb.len() / d;
        // Column sweep: strict `<` keeps the first centre on ties, as a row scan would.
        let mut bv: Vec<T> = g[..rows].iter().map(|&v| v + cnorm[0]).collect();
        let mut lab = vec![0i64; rows];
        for j in 1..k {
            let cj = cnorm[j];
            let col = &g[j * rows..(j + 1) * rows];
            for ((b, l), &v) in bv.iter_mut().zip(lab.iter_mut()).zip(col) {
                let v = v + cj;
                if v < *b {
                    *b = v;
                    *l = j as i64;
                }
            }
        }
        let mut sum = 0.0f64;
        let xn = &xnorm[b * BLOCK..b * BLOCK + rows];
        for (v, &x2) in bv.iter_mut().zip(xn) {
            // Rounding can make the expansion slightly negative; clip as scikit-learn.
            let dv = if x2 + *v > zero { x2 + *v } else { zero };
            sum += dv.to_f64();
            *v = dv;
        }
        (lab, bv, sum)
    });
    let mut out = Nearest {
        labels: Vec::with_capacity(xnorm.len()),
        dist: Vec::with_capacity(xnorm.len()),
        block_sums: Vec::with_capacity(parts.len()),
    };
    for (l, dd, s) in parts {
        out.labels.extend_from_slice(&l);
        out.dist.extend_from_slice(&dd);
        out.block_sums.push(s);
    }
    out
}

/// Nearest and second-nearest squared distances of every row of `x` (row-major; for
/// the balanced step):
/// `(labels, best, second)`; `second` is `best` when `k == 1`.
pub(crate) fn nearest2<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    c: &[T],
    k: usize,
    par: bool,
) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let cnorm = row_sq_norms(c, d);
    let parts = map_blocks(x, d, c, k, par, |b, xb, g| {
        let rows = xb.len() / d;
        let xn = &xnorm[b * BLOCK..b * BLOCK + rows];
        best_two(g, rows, k, &cnorm)
            .into_iter()
            .zip(xn)
            .map(|((l, v1, v2), &xn)| {
                let v2 = if k == 1 { v1 } else { v2 };
                let xn = xn.to_f64();
                (l, (xn + v1).max(0.0), (xn + v2).max(0.0))
            })
            .collect::<Vec<_>>()
    });
    let n = xnorm.len();
    let (mut l, mut b1, mut b2) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for p in parts {
        for (a, u, v) in p {
            l.push(a);
            b1.push(u);
            b2.push(v);
        }
    }
    (l, b1, b2)
}

/// Per row: (label, squared nearest, squared second-nearest) from a GEMM block `g`
/// (`rows x k`, column-major, `-2 x.c`), `cn` the centres' squared norms (the rows'
/// own norms are added by the caller). Ties keep the first centre.
pub(crate) fn best_two<T: Scalar>(
    g: &[T],
    rows: usize,
    k: usize,
    cn: &[T],
) -> Vec<(i64, f64, f64)> {
    simd(BestTwo { g, rows, k, cn })
}

struct BestTwo<'a, T> {
    g: &'a [T],
    rows: usize,
    k: usize,
    cn: &'a [T],
}

impl<T: Scalar> Kernel for BestTwo<'_, T> {
    type Out = Vec<(i64, f64, f64)>;
    #[inline(always)]
    fn run(self) -> Self::Out {
        let BestTwo { g, rows, k, cn } = self;
        let mut b1: Vec<T> = g[..rows].iter().map(|&v| v + cn[0]).collect();
        let mut b2: Vec<T> = vec![T::from_f64(f64::INFINITY); rows];
        let mut lab = vec![0u32; rows];
        for j in 1..k {
            let cj = cn[j];
            let col = &g[j * rows..(j + 1) * rows];
            // Branch-free (selects), so the sweep vectorises: with b1 <= b2,
            // the new second is min(b2, max(b1, v)) and the new first min(b1, v).
            for (((p, q), l), &c) in b1
                .iter_mut()
                .zip(b2.iter_mut())
                .zip(lab.iter_mut())
                .zip(col)
            {
                let v = c + cj;
                let lt = v < *p;
                let hi = if lt { *p } else { v };
                *q = if hi < *q { hi } else { *q };
                *l = if lt { j as u32 } else { *l };
                *p = if lt { v } else { *p };
            }
        }
        (0..rows)
            .map(|r| (lab[r] as i64, b1[r].to_f64(), b2[r].to_f64()))
            .collect()
    }
}

/// Squared Euclidean distance by direct differences, accumulated in `f64` (eight
/// independent partial sums so the loop vectorises; fixed order, so deterministic).
#[inline(always)]
pub(crate) fn sq_dist<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut ia = a.chunks_exact(8);
    let mut ib = b.chunks_exact(8);
    for (p, q) in (&mut ia).zip(&mut ib) {
        for t in 0..8 {
            let v = p[t].to_f64() - q[t].to_f64();
            acc[t] += v * v;
        }
    }
    let tail: f64 = ia
        .remainder()
        .iter()
        .zip(ib.remainder())
        .map(|(p, q)| {
            let v = p.to_f64() - q.to_f64();
            v * v
        })
        .sum();
    acc.iter().sum::<f64>() + tail
}

struct InertiaBlock<'a, T> {
    xb: &'a [T],
    lb: &'a [i64],
    c: &'a [T],
    d: usize,
}

impl<T: Scalar> Kernel for InertiaBlock<'_, T> {
    type Out = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        let d = self.d;
        let mut s = 0.0f64;
        for (r, &l) in self.xb.chunks_exact(d).zip(self.lb) {
            s += sq_dist(r, &self.c[l as usize * d..(l as usize + 1) * d]);
        }
        s
    }
}

/// Exact sum of squared distances of every row to its centre, `sum ||x_i - c_{l_i}||^2`
/// (direct differences, not the GEMM expansion, as scikit-learn's `_inertia`).
pub fn inertia<T: Scalar>(x: &[T], d: usize, c: &[T], labels: &[i64], par: bool) -> f64 {
    let block = |(xb, lb): (&[T], &[i64])| -> f64 { simd(InertiaBlock { xb, lb, c, d }) };
    let sums: Vec<f64> = if par {
        x.par_chunks(BLOCK * d)
            .zip(labels.par_chunks(BLOCK))
            .map(block)
            .collect()
    } else {
        x.chunks(BLOCK * d)
            .zip(labels.chunks(BLOCK))
            .map(block)
            .collect()
    };
    sums.iter().sum()
}

/// Mean over features of the per-feature variance, `mean(var(X, axis=0))` (population
/// variance, as numpy), two-pass in `f64`; scikit-learn scales `tol` by it.
pub fn mean_variance<T: Scalar>(x: &[T], d: usize, par: bool) -> f64 {
    let n = x.len() / d;
    if n == 0 {
        return 0.0;
    }
    let colsum = |xb: &[T], mean: Option<&[f64]>| -> Vec<f64> {
        let mut acc = vec![0.0f64; d];
        for r in xb.chunks_exact(d) {
            match mean {
                None => acc.iter_mut().zip(r).for_each(|(a, v)| *a += v.to_f64()),
                Some(m) => acc.iter_mut().zip(r).zip(m).for_each(|((a, v), mu)| {
                    let t = v.to_f64() - mu;
                    *a += t * t
                }),
            }
        }
        acc
    };
    let reduce = |mean: Option<&[f64]>| -> Vec<f64> {
        let parts: Vec<Vec<f64>> = if par {
            x.par_chunks(BLOCK * d).map(|xb| colsum(xb, mean)).collect()
        } else {
            x.chunks(BLOCK * d).map(|xb| colsum(xb, mean)).collect()
        };
        let mut tot = vec![0.0f64; d];
        for p in parts {
            tot.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        }
        tot
    };
    let mean: Vec<f64> = reduce(None).into_iter().map(|s| s / n as f64).collect();
    let var = reduce(Some(&mean));
    var.iter().sum::<f64>() / (n as f64 * d as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::random;

    fn brute(x: &[f64], d: usize, c: &[f64]) -> (Vec<i64>, Vec<f64>) {
        let mut l = vec![];
        let mut dd = vec![];
        for r in x.chunks(d) {
            let ds: Vec<f64> = c
                .chunks(d)
                .map(|cr| r.iter().zip(cr).map(|(a, b)| (a - b) * (a - b)).sum())
                .collect();
            let (j, v) = ds
                .iter()
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |(bj, bv), (j, &v)| if v < bv { (j, v) } else { (bj, bv) },
                );
            l.push(j as i64);
            dd.push(v);
        }
        (l, dd)
    }

    #[test]
    fn nearest_matches_brute_force_across_blocks() {
        let (n, d, k) = (BLOCK * 2 + 37, 9, 13);
        let x = random(n, d, 3);
        let c = random(k, d, 4);
        let xn = row_sq_norms(&x, d);
        let (bl, bd) = brute(&x, d, &c);
        for par in [false, true] {
            let got = nearest(&x, d, &xn, &c, k, par);
            assert_eq!(got.labels, bl);
            for (a, b) in got.dist.iter().zip(&bd) {
                assert!((a - b).abs() < 1e-9, "{a} {b}");
            }
            assert_eq!(got.block_sums.len(), 3);
            let tot: f64 = got.block_sums.iter().sum();
            assert!((tot - bd.iter().sum::<f64>()).abs() < 1e-8);
        }
    }

    #[test]
    fn f32_gemm_agrees_with_f64() {
        let (n, d, k) = (300, 16, 7);
        let x = random(n, d, 5);
        let c = random(k, d, 6);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let c32: Vec<f32> = c.iter().map(|&v| v as f32).collect();
        let a = nearest(&x, d, &row_sq_norms(&x, d), &c, k, true);
        let b = nearest(&x32, d, &row_sq_norms(&x32, d), &c32, k, true);
        let agree = a
            .labels
            .iter()
            .zip(&b.labels)
            .filter(|(p, q)| p == q)
            .count();
        assert!(agree >= n - 2);
    }

    #[test]
    fn second_nearest_and_inertia() {
        let (n, d, k) = (100, 4, 5);
        let x = random(n, d, 7);
        let c = random(k, d, 8);
        let (l, b1, b2) = nearest2(&x, d, &row_sq_norms(&x, d), &c, k, false);
        let (bl, bd) = brute(&x, d, &c);
        assert_eq!(l, bl);
        for i in 0..n {
            assert!((b1[i] - bd[i]).abs() < 1e-9);
            assert!(b2[i] >= b1[i]);
        }
        let s = inertia(&x, d, &c, &l, true);
        assert!((s - bd.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn mean_variance_matches_definition() {
        let x = [1.0, 10.0, 3.0, 10.0, 5.0, 40.0];
        // column 0: var 8/3; column 1: var 200
        let v = mean_variance(&x, 2, true);
        assert!((v - (8.0 / 3.0 + 200.0) / 2.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod gemm_tests {
    use super::*;
    use crate::cluster::testutil::{assert_cross, random};

    #[test]
    fn gemm_cross_small_and_large_shapes() {
        for (rows, d, k) in [
            (256, 3, 4),
            (5, 2, 1),
            (256, 3, 1),
            (100, 17, 6),
            (256, 64, 40),
        ] {
            let x = random(rows, d, 1);
            let c = random(k, d, 2);
            let mut g = vec![0.0; rows * k];
            gemm_cross(&x, d, &c, k, &mut g);
            assert_cross(&x, &c, d, &g);
        }
    }
}
