//! Stable parallel radix sort of float keys, the one sort behind every ranking metric.
//!
//! Scores are mapped to `u64` keys whose unsigned order is the *descending* order of the
//! floats ([`desc_key`]), then sorted by a stable LSD radix sort (8-bit digits, digits
//! that are constant over the input are skipped). Large inputs are first split by one
//! stable MSD pass on the highest varying bits, and the buckets are sorted in parallel.
//! Stability matters: ties stay in input order, exactly as scikit-learn's
//! `argsort(..., stable=True, descending=True)`, so weighted cumulative sums are added in
//! the same order and agree bit for bit.

use rayon::prelude::*;

/// An item sorted by a `u64` key.
pub trait Keyed: Copy + Send + Sync {
    fn key(&self) -> u64;
}

impl Keyed for u64 {
    #[inline(always)]
    fn key(&self) -> u64 {
        *self
    }
}

impl Keyed for (u64, f64) {
    #[inline(always)]
    fn key(&self) -> u64 {
        self.0
    }
}

impl Keyed for (u64, u32) {
    #[inline(always)]
    fn key(&self) -> u64 {
        self.0
    }
}

/// Key whose ascending unsigned order is the descending order of `x` (finite or not;
/// `-0.0` and `0.0` get the same key because `np.diff` treats them as tied).
#[inline(always)]
pub fn desc_key(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    let asc = if b >> 63 == 1 { !b } else { b | (1 << 63) };
    !asc
}

/// The float whose [`desc_key`] is `k` (inverse, for returning thresholds).
#[inline(always)]
pub fn from_desc_key(k: u64) -> f64 {
    let asc = !k;
    let b = if asc >> 63 == 1 {
        asc & !(1 << 63)
    } else {
        !asc
    };
    f64::from_bits(b)
}

/// Below this many items one thread sorts; above it the MSD split feeds all threads.
const PAR_MIN: usize = 1 << 16;
/// Below this many items a comparison sort beats the radix passes.
const SMALL: usize = 64;

/// Stable LSD radix sort of `v` by key, single-threaded, using `buf` as scratch.
fn lsd_sort<T: Keyed>(v: &mut [T], buf: &mut Vec<T>) {
    let n = v.len();
    if n <= SMALL {
        // `sort_by_key` is stable, like the radix passes.
        v.sort_by_key(|x| x.key());
        return;
    }
    let mut hist = [[0usize; 256]; 8];
    for x in v.iter() {
        let k = x.key();
        for (d, h) in hist.iter_mut().enumerate() {
            h[((k >> (8 * d)) & 0xff) as usize] += 1;
        }
    }
    buf.clear();
    buf.extend_from_slice(v);
    // `in_v`: the current order lives in `v` (else in `buf`).
    let mut in_v = true;
    for (d, h) in hist.iter().enumerate() {
        // A digit shared by every key does not reorder anything.
        if h.contains(&n) {
            continue;
        }
        let mut off = [0usize; 256];
        let mut s = 0;
        for (o, &c) in off.iter_mut().zip(h.iter()) {
            *o = s;
            s += c;
        }
        let shift = 8 * d;
        let (src, dst): (&[T], &mut [T]) = if in_v {
            (&*v, &mut buf[..])
        } else {
            (&buf[..], &mut *v)
        };
        for x in src {
            let b = ((x.key() >> shift) & 0xff) as usize;
            dst[off[b]] = *x;
            off[b] += 1;
        }
        in_v = !in_v;
    }
    if !in_v {
        v.copy_from_slice(buf);
    }
}

/// Sort `v` stably by key on the calling thread (for callers already running in parallel).
pub fn lsd_sort_serial<T: Keyed>(v: &mut [T], buf: &mut Vec<T>) {
    lsd_sort(v, buf);
}

/// Sort `v` stably by key; parallel for large inputs.
pub fn sort_stable<T: Keyed>(v: &mut Vec<T>) {
    let n = v.len();
    let threads = rayon::current_num_threads();
    if n < PAR_MIN || threads < 2 {
        let mut buf = Vec::with_capacity(n);
        lsd_sort(v, &mut buf);
        return;
    }
    // One stable MSD pass on the 10 highest bits that vary, then sort buckets in parallel.
    let (lo, hi) = v
        .par_iter()
        .fold(
            || (u64::MAX, 0u64),
            |(a, b), x| (a.min(x.key()), b.max(x.key())),
        )
        .reduce(|| (u64::MAX, 0u64), |(a, b), (c, d)| (a.min(c), b.max(d)));
    if lo == hi {
        return;
    }
    let top = 64 - (lo ^ hi).leading_zeros(); // bits at and above `top` are shared
    let bits = top.min(10);
    let shift = top - bits;
    let mask = (1u64 << bits) - 1;
    let nb = 1usize << bits;
    let bucket = |x: &T| ((x.key() >> shift) & mask) as usize;

    // Per-chunk histograms, so that each chunk can scatter into its own disjoint slots.
    let chunk = n.div_ceil(threads * 4);
    let hists: Vec<Vec<usize>> = v
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0usize; nb];
            for x in c {
                h[bucket(x)] += 1;
            }
            h
        })
        .collect();
    let mut out: Vec<T> = v.clone();
    // Carve `out` into bucket-major, chunk-minor slices: chunk t's part of bucket b
    // follows the parts of chunks < t, which keeps the pass stable.
    let nchunks = hists.len();
    let mut parts: Vec<Vec<&mut [T]>> = (0..nchunks).map(|_| Vec::with_capacity(nb)).collect();
    let mut bucket_slices: Vec<&mut [T]> = Vec::with_capacity(nb);
    {
        let mut rest: &mut [T] = &mut out[..];
        for b in 0..nb {
            let total: usize = hists.iter().map(|h| h[b]).sum();
            let (head, tail) = rest.split_at_mut(total);
            rest = tail;
            bucket_slices.push(head);
        }
    }
    let mut bucket_lens = Vec::with_capacity(nb);
    for (b, bs) in bucket_slices.into_iter().enumerate() {
        bucket_lens.push(bs.len());
        let mut rest = bs;
        for (t, h) in hists.iter().enumerate() {
            let (head, tail) = rest.split_at_mut(h[b]);
            rest = tail;
            parts[t].push(head);
        }
    }
    v.par_chunks(chunk)
        .zip(parts.into_par_iter())
        .for_each(|(c, mut slots)| {
            let mut pos = vec![0usize; nb];
            for x in c {
                let b = bucket(x);
                slots[b][pos[b]] = *x;
                pos[b] += 1;
            }
        });
    // Sort every bucket (now contiguous in `out`) in parallel, then hand `out` back.
    let mut buckets: Vec<&mut [T]> = Vec::with_capacity(nb);
    {
        let mut rest: &mut [T] = &mut out[..];
        for &len in &bucket_lens {
            let (head, tail) = rest.split_at_mut(len);
            rest = tail;
            if len > 1 {
                buckets.push(head);
            }
        }
    }
    buckets
        .into_par_iter()
        .for_each_init(Vec::new, |buf, s| lsd_sort(s, buf));
    *v = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    #[test]
    fn key_orders_floats_descending() {
        let xs = [
            f64::INFINITY,
            3.5,
            1.0,
            0.0,
            -0.0,
            -1e-300,
            -2.0,
            f64::NEG_INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(desc_key(w[0]) <= desc_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(desc_key(0.0), desc_key(-0.0));
        for &x in &xs[..3] {
            assert_eq!(from_desc_key(desc_key(x)), x);
        }
        assert_eq!(from_desc_key(desc_key(-2.0)), -2.0);
    }

    #[test]
    fn sorts_stably_small_and_large() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("pool");
        for &n in &[0usize, 1, 5, 63, 100, 1000, 70_000, 300_000] {
            let mut s = n as u64 + 1;
            // Few distinct keys so there are many ties; payload is the input position.
            let v: Vec<(u64, u32)> = (0..n)
                .map(|i| (desc_key((lcg(&mut s) % 97) as f64 * 0.25 - 3.0), i as u32))
                .collect();
            let mut want = v.clone();
            want.sort_by_key(|x| x.0);
            let mut got = v.clone();
            pool.install(|| sort_stable(&mut got));
            assert_eq!(got, want, "n={n}");
        }
    }

    #[test]
    fn sorts_wide_keys() {
        let mut s = 7;
        let v: Vec<u64> = (0..200_000).map(|_| lcg(&mut s) << 11 | 3).collect();
        let mut want = v.clone();
        want.sort();
        let mut got = v;
        sort_stable(&mut got);
        assert_eq!(got, want);
    }
}
