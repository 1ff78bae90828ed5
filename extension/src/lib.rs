//! The `tally` PostgreSQL extension: the SQL face of `tally-core`.
//!
//! This crate stays thin: it declares the schema shipped from `sql/` and binds core
//! modules to SQL functions. Algorithms live in `tally-core`, tested without Postgres.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

// Tables, roles and plain-SQL functions, written by hand in `sql/` so they read as SQL.
// `bootstrap` puts them before every generated function, which may then refer to them.
pgrx::extension_sql_file!("../../sql/schema.sql", name = "schema", bootstrap);

/// The version of the loaded extension library, which can differ from the installed
/// SQL version (`pg_extension.extversion`) after an upgrade until `ALTER EXTENSION`.
#[pg_extern(immutable, parallel_safe)]
fn library_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
