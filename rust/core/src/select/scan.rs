//! One pass over probability rows: the per-row score of an uncertainty strategy and the
//! predicted class (argmax, ties to the smaller class).
//!
//! Entropy on float32 rows uses a vectorisable natural log (the Cephes `logf`
//! polynomial, written branch-free so every SIMD level runs it; ~1 ulp), with sixteen
//! float32 partial sums per row; float64 rows use `f64::ln`. Probabilities below the
//! smallest normal float add `p ln p ~ 0`. NaN/inf (and, for entropy, negative values)
//! are found in the same pass and reported.

use rayon::prelude::*;

use crate::cluster::{simd, Kernel, Scalar};
use crate::{Error, Result};

/// What the scan scores each row by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The largest probability.
    Max,
    /// `-sum p ln p`.
    Entropy,
    /// `p1 - p2`, the two largest probabilities (`p1` for a single column).
    Margin,
    /// `1 - p1`.
    LeastConfidence,
}

impl Scan {
    /// Parse the Python spelling.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "max" => Scan::Max,
            "entropy" => Scan::Entropy,
            "margin" => Scan::Margin,
            "least_confidence" => Scan::LeastConfidence,
            _ => {
                return Err(Error::value(
                    "strategy",
                    format!("expected 'entropy', 'margin', 'least_confidence' or 'max', got {s:?}"),
                ))
            }
        })
    }
}

/// `sum p ln p` of a row, for the entropy scan.
pub trait XLogX: Scalar {
    fn sum_xlogx(row: &[Self]) -> f64;

    /// (`sum p ln p`, largest, smallest, all finite) of a row; the sum is bit-identical
    /// to [`XLogX::sum_xlogx`].
    #[inline(always)]
    fn scan_xlogx(row: &[Self]) -> (f64, Self, Self, bool) {
        let (b1, _, lo, ok) = lanes(row, false);
        (Self::sum_xlogx(row), b1, lo, ok)
    }
}

const SQRTHF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Natural log of a positive normal float32 (Cephes `logf`, branch-free).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < SQRTHF;
    let e = (e - small as i32) as f32;
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut y = 7.037_683_6e-2f32;
    y = y * m - 1.151_461_1e-1;
    y = y * m + 1.167_699_9e-1;
    y = y * m - 1.242_014_1e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_5e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333e-1;
    y *= m * z;
    y += -2.121_944_4e-4 * e;
    y += -0.5 * z;
    m + y + 0.693_359_4 * e
}

impl XLogX for f32 {
    #[inline(always)]
    fn sum_xlogx(row: &[f32]) -> f64 {
        const L: usize = 16;
        let mut acc = [0.0f32; L];
        let mut it = row.chunks_exact(L);
        let term = |p: f32| {
            let t = p * ln_f32(p);
            if p >= f32::MIN_POSITIVE {
                t
            } else {
                0.0
            }
        };
        for c in &mut it {
            for (a, &p) in acc.iter_mut().zip(c) {
                *a += term(p);
            }
        }
        let tail: f64 = it.remainder().iter().map(|&p| term(p) as f64).sum();
        acc.iter().map(|&a| a as f64).sum::<f64>() + tail
    }

    /// One pass over the row: the same sixteen partial sums as `sum_xlogx`, with the
    /// lane maxima, minima and finiteness alongside.
    #[inline(always)]
    fn scan_xlogx(row: &[f32]) -> (f64, f32, f32, bool) {
        const L: usize = 16;
        let mut acc = [0.0f32; L];
        let mut hi = [f32::NEG_INFINITY; L];
        let mut lo = [f32::INFINITY; L];
        let mut ok = [true; L];
        let mut it = row.chunks_exact(L);
        let term = |p: f32| {
            let t = p * ln_f32(p);
            if p >= f32::MIN_POSITIVE {
                t
            } else {
                0.0
            }
        };
        for c in &mut it {
            for l in 0..L {
                let p = c[l];
                acc[l] += term(p);
                ok[l] &= p.is_finite();
                hi[l] = if p > hi[l] { p } else { hi[l] };
                lo[l] = if p < lo[l] { p } else { lo[l] };
            }
        }
        let rem = it.remainder();
        let tail: f64 = rem.iter().map(|&p| term(p) as f64).sum();
        let sum = acc.iter().map(|&a| a as f64).sum::<f64>() + tail;
        let (mut b, mut m, mut f) = (f32::NEG_INFINITY, f32::INFINITY, true);
        for l in 0..L {
            b = if hi[l] > b { hi[l] } else { b };
            m = if lo[l] < m { lo[l] } else { m };
            f &= ok[l];
        }
        for &p in rem {
            b = if p > b { p } else { b };
            m = if p < m { p } else { m };
            f &= p.is_finite();
        }
        (sum, b, m, f)
    }
}

impl XLogX for f64 {
    #[inline(always)]
    fn sum_xlogx(row: &[f64]) -> f64 {
        row.iter()
            .map(|&p| {
                if p >= f64::MIN_POSITIVE {
                    p * p.ln()
                } else {
                    0.0
                }
            })
            .sum()
    }
}

/// Lanes of the row loops.
const L: usize = 16;

/// (largest, second largest counting repeats, smallest, all finite) of a row.
#[inline(always)]
fn lanes<T: Scalar>(row: &[T], two: bool) -> (T, T, T, bool) {
    let ninf = T::from_f64(f64::NEG_INFINITY);
    let mut p = [ninf; L];
    let mut q = [ninf; L];
    let mut lo = [T::from_f64(f64::INFINITY); L];
    let mut ok = [true; L];
    let mut it = row.chunks_exact(L);
    for ch in &mut it {
        for l in 0..L {
            let v = ch[l];
            ok[l] &= v.finite();
            lo[l] = if v < lo[l] { v } else { lo[l] };
            if two {
                let gt = v > p[l];
                let low = if gt { p[l] } else { v };
                q[l] = if low > q[l] { low } else { q[l] };
            }
            p[l] = if v > p[l] { v } else { p[l] };
        }
    }
    // Merge the lanes and the tail as a plain scan.
    let (mut b1, mut b2, mut mn, mut fin) = (ninf, ninf, T::from_f64(f64::INFINITY), true);
    let mut push = |v: T| {
        if v > b1 {
            b2 = b1;
            b1 = v;
        } else if v > b2 {
            b2 = v;
        }
    };
    for l in 0..L {
        push(p[l]);
        if two {
            push(q[l]);
        }
        mn = if lo[l] < mn { lo[l] } else { mn };
        fin &= ok[l];
    }
    for &v in it.remainder() {
        push(v);
        fin &= v.finite();
        mn = if v < mn { v } else { mn };
    }
    (b1, b2, mn, fin)
}

/// The first column equal to `v` (0 if none), sixteen columns at a time.
#[inline(always)]
fn first_eq<T: Scalar>(row: &[T], v: T) -> usize {
    let mut it = row.chunks_exact(L);
    let mut base = 0;
    for ch in &mut it {
        if ch.iter().fold(false, |a, &x| a | (x == v)) {
            return base + ch.iter().position(|&x| x == v).unwrap_or(0);
        }
        base += L;
    }
    base + it.remainder().iter().position(|&x| x == v).unwrap_or(0)
}

/// Rows per parallel task.
const ROWS: usize = 64;

struct Chunk<'a, T> {
    x: &'a [T],
    c: usize,
    mode: Scan,
    score: &'a mut [f64],
    arg: &'a mut [i64],
}

/// (any non-finite value, any negative value) of the chunk.
impl<T: XLogX> Kernel for Chunk<'_, T> {
    type Out = (bool, bool);
    #[inline(always)]
    fn run(self) -> (bool, bool) {
        let Chunk {
            x,
            c,
            mode,
            score,
            arg,
        } = self;
        let zero = T::from_f64(0.0);
        let (mut bad, mut neg) = (false, false);
        for ((row, s), a) in x.chunks_exact(c).zip(score.iter_mut()).zip(arg.iter_mut()) {
            // Lane-wise maxima (and top two), so the loops vectorise; the argmax is the
            // first column equal to the maximum (ties to the smaller class).
            if mode == Scan::Entropy {
                let (sum, b1, lo, ok) = T::scan_xlogx(row);
                bad |= !ok;
                neg |= lo < zero;
                *a = first_eq(row, b1) as i64;
                *s = -sum;
                continue;
            }
            let (b1, b2, _, ok) = lanes(row, mode == Scan::Margin);
            bad |= !ok;
            *a = first_eq(row, b1) as i64;
            *s = match mode {
                Scan::Max => b1.to_f64(),
                Scan::LeastConfidence => 1.0 - b1.to_f64(),
                Scan::Margin => {
                    if c == 1 {
                        b1.to_f64()
                    } else {
                        b1.to_f64() - b2.to_f64()
                    }
                }
                Scan::Entropy => 0.0, // scored above
            };
        }
        (bad, neg)
    }
}

/// Score and argmax of every row of `x` (`n x c`, row-major) under `mode`.
pub fn row_scan<T: XLogX>(x: &[T], c: usize, mode: Scan) -> Result<(Vec<f64>, Vec<i64>)> {
    if c == 0 {
        return Err(Error::value("probs", "must have at least one column"));
    }
    if x.is_empty() {
        return Err(Error::value("probs", "must not be empty"));
    }
    if !x.len().is_multiple_of(c) {
        return Err(Error::value(
            "probs",
            "length is not a multiple of the columns",
        ));
    }
    let n = x.len() / c;
    let mut score = vec![0.0f64; n];
    let mut arg = vec![0i64; n];
    let (bad, neg) = x
        .par_chunks(ROWS * c)
        .zip(score.par_chunks_mut(ROWS))
        .zip(arg.par_chunks_mut(ROWS))
        .map(|((x, score), arg)| {
            simd(Chunk {
                x,
                c,
                mode,
                score,
                arg,
            })
        })
        .reduce(|| (false, false), |a, b| (a.0 | b.0, a.1 | b.1));
    if bad {
        return Err(Error::value("probs", "contains NaN or infinity"));
    }
    if neg {
        return Err(Error::value(
            "probs",
            "contains negative values (entropy needs probabilities)",
        ));
    }
    Ok((score, arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_log_is_close_to_std() {
        let mut x = 1e-37f32;
        while x < 1e30 {
            let (a, b) = (ln_f32(x), x.ln());
            assert!((a - b).abs() <= 2e-7 * b.abs().max(1.0), "{x} {a} {b}");
            x *= 1.37;
        }
        assert_eq!(ln_f32(1.0), 0.0);
    }

    #[test]
    fn scans_match_definitions() {
        let p = [0.1f64, 0.6, 0.3, 0.5, 0.5, 0.0, 0.0, 0.0, 1.0];
        let (s, a) = row_scan(&p, 3, Scan::Entropy).unwrap();
        let h = -(0.1f64 * 0.1f64.ln() + 0.6 * 0.6f64.ln() + 0.3 * 0.3f64.ln());
        assert!((s[0] - h).abs() < 1e-12);
        assert!((s[1] - 2f64.ln()).abs() < 1e-12);
        assert_eq!(s[2], 0.0);
        assert_eq!(a, vec![1, 0, 2]);
        let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        let (s32, a32) = row_scan(&p32, 3, Scan::Entropy).unwrap();
        assert_eq!(a32, a);
        for (x, y) in s32.iter().zip(&s) {
            assert!((x - y).abs() < 1e-6);
        }
        let (m, _) = row_scan(&p, 3, Scan::Margin).unwrap();
        assert!((m[0] - 0.3).abs() < 1e-12 && m[1] == 0.0 && m[2] == 1.0);
        let (lc, _) = row_scan(&p, 3, Scan::LeastConfidence).unwrap();
        assert!((lc[0] - 0.4).abs() < 1e-12);
        let (mx, _) = row_scan(&p, 3, Scan::Max).unwrap();
        assert_eq!(mx, vec![0.6, 0.5, 1.0]);
        let (m1, _) = row_scan(&[0.25f64, 0.75], 1, Scan::Margin).unwrap();
        assert_eq!(m1, vec![0.25, 0.75]);
    }

    #[test]
    fn long_rows_use_every_lane() {
        let c = 1000;
        let row: Vec<f32> = (0..c).map(|j| (j as f32 + 1.0) / 500_500.0).collect();
        let (s, a) = row_scan(&row, c, Scan::Entropy).unwrap();
        let want: f64 = -row
            .iter()
            .map(|&p| (p as f64) * (p as f64).ln())
            .sum::<f64>();
        assert!((s[0] - want).abs() < 1e-5 * want, "{} {want}", s[0]);
        assert_eq!(a[0], 999);
    }

    #[test]
    fn bad_input_is_reported() {
        assert!(row_scan(&[0.5f64, f64::NAN], 2, Scan::Max).is_err());
        let e = row_scan(&[0.5f32, -0.1], 2, Scan::Entropy).unwrap_err();
        assert!(e.to_string().starts_with("probs:"));
        assert!(row_scan(&[0.5f32, -0.1], 2, Scan::Margin).is_ok());
        assert!(row_scan::<f64>(&[], 2, Scan::Max).is_err());
        assert!(row_scan(&[1.0f64, 2.0, 3.0], 2, Scan::Max).is_err());
        assert!(Scan::parse("bald").is_err());
    }
}
