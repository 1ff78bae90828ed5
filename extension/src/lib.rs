//! The `tally` PostgreSQL extension: the SQL face of `tally-core`.
//!
//! This crate stays thin: it declares the schema shipped from `sql/` and binds core
//! modules to SQL functions. Algorithms live in `tally-core`, tested without Postgres.

use pgrx::prelude::*;

mod alerts;
mod api;
mod gucs;
mod heap;
mod ingest;
mod query;
mod rollup;
mod scan;
mod sketch;
mod spi_value;
mod storage;
mod worker;

::pgrx::pg_module_magic!(name, version);

/// Every Rust allocation of the extension (mimalloc, see Cargo.toml, counted for
/// `tally.query_memory_mb`); memory handed to Postgres is palloc'd by pgrx as before.
#[global_allocator]
static ALLOCATOR: heap::Counted = heap::Counted;

// Tables, types and plain-SQL functions, written by hand in `sql/` so they read as SQL.
// `bootstrap` puts schema.sql before every generated function; the others are ordered
// against the Rust functions they use.
pgrx::extension_sql_file!("../../sql/schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!("../../sql/storage.sql", name = "storage", requires = [hot_generation]);
pgrx::extension_sql_file!("../../sql/relations.sql", name = "relations", requires = ["storage", segment_arrays, scan_ready]);
// Sketch types and aggregates, declared by hand against `sql = false` Rust functions.
pgrx::extension_sql_file!("../../sql/hll.sql", name = "hll");
pgrx::extension_sql_file!("../../sql/ddsketch.sql", name = "ddsketch", requires = ["hll"]);
pgrx::extension_sql_file!("../../sql/rollups.sql", name = "rollups", requires = ["relations", "ddsketch"]);
pgrx::extension_sql_file!("../../sql/rollup_rows.sql", name = "rollup_rows", requires = ["rollups", rollup_block_rows]);
pgrx::extension_sql_file!("../../sql/ingest.sql", name = "ingest");
pgrx::extension_sql_file!("../../sql/query.sql", name = "query", requires = ["schema"]);
// Users, roles and row-level security: after every per-site table and the functions it
// takes away from PUBLIC.
pgrx::extension_sql_file!(
    "../../sql/auth.sql",
    name = "auth",
    requires = [
        "relations",
        "ingest",
        "query",
        "rollups",
        "rollup_rows",
        ingest_batch,
        compact,
        apply_retention,
        erase_visitor,
        rebuild_rollups,
        rollups_recompute,
        build_daily_rollups,
        rollup_rows_to_blocks,
        import_events
    ]
);
// Alerts: rules checked by a Rust function, evaluated by another; row-level security
// as auth.sql sets it up for every per-site table.
pgrx::extension_sql_file!(
    "../../sql/alerts.sql",
    name = "alerts",
    requires = ["auth", alert_rule_normalize, evaluate_alerts, evaluate_alert]
);
// What the gateway's /metrics reads from the database, for its role.
pgrx::extension_sql_file!("../../sql/monitoring.sql", name = "monitoring", requires = ["alerts"]);
// Saved segments: their filters checked by a Rust function, row-level security by
// the site memberships auth.sql defines.
pgrx::extension_sql_file!("../../sql/saved_segments.sql", name = "saved_segments", requires = ["auth", check_segment_filters]);
// Public shared links: their roles, policies and unlocks (the table is in auth.sql).
pgrx::extension_sql_file!("../../sql/sharing.sql", name = "sharing", requires = ["auth"]);
// Scheduled email reports: schedules, their state and sends.
pgrx::extension_sql_file!("../../sql/reports.sql", name = "reports", requires = ["auth"]);
// Imported aggregates of other analytics tools, and the gateway's raw-import jobs.
pgrx::extension_sql_file!("../../sql/imports.sql", name = "imports", requires = ["auth", import_events]);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    heap::keep_freed_memory();
    scan::init();
    // The worker can only be registered while shared_preload_libraries load.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        worker::register();
    }
}

/// The version of the loaded extension library, which can differ from the installed
/// SQL version (`pg_extension.extversion`) after an upgrade until `ALTER EXTENSION`.
#[pg_extern(immutable, parallel_safe)]
fn library_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
