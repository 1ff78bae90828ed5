//! Imports (docs/import.md) through the real gateway and Postgres: Plausible's CSV
//! export (a zip built here with Plausible's file names and columns) stored as imported
//! data through `POST /api/v1/imports`; raw events from CSV, NDJSON and Parquet (written
//! here with the parquet crate) through the CLI and the API, into `tally.import_events`;
//! and malformed files, each reported with its file, row and field while nothing of it
//! is stored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::{json, Value};
use tally_gateway::config::ImportConfig;
use tally_tests::{Session, Tally};

const SITE: &str = "imports.example";

/// A zip of `(name, contents)` files, as Plausible's export is.
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip entry");
        zip.write_all(text.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// Plausible's export of January 2024 for two days: every table with Plausible's columns.
fn plausible_export() -> Vec<(&'static str, String)> {
    vec![
        (
            "imported_visitors_20240101_20240131.csv",
            "date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-01,10,30,4,12,600\n2024-01-02,5,9,1,6,300\n".into(),
        ),
        (
            "imported_sources_20240101_20240131.csv",
            "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces\n\
             2024-01-01,Google,google.com,,,,,,20,7,8,400,2\n2024-01-01,,,,,,,,10,3,4,200,2\n2024-01-02,Google,google.com,,,,,,9,5,6,300,1\n"
                .into(),
        ),
        (
            "imported_pages_20240101_20240131.csv",
            "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n\
             2024-01-01,imports.example,/,12,10,20,,0\n2024-01-01,imports.example,/pricing,5,4,10,300,4\n2024-01-02,imports.example,/,6,5,9,,0\n"
                .into(),
        ),
        (
            "imported_entry_pages_20240101_20240131.csv",
            "date,entry_page,visitors,entrances,visit_duration,bounces,pageviews\n2024-01-01,/,10,12,600,4,30\n".into(),
        ),
        (
            "imported_exit_pages_20240101_20240131.csv",
            "date,exit_page,visitors,visit_duration,exits,bounces,pageviews\n2024-01-01,/pricing,10,600,12,4,30\n".into(),
        ),
        ("imported_custom_events_20240101_20240131.csv", "date,name,link_url,path,visitors,events\n2024-01-01,Signup,,,2,2\n".into()),
        (
            "imported_locations_20240101_20240131.csv",
            "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,EE,EE-37,588409,10,12,600,4,30\n".into(),
        ),
        (
            "imported_devices_20240101_20240131.csv",
            "date,device,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,Desktop,8,9,500,3,25\n2024-01-01,Mobile,2,3,100,1,5\n".into(),
        ),
        (
            "imported_browsers_20240101_20240131.csv",
            "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,Firefox,121.0,10,12,600,4,30\n".into(),
        ),
        (
            "imported_operating_systems_20240101_20240131.csv",
            "date,operating_system,operating_system_version,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,Linux,,10,12,600,4,30\n"
                .into(),
        ),
    ]
}

fn write_export(dir: &Path, name: &str, files: &[(&str, String)]) {
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    std::fs::write(dir.join(name), zip_of(&files)).expect("write zip");
}

fn import_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tally-imports-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("import dir");
    dir
}

async fn start(dir: &Path) -> (Tally, Session) {
    let dir = dir.to_owned();
    let t = Tally::start_with(move |c| c.import_dir = Some(dir)).await;
    t.sql(&format!("SELECT tally.create_site('{SITE}')")).await;
    let admin = t.admin().await;
    (t, admin)
}

/// Starts importing `file` and waits for its job to end; its final status.
async fn import(admin: &Session, file: &str) -> Value {
    let (status, job) = admin.post("/api/v1/imports", json!({"site_id": SITE, "file": file})).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["state"], "running");
    let id = job["id"].as_i64().expect("job id");
    for _ in 0..600 {
        let (status, job) = admin.get(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import {file} did not end");
}

async fn count(t: &Tally, sql: &str) -> i64 {
    t.db.value(sql).await
}

#[tokio::test]
async fn plausibles_export_is_stored_all_or_nothing() {
    let dir = import_dir("plausible");
    let (t, admin) = start(&dir).await;
    write_export(&dir, "plausible-export.zip", &plausible_export());

    let job = import(&admin, "plausible-export.zip").await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["rows_done"], 16);
    assert_eq!(count(&t, "SELECT sum(visitors)::bigint FROM tally.imported_visitors").await, 15);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.imported_sources WHERE source = ''").await, 1);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.imported_pages WHERE scroll_depth IS NULL").await, 2);
    for table in ["entry_pages", "exit_pages", "custom_events", "locations", "browsers", "operating_systems"] {
        assert_eq!(count(&t, &format!("SELECT count(*) FROM tally.imported_{table}")).await, 1, "{table}");
    }
    let range: String = t.db.value("SELECT start_date || ' ' || end_date || ' ' || source FROM tally.site_imports").await;
    assert_eq!(range, "2024-01-01 2024-01-31 plausible_csv");

    // A bad count in one file: the job fails naming file, row and field; nothing of the
    // zip is stored, what was stored before stays.
    let mut bad = plausible_export();
    bad[2].1 = bad[2].1.replace("/pricing,5,4,10", "/pricing,5,four,10");
    for (name, _) in &mut bad {
        *name = Box::leak(name.replace("20240131", "20240229").replace("20240101", "20240201").into_boxed_str());
    }
    for (_, text) in &mut bad {
        *text = text.replace("2024-01-0", "2024-02-0");
    }
    write_export(&dir, "bad.zip", &bad);
    let job = import(&admin, "bad.zip").await;
    assert_eq!(job["state"], "failed");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("imported_pages_20240201_20240229.csv, row 2, field visitors"), "{error}");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.site_imports").await, 1);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.imported_visitors").await, 2, "the good files of the bad zip are not stored");

    // The same days again would count them twice: refused, nothing changes.
    write_export(&dir, "again.zip", &plausible_export());
    let job = import(&admin, "again.zip").await;
    assert_eq!(job["state"], "failed");
    assert!(job["error"].as_str().unwrap().contains("overlap import"), "{job}");
    assert_eq!(count(&t, "SELECT sum(visitors)::bigint FROM tally.imported_visitors").await, 15);

    // Not a zip; a header without a column of its table.
    std::fs::write(dir.join("broken.zip"), b"PK not really").unwrap();
    assert!(import(&admin, "broken.zip").await["error"].as_str().unwrap().contains("broken.zip: not a zip file"));
    write_export(&dir, "short.zip", &[("imported_devices_20240301_20240331.csv", "date,device,visitors\n".into())]);
    let error = import(&admin, "short.zip").await["error"].as_str().unwrap().to_owned();
    assert!(error.contains("imported_devices_20240301_20240331.csv, field visits"), "{error}");
}

#[tokio::test]
async fn only_administrators_import_files_of_the_import_directory() {
    let dir = import_dir("guard");
    let (t, admin) = start(&dir).await;
    write_export(&dir, "export.zip", &plausible_export());
    let site_admin = t.user_with_role(SITE, "admin").await;
    let (status, _) = site_admin.post("/api/v1/imports", json!({"site_id": SITE, "file": "export.zip"})).await;
    assert_eq!(status, 403);
    let (status, _) = site_admin.get("/api/v1/imports/1").await;
    assert_eq!(status, 403);
    std::fs::write(dir.parent().unwrap().join("outside.csv"), "ts\n").unwrap();
    for (file, field) in [("../outside.csv", "file"), ("missing.zip", "file"), ("export.txt", "file")] {
        std::fs::write(dir.join("export.txt"), "x").unwrap();
        let (status, body) = admin.post("/api/v1/imports", json!({"site_id": SITE, "file": file})).await;
        assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{file}: {body}");
    }
    let (status, body) = admin.post("/api/v1/imports", json!({"site_id": "nowhere.example", "file": "export.zip"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("site_id")));
    let (status, _) = admin.get("/api/v1/imports/999999").await;
    assert_eq!(status, 404);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.site_imports").await, 0);

    // Row-level security: members of another site see none of this site's imports, and
    // a viewer of this one may read but not load or delete them.
    assert_eq!(import(&admin, "export.zip").await["state"], "done");
    t.sql("SELECT tally.create_site('other.example')").await;
    let outsider = t.user_with_role("other.example", "admin").await;
    let viewer = t.user_with_role(SITE, "viewer").await;
    let as_role = |role: &str, sql: &str| format!("BEGIN; SET LOCAL ROLE {role}; {sql}; COMMIT;");
    let seen = |role: String| {
        let db = &t.db;
        async move {
            db.client
                .batch_execute(&as_role(&role, "CREATE TEMP TABLE seen AS SELECT count(*) AS n FROM tally.imported_visitors"))
                .await
                .unwrap();
            let n: i64 = db.value("SELECT n FROM seen").await;
            db.client.batch_execute("DROP TABLE seen").await.unwrap();
            n
        }
    };
    assert_eq!(seen(outsider.pg_role.clone()).await, 0);
    assert_eq!(seen(viewer.pg_role.clone()).await, 2);
    let deleted = t.db.client.batch_execute(&as_role(&viewer.pg_role, "DELETE FROM tally.site_imports")).await;
    t.db.client.batch_execute("ROLLBACK").await.ok();
    assert!(deleted.is_ok(), "a DELETE that row-level security filters out deletes nothing");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.imported_visitors").await, 2);
    let (status, body) = outsider
        .post(
            "/api/v2/query",
            json!({"site_id": SITE, "date_range": ["2024-01-01", "2024-01-31"], "metrics": ["visitors"], "include": {"imports": true}}),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("site_id")), "{body}");
}

/// Six events of two visits on 2024-03-01, as CSV with a header.
const EVENTS_CSV: &str = "ts,name,visitor_id,session_id,hostname,pathname,country,props\n\
    2024-03-01T10:00:00Z,pageview,1,11,imports.example,/,EE,\n\
    2024-03-01T10:01:00Z,pageview,1,11,imports.example,/pricing,EE,\n\
    2024-03-01T10:02:00Z,Signup,1,11,imports.example,/pricing,EE,\"{\"\"plan\"\":\"\"pro\"\"}\"\n\
    2024-03-01T12:00:00+02:00,pageview,2,22,imports.example,/,DE,\n\
    2024-03-01T10:05:00Z,pageview,2,22,imports.example,/docs,DE,\n\
    2024-03-01T10:06:00Z,pageview,2,22,imports.example,/docs/api,DE,\n";

async fn cli(t: &Tally, file: &Path) -> anyhow::Result<()> {
    let pools = tally_gateway::pool::Pools::build(&t.db.url, 2, 1).expect("pools");
    tally_gateway::imports::cli::run(&pools.api, &ImportConfig { file: file.to_owned(), site: SITE.into() }).await
}

#[tokio::test]
async fn raw_events_from_csv_and_ndjson_through_the_cli() {
    let dir = import_dir("cli");
    let (t, _) = start(&dir).await;
    let csv = dir.join("events.csv");
    std::fs::write(&csv, EVENTS_CSV).unwrap();
    cli(&t, &csv).await.expect("CSV import");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events").await, 6);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events_hot").await, 0, "history goes straight to segments");
    let signup: String = t.db.value("SELECT props->>'plan' FROM tally.events WHERE name = 'Signup'").await;
    assert_eq!(signup, "pro");
    let answer: Value =
        t.db.client
            .query_one(
                "SELECT tally.query($1)",
                &[&json!({"site_id": SITE, "date_range": ["2024-03-01", "2024-03-01"], "metrics": ["visitors", "visits", "pageviews"]})],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(answer["results"][0]["metrics"], json!([2, 2, 5]));

    // NDJSON whose third record has a bad visitor id: named, and nothing stored.
    let ndjson = dir.join("events.ndjson");
    let line = |ts: &str, visitor: Value| {
        json!({"ts": ts, "name": "pageview", "visitor_id": visitor, "session_id": 5, "hostname": SITE, "pathname": "/n"}).to_string()
    };
    std::fs::write(
        &ndjson,
        [
            line("2024-03-02T10:00:00Z", json!(3)),
            String::new(),
            line("2024-03-02T10:01:00Z", json!(3)),
            line("2024-03-02T10:02:00Z", json!("x3")),
        ]
        .join("\n"),
    )
    .unwrap();
    let error = cli(&t, &ndjson).await.unwrap_err().to_string();
    assert!(error.contains("events.ndjson, row 3, field visitor_id"), "{error}");
    assert!(error.contains("nothing of the file was imported"), "{error}");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events").await, 6);

    // A CSV without a required column, and one naming a column tally.event lacks.
    std::fs::write(&csv, "ts,name,visitor_id,session_id,hostname\n").unwrap();
    assert!(cli(&t, &csv).await.unwrap_err().to_string().contains("events.csv, field pathname"));
    std::fs::write(&csv, EVENTS_CSV.replace("country", "contry")).unwrap();
    assert!(cli(&t, &csv).await.unwrap_err().to_string().contains("field contry: not a column of tally.event"));
    // The good NDJSON records alone import.
    std::fs::write(&ndjson, [line("2024-03-02T10:00:00Z", json!(3)), line("2024-03-02T10:01:00Z", json!(3))].join("\n")).unwrap();
    cli(&t, &ndjson).await.expect("NDJSON import");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events").await, 8);
}

/// `events` events of visitor i % 50 over 2024-03-03, written as Parquet with a
/// microsecond timestamp column and an optional country.
fn write_parquet(path: &Path, events: usize) {
    let schema = Arc::new(
        parse_message_type(
            "message events {
                REQUIRED INT64 ts (TIMESTAMP(MICROS, true));
                REQUIRED BYTE_ARRAY name (UTF8);
                REQUIRED INT64 visitor_id;
                REQUIRED INT64 session_id;
                REQUIRED BYTE_ARRAY hostname (UTF8);
                REQUIRED BYTE_ARRAY pathname (UTF8);
                OPTIONAL BYTE_ARRAY country (UTF8);
            }",
        )
        .expect("schema"),
    );
    let file = std::fs::File::create(path).expect("parquet file");
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build())).expect("writer");
    let start_us = 1_709_424_000_000_000i64; // 2024-03-03 00:00 UTC
    let mut group = writer.next_row_group().expect("row group");
    let mut column = 0;
    while let Some(mut writer) = group.next_column().expect("column") {
        match column {
            0 | 2 | 3 => {
                let values: Vec<i64> = (0..events as i64)
                    .map(|i| match column {
                        0 => start_us + i * 60_000_000,
                        2 => i % 50,
                        _ => 1000 + i % 50,
                    })
                    .collect();
                writer.typed::<Int64Type>().write_batch(&values, None, None).expect("write");
            }
            6 => {
                let levels: Vec<i16> = (0..events).map(|i| i16::from(i % 2 == 0)).collect();
                let values: Vec<ByteArray> = (0..events).filter(|i| i % 2 == 0).map(|_| ByteArray::from("FI")).collect();
                writer.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).expect("write");
            }
            _ => {
                let values: Vec<ByteArray> = (0..events)
                    .map(|i| match column {
                        1 => ByteArray::from("pageview"),
                        4 => ByteArray::from(SITE),
                        _ => ByteArray::from(format!("/p{}", i % 7).as_str()),
                    })
                    .collect();
                writer.typed::<ByteArrayType>().write_batch(&values, None, None).expect("write");
            }
        }
        writer.close().expect("close column");
        column += 1;
    }
    group.close().expect("close row group");
    writer.close().expect("close file");
}

#[tokio::test]
async fn raw_events_from_parquet_through_the_api_report_progress() {
    let dir = import_dir("parquet");
    let (t, admin) = start(&dir).await;
    let events = tally_gateway::imports::bulk::CHUNK_ROWS + 1_234;
    write_parquet(&dir.join("events.parquet"), events);
    let job = import(&admin, "events.parquet").await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!((job["rows_done"].as_u64(), job["rows_total"].as_u64()), (Some(events as u64), Some(events as u64)));
    assert!(job["finished_at"].is_string());
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events").await, events as i64);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events WHERE country = 'FI'").await, events.div_ceil(2) as i64);
    assert_eq!(count(&t, "SELECT count(DISTINCT visitor_id) FROM tally.events").await, 50);

    // A Parquet file with a column tally.event lacks: refused before anything is read.
    std::fs::write(dir.join("junk.parquet"), b"PAR1 not really PAR1").unwrap();
    let job = import(&admin, "junk.parquet").await;
    assert_eq!(job["state"], "failed");
    assert!(job["error"].as_str().unwrap().contains("junk.parquet: not a Parquet file"), "{job}");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events").await, events as i64);
}

/// Three pageviews of two visits on 2024-01-01 (one from Google, one direct bounce), on
/// desktops spelled as exports (`Desktop`) and as the tracker (`desktop`) write them.
const JANUARY_CSV: &str = "ts,name,visitor_id,session_id,hostname,pathname,referrer_source,device\n\
    2024-01-01T10:00:00Z,pageview,1,11,imports.example,/,Google,Desktop\n\
    2024-01-01T10:01:00Z,pageview,1,11,imports.example,/pricing,Google,Desktop\n\
    2024-01-01T11:00:00Z,pageview,2,22,imports.example,/,,desktop\n";

/// The answer (200) to `base` with the keys of `extra` replaced, posted to `path`.
async fn ask(admin: Session, path: &str, mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra keys") {
        base[k] = v.clone();
    }
    let (status, answer) = admin.post(path, base).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn include_imports_adds_imported_figures_as_plausible_does() {
    let dir = import_dir("merge");
    let (t, admin) = start(&dir).await;
    let csv = dir.join("january.csv");
    std::fs::write(&csv, JANUARY_CSV).unwrap();
    cli(&t, &csv).await.expect("native events");
    let v2 = |extra: Value| {
        let base = json!({"site_id": SITE, "date_range": ["2024-01-01", "2024-01-31"], "include": {"imports": true},
            "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]});
        ask(admin.clone(), "/api/v2/query", base, extra)
    };
    // Before any import: the native figures, and why nothing was added.
    let native = v2(json!({})).await;
    assert_eq!(native["results"][0]["metrics"], json!([2, 2, 3, 50.0, 30, 1.5]));
    assert_eq!(
        (native["meta"]["imports_included"].clone(), native["meta"]["imports_skip_reason"].clone()),
        (json!(false), json!("no_imported_data"))
    );

    write_export(&dir, "export.zip", &plausible_export());
    assert_eq!(import(&admin, "export.zip").await["state"], "done");
    // Imported January: 15 visitors, 18 visits, 39 pageviews, 5 bounces, 900 s.
    let total = v2(json!({})).await;
    assert_eq!(total["results"][0]["metrics"], json!([17, 20, 42, 30.0, 48, 2.1]), "{total}");
    assert_eq!(total["meta"]["imports_included"], json!(true));
    assert!(total["meta"].get("imports_skip_reason").is_none());

    let sources =
        v2(json!({"metrics": ["visitors", "visits"], "dimensions": ["visit:source"], "include": {"imports": true, "total_rows": true}}))
            .await;
    assert_eq!(
        sources["results"],
        json!([{"dimensions": ["Google"], "metrics": [13, 15]}, {"dimensions": ["Direct / None"], "metrics": [4, 5]}]),
        "{sources}"
    );
    assert_eq!(sources["meta"]["total_rows"], 2);
    // Channels: the imported rows' from their sources and tags, the raw events' likewise.
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events WHERE channel = 'Organic Search'").await, 2);
    let channels = v2(json!({"metrics": ["visitors", "visits"], "dimensions": ["visit:channel"]})).await;
    assert_eq!(
        channels["results"],
        json!([{"dimensions": ["Organic Search"], "metrics": [13, 15]}, {"dimensions": ["Direct"], "metrics": [4, 5]}]),
        "{channels}"
    );
    let search = v2(json!({"metrics": ["visitors"], "filters": [["is", "visit:channel", ["Organic Search"]]]})).await;
    assert_eq!((search["results"][0]["metrics"].clone(), search["meta"]["imports_included"].clone()), (json!([13]), json!(true)));
    let days = v2(json!({"metrics": ["visitors"], "dimensions": ["time:day"]})).await;
    assert_eq!(
        days["results"],
        json!([{"dimensions": ["2024-01-01"], "metrics": [12]}, {"dimensions": ["2024-01-02"], "metrics": [5]}]),
        "{days}"
    );
    // A page only in the export joins the native pages; the limit applies after.
    let pages =
        v2(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "filters": [["contains", "event:page", ["pric"]]]}))
            .await;
    assert_eq!(pages["results"], json!([{"dimensions": ["/pricing"], "metrics": [5, 11]}]), "{pages}");
    // One device class is one row, however the export and the raw events spelled it.
    let devices = v2(json!({"metrics": ["visitors"], "dimensions": ["visit:device"]})).await;
    assert_eq!(
        devices["results"],
        json!([{"dimensions": ["Desktop"], "metrics": [10]}, {"dimensions": ["Mobile"], "metrics": [2]}]),
        "{devices}"
    );
    let devices = v2(json!({"metrics": ["visitors"], "dimensions": ["visit:device"], "pagination": {"limit": 1, "offset": 1}})).await;
    assert_eq!(devices["results"], json!([{"dimensions": ["Mobile"], "metrics": [2]}]), "{devices}");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.imported_devices WHERE device <> lower(device)").await, 0);
    assert_eq!(count(&t, "SELECT count(*) FROM tally.events WHERE device <> lower(device)").await, 0);

    // Where imports cannot answer: Plausible's reasons and warnings.
    let two_tables =
        v2(json!({"metrics": ["visitors"], "dimensions": ["visit:source"], "filters": [["is", "visit:device", ["Desktop"]]]})).await;
    assert_eq!(two_tables["meta"]["imports_skip_reason"], "unsupported_query");
    assert!(two_tables["meta"]["imports_warning"].as_str().unwrap().contains("query parameters are not supported"));
    let hours = v2(json!({"metrics": ["visitors"], "date_range": ["2024-01-01", "2024-01-01"], "dimensions": ["time:hour"]})).await;
    assert_eq!(
        (hours["meta"]["imports_included"].clone(), hours["meta"]["imports_skip_reason"].clone()),
        (json!(false), json!("unsupported_interval"))
    );
    let earlier = v2(json!({"date_range": ["2023-01-01", "2023-01-31"]})).await;
    assert_eq!(earlier["meta"]["imports_skip_reason"], "out_of_range");

    // v1: include.imports in the body, or Plausible's with_imported=true.
    let query = json!({"site_id": SITE, "date_range": ["2024-01-01", "2024-01-31"], "metrics": ["visitors"]});
    let (status, plain) = admin.post("/api/v1/query", query.clone()).await;
    assert_eq!((status, plain["results"][0]["metrics"].clone()), (200, json!([2])));
    let (_, with) = admin.post("/api/v1/query?with_imported=true", query.clone()).await;
    assert_eq!((with["results"][0]["metrics"].clone(), with["meta"]["imports_included"].clone()), (json!([17]), json!(true)));
    let mut included = query.clone();
    included["include"] = json!({"imports": true});
    let (_, body) = admin.post("/api/v1/query", included).await;
    assert_eq!(body["results"][0]["metrics"], json!([17]));
    let mut totals = query.clone();
    totals["dimensions"] = json!(["visit:device"]);
    totals["include"] = json!({"totals": true, "imports": true});
    let (_, body) = admin.post("/api/v1/query", totals).await;
    // The totals of a breakdown add the imported table's groups, as its rows do.
    assert_eq!((body["totals"]["metrics"].clone(), body["query"]["metrics"].clone()), (json!([12]), json!(["visitors"])), "{body}");
    // v1 names device classes as the tracker stores them.
    assert_eq!(body["results"], json!([{"dimensions": ["desktop"], "metrics": [10]}, {"dimensions": ["mobile"], "metrics": [2]}]));
    let (status, body) = admin.post("/api/v1/query?with_imported=maybe", query.clone()).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("with_imported")));
    let mut bad = query;
    bad["include"] = json!({"imports": "yes"});
    let (status, body) = admin.post("/api/v1/query", bad).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("include.imports")));

    // The batch API (the dashboard's) takes include.imports per query, merged alike; a
    // bad value is named in that query's place.
    let range = json!(["2024-01-01", "2024-01-31"]);
    let (status, batch) = admin
        .post(
            "/api/v1/query/batch",
            json!({"queries": [
                {"site_id": SITE, "date_range": range, "metrics": ["visitors"], "include": {"imports": true}},
                {"site_id": SITE, "date_range": range, "metrics": ["visitors"], "dimensions": ["visit:device"], "include": {"imports": true}},
                {"site_id": SITE, "date_range": range, "metrics": ["visitors"]},
                {"site_id": SITE, "date_range": range, "metrics": ["visitors"], "include": {"imports": "yes"}}]}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let answers = &batch["results"];
    assert_eq!((answers[0]["results"][0]["metrics"].clone(), answers[0]["meta"]["imports_included"].clone()), (json!([17]), json!(true)));
    assert_eq!(answers[1]["results"], json!([{"dimensions": ["desktop"], "metrics": [10]}, {"dimensions": ["mobile"], "metrics": [2]}]));
    assert_eq!((answers[2]["results"][0]["metrics"].clone(), answers[2]["meta"].get("imports_included")), (json!([2]), None));
    assert_eq!(answers[3]["error"]["field"], "include.imports", "{batch}");

    // With the dashboard's comparison, each period adds the imported rows of its own days:
    // 2 January (imported only) against 1 January (native and imported).
    let compared = |extra: Value| {
        let base = json!({"site_id": SITE, "date_range": ["2024-01-02", "2024-01-02"],
            "metrics": ["visitors", "visits", "pageviews", "bounce_rate"],
            "include": {"imports": true, "comparisons": {"mode": "previous_period"}}});
        ask(admin.clone(), "/api/v1/query", base, extra)
    };
    let both = compared(json!({})).await;
    assert_eq!(both["query"]["comparison"]["date_range"], json!(["2024-01-01", "2024-01-01"]), "{both}");
    assert_eq!(both["meta"]["imports_included"], json!(true), "{both}");
    assert_eq!(
        both["results"],
        json!([{"dimensions": [], "metrics": [5, 6, 9, 16.67],
                "comparison": {"dimensions": [], "metrics": [12, 14, 33, 35.71], "change": [-58, -57, -73, -19.04]}}]),
        "{both}"
    );
    // A group only the imports hold this period is compared with its native and
    // imported rows of the other.
    let sources = compared(json!({"metrics": ["visitors", "visits"], "dimensions": ["visit:source"]})).await;
    assert_eq!(
        sources["results"],
        json!([{"dimensions": ["Google"], "metrics": [5, 6],
                "comparison": {"dimensions": ["Google"], "metrics": [8, 9], "change": [-38, -33]}}]),
        "{sources}"
    );
    let series = compared(json!({"metrics": ["visitors"], "dimensions": ["time:day"]})).await;
    assert_eq!(
        series["results"],
        json!([{"dimensions": ["2024-01-02"], "metrics": [5],
                "comparison": {"dimensions": ["2024-01-01"], "metrics": [12], "change": [-58]}}]),
        "{series}"
    );
    // A comparison period with imports counts them though the current one has none.
    let last_year = compared(json!({"metrics": ["visitors"], "date_range": ["2025-01-01", "2025-01-02"],
        "include": {"imports": true, "comparisons": {"mode": "year_over_year"}}}))
    .await;
    assert_eq!(last_year["meta"]["imports_skip_reason"], "out_of_range", "{last_year}");
    assert_eq!(
        last_year["results"],
        json!([{"dimensions": [], "metrics": [0], "comparison": {"dimensions": [], "metrics": [17], "change": [-100]}}]),
        "{last_year}"
    );
    // A metric imports cannot answer: both periods native, and why.
    let unmerged = compared(json!({"metrics": ["visitors", "time_on_page"]})).await;
    assert_eq!(unmerged["meta"]["imports_skip_reason"], "unsupported_query", "{unmerged}");
    assert_eq!(
        (unmerged["results"][0]["metrics"][0].clone(), unmerged["results"][0]["comparison"]["metrics"][0].clone()),
        (json!(0), json!(2))
    );
    // The dashboard's batch asks the same way.
    let (status, batch) = admin
        .post(
            "/api/v1/query/batch",
            json!({"queries": [{"site_id": SITE, "date_range": ["2024-01-02", "2024-01-02"], "metrics": ["visitors"],
                                "include": {"imports": true, "comparisons": {"mode": "previous_period"}}}]}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["results"][0]["results"][0]["comparison"]["metrics"], json!([12]), "{batch}");
    // A CSV export of the dashboard's query includes them as its panel does.
    let export = json!({"site_id": SITE, "date_range": range, "metrics": ["visitors"], "include": {"imports": true}});
    let csv = admin.http.post(format!("{}/api/v1/export", admin.base)).json(&export).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().nth(1), Some("17"), "{csv}");
    let (_, me) = admin.get("/api/v1/sites").await;
    assert_eq!(me["sites"][0]["has_imports"], json!(true), "the dashboard offers its imports toggle");

    // A viewer of the site sees the imports in answers too (row-level security).
    let viewer = t.user_with_role(SITE, "viewer").await;
    let (_, seen) = viewer
        .post(
            "/api/v1/query?with_imported=true",
            json!({"site_id": SITE, "date_range": ["2024-01-01", "2024-01-31"], "metrics": ["visitors"]}),
        )
        .await;
    assert_eq!(seen["results"][0]["metrics"], json!([17]));
}

#[tokio::test]
async fn imported_custom_events_count_for_goals_and_event_names() {
    let dir = import_dir("events");
    let (t, admin) = start(&dir).await;
    let csv = dir.join("january.csv");
    // Visitor 1 reads /pricing and signs up; visitor 2 reads the home page.
    std::fs::write(&csv, format!("{JANUARY_CSV}2024-01-01T10:02:00Z,Signup,1,11,imports.example,/pricing,Google,Desktop\n")).unwrap();
    cli(&t, &csv).await.expect("native events");
    for (name, event, page) in [("Signup", "'Signup'", "NULL"), ("Visit /pricing", "NULL", "'/pric*'")] {
        t.sql(&format!(
            "SELECT tally.create_goal(site_id, '{name}', event_name => {event}, page_pattern => {page}) FROM tally.sites WHERE domain = '{SITE}'"
        ))
        .await;
    }
    let v2 = |query: Value| {
        let mut query = query;
        query["site_id"] = json!(SITE);
        query["date_range"] = json!(["2024-01-01", "2024-01-31"]);
        query["include"] = json!({"imports": true});
        let admin = admin.clone();
        async move {
            let (status, answer) = admin.post("/api/v2/query", query).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    write_export(&dir, "export.zip", &plausible_export());
    assert_eq!(import(&admin, "export.zip").await["state"], "done");

    // Goals: Signup from the imported custom events (2 visitors, 2 events), Visit
    // /pricing from the imported pages matching its pattern (4 visitors, 10 pageviews).
    let goals = v2(json!({"metrics": ["visitors", "events"], "dimensions": ["event:goal"]})).await;
    assert_eq!(
        (goals["results"].clone(), goals["meta"]["imports_included"].clone()),
        (json!([{"dimensions": ["Visit /pricing"], "metrics": [5, 11]}, {"dimensions": ["Signup"], "metrics": [3, 3]}]), json!(true)),
        "{goals}"
    );
    let signups = v2(json!({"metrics": ["visitors", "events"], "filters": [["is", "event:goal", ["Signup"]]]})).await;
    assert_eq!(signups["results"][0]["metrics"], json!([3, 3]), "{signups}");
    // Custom events by name (pageviews are no imported custom events).
    let names =
        v2(json!({"metrics": ["visitors", "events"], "dimensions": ["event:name"], "filters": [["is_not", "event:name", ["pageview"]]]}))
            .await;
    assert_eq!(names["results"], json!([{"dimensions": ["Signup"], "metrics": [3, 3]}]), "{names}");
    // Imported events count no visits: a rate over visits leaves them out, and says so.
    let rates = v2(json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["event:goal"]})).await;
    assert_eq!(
        (rates["meta"]["imports_included"].clone(), rates["meta"]["imports_skip_reason"].clone()),
        (json!(false), json!("unsupported_query"))
    );
    // `events` of the visit tables are their pageviews, as in Plausible: 39 imported.
    let events = v2(json!({"metrics": ["events"]})).await;
    assert_eq!(events["results"][0]["metrics"], json!([43]), "{events}");
}

/// A GA4 Data API report (runReport's response shape) of `dimensions` and Plausible's
/// visit metrics, one row per `(dimension values, [users, views, bounces, sessions, seconds])`.
fn ga4_report(dimensions: &[&str], rows: &[(&[&str], [u64; 5])]) -> Value {
    let metrics = ["totalUsers", "screenPageViews", "bounces", "sessions", "userEngagementDuration"];
    json!({
        "dimensionHeaders": dimensions.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
        "metricHeaders": metrics.iter().map(|m| json!({"name": m, "type": "TYPE_INTEGER"})).collect::<Vec<_>>(),
        "rows": rows.iter().map(|(dims, values)| json!({
            "dimensionValues": dims.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
            "metricValues": values.iter().map(|v| json!({"value": v.to_string()})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rowCount": rows.len(),
        "kind": "analyticsData#runReport",
    })
}

#[tokio::test]
async fn google_analytics_4_reports_are_imported_data() {
    let dir = import_dir("ga4");
    let (t, admin) = start(&dir).await;
    let reports = json!({"kind": "analyticsData#batchRunReports", "reports": [
        ga4_report(&["date"], &[(&["20240201"][..], [20, 50, 5, 25, 1000]), (&["20240202"][..], [10, 20, 2, 12, 600])]),
        ga4_report(&["date", "deviceCategory"], &[(&["20240201"][..], [15, 40, 4, 20, 800])]),
        ga4_report(
            &["date", "sessionSource", "sessionMedium", "sessionCampaignName", "sessionManualAdContent", "sessionGoogleAdsKeyword", "pageReferrer"],
            &[(&["20240201", "(direct)", "(none)", "(not set)", "(not set)", "(not set)", ""][..], [5, 10, 1, 5, 200])],
        ),
    ]});
    // The device report's row lacks its device value: the whole file is refused.
    let file = dir.join("ga4.json");
    std::fs::write(&file, reports.to_string()).unwrap();
    let error = cli(&t, &file).await.unwrap_err().to_string();
    assert!(error.contains("ga4.json, report 2, row 1, field deviceCategory"), "{error}");
    assert_eq!(count(&t, "SELECT count(*) FROM tally.site_imports").await, 0);

    let mut good = reports.clone();
    good["reports"][1] = ga4_report(
        &["date", "deviceCategory"],
        &[(&["20240201", "desktop"][..], [15, 40, 4, 20, 800]), (&["20240202", "tablet"][..], [10, 20, 2, 12, 600])],
    );
    std::fs::write(&file, good.to_string()).unwrap();
    let job = import(&admin, "ga4.json").await;
    assert_eq!((job["state"].as_str(), job["rows_done"].as_u64()), (Some("done"), Some(5)), "{job}");
    let range: String = t.db.value("SELECT start_date || ' ' || end_date || ' ' || source FROM tally.site_imports").await;
    assert_eq!(range, "2024-02-01 2024-02-02 ga4");
    let (_, answer) = admin
        .post(
            "/api/v2/query",
            json!({"site_id": SITE, "date_range": ["2024-02-01", "2024-02-29"], "metrics": ["visitors", "bounce_rate"],
            "dimensions": ["visit:device"], "include": {"imports": true}}),
        )
        .await;
    assert_eq!(
        answer["results"],
        json!([{"dimensions": ["Desktop"], "metrics": [15, 20.0]}, {"dimensions": ["Tablet"], "metrics": [10, 16.67]}]),
        "{answer}"
    );
    let (_, answer) = admin
        .post(
            "/api/v2/query",
            json!({"site_id": SITE, "date_range": ["2024-02-01", "2024-02-29"], "metrics": ["visitors"],
            "dimensions": ["visit:source"], "include": {"imports": true}}),
        )
        .await;
    assert_eq!(answer["results"], json!([{"dimensions": ["Direct / None"], "metrics": [5]}]), "{answer}");
}
