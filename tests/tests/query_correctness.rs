//! `tally.query` against plain SQL: on generated traffic spread over segments (several
//! per day, visits crossing segment boundaries) and hot rows, every metric of every
//! (dimension × filter) case equals the same question asked in SQL of a heap copy of
//! the events. The SQL below spells out the semantics documented in
//! `tally_core::query`, independently of the engine.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tally_core::datagen::{Config, DataGen};
use tally_tests::TestDb;

/// 2024-03-31 00:00 UTC: the data covers the six days before.
const END_US: i64 = 1_711_843_200_000_000;
const DAY_US: i64 = 86_400_000_000;
/// Site 1 runs on Indian time (UTC+05:30), so its days and hours are not UTC's.
const ZONE: &str = "Asia/Kolkata";
const RANGE: [&str; 2] = ["2024-03-26", "2024-03-30"];

const METRICS: [&str; 10] = [
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "percentage",
    "total_revenue",
    "average_revenue",
];

/// (API dimension, SQL expression over the qualifying rows `q`).
const DIMENSIONS: [(&str, &str); 14] = [
    ("event:name", "q.name"),
    ("event:page", "q.pathname"),
    ("event:hostname", "q.hostname"),
    ("event:props:plan", "q.props->>'plan'"),
    ("event:goal", "q.goal"),
    ("visit:entry_page", "q.entry_page"),
    ("visit:exit_page", "q.exit_page"),
    ("visit:source", "q.v_referrer_source"),
    ("visit:utm_campaign", "q.v_utm_campaign"),
    ("visit:country", "q.v_country"),
    ("visit:device", "q.v_device"),
    ("visit:browser", "q.v_browser"),
    ("time:day", "to_char(q.ts AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD')"),
    ("time:hour", "to_char(date_trunc('hour', q.ts AT TIME ZONE 'Asia/Kolkata'), 'YYYY-MM-DD HH24:00:00')"),
];

/// (API filters, SQL condition over `ev`: the events with their visit's attributes).
fn filters() -> Vec<(Value, &'static str)> {
    vec![
        (json!([]), "true"),
        (json!([["is", "visit:country", ["US", "DE"]]]), "coalesce(ev.v_country IN ('US', 'DE'), false)"),
        (json!([["is_not", "visit:device", ["mobile"]]]), "NOT coalesce(ev.v_device = 'mobile', false)"),
        (json!([["contains", "event:page", ["blog"]]]), "coalesce(strpos(ev.pathname, 'blog') > 0, false)"),
        (
            json!([["or", [["matches", "visit:source", ["^(Google|Bing)$"]], ["is", "visit:entry_page", ["/pricing"]]]]]),
            "(coalesce(ev.v_referrer_source ~ '^(Google|Bing)$', false) OR coalesce(ev.entry_page = '/pricing', false))",
        ),
        (
            json!([["not", ["is", "event:name", ["engagement"]]], ["is", "event:goal", ["Signup", "Docs"]]]),
            "NOT coalesce(ev.name = 'engagement', false) AND (ev.name = 'Signup' OR (ev.name = 'pageview' AND ev.pathname LIKE '/docs%'))",
        ),
        (json!([["is", "event:props:logged_in", ["true"]]]), "coalesce(ev.props->>'logged_in' = 'true', false)"),
    ]
}

/// Loads the traffic: most of it compacted in two passes (so the last day has several
/// segments), the rest left hot.
async fn setup() -> TestDb {
    let db = TestDb::create().await;
    db.query(&format!("SELECT tally.create_site('site1.example', '{ZONE}'), tally.create_site('site2.example')")).await;
    db.query("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup'), tally.create_goal(1, 'Docs', page_pattern => '/docs*')").await;
    db.query("SELECT tally.create_goal(1, 'Pricing', page_pattern => '/pricing')").await;
    let events: Vec<_> = DataGen::new(Config { seed: 11, sites: 2, days: 6, events: 40_000, start_ts: END_US - 6 * DAY_US }).collect();
    let pool = tally_gateway::pool::build(&db.url, 2).expect("pool");
    let (first, rest) = events.split_at(events.len() * 80 / 100);
    let (second, hot) = rest.split_at(rest.len() / 2);
    for (part, compact) in [(first, true), (second, true), (hot, false)] {
        for chunk in part.chunks(10_000) {
            tally_gateway::ingest::store::write_events(&pool, chunk).await.expect("write batch");
        }
        if compact {
            db.query("SELECT tally.compact()").await;
        }
    }
    assert!(db.value::<i64>("SELECT count(*) FROM tally.events_hot").await > 1_000);
    db.query("CREATE TABLE heap AS SELECT * FROM tally.events").await;
    db
}

/// CTEs `ev` (site 1's events in RANGE with their visit's attributes) and `q0` (those
/// passing `condition`): the qualifying events every case starts from.
fn qualifying(condition: &str) -> String {
    // Visit attributes by window functions over each visit's events in time order
    // (w: whole visit ascending, d: descending), so no join can go quadratic.
    let visit_columns = ["referrer_source", "utm_campaign", "country", "device", "browser"]
        .iter()
        .map(|c| format!("first_value({c}) OVER w AS v_{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "ev AS (
            SELECT h.*,
                   count(*) FILTER (WHERE name <> 'engagement' AND interactive IS NOT false) OVER w <= 1 AS bounced,
                   (extract(epoch FROM max(ts) OVER w - min(ts) OVER w) * 1000000)::int8 AS duration_us,
                   count(*) FILTER (WHERE name = 'pageview') OVER w AS visit_pageviews,
                   (array_agg(pathname) FILTER (WHERE name = 'pageview') OVER w)[1] AS entry_page,
                   (array_agg(pathname) FILTER (WHERE name = 'pageview') OVER d)[1] AS exit_page,
                   {visit_columns}
            FROM heap h WHERE site_id = 1
              AND ts >= TIMESTAMP '{from}' AT TIME ZONE '{ZONE}' AND ts < (DATE '{to}' + 1)::timestamp AT TIME ZONE '{ZONE}'
            WINDOW w AS (PARTITION BY visitor_id, session_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
                   d AS (PARTITION BY visitor_id, session_id ORDER BY ts DESC ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),
         q0 AS (SELECT * FROM ev WHERE {condition})",
        from = RANGE[0],
        to = RANGE[1],
    )
}

/// The SQL answer of one case: dimension values (as JSON) → metric values.
async fn sql_answer(db: &TestDb, dimension: &str, condition: &str) -> BTreeMap<String, Vec<f64>> {
    let sql = format!(
        "WITH {qualifying},
         q AS (SELECT q0.*, g.name AS goal FROM q0 LEFT JOIN tally.goals g ON g.site_id = 1
                 AND (q0.name = g.event_name OR (q0.name = 'pageview' AND q0.pathname LIKE replace(g.page_pattern, '*', '%')))),
         k AS (SELECT q.*, {dim} AS key FROM q {goal_only}),
         total AS (SELECT count(DISTINCT visitor_id) AS visitors FROM q),
         events AS (SELECT key, count(DISTINCT visitor_id) AS visitors, count(*) FILTER (WHERE name = 'pageview') AS pageviews,
                           count(*) FILTER (WHERE name <> 'engagement') AS events,
                           coalesce(sum(revenue_micros), 0) AS revenue, count(revenue_micros) AS revenue_events,
                           count(DISTINCT revenue_currency) > 1 AS mixed_currencies
                    FROM k GROUP BY key),
         visits AS (SELECT key, count(*) AS visits, sum(bounced::int) AS bounces, sum(duration_us) AS duration_us,
                           sum(visit_pageviews) AS visit_pageviews
                    FROM (SELECT DISTINCT key, visitor_id, session_id, bounced, duration_us, visit_pageviews FROM k) v GROUP BY key)
         SELECT jsonb_build_array(e.key)::text,
                ARRAY[e.visitors, v.visits, e.pageviews,
                      round(v.visit_pageviews::numeric / v.visits, 2), round(100.0 * v.bounces / v.visits, 2),
                      round(v.duration_us / 1e6 / v.visits), e.events, round(100.0 * e.visitors / t.visitors, 2),
                      CASE WHEN e.mixed_currencies THEN {NO_TOTAL} ELSE e.revenue / 1e6 END,
                      CASE WHEN e.mixed_currencies THEN {NO_TOTAL} WHEN e.revenue_events = 0 THEN 0
                           ELSE round(e.revenue / 1e6 / e.revenue_events, 2) END
                ]::float8[]
         FROM events e JOIN visits v ON e.key IS NOT DISTINCT FROM v.key, total t",
        qualifying = qualifying(condition),
        dim = dimension,
        // The goals are exclusive (an event is Signup or a pageview of one page), so the goal join
        // never repeats a row; grouping by goal keeps only rows that complete one. Pages are
        // made of pageviews unless an event name (or a goal) is asked for, as Plausible's top pages.
        goal_only = match dimension {
            "q.goal" => "WHERE q.goal IS NOT NULL",
            "q.pathname" if !condition.contains("ev.name") => "WHERE q.name = 'pageview'",
            _ => "",
        },
    );
    let rows = db.client.query(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, Vec<f64>>(1))).collect()
}

/// Revenue of different currencies has no total (`null` in the answer): this stands for
/// it in both answers.
const NO_TOTAL: f64 = -1.0;

fn api_answer(answer: &Value) -> BTreeMap<String, Vec<f64>> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| {
            let metrics = row["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| if v.is_null() { NO_TOTAL } else { v.as_f64().expect("numeric metric") })
                .collect();
            (row["dimensions"].to_string(), metrics)
        })
        .collect()
}

fn same(a: &BTreeMap<String, Vec<f64>>, b: &BTreeMap<String, Vec<f64>>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && va.iter().zip(vb).all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0)))
}

#[tokio::test]
async fn every_metric_of_every_dimension_and_filter_matches_sql() {
    let db = setup().await;
    // The scan, exact: visitors alone could come from rollups (tests/query_rollups.rs).
    db.query("SET tally.query_rollups = off").await;
    let mut checked = 0;
    for (dimension, expr) in DIMENSIONS {
        for (filter, condition) in filters() {
            let query =
                json!({"site_id": "site1.example", "date_range": RANGE, "metrics": METRICS, "dimensions": [dimension], "filters": filter});
            let answer: Value = db.client.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
            let expected = sql_answer(&db, expr, condition).await;
            let got = api_answer(&answer);
            assert!(same(&got, &expected), "{query}\nexpected {} groups: {expected:?}\ngot {} groups: {got:?}", expected.len(), got.len());
            checked += got.len();
            // Visitors and visits alone: the scan skips each visit's other figures then.
            let lean = json!({"site_id": "site1.example", "date_range": RANGE, "metrics": ["visitors", "visits"], "dimensions": [dimension],
                              "filters": filter});
            let answer: Value = db.client.query_one("SELECT tally.query($1)", &[&lean]).await.unwrap().get(0);
            let expected: BTreeMap<String, Vec<f64>> = expected.into_iter().map(|(k, v)| (k, v[..2].to_vec())).collect();
            assert!(same(&api_answer(&answer), &expected), "{lean}\nexpected {expected:?}\ngot {:?}", api_answer(&answer));
        }
    }
    assert!(checked > 3_000, "the cases cover many groups, got {checked}");
}

/// Funnel steps as SQL conditions over qualifying events, with their goal names.
const FUNNEL: [(&str, &str); 3] = [
    ("Pricing", "name = 'pageview' AND pathname = '/pricing'"),
    ("Docs", "name = 'pageview' AND pathname LIKE '/docs%'"),
    ("Signup", "name = 'Signup'"),
];

/// Visitors entering, then reaching each step of FUNNEL, in SQL: step k's time is the
/// first qualifying event of the visit completing it after step k-1's time.
async fn sql_funnel(db: &TestDb, condition: &str) -> Vec<i64> {
    let mut steps = String::new();
    for (k, (_, step)) in FUNNEL.iter().enumerate() {
        let after = if k == 0 { String::new() } else { format!(" JOIN s{k} p USING (visitor_id, session_id) WHERE q0.ts > p.t AND") };
        let where_ = if k == 0 { " WHERE" } else { "" };
        steps +=
            &format!(", s{n} AS (SELECT visitor_id, session_id, min(q0.ts) AS t FROM q0{after}{where_} {step} GROUP BY 1, 2)", n = k + 1);
    }
    let counts: Vec<String> = (1..=FUNNEL.len()).map(|k| format!("(SELECT count(DISTINCT visitor_id) FROM s{k})")).collect();
    let sql = format!(
        "WITH {qualifying}{steps} SELECT ARRAY[(SELECT count(DISTINCT visitor_id) FROM q0), {counts}]",
        qualifying = qualifying(condition),
        counts = counts.join(", ")
    );
    db.client.query_one(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[tokio::test]
async fn funnels_match_sql() {
    let db = setup().await;
    let goals: Vec<&str> = FUNNEL.iter().map(|(goal, _)| *goal).collect();
    db.query("SELECT tally.create_funnel(1, 'Evaluate', ARRAY['Pricing', 'Docs', 'Signup'])").await;
    for (filter, condition) in filters() {
        let expected = sql_funnel(&db, condition).await;
        for funnel in [json!(goals), json!("Evaluate")] {
            let query =
                json!({"site_id": "site1.example", "date_range": RANGE, "metrics": ["visitors"], "funnel": funnel, "filters": filter});
            let answer: Value = db.client.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
            let f = &answer["funnel"];
            let mut got = vec![f["visitors"].as_i64().unwrap()];
            got.extend(f["steps"].as_array().unwrap().iter().map(|s| s["visitors"].as_i64().unwrap()));
            assert_eq!(got, expected, "{query}: {answer}");
            assert_eq!(answer["results"][0]["metrics"][0], json!(expected[0]), "results hold the entering visitors");
        }
        assert!(expected[3] > 0 || condition != "true", "the unfiltered funnel is reached to its end: {expected:?}");
    }
    let bad = json!({"site_id": "site1.example", "date_range": RANGE, "metrics": ["visitors"], "funnel": "Nope"});
    let error = db.client.query_one("SELECT tally.query($1)", &[&bad]).await.unwrap_err();
    let db_error = error.as_db_error().expect("an SQL error");
    assert_eq!(db_error.detail(), Some("field: funnel"));
    let not_a_goal = db.client.query_one("SELECT tally.create_funnel(1, 'x', ARRAY['Pricing', 'Nope'])", &[]).await.unwrap_err();
    assert!(not_a_goal.as_db_error().unwrap().hint().unwrap().contains("create_goal"));
}
