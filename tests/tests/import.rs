//! History import through real Postgres (`tally.import_events`, docs/import.md): the
//! rows of a staging table become the same events, hourly rollups and daily rollups
//! that loading them into the hot table and compacting gives, without passing through
//! the hot table; a bad row is named by position and field, and nothing of its import
//! is stored while what was stored before stays; an import read in many chunks
//! reports its progress and stores the same as one read at once.

use std::sync::{Arc, Mutex};

use tally_tests::TestDb;
use tokio_postgres::{AsyncMessage, NoTls};

/// A fixed end time (2024-03-31 00:00 UTC): the hours are settled and the days ready.
const END_US: i64 = 1_711_843_200_000_000;

/// The event's columns, as the core declares them, for `SELECT` lists.
fn columns() -> String {
    tally_core::event::COLUMNS.join(", ")
}

/// What a database stores: the events (count, a checksum of visitor ids, distinct
/// paths), every hourly and daily rollup row, and the hot rows left.
async fn stored(db: &TestDb) -> (String, Vec<String>, Vec<String>, i64) {
    let events = db.value("SELECT count(*) || '/' || sum(visitor_id % 1000) || '/' || count(DISTINCT pathname) FROM tally.events").await;
    let rows = |sql: &'static str| async move { db.query(sql).await.iter().map(|r| r.get(0)).collect::<Vec<String>>() };
    let hourly = rows("SELECT r::text FROM tally.rollup_rows r ORDER BY site_id, dimension, hour, value NULLS FIRST").await;
    let daily = rows("SELECT r::text FROM tally.rollups_daily r ORDER BY site_id, dimension, day, value NULLS FIRST").await;
    (events, hourly, daily, db.value("SELECT count(*) FROM tally.events_hot").await)
}

/// Moves the hot rows into a new table `staging (LIKE tally.event)`.
async fn hot_to_staging(db: &TestDb) {
    let columns = columns();
    db.client
        .batch_execute(&format!(
            "CREATE TABLE staging (LIKE tally.event); INSERT INTO staging SELECT {columns} FROM tally.events_hot; TRUNCATE tally.events_hot"
        ))
        .await
        .expect("staging");
}

/// What loading 6,000 events into the hot table and compacting them stores, and how
/// many events that was.
async fn compacted() -> ((String, Vec<String>, Vec<String>, i64), u64) {
    let compacted = TestDb::create().await;
    let loaded = compacted.load(6_000, 3, 2, END_US).await;
    compacted.query("SELECT tally.compact()").await;
    compacted.query("SELECT tally.build_daily_rollups()").await;
    let expected = stored(&compacted).await;
    assert!(expected.1.len() > 100 && expected.2.len() >= 6, "{} hourly, {} daily rows", expected.1.len(), expected.2.len());
    (expected, loaded)
}

/// A second connection to `db`, and the NOTICEs it receives.
async fn with_notices(db: &TestDb) -> (tokio_postgres::Client, Arc<Mutex<Vec<String>>>) {
    let (client, mut connection) = tokio_postgres::connect(&db.url, NoTls).await.expect("connect");
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = notices.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notice(notice) = message {
                sink.lock().unwrap().push(notice.message().to_owned());
            }
        }
    });
    (client, notices)
}

#[tokio::test]
async fn an_import_stores_what_loading_and_compacting_stores() {
    let (expected, loaded) = compacted().await;
    let imported = TestDb::create().await;
    imported.load(6_000, 3, 2, END_US).await;
    hot_to_staging(&imported).await;
    let count: i64 = imported.value("SELECT tally.import_events('staging')").await;
    assert_eq!(count as u64, loaded);
    assert_eq!(stored(&imported).await, expected, "the import stored something else than loading and compacting");
}

#[tokio::test]
async fn an_import_in_many_chunks_reports_progress_and_stores_the_same() {
    let columns = columns();
    let (expected, loaded) = compacted().await;
    // In time order, as exports come, in chunks of more than a day: each site's last
    // day waits for the next chunk, so every site-day is encoded once (no segment
    // merged away: their ids have no gaps).
    let imported = TestDb::create().await;
    imported.load(6_000, 3, 2, END_US).await;
    imported
        .client
        .batch_execute(&format!(
            "CREATE TABLE staging (LIKE tally.event); INSERT INTO staging SELECT {columns} FROM tally.events_hot ORDER BY ts;
             TRUNCATE tally.events_hot"
        ))
        .await
        .expect("staging");
    let (client, notices) = with_notices(&imported).await;
    client.batch_execute("SET tally.import_chunk_rows = 2500").await.expect("set");
    let count: i64 = client.query_one("SELECT tally.import_events('staging')", &[]).await.expect("import").get(0);
    assert_eq!(count as u64, loaded);
    assert_eq!(stored(&imported).await, expected, "an import in chunks stored something else");
    let ids = "SELECT (count(*) = count(DISTINCT (site_id, day)) AND max(segment_id) - min(segment_id) + 1 = count(*))::text \
               FROM tally.segments";
    assert_eq!(imported.value::<String>(ids).await, "true", "a site-day was encoded more than once");
    let notices = notices.lock().unwrap().clone();
    let progress: Vec<&String> = notices.iter().filter(|n| n.contains("events stored as segments")).collect();
    assert!(progress.len() >= 3, "{notices:?}");
    assert!(progress
        .last()
        .unwrap()
        .starts_with(&format!("tally.import_events: {loaded} events stored as segments, 100% of staging read")));
    assert!(notices.last().unwrap().starts_with(&format!("tally.import_events: {loaded} events imported")), "{notices:?}");

    // In no order, in chunks of less than a day: more rows than a chunk would wait, so
    // days are encoded in parts and merged.
    let shuffled = TestDb::create().await;
    shuffled.load(6_000, 3, 2, END_US).await;
    shuffled
        .client
        .batch_execute(&format!(
            "CREATE TABLE staging (LIKE tally.event);
             INSERT INTO staging SELECT {columns} FROM tally.events_hot ORDER BY hashint8(visitor_id), ts DESC;
             TRUNCATE tally.events_hot; SET tally.import_chunk_rows = 1000"
        ))
        .await
        .expect("staging");
    let count: i64 = shuffled.value("SELECT tally.import_events('staging')").await;
    assert_eq!(count as u64, loaded);
    assert_eq!(stored(&shuffled).await, expected, "an import in no order stored something else");

    // A bad row in a later chunk is named by its place in the table, not in its chunk.
    shuffled
        .client
        .batch_execute(&format!(
            "CREATE TABLE later (LIKE tally.event);
             INSERT INTO later SELECT {columns} FROM tally.events ORDER BY ts, visitor_id LIMIT 2499;
             INSERT INTO later SELECT {bad} FROM tally.events LIMIT 1;
             INSERT INTO later SELECT {columns} FROM tally.events ORDER BY ts, visitor_id OFFSET 2499",
            bad = columns.replacen("site_id,", "99,", 1)
        ))
        .await
        .expect("later");
    // Its place in the table as a sequential scan reads it.
    let place: i64 = shuffled.value("SELECT n FROM (SELECT row_number() OVER () AS n, site_id FROM later) s WHERE site_id = 99").await;
    assert!(place > 2_000, "row {place}");
    let named = format!("row {place} of later: site_id 99 is not in tally.sites");
    shuffled.assert_error_with_hint("SELECT tally.import_events('later')", &named).await;
    assert_eq!(stored(&shuffled).await, expected, "a failed import changed what was stored");
}

/// The import reads short text and `{}` props in place and detoasts the rest: values
/// stored compressed in the row, out of line uncompressed and out of line compressed,
/// and empty, small and large props, come back as they were staged.
#[tokio::test]
async fn an_import_keeps_long_and_toasted_values() {
    let columns = columns();
    let db = TestDb::create().await;
    db.load(300, 1, 1, END_US).await;
    hot_to_staging(&db).await;
    db.client
        .batch_execute(
            "ALTER TABLE staging ALTER COLUMN utm_content SET STORAGE EXTERNAL;
             UPDATE staging SET props = '{}' WHERE visitor_id % 5 = 0;
             UPDATE staging SET referrer = 'https://long.example/' || repeat('a', 5000) || visitor_id WHERE visitor_id % 3 = 0;
             UPDATE staging SET utm_content = 'c' || repeat(md5(visitor_id::text), 100) WHERE visitor_id % 4 = 0;
             UPDATE staging SET city = (SELECT string_agg(((i * 7919 + visitor_id % 1000) % 100000)::text, ',')
                                        FROM generate_series(1, 20000) i) WHERE visitor_id % 7 = 0;
             UPDATE staging SET props = jsonb_build_object('big', repeat('b', 4000), 'n', visitor_id::text) WHERE visitor_id % 6 = 0;",
        )
        .await
        .expect("staging");
    let storage = "SELECT (count(*) FILTER (WHERE pg_column_compression(referrer) IS NOT NULL) > 0
                     AND count(*) FILTER (WHERE pg_column_size(utm_content) < length(utm_content)) = 0
                     AND count(*) FILTER (WHERE pg_column_size(city) < length(city)) > 0
                     AND count(*) FILTER (WHERE props = '{}') > 0 AND count(*) FILTER (WHERE props ? 'big') > 0
                     AND count(*) FILTER (WHERE props <> '{}' AND NOT props ? 'big') > 0)::text FROM staging";
    assert_eq!(db.value::<String>(storage).await, "true", "the staged values are not stored as the test means");
    let count: i64 = db.value("SELECT tally.import_events('staging')").await;
    assert_eq!(count, 300);
    let differ = format!(
        "SELECT count(*) FROM ((SELECT {columns} FROM staging EXCEPT ALL SELECT {columns} FROM tally.events)
                               UNION ALL (SELECT {columns} FROM tally.events EXCEPT ALL SELECT {columns} FROM staging)) d"
    );
    assert_eq!(db.value::<i64>(&differ).await, 0, "imported events differ from the staged rows");
}

#[tokio::test]
async fn a_bad_row_is_named_and_nothing_of_its_import_is_stored() {
    let columns = columns();
    let db = TestDb::create().await;
    db.load(2_000, 2, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let before = stored(&db).await;
    // A hundred good rows of ten days earlier, then a row without a path.
    db.client
        .batch_execute(&format!(
            "CREATE TABLE staging (LIKE tally.event);
             INSERT INTO staging SELECT {earlier} FROM tally.events ORDER BY ts LIMIT 100;
             INSERT INTO staging SELECT {columns} FROM staging LIMIT 1;",
            earlier = columns.replacen(" ts,", " ts - interval '10 days',", 1)
        ))
        .await
        .expect("staging");
    db.query("UPDATE staging SET pathname = NULL WHERE ctid = (SELECT max(ctid) FROM staging)").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "row 101 of staging: pathname is NULL").await;
    assert_eq!(stored(&db).await, before, "a failed import changed what was stored");

    db.query("UPDATE staging SET pathname = '/', site_id = 99 WHERE pathname IS NULL").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "site_id 99 is not in tally.sites").await;
    assert_eq!(stored(&db).await, before);
    // Values the column types allow but an event cannot hold.
    db.query("UPDATE staging SET site_id = 1, ts = 'infinity' WHERE site_id = 99").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "row 101 of staging: ts is infinity").await;
    db.query("UPDATE staging SET ts = '2024-03-01', props = '[1, 2]' WHERE ts = 'infinity'").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "row 101 of staging: props is not a JSON object").await;
    assert_eq!(stored(&db).await, before);

    db.query("CREATE TABLE wrong (site_id int, ts timestamptz)").await;
    db.assert_error_with_hint("SELECT tally.import_events('wrong')", "is not a table with the columns of tally.event").await;
    // Row-level security would filter rows the heap scan reads: refused, not bypassed.
    db.query("ALTER TABLE staging ENABLE ROW LEVEL SECURITY").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "staging has row-level security").await;
    db.query("ALTER TABLE staging DISABLE ROW LEVEL SECURITY").await;
    db.query("ALTER TABLE staging DROP COLUMN props, ADD COLUMN props jsonb").await;
    db.assert_error_with_hint("SELECT tally.import_events('staging')", "is not a table with the columns of tally.event").await;
}
