//! Type modifiers: a column declared `hll(log2m, regwidth, expthresh, sparseon)` (any
//! trailing ones left out take the session defaults) holds only values with those
//! parameters. Postgres keeps a modifier as one non-negative 32-bit integer; it is
//! packed as postgresql-hll packs it (log2m in 5 bits, regwidth in 3, the expthresh
//! header code in 6, sparseon in 1).

use std::fmt;

use super::params::first_difference;
use super::{HllError, Params, MAX_LOG2M};

/// The parameters a column declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typmod {
    log2m: u8,
    /// 0 to 7: postgresql-hll accepts a width of 0 here (no value has it).
    regwidth: u8,
    expthresh: i64,
    sparseon: bool,
}

impl Typmod {
    /// The modifiers as Postgres hands them over (text), the missing ones from `defaults`.
    pub fn parse(mods: &[&str], defaults: Params) -> Result<Typmod, HllError> {
        let ints: Result<Vec<i64>, HllError> =
            mods.iter().map(|m| m.trim().parse::<i64>().map_err(|_| HllError::ModifierNotInteger((*m).to_owned()))).collect();
        Typmod::from_modifiers(&ints?, defaults)
    }

    /// The modifiers as written in `hll(...)`, the missing ones from `defaults`.
    pub fn from_modifiers(mods: &[i64], defaults: Params) -> Result<Typmod, HllError> {
        if mods.len() > 4 {
            return Err(HllError::Modifiers(mods.len()));
        }
        let get = |i: usize, default: i64| mods.get(i).copied().unwrap_or(default);
        let log2m = get(0, defaults.log2m.into());
        let regwidth = get(1, defaults.regwidth.into());
        let expthresh = get(2, defaults.expthresh);
        let sparseon = get(3, defaults.sparseon.into());
        if !(0..=i64::from(MAX_LOG2M)).contains(&log2m) {
            return Err(HllError::Log2m { got: log2m, max: MAX_LOG2M });
        }
        if !(0..=7).contains(&regwidth) {
            return Err(HllError::ModifierRegwidth(regwidth));
        }
        // The other two follow the rules of parameters given to hll_empty.
        let checked = Params::new(log2m, 1, expthresh, sparseon)?;
        Ok(Typmod { log2m: log2m as u8, regwidth: regwidth as u8, expthresh: checked.expthresh, sparseon: checked.sparseon })
    }

    /// The packed integer Postgres stores.
    pub fn to_i32(self) -> i32 {
        let code = match self.expthresh {
            -1 => 63,
            0 => 0,
            n => n.trailing_zeros() as i32 + 1,
        };
        (i32::from(self.log2m) << 10) | (i32::from(self.regwidth) << 7) | (code << 1) | i32::from(self.sparseon)
    }

    /// Unpacks what [`Typmod::to_i32`] packed.
    pub fn from_i32(typmod: i32) -> Typmod {
        let expthresh = match (typmod >> 1) & 0x3f {
            63 => -1,
            0 => 0,
            code => 1i64 << (code - 1),
        };
        Typmod { log2m: ((typmod >> 10) & 0x1f) as u8, regwidth: ((typmod >> 7) & 0x7) as u8, expthresh, sparseon: typmod & 1 == 1 }
    }

    /// Errors unless a value with `params` fits the column, naming the first parameter
    /// that differs (in postgresql-hll's order: width, register count, threshold, sparse).
    pub fn check(&self, params: &Params) -> Result<(), HllError> {
        let declared = [self.regwidth.into(), self.log2m.into(), self.expthresh, self.sparseon.into()];
        match first_difference(params.compared(), declared) {
            Some((what, value, declared)) => Err(HllError::Declared { what, value, declared }),
            None => Ok(()),
        }
    }
}

/// `(log2m,regwidth,expthresh,sparseon)`, as `\d` and pg_dump show the column type.
impl fmt::Display for Typmod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{},{},{})", self.log2m, self.regwidth, self.expthresh, u8::from(self.sparseon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_fills_in_defaults() {
        let d = Params::default();
        let t = Typmod::from_modifiers(&[10, 4], d).unwrap();
        assert_eq!(t.to_string(), "(10,4,-1,1)");
        assert_eq!(Typmod::from_i32(t.to_i32()), t);
        let t = Typmod::from_modifiers(&[17, 0, 8192, 0], d).unwrap();
        assert_eq!(Typmod::from_i32(t.to_i32()).to_string(), "(17,0,8192,0)");
        assert!(t.to_i32() >= 0);
    }

    #[test]
    fn refuses_what_postgresql_hll_refuses() {
        let d = Params::default();
        assert!(matches!(Typmod::from_modifiers(&[1, 2, 3, 4, 5], d), Err(HllError::Modifiers(5))));
        assert!(matches!(Typmod::parse(&["11", "x"], d), Err(HllError::ModifierNotInteger(m)) if m == "x"));
        assert_eq!(Typmod::parse(&["11", " 4"], d).unwrap(), Typmod::from_modifiers(&[11, 4], d).unwrap());
        assert!(matches!(Typmod::from_modifiers(&[18], d), Err(HllError::Log2m { .. })));
        assert!(matches!(Typmod::from_modifiers(&[11, 8], d), Err(HllError::ModifierRegwidth(8))));
        assert!(matches!(Typmod::from_modifiers(&[11, 5, 16_384], d), Err(HllError::Expthresh { .. })));
        assert!(matches!(Typmod::from_modifiers(&[11, 5, 3], d), Err(HllError::Expthresh { .. })));
        assert!(matches!(Typmod::from_modifiers(&[11, 5, -1, 2], d), Err(HllError::Sparseon(2))));
    }

    #[test]
    fn values_must_have_the_declared_parameters() {
        let t = Typmod::from_modifiers(&[10], Params::default()).unwrap();
        assert!(t.check(&Params::new(10, 5, -1, 1).unwrap()).is_ok());
        let err = t.check(&Params::default()).unwrap_err();
        assert_eq!(err, HllError::Declared { what: "log2m", value: 11, declared: 10 });
    }
}
