//! The stats query: `tally.query(jsonb) returns jsonb`, and `tally.query_batch` for
//! several at once.

use pgrx::prelude::*;
use pgrx::JsonB;

/// Answers a stats query shaped like Plausible's Stats API v2, e.g.
/// `SELECT tally.query('{"site_id": "example.com", "date_range": "7d", "metrics": ["visitors"]}')`.
/// A bad query raises SQLSTATE 22023 naming the field in DETAIL and HINT.
#[pg_extern(stable, parallel_restricted, requires = ["query"])]
fn query(query: JsonB) -> JsonB {
    crate::storage::hot_snapshot::reading(|| crate::query::run(&query.0))
}

/// Answers an array of stats queries (at most 50) in one statement: an array of their
/// answers in order, a bad query's place holding `{"error": {"field", "message"}}`.
/// Queries of the same site and range that need a scan share one, e.g.
/// `SELECT tally.query_batch('[{"site_id": "example.com", "date_range": "30d", "metrics": ["visitors"],
/// "dimensions": ["event:page"]}, {"site_id": "example.com", "date_range": "30d", "metrics": ["visitors"],
/// "dimensions": ["visit:source"]}]')`.
///
/// With `part` and `parts` (1 of 1 by default), only the `part`-th of `parts` shares
/// of the batch is answered, the others' places holding `null`: several connections
/// answer one batch side by side, each a share, every backend dividing it alike (the
/// gateway does this for the dashboard; see `tally_core::query::divide`).
#[pg_extern(stable, parallel_restricted, requires = ["query"])]
fn query_batch(queries: JsonB, part: default!(i32, 1), parts: default!(i32, 1)) -> JsonB {
    crate::storage::hot_snapshot::reading(|| crate::query::run_batch(&queries.0, part, parts))
}

/// Checks the filters a saved segment is stored with (tally.saved_segments), as a query's
/// `filters` are checked: a bad one raises SQLSTATE 22023 naming its field
/// (`filters[0][1]`), which the gateway answers as a 400 at that field.
#[pg_extern(immutable, parallel_safe)]
fn check_segment_filters(filters: JsonB) {
    if let Err(e) = tally_core::query::saved_segments::check(&filters.0) {
        crate::query::reject_field(e, "tally.check_segment_filters", "the segment's filters");
    }
}

// The statements tally.query runs are short and its own threads use the cores: JIT
// compiling them took 61 ms of a 150 ms page breakdown from rollups (the planner
// overestimates the rollup rows past jit_above_cost), and parallel workers cost 35 ms
// more there than they saved (aggregate states serialized between processes). The
// function's own settings leave the caller's untouched.
extension_sql!(
    "ALTER FUNCTION tally.query(jsonb) SET jit = off SET max_parallel_workers_per_gather = 0;
     ALTER FUNCTION tally.query_batch(jsonb, int, int) SET jit = off SET max_parallel_workers_per_gather = 0;",
    name = "query_settings",
    requires = [query, query_batch]
);
