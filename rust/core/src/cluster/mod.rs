//! k-means kernels: greedy k-means++ seeding, Lloyd iterations with a blocked GEMM
//! assignment step, balanced (equal-size) assignment and batched per-class clustering.
//!
//! Data are row-major `n x d` slices of `f32` or `f64` ([`Scalar`]). Every parallel loop
//! runs over a fixed partition of the rows into [`BLOCK`]-row blocks and every reduction
//! sums per block, then combines the block sums in block order, so results depend on the
//! seed only, never on the number of threads. The per-block GEMM is single-threaded
//! (`Par::Seq`) for the same reason: parallelism comes from the blocks.

mod assign;
mod balanced;
mod bounds;
mod init;
mod lloyd;
mod subclass;

pub use assign::{inertia, mean_variance, nearest, row_sq_norms, Nearest};
// The GEMM and distance helpers `select::kcenter` reuses.
pub(crate) use assign::{gemm_cross, sq_dist};
pub use balanced::balance;
pub use bounds::{Lloyd, Progress};
pub use init::{auto_init_size, init_centers, Init};
pub use lloyd::{fit, lloyd_step, run_rng, FitOptions, FitResult, Step, MAX_BALANCE_ITER};
pub use subclass::subclass_kmeans;

use crate::error::{Error, Result};
use rayon::prelude::*;
use std::fmt::Debug;
use std::ops::{Add, Mul, Sub};

/// Rows per block of every blocked loop. Fixed (not derived from the thread count) so
/// that results do not depend on it; 256 rows keep a block's distance matrix
/// (`256 x k`) and its slice of `X` in L2 for typical `k` and `d`.
pub const BLOCK: usize = 256;

/// The float types the kernels run on (`f32` or `f64`); the GEMM runs in this type.
pub trait Scalar:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + PartialOrd
    + Debug
    + Default
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
{
    /// Widen to `f64` (for accumulators).
    fn to_f64(self) -> f64;
    /// Narrow from `f64`.
    fn from_f64(v: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
}

impl Scalar for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Scalar for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// A loop body compiled once per SIMD level, for [`simd`]. `run` must be
/// `#[inline(always)]` so that each level gets its own copy of it.
pub(crate) trait Kernel {
    type Out;
    fn run(self) -> Self::Out;
}

/// The SIMD level [`simd`] uses: 2 = AVX-512, 1 = AVX2, 0 = baseline; the best the CPU
/// has, capped by the environment variable `LONGTAIL_SIMD` (`avx2` or `baseline`),
/// read once per process (tests use it to compare the levels).
pub fn simd_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("LONGTAIL_SIMD").as_deref() {
            Ok("baseline") => 0,
            Ok("avx2") => 1,
            _ => 2,
        };
        #[cfg(target_arch = "x86_64")]
        let have = if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            2
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            1
        } else {
            0
        };
        #[cfg(not(target_arch = "x86_64"))]
        let have = 0;
        have.min(cap)
    })
}

/// Run `k` as AVX-512 or AVX2 code when the CPU has those. The crate is built for
/// baseline x86-64, whose 128-bit SSE2 vectors are a half or a quarter of what these
/// machines have; faer dispatches its own GEMM kernels the same way. Float results do
/// not depend on the level: Rust never reassociates or contracts float arithmetic,
/// so every level computes the same operations in the same order.
#[inline]
pub(crate) fn simd<K: Kernel>(k: K) -> K::Out {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn v4<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        match simd_level() {
            // SAFETY: level 2 means the CPU has every feature `v4` is compiled for.
            2 => return unsafe { v4(k) },
            // SAFETY: as above, for `v3`.
            1 => return unsafe { v3(k) },
            _ => {}
        }
    }
    k.run()
}

/// Check that `x` holds `n x d` values, `n >= 1`, `d >= 1`; return `n`.
pub fn check_shape<T>(x: &[T], d: usize, arg: &str) -> Result<usize> {
    if d == 0 {
        return Err(Error::value(arg, "must have at least one feature (column)"));
    }
    if x.is_empty() {
        return Err(Error::value(arg, "must not be empty"));
    }
    if !x.len().is_multiple_of(d) {
        return Err(Error::value(
            arg,
            format!("length {} is not a multiple of d = {d}", x.len()),
        ));
    }
    Ok(x.len() / d)
}

/// Check that every value of `x` is finite.
pub fn check_finite<T: Scalar>(x: &[T], arg: &str) -> Result<()> {
    // No short-circuit inside a chunk, so the scan vectorises.
    let ok = |c: &[T]| c.iter().fold(true, |a, v| a & v.finite());
    if x.par_chunks(1 << 16).all(ok) {
        Ok(())
    } else {
        Err(Error::value(arg, "contains NaN or infinity"))
    }
}

/// Check `1 <= k <= n`.
pub fn check_k(k: usize, n: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::value("n_clusters", "must be >= 1"));
    }
    if k > n {
        return Err(Error::value(
            "n_clusters",
            format!("n_clusters = {k} is larger than the number of samples n = {n}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::rng::{block_rng, uniform};

    /// `per` points around each of `centres` well-separated centres in `d` dimensions.
    pub fn blobs(centres: usize, per: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut r = block_rng(seed, 0, 0, 0);
        let mut out = Vec::with_capacity(centres * per * d);
        let mids: Vec<f64> = (0..centres * d).map(|_| uniform(&mut r) * 100.0).collect();
        for c in 0..centres {
            for _ in 0..per {
                for j in 0..d {
                    out.push(mids[c * d + j] + uniform(&mut r) - 0.5);
                }
            }
        }
        out
    }

    pub fn random(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut r = block_rng(seed, 1, 0, 0);
        (0..n * d).map(|_| uniform(&mut r)).collect()
    }

    /// `g` (column-major, `rows x k`) holds `-2 x_r . c_j` for row-major `x` and `c`.
    pub fn assert_cross(x: &[f64], c: &[f64], d: usize, g: &[f64]) {
        let (rows, k) = (x.len() / d, c.len() / d);
        for r in 0..rows {
            for j in 0..k {
                let want: f64 = -2.0 * (0..d).map(|t| x[r * d + t] * c[j * d + t]).sum::<f64>();
                let got = g[j * rows + r];
                assert!(
                    (got - want).abs() < 1e-9,
                    "{rows} {d} {k}: {r} {j} {got} {want}"
                );
            }
        }
    }
}
