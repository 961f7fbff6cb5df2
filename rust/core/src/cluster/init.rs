//! Seeding: greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's greedy
//! variant: several candidate centres per step, keep the one that lowers the potential
//! most) and uniform random rows.

use super::assign::{gemm_cross, row_sq_norms};
use super::{check_k, check_shape, Scalar, BLOCK};
use crate::error::{Error, Result};
use crate::rng::{bounded, uniform, Rng};
use rayon::prelude::*;

/// How to choose the first centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Greedy k-means++ with `n_local_trials` candidates per step
    /// (`None`: 2 + floor(ln k), scikit-learn's default).
    PlusPlus { n_local_trials: Option<usize> },
    /// `k` distinct rows drawn uniformly.
    Random,
}

impl Init {
    /// Parse the Python spelling (`"k-means++"` or `"random"`).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "k-means++" => Ok(Init::PlusPlus {
                n_local_trials: None,
            }),
            "random" => Ok(Init::Random),
            _ => Err(Error::value(
                "init",
                format!("expected 'k-means++', 'random' or an array, got {s:?}"),
            )),
        }
    }
}

/// The first `k` centres (`k x d`, row-major) for `x` (`n x d`, row-major; `xt` the
/// same rows in the [`pack_blocks`](super::pack_blocks) layout; row norms `xnorm`).
#[allow(clippy::too_many_arguments)]
pub fn init_centers<T: Scalar>(
    x: &[T],
    xt: &[T],
    d: usize,
    xnorm: &[T],
    k: usize,
    init: Init,
    rng: &mut Rng,
    par: bool,
) -> Result<Vec<T>> {
    let n = check_shape(x, d, "X")?;
    check_k(k, n)?;
    if xnorm.len() != n || xt.len() != x.len() {
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
        Init::PlusPlus { n_local_trials } => {
            let trials = n_local_trials
                .unwrap_or(2 + (k as f64).ln() as usize)
                .max(1);
            plusplus(x, xt, d, xnorm, k, trials, rng, par)
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

#[allow(clippy::too_many_arguments)]
fn plusplus<T: Scalar>(
    x: &[T],
    xt: &[T],
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
            gemm_cross(xb, d, cand, t, db);
            pb.iter_mut().for_each(|p| *p = 0.0);
            let xn = &xnorm[b * BLOCK..b * BLOCK + rows];
            let cl = closest.map(|c| &c[b * BLOCK..b * BLOCK + rows]);
            for j in 0..t {
                let mut acc = 0.0f64;
                for (r, v) in db[j * rows..(j + 1) * rows].iter_mut().enumerate() {
                    let mut w = xn[r] + *v + cn[j];
                    if w <= zero {
                        w = zero;
                    }
                    if let Some(c) = cl {
                        if c[r] < w {
                            w = c[r];
                        }
                    }
                    acc += w.to_f64();
                    *v = w;
                }
                pb[j] = acc;
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
    use crate::cluster::pack_blocks;
    use crate::cluster::testutil::blobs;
    use crate::rng::block_rng;

    #[test]
    fn plusplus_finds_one_centre_per_blob() {
        let (c, per, d) = (6, 50, 3);
        let x = blobs(c, per, d, 1);
        let xn = row_sq_norms(&x, d);
        let mut rng = block_rng(0, 0, 0, 0);
        let init = Init::PlusPlus {
            n_local_trials: None,
        };
        let cen = init_centers(&x, &pack_blocks(&x, d), d, &xn, c, init, &mut rng, true).unwrap();
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
            &pack_blocks(&x, 1),
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
            &pack_blocks(&x, 1),
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
        let e = init_centers(
            &x,
            &pack_blocks(&x, 2),
            2,
            &xn,
            4,
            Init::Random,
            &mut rng,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("n_clusters"));
        assert!(init_centers(
            &x,
            &pack_blocks(&x, 2),
            2,
            &xn,
            0,
            Init::Random,
            &mut rng,
            false
        )
        .is_err());
        assert!(Init::parse("kmeans").is_err());
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
