//! Lloyd's iterations with scikit-learn's conventions: the convergence test compares
//! the squared centre shift with `tol * mean(var(X, axis=0))`, identical labels in two
//! consecutive iterations stop early ("strict convergence"), a final assignment makes
//! labels match the returned centres, and empty clusters are re-seeded with the points
//! farthest from their centres.

use super::assign::{inertia, mean_variance, nearest, row_sq_norms};
use super::balanced::balance;
use super::bounds::{cluster_sums, Lloyd};
use super::init::{init_centers, Init};
use super::{check_finite, check_k, check_shape, Scalar};
use crate::error::{Error, Result};
use crate::rng::block_rng;

/// One Lloyd iteration: assignment to `centers`, then the new centres.
pub struct Step<T> {
    /// New centres (`k x d`): means of the assigned rows.
    pub centers: Vec<T>,
    /// Assignment to the old centres (after empty-cluster re-seeding).
    pub labels: Vec<i64>,
    /// Sum of squared distances to the old centres (GEMM expansion).
    pub inertia: f64,
    /// Squared centre shift, `sum ||new - old||^2`.
    pub shift: f64,
    /// Number of labels that differ from `labels_old` (`n` when none was given).
    pub n_changed: usize,
}

/// Means of the rows of each cluster in `f64`, summed in row order (deterministic);
/// a cluster with no rows keeps its centre from `old`.
fn update_centers<T: Scalar>(x: &[T], d: usize, labels: &[i64], old: &[T], par: bool) -> Vec<T> {
    let (sums, counts) = cluster_sums(x, d, labels, old.len() / d, par);
    let mut out = old.to_vec();
    for (j, cj) in out.chunks_mut(d).enumerate() {
        if counts[j] > 0 {
            let inv = 1.0 / counts[j] as f64;
            cj.iter_mut()
                .zip(&sums[j * d..(j + 1) * d])
                .for_each(|(c, s)| *c = T::from_f64(s * inv));
        }
    }
    out
}

/// Give every empty cluster one of the rows farthest from their centre (largest
/// `far(row)`, ties by index), as scikit-learn's `_relocate_empty_clusters`:
/// deterministic. Returns the rows moved and their new clusters, or None when no
/// cluster was empty.
pub(crate) fn relocate_empty(
    labels: &mut [i64],
    k: usize,
    far: impl Fn(usize) -> f64,
) -> Option<Vec<(usize, usize)>> {
    let mut counts = vec![0usize; k];
    for &l in labels.iter() {
        counts[l as usize] += 1;
    }
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return None;
    }
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    let m = empty.len().min(idx.len());
    let key = |&a: &usize, &b: &usize| far(b).total_cmp(&far(a)).then(a.cmp(&b));
    if m < idx.len() {
        idx.select_nth_unstable_by(m, key);
    }
    idx.truncate(m);
    idx.sort_by(key);
    let mut moves = Vec::with_capacity(m);
    for (&j, &i) in empty.iter().zip(&idx) {
        // Never empty another cluster to fill this one.
        let old = labels[i] as usize;
        if counts[old] > 1 {
            counts[old] -= 1;
            counts[j] += 1;
            labels[i] = j as i64;
            moves.push((i, j));
        }
    }
    Some(moves)
}

/// One Lloyd iteration from `centers` (`k x d`); `labels_old` (if any) counts changes.
pub fn lloyd_step<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    centers: &[T],
    labels_old: Option<&[i64]>,
    par: bool,
) -> Result<Step<T>> {
    let n = check_shape(x, d, "X")?;
    let k = check_shape(centers, d, "centers")?;
    check_k(k, n)?;
    if xnorm.len() != n {
        return Err(Error::value(
            "x_squared_norms",
            "must have one value per row of X",
        ));
    }
    if let Some(lo) = labels_old {
        if lo.len() != n {
            return Err(Error::value(
                "labels_old",
                "must have one label per row of X",
            ));
        }
    }
    let near = nearest(x, d, xnorm, centers, k, par);
    let inertia: f64 = near.block_sums.iter().sum();
    let mut labels = near.labels;
    relocate_empty(&mut labels, k, |i| near.dist[i].to_f64());
    let new = update_centers(x, d, &labels, centers, par);
    let shift = new
        .iter()
        .zip(centers)
        .map(|(a, b)| {
            let t = a.to_f64() - b.to_f64();
            t * t
        })
        .sum();
    let n_changed = match labels_old {
        Some(lo) => lo.iter().zip(&labels).filter(|(a, b)| a != b).count(),
        None => n,
    };
    Ok(Step {
        centers: new,
        labels,
        inertia,
        shift,
        n_changed,
    })
}

/// Options of [`fit`] (the `KMeans` constructor arguments).
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    pub k: usize,
    pub init: Init,
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative tolerance (scaled by the mean feature variance).
    pub tol: f64,
    pub seed: u64,
    /// Separates independent problems with the same seed (the class in
    /// [`subclass_kmeans`](super::subclass_kmeans)); 0 for a plain `KMeans`.
    pub key: u64,
    pub balanced: bool,
}

/// Result of [`fit`]: the best of `n_init` runs (lowest inertia, first on ties).
#[derive(Debug, Clone)]
pub struct FitResult<T> {
    pub centers: Vec<T>,
    pub labels: Vec<i64>,
    pub inertia: f64,
    pub n_iter: usize,
}

/// The seed stream of run `run` (the Python layer uses the same one).
pub fn run_rng(seed: u64, key: u64, run: u64) -> crate::rng::Rng {
    block_rng(seed, key, 0x6B6D_6561_6E73 ^ run, 0)
}

/// Lloyd's iterations from `centers` to convergence (Hamerly's bounds skip the rows
/// that cannot change cluster); returns (centres, labels, n_iter).
#[allow(clippy::too_many_arguments)]
fn lloyd<T: Scalar>(
    x: &[T],
    d: usize,
    xnorm: &[T],
    centers: Vec<T>,
    max_iter: usize,
    tol_abs: f64,
    par: bool,
) -> Result<(Vec<T>, Vec<i64>, usize)> {
    let mut run = Lloyd::new(centers, d);
    run.validate(x, xnorm)?;
    let mut strict = false;
    let mut n_iter = 0;
    for it in 0..max_iter {
        let p = run.step(x, xnorm, par);
        n_iter = it + 1;
        if it > 0 && p.n_changed == 0 {
            // The labels did not change, so the centres did not move either.
            strict = true;
            break;
        }
        if p.shift <= tol_abs {
            break;
        }
    }
    if !strict {
        // Labels must match the returned centres (scikit-learn does the same).
        run.finish(x, xnorm, par);
    }
    let (centers, labels) = run.into_parts();
    Ok((centers, labels, n_iter))
}

/// Full k-means: `n_init` seeded runs of Lloyd's iterations (then the balanced step
/// when asked); keeps the run with the lowest inertia.
pub fn fit<T: Scalar>(x: &[T], d: usize, opts: &FitOptions, par: bool) -> Result<FitResult<T>> {
    check_shape(x, d, "X")?;
    check_finite(x, "X")?;
    fit_finite(x, d, opts, par)
}

/// [`fit`] for data already checked to be finite (the per-class calls).
pub(crate) fn fit_finite<T: Scalar>(
    x: &[T],
    d: usize,
    opts: &FitOptions,
    par: bool,
) -> Result<FitResult<T>> {
    let n = check_shape(x, d, "X")?;
    check_k(opts.k, n)?;
    if opts.n_init == 0 {
        return Err(Error::value("n_init", "must be >= 1"));
    }
    if opts.max_iter == 0 {
        return Err(Error::value("max_iter", "must be >= 1"));
    }
    if !(opts.tol >= 0.0 && opts.tol.is_finite()) {
        return Err(Error::value("tol", "must be a finite number >= 0"));
    }
    let xnorm = row_sq_norms(x, d);
    // scikit-learn's tolerance is relative to the mean feature variance (two passes
    // over X, skipped when tol is 0).
    let tol_abs = if opts.tol > 0.0 {
        opts.tol * mean_variance(x, d, par)
    } else {
        0.0
    };
    let mut best: Option<FitResult<T>> = None;
    for run in 0..opts.n_init {
        let mut rng = run_rng(opts.seed, opts.key, run as u64);
        let c0 = init_centers(x, d, &xnorm, opts.k, opts.init, &mut rng, par)?;
        let (mut centers, mut labels, n_iter) =
            lloyd(x, d, &xnorm, c0, opts.max_iter, tol_abs, par)?;
        let inertia_v = if opts.balanced {
            let b = balance(
                x,
                d,
                &xnorm,
                &centers,
                opts.max_iter.min(MAX_BALANCE_ITER),
                par,
            )?;
            centers = b.0;
            labels = b.1;
            b.2
        } else {
            inertia(x, d, &centers, &labels, par)
        };
        if best.as_ref().is_none_or(|b| inertia_v < b.inertia) {
            best = Some(FitResult {
                centers,
                labels,
                inertia: inertia_v,
                n_iter,
            });
        }
    }
    best.ok_or_else(|| Error::value("n_init", "must be >= 1"))
}

/// Rounds of the balanced assignment after Lloyd's iterations.
pub const MAX_BALANCE_ITER: usize = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::{blobs, random};

    fn opts(k: usize) -> FitOptions {
        FitOptions {
            k,
            init: Init::PlusPlus {
                n_local_trials: None,
                init_size: None,
            },
            n_init: 1,
            max_iter: 100,
            tol: 1e-4,
            seed: 0,
            key: 0,
            balanced: false,
        }
    }

    #[test]
    fn recovers_blobs() {
        let (c, per, d) = (5, 300, 4);
        let x = blobs(c, per, d, 2);
        let r = fit(&x, d, &opts(c), true).unwrap();
        for b in 0..c {
            let l = &r.labels[b * per..(b + 1) * per];
            assert!(l.iter().all(|&v| v == l[0]));
        }
        // uniform noise in [-0.5, 0.5): variance 1/12 per feature
        let per_point = r.inertia / (c * per) as f64;
        assert!((per_point - d as f64 / 12.0).abs() < 0.05, "{per_point}");
    }

    #[test]
    fn parallel_and_sequential_agree_bitwise() {
        let (n, d) = (1500, 6);
        let x = random(n, d, 9);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let o = FitOptions {
            n_init: 2,
            ..opts(17)
        };
        let a = fit(&x32, d, &o, true).unwrap();
        let b = fit(&x32, d, &o, false).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.centers, b.centers);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    }

    #[test]
    fn lloyd_never_increases_inertia() {
        let (n, d, k) = (600, 3, 8);
        let x = random(n, d, 10);
        let xn = row_sq_norms(&x, d);
        let mut c = x[..k * d].to_vec();
        let mut prev = f64::INFINITY;
        for _ in 0..10 {
            let s = lloyd_step(&x, d, &xn, &c, None, false).unwrap();
            assert!(s.inertia <= prev + 1e-9);
            prev = s.inertia;
            c = s.centers;
        }
    }

    #[test]
    fn empty_clusters_are_reseeded() {
        // two identical far-away centres: the second one gets nothing at first.
        let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let xn = row_sq_norms(&x, 1);
        let c = vec![100.0, 100.0, -5.0];
        let s = lloyd_step(&x, 1, &xn, &c, None, false).unwrap();
        let mut counts = [0; 3];
        s.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert!(counts.iter().all(|&v| v > 0), "{counts:?}");
    }

    #[test]
    fn duplicate_points_do_not_break_anything() {
        let x = vec![1.0f64; 30];
        let r = fit(&x, 3, &opts(4), true).unwrap();
        assert_eq!(r.inertia, 0.0);
        assert_eq!(r.labels.len(), 10);
    }

    #[test]
    fn bad_input_names_the_argument() {
        let x = vec![0.0, f64::NAN];
        assert!(fit(&x, 1, &opts(1), false)
            .unwrap_err()
            .to_string()
            .starts_with("X"));
        let x = vec![0.0f64, 1.0];
        assert!(fit(&x, 1, &opts(3), false)
            .unwrap_err()
            .to_string()
            .starts_with("n_clusters"));
        let o = FitOptions {
            tol: -1.0,
            ..opts(1)
        };
        assert!(fit(&x, 1, &o, false)
            .unwrap_err()
            .to_string()
            .starts_with("tol"));
    }
}
