//! Group numbers of a view's keys: the lookup a scan makes for every qualifying row.
//!
//! A key packs one 32-bit part per dimension (query-wide dictionary codes, time
//! buckets, goal indices), so a key of one dimension is a small dense number (codes
//! are handed out from 1 upward) and is looked up in a plain array; only keys of
//! several dimensions, which can be any 128-bit value, go through a hash map. Which
//! side a key uses depends on its value alone, so a key always finds the same group.

use rustc_hash::FxHashMap;

/// Keys below this are numbered through the array (4 MiB of `u32` at most); a
/// one-dimension key exceeds it only with more than four million distinct values.
const DENSE_KEYS: u128 = 1 << 20;

/// No group yet, in the dense array.
const NONE: u32 = u32::MAX;

/// Maps keys to group numbers `0..len`, handed out in order of first sight.
#[derive(Debug, Default)]
pub(crate) struct GroupTable {
    dense: Vec<u32>,
    hashed: FxHashMap<u128, u32>,
    keys: Vec<u128>,
}

impl GroupTable {
    /// The group of `key`, numbered next if new.
    #[inline]
    pub fn group(&mut self, key: u128) -> u32 {
        if key < DENSE_KEYS {
            let k = key as usize;
            if k >= self.dense.len() {
                self.dense.resize(k + 1, NONE);
            }
            if self.dense[k] == NONE {
                self.dense[k] = self.keys.len() as u32;
                self.keys.push(key);
            }
            self.dense[k]
        } else {
            let next = self.keys.len() as u32;
            let group = *self.hashed.entry(key).or_insert(next);
            if group == next {
                self.keys.push(key);
            }
            group
        }
    }

    /// The group of the one-dimension key `code`, if it has one already.
    #[inline(always)]
    pub fn known(&self, code: u32) -> Option<u32> {
        self.dense.get(code as usize).copied().filter(|&group| group != NONE)
    }

    /// Every key, by group number.
    pub fn keys(&self) -> &[u128] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn numbers_keys_in_order_of_first_sight(keys in proptest::collection::vec(prop_oneof![
            0u128..5, DENSE_KEYS - 2..DENSE_KEYS + 2, Just(u128::from(u32::MAX)), any::<u128>()], 0..200)) {
            let mut table = GroupTable::default();
            let mut expected: Vec<u128> = Vec::new();
            for key in keys {
                let group = table.group(key);
                let want = expected.iter().position(|&k| k == key).unwrap_or_else(|| {
                    expected.push(key);
                    expected.len() - 1
                });
                prop_assert_eq!(group as usize, want);
            }
            prop_assert_eq!(table.keys(), expected.as_slice());
        }
    }

    #[test]
    fn null_codes_and_multi_part_keys_are_groups_of_their_own() {
        let mut table = GroupTable::default();
        // NULL code 0 of one dimension; (0, 0), (1, 0) and (0, 1) of two.
        assert_eq!(table.group(0), 0);
        assert_eq!(table.group(1), 1);
        assert_eq!(table.group(1 << 32), 2);
        assert_eq!(table.group(0), 0);
        assert_eq!(table.group(1 << 32), 2);
        assert_eq!(table.keys(), [0, 1, 1 << 32]);
    }
}
