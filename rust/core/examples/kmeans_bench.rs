//! Time the k-means kernels without Python: `cargo run -p longtail-core --release
//! --example kmeans_bench [n d k]` (default 100000 128 100). Prints the GEMM
//! assignment step's GFLOP/s (2 n d k flops) and the k-means++ seeding time.

use longtail_core::cluster::{init_centers, nearest, row_sq_norms, Init};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, d, k) = match args[..] {
        [n, d, k] => (n, d, k),
        _ => (100_000, 128, 100),
    };
    let mut rng = longtail_core::rng::block_rng(0, 0, 0, 0);
    let x: Vec<f32> = (0..n * d)
        .map(|_| longtail_core::rng::uniform(&mut rng) as f32)
        .collect();
    let xn = row_sq_norms(&x, d);
    let c = x[..k * d].to_vec();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(nearest(&x, d, &xn, &c, k, true));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let gf = 2.0 * (n * d * k) as f64 / best / 1e9;
    println!(
        "assign {n}x{d}, k={k}: {:.1} ms, {gf:.1} GFLOP/s",
        best * 1e3
    );
    let t = Instant::now();
    let init = Init::PlusPlus {
        n_local_trials: None,
        init_size: Some(n),
    };
    std::hint::black_box(init_centers(&x, d, &xn, k, init, &mut rng, true).ok());
    println!(
        "greedy k-means++ seeding: {:.3} s",
        t.elapsed().as_secs_f64()
    );
}
