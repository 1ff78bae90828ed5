//! The event's columns are declared once, in `tally_core::event::SCHEMA`; the SQL that
//! spells them again (sql/schema.sql's `tally.event`, `tally.events_hot`,
//! `tally.event_arrays`, and the `tally.events` view over the scan) must agree with it
//! in names, order and types, so a column added in the core and forgotten in SQL (or
//! the reverse) fails here rather than at the first query that reads it.

use tally_core::event::SCHEMA;
use tally_tests::cluster::TestDb;

/// `relation`'s columns as (name, type) in order, those of `tally.events_hot`
/// without the storage bookkeeping that is not an event column.
async fn columns(db: &TestDb, relation: &str) -> Vec<(String, String)> {
    db.query(&format!(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = '{relation}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    ))
    .await
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[tokio::test]
async fn the_sql_spells_the_event_as_the_core_declares_it() {
    let db = TestDb::create().await;
    let declared: Vec<(String, String)> = SCHEMA.iter().map(|(name, t)| (name.to_string(), t.sql_name().to_string())).collect();
    assert_eq!(columns(&db, "tally.event").await, declared, "tally.event");
    assert_eq!(columns(&db, "tally.events").await, declared, "the tally.events view");
    let arrays: Vec<(String, String)> = declared.iter().map(|(name, t)| (name.clone(), format!("{t}[]"))).collect();
    assert_eq!(columns(&db, "tally.event_arrays").await, arrays, "tally.event_arrays");
    let hot = columns(&db, "tally.events_hot").await;
    let hot_events: Vec<(String, String)> = hot.into_iter().filter(|(name, _)| SCHEMA.iter().any(|(c, _)| c == name)).collect();
    assert_eq!(hot_events.len(), SCHEMA.len(), "tally.events_hot has every event column");
    let mut by_name = hot_events.clone();
    by_name.sort();
    let mut expected = declared.clone();
    expected.sort();
    assert_eq!(by_name, expected, "tally.events_hot's event columns and their types");
}
