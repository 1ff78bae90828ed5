//! Aggregates computed inside the scan (TallyAgg): `count`, `count(DISTINCT)`, `sum`,
//! `avg`, `min` and `max` with `FILTER` clauses on dictionary codes, grouped by event
//! columns and `date_trunc(unit, ts)`, over the rows a relational scan selects
//! ([`super::decode`]). The extension decides whether a query's aggregation fits a
//! [`Spec`] and turns the groups into tuples; what does not fit runs in Postgres.

mod buckets;
mod chunk;
mod spec;
mod state;

pub use buckets::Buckets;
pub use spec::{Func, Key, Spec, Unit, MAX_KEYS};
pub use state::{Aggregation, Filter, Value};

#[cfg(test)]
mod tests;
