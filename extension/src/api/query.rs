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
