//! Greedy k-center (Sener & Savarese 2018, core-set selection): repeatedly add the row
//! farthest from its nearest chosen centre.
//!
//! Distances are squared Euclidean by the k-means GEMM expansion
//! `||x||^2 - 2 x.c + ||c||^2` ([`crate::cluster`]: the first assignment to the
//! labeled rows is `cluster::nearest`, later updates one GEMM of a row block against
//! the new centre). A block is only recomputed when one of its rows could move: a row
//! whose nearest centre `a` has `||c_a - c_new||^2 >= 4.01 d_min` is at least as close
//! to `a` as to the new centre (triangle inequality, with a margin for rounding), so
//! its distance cannot drop. The farthest row is found by a block-wise argmax
//! combined in block order (ties to the smaller index): the result is a pure function
//! of the data and seed, whatever the thread count.

use rayon::prelude::*;

use super::keys::{random_key, seed_key};
use crate::cluster::{
    check_finite, check_shape, gemm_cross, nearest, row_sq_norms, sq_dist, Scalar, BLOCK,
};
use crate::{Error, Result};

/// Skip a row when `||c_a - c_new||^2 >= SKIP * d_min` (4 by the triangle inequality).
const SKIP: f64 = 4.01;

/// `budget` new rows of `x` (`n x d`, row-major) in the order greedy k-center chooses
/// them, starting from the `labeled` rows (or, when there are none, from the row with
/// the smallest random key of `seed`, which is then the first row returned).
pub fn kcenter_greedy<T: Scalar>(
    x: &[T],
    d: usize,
    budget: usize,
    labeled: &[i64],
    seed: u64,
) -> Result<Vec<i64>> {
    let n = check_shape(x, d, "features")?;
    check_finite(x, "features")?;
    let mut lab: Vec<usize> = Vec::with_capacity(labeled.len());
    for &i in labeled {
        if i < 0 || i as usize >= n {
            return Err(Error::value(
                "labeled",
                format!("index {i} is out of range for {n} rows"),
            ));
        }
        lab.push(i as usize);
    }
    lab.sort_unstable();
    lab.dedup();
    if budget > n - lab.len() {
        return Err(Error::value(
            "budget",
            format!(
                "budget = {budget} is larger than the {} unlabeled rows",
                n - lab.len()
            ),
        ));
    }
    let mut chosen: Vec<i64> = Vec::with_capacity(budget);
    if budget == 0 {
        return Ok(chosen);
    }
    let xn = row_sq_norms(x, d);
    let row = |i: usize| &x[i * d..(i + 1) * d];
    // Centres so far (row-major) and, per row, its nearest centre and squared distance;
    // chosen rows get distance -1 so they are never picked or updated again.
    let mut centres: Vec<T> = Vec::with_capacity((lab.len() + budget) * d);
    let first = if lab.is_empty() {
        let sk = seed_key(seed);
        let i = (0..n)
            .into_par_iter()
            .min_by_key(|&i| (random_key(sk, i as i64), i))
            .unwrap_or(0);
        chosen.push(i as i64);
        vec![i]
    } else {
        lab.clone()
    };
    for &i in &first {
        centres.extend_from_slice(row(i));
    }
    let near = nearest(x, d, &xn, &centres, first.len(), true);
    let mut assign: Vec<u32> = near.labels.iter().map(|&l| l as u32).collect();
    let mut dmin: Vec<T> = near.dist;
    let gone = T::from_f64(-1.0);
    for &i in &first {
        dmin[i] = gone;
    }
    while chosen.len() < budget {
        let (_, far) = dmin
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(b, blk)| {
                let mut best = (blk[0], b * BLOCK);
                for (r, &v) in blk.iter().enumerate().skip(1) {
                    if v > best.0 {
                        best = (v, b * BLOCK + r);
                    }
                }
                best
            })
            .reduce_with(|a, b| {
                if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                    b
                } else {
                    a
                }
            })
            .unwrap_or((gone, 0));
        chosen.push(far as i64);
        let k = centres.len() / d;
        let c = row(far);
        let cc: Vec<f64> = if k * d >= 1 << 16 {
            centres.par_chunks_exact(d).map(|a| sq_dist(a, c)).collect()
        } else {
            centres.chunks_exact(d).map(|a| sq_dist(a, c)).collect()
        };
        let cn = xn[far];
        let zero = T::from_f64(0.0);
        x.par_chunks(BLOCK * d)
            .zip(dmin.par_chunks_mut(BLOCK))
            .zip(assign.par_chunks_mut(BLOCK))
            .zip(xn.par_chunks(BLOCK))
            .for_each_init(Vec::new, |g, (((xb, dm), asg), xnb)| {
                let may_move = dm
                    .iter()
                    .zip(asg.iter())
                    .any(|(&v, &a)| v > zero && cc[a as usize] < SKIP * v.to_f64());
                if !may_move {
                    return;
                }
                g.resize(dm.len(), zero);
                gemm_cross(xb, d, c, 1, g);
                for (((m, a), &gv), &xv) in dm.iter_mut().zip(asg.iter_mut()).zip(g.iter()).zip(xnb)
                {
                    let v = xv + gv + cn;
                    let v = if v > zero { v } else { zero };
                    if v < *m {
                        *m = v;
                        *a = k as u32;
                    }
                }
            });
        dmin[far] = gone;
        centres.extend_from_slice(c);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testutil::{blobs, random};

    /// Plain greedy with exact distances, no skipping.
    fn brute(x: &[f64], d: usize, budget: usize, labeled: &[usize], first: usize) -> Vec<i64> {
        let n = x.len() / d;
        let dist = |i: usize, j: usize| sq_dist(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
        let mut cent: Vec<usize> = if labeled.is_empty() {
            vec![first]
        } else {
            labeled.to_vec()
        };
        let mut out: Vec<i64> = if labeled.is_empty() {
            vec![first as i64]
        } else {
            vec![]
        };
        while out.len() < budget {
            let mut best = (-1.0, 0);
            for i in 0..n {
                if cent.contains(&i) {
                    continue;
                }
                let m = cent
                    .iter()
                    .map(|&c| dist(i, c))
                    .fold(f64::INFINITY, f64::min);
                if m > best.0 {
                    best = (m, i);
                }
            }
            cent.push(best.1);
            out.push(best.1 as i64);
        }
        out
    }

    #[test]
    fn matches_plain_greedy() {
        let d = 5;
        for x in [random(700, d, 1), blobs(12, 60, d, 2)] {
            let n = x.len() / d;
            let got = kcenter_greedy(&x, d, 40, &[3, 500, 3], 0).unwrap();
            assert_eq!(got, brute(&x, d, 40, &[3, 500], 0));
            let got = kcenter_greedy(&x, d, 25, &[], 9).unwrap();
            let sk = seed_key(9);
            let first = (0..n).min_by_key(|&i| random_key(sk, i as i64)).unwrap();
            assert_eq!(got, brute(&x, d, 25, &[], first));
        }
    }

    #[test]
    fn duplicates_and_bad_input() {
        let x = [1.0f32, 1.0, 1.0, 1.0];
        let got = kcenter_greedy(&x, 1, 3, &[2], 0).unwrap();
        assert_eq!(got, vec![0, 1, 3]);
        let e = kcenter_greedy(&x, 1, 4, &[2], 0).unwrap_err();
        assert!(e.to_string().starts_with("budget:"));
        let e = kcenter_greedy(&x, 1, 1, &[4], 0).unwrap_err();
        assert!(e.to_string().starts_with("labeled:"));
        let e = kcenter_greedy(&[f32::NAN], 1, 1, &[], 0).unwrap_err();
        assert!(e.to_string().starts_with("features:"));
        assert!(kcenter_greedy(&x, 1, 0, &[], 0).unwrap().is_empty());
    }
}
