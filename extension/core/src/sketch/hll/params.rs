//! The four parameters of an hll, their limits and their 2-byte header encoding, as
//! postgresql-hll defines them (its STORAGE.markdown and `hll_empty`).

use super::HllError;

/// Largest `log2m`: postgresql-hll sizes its in-memory registers for 2^17.
pub const MAX_LOG2M: u8 = 17;
/// Largest explicit threshold: the most 8-byte elements postgresql-hll's 128 KiB
/// working buffer holds after its length word. Parameters given by users are held to
/// it; a stored value may carry a larger one (postgresql-hll wrote them before it
/// capped the threshold), and its list still turns into registers past this many.
pub const MAX_EXPTHRESH: i64 = 16_383;

/// Register count, register width, explicit threshold and sparse switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Params {
    /// log2 of the register count: relative error is about 1.04 / sqrt(2^log2m).
    pub log2m: u8,
    /// Bits per register; 5 bits count up to about 2^(2^5 - 2 + log2m) values.
    pub regwidth: u8,
    /// Distinct values kept exactly before switching to registers: -1 picks the count
    /// that fits in the registers' space, 0 never keeps values, else a power of 2.
    pub expthresh: i64,
    /// Whether registers may be stored sparsely (index, value pairs) when smaller.
    pub sparseon: bool,
}

impl Default for Params {
    /// postgresql-hll's defaults: 2048 registers of 5 bits (1.6% error, 1.3 KB full),
    /// automatic explicit threshold, sparse on.
    fn default() -> Self {
        Params { log2m: 11, regwidth: 5, expthresh: -1, sparseon: true }
    }
}

impl Params {
    /// Checks user-supplied parameters the way postgresql-hll's `hll_empty` does
    /// (except that a register width of 0, which it cannot encode, is refused).
    pub fn new(log2m: i64, regwidth: i64, expthresh: i64, sparseon: i64) -> Result<Params, HllError> {
        if expthresh > MAX_EXPTHRESH {
            return Err(HllError::Expthresh { got: expthresh, max: MAX_EXPTHRESH });
        }
        Params::stored(log2m, regwidth, expthresh, sparseon)
    }

    /// [`Params::new`] for parameters read from stored bytes: any power of 2 is a valid
    /// explicit threshold there (see [`MAX_EXPTHRESH`]).
    fn stored(log2m: i64, regwidth: i64, expthresh: i64, sparseon: i64) -> Result<Params, HllError> {
        if !(0..=i64::from(MAX_LOG2M)).contains(&log2m) {
            return Err(HllError::Log2m { got: log2m, max: MAX_LOG2M });
        }
        if !(1..=7).contains(&regwidth) {
            return Err(HllError::Regwidth(regwidth));
        }
        let power_of_two = expthresh > 0 && expthresh & (expthresh - 1) == 0;
        if !(expthresh == -1 || expthresh == 0 || power_of_two) {
            return Err(HllError::Expthresh { got: expthresh, max: MAX_EXPTHRESH });
        }
        if !(0..=1).contains(&sparseon) {
            return Err(HllError::Sparseon(sparseon));
        }
        Ok(Params { log2m: log2m as u8, regwidth: regwidth as u8, expthresh, sparseon: sparseon == 1 })
    }

    /// Number of registers, 2^log2m.
    pub fn registers(&self) -> usize {
        1 << self.log2m
    }

    /// How many distinct values stay explicit before the set turns into registers.
    pub fn explicit_limit(&self) -> usize {
        match self.expthresh {
            // As many 8-byte values as fit in the bytes of the full registers.
            -1 => (usize::from(self.regwidth) * self.registers()).div_ceil(8) / 8,
            n => n.min(MAX_EXPTHRESH) as usize,
        }
    }

    /// Header bytes 1 and 2: `(regwidth-1) << 5 | log2m`, `sparseon << 6 | expthresh code`.
    pub fn header(&self) -> [u8; 2] {
        let code = match self.expthresh {
            -1 => 63,
            0 => 0,
            n => n.trailing_zeros() as u8 + 1,
        };
        [((self.regwidth - 1) << 5) | self.log2m, (u8::from(self.sparseon) << 6) | code]
    }

    /// Reads header bytes 1 and 2. Values no encoder writes (a log2m above the
    /// limit, register width 8) are refused; any expthresh code decodes (codes 1 to 62
    /// are the powers of 2 up to 2^61).
    pub fn from_header(b1: u8, b2: u8) -> Result<Params, HllError> {
        let code = b2 & 0x3f;
        let expthresh = match code {
            63 => -1,
            0 => 0,
            c => 1i64 << (c - 1),
        };
        Params::stored(i64::from(b1 & 0x1f), i64::from(b1 >> 5) + 1, expthresh, i64::from((b2 >> 6) & 1))
    }

    /// Errors unless `other` has the same parameters (what a union requires).
    pub fn check_same(&self, other: &Params) -> Result<(), HllError> {
        match first_difference(self.compared(), other.compared()) {
            Some((what, left, right)) => Err(HllError::Mismatch { what, left, right }),
            None => Ok(()),
        }
    }

    /// (regwidth, log2m, expthresh, sparseon), for [`first_difference`].
    pub(super) fn compared(&self) -> [i64; 4] {
        [self.regwidth.into(), self.log2m.into(), self.expthresh, self.sparseon.into()]
    }
}

/// The first of (regwidth, log2m, expthresh, sparseon) that differs between two such
/// lists, in the order postgresql-hll checks them: its name and both values.
pub(super) fn first_difference(a: [i64; 4], b: [i64; 4]) -> Option<(&'static str, i64, i64)> {
    const NAMES: [&str; 4] = ["regwidth", "log2m", "expthresh", "sparseon"];
    NAMES.into_iter().zip(a).zip(b).find(|((_, x), y)| x != y).map(|((what, x), y)| (what, x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_every_valid_parameter_set() {
        for log2m in 0..=17 {
            for regwidth in 1..=7 {
                for expthresh in [-1, 0, 1, 2, 64, 8192] {
                    for sparseon in 0..=1 {
                        let p = Params::new(log2m, regwidth, expthresh, sparseon).unwrap();
                        let [b1, b2] = p.header();
                        assert_eq!(Params::from_header(b1, b2).unwrap(), p);
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_parameters_postgresql_hll_refuses() {
        assert!(matches!(Params::new(18, 5, -1, 1), Err(HllError::Log2m { .. })));
        assert!(matches!(Params::new(11, 8, -1, 1), Err(HllError::Regwidth(8))));
        assert!(matches!(Params::new(11, 5, 3, 1), Err(HllError::Expthresh { .. })));
        assert!(matches!(Params::new(11, 5, 32768, 1), Err(HllError::Expthresh { .. })));
        assert!(matches!(Params::new(11, 5, -1, 2), Err(HllError::Sparseon(2))));
    }

    #[test]
    fn stored_thresholds_above_the_cap_are_read_and_capped() {
        // 0x4f: sparse on, threshold code 15 = 2^14, which postgresql-hll writes.
        let p = Params::from_header(0x8b, 0x4f).unwrap();
        assert_eq!(p.expthresh, 16_384);
        assert_eq!(p.explicit_limit(), 16_383);
        assert_eq!(p.header(), [0x8b, 0x4f]);
        assert_eq!(Params::from_header(0x8b, 0x3e).unwrap().expthresh, 1 << 61);
        assert!(Params::new(11, 5, 16_384, 1).is_err());
    }

    #[test]
    fn automatic_explicit_limit_fills_the_register_bytes() {
        // 2048 registers of 5 bits: 1280 bytes, 160 values of 8 bytes.
        assert_eq!(Params::default().explicit_limit(), 160);
    }
}
