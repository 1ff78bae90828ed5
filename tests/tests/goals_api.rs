//! Plausible's Sites API for goals (`PUT|GET /api/v1/sites/goals`, `DELETE
//! /api/v1/sites/goals/{id}`) with an API key: goals made without SQL, found again when
//! asked twice, usable at once in queries, refused to viewers, bad input named.

use serde_json::json;
use tally_tests::Tally;

#[tokio::test]
async fn goals_are_created_listed_used_and_deleted_over_http() {
    let t = Tally::with_site("shop.example").await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let (_, key) = analyst.api_key(None).await;
    let signup = json!({"site_id": "shop.example", "goal_type": "event", "event_name": "Signup"});
    let (status, goal) = key.put("/api/v1/sites/goals", signup.clone()).await;
    assert_eq!(status, 200, "{goal}");
    let listed = json!({"id": "Signup", "display_name": "Signup", "goal_type": "event", "event_name": "Signup", "page_path": null,
        "custom_props": {}});
    let mut created = listed.clone();
    created["domain"] = json!("shop.example");
    assert_eq!(goal, created, "Plausible's documented answer");
    let signup_caps = json!({"site_id": "Shop.Example", "goal_type": "event", "event_name": "Signup", "custom_props": {}});
    assert_eq!(key.put("/api/v1/sites/goals", signup_caps).await, (200, goal.clone()), "asked twice, found again");
    let goal = listed;
    let pricing = json!({"site_id": "shop.example", "goal_type": "page", "page_path": "/pricing*"});
    let (status, mut page_goal) = key.put("/api/v1/sites/goals", pricing).await;
    assert_eq!((status, page_goal["id"].clone()), (200, json!("Visit /pricing*")));
    page_goal.as_object_mut().unwrap().remove("domain");
    let (status, list) = key.get("/api/v1/sites/goals?site_id=shop.example").await;
    assert_eq!((status, list["goals"].clone()), (200, json!([goal, page_goal])));

    // The goal counts in queries at once.
    for page in ["/pricing/team", "/"] {
        t.post("/api/event", json!({"n": "pageview", "u": format!("https://shop.example{page}"), "d": "shop.example"})).await;
    }
    let query = json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": "day", "filters": [["is", "event:goal", ["Visit /pricing*"]]]});
    let (status, answer) = key.post("/api/v2/query", query).await;
    assert_eq!((status, answer["results"][0]["metrics"].clone()), (200, json!([1])), "{answer}");

    // Another definition under a taken name is a conflict, not a redefinition.
    let clash = json!({"site_id": "shop.example", "goal_type": "event", "event_name": "Register", "display_name": "Signup"});
    assert_eq!(key.put("/api/v1/sites/goals", clash).await.0, 409);
    let viewer = t.user_with_role("shop.example", "viewer").await;
    let attempt = json!({"site_id": "shop.example", "goal_type": "event", "event_name": "Hack"});
    assert_eq!(viewer.put("/api/v1/sites/goals", attempt).await.0, 403);
    for (body, field) in [
        (json!({"site_id": "shop.example", "goal_type": "click", "event_name": "x"}), "goal_type"),
        (json!({"site_id": "shop.example", "goal_type": "event"}), "event_name"),
        (json!({"site_id": "shop.example", "goal_type": "page", "page_path": "x".repeat(500)}), "page_path"),
        (json!({"goal_type": "event", "event_name": "x"}), "site_id"),
        // Tally's goals cannot require property values: refused, not silently widened.
        (json!({"site_id": "shop.example", "goal_type": "event", "event_name": "x", "custom_props": {"plan": "pro"}}), "custom_props"),
        // The dashboard API's rules: a page goal is a path, a display name a short name.
        (json!({"site_id": "shop.example", "goal_type": "page", "page_path": "pricing"}), "page_path"),
        (json!({"site_id": "shop.example", "goal_type": "event", "event_name": "x", "display_name": "D".repeat(121)}), "display_name"),
    ] {
        let (status, err) = key.put("/api/v1/sites/goals", body.clone()).await;
        assert_eq!((status, err["field"].clone()), (400, json!(field)), "{body} → {err}");
    }
    assert_eq!(key.get("/api/v1/sites/goals?site_id=elsewhere.example").await.0, 404);

    let (status, deleted) = key.delete("/api/v1/sites/goals/Signup?site_id=shop.example").await;
    assert_eq!((status, deleted), (200, json!({"deleted": true})));
    assert_eq!(key.delete("/api/v1/sites/goals/Signup?site_id=shop.example").await.0, 404);
    // Plausible's clients name the site in a JSON body; the id is the name, encoded.
    let url = format!("{}/api/v1/sites/goals/Visit%20%2Fpricing*", key.base);
    let resp = key.http.delete(url).json(&json!({"site_id": "shop.example"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let goals: i64 = t.db.value("SELECT count(*) FROM tally.goals").await;
    assert_eq!(goals, 0);
}
