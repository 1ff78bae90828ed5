//! The stats query: `tally.query(jsonb) returns jsonb`.

use pgrx::prelude::*;
use pgrx::JsonB;

/// Answers a stats query shaped like Plausible's Stats API v2, e.g.
/// `SELECT tally.query('{"site_id": "example.com", "date_range": "7d", "metrics": ["visitors"]}')`.
/// A bad query raises SQLSTATE 22023 naming the field in DETAIL and HINT.
#[pg_extern(stable, parallel_restricted, requires = ["query"])]
fn query(query: JsonB) -> JsonB {
    crate::query::run(&query.0)
}

// The statements tally.query runs are short and its own threads use the cores: JIT
// compiling them took 61 ms of a 150 ms page breakdown from rollups (the planner
// overestimates the rollup rows past jit_above_cost), and parallel workers cost 35 ms
// more there than they saved (aggregate states serialized between processes). The
// function's own settings leave the caller's untouched.
extension_sql!(
    "ALTER FUNCTION tally.query(jsonb) SET jit = off SET max_parallel_workers_per_gather = 0;",
    name = "query_settings",
    requires = [query]
);
