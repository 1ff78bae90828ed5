//! Public shared links over real HTTP and real Postgres: an admin of a site makes a
//! secret URL; anyone holding it reads that site's dashboard without signing in, and
//! nothing else. The attacks: guessing tokens, reaching another site (through the
//! API and as the link's role in SQL), a revoked link, brute-forcing a link's password,
//! asking for panels the link does not show, and framing a link that is not embeddable.

use serde_json::{json, Value};
use tally_tests::gateway::{decode, BROWSER_UA};
use tally_tests::{Session, Tally};

/// Thirty days of traffic on site1.example and site2.example, an admin of site1 who
/// only views site2, signed in.
async fn world(configure: impl FnOnce(&mut tally_gateway::config::ServeConfig)) -> (Tally, Session) {
    let t = Tally::start_with(configure).await;
    let end_us = chrono::Utc::now().timestamp_micros() - 3_600_000_000;
    t.db.load(4_000, 30, 2, end_us).await;
    let email = tally_tests::session::unique_email("owner");
    t.create_user(&email, false, &[("site1.example", "admin"), ("site2.example", "viewer")]).await;
    let owner = t.login(&email, tally_tests::TEST_PASSWORD).await;
    (t, owner)
}

/// A link of site1 made by `owner` with `body`; returns (token, id).
async fn make_link(owner: &Session, body: Value) -> (String, i64) {
    let (status, link) = owner.post("/api/v1/sites/1/share-links", body).await;
    assert_eq!(status, 201, "{link}");
    let token = link["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ts_") && token.len() == 67, "{token}");
    assert_eq!(link["path"], format!("/share/{token}"));
    (token, link["id"].as_i64().unwrap())
}

/// A client with no credential at all (a visitor of the shared page), optionally
/// connecting from another loopback address.
fn anonymous(from: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().user_agent(BROWSER_UA);
    if let Some(ip) = from {
        builder = builder.local_address(Some(ip.parse().unwrap()));
    }
    builder.build().unwrap()
}

async fn get(http: &reqwest::Client, t: &Tally, path: &str) -> (u16, Value) {
    decode(http.get(format!("{}{path}", t.gateway.base)).send().await.unwrap()).await
}

async fn post(http: &reqwest::Client, t: &Tally, path: &str, body: Value, unlock: Option<&str>) -> (u16, Value) {
    let mut req = http.post(format!("{}{path}", t.gateway.base)).json(&body);
    if let Some(u) = unlock {
        req = req.header("X-Tally-Share-Unlock", u);
    }
    decode(req.send().await.unwrap()).await
}

fn kpi_query(site: &str) -> Value {
    json!({"site_id": site, "date_range": "30d", "metrics": ["visitors", "pageviews", "bounce_rate"],
           "include": {"comparisons": {"mode": "previous_period"}}})
}

fn pages_query(site: &str) -> Value {
    json!({"site_id": site, "date_range": "30d", "metrics": ["visitors"], "dimensions": ["event:page"],
           "order_by": [["visitors", "desc"]], "pagination": {"limit": 10}})
}

#[tokio::test]
async fn a_link_shows_its_site_read_only_and_nothing_else() {
    let (t, owner) = world(|_| {}).await;
    let (token, _) = make_link(&owner, json!({"name": "Public stats"})).await;
    let visitor = anonymous(None);

    // The page: the dashboard itself, from the root, not frameable.
    let resp = visitor.get(format!("{}/share/{token}", t.gateway.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<base href=\"../\">") && html.contains("app.js"), "{html}");

    let (status, about) = get(&visitor, &t, &format!("/api/v1/share/{token}")).await;
    assert_eq!(status, 200, "{about}");
    assert_eq!(about["site"], "site1.example");
    assert_eq!(about["protected"], false);
    assert_eq!(about["unlocked"], true);
    assert_eq!(about["panels"].as_array().unwrap().len(), 9);

    // The numbers are the signed-in API's.
    for q in [kpi_query("site1.example"), pages_query("site1.example")] {
        let (s1, shared) = post(&visitor, &t, &format!("/api/v1/share/{token}/query"), q.clone(), None).await;
        let (s2, api) = owner.post("/api/v1/query", q).await;
        assert_eq!((s1, s2), (200, 200), "{shared} {api}");
        assert_eq!(shared["results"], api["results"]);
        assert!(!shared["results"].as_array().unwrap().is_empty());
    }
    let batch = json!({"queries": [kpi_query("site1.example"), pages_query("site1.example")]});
    let (status, answers) = post(&visitor, &t, &format!("/api/v1/share/{token}/query/batch"), batch, None).await;
    assert_eq!(status, 200, "{answers}");
    assert_eq!(answers["results"].as_array().unwrap().len(), 2);

    // Another site through the link: Postgres answers as for a site that does not exist.
    for site in ["site2.example", "2"] {
        let (status, body) = post(&visitor, &t, &format!("/api/v1/share/{token}/query"), kpi_query(site), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "site_id", "{body}");
    }
    let batch = json!({"queries": [kpi_query("site1.example"), kpi_query("site2.example")]});
    let (_, answers) = post(&visitor, &t, &format!("/api/v1/share/{token}/query/batch"), batch, None).await;
    assert!(answers["results"][0]["results"].is_array(), "{answers}");
    assert_eq!(answers["results"][1]["error"]["field"], "site_id", "{answers}");

    // The link's role in SQL: its site only, and none of the signed-in API.
    let role: String = t.db.value("SELECT pg_role::text FROM tally.share_links").await;
    t.db.client.batch_execute(&format!("BEGIN; SET LOCAL ROLE \"{role}\"")).await.unwrap();
    let row =
        t.db.client
            .query_one(
                "SELECT (SELECT array_agg(DISTINCT site_id ORDER BY site_id) FROM tally.events), \
                    (SELECT array_agg(site_id ORDER BY site_id) FROM tally.sites), (SELECT count(*) FROM tally.share_links)",
                &[],
            )
            .await
            .unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![1]);
    assert_eq!(row.get::<_, Vec<i32>>(1), vec![1]);
    assert_eq!(row.get::<_, i64>(2), 0, "a link does not see the links");
    t.db.client.batch_execute("ROLLBACK").await.unwrap();

    // The token opens the shared routes only: the signed-in API wants a session.
    for path in ["/api/v1/sites", "/api/v1/auth/session"] {
        let (status, body) = decode(
            visitor.get(format!("{}{path}", t.gateway.base)).header("Authorization", format!("Bearer {token}")).send().await.unwrap(),
        )
        .await;
        assert!(status == 401 || body["user"].is_null(), "{path}: {status} {body}");
    }
    let (status, _) = post(&visitor, &t, "/api/v1/query", kpi_query("site1.example"), Some(&token)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn guessed_and_revoked_links_show_nothing_and_guessing_is_rate_limited() {
    let (t, owner) = world(|c| c.auth.login_attempts_per_minute = 12).await;
    let (token, id) = make_link(&owner, json!({"name": "soon gone"})).await;
    let visitor = anonymous(None);
    assert_eq!(get(&visitor, &t, &format!("/api/v1/share/{token}")).await.0, 200);

    // Guesses: made-up tokens of the right shape, the wrong shape, one digit off.
    let mut off = token.clone();
    off.replace_range(66.., if token.ends_with('0') { "1" } else { "0" });
    let guesses = [tally_gateway::auth::tokens::generate("ts_"), "ts_".into(), "abc".into(), off, token.to_uppercase()];
    for guess in &guesses {
        let (status, body) = get(&visitor, &t, &format!("/api/v1/share/{guess}")).await;
        assert_eq!(status, 404, "{guess}: {body}");
        let (status, _) = post(&visitor, &t, &format!("/api/v1/share/{guess}/query"), kpi_query("site1.example"), None).await;
        assert!(status == 404 || status == 429, "{guess}: {status}");
    }
    // Past the limit, guesses are refused before any lookup; the real link still works.
    let mut limited = false;
    for _ in 0..10 {
        let (status, _) = get(&visitor, &t, &format!("/api/v1/share/{}", tally_gateway::auth::tokens::generate("ts_"))).await;
        limited |= status == 429;
    }
    assert!(limited, "guessing is never rate limited");
    assert_eq!(get(&visitor, &t, &format!("/api/v1/share/{token}")).await.0, 200);

    // Revoked: page, API and role all dead, for good.
    let (status, body) = owner.delete(&format!("/api/v1/sites/1/share-links/{id}")).await;
    assert_eq!(status, 204, "{body}");
    let fresh = anonymous(Some("127.0.0.3"));
    let resp = fresh.get(format!("{}/share/{token}", t.gateway.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(get(&fresh, &t, &format!("/api/v1/share/{token}")).await.0, 404);
    assert_eq!(post(&fresh, &t, &format!("/api/v1/share/{token}/query"), kpi_query("site1.example"), None).await.0, 404);
    assert_eq!(owner.delete(&format!("/api/v1/sites/1/share-links/{id}")).await.0, 404);
    let (_, list) = owner.get("/api/v1/sites/1/share-links").await;
    assert_eq!(list["share_links"], json!([]));
    let role: String = t.db.value("SELECT pg_role::text FROM tally.share_links").await;
    t.db.client.batch_execute(&format!("BEGIN; SET LOCAL ROLE \"{role}\"")).await.unwrap();
    let visible: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    t.db.client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(visible, 0, "a revoked link's role still reads events");
    let err = t.db.client.execute("UPDATE tally.share_links SET revoked_at = NULL", &[]).await.unwrap_err();
    assert!(err.as_db_error().unwrap().message().contains("revoked"), "{err:?}");
}

#[tokio::test]
async fn a_password_protected_link_needs_its_password_and_locks_out_guessers() {
    // The address limit high enough that the lockout in Postgres is what stops guessing.
    let (t, owner) = world(|c| {
        c.auth.login_attempts_per_minute = 1000;
        c.auth.lockout_after = 3;
    })
    .await;
    let password = "board meeting 2026";
    let (token, _) = make_link(&owner, json!({"name": "board", "password": password})).await;
    let guesser = anonymous(Some("127.0.0.2"));
    let (_, about) = get(&guesser, &t, &format!("/api/v1/share/{token}")).await;
    assert_eq!(about, json!({"name": "board", "protected": true, "unlocked": false}), "a locked link tells its site or panels");
    let query = format!("/api/v1/share/{token}/query");
    let (status, body) = post(&guesser, &t, &query, kpi_query("site1.example"), None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = post(&guesser, &t, &query, kpi_query("site1.example"), Some("made-up-unlock")).await;
    assert_eq!(status, 401);

    let unlock = format!("/api/v1/share/{token}/unlock");
    for guess in ["password123", "board meeting 2025", "letmein!!!"] {
        let (status, body) = post(&guesser, &t, &unlock, json!({"password": guess}), None).await;
        assert_eq!(status, 403, "{body}");
    }
    // Locked for this address: the right password too.
    let resp = guesser.post(format!("{}{unlock}", t.gateway.base)).json(&json!({"password": password})).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));

    // Someone else, with the password: unlocked, and the unlock opens the queries.
    let viewer = anonymous(Some("127.0.0.4"));
    let (status, body) = post(&viewer, &t, &unlock, json!({"password": password}), None).await;
    assert_eq!(status, 200, "{body}");
    let key = body["unlock"].as_str().unwrap().to_owned();
    let (_, about) =
        decode(viewer.get(format!("{}/api/v1/share/{token}", t.gateway.base)).header("X-Tally-Share-Unlock", &key).send().await.unwrap())
            .await;
    assert_eq!((about["unlocked"].clone(), about["site"].clone()), (json!(true), json!("site1.example")));
    let (status, answer) = post(&viewer, &t, &query, kpi_query("site1.example"), Some(&key)).await;
    assert_eq!(status, 200, "{answer}");
    // An unlock is for its own link only.
    let (other, _) = make_link(&owner, json!({"password": "another secret one"})).await;
    let (status, _) = post(&viewer, &t, &format!("/api/v1/share/{other}/query"), kpi_query("site1.example"), Some(&key)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_link_limited_to_panels_answers_only_those_and_embeds_only_where_allowed() {
    let (t, owner) = world(|_| {}).await;
    let (token, _) = make_link(
        &owner,
        json!({"panels": ["kpis", "chart", "pages"], "embed": true, "embed_origins": ["https://blog.example", "http://127.0.0.1:9999"]}),
    )
    .await;
    let visitor = anonymous(None);
    let resp = visitor.get(format!("{}/share/{token}", t.gateway.base)).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.ends_with("frame-ancestors https://blog.example http://127.0.0.1:9999"), "{csp}");
    assert!(!resp.headers().contains_key("x-frame-options"));
    // The signed-in dashboard stays unframeable.
    let resp = visitor.get(format!("{}/", t.gateway.base)).send().await.unwrap();
    assert!(resp.headers()["content-security-policy"].to_str().unwrap().ends_with("frame-ancestors 'none'"));

    let (_, about) = get(&visitor, &t, &format!("/api/v1/share/{token}")).await;
    assert_eq!(about["panels"], json!(["kpis", "chart", "pages"]));
    let query = format!("/api/v1/share/{token}/query");
    assert_eq!(post(&visitor, &t, &query, kpi_query("site1.example"), None).await.0, 200);
    assert_eq!(post(&visitor, &t, &query, pages_query("site1.example"), None).await.0, 200);
    let hidden = [
        json!({"site_id": "site1.example", "date_range": "30d", "metrics": ["visitors"], "dimensions": ["visit:source"]}),
        json!({"site_id": "site1.example", "date_range": "30d", "metrics": ["visitors"], "filters": [["is", "visit:country", ["DE"]]]}),
        json!({"site_id": "site1.example", "date_range": "30d", "metrics": ["visitors"],
               "filters": [["and", [["is", "event:page", ["/"]], ["not", ["is", "visit:browser", ["Firefox"]]]]]]}),
        json!({"site_id": "site1.example", "date_range": "30d", "metrics": ["visitors"], "funnel": ["A", "B"]}),
    ];
    for q in hidden {
        let (status, body) = post(&visitor, &t, &query, q.clone(), None).await;
        assert_eq!(status, 403, "{q}: {body}");
        let (status, _) = post(&visitor, &t, &format!("{query}/batch"), json!({"queries": [kpi_query("site1.example"), q]}), None).await;
        assert_eq!(status, 403);
    }
}

#[tokio::test]
async fn only_admins_of_a_site_make_links_and_bad_input_names_its_field() {
    let (t, owner) = world(|_| {}).await;
    // site2: the owner only views it. site 3 is not theirs at all; 99 does not exist.
    t.sql("SELECT tally.create_site('site3.example')").await;
    let (status, body) = owner.post("/api/v1/sites/2/share-links", json!({})).await;
    assert_eq!(status, 403, "{body}");
    for site in [3, 99] {
        let (status, body) = owner.post(&format!("/api/v1/sites/{site}/share-links"), json!({})).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(owner.get(&format!("/api/v1/sites/{site}/share-links")).await.0, 404);
    }
    assert_eq!(owner.get("/api/v1/sites/2/share-links").await.0, 403);
    let (_, keyed) = owner.api_key(None).await;
    assert_eq!(keyed.post("/api/v1/sites/1/share-links", json!({})).await.0, 403, "an API key makes links");

    let bad = [
        (json!({"panels": ["kpis", "secrets"]}), "panels[1]"),
        (json!({"panels": []}), "panels"),
        (json!({"password": "short"}), "password"),
        (json!({"embed": true, "embed_origins": ["https://x.example; script-src *"]}), "embed_origins[0]"),
        (json!({"embed": true, "embed_origins": ["https://ok.example", "https://x.example/path"]}), "embed_origins[1]"),
        (json!({"embed": true, "embed_origins": ["*"]}), "embed_origins[0]"),
        (json!({"embed_origins": ["https://x.example"]}), "embed_origins"),
    ];
    for (body, field) in bad {
        let (status, answer) = owner.post("/api/v1/sites/1/share-links", body.clone()).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some(field)), "{body}: {answer}");
    }
    let count: i64 = t.db.value("SELECT count(*) FROM tally.share_links").await;
    assert_eq!(count, 0);

    let (token, id) = make_link(&owner, json!({"name": "mine", "panels": ["kpis"]})).await;
    let (_, list) = owner.get("/api/v1/sites/1/share-links").await;
    assert_eq!(list["share_links"][0]["id"], id);
    assert_eq!(list["share_links"][0]["panels"], json!(["kpis"]));
    assert!(!list.to_string().contains(&token[3..]), "the list shows a token");
    let stored: Vec<u8> = t.db.value("SELECT token_hash FROM tally.share_links").await;
    assert_ne!(stored, token.as_bytes());
}
