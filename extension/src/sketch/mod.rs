//! SQL types and aggregates over `tally_core::sketch`: `tally.hll` (byte-compatible
//! with postgresql-hll) and `tally.ddsketch` (quantiles). The SQL declarations are
//! hand-written in `sql/hll.sql` and `sql/ddsketch.sql`, as postgresql-hll's are, so the types, casts, operators and
//! aggregates read as one file; the functions here are bound with `sql = false`.

mod agg_state;
mod ddsketch;
mod error;
mod hll_agg;
mod hll_fns;
mod hll_io;
mod hll_settings;
