//! Ertl's improved raw estimator ("New cardinality estimation algorithms for
//! HyperLogLog sketches", 2017): one formula over the register histogram for every
//! cardinality. The classic estimate (`estimate.rs`, kept for postgresql-hll
//! compatibility) switches from linear counting to the raw estimate at 2.5 m, where the
//! raw estimate is biased: with 2^14 registers a set of 45,000 read 2.8% high. This
//! one stays near the 1.04 / sqrt(m) standard error throughout, so `tally.query`
//! answers from rollups with it; `tally.hll_cardinality` keeps postgresql-hll's value.

use super::Params;

/// The estimate of the registers `regs` of `params` (values 0 ..= 2^regwidth - 1,
/// the largest meaning "that rank or more").
pub fn estimate(params: &Params, regs: &[u8]) -> f64 {
    let m = regs.len() as f64;
    let saturated = (1usize << params.regwidth) - 1;
    // Four partial histograms: runs of equal registers (mostly zeros) would otherwise
    // wait on the previous increment of the same count (a third of the time here).
    let mut partial = [[0u32; 256]; 4];
    let mut chunks = regs.chunks_exact(4);
    for c in &mut chunks {
        for (h, &r) in partial.iter_mut().zip(c) {
            h[usize::from(r)] += 1;
        }
    }
    for &r in chunks.remainder() {
        partial[0][usize::from(r)] += 1;
    }
    let mut histogram = vec![0u64; saturated + 1];
    for (value, counts) in (0..256).map(|v| (v, partial.iter().map(|h| u64::from(h[v])).sum::<u64>())) {
        histogram[value.min(saturated)] += counts;
    }
    let mut z = m * tau(1.0 - histogram[saturated] as f64 / m);
    for &count in histogram[1..saturated].iter().rev() {
        z = 0.5 * (z + count as f64);
    }
    z += m * sigma(histogram[0] as f64 / m);
    m * m / (2.0 * std::f64::consts::LN_2 * z)
}

/// σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

/// τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² 2^-k) / 3, summed until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}
