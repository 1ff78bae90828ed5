//! The extension's schema in a database as named items, so that a database upgraded
//! with `ALTER EXTENSION tally UPDATE` can be compared with a fresh install item by item
//! and a difference reported as what the upgrade script lacks (docs/upgrades.md).
//!
//! Three views, each keyed so that creation order and OIDs do not matter:
//! - the extension's members and the tables and sequences it hands to pg_dump;
//! - every function of schema `tally` as `\df+` shows it, with its C symbol;
//! - `pg_dump --schema-only` of every object, one item per dump entry. pg_dump leaves
//!   extension members out, so [`snapshot`] first takes them out of the extension (the
//!   database is not usable afterwards: use one made for the comparison).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::Command;

use crate::cluster::{pg_program, TestDb};

/// Item name (e.g. `dump: Name: sites; Type: TABLE; Schema: tally`) → its definition.
pub type Schema = BTreeMap<String, String>;

const MEMBERS: &str = "SELECT 'member: ' || pg_describe_object(d.classid, d.objid, d.objsubid), ''
    FROM pg_depend d JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
    WHERE e.extname = 'tally' AND d.deptype = 'e'";

const DUMPED_TABLES: &str = "SELECT 'pg_dump carries: ' || t.rel::regclass::text,
        format('SELECT pg_catalog.pg_extension_config_dump(%L, %L);', t.rel::regclass::text, coalesce(t.cond, ''))
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS t(rel, cond) WHERE e.extname = 'tally'";

const FUNCTIONS: &str = "SELECT 'function: ' || p.oid::regprocedure::text,
        format('returns %s; kind %s; volatility %s; parallel %s; strict %s; security definer %s; leakproof %s; \
                cost %s; rows %s; config %s; language %s; symbol %s; acl %s',
               pg_get_function_result(p.oid), p.prokind, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef,
               p.proleakproof, p.procost, p.prorows, p.proconfig, l.lanname,
               CASE WHEN l.lanname = 'c' THEN p.prosrc END, p.proacl)
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'tally'::regnamespace";

/// The schema of `db`'s extension; leaves `db` without extension members.
pub async fn snapshot(db: &TestDb) -> Schema {
    let mut schema = Schema::new();
    for query in [MEMBERS, DUMPED_TABLES, FUNCTIONS] {
        for row in db.query(query).await {
            insert(&mut schema, row.get(0), row.get(1));
        }
    }
    db.query(
        "DELETE FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
           AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tally')",
    )
    .await;
    let out = Command::new(pg_program("pg_dump")).args(["--schema-only", "-d", &db.url]).output().expect("run pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    for (name, body) in dump_entries(&String::from_utf8_lossy(&out.stdout)) {
        insert(&mut schema, format!("dump: {name}"), body);
    }
    schema
}

/// A second item of the same name (pg_dump repeats some, e.g. per-column comments) gets
/// a counter rather than replacing the first.
fn insert(schema: &mut Schema, name: String, body: String) {
    let mut key = name.clone();
    let mut n = 1;
    while schema.contains_key(&key) {
        n += 1;
        key = format!("{name} ({n})");
    }
    schema.insert(key, body);
}

/// pg_dump's entries: each starts with a comment block `-- Name: x; Type: T; Schema: s;
/// Owner: o`; the owner is left out of the name (both databases belong to one role).
fn dump_entries(dump: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in dump.lines() {
        if let Some(header) = line.strip_prefix("-- ").filter(|h| h.starts_with("Name: ")) {
            let name = header.split("; Owner: ").next().unwrap_or(header);
            entries.push((name.to_owned(), String::new()));
        } else if let Some((_, body)) = entries.last_mut() {
            // Comments and psql's per-dump `\restrict` keys are not schema.
            if !line.trim().is_empty() && !line.starts_with("--") && !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict") {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    entries
}

/// What differs between a fresh install and an upgraded database, item by item, as
/// what the upgrade script must add, drop or change; empty when they are the same.
pub fn differences(fresh: &Schema, upgraded: &Schema) -> String {
    let mut out = String::new();
    for (name, body) in fresh {
        match upgraded.get(name) {
            None => {
                let _ = writeln!(out, "only in a fresh install (the upgrade script must create it): {name}\n{}", indent(body));
            }
            Some(theirs) if theirs != body => {
                let diff = similar::TextDiff::from_lines(theirs, body);
                let _ = writeln!(
                    out,
                    "differs (- after the upgrade, + in a fresh install): {name}\n{}",
                    indent(&diff.unified_diff().context_radius(2).to_string())
                );
            }
            Some(_) => {}
        }
    }
    for (name, body) in upgraded {
        if !fresh.contains_key(name) {
            let _ = writeln!(out, "only after the upgrade (the upgrade script must drop it): {name}\n{}", indent(body));
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
