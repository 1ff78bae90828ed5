//! The security suite: two sites, an admin, an analyst and a viewer on each, and a
//! long list of attempts to cross a boundary, through the HTTP API and through SQL
//! logins (what an analyst's psql does, over the same protocol). Every attempt must be
//! refused; the test prints how many there were. Positive checks make sure each role
//! can still do its job, so "refused" never means "everything is broken".
//!
//! Site A is site1.example (id 1), site B site2.example (id 2); the attacker is mostly
//! a member of A reaching for B.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tally_tests::cluster::{connect, url_of};
use tally_tests::{Session, Tally, TEST_PASSWORD};
use tokio_postgres::Client;

const A: i32 = 1;
const B: i32 = 2;
const A_DOMAIN: &str = "site1.example";
const B_DOMAIN: &str = "site2.example";

/// The attempts made so far; each has a distinct name and must have been refused.
#[derive(Default)]
struct Attempts(BTreeSet<&'static str>);

impl Attempts {
    fn refused(&mut self, what: &'static str, refused: bool, detail: impl std::fmt::Debug) {
        assert!(refused, "NOT REFUSED: {what}: {detail:?}");
        assert!(self.0.insert(what), "attempt named twice: {what}");
    }
}

/// Whether `sql` fails for lack of privilege (SQLSTATE 42501), the way Postgres refuses
/// a role what it was not granted, or a row that row-level security does not allow.
async fn denied(db: &Client, sql: &str) -> (bool, String) {
    match db.batch_execute(sql).await {
        Ok(()) => (false, "succeeded".into()),
        Err(e) => (e.code().is_some_and(|c| c.code() == "42501"), e.to_string()),
    }
}

/// The single number `sql` answers.
async fn count(db: &Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// The world of the suite.
struct World {
    t: Tally,
    admin_a: Session,
    analyst_a: Session,
    viewer_a: Session,
    admin_b: Session,
    analyst_b: Session,
    viewer_b: Session,
    root: Session,
    ingest_key_a: String,
    ingest_key_b_id: i32,
}

async fn world() -> World {
    // Many sign-ins from one address in a few seconds: lift the per-address limit
    // (tests/auth.rs checks it).
    let t = Tally::start_with(|c| c.auth.login_attempts_per_minute = 10_000).await;
    let now_us = chrono::Utc::now().timestamp_micros();
    t.db.load(6_000, 3, 2, now_us).await;
    t.sql("SELECT tally.compact()").await;
    t.sql("SELECT tally.build_daily_rollups()").await;
    // Live (hot) rows on both sites too.
    for domain in [A_DOMAIN, B_DOMAIN] {
        let (status, _) =
            t.post("/api/event", json!({"name": "pageview", "url": format!("https://{domain}/live"), "domain": domain})).await;
        assert_eq!(status, 202);
    }
    // Every table the attacks aim at holds rows of B, or "no rows" would prove nothing.
    for table in ["events_hot", "segments", "rollups", "rollup_blocks", "rollups_daily"] {
        assert!(count(&t.db.client, &format!("SELECT count(*) FROM tally.{table} WHERE site_id = {B}")).await > 0, "{table}");
    }
    t.sql(&format!("SELECT tally.create_goal({B}, 'Secret goal of B', event_name => 'Signup')")).await;
    t.sql(&format!("SELECT tally.create_goal({B}, 'Other goal of B', event_name => 'Purchase')")).await;
    t.sql(&format!("SELECT tally.create_funnel({B}, 'Secret funnel of B', ARRAY['Secret goal of B', 'Other goal of B'])")).await;
    let ingest_key_a: String = t.db.value(&format!("SELECT key FROM tally.create_ingest_key({A})")).await;
    let ingest_key_b_id: i32 = t.db.value(&format!("SELECT key_id FROM tally.create_ingest_key({B})")).await;
    World {
        admin_a: t.user_with_role(A_DOMAIN, "admin").await,
        analyst_a: t.user_with_role(A_DOMAIN, "analyst").await,
        viewer_a: t.user_with_role(A_DOMAIN, "viewer").await,
        admin_b: t.user_with_role(B_DOMAIN, "admin").await,
        analyst_b: t.user_with_role(B_DOMAIN, "analyst").await,
        viewer_b: t.user_with_role(B_DOMAIN, "viewer").await,
        root: t.admin().await,
        ingest_key_a,
        ingest_key_b_id,
        t,
    }
}

/// A SQL login for `session`'s user, made the way README tells an administrator to.
async fn psql_login(w: &World, session: &Session, suffix: &str) -> Client {
    let login = format!("{}_{suffix}", w.t.db.name);
    w.t.sql(&format!("CREATE ROLE {login} LOGIN")).await;
    w.t.sql(&format!("SELECT tally.grant_psql_login({}, '{login}')", session.user_id)).await;
    connect(&url_of(&w.t.db.name).replace("user=postgres", &format!("user={login}"))).await
}

fn query(site: Value) -> Value {
    json!({"site_id": site, "date_range": "7d", "metrics": ["visitors", "pageviews"]})
}

#[tokio::test]
async fn every_boundary_crossing_is_refused() {
    let w = world().await;
    let mut n = Attempts::default();
    sql_attempts(&w, &mut n).await;
    api_attempts(&w, &mut n).await;
    credential_attempts(&w, &mut n).await;
    let total = n.0.len();
    println!("security suite: {total} boundary-crossing attempts, every one refused");
    assert!(total >= 30, "only {total} attempts");
}

/// An analyst of A with a SQL login.
async fn sql_attempts(w: &World, n: &mut Attempts) {
    let db = psql_login(w, &w.analyst_a, "ana").await;
    // Positive: the login sees its own site, exactly as the superuser counts it.
    let own = count(&db, &format!("SELECT count(*) FROM tally.events WHERE site_id = {A}")).await;
    assert_eq!(own, count(&w.t.db.client, &format!("SELECT count(*) FROM tally.events WHERE site_id = {A}")).await);
    assert!(own > 0);

    for (what, sql) in [
        ("sql: hot rows of B", format!("SELECT count(*) FROM tally.events_hot WHERE site_id = {B}")),
        ("sql: segments of B", format!("SELECT count(*) FROM tally.segments WHERE site_id = {B}")),
        ("sql: rollups of B", format!("SELECT count(*) FROM tally.rollups WHERE site_id = {B}")),
        ("sql: daily rollups of B", format!("SELECT count(*) FROM tally.rollups_daily WHERE site_id = {B}")),
        ("sql: rollup blocks of B", format!("SELECT count(*) FROM tally.rollup_blocks WHERE site_id = {B}")),
        ("sql: rollup rows of B", format!("SELECT count(*) FROM tally.rollup_rows WHERE site_id = {B}")),
        ("sql: goals of B", format!("SELECT count(*) FROM tally.goals WHERE site_id = {B}")),
        ("sql: funnels of B", format!("SELECT count(*) FROM tally.funnels WHERE site_id = {B}")),
        ("sql: site row of B", format!("SELECT count(*) FROM tally.sites WHERE site_id = {B} OR domain = '{B_DOMAIN}'")),
        ("sql: view tally.events for B", format!("SELECT count(*) FROM tally.events WHERE site_id = {B}")),
        ("sql: tally.events(B, ...) function", format!("SELECT count(*) FROM tally.events({B}, '-infinity', 'infinity')")),
        ("sql: my_sites lists B", format!("SELECT count(*) FROM tally.my_sites WHERE site_id = {B}")),
        ("sql: OR-true injection on sites", "SELECT count(*) FROM tally.sites WHERE (site_id = 1 OR 1 = 1) AND site_id <> 1".into()),
    ] {
        let c = count(&db, &sql).await;
        n.refused(what, c == 0, c);
    }

    for (what, sql) in [
        ("sql: hot partition events_hot_0 directly", "SELECT * FROM tally.events_hot_0".to_owned()),
        ("sql: hot partition events_hot_3 directly", "SELECT * FROM tally.events_hot_3".into()),
        ("sql: table users", "SELECT * FROM tally.users".into()),
        ("sql: table sessions", "SELECT * FROM tally.sessions".into()),
        ("sql: table api_keys", "SELECT * FROM tally.api_keys".into()),
        ("sql: table memberships", "SELECT * FROM tally.memberships".into()),
        ("sql: table login_failures", "SELECT * FROM tally.login_failures".into()),
        ("sql: audit log read by an analyst", "SELECT * FROM tally.audit_log".into()),
        ("sql: visitor salts", "SELECT * FROM tally.salts".into()),
        ("sql: ingest key hashes", "SELECT key_hash FROM tally.ingest_keys".into()),
        ("sql: SET ROLE to B's analyst", format!("SET ROLE {}", w.analyst_b.pg_role)),
        ("sql: SET ROLE tally_admin", "SET ROLE tally_admin".into()),
        ("sql: SET ROLE tally_gateway", "SET ROLE tally_gateway".into()),
        ("sql: SET ROLE postgres", "SET ROLE postgres".into()),
        ("sql: create a user", "SELECT tally.create_user('x@evil.example', 'x', '$argon2id$x', true)".into()),
        ("sql: make oneself admin of B", format!("SELECT tally.set_membership({}, {B}, 'admin')", w.analyst_a.user_id)),
        ("sql: make oneself administrator", format!("SELECT tally.set_admin({}, true)", w.analyst_a.user_id)),
        ("sql: psql login for B's role", format!("SELECT tally.grant_psql_login({}, current_user)", w.analyst_b.user_id)),
        ("sql: list users", "SELECT * FROM tally.list_users()".into()),
        ("sql: members of B", format!("SELECT * FROM tally.site_members({B})")),
        ("sql: audit log UPDATE", "UPDATE tally.audit_log SET action = 'nothing'".into()),
        ("sql: audit log DELETE", "DELETE FROM tally.audit_log".into()),
        ("sql: audit log TRUNCATE", "TRUNCATE tally.audit_log".into()),
        ("sql: audit row in another's name", "INSERT INTO tally.audit_log (action, actor) VALUES ('login', 'postgres')".into()),
        ("sql: insert events into B", format!("INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname) VALUES ({B}, now(), 'x', 1, 1, 'h', '/')")),
        ("sql: goal on B", format!("SELECT tally.create_goal({B}, 'mine', event_name => 'x')")),
        ("sql: funnel row on B", format!("INSERT INTO tally.funnels VALUES ({B}, 'mine', ARRAY['a', 'b'])")),
        ("sql: compaction", "SELECT tally.compact()".into()),
        ("sql: erase B's visitors", format!("SELECT tally.erase_visitor({B}, 1)")),
        ("sql: rebuild B's rollups", format!("SELECT tally.rebuild_rollups({B}, now() - interval '1 day', now())")),
        ("sql: build daily rollups", "SELECT tally.build_daily_rollups()".into()),
        ("sql: import events", "SELECT tally.import_events('tally.sites')".into()),
        ("sql: disable RLS on segments", "ALTER TABLE tally.segments DISABLE ROW LEVEL SECURITY".into()),
        ("sql: drop a policy", "DROP POLICY site_members ON tally.sites".into()),
        ("sql: create a site", "INSERT INTO tally.sites (domain) VALUES ('mine.example')".into()),
        ("sql: move a site", format!("UPDATE tally.sites SET retention = interval '1 day' WHERE site_id = {A}")),
    ] {
        let (refused, detail) = denied(&db, &sql).await;
        n.refused(what, refused, detail);
    }

    // An ingest key for B fails like one for a site that does not exist.
    let message =
        |r: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>| r.unwrap_err().as_db_error().unwrap().message().replace("999", "N");
    let missing = message(db.query("SELECT tally.create_ingest_key(999)", &[]).await);
    let for_b = message(db.query(&format!("SELECT tally.create_ingest_key({B})"), &[]).await).replace(&B.to_string(), "N");
    n.refused("sql: ingest key for B", for_b == missing, (for_b, missing));

    // Custom GUCs are no identity: claiming to be B's admin changes nothing, and the
    // scope setting only narrows.
    for (what, set) in [
        ("sql: SET tally.user_id to B's admin", format!("SET tally.user_id = '{}'", w.admin_b.user_id)),
        ("sql: SET tally.site_scope to B", format!("SET tally.site_scope = '{B}'")),
        ("sql: SET an application GUC naming B's admin role", format!("SET app.role = '{}'", w.admin_b.pg_role)),
    ] {
        // Whether Postgres takes the setting or not, B stays out of sight.
        let _ = db.batch_execute(&set).await;
        let c = count(&db, &format!("SELECT count(*) FROM tally.events WHERE site_id = {B}")).await;
        db.batch_execute("RESET ALL").await.unwrap();
        n.refused(what, c == 0, c);
    }

    // tally.query reads through the same policies: B is "no such site", by id or name,
    // with the very error a missing site gets.
    let missing =
        db.query_one("SELECT tally.query($1)", &[&query(json!(999))]).await.unwrap_err().as_db_error().unwrap().message().to_owned();
    for (what, site) in [("sql: tally.query with B's id", json!(B)), ("sql: tally.query with B's domain", json!(B_DOMAIN))] {
        let err = db.query_one("SELECT tally.query($1)", &[&query(site)]).await.unwrap_err();
        let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
        n.refused(what, message == missing, message);
    }

    // Leaky functions: a function in the attacker's WHERE clause runs only on rows the
    // policies let through, so it never sees B's rows.
    db.batch_execute(
        "CREATE TEMP TABLE seen (site_id int);
         CREATE FUNCTION pg_temp.leak(int) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
           $$ BEGIN INSERT INTO seen VALUES ($1); RETURN true; END $$;",
    )
    .await
    .unwrap();
    for (what, sql) in [
        ("sql: leaky function over sites", "SELECT count(*) FROM tally.sites WHERE pg_temp.leak(site_id)"),
        ("sql: leaky function over segments", "SELECT count(*) FROM tally.segments WHERE pg_temp.leak(site_id)"),
        ("sql: leaky function over my_sites", "SELECT count(*) FROM tally.my_sites WHERE pg_temp.leak(site_id)"),
    ] {
        count(&db, sql).await;
        let leaked = count(&db, &format!("SELECT count(*) FROM seen WHERE site_id = {B}")).await;
        n.refused(what, leaked == 0, leaked);
    }
    // A view of one's own over the hot table is still read as oneself.
    db.batch_execute("CREATE TEMP VIEW mine AS SELECT * FROM tally.events_hot").await.unwrap();
    let c = count(&db, &format!("SELECT count(*) FROM mine WHERE site_id = {B}")).await;
    n.refused("sql: own view over events_hot", c == 0, c);
    // Leaving the user's role leaves the login with nobody's sites.
    db.batch_execute("SET ROLE NONE").await.unwrap();
    let c = count(&db, "SELECT count(*) FROM tally.sites").await;
    n.refused("sql: SET ROLE NONE to the bare login", c == 0, c);

    // A viewer gets no psql login; an administrator cannot hand out a superuser's.
    let (refused, detail) =
        match w.t.db.client.execute(&format!("SELECT tally.grant_psql_login({}, 'postgres')", w.analyst_a.user_id), &[]).await {
            Ok(_) => (false, "granted".to_owned()),
            Err(e) => (true, e.to_string()),
        };
    n.refused("sql: psql login as a superuser role", refused, detail);
    let login = format!("{}_viewer", w.t.db.name);
    w.t.sql(&format!("CREATE ROLE {login} LOGIN")).await;
    let refused = w.t.db.client.execute(&format!("SELECT tally.grant_psql_login({}, '{login}')", w.viewer_a.user_id), &[]).await.is_err();
    n.refused("sql: psql login for a viewer", refused, "");
}

/// Signed-in members of A reaching for B and for admin powers.
async fn api_attempts(w: &World, n: &mut Attempts) {
    // Positive: each role of A reads A.
    for s in [&w.admin_a, &w.analyst_a, &w.viewer_a] {
        let (status, body) = s.post("/api/v1/query", query(json!(A_DOMAIN))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = s.get(&format!("/api/v1/events?site={A_DOMAIN}&limit=5")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, me) = w.viewer_a.get("/api/v1/auth/me").await;
    assert_eq!(me["sites"], json!([{"id": A, "domain": A_DOMAIN, "timezone": "UTC", "role": "viewer", "has_imports": false}]));

    // B looks exactly like a site that does not exist.
    let (_, missing_by_id) = w.analyst_a.post("/api/v1/query", query(json!(999))).await;
    let (_, missing_by_name) = w.analyst_a.post("/api/v1/query", query(json!("nosuch.example"))).await;
    for (what, s, site, missing) in [
        ("api: analyst A queries B by id", &w.analyst_a, json!(B), &missing_by_id),
        ("api: analyst A queries B by domain", &w.analyst_a, json!(B_DOMAIN), &missing_by_name),
        ("api: admin of A queries B", &w.admin_a, json!(B), &missing_by_id),
        ("api: viewer B queries A", &w.viewer_b, json!(A_DOMAIN), &missing_by_name),
        ("api: SQL injection in site_id", &w.analyst_a, json!(format!("{A_DOMAIN}' OR '1'='1")), &missing_by_name),
    ] {
        let (status, body) = s.post("/api/v1/query", query(site.clone())).await;
        let same = status == 400 && body["error"] == missing["error"] && body["field"] == "site_id";
        n.refused(what, same, (status, body));
    }
    let (_, missing) = w.analyst_a.get("/api/v1/events?site=nosuch.example").await;
    for (what, path) in [
        ("api: raw events of B", format!("/api/v1/events?site={B_DOMAIN}")),
        ("api: SQL injection in events site", format!("/api/v1/events?site={A_DOMAIN}'%20OR%20'x'%3D'x")),
    ] {
        let (status, body) = w.analyst_a.get(&path).await;
        n.refused(what, status == 404 && body == missing, (status, body));
    }

    // Injection through the query's names and values: refused as bad input or answered
    // for A alone, never an error from SQL or a row of B.
    let injections = [
        ("api: SQL injection in a filter value", json!({"filters": [["is", "event:page", ["/' OR '1'='1"]]]})),
        ("api: SQL injection in a filter dimension", json!({"filters": [["is", "visit:country'; DROP TABLE tally.sites; --", ["DE"]]]})),
        ("api: SQL injection in a props dimension", json!({"dimensions": ["event:props:x'); DROP TABLE tally.sites; --"]})),
        ("api: SQL injection in order_by", json!({"order_by": [["visitors; DELETE FROM tally.segments", "desc"]]})),
        ("api: SQL injection in a dimension", json!({"dimensions": ["visit:source) UNION SELECT * FROM tally.users --"]})),
        ("api: regex filter on another site's pages", json!({"filters": [["matches", "event:page", [".*"]]], "site_id": B})),
    ];
    for (what, extra) in injections {
        let mut q = query(json!(A_DOMAIN));
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        let (status, body) = w.analyst_a.post("/api/v1/query", q).await;
        let safe = status == 400 || (status == 200 && !body.to_string().contains(B_DOMAIN));
        n.refused(what, safe, (status, body));
    }
    assert_eq!(count(&w.t.db.client, "SELECT count(*) FROM tally.sites").await, 2, "the sites table is intact");

    // Plausible's routes: B is no site for members of A there either.
    let (status, body) = w.analyst_a.post("/api/v2/query", json!({"site_id": B_DOMAIN, "metrics": ["visitors"], "date_range": "7d"})).await;
    n.refused("api: v2 query of B", status == 400 && body["field"] == "site_id", (status, body));
    let (status, body) =
        w.admin_a.put("/api/v1/sites/goals", json!({"site_id": B_DOMAIN, "goal_type": "event", "event_name": "Evil"})).await;
    n.refused("api: goal made on B", status == 404, (status, body));
    let (status, body) = w.analyst_a.get(&format!("/api/v1/sites/goals?site_id={B_DOMAIN}")).await;
    n.refused("api: goals of B listed", status == 404, (status, body));
    let (status, body) =
        w.viewer_a.put("/api/v1/sites/goals", json!({"site_id": A_DOMAIN, "goal_type": "event", "event_name": "Evil"})).await;
    n.refused("api: viewer makes a goal", status == 403, (status, body));

    // Admin actions by members who are not administrators: 403, before and whatever
    // the target is.
    let uid = w.viewer_a.user_id;
    let attempts: [(&str, &Session, &str, String, Value); 11] = [
        ("api: viewer creates a site", &w.viewer_a, "POST", "/api/v1/sites".into(), json!({"domain": "evil.example"})),
        ("api: site admin creates a site", &w.admin_a, "POST", "/api/v1/sites".into(), json!({"domain": "evil.example"})),
        (
            "api: viewer creates a user",
            &w.viewer_a,
            "POST",
            "/api/v1/users".into(),
            json!({"email": "e@evil.example", "password": "0123456789ab", "admin": true}),
        ),
        ("api: site admin lists users", &w.admin_a, "GET", "/api/v1/users".into(), json!(null)),
        ("api: viewer promotes itself on A", &w.viewer_a, "PUT", format!("/api/v1/sites/{A}/members/{uid}"), json!({"role": "admin"})),
        (
            "api: analyst joins B",
            &w.analyst_a,
            "PUT",
            format!("/api/v1/sites/{B}/members/{}", w.analyst_a.user_id),
            json!({"role": "viewer"}),
        ),
        (
            "api: site admin removes B's admin",
            &w.admin_a,
            "DELETE",
            format!("/api/v1/sites/{B}/members/{}", w.admin_b.user_id),
            json!(null),
        ),
        ("api: analyst reads the audit log", &w.analyst_a, "GET", "/api/v1/audit".into(), json!(null)),
        ("api: site admin reads the audit log", &w.admin_a, "GET", "/api/v1/audit".into(), json!(null)),
        ("api: viewer makes an ingest key for A", &w.viewer_a, "POST", format!("/api/v1/sites/{A}/ingest-keys"), json!(null)),
        ("api: analyst makes an ingest key for A", &w.analyst_a, "POST", format!("/api/v1/sites/{A}/ingest-keys"), json!(null)),
    ];
    for (what, s, method, path, body) in attempts {
        let (status, answer) = match method {
            "GET" => s.get(&path).await,
            "POST" => s.post(&path, body).await,
            "PUT" => s.put(&path, body).await,
            _ => s.delete(&path).await,
        };
        n.refused(what, status == 403 && answer["error"].is_string(), (status, answer));
    }

    // Ingest keys of B, to its neighbour's admin, look like those of a missing site.
    let (s404, missing) = w.admin_a.post("/api/v1/sites/999/ingest-keys", json!(null)).await;
    assert_eq!(s404, 404);
    let (status, body) = w.admin_a.post(&format!("/api/v1/sites/{B}/ingest-keys"), json!(null)).await;
    n.refused("api: admin of A makes an ingest key for B", status == 404 && body == missing, (status, body));
    let (status, body) = w.admin_a.delete(&format!("/api/v1/sites/{B}/ingest-keys/{}", w.ingest_key_b_id)).await;
    n.refused("api: admin of A revokes B's ingest key", status == 404, (status, body));
    let (status, body) = w.admin_a.get(&format!("/api/v1/sites/{B}/ingest-keys")).await;
    n.refused("api: admin of A lists B's ingest keys", status == 404, (status, body));
    let (_, sites) = w.analyst_a.get("/api/v1/sites").await;
    n.refused("api: site list shows B", !sites.to_string().contains(B_DOMAIN), sites);

    // Positive: the site admin manages A's ingest keys; administrators do everything.
    let (status, body) = w.admin_a.post(&format!("/api/v1/sites/{A}/ingest-keys"), json!(null)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = w.root.get("/api/v1/audit?limit=5").await;
    assert_eq!(status, 200, "{body}");
}

/// Sessions, cookies and keys that are not (or no longer) valid.
async fn credential_attempts(w: &World, n: &mut Attempts) {
    let base = &w.t.gateway.base;
    let anonymous = reqwest::Client::new();
    let status_of = |r: reqwest::Response| r.status().as_u16();
    let with_cookie = |cookie: &str| Session { http: Session::with_header(reqwest::header::COOKIE, cookie), ..w.viewer_a.clone() };
    let with_bearer =
        |key: &str| Session { http: Session::with_header(reqwest::header::AUTHORIZATION, &format!("Bearer {key}")), ..w.viewer_a.clone() };

    let s = status_of(anonymous.post(format!("{base}/api/v1/query")).json(&query(json!(A_DOMAIN))).send().await.unwrap());
    n.refused("api: query without credentials", s == 401, s);
    let s = status_of(anonymous.get(format!("{base}/api/v1/events?site={A_DOMAIN}")).send().await.unwrap());
    n.refused("api: events without credentials", s == 401, s);
    let (s, _) = with_cookie(&format!("tally_session={}", "0".repeat(64))).get("/api/v1/auth/me").await;
    n.refused("api: forged session cookie", s == 401, s);
    // The hash the database stores is no cookie.
    let stored: String = w.t.db.value("SELECT encode(token_hash, 'hex') FROM tally.sessions LIMIT 1").await;
    let (s, _) = with_cookie(&format!("tally_session={stored}")).get("/api/v1/auth/me").await;
    n.refused("api: stored session hash as cookie", s == 401, s);

    // Expired: the same session, aged past its expiry.
    let expiring = w.t.login(&w.viewer_a.email, TEST_PASSWORD).await;
    assert_eq!(expiring.get("/api/v1/auth/me").await.0, 200);
    w.t.sql(&format!(
        "UPDATE tally.sessions SET expires_at = now() - interval '1 second' WHERE user_id = {} AND revoked_at IS NULL \
         AND token_hash = sha256(convert_to('{}', 'UTF8'))",
        w.viewer_a.user_id,
        expiring.cookie.trim_start_matches("tally_session=")
    ))
    .await;
    let (s, _) = expiring.post("/api/v1/query", query(json!(A_DOMAIN))).await;
    n.refused("api: expired session", s == 401, s);

    // Logged out: the cookie still in hand is dead server-side.
    let leaving = w.t.login(&w.viewer_a.email, TEST_PASSWORD).await;
    assert_eq!(leaving.post("/api/v1/auth/logout", json!(null)).await.0, 204);
    let (s, _) = leaving.get("/api/v1/auth/me").await;
    n.refused("api: session after logout", s == 401, s);

    // Ingest keys write events and nothing else.
    let ingest = with_bearer(&w.ingest_key_a);
    let (s, _) = ingest.post("/api/v1/query", query(json!(A_DOMAIN))).await;
    n.refused("api: ingest key runs a query", s == 401, s);
    let (s, _) = ingest.get(&format!("/api/v1/events?site={A_DOMAIN}")).await;
    n.refused("api: ingest key reads events", s == 401, s);
    let (s, _) = ingest.get("/api/v1/auth/me").await;
    n.refused("api: ingest key as a user", s == 401, s);

    // API keys: one limited to A cannot reach B even though its user can.
    let both = w.t.user_with_role(A_DOMAIN, "analyst").await;
    w.t.sql(&format!("SELECT tally.set_membership({}, {B}, 'analyst')", both.user_id)).await;
    let (scoped_key, scoped) = both.api_key(Some(A)).await;
    assert_eq!(scoped.post("/api/v1/query", query(json!(A_DOMAIN))).await.0, 200);
    let (s, body) = scoped.post("/api/v1/query", query(json!(B_DOMAIN))).await;
    n.refused("api: site-limited API key reaches another site", s == 400 && body["field"] == "site_id", (s, body));
    let (s, body) = scoped.post("/api/v1/keys", json!({"name": "more"})).await;
    n.refused("api: API key mints another key", s == 403, (s, body));
    let (s, body) =
        scoped.post("/api/v1/auth/password", json!({"current_password": TEST_PASSWORD, "new_password": "a new one entirely"})).await;
    n.refused("api: API key changes the password", s == 403, (s, body));
    let (key, unscoped) = both.api_key(None).await;
    let key_id: i32 =
        w.t.db.value(&format!("SELECT key_id FROM tally.api_keys WHERE key_hash = sha256(convert_to('{key}', 'UTF8'))")).await;
    assert_eq!(both.delete(&format!("/api/v1/keys/{key_id}")).await.0, 204);
    let (s, _) = unscoped.post("/api/v1/query", query(json!(A_DOMAIN))).await;
    n.refused("api: revoked API key", s == 401, s);
    let scoped_id: i32 =
        w.t.db.value(&format!("SELECT key_id FROM tally.api_keys WHERE key_hash = sha256(convert_to('{scoped_key}', 'UTF8'))")).await;
    let (s, _) = w.viewer_a.delete(&format!("/api/v1/keys/{scoped_id}")).await;
    n.refused("api: revoking another user's key", s == 404 && scoped.get("/api/v1/auth/me").await.0 == 200, s);
    let (s, _) = with_bearer(&format!("ta_{}", "f".repeat(64))).get("/api/v1/auth/me").await;
    n.refused("api: made-up API key", s == 401, s);

    // Sign-in: a wrong password and an unknown user get the same answer.
    let wrong = w.t.post("/api/v1/auth/login", json!({"email": w.viewer_b.email, "password": "not the password"})).await;
    let unknown = w.t.post("/api/v1/auth/login", json!({"email": "nobody@test.example", "password": "not the password"})).await;
    n.refused("api: sign-in tells users apart", wrong.0 == 401 && wrong == unknown, (wrong, unknown));
    let (s, _) = w
        .viewer_b
        .post("/api/v1/auth/password", json!({"current_password": "not the password", "new_password": "a new one entirely"}))
        .await;
    n.refused("api: password change with a wrong current password", s == 403, s);
}
