//! Stable parallel radix sort of float keys, the one sort behind every ranking metric.
//!
//! Scores are mapped to `u64` keys whose unsigned order is the *descending* order of the
//! floats ([`desc_key`]), then sorted by a stable MSD radix sort: each pass splits on the
//! highest bits that vary within the current range (so clustered scores still spread
//! out; 8 bits on large arrays, up to 12 in cache), buckets recurse, and buckets of at
//! most 64 items finish with a comparison sort. The first pass of a large input runs on all threads and its
//! buckets are sorted in parallel.
//! Stability matters: ties stay in input order, exactly as scikit-learn's
//! `argsort(..., stable=True, descending=True)`, so weighted cumulative sums are added in
//! the same order and agree bit for bit.

use rayon::prelude::*;

/// An item sorted by a `u64` key.
pub trait Keyed: Copy + Send + Sync {
    /// True when the key is the whole item: equal keys are then indistinguishable and an
    /// unstable sort gives the same result as a stable one.
    const PLAIN: bool = false;
    fn key(&self) -> u64;
}

impl Keyed for u64 {
    const PLAIN: bool = true;
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

/// Below this many items one thread sorts; above it the top split feeds all threads.
const PAR_MIN: usize = 1 << 16;
/// Buckets at most this large are finished by insertion sort.
const LEAF: usize = 16;
/// Buckets at most this large are finished by a comparison sort.
const CMP_LEAF: usize = 64;
/// Most bits per MSD pass: 4096 buckets, a histogram that stays in L1.
const BITS: u32 = 12;

/// Bits for a pass over `n` items. Large passes use 8 bits: scattering into more
/// streams than the TLB covers makes nearly every write a TLB miss. Cache-resident
/// passes use about one bucket per item (at most [`BITS`]), so that they end in leaves.
fn bits_for(n: usize) -> u32 {
    if n > 1 << 16 {
        return 8;
    }
    let lg = usize::BITS - n.leading_zeros();
    lg.clamp(4, BITS)
}

fn min_max<T: Keyed>(v: &[T]) -> (u64, u64) {
    v.iter().fold((u64::MAX, 0u64), |(a, b), x| {
        let k = x.key();
        (a.min(k), b.max(k))
    })
}

/// The MSD digit of a key range: (shift, mask, bucket count), taking the `BITS` highest
/// bits that vary between `lo` and `hi`, so that narrow score ranges still spread out.
fn digit(lo: u64, hi: u64, n: usize) -> (u32, u64, usize) {
    let top = 64 - (lo ^ hi).leading_zeros();
    let bits = top.min(bits_for(n));
    (top - bits, (1u64 << bits) - 1, 1usize << bits)
}

/// Stable insertion sort of a short slice (cheaper than a call into the standard sort
/// for the handful of items a radix bucket usually holds).
#[inline]
fn insertion_sort<T: Keyed>(v: &mut [T]) {
    for i in 1..v.len() {
        let x = v[i];
        let k = x.key();
        let mut j = i;
        while j > 0 && v[j - 1].key() > k {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Stable MSD radix sort on one thread: split on the highest varying bits, recurse into
/// the buckets, finish small buckets with the standard library's stable sort.
fn msd_sort<T: Keyed>(v: &mut [T], buf: &mut Vec<T>) {
    let n = v.len();
    if n <= LEAF {
        insertion_sort(v);
        return;
    }
    if n <= CMP_LEAF {
        // In-cache comparison sorts beat more radix passes on buckets this small.
        if T::PLAIN {
            v.sort_unstable_by_key(|x| x.key());
        } else {
            v.sort_by_key(|x| x.key());
        }
        return;
    }
    let (lo, hi) = min_max(v);
    if lo == hi {
        return;
    }
    let (shift, mask, nb) = digit(lo, hi, n);
    let mut off = vec![0usize; nb];
    for x in v.iter() {
        off[((x.key() >> shift) & mask) as usize] += 1;
    }
    let counts = off.clone();
    let mut s = 0;
    for o in off.iter_mut() {
        let c = *o;
        *o = s;
        s += c;
    }
    buf.clear();
    buf.extend_from_slice(v);
    for x in buf.iter() {
        let b = ((x.key() >> shift) & mask) as usize;
        v[off[b]] = *x;
        off[b] += 1;
    }
    let mut start = 0;
    for &c in &counts {
        if c > 1 {
            msd_sort(&mut v[start..start + c], buf);
        }
        start += c;
    }
}

/// Sort `v` stably by key on the calling thread (for callers already running in parallel).
pub fn lsd_sort_serial<T: Keyed>(v: &mut [T], buf: &mut Vec<T>) {
    msd_sort(v, buf);
}

/// Sort `v` stably by key; parallel for large inputs.
pub fn sort_stable<T: Keyed>(v: &mut Vec<T>) {
    if let Some(out) = par_sort_into(v) {
        *v = out;
    }
}

/// Sort the slice `v` stably by key; parallel for large inputs (one extra copy back).
pub fn sort_stable_slice<T: Keyed>(v: &mut [T]) {
    if let Some(out) = par_sort_into(v) {
        v.par_chunks_mut(1 << 16)
            .zip(out.par_chunks(1 << 16))
            .for_each(|(a, b)| a.copy_from_slice(b));
    }
}

/// Sort `v` in place when it is small (None), or return its sorted copy.
fn par_sort_into<T: Keyed>(v: &mut [T]) -> Option<Vec<T>> {
    let n = v.len();
    let threads = rayon::current_num_threads();
    if n < PAR_MIN || threads < 2 {
        msd_sort(v, &mut Vec::new());
        return None;
    }
    let (lo, hi) = v
        .par_chunks(1 << 16)
        .map(min_max)
        .reduce(|| (u64::MAX, 0u64), |(a, b), (c, d)| (a.min(c), b.max(d)));
    if lo == hi {
        return None;
    }
    let (shift, mask, nb) = digit(lo, hi, n);
    let bucket = |x: &T| ((x.key() >> shift) & mask) as usize;

    // Per-chunk histograms, so that each chunk can scatter into its own disjoint slots.
    let chunk = n.div_ceil(threads * 2);
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
    let mut out: Vec<T> = v.to_vec();
    // Carve `out` into bucket-major, chunk-minor slices: chunk t's part of bucket b
    // follows the parts of chunks < t, which keeps the pass stable.
    let nchunks = hists.len();
    let mut parts: Vec<Vec<&mut [T]>> = (0..nchunks).map(|_| Vec::with_capacity(nb)).collect();
    let mut bucket_lens = Vec::with_capacity(nb);
    {
        let mut rest: &mut [T] = &mut out[..];
        for b in 0..nb {
            let total: usize = hists.iter().map(|h| h[b]).sum();
            bucket_lens.push(total);
            let (head, tail) = rest.split_at_mut(total);
            rest = tail;
            let mut inner = head;
            for (t, h) in hists.iter().enumerate() {
                let (p, q) = inner.split_at_mut(h[b]);
                inner = q;
                parts[t].push(p);
            }
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
        .for_each_init(Vec::new, |buf, s| msd_sort(s, buf));
    Some(out)
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
    fn sorts_clustered_keys_with_an_outlier() {
        // All but one key share their top 40 bits: the split must recurse on the bits
        // that vary inside the cluster, and stay stable (payload = input position).
        let mut s = 3;
        let mut v: Vec<(u64, u32)> = (0..100_000)
            .map(|i| (desc_key(0.5 + (lcg(&mut s) % 5000) as f64 * 1e-12), i))
            .collect();
        v.push((desc_key(1e300), 100_000));
        let mut want = v.clone();
        want.sort_by_key(|x| x.0);
        sort_stable(&mut v);
        assert_eq!(v, want);
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

#[cfg(test)]
mod timing {
    use super::*;

    /// Manual profile: `cargo test --release -p longtail-core sort::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn profile_sort() {
        let mut s = 1u64;
        let size: usize = std::env::var("LT_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500_000);
        let base: Vec<u64> = (0..size)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                desc_key((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        // Minimum of several runs: the least disturbed by other jobs on the machine.
        let (mut a, mut b) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let mut v = base.clone();
            let mut buf = Vec::new();
            let t = std::time::Instant::now();
            msd_sort(&mut v, &mut buf);
            a = a.min(t.elapsed().as_secs_f64());
            let mut w = base.clone();
            let t = std::time::Instant::now();
            w.sort_unstable();
            b = b.min(t.elapsed().as_secs_f64());
            assert_eq!(v, w);
        }
        eprintln!("msd {a:.4} s, std sort_unstable {b:.4} s");
    }
}
