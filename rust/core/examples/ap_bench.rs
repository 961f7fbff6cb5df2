//! Time the bucketed binary ranking kernel at n = 10^7 (uniform scores, random labels).
//!
//! `cargo run --release --example ap_bench -p longtail-core`
use std::time::Instant;

use longtail_core::metrics::bucket::unit_binary;
use longtail_core::metrics::ranking::Metric;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let y: Vec<u8> = (0..n).map(|_| (next() & 1) as u8).collect();
    let s: Vec<f64> = (0..n)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    for m in [Metric::RocAuc, Metric::AveragePrecision] {
        let mut ts = Vec::new();
        let mut v = 0.0;
        for _ in 0..9 {
            let t = Instant::now();
            v = unit_binary(&y, &s, m).unwrap().unwrap();
            ts.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ts.sort_by(f64::total_cmp);
        println!("{m:?}: {v:.6} median {:.1} ms min {:.1} ms", ts[4], ts[0]);
    }
}
