//! Signed-in clients of a test gateway: users made with a role on a site, signed in
//! through `POST /api/v1/auth/login` (or holding an API key), so tests call the API the
//! way the dashboard and programs do.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

use crate::gateway::{decode, BROWSER_UA};
use crate::Tally;

/// The password of every user the harness creates.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// A client that sends one credential (a session cookie or an API key) on every request.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    pub http: reqwest::Client,
    pub user_id: i32,
    pub email: String,
    /// The user's Postgres role (`tally.users.pg_role`).
    pub pg_role: String,
    /// `tally_session=<token>` for a signed-in session; empty for an API key.
    pub cookie: String,
}

impl Session {
    /// A client sending `header: value` on every request.
    pub fn with_header(header: reqwest::header::HeaderName, value: &str) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert(header, HeaderValue::from_str(value).expect("header value"));
        reqwest::Client::builder().user_agent(BROWSER_UA).default_headers(headers).build().expect("http client")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        decode(self.http.get(format!("{}{path}", self.base)).send().await.expect("GET")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        decode(self.http.post(format!("{}{path}", self.base)).json(&body).send().await.expect("POST")).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        decode(self.http.put(format!("{}{path}", self.base)).json(&body).send().await.expect("PUT")).await
    }

    /// `DELETE path`, declared JSON like every state-changing call (see gateway `csrf`).
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let req = self.http.delete(format!("{}{path}", self.base)).header(reqwest::header::CONTENT_TYPE, "application/json");
        decode(req.send().await.expect("DELETE")).await
    }

    /// A new API key of this user (limited to `site_id` when given), as a client.
    pub async fn api_key(&self, site_id: Option<i32>) -> (String, Session) {
        let (status, body) = self.post("/api/v1/keys", json!({"name": "test", "site_id": site_id})).await;
        assert_eq!(status, 201, "create API key: {body}");
        let key = body["key"].as_str().expect("key").to_owned();
        let http = Session::with_header(AUTHORIZATION, &format!("Bearer {key}"));
        (key, Session { http, cookie: String::new(), ..self.clone() })
    }
}

/// The argon2id hash of [`TEST_PASSWORD`], computed once per test process.
fn test_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| tally_gateway::auth::password::hash_now(TEST_PASSWORD).expect("hash"))
}

impl Tally {
    /// Creates a user (an administrator with `admin`) whose password is
    /// [`TEST_PASSWORD`], with a role on each `(domain, role)` site. Returns their id.
    pub async fn create_user(&self, email: &str, admin: bool, sites: &[(&str, &str)]) -> i32 {
        let client = &self.db.client;
        let id: i32 = client
            .query_one("SELECT tally.create_user($1, 'Test user', $2, $3)", &[&email, &test_password_hash(), &admin])
            .await
            .expect("create user")
            .get(0);
        for (domain, role) in sites {
            client
                .execute("SELECT tally.set_membership($1, (SELECT site_id FROM tally.sites WHERE domain = $2), $3)", &[&id, domain, role])
                .await
                .unwrap_or_else(|e| panic!("membership of {email} on {domain}: {e}"));
        }
        id
    }

    /// Signs in through the API; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) -> Session {
        let resp = self
            .gateway
            .http
            .post(format!("{}/api/v1/auth/login", self.gateway.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("POST login");
        let set_cookie = resp.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let (status, body) = decode(resp).await;
        assert_eq!(status, 200, "login {email}: {body}");
        let cookie = set_cookie.split(';').next().expect("cookie pair").to_owned();
        assert!(cookie.starts_with("tally_session="), "{set_cookie}");
        let user_id = body["user"]["id"].as_i64().expect("user id") as i32;
        let pg_role: String =
            self.db.client.query_one("SELECT pg_role::text FROM tally.users WHERE user_id = $1", &[&user_id]).await.expect("role").get(0);
        let http = Session::with_header(COOKIE, &cookie);
        Session { base: self.gateway.base.clone(), http, user_id, email: email.to_owned(), pg_role, cookie }
    }

    /// A new user with `role` (admin, analyst, viewer) on site `domain`, signed in.
    pub async fn user_with_role(&self, domain: &str, role: &str) -> Session {
        let email = unique_email(role);
        self.create_user(&email, false, &[(domain, role)]).await;
        self.login(&email, TEST_PASSWORD).await
    }

    /// A new administrator (every site, users, the audit log), signed in.
    pub async fn admin(&self) -> Session {
        let email = unique_email("admin");
        self.create_user(&email, true, &[]).await;
        self.login(&email, TEST_PASSWORD).await
    }
}

/// `<what><n>@test.example`, distinct within the test process.
pub fn unique_email(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{what}{}@test.example", N.fetch_add(1, Ordering::Relaxed))
}
