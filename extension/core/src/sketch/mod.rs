//! Mergeable sketches: HyperLogLog for distinct counts and DDSketch for quantiles.
//!
//! Both merge exactly (registers take the max, bucket counts add), so a sketch of a
//! union equals the union of sketches, whatever the order; rollups and parallel
//! aggregates rely on that.

pub mod ddsketch;
pub mod hash;
pub mod hll;
