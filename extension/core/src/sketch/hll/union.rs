//! A union of many sets at once, as `hll_union_agg` builds one: the hashes of
//! explicit sets are gathered unsorted and folded in once, where unioning them one
//! by one re-merges the growing sorted list at every set (a page's month of daily
//! rollup rows is dozens of small explicit sets; that merging was 15% of a 30-day
//! top-pages answer). The result is the sequential union's exactly: a union of
//! explicit sets stays explicit while its distinct hashes fit the explicit limit and
//! becomes registers beyond it, whatever the order.

use std::borrow::Cow;

use super::{registers_of, Hll, HllError, Repr};

/// The union so far: a set, plus explicit hashes not yet folded into it.
#[derive(Debug, Clone, Default)]
pub struct HllUnion {
    set: Option<Hll>,
    pending: Vec<i64>,
}

impl HllUnion {
    /// A union starting from `set` (whose parameters every later set must share).
    pub fn of(set: Hll) -> HllUnion {
        HllUnion { set: Some(set), pending: Vec::new() }
    }

    /// The set unioned so far, for adding hashes to; `None` before the first set.
    /// Only for unions built by hashing (nothing pending).
    pub fn set_mut(&mut self) -> Option<&mut Hll> {
        debug_assert!(self.pending.is_empty());
        self.set.as_mut()
    }

    /// Unions `other` in.
    pub fn add(&mut self, other: Hll) -> Result<(), HllError> {
        let Some(set) = &mut self.set else {
            self.set = Some(other);
            return Ok(());
        };
        set.params.check_same(&other.params)?;
        match (&mut set.repr, other.repr) {
            (Repr::Full(regs), Repr::Explicit(list)) => {
                let r = super::Registers::of(&set.params);
                list.into_iter().for_each(|h| r.add(regs, h));
            }
            (_, Repr::Explicit(list)) => {
                self.pending.extend(list);
                // Folded once there are as many as the explicit limit: a union past the
                // limit then becomes registers early, which later hashes go straight
                // into, while one that repeats its hashes (visitors coming back day after
                // day) is sorted a few times at most.
                if self.pending.len() >= set.params.explicit_limit().max(1) {
                    self.fold();
                }
            }
            (_, repr) => set.union(&Hll { params: other.params, repr })?,
        }
        Ok(())
    }

    /// Unions every set of `other` in.
    pub fn merge(&mut self, other: &HllUnion) -> Result<(), HllError> {
        match other.current() {
            Some(set) => self.add(set.into_owned()),
            None => Ok(()),
        }
    }

    /// The union so far, leaving this one as it is: the set itself when nothing is
    /// pending (always for unions built by hashing), else a folded copy.
    pub fn current(&self) -> Option<Cow<'_, Hll>> {
        if self.pending.is_empty() {
            self.set.as_ref().map(Cow::Borrowed)
        } else {
            self.clone().finish().map(Cow::Owned)
        }
    }

    /// The union; `None` when no set was added.
    pub fn finish(mut self) -> Option<Hll> {
        self.fold();
        self.set
    }

    /// Folds the gathered hashes into the set.
    fn fold(&mut self) {
        let Some(set) = &mut self.set else { return };
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable();
        self.pending.dedup();
        let hashes = std::mem::take(&mut self.pending);
        let repr = if hashes.len() <= set.params.explicit_limit() {
            Repr::Explicit(hashes)
        } else {
            Repr::Full(registers_of(&set.params, &hashes))
        };
        set.union(&Hll { params: set.params, repr }).expect("the gathered hashes share the set's parameters");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sketch::hll::Params;

    fn set_of(params: Params, hashes: &[i64]) -> Hll {
        let mut set = Hll::new(params);
        set.extend(hashes);
        set
    }

    proptest! {
        /// Any mix of empty, explicit and register sets gives the sequential union.
        #[test]
        fn equals_the_sequential_union(sets in prop::collection::vec(prop::collection::vec(any::<i64>(), 0..300), 1..40)) {
            let params = Params::new(11, 5, -1, 1).unwrap();
            let sets: Vec<Hll> = sets.iter().map(|h| set_of(params, h)).collect();
            let mut sequential = sets[0].clone();
            let mut union = HllUnion::default();
            for set in &sets[1..] {
                sequential.union(set).unwrap();
            }
            for set in sets {
                union.add(set).unwrap();
            }
            prop_assert_eq!(union.finish(), Some(sequential));
        }
    }

    #[test]
    fn merged_unions_equal_one_union() {
        let params = Params::new(11, 5, -1, 1).unwrap();
        let (mut a, mut b) = (HllUnion::default(), HllUnion::default());
        for i in 0..50i64 {
            let set = set_of(params, &[i * 7, i * 13 + 1, -i]);
            if i % 2 == 0 {
                a.add(set).unwrap()
            } else {
                b.add(set).unwrap()
            }
        }
        let all: Vec<i64> = (0..50i64).flat_map(|i| [i * 7, i * 13 + 1, -i]).collect();
        a.merge(&b).unwrap();
        assert_eq!(a.finish(), Some(set_of(params, &all)));
        assert_eq!(HllUnion::default().finish(), None);
    }

    #[test]
    fn other_parameters_are_refused() {
        let mut union = HllUnion::of(Hll::new(Params::new(11, 5, -1, 1).unwrap()));
        let other = set_of(Params::new(12, 5, -1, 1).unwrap(), &[1, 2]);
        assert!(union.add(other).is_err());
    }
}
