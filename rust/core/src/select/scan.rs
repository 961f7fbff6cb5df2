//! One pass over probability rows: the per-row score of an uncertainty strategy and the
//! predicted class (argmax, ties to the smaller class).
//!
//! Entropy on float32 rows uses a vectorisable natural log ([`ln_f32`], an atanh series
//! with fused multiply-adds, branch-free so every SIMD level runs it; within 2 ulp), with
//! sixteen float32 partial sums per row; float64 rows use `f64::ln`. Probabilities below
//! the smallest normal float add `p ln p ~ 0`. NaN/inf (and, for entropy, negative
//! values) are caught in the same pass -- for entropy through the row sum, which NaN
//! and inf poison -- and a second pass over the input, only then, says which it is.

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
    /// (`sum p ln p` over the values `>= MIN_POSITIVE`, largest value, smallest value) of
    /// a row in one pass. A NaN in the row makes the sum NaN and `+inf` makes it `+inf`,
    /// so the caller checks finiteness on the sum instead of on every value.
    fn scan_xlogx(row: &[Self]) -> (f64, Self, Self);
}

const SQRTHF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// `(e, ln m)` with `x = m 2^e`, `m` in `[sqrt(1/2), sqrt(2))`, for a positive normal
/// float32: `ln x = e ln 2 + ln m`. Branch-free so every SIMD level runs it.
///
/// `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, `|s| <= 0.172`: the odd series to `s^9`
/// (truncation below `7e-10`), evaluated with fused multiply-adds (Abramowitz & Stegun
/// 4.1.28). One division and five FMAs per value, against ten multiply-add pairs for
/// Cephes' `logf` polynomial: the entropy scan is compute-bound, so this is its speed.
/// `mul_add` is one rounding on every SIMD level (hardware FMA, or the exact software
/// `fmaf` on baseline x86-64), so results do not depend on the level. For zero, `e` is
/// -127 and `ln m` is 0; subnormals give a bounded `ln m`, so `p (e ln 2 + ln m)` is
/// ~1e-36 for them.
#[inline(always)]
fn ln_parts(x: f32) -> (f32, f32) {
    let bits = x.to_bits();
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < SQRTHF;
    // The biased exponent as a float; the sign bit (negative input) only makes `e`
    // large, and negatives are reported by the caller.
    let e = (bits >> 23) as f32 - if small { 127.0 } else { 126.0 };
    let m = if small { m + m } else { m };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut y = 1.0f32 / 9.0;
    y = y.mul_add(s2, 1.0 / 7.0);
    y = y.mul_add(s2, 1.0 / 5.0);
    y = y.mul_add(s2, 1.0 / 3.0);
    let two_s = s + s;
    (e, (two_s * s2).mul_add(y, two_s))
}

/// Natural log of a positive normal float32 ([`ln_parts`]); within 2 ulp of the
/// correctly rounded log on every positive normal float32 (checked on a stride of all
/// of them).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let (e, ln_m) = ln_parts(x);
    std::f32::consts::LN_2.mul_add(e, ln_m)
}

impl XLogX for f32 {
    /// `sum p ln p = ln 2 sum p e + sum p ln m`: two sets of sixteen float32 partial
    /// sums (one AVX-512 register each), so each value costs two FMAs after the log and
    /// no test for zero (a zero adds `0 e + 0`); the lane maxima and minima alongside;
    /// the sums combined in float64 at the end of the row.
    #[inline(always)]
    fn scan_xlogx(row: &[f32]) -> (f64, f32, f32) {
        const L: usize = 16;
        let mut acc_e = [0.0f32; L];
        let mut acc_m = [0.0f32; L];
        let mut hi = [f32::NEG_INFINITY; L];
        let mut lo = [f32::INFINITY; L];
        let mut step = |c: &[f32]| {
            for l in 0..L {
                let p = c[l];
                let (e, ln_m) = ln_parts(p);
                acc_e[l] = p.mul_add(e, acc_e[l]);
                acc_m[l] = p.mul_add(ln_m, acc_m[l]);
                hi[l] = if p > hi[l] { p } else { hi[l] };
                lo[l] = if p < lo[l] { p } else { lo[l] };
            }
        };
        let mut it = row.chunks_exact(L);
        for c in &mut it {
            step(c);
        }
        // The last columns as one more vector step, padded with zeros (which add 0 to
        // the sums and cannot hide a negative minimum): a scalar tail with its division
        // per value cost more than the 62 vector steps of a 1000-column row.
        let rem = it.remainder();
        if !rem.is_empty() {
            let mut pad = [0.0f32; L];
            pad[..rem.len()].copy_from_slice(rem);
            step(&pad);
        }
        let se: f64 = acc_e.iter().map(|&a| a as f64).sum();
        let sm: f64 = acc_m.iter().map(|&a| a as f64).sum();
        let (mut b, mut m) = (f32::NEG_INFINITY, f32::INFINITY);
        for l in 0..L {
            b = if hi[l] > b { hi[l] } else { b };
            m = if lo[l] < m { lo[l] } else { m };
        }
        (std::f64::consts::LN_2 * se + sm, b, m)
    }
}

impl XLogX for f64 {
    #[inline(always)]
    fn scan_xlogx(row: &[f64]) -> (f64, f64, f64) {
        let (mut sum, mut b, mut m) = (0.0, f64::NEG_INFINITY, f64::INFINITY);
        for &p in row {
            sum += if p < f64::MIN_POSITIVE {
                0.0
            } else {
                p * p.ln()
            };
            b = if p > b { p } else { b };
            m = if p < m { p } else { m };
        }
        (sum, b, m)
    }
}

/// Lanes of the row loops.
const L: usize = 16;

/// (largest, second largest counting repeats (with `TWO`), all finite) of a row.
///
/// `TWO` is a compile-time constant so that each loop is branch-free and vectorises (a
/// run-time flag here made the max scan three times slower).
#[inline(always)]
fn lanes<T: Scalar, const TWO: bool>(row: &[T]) -> (T, T, bool) {
    let ninf = T::from_f64(f64::NEG_INFINITY);
    let mut p = [ninf; L];
    let mut q = [ninf; L];
    let mut ok = [true; L];
    let mut it = row.chunks_exact(L);
    for ch in &mut it {
        for l in 0..L {
            let v = ch[l];
            ok[l] &= v.finite();
            if TWO {
                let gt = v > p[l];
                let low = if gt { p[l] } else { v };
                q[l] = if low > q[l] { low } else { q[l] };
            }
            p[l] = if v > p[l] { v } else { p[l] };
        }
    }
    // Merge the lanes and the tail as a plain scan.
    let (mut b1, mut b2, mut fin) = (ninf, ninf, true);
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
        if TWO {
            push(q[l]);
        }
        fin &= ok[l];
    }
    for &v in it.remainder() {
        push(v);
        fin &= v.finite();
    }
    (b1, b2, fin)
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

/// Whether the chunk may hold a NaN, an infinity or (for entropy) a negative value; the
/// caller then finds which, so the row loops carry no per-value checks they can avoid.
impl<T: XLogX> Kernel for Chunk<'_, T> {
    type Out = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let Chunk {
            x,
            c,
            mode,
            score,
            arg,
        } = self;
        let zero = T::from_f64(0.0);
        let mut bad = false;
        let rows = x.chunks_exact(c).zip(score.iter_mut()).zip(arg.iter_mut());
        // Lane-wise maxima (and top two), so the loops vectorise; the argmax is the first
        // column equal to the maximum (ties to the smaller class).
        match mode {
            Scan::Entropy => {
                for ((row, s), a) in rows {
                    let (sum, b1, lo) = T::scan_xlogx(row);
                    bad |= !sum.is_finite() || lo < zero;
                    *a = first_eq(row, b1) as i64;
                    *s = -sum;
                }
            }
            Scan::Margin => {
                for ((row, s), a) in rows {
                    let (b1, b2, ok) = lanes::<T, true>(row);
                    bad |= !ok;
                    *a = first_eq(row, b1) as i64;
                    *s = if c == 1 {
                        b1.to_f64()
                    } else {
                        b1.to_f64() - b2.to_f64()
                    };
                }
            }
            Scan::Max | Scan::LeastConfidence => {
                for ((row, s), a) in rows {
                    let (b1, _, ok) = lanes::<T, false>(row);
                    bad |= !ok;
                    *a = first_eq(row, b1) as i64;
                    *s = if mode == Scan::Max {
                        b1.to_f64()
                    } else {
                        1.0 - b1.to_f64()
                    };
                }
            }
        }
        bad
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
    let suspect = x
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
        .reduce(|| false, |a, b| a | b);
    if !suspect {
        return Ok((score, arg));
    }
    // Rare: say which problem it is (NaN/inf first, as before).
    if x.par_iter().any(|v| !v.finite()) {
        return Err(Error::value("probs", "contains NaN or infinity"));
    }
    if mode == Scan::Entropy {
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
        // The entropy pass flags a row through its sum; the second pass names the problem,
        // NaN/inf first, whatever the position in the row or the SIMD tail.
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 5, 16, 19] {
                let mut row = vec![0.05f32; 20];
                row[at] = bad;
                let e = row_scan(&row, 20, Scan::Entropy).unwrap_err().to_string();
                assert!(e.contains("NaN or infinity"), "{bad} at {at}: {e}");
            }
        }
        let mut row = vec![0.05f32; 20];
        row[18] = -1e-30;
        let e = row_scan(&row, 20, Scan::Entropy).unwrap_err().to_string();
        assert!(e.contains("negative"), "{e}");
    }

    #[test]
    fn zeros_and_certain_rows_have_zero_entropy() {
        let mut p = vec![0.0f32; 3 * 17];
        p[3] = 1.0; // row 0: one-hot
        p[17 + 16] = 1.0; // row 1: one-hot in the padded tail
        p[34 + 2] = f32::MIN_POSITIVE / 4.0; // row 2: a subnormal, otherwise zeros
        let (s, a) = row_scan(&p, 17, Scan::Entropy).unwrap();
        assert_eq!(&s[..2], &[0.0, 0.0]);
        assert!(s[2].abs() < 1e-30);
        assert_eq!(a, vec![3, 16, 2]);
    }

    #[test]
    fn fast_log_on_a_stride_of_all_normal_floats() {
        let mut bits = f32::MIN_POSITIVE.to_bits();
        while bits < f32::MAX.to_bits() {
            let x = f32::from_bits(bits);
            let want = (x as f64).ln();
            let ulp = {
                let w = (want as f32).abs();
                (f32::from_bits(w.to_bits() + 1) - w) as f64
            };
            assert!((ln_f32(x) as f64 - want).abs() <= 2.0 * ulp, "{x}");
            bits += 9973;
        }
    }
}
