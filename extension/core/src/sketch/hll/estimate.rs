//! The cardinality estimate of a register array, computed in the same order and with
//! the same integer quirks as postgresql-hll's `multiset_card`, so both return the
//! same double for the same registers.

use super::{HllError, Params};

/// HyperLogLog estimate with linear counting for small sets and the 2^L correction
/// for large ones.
pub fn cardinality(params: &Params, regs: &[u8]) -> Result<f64, HllError> {
    let m = regs.len();
    if m <= 8 {
        return Err(HllError::TooFewRegisters(m));
    }
    let max_register = (1u64 << params.regwidth) - 1;
    let total_bits = (max_register - 1) + u64::from(params.log2m);
    // postgresql-hll computes `1ULL << total_bits` in C; with wide registers (6 bits
    // and up) the shift reaches 64 bits, and x86 takes the count modulo 64. The same
    // wrap is reproduced here so estimates agree for every parameter set.
    let two_to_l = 1u64.wrapping_shl(total_bits as u32);
    let large_cutoff = two_to_l as f64 / 30.0;

    let mut sum = 0.0f64;
    let mut zeros = 0usize;
    for &r in regs {
        sum += 1.0 / 1i64.wrapping_shl(u32::from(r)) as f64;
        zeros += usize::from(r == 0);
    }
    let estimator = alpha_m_squared(m) / sum;
    let mf = m as f64;
    Ok(if zeros != 0 && estimator < 5.0 * mf / 2.0 {
        mf * (mf / zeros as f64).ln()
    } else if estimator <= large_cutoff {
        estimator
    } else {
        let large = (two_to_l as i64).wrapping_neg() as f64 * (1.0 - estimator / two_to_l as f64).ln();
        // With a wrapped 2^L the logarithm's argument can be negative: postgresql-hll
        // then returns NaN, and its bits are the positive quiet NaN; so are these.
        if large.is_nan() {
            f64::NAN
        } else {
            large
        }
    })
}

/// alpha_m * m^2, evaluated left to right as postgresql-hll does.
fn alpha_m_squared(m: usize) -> f64 {
    let mf = m as f64;
    match m {
        16 => 0.673 * mf * mf,
        32 => 0.697 * mf * mf,
        64 => 0.709 * mf * mf,
        _ => (0.7213 / (1.0 + 1.079 / mf)) * mf * mf,
    }
}
