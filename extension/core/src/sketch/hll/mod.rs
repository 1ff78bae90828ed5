//! HyperLogLog compatible with postgresql-hll: the same parameters, the same
//! promotions from an exact list of hashes to registers, the same storage bytes and
//! the same estimate, so a value built by either one is read by the other unchanged.
//!
//! A set is one of: undefined (a poisoned value that unions to undefined), empty,
//! explicit (up to `Params::explicit_limit` distinct hashes, counted exactly) or
//! registers ("full" in memory; stored sparse or full, whichever is smaller).

mod bits;
mod error;
mod estimate;
mod format;
mod improved;
mod params;
mod print;
mod typmod;
mod union;

pub use error::HllError;
pub use format::SparseRule;
pub use params::{Params, MAX_EXPTHRESH, MAX_LOG2M};
pub use typmod::Typmod;
pub use union::HllUnion;

/// What the set holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr {
    Undefined,
    Empty,
    /// Distinct hashes in ascending signed order (postgresql-hll sorts them as its
    /// Java sibling does).
    Explicit(Vec<i64>),
    /// One register per index, each the largest "position of the first 1 bit" seen.
    Full(Vec<u8>),
}

/// A HyperLogLog set with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hll {
    params: Params,
    repr: Repr,
}

impl Hll {
    /// An empty set.
    pub fn new(params: Params) -> Hll {
        Hll { params, repr: Repr::Empty }
    }

    pub fn params(&self) -> Params {
        self.params
    }

    pub fn repr(&self) -> &Repr {
        &self.repr
    }

    /// Adds one hashed value. A full explicit list turns into registers first.
    pub fn add(&mut self, hash: i64) {
        let limit = self.params.explicit_limit();
        match &mut self.repr {
            Repr::Undefined => {}
            Repr::Empty if limit == 0 => {
                let mut regs = vec![0; self.params.registers()];
                Registers::of(&self.params).add(&mut regs, hash);
                self.repr = Repr::Full(regs);
            }
            Repr::Empty => self.repr = Repr::Explicit(vec![hash]),
            Repr::Explicit(list) => match list.binary_search(&hash) {
                Ok(_) => {}
                // postgresql-hll promotes when a new value meets a list exactly at the limit.
                Err(_) if list.len() == limit => {
                    let mut regs = registers_of(&self.params, list);
                    Registers::of(&self.params).add(&mut regs, hash);
                    self.repr = Repr::Full(regs);
                }
                Err(at) => list.insert(at, hash),
            },
            Repr::Full(regs) => Registers::of(&self.params).add(regs, hash),
        }
    }

    /// Adds many hashed values; the loop over registers avoids re-dispatching on the
    /// representation for every value once the set is full.
    pub fn extend(&mut self, hashes: &[i64]) {
        let mut rest = hashes;
        while let Some((&first, tail)) = rest.split_first() {
            if let Repr::Full(regs) = &mut self.repr {
                let r = Registers::of(&self.params);
                for &h in rest {
                    r.add(regs, h);
                }
                return;
            }
            self.add(first);
            rest = tail;
        }
    }

    /// Adds `hashes` (and empties it): the set [`Hll::add`] one by one makes, but an
    /// explicit list takes the batch in one sorted merge instead of one insertion (a
    /// shift of up to 1,280 hashes) per value. Rollup rows add their visitors so.
    pub fn add_all(&mut self, hashes: &mut Vec<i64>) {
        let limit = self.params.explicit_limit();
        let repr = std::mem::replace(&mut self.repr, Repr::Undefined);
        self.repr = match repr {
            Repr::Undefined => Repr::Undefined,
            Repr::Full(mut regs) => {
                let r = Registers::of(&self.params);
                for &h in hashes.iter() {
                    r.add(&mut regs, h);
                }
                Repr::Full(regs)
            }
            // A list fills up to the limit and turns into registers with the next new
            // value (as postgresql-hll does), so the end depends only on the count.
            Repr::Empty | Repr::Explicit(_) => {
                hashes.sort_unstable();
                hashes.dedup();
                let list = match repr {
                    Repr::Explicit(list) => merge_ascending(&list, hashes),
                    _ => hashes.clone(),
                };
                match list.len() {
                    0 => Repr::Empty,
                    n if n <= limit => Repr::Explicit(list),
                    _ => Repr::Full(registers_of(&self.params, &list)),
                }
            }
        };
        hashes.clear();
    }

    /// Unions `other` into `self`. Both must have the same parameters.
    pub fn union(&mut self, other: &Hll) -> Result<(), HllError> {
        self.params.check_same(&other.params)?;
        let r = Registers::of(&self.params);
        let limit = self.params.explicit_limit();
        let repr = std::mem::replace(&mut self.repr, Repr::Undefined);
        self.repr = match (repr, &other.repr) {
            (Repr::Undefined, _) | (_, Repr::Undefined) => Repr::Undefined,
            (mine, Repr::Empty) => mine,
            (Repr::Empty, theirs) => theirs.clone(),
            (Repr::Explicit(mine), Repr::Explicit(theirs)) => {
                let all = merge_ascending(&mine, theirs);
                // Explicit while every new value fits under the limit (postgresql-hll
                // appends until the list is full, then converts).
                if all.len() == mine.len() || all.len() <= limit {
                    Repr::Explicit(all)
                } else {
                    Repr::Full(registers_of(&self.params, &all))
                }
            }
            (Repr::Explicit(mine), Repr::Full(theirs)) => {
                let mut regs = theirs.clone();
                for h in mine {
                    r.add(&mut regs, h);
                }
                Repr::Full(regs)
            }
            (Repr::Full(mut regs), Repr::Explicit(theirs)) => {
                for &h in theirs {
                    r.add(&mut regs, h);
                }
                Repr::Full(regs)
            }
            (Repr::Full(mut regs), Repr::Full(theirs)) => {
                for (a, &b) in regs.iter_mut().zip(theirs) {
                    *a = (*a).max(b);
                }
                Repr::Full(regs)
            }
        };
        Ok(())
    }

    /// Estimated number of distinct values: exact for empty and explicit sets, the
    /// HyperLogLog estimate with postgresql-hll's corrections for registers, `None`
    /// for an undefined set.
    pub fn cardinality(&self) -> Result<Option<f64>, HllError> {
        Ok(match &self.repr {
            Repr::Undefined => None,
            Repr::Empty => Some(0.0),
            Repr::Explicit(list) => Some(list.len() as f64),
            Repr::Full(regs) => Some(estimate::cardinality(&self.params, regs)?),
        })
    }

    /// [`Hll::cardinality`], but registers estimated with Ertl's improved estimator
    /// (no bias where the classic estimate switches methods, see `improved.rs`): for
    /// answers, where matching postgresql-hll's double does not matter.
    pub fn estimate(&self) -> Result<Option<f64>, HllError> {
        Ok(match &self.repr {
            Repr::Full(regs) => Some(improved::estimate(&self.params, regs)),
            _ => self.cardinality()?,
        })
    }

    /// The postgresql-hll storage bytes (schema version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self, SparseRule::Smaller)
    }

    /// [`Hll::to_bytes`] with registers stored sparse by `rule`.
    pub fn to_bytes_with(&self, rule: SparseRule) -> Vec<u8> {
        format::encode(self, rule)
    }

    /// Reads postgresql-hll storage bytes, refusing anything malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Hll, HllError> {
        format::decode(bytes)
    }
}

/// The union of two strictly ascending lists, strictly ascending, in one linear pass:
/// a rollup read unions hundreds of small explicit sets into one list of up to the
/// explicit limit, and sorting the whole list again at each step made that quadratic
/// (half of a 30-day country breakdown from rollups went to sorting).
fn merge_ascending(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Registers built from an explicit list.
fn registers_of(params: &Params, hashes: &[i64]) -> Vec<u8> {
    let mut regs = vec![0; params.registers()];
    let r = Registers::of(params);
    for &h in hashes {
        r.add(&mut regs, h);
    }
    regs
}

/// The register update rule, with the parameters it needs precomputed.
#[derive(Clone, Copy)]
struct Registers {
    mask: u64,
    log2m: u32,
    max: u8,
}

impl Registers {
    fn of(params: &Params) -> Registers {
        Registers { mask: (params.registers() - 1) as u64, log2m: u32::from(params.log2m), max: ((1u32 << params.regwidth) - 1) as u8 }
    }

    /// The low log2m bits pick the register; the rest give the position of their
    /// lowest 1 bit (0 when all are zero), capped at the largest register value.
    #[inline]
    fn add(&self, regs: &mut [u8], hash: i64) {
        let h = hash as u64;
        let rest = h >> self.log2m;
        let rank = if rest == 0 { 0 } else { (rest.trailing_zeros() + 1).min(u32::from(self.max)) as u8 };
        let reg = &mut regs[(h & self.mask) as usize];
        if *reg < rank {
            *reg = rank;
        }
    }
}

#[cfg(test)]
mod tests;
