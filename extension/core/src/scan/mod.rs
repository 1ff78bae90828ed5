//! The decisions of a relational scan over segments (`SELECT … FROM tally.events`):
//! which segments a query can skip ([`Bounds`]), which columns it decodes, and which of
//! its filters run on dictionary codes ([`CodeFilter`]). The extension translates
//! Postgres expressions into these and leaves every filter to Postgres as well, so a
//! decision here may only ever drop rows the query would drop anyway: every test is
//! conservative, never exact by assumption.

pub mod agg;
mod batches;
mod bounds;
mod decode;
mod filter;
mod order;
mod selection;

pub use batches::batches;
pub use bounds::Bounds;
pub use decode::{decode, without_reading, Decoded};
pub use filter::{CodeFilter, CodeTest};
pub use order::{ts_column, Direction, Step, TsMerge};
pub use selection::Selection;
