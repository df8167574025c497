//! Seed 000 replayed field by field, authentication methods, XSRF, throttling, timeouts, the
//! deprecated alias, and bad input.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn seed_000_body() -> Value {
    json!({
        "ids": { "tenant_id": "Pie", "group_id": "PieGroup" },
        "profile": {
            "user_level": 8,
            "first_name": "John",
            "last_name": "Doe",
            "emailAddress": "john.doe@netaxis.be"
        },
        "username": "PieGroupAdmin1@sip.netaxis.be"
    })
}

#[actix_web::test]
async fn login_answers_seed_000_with_is_first_login_and_cookies() {
    replay_seed_000_login(&spawn_app().await).await;
}

/// The same on PostgreSQL: a user without a second factor sees the seed there too.
#[actix_web::test]
async fn login_answers_seed_000_with_is_first_login_and_cookies_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        replay_seed_000_login(&app).await;
    }
}

async fn replay_seed_000_login(app: &TestApp) {
    let response = app.login(GROUP_ADMIN, DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = set_cookie_header(&response, "sessionid").expect("sessionid cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "not Secure unless configured: {session}");
    let xsrf = set_cookie_header(&response, "XSRF-TOKEN").expect("XSRF-TOKEN cookie");
    assert!(!xsrf.contains("HttpOnly"), "script must read the XSRF token: {xsrf}");
    let token = cookie(&response, "sessionid").unwrap();
    assert_eq!(token.len(), 43, "256-bit session id, base64url");

    let body: Value = response.json().await.unwrap();
    let mut expected = seed_000_body();
    expected["profile"]["is_first_login"] = json!(false);
    assert_eq!(body, expected);
}

#[actix_web::test]
async fn secure_cookies_when_configured() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.http.secure_cookies = true),
        ..Spawn::default()
    })
    .await;
    let response = app.login(GROUP_ADMIN, DEMO_PASSWORD).await;
    assert!(set_cookie_header(&response, "sessionid").unwrap().contains("Secure"));
}

#[actix_web::test]
async fn user_login_info_is_seed_000_without_is_first_login() {
    let app = spawn_app().await;
    app.login_ok(&app.client, GROUP_ADMIN).await;
    let response = app.get_info(&app.client).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(response.json::<Value>().await.unwrap(), seed_000_body());
}

#[actix_web::test]
async fn put_user_login_info_replays_seed_000() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let request = json!({
        "first_name": "Test First Name",
        "last_name": "Test Last Name",
        "emailAddress": "testemail@netaxis.be"
    });
    let response = app.put_info(&app.client, Some(&xsrf), &request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let expected = json!({
        "ids": { "tenant_id": "Pie", "group_id": "PieGroup" },
        "profile": {
            "user_level": 8,
            "first_name": "Test First Name",
            "last_name": "Test Last Name",
            "emailAddress": "testemail@netaxis.be"
        },
        "username": "PieGroupAdmin1@sip.netaxis.be"
    });
    assert_eq!(response.json::<Value>().await.unwrap(), expected);
    // And it is stored: a new GET (and a new session) sees it.
    let other = app.fresh_client();
    app.login_ok(&other, GROUP_ADMIN).await;
    assert_eq!(app.get_info(&other).await.json::<Value>().await.unwrap(), expected);
}

#[actix_web::test]
async fn null_email_address_clears_it_as_on_seed_001() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let mut cleared = seed_000_body();
    cleared["profile"].as_object_mut().unwrap().remove("emailAddress");
    for path in ["/api/v1/session/user_login_info/", "/api/v1/session/login_info/"] {
        let set = app
            .client
            .put(app.url(path))
            .header("X-XSRF-TOKEN", &xsrf)
            .json(&json!({"emailAddress": "john.doe@netaxis.be"}))
            .send()
            .await
            .unwrap();
        assert_eq!(set.json::<Value>().await.unwrap(), seed_000_body(), "{path}");
        // `null`, like `""` and like seed 001's PUT, clears the address; absent keeps it.
        let response = app
            .client
            .put(app.url(path))
            .header("X-XSRF-TOKEN", &xsrf)
            .json(&json!({"emailAddress": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), cleared, "{path}");
        assert_eq!(app.get_info(&app.client).await.json::<Value>().await.unwrap(), cleared);
        let kept = app
            .put_info(&app.client, Some(&xsrf), &json!({"first_name": "John"}))
            .await;
        assert_eq!(kept.json::<Value>().await.unwrap(), cleared, "{path}");
    }
}

#[actix_web::test]
async fn ids_follow_the_level() {
    let app = spawn_app().await;
    for (user, ids) in [
        (
            "foouser",
            json!({"tenant_id": "ApioSpTest", "group_id": "ApioGrpTest", "user_id": "foouser"}),
        ),
        ("admin", json!({})),
    ] {
        let client = app.fresh_client();
        app.login_ok(&client, user).await;
        let body: Value = app.get_info(&client).await.json().await.unwrap();
        assert_eq!(body["ids"], ids, "{user}");
        assert!(body["profile"].get("is_first_login").is_none());
    }
}

#[actix_web::test]
async fn deprecated_alias_behaves_the_same_and_says_so() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let response = app
        .client
        .get(app.url("/api/v1/session/login_info/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["deprecation"], "true");
    assert_eq!(
        response.headers()["link"],
        "</api/v1/session/user_login_info/>; rel=\"successor-version\""
    );
    assert_eq!(response.json::<Value>().await.unwrap(), seed_000_body());

    let response = app
        .client
        .put(app.url("/api/v1/session/login_info/"))
        .header("X-XSRF-TOKEN", &xsrf)
        .json(&json!({"first_name": "Jane"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["deprecation"], "true");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["profile"]["first_name"], "Jane");
    assert_eq!(
        body["profile"]["last_name"], "Doe",
        "a partial update keeps the other fields"
    );
}

#[actix_web::test]
async fn unsafe_methods_need_the_session_xsrf_token() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let body = json!({"first_name": "Mallory"});
    let missing = app.put_info(&app.client, None, &body).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(missing).await["type"], "urn:accountd:problem:xsrf");
    let wrong = app.put_info(&app.client, Some("x".repeat(43).as_str()), &body).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    // The XSRF token of another session does not fit this one, even echoed as both cookie and header.
    let other = app.fresh_client();
    let other_xsrf = app.login_ok(&other, "foouser").await;
    let session = app.login_with(&app.fresh_client(), GROUP_ADMIN, DEMO_PASSWORD).await;
    let session_id = cookie(&session, "sessionid").unwrap();
    let forged = app
        .fresh_client()
        .put(app.url("/api/v1/session/user_login_info/"))
        .header("Cookie", format!("sessionid={session_id}; XSRF-TOKEN={other_xsrf}"))
        .header("X-XSRF-TOKEN", &other_xsrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{:?}", forged.text().await);

    let info: Value = app.get_info(&app.client).await.json().await.unwrap();
    assert_eq!(info["profile"]["first_name"], "John", "nothing changed");
    assert_eq!(
        app.put_info(&app.client, Some(&xsrf), &body).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn wrong_passwords_are_401_then_429_with_retry_after() {
    let app = spawn_app().await;
    let first = app.login(GROUP_ADMIN, "wrong").await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert!(first.headers().contains_key("www-authenticate"));
    let first_body = problem(first).await;
    for _ in 2..=10 {
        assert_eq!(app.login(GROUP_ADMIN, "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let eleventh = app.login(GROUP_ADMIN, "wrong").await;
    assert_eq!(eleventh.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = eleventh.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // Until the sliding window has passed the burst: its length, rounded up to the second.
    assert!((1..=901).contains(&retry), "{retry}");
    assert_eq!(problem(eleventh).await["type"], "urn:accountd:problem:throttled");
    // Even the right password is refused while throttled: no argon2 work for this account.
    assert_eq!(
        app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are not affected.
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // After the window, the account can log in again.
    app.clock.advance_seconds(901);
    assert_eq!(app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(), StatusCode::OK);

    // An unknown user gets the very same answer as a wrong password.
    let unknown = problem(app.login("nobody@nowhere", "whatever").await).await;
    assert_eq!(unknown, first_body);
}

#[actix_web::test]
async fn throttling_counts_per_client_address_too() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_failures_per_address = 3),
        ..Spawn::default()
    })
    .await;
    for name in ["a1", "a2", "a3"] {
        assert_eq!(app.login(name, "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn disabled_accounts_cannot_log_in() {
    let app = spawn_app().await;
    use accountd_domain::ports::Store;
    use accountd_domain::user::AccountChange;
    let key = app
        .db
        .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap()
        .key;
    let change = AccountChange {
        enabled: Some(false),
        state: None,
    };
    app.db
        .write(|r| r.update_account(key, None, &change, accountd_domain::user::Timestamp::from_millis(0)))
        .unwrap();
    let response = app.login("foouser", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn basic_and_bearer_authenticate_too() {
    let app = spawn_app().await;
    let client = app.fresh_client();
    let response = client
        .get(app.url("/api/v1/session/user_login_info/"))
        .basic_auth(GROUP_ADMIN, Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), seed_000_body());
    // Basic needs no XSRF token: it is not ambient like a cookie.
    let put = client
        .put(app.url("/api/v1/session/user_login_info/"))
        .basic_auth(GROUP_ADMIN, Some(DEMO_PASSWORD))
        .json(&json!({"last_name": "Basic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);

    let bad = client
        .get(app.url("/api/v1/session/user_login_info/"))
        .basic_auth(GROUP_ADMIN, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    let services_token = {
        let db = app.db.clone();
        let cfg = keyed_config();
        let services = accountd::startup::services(&cfg, db).unwrap();
        services
            .create_api_token(
                &accountd_domain::ids::Username::parse("foouser").unwrap(),
                "test",
                None,
                &Default::default(),
            )
            .unwrap()
            .token
    };
    let response = client
        .get(app.url("/api/v1/session/user_login_info/"))
        .bearer_auth(&services_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["username"], "foouser");
    let forged = client
        .get(app.url("/api/v1/session/user_login_info/"))
        .bearer_auth("A".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn no_credentials_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let response = app.get_info(&app.client).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
    assert_eq!(problem(response).await["status"], 401);
}

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let response = app
        .client
        .post(app.url("/api/v1/logout/"))
        .header("X-XSRF-TOKEN", &xsrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.get_info(&app.client).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn sessions_end_after_idle_and_absolute_timeouts() {
    let app = spawn_app().await;
    app.login_ok(&app.client, GROUP_ADMIN).await;
    // Activity within the idle timeout keeps the session alive, up to the absolute timeout.
    for _ in 0..3 {
        app.clock.advance_seconds(29 * 60);
        assert_eq!(app.get_info(&app.client).await.status(), StatusCode::OK);
    }
    app.clock.advance_seconds(31 * 60);
    assert_eq!(
        app.get_info(&app.client).await.status(),
        StatusCode::UNAUTHORIZED,
        "idle timeout"
    );

    let client = app.fresh_client();
    app.login_ok(&client, GROUP_ADMIN).await;
    for step in 0..24 {
        app.clock.advance_seconds(29 * 60);
        assert_eq!(app.get_info(&client).await.status(), StatusCode::OK, "step {step}");
    }
    // 24 × 29 minutes = 11.6 hours: alive; the next step crosses 12 hours.
    app.clock.advance_seconds(29 * 60);
    assert_eq!(
        app.get_info(&client).await.status(),
        StatusCode::UNAUTHORIZED,
        "absolute timeout"
    );
}

#[actix_web::test]
async fn bad_input_gets_a_4xx_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let put = |body: reqwest::Body, content_type: &'static str| {
        app.client
            .put(app.url("/api/v1/session/user_login_info/"))
            .header("X-XSRF-TOKEN", &xsrf)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let malformed = put(
        "{\"first_name\": \"A\" \"last_name\": \"B\"}".into(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    problem(malformed).await;

    let wrong_type = put("{\"first_name\": 5}".into(), "application/json").await.unwrap();
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);

    let unknown = put("{\"nickname\": \"A\"}".into(), "application/json").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(unknown).await["errors"][0]["field"], "nickname");

    let media = put("first_name=A".into(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(media.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    problem(media).await;

    let big = format!("{{\"first_name\": \"{}\"}}", "a".repeat(70 * 1024));
    let oversize = put(big.into(), "application/json").await.unwrap();
    assert_eq!(oversize.status(), StatusCode::PAYLOAD_TOO_LARGE);
    problem(oversize).await;

    let invalid = put(
        json!({"first_name": "", "emailAddress": "not-an-address"})
            .to_string()
            .into(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let body = problem(invalid).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["first_name", "emailAddress"], "every invalid field at once");

    let login = app
        .client
        .post(app.url("/api/v1/login/"))
        .json(&json!({"username": GROUP_ADMIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        app.get_info(&app.client).await.json::<Value>().await.unwrap(),
        seed_000_body(),
        "nothing changed"
    );
}

#[actix_web::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = spawn_app().await;
    let missing = app.client.get(app.url("/api/v1/nothing/")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    problem(missing).await;
    let method = app.client.delete(app.url("/api/v1/login/")).send().await.unwrap();
    assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
    problem(method).await;
}

#[actix_web::test]
async fn request_ids_are_echoed() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/session/user_login_info/"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let generated = app
        .client
        .get(app.url("/api/v1/session/user_login_info/"))
        .send()
        .await
        .unwrap();
    assert_eq!(generated.headers()["x-request-id"].len(), 36);
}

#[actix_web::test]
async fn audit_events_past_their_retention_are_purged() {
    use accountd_domain::ports::Store;
    let mut app = spawn_with(Spawn {
        configure: Box::new(|c| c.audit.retention_seconds = 3600),
        ..Spawn::default()
    })
    .await;
    let events = |app: &TestApp| app.db.read(|r| r.recent_audit(None, 10_000)).unwrap().len() as u64;
    app.login_ok(&app.client, GROUP_ADMIN).await;
    let first = events(&app);
    assert!(first >= 1, "the login is audited");
    app.clock.advance_seconds(30 * 60);
    let other = app.fresh_client();
    app.login_ok(&other, GROUP_ADMIN).await;
    assert_eq!(events(&app), first + 1);
    assert_eq!(
        app.operator().purge_expired().unwrap().audit_events,
        0,
        "nothing is an hour old yet"
    );
    app.clock.advance_seconds(31 * 60);
    assert_eq!(
        app.operator().purge_expired().unwrap().audit_events,
        first,
        "what happened at the first login goes"
    );
    assert_eq!(events(&app), 1, "the second login's event stays");
    // 0 keeps every event, however old.
    app.clock.advance_seconds(10 * 365 * 86_400);
    app.config.audit.retention_seconds = 0;
    assert_eq!(app.operator().purge_expired().unwrap().audit_events, 0);
    assert_eq!(events(&app), 1);
}

#[actix_web::test]
async fn abandoned_sessions_are_purged() {
    use accountd_domain::ports::Store;
    let app = spawn_app().await;
    app.login_ok(&app.client, GROUP_ADMIN).await;
    let other = app.fresh_client();
    app.login_ok(&other, GROUP_ADMIN).await;
    let admin = app
        .db
        .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse(GROUP_ADMIN).unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(app.db.read(|r| r.user_sessions(admin.key)).unwrap().len(), 2);
    assert_eq!(
        app.operator().purge_expired_sessions().unwrap(),
        0,
        "nothing is idle yet"
    );
    app.clock.advance_seconds(20 * 60);
    assert_eq!(app.get_info(&other).await.status(), StatusCode::OK, "one stays active");
    app.clock.advance_seconds(11 * 60);
    assert_eq!(app.operator().purge_expired_sessions().unwrap(), 1, "the idle one goes");
    assert_eq!(app.db.read(|r| r.user_sessions(admin.key)).unwrap().len(), 1);
}
