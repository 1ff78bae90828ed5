//! `POST /api/v1/query` and `tally.query` from SQL: answers through the gateway, live
//! events visible at once (realtime), ordering, pagination, totals and comparison,
//! and bad queries rejected with a 400 (HTTP) or an error with a hint (SQL) that
//! name the field at fault; batches (`POST /api/v1/query/batch`, `tally.query_batch`)
//! answering each query as alone. Every request is signed in (tests/security.rs covers
//! what happens otherwise).

use serde_json::{json, Value};
use tally_tests::Tally;

/// 2024-03-31 00:00 UTC.
const END_US: i64 = 1_711_843_200_000_000;

async fn loaded() -> Tally {
    let t = Tally::start().await;
    t.db.load(20_000, 4, 2, END_US).await;
    t.sql("SELECT tally.compact()").await;
    t
}

#[tokio::test]
async fn the_gateway_answers_queries_with_totals_comparison_and_pages() {
    let t = loaded().await;
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let query = json!({
        "site_id": "site1.example", "date_range": ["2024-03-29", "2024-03-30"],
        "metrics": ["visitors", "pageviews", "bounce_rate"], "dimensions": ["event:page"],
        "order_by": [["pageviews", "desc"]], "pagination": {"limit": 3, "offset": 1},
        "include": {"totals": true, "comparisons": {"mode": "previous_period"}}
    });
    let (status, answer) = analyst.post("/api/v1/query", query.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let pageviews: Vec<u64> = rows.iter().map(|r| r["metrics"][1].as_u64().unwrap()).collect();
    assert!(pageviews.windows(2).all(|w| w[0] >= w[1]), "ordered by pageviews: {pageviews:?}");
    assert!(answer["meta"]["total_rows"].as_u64().unwrap() > 4);
    assert_eq!(answer["query"]["date_range"], json!(["2024-03-29", "2024-03-30"]));
    assert_eq!(answer["query"]["comparison"]["date_range"], json!(["2024-03-27", "2024-03-28"]));
    // The comparison row is the same page two days earlier, answered by the same engine.
    let page = rows[0]["dimensions"][0].as_str().unwrap().to_owned();
    let mut earlier = query.clone();
    earlier["date_range"] = json!(["2024-03-27", "2024-03-28"]);
    earlier["filters"] = json!([["is", "event:page", [page]]]);
    earlier.as_object_mut().unwrap().remove("include");
    earlier.as_object_mut().unwrap().remove("pagination");
    let (_, before) = analyst.post("/api/v1/query", earlier).await;
    assert_eq!(rows[0]["comparison"]["metrics"], before["results"][0]["metrics"]);
    // Totals equal the same query without dimensions, and match plain SQL.
    let sql_visitors: i64 =
        t.db.value("SELECT count(DISTINCT visitor_id) FROM tally.events WHERE site_id = 1 AND ts >= '2024-03-29' AND ts < '2024-03-31'")
            .await;
    assert_eq!(answer["totals"]["metrics"][0], json!(sql_visitors));
}

#[tokio::test]
async fn a_pair_of_date_times_cuts_hours_and_compares_with_the_period_before() {
    let t = loaded().await;
    let analyst = t.user_with_role("site1.example", "analyst").await;
    // 09:20:00 to 12:44:59 UTC (inclusive), on two days: neither end on an hour.
    let query = json!({
        "site_id": "site1.example", "date_range": ["2024-03-29T10:20:00+01:00", "2024-03-30T13:44:59+01:00"],
        "metrics": ["visitors", "pageviews"], "dimensions": ["time:hour"],
        "include": {"totals": true, "comparisons": {"mode": "previous_period"}}
    });
    let (status, answer) = analyst.post("/api/v1/query", query.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["query"]["date_range"], json!(["2024-03-29T09:20:00+00:00", "2024-03-30T12:44:59+00:00"]));
    // The previous period is as long (27 h 25 min) and ends where the range begins.
    assert_eq!(answer["query"]["comparison"]["date_range"], json!(["2024-03-28T05:55:00+00:00", "2024-03-29T09:19:59+00:00"]));
    let counted = |from: &'static str, to: &'static str| {
        let db = &t.db;
        async move {
            let row = db
                .query(&format!(
                    "SELECT count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM tally.events
                     WHERE site_id = 1 AND ts >= '{from}' AND ts < '{to}'"
                ))
                .await;
            json!([row[0].get::<_, i64>(0), row[0].get::<_, i64>(1)])
        }
    };
    assert_eq!(answer["totals"]["metrics"], counted("2024-03-29 09:20:00+00", "2024-03-30 12:45:00+00").await);
    let mut whole = query.clone();
    whole.as_object_mut().unwrap().remove("dimensions");
    let (_, whole) = analyst.post("/api/v1/query", whole).await;
    assert_eq!(whole["results"][0]["comparison"]["metrics"], counted("2024-03-28 05:55:00+00", "2024-03-29 09:20:00+00").await, "{whole}");
    // The first bucket holds 09:20 to 10:00 only.
    let first = &answer["results"][0];
    assert_eq!(first["dimensions"], json!(["2024-03-29 09:00:00"]));
    assert_eq!(first["metrics"], counted("2024-03-29 09:20:00+00", "2024-03-29 10:00:00+00").await);
    assert_eq!(answer["results"].as_array().unwrap().len(), 28, "09:00 on the 29th to 12:00 on the 30th");
    // tally.query in SQL takes the same pair, from rollups (the covered hours, the cut
    // ones scanned) as from the scan alone.
    for (setting, path) in [("SET tally.query_rollup_min_events_per_row = 0", "rollups"), ("SET tally.query_rollups = off", "scan")] {
        t.db.query(setting).await;
        let sql: Value = t.db.client.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
        assert_eq!((sql["totals"].clone(), sql["results"].clone()), (answer["totals"].clone(), answer["results"].clone()), "{setting}");
        assert_eq!(sql["meta"]["path"], path, "{setting}");
    }
}

#[tokio::test]
async fn live_events_count_in_realtime_before_compaction() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('live.example')").await;
    for page in ["/", "/pricing"] {
        let event = json!({"name": "pageview", "url": format!("https://live.example{page}"), "domain": "live.example"});
        let (status, _) = t.post("/api/event", event).await;
        assert_eq!(status, 202);
    }
    let query = json!({"site_id": "live.example", "date_range": "realtime", "metrics": ["visitors", "visits", "pageviews", "bounce_rate"]});
    let viewer = t.user_with_role("live.example", "viewer").await;
    let (status, answer) = viewer.post("/api/v1/query", query).await;
    assert_eq!(status, 200, "{answer}");
    let metrics: Vec<f64> = answer["results"][0]["metrics"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(metrics, [1.0, 1.0, 2.0, 0.0], "one visitor, one visit of two pages: no bounce");
}

#[tokio::test]
async fn bad_queries_get_400_naming_the_field() {
    let t = loaded().await;
    t.sql("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup')").await;
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let base = json!({"site_id": "site1.example", "date_range": "7d", "metrics": ["visitors"]});
    let cases = [
        ("metrics", json!(["visitors", "clicks"]), "metrics[1]"),
        ("dimensions", json!(["visit:planet"]), "dimensions[0]"),
        ("filters", json!([["is", "visit:country", "DE"]]), "filters[0][2]"),
        ("filters", json!([["near", "visit:country", ["DE"]]]), "filters[0][0]"),
        ("filters", json!([["is", "event:goal", ["Nope"]]]), "filters[0][2][0]"),
        ("date_range", json!("fortnight"), "date_range"),
        ("date_range", json!(["2024-02-30", "2024-03-01"]), "date_range[0]"),
        ("date_range", json!(["2024-03-29T10:00:00+01:00", "2024-03-29T11:00:00"]), "date_range[1]"),
        ("date_range", json!(["2024-03-29T11:00:00Z", "2024-03-29T10:59:59Z"]), "date_range"),
        ("site_id", json!("nosuch.example"), "site_id"),
        // A site the caller may not see answers like one that does not exist.
        ("site_id", json!("site2.example"), "site_id"),
        ("site_id", json!(2), "site_id"),
    ];
    for (key, value, field) in cases {
        let mut query = base.clone();
        query[key] = value;
        let (status, body) = analyst.post("/api/v1/query", query.clone()).await;
        assert_eq!(status, 400, "{query} → {body}");
        assert_eq!(body["field"], json!(field), "{query} → {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, body) = analyst.post("/api/v1/query", Value::String("not an object".into())).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("query")));

    // In SQL: SQLSTATE 22023, the field in DETAIL, what to fix in HINT.
    let err =
        t.db.client
            .query_one("SELECT tally.query($1)", &[&json!({"site_id": 1, "date_range": "7d", "metrics": ["clicks"]})])
            .await
            .unwrap_err();
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "22023");
    assert!(db.message().contains("unknown metric \"clicks\""), "{}", db.message());
    assert_eq!(db.detail(), Some("field: metrics[0]"));
    assert!(db.hint().is_some_and(|h| h.contains("metrics[0]")));
}

#[tokio::test]
async fn a_batch_answers_each_query_as_alone_and_fails_only_the_bad_ones() {
    let t = loaded().await;
    t.sql("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup'), tally.create_goal(1, 'Purchase', event_name => 'Purchase')")
        .await;
    let analyst = t.user_with_role("site1.example", "analyst").await;
    // A dashboard filtered by a country: the scans of the same range are shared.
    let q = |extra: Value| {
        let mut query = json!({"site_id": "site1.example", "date_range": ["2024-03-01", "2024-03-30"],
            "filters": [["is", "visit:country", ["US"]]], "metrics": ["visitors"]});
        query.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        query
    };
    let good = vec![
        q(json!({"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
            "include": {"comparisons": {"mode": "previous_period"}}})),
        q(json!({"dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}})),
        q(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "pagination": {"limit": 5}})),
        q(json!({"metrics": ["visitors", "bounce_rate", "percentage"], "dimensions": ["visit:source"]})),
        q(json!({"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"]})),
        q(json!({"dimensions": ["visit:country"]})),
        // Unfiltered, and a funnel (which scans alone).
        json!({"site_id": "site1.example", "date_range": ["2024-03-01", "2024-03-30"], "metrics": ["visitors"], "dimensions": ["visit:device"]}),
        json!({"site_id": "site1.example", "date_range": ["2024-03-01", "2024-03-30"], "metrics": ["visitors"], "funnel": ["Signup", "Purchase"]}),
    ];
    let mut batch = good.clone();
    batch.insert(2, q(json!({"metrics": ["clicks"]})));
    batch.push(json!({"site_id": "site2.example", "date_range": "7d", "metrics": ["visitors"]}));
    let (status, body) = analyst.post("/api/v1/query/batch", json!({"queries": batch})).await;
    assert_eq!(status, 200, "{body}");
    let mut results = body["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), good.len() + 2);
    // A bad query and a site the caller may not see fail in their places only.
    let unseen = results.pop().unwrap();
    assert_eq!(unseen["error"]["field"], json!("site_id"), "{unseen}");
    let bad = results.remove(2);
    assert_eq!(bad["error"]["field"], json!("metrics[0]"), "{bad}");
    assert!(bad["error"]["message"].as_str().unwrap().contains("clicks"), "{bad}");
    for (query, answer) in good.iter().zip(&results) {
        let (status, alone) = analyst.post("/api/v1/query", query.clone()).await;
        assert_eq!(status, 200, "{alone}");
        assert!(!alone["results"].as_array().unwrap().is_empty(), "{query}: {alone}");
        assert_eq!(answer, &alone, "{query}");
    }
    // The gateway's time is in Server-Timing (what the page can tell apart from its own).
    let resp = analyst.http.post(format!("{}/api/v1/query/batch", analyst.base)).json(&json!({"queries": good})).send().await.unwrap();
    let timing = resp.headers().get("server-timing").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let ms: Option<f64> = timing.as_deref().and_then(|t| t.strip_prefix("app;dur=")).and_then(|d| d.parse().ok());
    assert!(ms.is_some_and(|ms| ms > 0.0 && ms < 60_000.0), "Server-Timing: {timing:?}");
    // The SQL function answers the same.
    let rows = t.db.client.query_one("SELECT tally.query_batch($1)", &[&Value::Array(good.clone())]).await.unwrap();
    let from_sql: Value = rows.get(0);
    assert_eq!(from_sql.as_array().unwrap(), &results);
    // In shares (as the gateway runs it on two connections), each answer is in exactly
    // one share, the same as in the whole batch, and the others hold null there.
    for parts in [2, 3] {
        let mut shares = Vec::new();
        for part in 1..=parts {
            let row = t.db.client.query_one("SELECT tally.query_batch($1, $2, $3)", &[&Value::Array(good.clone()), &part, &parts]).await;
            shares.push(row.unwrap().get::<_, Value>(0).as_array().unwrap().clone());
        }
        for (i, whole) in results.iter().enumerate() {
            let held: Vec<&Value> = shares.iter().map(|s| &s[i]).filter(|a| !a.is_null()).collect();
            assert_eq!(held, vec![whole], "query {i} in {parts} parts");
        }
        assert!(shares.iter().all(|s| s.iter().any(|a| !a.is_null())), "every share answers something: {parts} parts");
    }
    for (part, parts, field) in [(0, 2, "part"), (3, 2, "part"), (1, 0, "parts"), (1, 17, "parts")] {
        let err = t.db.client.query_one("SELECT tally.query_batch($1, $2, $3)", &[&Value::Array(good.clone()), &part, &parts]).await;
        let err = err.unwrap_err();
        let db = err.as_db_error().expect("a database error");
        assert_eq!((db.code().code(), db.detail()), ("22023", Some(format!("field: {field}").as_str())), "{part} of {parts}");
    }

    // A body that is not a list of 1 to 50 queries is a 400 naming `queries`.
    for body in [json!({}), json!({"queries": []}), json!({"queries": {"site_id": 1}}), json!({"queries": vec![good[0].clone(); 51]})] {
        let (status, answer) = analyst.post("/api/v1/query/batch", body.clone()).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some("queries")), "{body} → {answer}");
    }
    let err = t.db.client.query_one("SELECT tally.query_batch($1)", &[&json!({"site_id": 1})]).await.unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.detail()), Some(Some("field: queries")));
}
