//! Seeding: greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's greedy
//! variant: several candidate centres per step, keep the one that lowers the potential
//! most) and uniform random rows.

use super::assign::{cross, row_sq_norms};
use super::{check_k, check_shape, simd, Kernel, Scalar, BLOCK};
use crate::error::{Error, Result};
use crate::rng::{bounded, uniform, Rng};
use faer::MatRef;
use rayon::prelude::*;

/// How to choose the first centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Greedy k-means++ with `n_local_trials` candidates per step
    /// (`None`: 2 + floor(ln k), scikit-learn's default), run on `init_size` rows
    /// drawn uniformly without replacement (`None`: [`auto_init_size`]; `>= n`: all
    /// rows, as scikit-learn).
    PlusPlus {
        n_local_trials: Option<usize>,
        init_size: Option<usize>,
    },
    /// `k` distinct rows drawn uniformly.
    Random,
}

impl Init {
    /// Parse the Python spelling (`"k-means++"` or `"random"`).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "k-means++" => Ok(Init::PlusPlus {
                n_local_trials: None,
                init_size: None,
            }),
            "random" => Ok(Init::Random),
            _ => Err(Error::value(
                "init",
                format!("expected 'k-means++', 'random' or an array, got {s:?}"),
            )),
        }
    }
}

/// The first `k` centres (`k x d`, row-major) for `x` (`n x d`, row-major; row norms
/// `xnorm`).
pub fn init_centers<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    k: usize,
    init: Init,
    rng: &mut Rng,
    par: bool,
) -> Result<Vec<T>> {
    let n = check_shape(x, d, "X")?;
    check_k(k, n)?;
    if xnorm.len() != n {
        return Err(Error::value(
            "x_squared_norms",
            "must have one value per row of X",
        ));
    }
    Ok(match init {
        Init::Random => {
            // Partial Fisher-Yates: the first k entries of a uniform permutation.
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = i + bounded(rng, (n - i) as u64) as usize;
                idx.swap(i, j);
            }
            idx[..k]
                .iter()
                .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
                .collect()
        }
        Init::PlusPlus {
            n_local_trials,
            init_size,
        } => {
            let trials = n_local_trials
                .unwrap_or(2 + (k as f64).ln() as usize)
                .max(1);
            let m = init_size
                .unwrap_or_else(|| auto_init_size(n, k))
                .clamp(k, n);
            if m < n {
                // Seeding makes k passes over its rows; on a uniform sample it costs
                // m/n as much, and Lloyd's iterations on all rows do the rest.
                let rows = sample_rows(n, m, rng);
                let xs: Vec<T> = rows
                    .iter()
                    .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
                    .collect();
                let xns: Vec<T> = rows.iter().map(|&i| xnorm[i]).collect();
                plusplus(&xs, d, &xns, k, trials, rng, par)
            } else {
                plusplus(x, d, xnorm, k, trials, rng, par)
            }
        }
    })
}

/// Index of the row where the running sum of `w` first reaches `r`
/// (numpy's `searchsorted(cumsum(w), r)`), using per-block sums to skip ahead.
fn search<T: Scalar>(w: &[T], block_sums: &[f64], r: f64) -> usize {
    let mut acc = 0.0f64;
    for (b, &s) in block_sums.iter().enumerate() {
        if acc + s >= r {
            let start = b * BLOCK;
            for (i, v) in w[start..(start + BLOCK).min(w.len())].iter().enumerate() {
                acc += v.to_f64();
                if acc >= r {
                    return start + i;
                }
            }
            return ((b + 1) * BLOCK).min(w.len()) - 1;
        }
        acc += s;
    }
    w.len() - 1
}

/// Rows per cluster that the default k-means++ seeding samples.
pub const INIT_ROWS_PER_CLUSTER: usize = 128;
/// Data up to this many rows are always seeded on all rows by default.
pub const INIT_MIN_ROWS: usize = 16_384;

/// The default `init_size`: all rows up to `max(128 k, 16384)`, else that many
/// (faiss trains on 256 k sampled rows; here only the seeding samples, and Lloyd's
/// iterations still run on all rows).
pub fn auto_init_size(n: usize, k: usize) -> usize {
    (INIT_ROWS_PER_CLUSTER.saturating_mul(k))
        .max(INIT_MIN_ROWS)
        .min(n)
}

/// `m` distinct row indices out of `n`, uniformly, in increasing order (Floyd's
/// algorithm: `m` draws whatever `n`).
fn sample_rows(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    let mut chosen = std::collections::HashSet::with_capacity(m);
    let mut out = Vec::with_capacity(m);
    for j in n - m..n {
        let t = bounded(rng, (j + 1) as u64) as usize;
        let v = if chosen.insert(t) { t } else { j };
        chosen.insert(v);
        out.push(v);
    }
    out.sort_unstable();
    out
}

/// The rows cut into the fixed blocks, each block stored column-major (`d x rows`,
/// element `(r, t)` at `t * rows + r`). For the few k-means++ candidates the GEMM
/// then reads every block in place and vectorises along its rows: 15 GFLOP/s per
/// core against 9-11 for row-major blocks (faer, AVX-512, 4-7 candidates).
fn pack_blocks<T: Scalar>(x: &[T], d: usize) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    let one = |(xb, ob): (&[T], &mut [T])| {
        let rows = xb.len() / d;
        // Tiles of 16 x 16: both the reads and the writes stay within a few cache lines.
        const TILE: usize = 16;
        for r0 in (0..rows).step_by(TILE) {
            let r1 = (r0 + TILE).min(rows);
            for t0 in (0..d).step_by(TILE) {
                for t in t0..(t0 + TILE).min(d) {
                    let dst = &mut ob[t * rows + r0..t * rows + r1];
                    for (o, r) in dst.iter_mut().zip(r0..r1) {
                        *o = xb[r * d + t];
                    }
                }
            }
        }
    };
    if x.len() >= BLOCK * d * 4 {
        x.par_chunks(BLOCK * d)
            .zip(out.par_chunks_mut(BLOCK * d))
            .for_each(one);
    } else {
        x.chunks(BLOCK * d)
            .zip(out.chunks_mut(BLOCK * d))
            .for_each(one);
    }
    out
}

/// One candidate's column of a block: `g` (holding `-2 x.c`) becomes the squared
/// distance `||x||^2 - 2 x.c + ||c||^2`, clipped at 0 and, when given, at the row's
/// current closest distance; returns the column's sum (the block's potential).
struct Clip<'a, T> {
    g: &'a mut [T],
    xn: &'a [T],
    cn: T,
    closest: Option<&'a [T]>,
}

impl<T: Scalar> Kernel for Clip<'_, T> {
    type Out = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        let zero = T::from_f64(0.0);
        let clip = |v: &mut T, x2: T, c: Option<T>| {
            let mut w = x2 + *v + self.cn;
            w = if w <= zero { zero } else { w };
            if let Some(c) = c {
                w = if c < w { c } else { w };
            }
            *v = w;
        };
        match self.closest {
            Some(cl) => {
                for ((v, &x2), &c) in self.g.iter_mut().zip(self.xn).zip(cl) {
                    clip(v, x2, Some(c));
                }
            }
            None => {
                for (v, &x2) in self.g.iter_mut().zip(self.xn) {
                    clip(v, x2, None);
                }
            }
        }
        // Eight partial sums in a fixed order: vectorises, and stays deterministic.
        let mut acc = [0.0f64; 8];
        let mut it = self.g.chunks_exact(8);
        for c in &mut it {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v.to_f64();
            }
        }
        let tail: f64 = it.remainder().iter().map(|v| v.to_f64()).sum();
        acc.iter().sum::<f64>() + tail
    }
}

fn plusplus<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    k: usize,
    trials: usize,
    rng: &mut Rng,
    par: bool,
) -> Vec<T> {
    let n = xnorm.len();
    let zero = T::from_f64(0.0);
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let xt = pack_blocks(x, d);
    let mut centers: Vec<T> = Vec::with_capacity(k * d);
    let first = bounded(rng, n as u64) as usize;
    centers.extend_from_slice(row(first));

    // One pass over the rows per step: for every candidate, the distance of each row
    // to it (one GEMM per block, written straight into `dist`, rows x t), clipped by
    // the current closest distance, and the block's potential per candidate.
    let mut dist: Vec<T> = vec![zero; n * trials];
    let mut closest: Vec<T> = vec![zero; n];
    let mut block_pots: Vec<f64> = vec![0.0; n.div_ceil(BLOCK) * trials];
    let eval = |cand: &[T], t: usize, closest: Option<&[T]>, dist: &mut [T], pots: &mut [f64]| {
        let cn = row_sq_norms(cand, d);
        type Item<'a, T> = (usize, ((&'a [T], &'a mut [T]), &'a mut [f64]));
        let one = |(b, ((xb, db), pb)): Item<'_, T>| {
            let rows = xb.len() / d;
            // A packed 256 x 128 block in cache runs faer at 70-95 GFLOP/s per core
            // (AVX-512) for 4-7 candidates; over a large X the pass is memory-bound.
            cross(MatRef::from_column_major_slice(xb, rows, d), cand, t, db);
            pb.iter_mut().for_each(|p| *p = 0.0);
            let xn = &xnorm[b * BLOCK..b * BLOCK + rows];
            let cl = closest.map(|c| &c[b * BLOCK..b * BLOCK + rows]);
            for j in 0..t {
                pb[j] = simd(Clip {
                    g: &mut db[j * rows..(j + 1) * rows],
                    xn,
                    cn: cn[j],
                    closest: cl,
                });
            }
        };
        let dist = &mut dist[..n * t];
        let pots = &mut pots[..n.div_ceil(BLOCK) * t];
        if par {
            xt.par_chunks(BLOCK * d)
                .zip(dist.par_chunks_mut(BLOCK * t))
                .zip(pots.par_chunks_mut(t))
                .enumerate()
                .for_each(one);
        } else {
            xt.chunks(BLOCK * d)
                .zip(dist.chunks_mut(BLOCK * t))
                .zip(pots.chunks_mut(t))
                .enumerate()
                .for_each(one);
        }
    };

    eval(row(first), 1, None, &mut dist, &mut block_pots);
    closest.copy_from_slice(&dist[..n]);
    let nb = n.div_ceil(BLOCK);
    let mut block_sums: Vec<f64> = block_pots[..nb].to_vec();
    let mut pot: f64 = block_sums.iter().sum();

    let mut cand = Vec::with_capacity(trials * d);
    for _ in 1..k {
        cand.clear();
        for _ in 0..trials {
            let r = uniform(rng) * pot;
            cand.extend_from_slice(row(search(&closest, &block_sums, r)));
        }
        eval(&cand, trials, Some(&closest), &mut dist, &mut block_pots);
        let mut tot = vec![0.0f64; trials];
        for p in block_pots.chunks_exact(trials) {
            tot.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        let mut best = 0;
        for j in 1..trials {
            if tot[j] < tot[best] {
                best = j;
            }
        }
        pot = tot[best];
        // `dist` is column-major within each block: candidate `best` of a block of
        // `rows` rows is the slice [best * rows, (best + 1) * rows) of its part.
        let upd = |(c, dd): (&mut [T], &[T])| {
            let rows = c.len();
            c.copy_from_slice(&dd[best * rows..(best + 1) * rows]);
        };
        if par {
            closest
                .par_chunks_mut(BLOCK)
                .zip(dist.par_chunks(BLOCK * trials))
                .for_each(upd);
        } else {
            closest
                .chunks_mut(BLOCK)
                .zip(dist.chunks(BLOCK * trials))
                .for_each(upd);
        }
        for (s, p) in block_sums.iter_mut().zip(block_pots.chunks_exact(trials)) {
            *s = p[best];
        }
        centers.extend_from_slice(&cand[best * d..(best + 1) * d]);
    }
    centers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::{assert_cross, blobs, random};
    use crate::rng::block_rng;

    #[test]
    fn plusplus_finds_one_centre_per_blob() {
        let (c, per, d) = (6, 50, 3);
        let x = blobs(c, per, d, 1);
        let xn = row_sq_norms(&x, d);
        let mut rng = block_rng(0, 0, 0, 0);
        let init = Init::PlusPlus {
            n_local_trials: None,
            init_size: None,
        };
        let cen = init_centers(&x, d, &xn, c, init, &mut rng, true).unwrap();
        // every blob contributes exactly one seed
        let mut seen = vec![false; c];
        for s in cen.chunks(d) {
            let i = x.chunks(d).position(|r| r == s).unwrap();
            seen[i / per] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn random_init_gives_distinct_rows_and_is_reproducible() {
        let x: Vec<f64> = (0..40).map(|v| v as f64).collect();
        let xn = row_sq_norms(&x, 1);
        let a = init_centers(
            &x,
            1,
            &xn,
            10,
            Init::Random,
            &mut block_rng(5, 0, 0, 0),
            false,
        )
        .unwrap();
        let b = init_centers(
            &x,
            1,
            &xn,
            10,
            Init::Random,
            &mut block_rng(5, 0, 0, 0),
            true,
        )
        .unwrap();
        assert_eq!(a, b);
        let mut s = a.clone();
        s.sort_by(f64::total_cmp);
        s.dedup();
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn bad_k_is_an_error() {
        let x = [0.0f64; 6];
        let xn = [0.0f64; 3];
        let mut rng = block_rng(0, 0, 0, 0);
        let e = init_centers(&x, 2, &xn, 4, Init::Random, &mut rng, false).unwrap_err();
        assert!(e.to_string().starts_with("n_clusters"));
        assert!(init_centers(&x, 2, &xn, 0, Init::Random, &mut rng, false).is_err());
        assert!(Init::parse("kmeans").is_err());
    }

    #[test]
    fn candidate_kernel_matches_direct_dot_products() {
        for (rows, d, t) in [
            (256, 128, 6),
            (37, 5, 1),
            (100, 17, 8),
            (16, 3, 3),
            (50, 9, 11),
        ] {
            let x = random(rows, d, 1);
            let c = random(t, d, 2);
            // At most one block: `pack_blocks` leaves it one column-major matrix.
            assert!(rows <= BLOCK);
            let xt = pack_blocks(&x, d);
            let mut g = vec![0.0; rows * t];
            cross(MatRef::from_column_major_slice(&xt, rows, d), &c, t, &mut g);
            assert_cross(&x, &c, d, &g);
        }
    }

    #[test]
    fn search_matches_cumsum() {
        let w: Vec<f64> = (0..700).map(|i| (i % 7) as f64).collect();
        let bs: Vec<f64> = w.chunks(BLOCK).map(|c| c.iter().sum()).collect();
        let mut cum = 0.0;
        let cs: Vec<f64> = w
            .iter()
            .map(|v| {
                cum += v;
                cum
            })
            .collect();
        for r in [0.0, 0.5, 1.0, 3.0, 100.0, 1000.0, cum] {
            let want = cs.partition_point(|&c| c < r).min(w.len() - 1);
            assert_eq!(search(&w, &bs, r), want, "r = {r}");
        }
    }
}
