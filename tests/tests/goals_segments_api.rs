//! Goals, funnels and saved segments managed through the API (real gateway, real
//! Postgres): each bad field a 400 naming it, writes allowed by role (analysts and
//! admins change goals, funnels and shared segments; any member saves personal
//! segments), and a saved segment used in `/api/v1/query` as `["is", "segment", [id]]`
//! answering exactly what its filters do, for whom may use it and no one else.

use serde_json::{json, Value};
use tally_core::event::Event;
use tally_tests::{Session, Tally};

/// Loads `(country, page)` pageviews of one visitor each into site `site`, now.
async fn load(t: &Tally, site: i32, visits: &[(&str, &str)]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let events: Vec<Event> = visits
        .iter()
        .enumerate()
        .map(|(i, (country, page))| Event {
            site_id: site,
            ts: now - 60_000_000 + i as i64,
            name: "pageview".into(),
            visitor_id: 1000 + i as i64,
            session_id: 1000 + i as i64,
            hostname: "a.example".into(),
            pathname: (*page).into(),
            country: Some((*country).into()),
            ..Event::default()
        })
        .collect();
    let pool = tally_gateway::pool::build(&t.db.url, 1).expect("pool");
    tally_gateway::ingest::store::write_events(&pool, &events).await.expect("write events");
}

fn field(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["field"].as_str().unwrap_or_default())
}

async fn visitors(who: &Session, filters: Value) -> (u16, Value) {
    let (status, answer) =
        who.post("/api/v1/query", json!({"site_id": "a.example", "date_range": "7d", "metrics": ["visitors"], "filters": filters})).await;
    (status, if status == 200 { answer["results"][0]["metrics"][0].clone() } else { answer })
}

#[tokio::test]
async fn goals_and_funnels_are_managed_by_analysts_with_errors_at_the_field() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('a.example'), tally.create_site('b.example')").await;
    let analyst = t.user_with_role("a.example", "analyst").await;
    let viewer = t.user_with_role("a.example", "viewer").await;
    let stranger = t.user_with_role("b.example", "admin").await;
    let goals = "/api/v1/sites/1/goals";

    for goal in [
        json!({"name": "Signup", "event_name": "Signup"}),
        json!({"name": "Pricing", "page_pattern": "/pricing*"}),
        json!({"name": "Purchase", "event_name": "Purchase", "currency": "eur"}),
    ] {
        let (status, body) = analyst.post(goals, goal).await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, listed) = viewer.get(goals).await;
    assert_eq!(
        listed["goals"],
        json!([
            {"name": "Pricing", "event_name": null, "page_pattern": "/pricing*", "currency": null},
            {"name": "Purchase", "event_name": "Purchase", "page_pattern": null, "currency": "EUR"},
            {"name": "Signup", "event_name": "Signup", "page_pattern": null, "currency": null},
        ])
    );
    for (body, at) in [
        (json!({"event_name": "X"}), "name"),
        (json!({"name": " ", "event_name": "X"}), "name"),
        (json!({"name": "X"}), "event_name"),
        (json!({"name": "X", "event_name": "X", "page_pattern": "/x"}), "page_pattern"),
        (json!({"name": "X", "page_pattern": "pricing"}), "page_pattern"),
        (json!({"name": "X", "page_pattern": "/x", "currency": "EUR"}), "currency"),
        (json!({"name": "X", "event_name": "X", "currency": "EURO"}), "currency"),
        (json!({"name": "Signup", "event_name": "Other"}), "name"),
        (json!({"name": "X".repeat(121), "event_name": "X"}), "name"),
        // Ingest refuses event names over 120 bytes: such a goal could never be met.
        (json!({"name": "X", "event_name": "E".repeat(121)}), "event_name"),
        (json!({"name": "X", "event_name": "Sign\u{7}up"}), "event_name"),
    ] {
        assert_eq!(field(&analyst.post(goals, body.clone()).await), (400, at), "{body}");
    }
    assert_eq!(viewer.post(goals, json!({"name": "V", "event_name": "V"})).await.0, 403);
    assert_eq!(viewer.delete(&format!("{goals}/Signup")).await.0, 403);
    assert_eq!(stranger.get(goals).await.0, 404);
    assert_eq!(stranger.post(goals, json!({"name": "S", "event_name": "S"})).await.0, 404);

    let funnels = "/api/v1/sites/1/funnels";
    let (status, body) = analyst.post(funnels, json!({"name": "Checkout", "steps": ["Pricing", "Signup"]})).await;
    assert_eq!((status, body.clone()), (201, json!({"name": "Checkout", "steps": ["Pricing", "Signup"]})));
    for (body, at) in [
        (json!({"name": "F", "steps": ["Pricing", "Nope"]}), "steps[1]"),
        (json!({"name": "F", "steps": ["Pricing"]}), "steps"),
        (json!({"name": "F", "steps": ["Pricing", "Pricing"]}), "steps[1]"),
        (json!({"name": "F", "steps": ["Pricing", 3]}), "steps[1]"),
        (json!({"steps": ["Pricing", "Signup"]}), "name"),
        (json!({"name": "Checkout", "steps": ["Signup", "Pricing"]}), "name"),
    ] {
        assert_eq!(field(&analyst.post(funnels, body.clone()).await), (400, at), "{body}");
    }
    assert_eq!(viewer.post(funnels, json!({"name": "V", "steps": ["Pricing", "Signup"]})).await.0, 403);
    // A stored funnel answers queries by name.
    let (status, answer) = viewer
        .post("/api/v1/query", json!({"site_id": "a.example", "date_range": "7d", "metrics": ["visitors"], "funnel": "Checkout"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["funnel"]["steps"].as_array().map(Vec::len), Some(2), "{answer}");

    // A renamed goal is renamed in the funnels that use it.
    let (status, body) = analyst.put(&format!("{goals}/Pricing"), json!({"name": "Saw pricing", "page_pattern": "/pricing*"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(viewer.get(funnels).await.1["funnels"][0]["steps"], json!(["Saw pricing", "Signup"]));
    assert_eq!(field(&analyst.put(&format!("{goals}/Signup"), json!({"name": "Purchase", "event_name": "S"})).await), (400, "name"));
    assert_eq!(analyst.put(&format!("{goals}/Nope"), json!({"name": "Nope", "event_name": "S"})).await.0, 404);
    // A goal in a funnel stays until the funnel lets it go.
    assert_eq!(analyst.delete(&format!("{goals}/Signup")).await.0, 409);
    let (status, body) = analyst.put(&format!("{funnels}/Checkout"), json!({"name": "Buy", "steps": ["Saw pricing", "Purchase"]})).await;
    assert_eq!((status, body), (200, json!({"name": "Buy", "steps": ["Saw pricing", "Purchase"]})));
    assert_eq!(analyst.delete(&format!("{goals}/Signup")).await.0, 204);
    assert_eq!(analyst.delete(&format!("{funnels}/Buy")).await.0, 204);
    assert_eq!(analyst.delete(&format!("{funnels}/Buy")).await.0, 404);
    assert_eq!(viewer.get(funnels).await.1, json!({"funnels": []}));
}

#[tokio::test]
async fn saved_segments_filter_queries_for_those_who_may_use_them() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('a.example'), tally.create_site('b.example')").await;
    load(&t, 1, &[("DE", "/"), ("DE", "/"), ("DE", "/pricing"), ("FR", "/pricing"), ("FR", "/")]).await;
    let viewer = t.user_with_role("a.example", "viewer").await;
    let email = tally_tests::session::unique_email("both");
    t.create_user(&email, false, &[("a.example", "analyst"), ("b.example", "analyst")]).await;
    let analyst = t.login(&email, tally_tests::TEST_PASSWORD).await;
    let stranger = t.user_with_role("b.example", "admin").await;
    let segments = "/api/v1/sites/1/segments";

    let germans = json!([["is", "visit:country", ["DE"]]]);
    let (status, mine) = viewer.post(segments, json!({"name": "Germans", "filters": germans})).await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!((&mine["name"], &mine["shared"], &mine["mine"]), (&json!("Germans"), &json!(false), &json!(true)));
    let germans_id = mine["id"].as_i64().unwrap();
    assert_eq!(field(&viewer.post(segments, json!({"name": "All", "filters": germans, "shared": true})).await), (400, "shared"));
    let (status, shared) =
        analyst.post(segments, json!({"name": "Pricing", "filters": [["contains", "event:page", ["/pricing"]]], "shared": true})).await;
    assert_eq!(status, 201, "{shared}");
    let pricing_id = shared["id"].as_i64().unwrap();
    let (status, other_site) = analyst.post("/api/v1/sites/2/segments", json!({"name": "B", "filters": germans, "shared": true})).await;
    assert_eq!(status, 201, "{other_site}");

    for (body, at) in [
        (json!({"name": "S", "filters": [["is", "visit:planet", ["Mars"]]]}), "filters[0][1]"),
        (json!({"name": "S", "filters": [["or", [["is", "event:page", ["/"]], ["is", "visit:planet", ["Mars"]]]]]}), "filters[0][1][1][1]"),
        (json!({"name": "S", "filters": [["like", "event:page", ["/"]]]}), "filters[0][0]"),
        (json!({"name": "S", "filters": [["is", "segment", [pricing_id]]]}), "filters[0][1]"),
        (json!({"name": "S", "filters": []}), "filters"),
        (json!({"name": "S"}), "filters"),
        (json!({"filters": germans}), "name"),
        (json!({"name": "S", "filters": germans, "shared": "yes"}), "shared"),
    ] {
        assert_eq!(field(&viewer.post(segments, body.clone()).await), (400, at), "{body}");
    }

    // A segment answers exactly what its filters do.
    assert_eq!(visitors(&viewer, json!([["is", "segment", [germans_id]]])).await, (200, json!(3)));
    assert_eq!(visitors(&viewer, germans.clone()).await, (200, json!(3)));
    assert_eq!(visitors(&viewer, json!([["is", "segment", [pricing_id]]])).await, (200, json!(2)));
    assert_eq!(visitors(&viewer, json!([["is", "segment", [germans_id]], ["is", "segment", [pricing_id]]])).await, (200, json!(1)));
    assert_eq!(visitors(&viewer, json!([["is", "segment", [germans_id, pricing_id]]])).await, (200, json!(4)));
    assert_eq!(visitors(&viewer, json!([["not", ["is", "segment", [germans_id]]]])).await, (200, json!(2)));
    let (status, batch) = viewer
        .post("/api/v1/query/batch", json!({"queries": [{"site_id": "a.example", "date_range": "7d", "metrics": ["visitors"], "filters": [["is", "segment", [germans_id]]]}]}))
        .await;
    assert_eq!((status, &batch["results"][0]["results"][0]["metrics"]), (200, &json!([3])), "{batch}");

    // Someone else's personal segment, another site's, or none at all: the same 400.
    for (who, id) in [(&analyst, germans_id), (&viewer, other_site["id"].as_i64().unwrap()), (&viewer, 999_999)] {
        let (status, answer) = visitors(who, json!([["is", "segment", [id]]])).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some("filters[0][2][0]")), "{answer}");
    }
    assert_eq!(field(&visitors(&viewer, json!([["contains", "segment", [germans_id]]])).await), (400, "filters[0][0]"));

    // Everyone lists the shared segments and their own.
    let names =
        |list: &Value| list["segments"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&viewer.get(segments).await.1), ["Germans", "Pricing"]);
    assert_eq!(names(&analyst.get(segments).await.1), ["Pricing"]);
    assert_eq!(stranger.get(segments).await.0, 404);
    assert_eq!(analyst.get(&format!("{segments}/{germans_id}")).await.0, 404);

    // Only the owner changes a personal segment, only analysts and admins a shared one.
    let renamed = json!({"name": "Deutschland", "filters": germans});
    assert_eq!(analyst.put(&format!("{segments}/{germans_id}"), renamed.clone()).await.0, 404);
    assert_eq!(analyst.delete(&format!("{segments}/{germans_id}")).await.0, 404);
    assert_eq!(viewer.put(&format!("{segments}/{pricing_id}"), json!({"name": "Mine now", "filters": germans})).await.0, 403);
    assert_eq!(viewer.delete(&format!("{segments}/{pricing_id}")).await.0, 403);
    let (status, body) = viewer.put(&format!("{segments}/{germans_id}"), renamed).await;
    assert_eq!((status, &body["name"]), (200, &json!("Deutschland")), "{body}");
    assert_eq!(
        field(&viewer.put(&format!("{segments}/{germans_id}"), json!({"name": "D", "filters": [["is", "visit:planet", ["x"]]]})).await),
        (400, "filters[0][1]")
    );
    assert_eq!(viewer.delete(&format!("{segments}/{germans_id}")).await.0, 204);
    assert_eq!(field(&visitors(&viewer, json!([["is", "segment", [germans_id]]])).await), (400, "filters[0][2][0]"));
}
