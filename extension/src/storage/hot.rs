//! The hot ring: which partition of `tally.events_hot` a transaction writes to.
//!
//! Generation = (transaction start / SLOT) mod HOT_PARTITIONS. All rows of one
//! transaction land in one partition, and a partition stops receiving new transactions
//! once its slot has passed, so compaction can drain it and TRUNCATE it.

use pgrx::pg_sys;

/// Partitions in the ring (`tally.events_hot_0` .. `_3`, created in sql/storage.sql).
/// Four leaves room for one being written, the next one, which a compaction pass leaves
/// alone so that a long pass never holds the partition writers move to
/// (`storage::compact::compact`), and two closed ones a pass drains (the one just
/// closed may have writers still committing: the pass waits for them).
pub const HOT_PARTITIONS: i64 = 4;

/// Length of a generation's slot. Matches the default compaction interval, so each
/// pass finds about one closed partition: a few seconds of events, a bounded batch.
pub const SLOT_US: i64 = 5_000_000;

/// The generation of a transaction that started at `start` (µs, any epoch).
pub fn generation_at(start_us: i64) -> i16 {
    (start_us.div_euclid(SLOT_US).rem_euclid(HOT_PARTITIONS)) as i16
}

/// The generation new rows of the current transaction go to.
pub fn current_generation() -> i16 {
    generation_at(unsafe { pg_sys::GetCurrentTransactionStartTimestamp() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_cycle_through_the_ring_by_slot() {
        assert_eq!(generation_at(0), 0);
        assert_eq!(generation_at(SLOT_US - 1), 0);
        assert_eq!(generation_at(SLOT_US), 1);
        assert_eq!(generation_at(4 * SLOT_US), 0);
        assert_eq!(generation_at(-1), 3);
    }
}
