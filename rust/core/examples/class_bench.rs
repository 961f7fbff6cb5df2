//! Time the phases of one small k-means (one class of a per-class run):
//! `cargo run -p longtail-core --release --example class_bench [n d k reps]`.

use longtail_core::cluster::{
    fit, inertia, init_centers, mean_variance, row_sq_norms, FitOptions, Init, Lloyd,
};
use std::time::Instant;

fn time<R>(name: &str, reps: usize, mut f: impl FnMut() -> R) {
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    println!(
        "{name:>12}: {:8.1} us",
        t.elapsed().as_secs_f64() / reps as f64 * 1e6
    );
}

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, d, k, reps) = match a[..] {
        [n, d, k, r] => (n, d, k, r),
        _ => (2000, 128, 20, 200),
    };
    let mut rng = longtail_core::rng::block_rng(0, 0, 0, 0);
    let mids: Vec<f32> = (0..k * d)
        .map(|_| longtail_core::rng::uniform(&mut rng) as f32 * 6.0)
        .collect();
    let x: Vec<f32> = (0..n * d)
        .map(|i| mids[((i / d) % k) * d + i % d] + longtail_core::rng::uniform(&mut rng) as f32)
        .collect();
    let xn = row_sq_norms(&x, d);
    let init = Init::PlusPlus {
        n_local_trials: None,
        init_size: None,
    };
    time("norms", reps, || row_sq_norms(&x, d));
    time("meanvar", reps, || mean_variance(&x, d, false));
    time("seed", reps, || {
        init_centers(&x, d, &xn, k, init, &mut rng, false).unwrap()
    });
    let c0 = init_centers(&x, d, &xn, k, init, &mut rng, false).unwrap();
    time("step1", reps, || {
        let mut l = Lloyd::new(c0.clone(), d);
        l.step(&x, &xn, false)
    });
    time("step1+5", reps, || {
        let mut l = Lloyd::new(c0.clone(), d);
        for _ in 0..6 {
            l.step(&x, &xn, false);
        }
    });
    let mut l = Lloyd::new(c0.clone(), d);
    l.step(&x, &xn, false);
    let (c, lab) = l.into_parts();
    time("inertia", reps, || inertia(&x, d, &c, &lab, false));
    let o = FitOptions {
        k,
        init,
        n_init: 1,
        max_iter: 20,
        tol: 0.0,
        seed: 0,
        key: 0,
        balanced: false,
    };
    time("fit20", reps, || fit(&x, d, &o, false).unwrap());
}
