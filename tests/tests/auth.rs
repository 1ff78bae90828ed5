//! Users and sessions through the API: sign-in, the session cookie, `me`, logout,
//! password change, API keys, administration (sites, users, memberships), the audit
//! log, rate limits and lockout, HTTPS, `tally-gateway create-admin`, and a gateway
//! logged in as a non-superuser role as README describes. Attacks are in security.rs.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tally_tests::gateway::{decode, BROWSER_UA};
use tally_tests::session::unique_email;
use tally_tests::{Tally, TestGateway, TEST_PASSWORD};

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_me_lists_the_sites() {
    let t = Tally::with_site("a.example").await;
    t.sql("SELECT tally.create_site('b.example')").await;
    let email = unique_email("ana");
    let id = t.create_user(&email, false, &[("a.example", "analyst")]).await;
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/v1/auth/login", t.gateway.base))
        .json(&json!({"email": email.to_uppercase(), "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (status, body) = decode(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"user": {"id": id, "email": email, "name": "Test user", "admin": false}}));
    for part in ["tally_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag ({cookie})");

    let s = t.login(&email, TEST_PASSWORD).await;
    let (status, me) = s.get("/api/v1/auth/me").await;
    assert_eq!(status, 200);
    assert_eq!(
        me["sites"],
        json!([{"id": 1, "domain": "a.example", "timezone": "Europe/Berlin", "role": "analyst", "has_imports": false}])
    );
    assert_eq!(t.get("/api/v1/auth/me").await.0, 401);

    // Sessions slide: using one pushes its expiry forward.
    t.sql("UPDATE tally.sessions SET expires_at = now() + interval '1 hour'").await;
    assert_eq!(s.get("/api/v1/auth/me").await.0, 200);
    let left: f64 =
        t.db.value(&format!(
            "SELECT extract(epoch FROM expires_at - now())::float8 FROM tally.sessions \
             WHERE token_hash = sha256(convert_to('{}', 'UTF8'))",
            s.cookie.trim_start_matches("tally_session=")
        ))
        .await;
    assert!(left > 13.0 * 86_400.0, "expiry pushed to ~14 days, is {left}s");

    // Logout: 204, the cookie cleared, the session dead.
    let resp = s.http.post(format!("{}/api/v1/auth/logout", s.base)).header("content-type", "application/json").send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("tally_session=;"));
    assert_eq!(s.get("/api/v1/auth/me").await.0, 401);

    // Bad bodies name the field.
    let (status, body) = t.post("/api/v1/auth/login", json!({"email": email})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("password")));
}

#[tokio::test]
async fn password_change_keeps_this_session_and_ends_the_others() {
    let t = Tally::with_site("a.example").await;
    let here = t.user_with_role("a.example", "viewer").await;
    let elsewhere = t.login(&here.email, TEST_PASSWORD).await;
    let (status, body) = here.post("/api/v1/auth/password", json!({"current_password": TEST_PASSWORD, "new_password": "short"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("new_password")));
    let new = "a much longer passphrase";
    let (status, body) = here.post("/api/v1/auth/password", json!({"current_password": TEST_PASSWORD, "new_password": new})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(here.get("/api/v1/auth/me").await.0, 200);
    assert_eq!(elsewhere.get("/api/v1/auth/me").await.0, 401);
    assert_eq!(t.post("/api/v1/auth/login", json!({"email": here.email, "password": TEST_PASSWORD})).await.0, 401);
    t.login(&here.email, new).await;
}

#[tokio::test]
async fn administrators_manage_sites_users_members_and_keys_and_read_the_audit_log() {
    let t = Tally::with_site("a.example").await;
    let admin = t.admin().await;
    let (status, site) = admin.post("/api/v1/sites", json!({"domain": "New.Example", "timezone": "Europe/Paris"})).await;
    assert_eq!(status, 201, "{site}");
    assert_eq!(site["domain"], "new.example");
    let site_id = site["id"].as_i64().unwrap();
    let (status, body) = admin.post("/api/v1/sites", json!({"domain": "x.example", "timezone": "Mars/Olympus"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("timezone")));

    let email = unique_email("new");
    let (status, created) = admin.post("/api/v1/users", json!({"email": email, "name": "New", "password": "long enough!"})).await;
    assert_eq!(status, 201, "{created}");
    let user_id = created["user"]["id"].as_i64().unwrap();
    let (status, _) = admin.post("/api/v1/users", json!({"email": email, "name": "Again", "password": "long enough!"})).await;
    assert_eq!(status, 409);
    let (status, _) = admin.put(&format!("/api/v1/sites/{site_id}/members/{user_id}"), json!({"role": "analyst"})).await;
    assert_eq!(status, 204);
    let (status, body) = admin.put(&format!("/api/v1/sites/{site_id}/members/{user_id}"), json!({"role": "owner"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("role")));
    assert_eq!(admin.put(&format!("/api/v1/sites/999/members/{user_id}"), json!({"role": "viewer"})).await.0, 404);
    let (_, members) = admin.get(&format!("/api/v1/sites/{site_id}/members")).await;
    assert_eq!(members["members"], json!([{"user_id": user_id, "email": email, "name": "New", "role": "analyst"}]));
    let (_, users) = admin.get("/api/v1/users").await;
    let listed = users["users"].as_array().unwrap().iter().find(|u| u["id"] == json!(user_id)).unwrap().clone();
    assert_eq!(listed["sites"], json!([{"site_id": site_id, "role": "analyst"}]));

    // The new analyst sees the new site; administrators see every site, as admin.
    let analyst = t.login(&email, "long enough!").await;
    let (_, sites) = analyst.get("/api/v1/sites").await;
    assert_eq!(
        sites["sites"],
        json!([{"id": site_id, "domain": "new.example", "timezone": "Europe/Paris", "role": "analyst", "has_imports": false}])
    );
    let (_, sites) = admin.get("/api/v1/sites").await;
    assert_eq!(sites["sites"].as_array().unwrap().len(), 2);
    assert!(sites["sites"].as_array().unwrap().iter().all(|s| s["role"] == "admin"));
    assert_eq!(admin.delete(&format!("/api/v1/sites/{site_id}/members/{user_id}")).await.0, 204);
    assert_eq!(admin.delete(&format!("/api/v1/sites/{site_id}/members/{user_id}")).await.0, 404);
    assert_eq!(analyst.get("/api/v1/sites").await.1["sites"], json!([]));

    // Ingest keys: shown once, work for ingest, revoked on request.
    let (status, key) = admin.post(&format!("/api/v1/sites/{site_id}/ingest-keys"), json!(null)).await;
    assert_eq!(status, 201, "{key}");
    let plain = key["key"].as_str().unwrap();
    assert!(plain.starts_with("tk_"));
    let (status, _) = t
        .gateway
        .post_raw(
            "/api/v1/events",
            &[("authorization", &format!("Bearer {plain}"))],
            r#"[{"name":"pageview","url":"https://new.example/"}]"#,
        )
        .await;
    assert_eq!(status, 202);
    let (_, keys) = admin.get(&format!("/api/v1/sites/{site_id}/ingest-keys")).await;
    assert_eq!(keys["ingest_keys"].as_array().unwrap().len(), 1);
    assert!(!keys.to_string().contains(plain), "never shown again");
    assert_eq!(admin.delete(&format!("/api/v1/sites/{site_id}/ingest-keys/{}", key["id"])).await.0, 204);

    // API keys act as their user.
    let (status, listed) = admin.get("/api/v1/keys").await;
    assert_eq!((status, listed["keys"].as_array().unwrap().len()), (200, 0));
    let (_, program) = admin.api_key(None).await;
    let (status, me) = program.get("/api/v1/auth/me").await;
    assert_eq!((status, me["user"]["admin"].as_bool()), (200, Some(true)));
    assert_eq!(admin.get("/api/v1/keys").await.1["keys"].as_array().unwrap().len(), 1);

    // The audit log: every action above, newest first, in pages.
    let (status, page) = admin.get("/api/v1/audit?limit=3").await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["action"], "api_key.create");
    let (_, rest) = admin.get(&format!("/api/v1/audit?limit=500&before={}", page["next"])).await;
    let actions: Vec<&str> = entries.iter().chain(rest["entries"].as_array().unwrap()).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), rest["entries"].as_array().unwrap().len() + 3, "pages do not overlap");
    for action in ["login", "site.create", "user.create", "member.set", "member.remove", "ingest_key.create", "ingest_key.revoke"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let site_create = rest["entries"].as_array().unwrap().iter().find(|e| e["action"] == "site.create").unwrap();
    assert_eq!(site_create["user_id"], json!(admin.user_id));
    assert_eq!(site_create["actor"], json!(admin.pg_role));
    assert_eq!(site_create["ip"], "127.0.0.1");
    assert_eq!(admin.get("/api/v1/audit?limit=0").await.1["field"], "limit");
}

#[tokio::test]
async fn queries_and_failed_sign_ins_are_audited() {
    let t = Tally::with_site("a.example").await;
    let viewer = t.user_with_role("a.example", "viewer").await;
    let (status, _) = viewer.post("/api/v1/query", json!({"site_id": "a.example", "date_range": "7d", "metrics": ["visitors"]})).await;
    assert_eq!(status, 200);
    assert_eq!(viewer.get("/api/v1/events?site=a.example").await.0, 200);
    assert_eq!(t.post("/api/v1/auth/login", json!({"email": "who@test.example", "password": "guess guess"})).await.0, 401);
    let rows = t.sql("SELECT action, user_id, detail FROM tally.audit_log ORDER BY audit_id").await;
    let got: Vec<(String, Option<i32>, Value)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        got,
        [
            ("login".into(), Some(viewer.user_id), json!({})),
            ("query".into(), Some(viewer.user_id), json!({"site": "a.example"})),
            ("events.read".into(), Some(viewer.user_id), json!({"limit": 100})),
            ("login.failure".into(), None, json!({"email": "who@test.example"})),
        ]
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address_and_locked_per_name() {
    let t = Tally::start_with(|c| {
        c.auth.login_attempts_per_minute = 4;
        c.auth.lockout_after = 2;
        c.auth.lockout_seconds = 600;
    })
    .await;
    let email = unique_email("locked");
    t.create_user(&email, false, &[]).await;
    let wrong = json!({"email": email, "password": "wrong wrong"});
    assert_eq!(t.post("/api/v1/auth/login", wrong.clone()).await.0, 401);
    assert_eq!(t.post("/api/v1/auth/login", wrong.clone()).await.0, 401);
    // Locked: even the right password waits, and a made-up name locks the same way.
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/v1/auth/login", t.gateway.base))
        .json(&json!({"email": email, "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((500..=600).contains(&retry), "{retry}");
    // The fourth attempt from this address this minute; the fifth is refused outright.
    assert_eq!(t.post("/api/v1/auth/login", json!({"email": "x@y.example", "password": "wrong wrong"})).await.0, 401);
    let resp = t.gateway.http.post(format!("{}/api/v1/auth/login", t.gateway.base)).json(&wrong).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    // The lock ends: it is kept in Postgres, shared by every gateway.
    t.sql("UPDATE tally.login_failures SET locked_until = now() - interval '1 second'").await;
    let other = TestGateway::start(&t.db, |_| {}).await;
    let (status, _) = other.post_json("/api/v1/auth/login", &json!({"email": email, "password": TEST_PASSWORD})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn api_keys_are_rate_limited() {
    let t = Tally::start_with(|c| c.auth.api_key_requests_per_minute = 3).await;
    t.sql("SELECT tally.create_site('a.example')").await;
    let viewer = t.user_with_role("a.example", "viewer").await;
    let (_, program) = viewer.api_key(None).await;
    for _ in 0..3 {
        assert_eq!(program.get("/api/v1/auth/me").await.0, 200);
    }
    let resp = program.http.get(format!("{}/api/v1/auth/me", program.base)).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // The session of the same user is not limited by its key's budget.
    assert_eq!(viewer.get("/api/v1/auth/me").await.0, 200);
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_and_secure_cookies() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tally-tls-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let t = Tally::start_with(|c| {
        c.auth.tls_cert = Some(cert_path.clone());
        c.auth.tls_key = Some(key_path.clone());
    })
    .await;
    let email = unique_email("tls");
    t.create_user(&email, false, &[]).await;
    let https = t.gateway.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .user_agent(BROWSER_UA)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp =
        client.post(format!("{https}/api/v1/auth/login")).json(&json!({"email": email, "password": TEST_PASSWORD})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // Plain HTTP on the TLS port gets no answer.
    assert!(reqwest::Client::new()
        .get(format!("{}/healthz", t.gateway.base))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true));
    t.gateway.shutdown().await;
}

#[tokio::test]
async fn create_admin_is_idempotent_and_reads_the_password_from_env_or_stdin() {
    let t = Tally::with_site("a.example").await;
    let run = |password_env: Option<&str>, stdin: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gateway-under-test"));
        cmd.args(["create-admin", "--email", "Boss@Test.Example"])
            .env("TALLY_DATABASE_URL", &t.db.url)
            .env_remove("TALLY_ADMIN_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        if let Some(p) = password_env {
            cmd.env("TALLY_ADMIN_PASSWORD", p);
        }
        let mut child = cmd.spawn().expect("run create-admin");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait().expect("create-admin").success()
    };
    assert!(run(Some("first password"), ""));
    assert!(run(Some("first password"), ""), "a second run changes nothing");
    let (id, admin): (i32, bool) = {
        let r = &t.sql("SELECT user_id, is_admin FROM tally.users WHERE email = 'boss@test.example'").await[0];
        (r.get(0), r.get(1))
    };
    assert!(admin);
    let s = t.login("boss@test.example", "first password").await;
    assert_eq!(s.user_id, id);
    assert_eq!(s.get("/api/v1/users").await.0, 200);
    assert!(run(None, "second password\n"));
    t.login("boss@test.example", "second password").await;
    assert!(!run(None, ""), "no password given");
    assert!(!run(Some("short"), ""), "too short");
    assert_eq!(t.sql("SELECT 1 FROM tally.users").await.len(), 1);
}

/// README's deployment: the gateway logs in as a LOGIN BYPASSRLS role in tally_gateway,
/// no superuser; ingest, sign-in and queries all work, and queries still run under the
/// user's role with its policies.
#[tokio::test]
async fn a_gateway_logged_in_as_a_non_superuser_role_works() {
    let t = Tally::with_site("a.example").await;
    t.sql("SELECT tally.create_site('b.example')").await;
    let login = format!("{}_gw", t.db.name);
    t.sql(&format!("CREATE ROLE {login} LOGIN BYPASSRLS IN ROLE tally_gateway")).await;
    let url = t.db.url.replace("user=postgres", &format!("user={login}"));
    let gw = TestGateway::start_at(&t.db, &url, |_| {}).await;
    // Users created after the gateway's role exist are its members too.
    let email = unique_email("viewer");
    t.create_user(&email, false, &[("a.example", "viewer")]).await;
    for domain in ["a.example", "b.example"] {
        let event = json!({"name": "pageview", "url": format!("https://{domain}/"), "domain": domain});
        assert_eq!(gw.post_json("/api/event", &event).await.0, 202);
    }
    let resp = gw
        .http
        .post(format!("{}/api/v1/auth/login", gw.base))
        .json(&json!({"email": email, "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let viewer = tally_tests::Session {
        http: tally_tests::Session::with_header(reqwest::header::COOKIE, &cookie),
        base: gw.base.clone(),
        user_id: 0,
        email,
        pg_role: String::new(),
        cookie,
    };
    let (status, events) = viewer.get("/api/v1/events?site=a.example").await;
    assert_eq!((status, events["events"].as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(viewer.get("/api/v1/events?site=b.example").await.0, 404);
    let (status, answer) =
        viewer.post("/api/v1/query", json!({"site_id": "a.example", "date_range": "day", "metrics": ["pageviews"]})).await;
    assert_eq!((status, answer["results"][0]["metrics"][0].as_i64()), (200, Some(1)), "{answer}");
    gw.shutdown().await;
}
