//! Brute-force throttling (docs/security.md): failures count per account and address, under an
//! account-wide ceiling and a per-address limit, in sliding windows; unverifiable SSO tokens count
//! per address only; counters are digests, purged when they count for nothing.

use crate::helpers::*;
use accountd_domain::ports::Store;
use accountd_policy::throttle::Counter;
use reqwest::{Response, StatusCode};
use serde_json::json;

/// An app that takes the client address from `X-Forwarded-For`, so one test plays many clients.
async fn behind_a_proxy(configure: impl FnOnce(&mut accountd::config::AppConfig) + 'static) -> TestApp {
    spawn_with(Spawn {
        configure: Box::new(move |c| {
            c.http.trust_forwarded_for = true;
            configure(c);
        }),
        ..Spawn::default()
    })
    .await
}

async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    app.fresh_client()
        .post(app.url("/api/v1/login/"))
        .header("X-Forwarded-For", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn failures_from_one_address_never_lock_the_owner_out_from_another() {
    let app = behind_a_proxy(|_| {}).await;
    for _ in 0..10 {
        let response = login_from(&app, "198.51.100.7", "admin", "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The attacker's address is refused, the right password included (no argon2 work for it)…
    let refused = login_from(&app, "198.51.100.7", "admin", DEMO_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // Free once the window has slid past the burst: a window's length, rounded up to the second.
    assert!((1..=901).contains(&retry), "{retry}");
    // …while the owner, elsewhere, signs in.
    let owner = login_from(&app, "203.0.113.9", "admin", DEMO_PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
    // Another account from the attacker's address is not refused either (the address limit is far
    // above the per-account one).
    let other = login_from(&app, "198.51.100.7", "foouser", DEMO_PASSWORD).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_account_wide_ceiling_bounds_the_work_on_one_account() {
    let app = behind_a_proxy(|c| {
        c.throttle.max_failures_per_account_address = 3;
        c.throttle.max_failures_per_account = 6;
    })
    .await;
    // Two failures from each of three addresses: six on the account, none over its address limit.
    for address in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            let response = login_from(&app, address, "foouser", "wrong").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{address}");
        }
    }
    // The ceiling now refuses every address, until the window slides on.
    let refused = login_from(&app, "203.0.113.50", "foouser", DEMO_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance_seconds(901);
    let later = login_from(&app, "203.0.113.50", "foouser", DEMO_PASSWORD).await;
    assert_eq!(later.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_burst_across_a_window_boundary_gets_the_limit_not_twice_it() {
    let app = behind_a_proxy(|_| {}).await;
    let attacker = "198.51.100.66";
    assert_eq!(
        login_from(&app, attacker, "foouser", "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Nine more just before the window (started at the first failure) ends…
    app.clock.advance_seconds(895);
    for _ in 0..9 {
        assert_eq!(
            login_from(&app, attacker, "foouser", "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, attacker, "foouser", "wrong").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and just after it: the ten still weigh almost ten, so one more attempt fits, not ten.
    app.clock.advance_seconds(10);
    assert_eq!(
        login_from(&app, attacker, "foouser", "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(&app, attacker, "foouser", "wrong").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn counters_are_digests_and_are_purged_when_they_count_for_nothing() {
    let app = behind_a_proxy(|_| {}).await;
    // A huge username is stored as a fixed-size digest key, and throttled like any other.
    let huge = "u".repeat(60_000);
    let response = login_from(&app, "198.51.100.8", &huge, "wrong").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let key = Counter::Account(&huge).key();
    assert!(key.len() < 100, "{}", key.len());
    assert!(app.db.read(|r| r.throttle_state(&key)).unwrap().is_some());

    let operator = app.operator();
    assert_eq!(operator.purge_expired_throttles().unwrap(), 0, "still counts");
    app.clock.advance_seconds(2 * 900);
    assert!(
        operator.purge_expired_throttles().unwrap() >= 3,
        "account, pair and address"
    );
    assert_eq!(app.db.read(|r| r.throttle_state(&key)).unwrap(), None);
}

#[actix_web::test]
async fn a_refused_login_answers_no_sooner_than_the_failure_floor() {
    let app = behind_a_proxy(|c| c.throttle.failure_floor_ms = 400).await;
    // A known user, an unknown one, an administrator: none is refused faster than the floor (a user
    // on an imported PBKDF2 hash, several times argon2's cost, would otherwise stand out).
    for (username, password) in [("foouser", "wrong"), ("nobody-at-all", "wrong"), ("admin", "wrong")] {
        let started = std::time::Instant::now();
        let response = login_from(&app, "198.51.100.9", username, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{username}");
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(400),
            "{username}: {:?}",
            started.elapsed()
        );
    }
    // A success is not delayed by the floor (it pays only its own verification).
    let response = login_from(&app, "198.51.100.9", "foouser", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}
