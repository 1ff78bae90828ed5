//! Estimate error of the HLL (postgresql-hll's default parameters: 2048 registers of
//! 5 bits) from 10^2 to 10^8 distinct values, as a markdown table for
//! benches/RESULTS.md. Each row averages several independent runs (different hash
//! seeds); the theoretical standard error is 1.04 / sqrt(2048) = 2.30%.
//!
//! `cargo run --release --example hll_error -- [RUNS]`

use tally_core::sketch::hash::hash_bigint;
use tally_core::sketch::hll::{Hll, Params};

fn main() {
    let runs: i32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    println!("| distinct values | mean abs. relative error | max abs. relative error | representation |");
    println!("|---:|---:|---:|---|");
    for exp in 2..=8 {
        let n = 10i64.pow(exp);
        let mut errors = Vec::new();
        let mut kind = "";
        for seed in 0..runs {
            let mut h = Hll::new(Params::default());
            for v in 0..n {
                h.add(hash_bigint(v, seed + 1));
            }
            let est = h.cardinality().ok().flatten().unwrap_or(f64::NAN);
            errors.push((est - n as f64).abs() / n as f64);
            kind = if h.to_bytes()[0] & 0xf == 2 { "explicit (exact)" } else { "registers" };
        }
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let max = errors.iter().cloned().fold(0.0, f64::max);
        println!("| 10^{exp} | {:.2}% | {:.2}% | {kind} |", 100.0 * mean, 100.0 * max);
    }
}
