//! Sign-in under attack: limits counted against the client behind the proxy (not the
//! proxy, not an address the client wrote itself), a lockout that cannot keep a known
//! user out, credentials that die with a password change or a removed membership,
//! and a bound on password hashes computed at once.

use reqwest::header::RETRY_AFTER;
use serde_json::{json, Value};
use tally_tests::gateway::decode;
use tally_tests::{Tally, TEST_PASSWORD};

/// `POST /api/v1/auth/login` as if relayed by a proxy on loopback that appended the
/// client's address to `forwarded_for`.
async fn login_via_proxy(t: &Tally, email: &str, password: &str, forwarded_for: &str) -> (u16, Value) {
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/v1/auth/login", t.gateway.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    decode(resp).await
}

#[tokio::test]
async fn sign_in_limits_count_the_client_behind_the_proxy_not_an_address_it_claims() {
    let t = Tally::start_with(|c| {
        c.trust_proxy = true;
        c.auth.login_attempts_per_minute = 3;
    })
    .await;
    let email = tally_tests::session::unique_email("ana");
    t.create_user(&email, false, &[]).await;
    for _ in 0..3 {
        assert_eq!(login_via_proxy(&t, &email, "wrong password!", "198.51.100.1").await.0, 401);
    }
    assert_eq!(login_via_proxy(&t, &email, "wrong password!", "198.51.100.1").await.0, 429);
    // Writing another address in front changes nothing: the proxy appended the real one.
    for claimed in ["10.9.9.9, 198.51.100.1", "203.0.113.5,198.51.100.1"] {
        assert_eq!(login_via_proxy(&t, &email, TEST_PASSWORD, claimed).await.0, 429, "{claimed}");
    }
    // Another client behind the same proxy has its own allowance.
    assert_eq!(login_via_proxy(&t, &email, TEST_PASSWORD, "198.51.100.2").await.0, 200);
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_for_is_ignored() {
    let t = Tally::start_with(|c| c.auth.login_attempts_per_minute = 2).await;
    let email = tally_tests::session::unique_email("ana");
    t.create_user(&email, false, &[]).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(login_via_proxy(&t, &email, "wrong password!", client).await.0, 401);
    }
    assert_eq!(login_via_proxy(&t, &email, TEST_PASSWORD, "198.51.100.3").await.0, 429, "one peer, one allowance");
}

#[tokio::test]
async fn a_lockout_keeps_the_guesser_out_but_not_the_owner() {
    let t = Tally::start_with(|c| {
        c.trust_proxy = true;
        c.auth.lockout_after = 3;
    })
    .await;
    let email = tally_tests::session::unique_email("victim");
    t.create_user(&email, false, &[]).await;
    let attacker = "203.0.113.66";
    for _ in 0..3 {
        assert_eq!(login_via_proxy(&t, &email, "guess guess guess", attacker).await.0, 401);
    }
    let (status, _) = login_via_proxy(&t, &email, TEST_PASSWORD, attacker).await;
    assert_eq!(status, 429, "locked for the guesser, even with the right password");
    let (status, body) = login_via_proxy(&t, &email, TEST_PASSWORD, "198.51.100.20").await;
    assert_eq!(status, 200, "the owner, from their own address, signs in: {body}");
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_and_every_api_key() {
    let t = Tally::with_site("a.example").await;
    let ana = t.user_with_role("a.example", "analyst").await;
    let elsewhere = t.login(&ana.email, TEST_PASSWORD).await;
    let (_, key) = ana.api_key(None).await;
    assert_eq!(key.get("/api/v1/auth/me").await.0, 200);
    let (status, body) =
        ana.post("/api/v1/auth/password", json!({"current_password": TEST_PASSWORD, "new_password": "another long password"})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(ana.get("/api/v1/auth/me").await.0, 200, "the session that changed it stays");
    assert_eq!(elsewhere.get("/api/v1/auth/me").await.0, 401);
    assert_eq!(key.get("/api/v1/auth/me").await.0, 401, "a key made with the old password is revoked");
}

#[tokio::test]
async fn removing_a_membership_revokes_the_keys_limited_to_that_site() {
    let t = Tally::with_site("a.example").await;
    t.sql("SELECT tally.create_site('b.example')").await;
    let admin = t.admin().await;
    let ana = t.user_with_role("a.example", "analyst").await;
    let (status, _) = admin.put(&format!("/api/v1/sites/2/members/{}", ana.user_id), json!({"role": "viewer"})).await;
    assert_eq!(status, 204);
    let (_, on_a) = ana.api_key(Some(1)).await;
    let (_, on_b) = ana.api_key(Some(2)).await;
    let (status, _) = admin.delete(&format!("/api/v1/sites/1/members/{}", ana.user_id)).await;
    assert_eq!(status, 204);
    assert_eq!(on_a.get("/api/v1/auth/me").await.0, 401, "the key limited to the site left is revoked");
    assert_eq!(on_b.get("/api/v1/auth/me").await.0, 200, "the other site's key stays");
    // Added back, the user needs a new key: the old one stays dead.
    let (status, _) = admin.put(&format!("/api/v1/sites/1/members/{}", ana.user_id), json!({"role": "analyst"})).await;
    assert_eq!(status, 204);
    assert_eq!(on_a.get("/api/v1/auth/me").await.0, 401);
}

#[tokio::test]
async fn password_hashes_are_bounded_and_the_excess_is_told_to_retry() {
    let t = Tally::start_with(|c| {
        c.auth.max_password_hashes = 1;
        // No waiting for a turn: whoever arrives while a hash runs is refused, so the
        // outcome does not depend on how fast this machine hashes.
        c.auth.password_hash_wait_ms = 0;
        c.auth.login_attempts_per_minute = 100_000;
        c.auth.lockout_after = 100_000;
    })
    .await;
    let email = tally_tests::session::unique_email("ana");
    t.create_user(&email, false, &[]).await;
    let attempts: Vec<_> = (0..60)
        .map(|_| {
            let (http, url, email) = (t.gateway.http.clone(), format!("{}/api/v1/auth/login", t.gateway.base), email.clone());
            tokio::spawn(async move {
                let resp = http.post(url).json(&json!({"email": email, "password": "wrong password!"})).send().await.unwrap();
                (resp.status().as_u16(), resp.headers().contains_key(RETRY_AFTER))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for a in attempts {
        answers.push(a.await.unwrap());
    }
    let refused = answers.iter().filter(|a| **a == (503, true)).count();
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    assert_eq!(refused + checked, 60, "{answers:?}");
    assert!(refused > 0 && checked > 0, "one hash at a time, the rest told to retry: {refused} refused, {checked} checked");
}
