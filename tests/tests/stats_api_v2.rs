//! `POST /api/v2/query`, Plausible's Stats API v2: the request examples of Plausible's
//! public documentation (docs/stats-api.md and its `apiv2-examples`), sent with an API
//! key as Plausible's clients do, answer in the documented shapes (`results` rows of
//! `metrics` and `dimensions`, `meta`, the `query` with its range as ISO 8601
//! date-times); place names from the codes stored, by Debian's iso-codes.

use serde_json::{json, Value};
use tally_tests::session::Session;
use tally_tests::Tally;

/// A site of a few handmade visits today and one in August 2024, and an API key on it.
async fn dummy_site() -> (Tally, Session) {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('dummy.site')").await;
    t.sql("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup')").await;
    // Visitor 1 comes from Google on a Mac, reads /pricing for 30 s and signs up;
    // visitor 2 reads a blog post on Linux; visitor 3 signs up without /pricing.
    t.sql(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname, referrer_source,
                                       utm_medium, utm_source, os, engagement_ms, props)
         SELECT 1, now() - (m || ' minutes')::interval, n, v, v, 'dummy.site', p, s, um, us, o, e, pr::jsonb
         FROM (VALUES (5, 'pageview', 1, '/', 'Google', 'social', 'twitter', 'Mac', NULL, '{}'),
                      (4, 'pageview', 1, '/pricing', 'Google', 'social', 'twitter', 'Mac', NULL, '{}'),
                      (3, 'engagement', 1, '/pricing', 'Google', 'social', 'twitter', 'Mac', 30000, '{}'),
                      (2, 'Signup', 1, '/pricing', 'Google', 'social', 'twitter', 'Mac', NULL, '{\"is_customer\": \"true\"}'),
                      (5, 'pageview', 2, '/Blog/post', NULL, NULL, NULL, 'GNU/Linux', NULL, '{}'),
                      (4, 'pageview', 3, '/', NULL, NULL, NULL, 'Windows', NULL, '{}'),
                      (3, 'Signup', 3, '/', NULL, NULL, NULL, 'Windows', NULL, '{}'))
              AS e(m, n, v, p, s, um, us, o, e, pr)",
    )
    .await;
    t.sql(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname)
         VALUES (1, '2024-08-05 12:00:00+00', 'pageview', 4, 4, 'dummy.site', '/docs')",
    )
    .await;
    let admin = t.admin().await;
    let (_, key) = admin.api_key(Some(1)).await;
    (t, key)
}

async fn ok(key: &Session, query: Value) -> Value {
    let (status, body) = key.post("/api/v2/query", query.clone()).await;
    assert_eq!(status, 200, "{query} → {body}");
    body
}

#[tokio::test]
async fn documentation_examples_answer_in_plausible_shapes() {
    let (t, key) = dummy_site().await;

    // Simple aggregate query: engagement events are no events.
    let answer = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors", "events"], "date_range": "7d"})).await;
    assert_eq!(answer["results"], json!([{"metrics": [3, 6], "dimensions": []}]));
    assert_eq!(answer["meta"], json!({}));
    let query = &answer["query"];
    assert_eq!(query["site_id"], "dummy.site");
    assert_eq!((query["filters"].clone(), query["dimensions"].clone(), query["include"].clone()), (json!([]), json!([]), json!({})));
    assert_eq!(query["order_by"], json!([["visitors", "desc"]]));
    let range: Vec<&str> = query["date_range"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(range[0].ends_with("T00:00:00+00:00") && range[1].ends_with("T23:59:59+00:00"), "{range:?}");

    // Custom date range.
    let answer = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": ["2024-08-01", "2024-08-15"]})).await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));
    assert_eq!(answer["query"]["date_range"], json!(["2024-08-01T00:00:00+00:00", "2024-08-15T23:59:59+00:00"]));
    // The same days as a date-time pair.
    let pair =
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": ["2024-08-01T00:00:00+00:00", "2024-08-15T23:59:59+00:00"]});
    assert_eq!(ok(&key, pair).await["results"][0]["metrics"], json!([1]));
    // Hours inside a day (August's visit is at 12:00:00 UTC), the end inclusive to the
    // end of its second, echoed in the site's zone (UTC).
    let visitors = |from: &str, to: &str| {
        let query = json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": [from, to]});
        let key = &key;
        async move { ok(key, query).await }
    };
    let answer = visitors("2024-08-05T13:30:00+02:00", "2024-08-05T14:00:00+02:00").await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));
    assert_eq!(answer["query"]["date_range"], json!(["2024-08-05T11:30:00+00:00", "2024-08-05T12:00:00+00:00"]));
    assert_eq!(visitors("2024-08-05T10:00:00Z", "2024-08-05T11:59:59Z").await["results"][0]["metrics"], json!([0]));
    assert_eq!(visitors("2024-08-05T12:00:01Z", "2024-08-05T14:00:00Z").await["results"][0]["metrics"], json!([0]));
    let hourly = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": ["2024-08-05T10:30:00Z", "2024-08-05T12:29:59Z"],
            "dimensions": ["time"], "include": {"time_labels": true}}),
    )
    .await;
    assert_eq!(hourly["results"], json!([{"metrics": [1], "dimensions": ["2024-08-05 12:00:00"]}]));
    assert_eq!(hourly["meta"]["time_labels"], json!(["2024-08-05 10:00:00", "2024-08-05 11:00:00", "2024-08-05 12:00:00"]));

    // UTM medium and source analysis; pagination with total rows.
    let utm = json!({"site_id": "dummy.site", "metrics": ["visitors", "events", "pageviews"], "date_range": "7d",
        "dimensions": ["visit:utm_medium", "visit:utm_source"]});
    let answer = ok(&key, utm).await;
    assert_eq!(answer["results"][0], json!({"metrics": [2, 3, 2], "dimensions": ["(not set)", "(not set)"]}), "as documented");
    assert_eq!(answer["results"][1], json!({"metrics": [1, 3, 2], "dimensions": ["social", "twitter"]}));
    let page = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors", "events", "pageviews"], "date_range": "7d",
            "dimensions": ["visit:utm_medium", "visit:utm_source"], "include": {"total_rows": true}, "pagination": {"limit": 3, "offset": 1}}),
    )
    .await;
    assert_eq!((page["results"].as_array().unwrap().len(), page["meta"].clone()), (1, json!({"total_rows": 2})));
    assert_eq!(page["query"]["pagination"], json!({"offset": 1, "limit": 3}), "echoed as Plausible's documentation shows");
    let page = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 1}})).await;
    assert_eq!(page["query"]["pagination"], json!({"offset": 0, "limit": 1}));
    let answer = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d"})).await;
    assert_eq!(answer["query"]["pagination"], json!({"offset": 0, "limit": 10000}), "the defaults, when none is given");

    // Case-insensitive filtering.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["contains", "event:page", ["blog"], {"case_sensitive": false}]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));
    assert_eq!(answer["query"]["filters"], json!([["contains", "event:page", ["blog"], {"case_sensitive": false}]]));

    // Timeseries query.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors", "events"], "date_range": "7d",
            "filters": [["is", "visit:os", ["GNU/Linux", "Mac"]]], "dimensions": ["time:day"]}),
    )
    .await;
    let rows = answer["results"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0]["metrics"].clone()), (1, json!([2, 4])));
    assert_eq!(answer["query"]["order_by"], json!([["time:day", "asc"], ["visitors", "desc"]]));

    // Timeseries query hourly, with labels.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "day", "dimensions": ["time:hour"], "include": {"time_labels": true}}),
    )
    .await;
    let labels = answer["meta"]["time_labels"].as_array().unwrap();
    assert_eq!(labels.len(), 24);
    assert!(labels[0].as_str().unwrap().ends_with(" 00:00:00") && labels[23].as_str().unwrap().ends_with(" 23:00:00"), "{labels:?}");
    assert!(answer["results"].as_array().unwrap().iter().all(|r| labels.contains(&r["dimensions"][0])));

    // Using custom properties.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:day", "event:props:is_customer"],
            "order_by": [["time:day", "asc"], ["event:props:is_customer", "desc"]]}),
    )
    .await;
    let customers: Vec<Value> = answer["results"].as_array().unwrap().iter().map(|r| r["dimensions"][1].clone()).collect();
    assert!(customers.contains(&json!("true")), "{answer}");

    // Including imported data: there is none, and the answer says so.
    let answer =
        ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:source"], "include": {"imports": true}}))
            .await;
    assert_eq!(answer["results"], json!([{"metrics": [3], "dimensions": ["Direct / None"]}, {"metrics": [1], "dimensions": ["Google"]}]));
    assert_eq!(answer["meta"]["imports_included"], json!(false));
    assert_eq!(answer["query"]["date_range"][0], json!("2024-08-05T00:00:00+00:00"), "all: from the first event's day");

    // Hostnames of the entry and exit pages.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visits"], "date_range": "7d",
            "dimensions": ["visit:entry_page_hostname", "visit:exit_page_hostname"]}),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [3], "dimensions": ["dummy.site", "dummy.site"]}]));

    // Filtering by page and country: pages containing either text, and a logical `or`.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["contains", "event:page", ["/docs", "/pricing"]],
                        ["or", [["not", ["is", "visit:utm_campaign", ["Referral"]]],
                                ["is", "visit:country_name", ["Estonia", "United States of America"]]]]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));

    // Filtering by a saved segment: the visits that never signed up (visitor 2).
    let segment: i64 =
        t.db.value(
            r#"INSERT INTO tally.saved_segments (site_id, name, filters, shared)
               VALUES (1, 'No signup', '[["has_not_done", ["is", "event:goal", ["Signup"]]]]', true) RETURNING segment_id"#,
        )
        .await;
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors", "events"], "date_range": "7d", "filters": [["is", "segment", [segment]]]}),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [1, 1], "dimensions": []}]));

    // Behavioural filters: Signup completions by visitors who saw /pricing.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "all",
            "filters": [["is", "event:goal", ["Signup"]], ["has_done", ["is", "event:page", ["/pricing"]]]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));
}

#[tokio::test]
async fn place_names_come_from_the_stored_codes() {
    let (t, key) = dummy_site().await;
    // Berlin, Germany for visitor 1; San Francisco, United States for visitor 2;
    // visitor 3's place is unknown.
    t.sql("UPDATE tally.events_hot SET country = 'DE', region = 'DE-BE', city = 'Berlin' WHERE visitor_id = 1").await;
    t.sql("UPDATE tally.events_hot SET country = 'US', region = 'US-CA', city = 'San Francisco' WHERE visitor_id = 2").await;
    // The documentation's example.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors", "pageviews", "bounce_rate"], "date_range": "7d",
            "filters": [["is_not", "visit:country_name", [""]]], "dimensions": ["visit:country_name", "visit:city_name"],
            "order_by": [["visit:country_name", "asc"]]}),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([
            {"metrics": [1, 2, 0.0], "dimensions": ["Germany", "Berlin"]},
            {"metrics": [1, 1, 100.0], "dimensions": ["United States", "San Francisco"]},
        ])
    );
    assert_eq!(answer["query"]["dimensions"], json!(["visit:country_name", "visit:city_name"]), "echoed as asked");
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["is", "visit:country_name", ["germany"]]], "dimensions": ["visit:region_name"]}),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [1], "dimensions": ["Berlin"]}]));
    // "" is an unknown place, as Plausible stores it: visitor 3.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "visit:city_name", [""]]]}),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [1], "dimensions": []}]));
}

/// Device classes as Plausible's documentation names them (`Desktop`, `Mobile`), in
/// filters and in answers.
#[tokio::test]
async fn device_classes_have_plausibles_names() {
    let (t, key) = dummy_site().await;
    // The tracker's classes are lowercase; imported events keep their file's spelling.
    t.sql("UPDATE tally.events_hot SET device = CASE visitor_id WHEN 1 THEN 'desktop' WHEN 2 THEN 'mobile' ELSE 'Tablet' END").await;
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:device"],
            "filters": [["is", "visit:device", ["Desktop", "Mobile"]]], "order_by": [["visit:device", "asc"]]}),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [1], "dimensions": ["Desktop"]}, {"metrics": [1], "dimensions": ["Mobile"]}]));
    assert_eq!(answer["query"]["filters"], json!([["is", "visit:device", ["Desktop", "Mobile"]]]), "echoed as asked");
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["not", ["is_not", "visit:device", ["Tablet"]]]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([1]));
}

#[tokio::test]
async fn place_names_are_searched_with_contains_and_matches() {
    let (t, key) = dummy_site().await;
    t.sql("UPDATE tally.events_hot SET country = 'DE', region = 'DE-BE', city = 'Berlin' WHERE visitor_id = 1").await;
    t.sql("UPDATE tally.events_hot SET country = 'US', region = 'US-CA', city = 'San Francisco' WHERE visitor_id = 2").await;
    let visitors = |filter: Value| {
        let key = &key;
        async move {
            let answer = ok(
                key,
                json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d", "filters": [filter],
                    "dimensions": ["visit:country_name"], "order_by": [["visit:country_name", "asc"]]}),
            )
            .await;
            let rows = answer["results"].as_array().unwrap().iter();
            // The unknown place as "" (Tally answers null).
            let mut rows: Vec<_> =
                rows.map(|r| (r["dimensions"][0].as_str().unwrap_or_default().to_owned(), r["metrics"][0].as_u64().unwrap())).collect();
            rows.sort();
            rows
        }
    };
    let row = |name: &str, n: u64| (name.to_owned(), n);
    // As Plausible's documentation writes them: case-sensitive unless told otherwise.
    assert_eq!(visitors(json!(["contains", "visit:country_name", ["erm"]])).await, [row("Germany", 1)]);
    assert_eq!(visitors(json!(["contains", "visit:country_name", ["ERM"]])).await, []);
    assert_eq!(visitors(json!(["contains", "visit:country_name", ["ERM"], {"case_sensitive": false}])).await, [row("Germany", 1)]);
    assert_eq!(visitors(json!(["matches", "visit:country_name", ["^United", "^France$"]])).await, [row("United States", 1)]);
    // The `_not`s keep the unknown place (visitor 3), whose name "" passes.
    assert_eq!(visitors(json!(["contains_not", "visit:country_name", ["erm"]])).await, [row("", 1), row("United States", 1)]);
    assert_eq!(visitors(json!(["matches_not", "visit:region_name", ["^Cal"]])).await, [row("", 1), row("Germany", 1)]);
    assert_eq!(visitors(json!(["contains", "visit:region_name", ["erl"]])).await, [row("Germany", 1)]);
    assert_eq!(visitors(json!(["contains", "visit:city_name", ["San"]])).await, [row("United States", 1)]);
    // Inside `and`/`not` too; a name no place has matches nothing rather than failing.
    assert_eq!(
        visitors(json!(["and", [["not", ["contains", "visit:country_name", ["States"]]], ["matches", "visit:country_name", [".+"]]]]))
            .await,
        [row("Germany", 1)]
    );
    assert_eq!(visitors(json!(["contains", "visit:region_name", ["Atlantis"]])).await, []);
    assert_eq!(visitors(json!(["matches_not", "visit:country_name", [".*"]])).await, []);
    // A bad pattern is named where it stands.
    let (status, body) = key
        .post(
            "/api/v2/query",
            json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
                "filters": [["is", "event:page", ["/"]], ["matches", "visit:country_name", ["(unclosed"]]]}),
        )
        .await;
    assert_eq!((status, body["field"].clone()), (400, json!("filters[1][2][0]")), "{body}");
}

#[tokio::test]
async fn conversion_rates_time_on_page_and_bad_requests() {
    let (_t, key) = dummy_site().await;
    // Over all visitors (3) and over each source's own: Google 1 of 1, direct 1 of 2.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visitors", "conversion_rate", "group_conversion_rate"], "date_range": "7d",
            "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([{"metrics": [1, 33.33, 50.0], "dimensions": ["Direct / None"]}, {"metrics": [1, 33.33, 100.0], "dimensions": ["Google"]}])
    );
    // Time on /pricing: the 30 s its engagement event reported.
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["time_on_page"], "date_range": "7d", "filters": [["is", "event:page", ["/pricing"]]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([30]));

    // Exit rate: the visits ending on a page over its pageviews (/ was viewed twice,
    // the last page once).
    let answer = ok(
        &key,
        json!({"site_id": "dummy.site", "metrics": ["visits", "exit_rate"], "date_range": "7d", "dimensions": ["visit:exit_page"],
            "order_by": [["visit:exit_page", "asc"]]}),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([{"metrics": [1, 50.0], "dimensions": ["/"]}, {"metrics": [1, 100.0], "dimensions": ["/Blog/post"]},
               {"metrics": [1, 100.0], "dimensions": ["/pricing"]}])
    );

    // The last 24 hours: today's visits (minutes ago), not August's; by hour with `time`.
    let answer = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "24h"})).await;
    assert_eq!(answer["results"][0]["metrics"], json!([3]));
    let hourly = ok(&key, json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "24h", "dimensions": ["time"]})).await;
    let hours: Vec<&str> = hourly["results"].as_array().unwrap().iter().map(|r| r["dimensions"][0].as_str().unwrap()).collect();
    assert!(!hours.is_empty() && hours.iter().all(|h| h.ends_with(":00:00")), "{hourly}");

    let base = json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d"});
    let with = |key: &str, value: Value| {
        let mut q = base.clone();
        q[key] = value;
        q
    };
    let cases = [
        (with("site_id", json!("nowhere.example")), "site_id"),
        (with("metrics", json!(["visitors", "scroll_depth"])), "metrics[1]"),
        (with("metrics", json!(["visitors", "exit_rate"])), "metrics[1]"),
        (with("metrics", json!(["clicks"])), "metrics[0]"),
        (with("date_range", json!("36h")), "date_range"),
        (with("date_range", json!(["2024-08-01T10:00:00+00:00", "2024-08-01T12:00:00"])), "date_range[1]"),
        (with("date_range", json!(["2024-08-01T00:00:00+00:00", "2024-13-45T00:00:00+00:00"])), "date_range[1]"),
        (with("date_range", json!(["2000-01-01T00:00:00+00:00", "2024-08-01T00:00:00+00:00"])), "date_range"),
        (with("filters", json!([["contains", "event:page", ["a"], {"case_sensitive": 1}]])), "filters[0][3].case_sensitive"),
        (with("include", json!({"time_labels": true})), "include.time_labels"),
        (with("pagination", json!({"limit": 0})), "pagination.limit"),
    ];
    for (query, field) in cases {
        let (status, body) = key.post("/api/v2/query", query.clone()).await;
        assert_eq!((status, body["field"].clone()), (400, json!(field)), "{query} → {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Unauthenticated: 401, as for every query.
    let anonymous = reqwest::Client::new();
    let resp = anonymous.post(format!("{}/api/v2/query", key.base)).json(&base).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn malformed_requests_are_400s_naming_the_field_never_5xx() {
    let (_t, key) = dummy_site().await;
    let q = |extra: Value| {
        let mut query = json!({"site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d"});
        for (k, v) in extra.as_object().unwrap() {
            query[k] = v.clone();
        }
        query
    };
    let deep = (0..20).fold(json!(["is", "event:page", ["/"]]), |inner, _| json!(["has_done", inner]));
    let cases = [
        (json!(null), "query"),
        (json!([1, 2]), "query"),
        (json!({"metrics": ["visitors"], "date_range": "7d"}), "site_id"),
        (q(json!({"metrics": "visitors"})), "metrics"),
        (q(json!({"metrics": [7]})), "metrics[0]"),
        (q(json!({"dimensions": "time"})), "dimensions"),
        (q(json!({"dimensions": [1]})), "dimensions[0]"),
        (q(json!({"date_range": 7})), "date_range"),
        (q(json!({"date_range": ["2024-01-01T00:00:00Z", 5]})), "date_range[1]"),
        (q(json!({"date_range": ["2024-08-02T00:00:00+00:00", "2024-08-01T23:59:59+00:00"]})), "date_range"),
        (q(json!({"date_range": ["99999-01-01T00:00:00Z", "99999-01-02T23:59:59Z"]})), "date_range[0]"),
        (q(json!({"filters": {"is": 1}})), "filters"),
        (q(json!({"filters": [["has_done"]]})), "filters[0]"),
        (q(json!({"filters": [deep]})), "filters[0]"),
        (q(json!({"filters": [["matches_not", "event:page", ["("]]]})), "filters[0][2][0]"),
        (q(json!({"order_by": [["pageviews", "desc"]]})), "order_by[0][0]"),
        (q(json!({"order_by": "visitors"})), "order_by"),
        (q(json!({"include": []})), "include"),
        (q(json!({"include": {"total_rows": "yes"}})), "include.total_rows"),
        (q(json!({"pagination": {"limit": -1}})), "pagination.limit"),
    ];
    for (query, field) in cases {
        let (status, body) = key.post("/api/v2/query", query.clone()).await;
        assert_eq!(status, 400, "{query} → {body}");
        assert!(body["field"].as_str().is_some_and(|f| f.starts_with(field)), "{query} → {body}, expected field {field}");
    }
}
