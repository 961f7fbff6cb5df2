//! Rare-class coverage for dense prediction (object-focused data selection, OFDS):
//! choose images greedily to maximise `f(S) = sum_c min(objects of class c in S, q_c)`.
//!
//! `f` is monotone submodular, so a lazy greedy (Minoux 1978) gives the plain greedy's
//! choices: stale gains are upper bounds, and an image is taken only when its gain was
//! recomputed at the current step and it still leads the heap ordered by (gain, then
//! the smaller image id), the same rule the plain greedy breaks ties with.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::classes::{ClassMap, QuotaSpec};
use crate::{Error, Result};

/// Up to `budget` image ids in the order chosen; stops early when no image adds anything.
/// Rows are objects: `image_ids[i]` holds an object of class `labels[i]`.
pub fn coverage_greedy(
    image_ids: &[i64],
    labels: &[i64],
    quotas: &QuotaSpec,
    budget: usize,
) -> Result<Vec<i64>> {
    if image_ids.len() != labels.len() {
        return Err(Error::value(
            "labels",
            format!(
                "expected {} labels (one per object in image_ids), got {}",
                image_ids.len(),
                labels.len()
            ),
        ));
    }
    if image_ids.is_empty() {
        return Err(Error::value("image_ids", "must not be empty"));
    }
    let map = ClassMap::new(labels, "labels")?;
    let q = quotas.resolve(&map, "quotas")?;
    // Objects sorted by (image, class), then per image its (class, count) runs.
    let mut obj: Vec<(i64, u32)> = image_ids
        .par_iter()
        .zip(labels.par_iter())
        .map(|(&i, &l)| (i, map.id(l)))
        .collect();
    obj.par_sort_unstable();
    let mut images: Vec<i64> = Vec::new();
    let mut start: Vec<usize> = Vec::new();
    let mut runs: Vec<(u32, u64)> = Vec::new();
    for &(img, c) in &obj {
        if images.last() != Some(&img) {
            images.push(img);
            start.push(runs.len());
            runs.push((c, 1));
        } else if let Some(last) = runs.last_mut().filter(|r| r.0 == c) {
            last.1 += 1;
        } else {
            runs.push((c, 1));
        }
    }
    start.push(runs.len());
    drop(obj);
    let mut have = vec![0u64; map.len()];
    let gain = |img: usize, have: &[u64]| -> u64 {
        runs[start[img]..start[img + 1]]
            .iter()
            .map(|&(c, k)| k.min(q[c as usize].saturating_sub(have[c as usize])))
            .sum()
    };
    let init: Vec<u64> = (0..images.len())
        .into_par_iter()
        .map(|i| gain(i, &have))
        .collect();
    // Max-heap on (gain, smaller image first); the stamp is the step of the gain.
    let mut heap: BinaryHeap<(u64, Reverse<usize>, usize)> = init
        .into_iter()
        .enumerate()
        .map(|(i, g)| (g, Reverse(i), 0))
        .collect();
    let mut out = Vec::with_capacity(budget.min(images.len()));
    while out.len() < budget {
        let Some((g, Reverse(i), stamp)) = heap.pop() else {
            break;
        };
        if g == 0 {
            break;
        }
        if stamp == out.len() {
            for &(c, k) in &runs[start[i]..start[i + 1]] {
                have[c as usize] += k;
            }
            out.push(images[i]);
        } else {
            heap.push((gain(i, &have), Reverse(i), out.len()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain greedy: every step rescans every image.
    fn brute(images: &[i64], labels: &[i64], quota: &[(i64, u64)], budget: usize) -> Vec<i64> {
        let mut ids: Vec<i64> = images.to_vec();
        ids.sort();
        ids.dedup();
        let q = |c: i64| quota.iter().find(|p| p.0 == c).map_or(0, |p| p.1);
        let mut have: Vec<(i64, u64)> = vec![];
        let mut out = vec![];
        let mut taken = vec![false; ids.len()];
        while out.len() < budget {
            let mut best = (0u64, usize::MAX);
            for (k, &img) in ids.iter().enumerate() {
                if taken[k] {
                    continue;
                }
                let mut cnt: Vec<(i64, u64)> = vec![];
                for (&i, &l) in images.iter().zip(labels) {
                    if i == img {
                        match cnt.iter_mut().find(|p| p.0 == l) {
                            Some(p) => p.1 += 1,
                            None => cnt.push((l, 1)),
                        }
                    }
                }
                let g: u64 = cnt
                    .iter()
                    .map(|&(c, k)| {
                        let h = have.iter().find(|p| p.0 == c).map_or(0, |p| p.1);
                        k.min(q(c).saturating_sub(h))
                    })
                    .sum();
                if g > best.0 {
                    best = (g, k);
                }
            }
            if best.0 == 0 {
                break;
            }
            taken[best.1] = true;
            let img = ids[best.1];
            for (&i, &l) in images.iter().zip(labels) {
                if i == img {
                    match have.iter_mut().find(|p| p.0 == l) {
                        Some(p) => p.1 += 1,
                        None => have.push((l, 1)),
                    }
                }
            }
            out.push(img);
        }
        out
    }

    #[test]
    fn lazy_equals_plain_greedy() {
        let n = 3000;
        let images: Vec<i64> = (0..n).map(|i| ((i * 7919) % 211) as i64 * 5 - 40).collect();
        let labels: Vec<i64> = (0..n).map(|i| ((i * i) % 13 % 7) as i64).collect();
        let quota: Vec<(i64, u64)> = (0..7).map(|c| (c, 3 + 4 * c as u64)).collect();
        let spec = QuotaSpec {
            classes: quota.iter().map(|p| p.0).collect(),
            values: quota.iter().map(|p| p.1 as i64).collect(),
            default: 0,
        };
        for budget in [1, 5, 30, 500] {
            let got = coverage_greedy(&images, &labels, &spec, budget).unwrap();
            assert_eq!(got, brute(&images, &labels, &quota, budget), "{budget}");
        }
    }

    #[test]
    fn ties_go_to_the_smaller_image_and_zero_gain_stops() {
        let images = [9i64, 4, 4, 7];
        let labels = [0i64, 0, 1, 1];
        let spec = QuotaSpec::uniform(1);
        assert_eq!(
            coverage_greedy(&images, &labels, &spec, 10).unwrap(),
            vec![4]
        );
        let e = coverage_greedy(&images, &labels[..3], &spec, 1).unwrap_err();
        assert!(e.to_string().starts_with("labels:"));
        assert!(coverage_greedy(&[], &[], &spec, 1).is_err());
    }
}
