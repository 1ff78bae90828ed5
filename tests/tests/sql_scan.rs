//! Plain SQL over `tally.events` (the TallyScan node: segments pruned by zone maps,
//! only referenced columns decoded, filters on dictionary codes, hot rows added)
//! against the same SQL over a heap copy of the same events, taken from the hot table
//! before each compaction: hundreds of generated queries (projections, filters with
//! NULLs, properties, time bounds that cut segments, group-bys, aggregates, ORDER BY …
//! LIMIT, joins with tally.sites, subqueries, prepared statements with generic plans)
//! must give identical answers, as a superuser and as a role that sees some sites.
//! Aggregates computed inside the scan (TallyAgg: group keys, count, count DISTINCT,
//! sum, avg, min, max, FILTER, date_trunc in the session's time zone) are held to the
//! same answers, and EXPLAIN shows which shapes it takes and which it leaves to Postgres.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally_core::datagen::{Config, DataGen};
use tally_core::event::Event;
use tally_tests::TestDb;

/// 2024-03-31 00:00 UTC: the data covers the five days before.
const END_US: i64 = 1_711_843_200_000_000;
const DAY_US: i64 = 86_400_000_000;
const DAYS: i64 = 5;
const SITES: u32 = 3;

/// Writes `events` through the gateway's batch writer and copies them (from the hot
/// table, before anything else moves them) into `heap`.
async fn write(db: &TestDb, events: &[Event]) {
    let pool = tally_gateway::pool::build(&db.url, 2).expect("pool");
    for chunk in events.chunks(10_000) {
        tally_gateway::ingest::store::write_events(&pool, chunk).await.expect("write batch");
    }
    let columns = tally_core::event::COLUMNS.join(", ");
    db.query(&format!("INSERT INTO heap SELECT {columns} FROM tally.events_hot")).await;
}

/// Generated traffic of three sites: compacted in two passes (several segments per
/// site-day), one event alone in its segment, a few hand-written rows with NULLs and
/// odd properties, an erased visitor, and the rest left hot.
async fn setup() -> TestDb {
    let db = TestDb::create().await;
    for site in 1..=SITES {
        db.query(&format!("SELECT tally.create_site('site{site}.example')")).await;
    }
    db.query("CREATE TABLE heap (LIKE tally.event)").await;
    let events: Vec<Event> =
        DataGen::new(Config { seed: 23, sites: SITES, days: DAYS as u32, events: 30_000, start_ts: END_US - DAYS * DAY_US }).collect();
    let (first, rest) = events.split_at(events.len() * 60 / 100);
    let (second, hot) = rest.split_at(rest.len() * 3 / 4);
    write(&db, first).await;
    db.query("SELECT tally.compact()").await;
    write(&db, second).await;
    db.query("SELECT tally.compact()").await;
    // One event alone in its segment (a day nothing else falls on).
    let lone = Event { site_id: 2, ts: END_US - 20 * DAY_US, name: "pageview".into(), pathname: "/lone".into(), ..events[0].clone() };
    write(&db, &[lone]).await;
    db.query("SELECT tally.compact()").await;
    // Erase one visitor of site 1 everywhere, and from the copy.
    let visitor: i64 = db.value("SELECT visitor_id FROM heap WHERE site_id = 1 ORDER BY ts LIMIT 1").await;
    db.query(&format!("SELECT tally.erase_visitor(1, {visitor})")).await;
    db.query(&format!("DELETE FROM heap WHERE site_id = 1 AND visitor_id = {visitor}")).await;
    write(&db, hot).await;
    db.query(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname, props) VALUES
         (1, '2024-03-29 12:00:00+00', 'pageview', 1, 1, 'site1.example', '/blog/hand', '{\"plan\": \"pro\"}'),
         (3, '2024-03-28 00:00:00+00', 'Signup', 2, 2, 'site3.example', '', '{}')",
    )
    .await;
    db.query(&format!(
        "INSERT INTO heap SELECT {} FROM tally.events_hot WHERE pathname IN ('/blog/hand', '') AND visitor_id IN (1, 2)",
        tally_core::event::COLUMNS.join(", ")
    ))
    .await;
    db.query("CREATE INDEX ON heap (site_id, ts)").await;
    db.query("ANALYZE heap").await;
    let segments: i64 = db.value("SELECT count(*) FROM tally.segments").await;
    let hot: i64 = db.value("SELECT count(*) FROM tally.events_hot").await;
    assert!(segments > DAYS * i64::from(SITES), "{segments} segments");
    assert!(hot > 1_000, "{hot} hot rows");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.segments WHERE row_count = 1").await, 1);
    db
}

/// A random time in the data's range as an SQL timestamptz: a literal, or an
/// expression the scan evaluates when it starts.
fn instant(rng: &mut StdRng) -> String {
    let us = rng.random_range(END_US - DAYS * DAY_US - DAY_US..END_US + DAY_US);
    match rng.random_range(0..3) {
        0 => format!("'{}'", chrono::DateTime::from_timestamp_micros(us).expect("in range").format("%Y-%m-%d %H:%M:%S%.6f+00")),
        1 => format!("(TIMESTAMPTZ 'epoch' + interval '{us} microseconds')"),
        _ => format!("to_timestamp({})", us / 1_000_000),
    }
}

/// One random condition over the event columns.
fn condition(rng: &mut StdRng) -> String {
    let site = rng.random_range(1..=SITES);
    let choices: Vec<String> = vec![
        format!("site_id = {site}"),
        format!("site_id IN ({site}, {})", site % SITES + 1),
        "site_id = ANY('{1,3}')".into(),
        format!("{site} = site_id"),
        format!("ts >= {}", instant(rng)),
        format!("ts < {}", instant(rng)),
        format!("{} > ts", instant(rng)),
        format!("ts BETWEEN {} AND {}", instant(rng), instant(rng)),
        format!("ts > {} AND ts <= {}", instant(rng), instant(rng)),
        "ts = '2024-03-29 12:00:00+00'".into(),
        "ts >= now() - interval '1000 years'".into(),
        "ts < 'infinity' AND ts > '-infinity'".into(),
        "ts >= 'infinity'".into(),
        "name = 'pageview'".into(),
        "name IN ('pageview', 'Signup', NULL)".into(),
        "name <> 'engagement'".into(),
        "pathname LIKE '/blog%'".into(),
        "pathname LIKE '/%'".into(),
        "pathname LIKE '%o%'".into(),
        "pathname LIKE '/p_icing'".into(),
        // Prefixes and values some segments' dictionaries lack (the scan rules those
        // segments out undecoded), and one only a single segment or a hot row has.
        "pathname LIKE '/docs/q%'".into(),
        "pathname LIKE '/blog/z%'".into(),
        "pathname LIKE '/lone%'".into(),
        "pathname IN ('/lone', '/blog/hand')".into(),
        "name LIKE 'Sign%'".into(),
        "referrer_source = 'Twitter'".into(),
        "pathname = ''".into(),
        "pathname NOT LIKE '/docs%'".into(),
        "referrer IS NULL".into(),
        "referrer_source IS NOT NULL".into(),
        "country = 'US'".into(),
        "country IN ('US', 'DE', NULL)".into(),
        "country = ANY(ARRAY['FR', 'GB'])".into(),
        "browser = NULL".into(),
        "device = 'mobile' OR country = 'DE'".into(),
        "coalesce(utm_source, 'none') = 'none'".into(),
        "city IS NULL AND region IS NOT NULL".into(),
        "props ->> 'plan' = 'pro'".into(),
        "props ->> 'logged_in' = 'true'".into(),
        "props ->> 'logged_in' IS NULL".into(),
        "props ? 'logged_in'".into(),
        "props = '{}'".into(),
        "revenue_micros > 0".into(),
        "screen_width IS NULL".into(),
        "engagement_ms BETWEEN 100 AND 20000".into(),
        "visitor_id % 7 = 3".into(),
        "'mobile' = device".into(),
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

/// Conditions joined by AND (none: `true`).
fn conditions(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..4);
    let parts: Vec<String> = (0..n).map(|_| condition(rng)).collect();
    if parts.is_empty() {
        "true".into()
    } else {
        parts.join(" AND ")
    }
}

/// What a generated query may select: every event column, as the core declares them,
/// and a few expressions over them.
fn projectable() -> Vec<&'static str> {
    tally_core::event::COLUMNS
        .iter()
        .copied()
        .chain(["props ->> 'plan'", "props ->> 'logged_in'", "props -> 'method'", "date_trunc('hour', ts)", "length(pathname)"])
        .collect()
}

const GROUPABLE: [&str; 17] = [
    "site_id",
    "name",
    "pathname",
    "referrer_source",
    "country",
    "device",
    "browser",
    "utm_source",
    "screen_width",
    "props ->> 'plan'",
    "props ->> 'logged_in'",
    "props",
    "date_trunc('day', ts)",
    "date_trunc('hour', ts)",
    "date_trunc('week', ts)",
    "date_trunc('month', ts)",
    "date_trunc('minute', ts)",
];

const AGGREGATES: [&str; 31] = [
    "count(*)",
    "count(referrer)",
    "count(screen_width)",
    "count(DISTINCT visitor_id)",
    "count(DISTINCT pathname)",
    "count(DISTINCT country)",
    "sum(revenue_micros)",
    "sum(engagement_ms)",
    "avg(engagement_ms)",
    "avg(revenue_micros)",
    "avg(screen_width)",
    "min(ts)",
    "max(ts)",
    "min(engagement_ms)",
    "min(pathname)",
    "max(screen_width)",
    "count(*) FILTER (WHERE name = 'pageview')",
    "count(*) FILTER (WHERE country IN ('US', 'DE') AND referrer IS NOT NULL)",
    "count(DISTINCT visitor_id) FILTER (WHERE pathname LIKE '/blog%')",
    "sum(revenue_micros) FILTER (WHERE referrer_source IS NULL)",
    "max(ts) FILTER (WHERE device = 'mobile' AND name = 'pageview')",
    "count(*) FILTER (WHERE screen_width > 500)",
    "sum(CASE WHEN country = 'US' THEN 1 ELSE 0 END)",
    "count(*) * 2 + sum(screen_width)",
    "count(CASE WHEN device = 'mobile' THEN visitor_id END)",
    "count(DISTINCT CASE WHEN name = 'pageview' THEN visitor_id END)",
    "sum(CASE WHEN referrer IS NULL THEN revenue_micros ELSE 0 END)",
    "sum(CASE WHEN country IN ('US', 'DE') AND name = 'pageview' THEN engagement_ms END)",
    "max(CASE WHEN pathname LIKE '/blog%' THEN ts END)",
    "sum(CASE WHEN screen_width > 500 THEN 1 ELSE 0 END)",
    "count(CASE WHEN name = 'pageview' THEN 1 END) FILTER (WHERE country = 'US')",
];

/// A few distinct items of `from`, how many drawn from `count`.
fn pick<'a>(rng: &mut StdRng, from: &[&'a str], count: std::ops::Range<usize>) -> Vec<&'a str> {
    let n = rng.random_range(count);
    let mut picked: Vec<&str> = (0..n).map(|_| from[rng.random_range(0..from.len())]).collect();
    picked.sort_unstable();
    picked.dedup();
    picked
}

/// One random query over `{rel}` (the relation under test, aliased `e`).
fn query(rng: &mut StdRng) -> String {
    let filter = conditions(rng);
    match rng.random_range(0..9) {
        0 => {
            let cols = pick(rng, &projectable(), 1..6).join(", ");
            format!("SELECT {cols} FROM {{rel}} e WHERE {filter}")
        }
        1 => {
            let cols = pick(rng, &projectable(), 1..4).join(", ");
            let n = rng.random_range(1..50);
            format!("SELECT {cols} FROM {{rel}} e WHERE {filter} ORDER BY {cols} LIMIT {n}")
        }
        2 | 3 => {
            let groups = pick(rng, &GROUPABLE, 0..3);
            let aggs = pick(rng, &AGGREGATES, 1..4).join(", ");
            if groups.is_empty() {
                format!("SELECT {aggs} FROM {{rel}} e WHERE {filter}")
            } else {
                let g = groups.join(", ");
                format!("SELECT {g}, {aggs} FROM {{rel}} e WHERE {filter} GROUP BY {g}")
            }
        }
        4 => {
            let aggs = pick(rng, &AGGREGATES, 1..3).join(", ");
            format!(
                "SELECT s.domain, {aggs} FROM (SELECT * FROM {{rel}} e WHERE {filter}) e \
                 JOIN tally.sites s ON s.site_id = e.site_id GROUP BY s.domain"
            )
        }
        5 => {
            let inner = condition(rng);
            format!(
                "SELECT count(*), count(DISTINCT e.visitor_id) FROM {{rel}} e WHERE {filter} \
                 AND e.visitor_id IN (SELECT i.visitor_id FROM {{rel}} i WHERE {inner})"
            )
        }
        7 => {
            let groups = pick(rng, &GROUPABLE, 1..3).join(", ");
            let aggs = pick(rng, &AGGREGATES, 1..3).join(", ");
            let (n, least) = (rng.random_range(1..30), rng.random_range(1..40));
            format!(
                "SELECT {groups}, count(*) AS n, {aggs} FROM {{rel}} e WHERE {filter} GROUP BY {groups} \
                 HAVING count(*) >= {least} ORDER BY n DESC, {groups} LIMIT {n}"
            )
        }
        8 => {
            let group = GROUPABLE[rng.random_range(0..GROUPABLE.len())];
            format!(
                "SELECT {group}, count(DISTINCT visitor_id) AS visitors, avg(engagement_ms) FROM {{rel}} e WHERE {filter} \
                 GROUP BY {group} HAVING sum(screen_width) > 0 OR count(*) FILTER (WHERE name = 'pageview') > 3"
            )
        }
        _ => {
            let n = rng.random_range(1..20);
            format!(
                "SELECT s.domain, top.pathname, top.views FROM tally.sites s, LATERAL (SELECT pathname, count(*) AS views \
                 FROM {{rel}} e WHERE e.site_id = s.site_id AND {filter} GROUP BY pathname ORDER BY views DESC, pathname LIMIT {n}) top"
            )
        }
    }
}

/// One random `ORDER BY ts [DESC] … LIMIT n` query, which TallyScan answers by
/// merging its segments in time order (no Sort): ties on `ts` are broken by every
/// column selected, so the rows and their order are the same over any relation.
fn ordered_query(rng: &mut StdRng) -> String {
    let filter = conditions(rng);
    let direction = if rng.random_bool(0.5) { " DESC" } else { "" };
    let n = [1, 5, 100, 1_000, 20_000][rng.random_range(0..5)];
    let offset = if rng.random_bool(0.2) { format!(" OFFSET {}", rng.random_range(1..500)) } else { String::new() };
    let cols = pick(rng, &projectable(), 0..4);
    if cols.is_empty() {
        format!("SELECT ts FROM {{rel}} e WHERE {filter} ORDER BY ts{direction} LIMIT {n}{offset}")
    } else {
        let cols = cols.join(", ");
        format!("SELECT ts, {cols} FROM {{rel}} e WHERE {filter} ORDER BY ts{direction}, {cols} LIMIT {n}{offset}")
    }
}

/// The answer of `sql` as one text value, in its row order.
fn ordered_answer(sql: &str) -> String {
    format!("SELECT coalesce(jsonb_agg(to_jsonb(q))::text, '[]') FROM ({sql}) q")
}

/// The answer of `sql` as one text value, independent of row order.
fn answer(sql: &str) -> String {
    format!("SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY to_jsonb(q)::text)::text, '[]') FROM ({sql}) q")
}

async fn compare(db: &TestDb, sql: &str, heap: &str) {
    let got: String = db.value(&answer(&sql.replace("{rel}", "tally.events"))).await;
    let want: String = db.value(&answer(&sql.replace("{rel}", heap))).await;
    assert_eq!(got, want, "answers differ for {sql}");
}

/// The plan of `sql` over tally.events, as EXPLAIN's text lines joined.
async fn plan(db: &TestDb, sql: &str, analyze: bool) -> String {
    let options = if analyze { "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF" } else { "COSTS OFF" };
    let rows = db.query(&format!("EXPLAIN ({options}) {}", sql.replace("{rel}", "tally.events"))).await;
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

/// Whether the aggregates of `sql` run inside the scan.
async fn pushed_down(db: &TestDb, sql: &str) -> bool {
    plan(db, sql, false).await.contains("Custom Scan (TallyAgg)")
}

/// Each of `sqls` is aggregated by TallyAgg (`pushed`) or by Postgres (not), and
/// answers as over the heap copy.
async fn answers_as_the_heap(db: &TestDb, sqls: &[&str], pushed: bool) {
    for &sql in sqls {
        assert_eq!(pushed_down(db, sql).await, pushed, "pushed down {pushed} expected: {}", plan(db, sql, false).await);
        compare(db, sql, "heap").await;
    }
}

#[tokio::test]
async fn generated_queries_answer_as_over_a_heap_copy() {
    let db = setup().await;
    // The events themselves, whole.
    compare(&db, "SELECT * FROM {rel} e", "heap").await;
    compare(&db, "SELECT e FROM {rel} e", "heap").await;
    let mut rng = StdRng::seed_from_u64(2024);
    let (mut aggregating, mut pushed) = (0, 0);
    for _ in 0..260 {
        let sql = query(&mut rng);
        compare(&db, &sql, "heap").await;
        if sql.contains("count(") {
            aggregating += 1;
            pushed += usize::from(pushed_down(&db, &sql).await);
        }
    }
    let mut merged = 0;
    for _ in 0..120 {
        let sql = ordered_query(&mut rng);
        let got: String = db.value(&ordered_answer(&sql.replace("{rel}", "tally.events"))).await;
        let want: String = db.value(&ordered_answer(&sql.replace("{rel}", "heap"))).await;
        assert_eq!(got, want, "answers differ for {sql}");
        merged += usize::from(plan(&db, &sql, false).await.contains("Merged In Order"));
    }
    assert!(merged >= 60, "{merged} of 120 ordered queries merged in time order");
    // Enough generated aggregations take the pushed-down path (and enough do not) for
    // the comparison to cover both.
    assert!(pushed * 4 >= aggregating && pushed * 10 <= aggregating * 9, "{pushed} of {aggregating} aggregations pushed down");
}

#[tokio::test]
async fn a_role_sees_only_its_sites() {
    let db = setup().await;
    let user: i32 = db.value("SELECT tally.create_user('sql-scan@example.com', 'Analyst', '$argon2id$never-checked')").await;
    db.query(&format!("SELECT tally.set_membership({user}, 1, 'analyst'), tally.set_membership({user}, 3, 'viewer')")).await;
    let role: String = db.value(&format!("SELECT pg_role::text FROM tally.users WHERE user_id = {user}")).await;
    db.query(&format!("GRANT SELECT ON heap TO {role}")).await;
    // The same session reads as a superuser first and last: the scan's catalog
    // queries, prepared once per backend, follow the role that runs them.
    let all = "SELECT site_id, count(*) FROM {rel} e GROUP BY 1";
    compare(&db, all, "heap").await;
    db.query(&format!("SET ROLE {role}")).await;
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..40 {
        compare(&db, &query(&mut rng), "(SELECT * FROM heap WHERE site_id IN (1, 3))").await;
    }
    db.query("RESET ROLE").await;
    compare(&db, all, "heap").await;
}

#[tokio::test]
async fn prepared_statements_prune_with_their_parameters() {
    let db = setup().await;
    let sql = "SELECT count(*), count(DISTINCT pathname), min(ts) FROM {rel} WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND name = $4";
    for mode in ["force_custom_plan", "force_generic_plan"] {
        db.query(&format!("SET plan_cache_mode = {mode}")).await;
        let scan = db.client.prepare(&sql.replace("{rel}", "tally.events")).await.expect("prepare");
        let heap = db.client.prepare(&sql.replace("{rel}", "heap")).await.expect("prepare");
        for day in 0..DAYS + 1 {
            for site in 1..=SITES as i32 {
                let from = chrono::DateTime::from_timestamp_micros(END_US - (day + 1) * DAY_US + 3_600_000_000).expect("in range");
                let to = from + chrono::Duration::hours(30);
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&site, &from, &to, &"pageview"];
                let got = db.client.query_one(&scan, &params).await.expect("scan");
                let want = db.client.query_one(&heap, &params).await.expect("heap");
                let row = |r: &tokio_postgres::Row| {
                    (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(2))
                };
                assert_eq!(row(&got), row(&want), "{mode}, site {site}, day {day}");
            }
        }
    }
}

#[tokio::test]
async fn explain_shows_pruning_and_decoded_columns() {
    let db = setup().await;
    db.query("SET tally.scan_aggregates = off").await;
    let plan: Vec<String> = db
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM tally.events \
             WHERE site_id = 2 AND ts >= '2024-03-29' AND ts < '2024-03-30' AND pathname LIKE '/blog%'",
        )
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("Custom Scan (TallyScan)"), "{plan}");
    // site_id picks segments from the catalog and is not decoded; ts cuts the day.
    assert!(plan.contains("Columns Decoded: ts, pathname"), "{plan}");
    assert!(!plan.contains("Filter:"), "the scan decides every qual: {plan}");
    assert!(plan.contains("Dictionary Filters: pathname LIKE \"/blog\"%"), "{plan}");
    let number = |label: &str| -> i64 {
        let line = plan.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label} in {plan}"));
        line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a number")
    };
    let total: i64 = db.value("SELECT count(*) FROM tally.segments").await;
    let of_day: i64 =
        db.value("SELECT count(*) FROM tally.segments WHERE site_id = 2 AND max_ts >= '2024-03-29' AND min_ts < '2024-03-30'").await;
    assert!(of_day >= 1 && of_day < total, "{of_day} of {total}");
    assert_eq!(number("Segments Read:"), of_day, "{plan}");
    assert_eq!(number("Segments Skipped:"), total - of_day, "{plan}");

    // Only the lone segment's dictionary holds '/lone': site 2's other segments are
    // left out by their catalog string ranges, or read from the catalog and ruled out
    // by their dictionaries undecoded.
    let sql = "SELECT count(*) FROM {rel} WHERE site_id = 2 AND pathname LIKE '/lone%'";
    let plan = self::plan(&db, sql, true).await;
    let of_site: i64 = db.value("SELECT count(*) FROM tally.segments WHERE site_id = 2").await;
    assert!(of_site > 2, "{of_site}");
    let number = |label: &str| -> i64 {
        let line = plan.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label} in {plan}"));
        line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a number")
    };
    let read = number("Segments Read:");
    assert!(read >= 1 && read <= of_site, "{plan}");
    assert_eq!(number("Segments Ruled Out by Dictionary:"), read - 1, "{plan}");
    assert_eq!(number("Rows Selected:"), 1, "{plan}");
    compare(&db, sql, "heap").await;

    // Paths that sort after every stored one: no segment is read at all.
    let sql = "SELECT count(*) FROM {rel} WHERE pathname LIKE '/~%'";
    let plan = self::plan(&db, sql, true).await;
    let has = |line: &str| plan.lines().any(|l| l.trim() == line);
    assert!(has("Segments Read: 0") && has(&format!("Segments Skipped: {total}")), "{plan}");
    compare(&db, sql, "heap").await;
}

/// A segment's string ranges in the catalog that cannot be decoded fail a filtered
/// query with the segment's id, and a segment without ranges (written before Tally
/// recorded them) is read and filtered as before.
#[tokio::test]
async fn damaged_or_missing_string_ranges() {
    let db = setup().await;
    let id: i64 = db.value("SELECT min(segment_id) FROM tally.segments WHERE site_id = 2").await;
    let sql = "SELECT count(*) FROM {rel} WHERE site_id = 2 AND pathname LIKE '/lone%'";
    db.query("BEGIN").await;
    db.query(&format!("UPDATE tally.segments SET string_ranges = '\\x01ff' WHERE segment_id = {id}")).await;
    let damaged = format!("segment {id} of tally.segments has damaged string ranges");
    db.assert_error_with_hint(&sql.replace("{rel}", "tally.events"), &damaged).await;
    db.query("ROLLBACK").await;
    db.query("BEGIN").await;
    db.query("UPDATE tally.segments SET string_ranges = NULL WHERE site_id = 2").await;
    let plan = plan(&db, sql, true).await;
    let of_site: i64 = db.value("SELECT count(*) FROM tally.segments WHERE site_id = 2").await;
    assert!(plan.lines().any(|l| l.trim() == format!("Segments Read: {of_site}")), "every segment read: {plan}");
    compare(&db, sql, "heap").await;
    db.query("ROLLBACK").await;
}

/// `ORDER BY ts [DESC] LIMIT n` reads the segments that hold the first rows, in time
/// order, and no Sort runs above the scan; the hot rows (the latest) take part.
#[tokio::test]
async fn a_limit_in_time_order_reads_the_segments_it_needs() {
    let db = setup().await;
    let of_site: i64 = db.value("SELECT count(*) FROM tally.segments WHERE site_id = 2").await;
    assert!(of_site >= 5, "{of_site}");
    for (direction, sql) in [
        ("ts DESC", "SELECT ts, pathname, browser FROM {rel} e WHERE site_id = 2 ORDER BY ts DESC LIMIT 100"),
        ("ts", "SELECT ts, pathname, browser FROM {rel} e WHERE site_id = 2 ORDER BY ts LIMIT 100"),
    ] {
        let plan = plan(&db, sql, true).await;
        assert!(plan.contains(&format!("Merged In Order: {direction}\n")) && !plan.contains("Sort"), "{plan}");
        let read: i64 = plan
            .lines()
            .find_map(|l| l.trim().strip_prefix("Segments Read: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{plan}"));
        assert!(read <= 2, "{read} of {of_site} segments read: {plan}");
        let got: String = db.value(&ordered_answer(&sql.replace("{rel}", "tally.events"))).await;
        let want: String = db.value(&ordered_answer(&sql.replace("{rel}", "heap"))).await;
        assert_eq!(got, want, "{sql}");
    }
    // The latest rows are hot: a committed event is first at once.
    db.query(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname) \
         VALUES (2, '2024-03-31 23:00:00+00', 'pageview', 9, 9, 'site2.example', '/newest')",
    )
    .await;
    let newest: String = db.value("SELECT pathname FROM tally.events WHERE site_id = 2 ORDER BY ts DESC LIMIT 1").await;
    assert_eq!(newest, "/newest");
}

#[tokio::test]
async fn tally_events_is_read_only() {
    let db = TestDb::create().await;
    for sql in [
        "INSERT INTO tally.events (site_id, ts, name, visitor_id, session_id, hostname, pathname) VALUES (1, now(), 'x', 1, 1, 'h', '/')",
        "DELETE FROM tally.events",
        "UPDATE tally.events SET name = 'y'",
    ] {
        db.assert_error_with_hint(sql, "tally.events is read-only").await;
    }
}

/// The event's columns are declared once, in `tally_core::event::COLUMNS`: every SQL
/// relation and type that lists them lists them in that order (TallyScan fills
/// tuples by position, and refuses a relation that differs). The hot table has `gen`
/// after the first release's columns, where an upgrade leaves it (compaction reads it
/// by name).
#[tokio::test]
async fn every_relation_lists_the_event_columns_in_core_order() {
    let db = TestDb::create().await;
    let core = tally_core::event::COLUMNS.join(",");
    let (first, added) = tally_core::event::COLUMNS.split_at(tally_core::copy_frames::FIRST_RELEASE_FIELDS);
    let hot = format!("{},gen,{}", first.join(","), added.join(","));
    for (relation, expected) in [
        ("tally.event", &core),
        ("tally.events_hot", &hot),
        ("tally.events", &core),
        ("tally.events_scan", &core),
        ("tally.event_arrays", &core),
    ] {
        let columns: String = db
            .value(&format!(
                "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute \
                 WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = '{relation}'::regtype) AND attnum > 0 AND NOT attisdropped"
            ))
            .await;
        assert_eq!(&columns, expected, "{relation}");
    }
}

#[tokio::test]
async fn explain_shows_which_aggregates_run_in_the_scan() {
    let db = setup().await;
    let pushed = [
        "SELECT count(*) FROM {rel}",
        "SELECT site_id, name, count(*) FROM {rel} GROUP BY 1, 2",
        "SELECT date_trunc('day', ts), count(DISTINCT visitor_id) FROM {rel} WHERE site_id = 1 GROUP BY 1",
        "SELECT pathname, count(*) FILTER (WHERE name = 'pageview') FROM {rel} WHERE pathname LIKE '/blog%' GROUP BY 1 HAVING count(*) > 1",
        "SELECT browser, device, sum(revenue_micros), avg(engagement_ms), min(ts), max(screen_width) FROM {rel} GROUP BY 1, 2 ORDER BY 3 DESC NULLS LAST LIMIT 5",
        "SELECT count(*) FROM (SELECT * FROM {rel} WHERE country IN ('US', 'DE')) e",
        // CASE arguments: the condition selects the rows, ELSE 0 makes a sum 0 rather than NULL.
        "SELECT sum(CASE WHEN country = 'US' THEN 1 ELSE 0 END) FROM {rel}",
        "SELECT sum(CASE WHEN country = 'XX' THEN 1 ELSE 0 END), sum(CASE WHEN country = 'XX' THEN 1 END) FROM {rel}",
        "SELECT sum(CASE WHEN country = 'XX' THEN revenue_micros ELSE 0 END) FROM {rel} WHERE site_id = 2",
        "SELECT name, count(CASE WHEN device = 'mobile' THEN 'yes' END), count(DISTINCT CASE WHEN referrer IS NULL THEN visitor_id END) \
         FROM {rel} GROUP BY 1",
        "SELECT sum(CASE WHEN name = 'pageview' THEN 1 ELSE 0 END) FROM {rel} WHERE site_id = 99",
        // A property's value as a group key, decoded from the segments' props column.
        "SELECT props ->> 'plan', count(*) FROM {rel} GROUP BY 1",
        "SELECT props ->> 'logged_in', site_id, count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') \
         FROM {rel} WHERE site_id IN (1, 2) GROUP BY 1, 2",
        "SELECT props ->> 'method', props ->> 'plan', count(*) FROM {rel} WHERE name = 'Signup' GROUP BY 1, 2",
    ];
    let not_pushed = [
        // A filter the scan does not decide exactly, an expression as argument or key,
        // text order under a collation, grouping sets.
        "SELECT count(*) FROM {rel} WHERE pathname LIKE '%o%'",
        "SELECT count(*) FROM {rel} WHERE revenue_micros > 0",
        "SELECT sum(CASE WHEN screen_width > 500 THEN 1 ELSE 0 END) FROM {rel}",
        "SELECT count(CASE WHEN name = 'pageview' THEN 1 END) FILTER (WHERE country = 'US') FROM {rel}",
        "SELECT sum(CASE WHEN country = 'US' THEN 1 ELSE 2 END) FROM {rel}",
        "SELECT props -> 'plan', count(*) FROM {rel} GROUP BY 1",
        "SELECT lower(props ->> 'plan'), count(*) FROM {rel} GROUP BY 1",
        "SELECT min(pathname) FROM {rel}",
        "SELECT date_trunc('minute', ts), count(*) FROM {rel} GROUP BY 1",
        "SELECT count(*) FILTER (WHERE screen_width > 500) FROM {rel}",
        "SELECT site_id, name, count(*) FROM {rel} GROUP BY GROUPING SETS ((site_id), (name))",
        // Nothing to scan: Postgres answers without reading.
        "SELECT count(*), sum(screen_width) FROM {rel} WHERE false",
        "SELECT name, count(*) FROM {rel} WHERE 1 = 0 GROUP BY 1",
    ];
    answers_as_the_heap(&db, &pushed, true).await;
    answers_as_the_heap(&db, &not_pushed, false).await;
    db.query("SET tally.scan_aggregates = off").await;
    assert!(!pushed_down(&db, pushed[1]).await, "tally.scan_aggregates = off keeps Postgres's Agg");
    db.query("RESET tally.scan_aggregates").await;

    let plan = plan(
        &db,
        "SELECT pathname, count(*) FILTER (WHERE name = 'pageview'), count(DISTINCT visitor_id) FROM {rel} \
         WHERE site_id = 2 AND ts >= '2024-03-29' AND ts < '2024-03-30' AND pathname LIKE '/blog%' GROUP BY 1",
        true,
    )
    .await;
    assert!(plan.contains("Custom Scan (TallyAgg)"), "{plan}");
    assert!(plan.contains("Group Keys: pathname"), "{plan}");
    assert!(plan.contains("Aggregates: count(*) FILTER (name =), count(DISTINCT visitor_id)"), "{plan}");
    assert!(plan.contains("Dictionary Filters: pathname LIKE \"/blog\"%"), "{plan}");
    assert!(plan.contains("Segments Skipped:"), "{plan}");
    let groups: i64 = db
        .value(
            "SELECT count(DISTINCT pathname) FROM heap WHERE site_id = 2 AND ts >= '2024-03-29' AND ts < '2024-03-30' \
             AND pathname LIKE '/blog%'",
        )
        .await;
    assert!(plan.contains(&format!("Groups: {groups}")), "{plan}");
}

/// Aggregates over `tally.events` joined with one relation on `site_id`, grouped by
/// its columns and the events' own, run in the scan (the events grouped by site, then
/// regrouped by the joined rows) with the answers of Postgres's join and Agg: rows
/// joining a site twice count it twice, NULL keys group together, a NULL site joins
/// nothing. Other joins stay with Postgres.
#[tokio::test]
async fn aggregates_over_a_join_on_site_id_run_in_the_scan() {
    let db = setup().await;
    // Site 1 joined twice under one key, site 2 under two keys, site 3 under a NULL
    // key, a row with a NULL site, site 4 not at all.
    db.query(
        "CREATE TABLE owners AS SELECT * FROM (VALUES (1, 'ann'), (1, 'ann'), (2, 'bob'), (2, 'cy'), (3, NULL), (NULL, 'dee'), \
         (5, 'ann'), (99, 'eve')) v (site_id, owner)",
    )
    .await;
    let pushed = [
        "SELECT s.domain, count(*) FROM {rel} e JOIN tally.sites s USING (site_id) GROUP BY 1",
        "SELECT s.domain, count(*) FROM {rel} e JOIN tally.sites s USING (site_id) WHERE e.ts >= '2024-03-29' GROUP BY 1 ORDER BY 2 DESC",
        "SELECT s.domain, e.device, count(DISTINCT e.visitor_id), sum(e.engagement_ms), avg(e.revenue_micros), max(e.ts) \
         FROM {rel} e JOIN tally.sites s ON s.site_id = e.site_id GROUP BY 1, 2",
        "SELECT e.pathname, count(*) FROM {rel} e JOIN tally.sites s USING (site_id) WHERE s.domain LIKE 'site1%' GROUP BY 1",
        "SELECT o.owner, date_trunc('day', e.ts), count(*), count(DISTINCT e.visitor_id), min(e.screen_width) \
         FROM {rel} e JOIN owners o ON o.site_id = e.site_id WHERE e.name = 'pageview' GROUP BY 1, 2",
        "SELECT e.site_id, o.owner, count(*) FILTER (WHERE e.country = 'US') FROM owners o JOIN {rel} e USING (site_id) GROUP BY 1, 2",
        "SELECT o.owner, count(*) AS n FROM {rel} e JOIN owners o USING (site_id) GROUP BY 1 HAVING count(*) > 100 ORDER BY n DESC",
        "SELECT e.name, count(*) FROM {rel} e JOIN owners o USING (site_id) GROUP BY 1",
    ];
    answers_as_the_heap(&db, &pushed, true).await;
    let not_pushed = [
        "SELECT o.owner, count(*) FROM {rel} e LEFT JOIN owners o USING (site_id) GROUP BY 1",
        "SELECT o.owner, count(*) FROM owners o LEFT JOIN {rel} e USING (site_id) GROUP BY 1",
        "SELECT o.owner, count(*) FROM {rel} e JOIN owners o ON o.site_id = e.site_id AND o.owner < e.pathname GROUP BY 1",
        "SELECT o.owner, count(o.site_id) FROM {rel} e JOIN owners o USING (site_id) GROUP BY 1",
        "SELECT count(*) FROM {rel} e JOIN owners o USING (site_id)",
        // A column the grouped primary key determines.
        "SELECT s.site_id, s.domain, count(*) FROM {rel} e JOIN tally.sites s USING (site_id) GROUP BY s.site_id",
    ];
    answers_as_the_heap(&db, &not_pushed, false).await;
    let plan = plan(&db, pushed[4], true).await;
    assert!(plan.contains("Groups Joined By: site_id") && plan.contains("Seq Scan on owners o"), "{plan}");
    // A rescan with the joined rows changed: a correlated subquery per owner.
    let sql = "SELECT o.owner, (SELECT count(*) FROM (SELECT x.owner FROM {rel} e JOIN owners x USING (site_id) \
               WHERE x.owner = o.owner GROUP BY 1) g) FROM (SELECT DISTINCT owner FROM owners) o";
    compare(&db, sql, "heap").await;
}

/// `date_trunc` truncates in the session's time zone, half-hour offsets and daylight
/// saving changes included; prepared statements with parameters aggregate per value.
#[tokio::test]
async fn aggregates_follow_the_time_zone_and_parameters() {
    let db = setup().await;
    for zone in ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Berlin"] {
        db.query(&format!("SET TimeZone = '{zone}'")).await;
        for unit in ["hour", "day", "week", "month", "quarter", "year"] {
            let sql = format!("SELECT date_trunc('{unit}', ts), site_id, count(*), min(ts) FROM {{rel}} GROUP BY 1, 2");
            assert!(pushed_down(&db, &sql).await, "{sql}");
            compare(&db, &sql, "heap").await;
        }
    }
    db.query("RESET TimeZone").await;
    let sql = "SELECT name, count(*), sum(engagement_ms), avg(revenue_micros) FROM {rel} WHERE site_id = $1 AND ts >= $2 AND name = ANY($3) GROUP BY 1";
    for mode in ["force_custom_plan", "force_generic_plan"] {
        db.query(&format!("SET plan_cache_mode = {mode}")).await;
        let scan = db.client.prepare(&sql.replace("{rel}", "tally.events")).await.expect("prepare");
        let heap = db.client.prepare(&sql.replace("{rel}", "heap")).await.expect("prepare");
        assert_eq!(
            scan.columns().iter().map(|c| c.type_().clone()).collect::<Vec<_>>(),
            heap.columns().iter().map(|c| c.type_().clone()).collect::<Vec<_>>()
        );
        for site in 1..=SITES as i32 {
            let from = chrono::DateTime::from_timestamp_micros(END_US - 2 * DAY_US).expect("in range");
            let names = vec!["pageview".to_owned(), "engagement".to_owned()];
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&site, &from, &names];
            let render = |rows: Vec<tokio_postgres::Row>| {
                let mut out: Vec<String> = rows
                    .iter()
                    .map(|r| format!("{:?} {:?} {:?}", r.get::<_, String>(0), r.get::<_, i64>(1), r.get::<_, Option<i64>>(2)))
                    .collect();
                out.sort();
                out
            };
            let got = render(db.client.query(&scan, &params).await.expect("scan"));
            let want = render(db.client.query(&heap, &params).await.expect("heap"));
            assert_eq!(got, want, "{mode}, site {site}");
        }
    }
}

/// A pushed-down aggregation holding more than `tally.query_memory_mb` (hundreds of
/// thousands of groups and distinct values) fails with a hint instead of growing.
#[tokio::test]
async fn an_aggregation_past_query_memory_mb_fails_with_a_hint() {
    let db = TestDb::create().await;
    db.load(300_000, 10, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let sql =
        "SELECT visitor_id, session_id, ts, pathname, count(DISTINCT ts), count(DISTINCT engagement_ms) FROM {rel} GROUP BY 1, 2, 3, 4";
    assert!(pushed_down(&db, sql).await, "{}", plan(&db, sql, false).await);
    let count = format!("SELECT count(*) FROM ({}) q", sql.replace("{rel}", "tally.events"));
    db.query("SET tally.query_memory_mb = 16").await;
    let e = db.client.query(&count, &[]).await.expect_err("over 16 MB");
    let e = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(e.code().code(), "54000", "{}", e.message());
    assert!(e.message().contains("tally.query_memory_mb"), "{}", e.message());
    assert!(e.hint().is_some_and(|h| h.contains("fewer groups")), "{:?}", e.hint());
    db.query("RESET tally.query_memory_mb").await;
    let groups: i64 = db.value(&count).await;
    assert!(groups > 100_000, "{groups} groups");
}

/// Aggregations over more than one batch of rows are decoded on two threads (the
/// backend's and a second one, `tally.query_threads`): the same generated queries
/// answer as on one thread, EXPLAIN ANALYZE says how many threads decoded, and a
/// damaged segment still fails the query with its id.
#[tokio::test]
async fn aggregations_decoded_on_two_threads_answer_as_on_one() {
    let db = TestDb::create().await;
    db.load(200_000, DAYS as u32, SITES, END_US).await;
    db.query("SELECT tally.compact()").await;
    let whole = "SELECT site_id, name, count(*), count(DISTINCT visitor_id) FROM {rel} e GROUP BY 1, 2";
    for threads in [1, 2] {
        db.query(&format!("SET tally.query_threads = {threads}")).await;
        let explained = plan(&db, whole, true).await;
        assert!(explained.contains(&format!("Decoding Threads: {threads}")), "{explained}");
    }
    let mut rng = StdRng::seed_from_u64(2025);
    let mut compared = 0;
    while compared < 60 {
        let sql = query(&mut rng);
        if !pushed_down(&db, &sql).await {
            continue;
        }
        let sql = answer(&sql.replace("{rel}", "tally.events"));
        db.query("SET tally.query_threads = 1").await;
        let one: String = db.value(&sql).await;
        db.query("SET tally.query_threads = 2").await;
        let two: String = db.value(&sql).await;
        assert_eq!(one, two, "answers differ for {sql}");
        compared += 1;
    }
    let id: i64 = db.value("SELECT max(segment_id) FROM tally.segments").await;
    db.query(&format!(
        "UPDATE tally.segments SET data = set_byte(data, length(data) / 2, (get_byte(data, length(data) / 2) + 1) % 256) \
         WHERE segment_id = {id}"
    ))
    .await;
    let e = db.client.query(&whole.replace("{rel}", "tally.events"), &[]).await.expect_err("a damaged segment");
    let message = e.as_db_error().map(|e| e.message().to_owned()).unwrap_or_else(|| e.to_string());
    assert!(message.contains(&format!("segment {id} of tally.segments cannot be decoded")), "{message}");
    // The session's decoding thread serves the next aggregation as before.
    let site: i32 = db.value(&format!("SELECT site_id FROM tally.segments WHERE segment_id = {id}")).await;
    let others: Vec<String> = (1..=SITES as i32).filter(|&s| s != site).map(|s| s.to_string()).collect();
    let others = whole.replace("{rel} e", &format!("{{rel}} e WHERE site_id IN ({})", others.join(", ")));
    assert!(plan(&db, &others, true).await.contains("Decoding Threads: 2"));
    db.query("SET tally.query_threads = 1").await;
    let one: String = db.value(&answer(&others.replace("{rel}", "tally.events"))).await;
    db.query("SET tally.query_threads = 2").await;
    let two: String = db.value(&answer(&others.replace("{rel}", "tally.events"))).await;
    assert_eq!(one, two);
}

/// A query that starts while a compaction is about to commit (its hot rows moved into
/// segments, their partitions truncated) waits for it and reads each event once: in
/// segments, not lost with the truncated partitions its snapshot would otherwise
/// miss. Aggregated inside the scan and row by row alike.
#[tokio::test]
async fn a_query_during_a_compaction_reads_each_event_once() {
    let db = setup().await;
    let queries = [
        "SELECT count(*) FROM {rel} e",
        "SELECT count(*) FROM (SELECT visitor_id, ts, name FROM {rel} e ORDER BY ts) e",
        "SELECT sum(n)::bigint FROM (SELECT site_id, count(*) AS n FROM {rel} e GROUP BY site_id) e",
    ];
    // `write` copies every hot row into the heap: start from none.
    db.query("SELECT tally.compact()").await;
    for (i, sql) in queries.into_iter().enumerate() {
        // Fresh hot rows for this compaction to move.
        let config = Config { seed: 100 + i as u64, sites: SITES, days: DAYS as u32, events: 2_000, start_ts: END_US - DAYS * DAY_US };
        write(&db, &DataGen::new(config).collect::<Vec<Event>>()).await;
        let want: i64 = db.value(&sql.replace("{rel}", "heap")).await;
        // A compaction holding its locks until it commits.
        let compactor = tally_tests::cluster::connect(&db.url).await;
        compactor.batch_execute("BEGIN; SELECT tally.compact()").await.expect("compact");
        let reader = tally_tests::cluster::connect(&db.url).await;
        let query = sql.replace("{rel}", "tally.events");
        let running = tokio::spawn(async move { reader.query_one(&query, &[]).await.map(|row| row.get::<_, i64>(0)) });
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        compactor.batch_execute("COMMIT").await.expect("commit");
        let got = running.await.expect("the query task").expect("the query");
        assert_eq!(got, want, "{sql} during a compaction");
        assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events_hot").await, 0, "compacted");
    }
}

/// Snapshots older than a compaction's commit (TRUNCATE of the hot rows is not
/// MVCC-safe): a generic plan of a prepared statement, which skips the planner's lock,
/// reads under a later snapshot in READ COMMITTED and counts every event; a REPEATABLE
/// READ transaction fails with a serialization error, through `tally.events` and
/// `tally.query` alike, instead of missing the events the compaction moved.
#[tokio::test]
async fn a_snapshot_older_than_a_compaction_never_misses_its_events() {
    let db = setup().await;
    db.query("SELECT tally.compact()").await;
    let fresh = |seed| {
        let config = Config { seed, sites: SITES, days: DAYS as u32, events: 2_000, start_ts: END_US - DAYS * DAY_US };
        DataGen::new(config).collect::<Vec<Event>>()
    };
    let sql = "SELECT count(*) FROM tally.events WHERE site_id = ANY($1)";
    let sites: Vec<i32> = (1..=SITES as i32).collect();

    // READ COMMITTED, generic plan: planned once beforehand, bound (the portal's
    // snapshot taken) before the compaction commits, run after.
    write(&db, &fresh(200)).await;
    let want: i64 = db.value("SELECT count(*) FROM heap").await;
    let mut reader = tally_tests::cluster::connect(&db.url).await;
    reader.batch_execute("SET plan_cache_mode = force_generic_plan").await.expect("generic plans");
    let statement = reader.prepare(sql).await.expect("prepare");
    let first: i64 = reader.query_one(&statement, &[&sites]).await.expect("the generic plan").get(0);
    assert_eq!(first, want, "before the compaction");
    let tx = reader.transaction().await.expect("begin");
    let portal = tx.bind(&statement, &[&sites]).await.expect("bind");
    db.query("SELECT tally.compact()").await;
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events_hot").await, 0, "compacted");
    let rows = tx.query_portal(&portal, 0).await.expect("run the portal");
    assert_eq!(rows[0].get::<_, i64>(0), want, "a generic plan bound before the compaction");
    tx.commit().await.expect("commit");

    // REPEATABLE READ: the snapshot of the transaction's first statement.
    let query = r#"SELECT tally.query('{"site_id": 1, "date_range": ["2024-03-01", "2024-03-31"], "metrics": ["events"]}')::text"#;
    for read in [sql.replace("ANY($1)", "ANY('{1,2,3}')"), query.to_owned()] {
        write(&db, &fresh(300)).await;
        let reader = tally_tests::cluster::connect(&db.url).await;
        reader.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM tally.sites").await.expect("snapshot");
        db.query("SELECT tally.compact()").await;
        let failed = reader.query_one(read.as_str(), &[]).await.expect_err("a read missing the compacted events");
        assert_eq!(failed.code(), Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE), "{read}: {failed}");
        reader.batch_execute("ROLLBACK").await.expect("rollback");
        reader.query_one(read.as_str(), &[]).await.unwrap_or_else(|e| panic!("{read} in a new transaction: {e:?}"));
    }
}

/// A segment whose bytes were damaged fails every query that decodes it, naming it:
/// its good bytes cached by an earlier query do not answer for the rewritten row, and
/// the damaged bytes are not kept, so the next query checks them again.
#[tokio::test]
async fn a_corrupt_segment_fails_each_query_that_reads_it() {
    let db = setup().await;
    let sql = "SELECT count(DISTINCT pathname) FROM tally.events WHERE site_id = 1";
    let before: i64 = db.value(sql).await;
    assert!(before > 0);
    let id: i64 = db.value("SELECT max(segment_id) FROM tally.segments WHERE site_id = 1").await;
    db.query(&format!(
        "UPDATE tally.segments SET data = set_byte(data, length(data) / 2, (get_byte(data, length(data) / 2) + 1) % 256) \
         WHERE segment_id = {id}"
    ))
    .await;
    for attempt in 0..2 {
        let e = db.client.query(sql, &[]).await.expect_err("a damaged segment");
        let message = e.as_db_error().map(|e| e.message().to_owned()).unwrap_or_else(|| e.to_string());
        assert!(message.contains(&format!("segment {id} of tally.segments cannot be decoded")), "attempt {attempt}: {message}");
    }
}
