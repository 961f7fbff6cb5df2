//! Batched per-class k-means for subclass labels (SBCL, Hou et al. 2023): every class
//! is clustered independently, all classes in one call, in parallel over classes.

use super::lloyd::{fit_finite, FitOptions};
use super::{check_finite, check_shape, Scalar};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Cluster each class of `x` (`n x d`, rows grouped by class: class `j` is rows
/// `offsets[j]..offsets[j + 1]`) into `ks[j]` clusters. Returns the cluster of every
/// row within its class (`0..ks[j]`), in row order. Class `j` is seeded with
/// `opts.seed` and key `j`, so it gets what [`fit`] gives it alone with that key;
/// `opts.k` and `opts.key` are ignored. Each class runs single-threaded (the
/// parallelism is over classes), so the result does not depend on the thread count.
pub fn subclass_kmeans<T: Scalar>(
    x: &[T],
    d: usize,
    offsets: &[usize],
    ks: &[usize],
    opts: &FitOptions,
) -> Result<Vec<i64>> {
    let n = check_shape(x, d, "features")?;
    check_finite(x, "features")?;
    if offsets.len() != ks.len() + 1 || offsets.first() != Some(&0) || offsets.last() != Some(&n) {
        return Err(Error::value(
            "offsets",
            "must start at 0, end at n and have one entry per class plus one",
        ));
    }
    if offsets.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::value(
            "labels",
            "every class must have at least one example",
        ));
    }
    let parts: Vec<Result<Vec<i64>>> = (0..ks.len())
        .into_par_iter()
        .map(|j| {
            let xs = &x[offsets[j] * d..offsets[j + 1] * d];
            let o = FitOptions {
                k: ks[j],
                key: j as u64,
                ..*opts
            };
            fit_finite(xs, d, &o, false).map(|r| r.labels)
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for p in parts {
        out.extend_from_slice(&p?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::random;
    use crate::cluster::{fit, Init};

    #[test]
    fn each_class_gets_its_own_clusters() {
        let d = 2;
        let x = random(300, d, 1);
        let offsets = [0, 100, 250, 300];
        let ks = [2, 5, 1];
        let o = FitOptions {
            k: 0,
            init: Init::PlusPlus {
                n_local_trials: None,
                init_size: None,
            },
            n_init: 1,
            max_iter: 50,
            tol: 1e-4,
            seed: 3,
            key: 0,
            balanced: false,
        };
        let l = subclass_kmeans(&x, d, &offsets, &ks, &o).unwrap();
        for j in 0..3 {
            let part = &l[offsets[j]..offsets[j + 1]];
            let mut u = part.to_vec();
            u.sort();
            u.dedup();
            assert_eq!(u, (0..ks[j] as i64).collect::<Vec<_>>());
        }
        // class 1 alone, key 1, gives the same clusters
        let alone = fit(&x[200..500], d, &FitOptions { k: 5, key: 1, ..o }, true).unwrap();
        assert_eq!(&l[100..250], &alone.labels[..]);
        assert!(subclass_kmeans(&x, d, &[0, 300], &[301], &o).is_err());
        assert!(subclass_kmeans(&x, d, &[0, 100, 100, 300], &[1, 1, 1], &o).is_err());
    }
}
