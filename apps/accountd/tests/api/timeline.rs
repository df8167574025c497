//! The user's own security timeline and data export (issue 21): sign-ins from two browsers, a
//! refused one among them, appear in the user's timeline in order with their address and browser;
//! pages follow one another by cursor; an administrator's change names them and their level; an
//! administrator within scope reads a user's timeline, one outside it is refused; the export holds
//! the three dialects' profiles and no secret (scanned for the test's passwords, PIN, token and
//! the stored hashes), is audited and is bounded per account.

use crate::helpers::*;
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const EVENTS: &str = "/api/v1/session/events/";
const EXPORT: &str = "/api/v1/session/export/";
const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";

/// The events of a page as `(action, outcome, userAgent)`.
fn summary(page: &Value) -> Vec<(String, String, String)> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["userAgent"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn sign_ins_from_two_browsers_appear_in_order_with_address_and_browser() {
    let app = spawn_app().await;
    let first = browser_named("Browser-A/1.0");
    let refused = app.login_with(&first, "foouser", "Wrong-Passw0rd!").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    app.clock.advance_seconds(1);
    let xsrf = app.login_ok(&first, "foouser").await;
    app.clock.advance_seconds(1);
    let second = browser_named("Browser-B/2.0");
    app.login_ok(&second, "foouser").await;
    // A profile change, by the user, from the first browser.
    let renamed = first
        .put(app.url("/api/v1/session/profile/"))
        .header("X-XSRF-TOKEN", &xsrf)
        .json(&json!({"firstName": "Fred"}))
        .send()
        .await
        .expect("request");
    assert_eq!(renamed.status(), StatusCode::OK);

    let page: Value = json_of(first.get(app.url(EVENTS)).send().await.expect("request")).await;
    let seen = summary(&page);
    let expected = [
        ("profile_update", "success", "Browser-A/1.0"),
        ("login", "success", "Browser-B/2.0"),
        ("login", "success", "Browser-A/1.0"),
        ("login", "denied", "Browser-A/1.0"),
    ];
    let newest: Vec<(&str, &str, &str)> = seen
        .iter()
        .take(4)
        .map(|(a, o, u)| (a.as_str(), o.as_str(), u.as_str()))
        .collect();
    assert_eq!(newest, expected, "{page}");
    let events = page["events"].as_array().unwrap();
    assert!(events.iter().take(4).all(|e| e["address"] == "127.0.0.1"), "{page}");
    assert!(events[0]["fields"].as_array().unwrap().iter().any(|f| f == "firstName"));
    assert!(!page.to_string().contains("Fred"), "members, never values");
    assert!(events.iter().take(4).all(|e| e["by"].is_null()), "all by the user");
    // The demo data before them was the operator's.
    assert_eq!(events.last().unwrap()["by"]["name"], "operator", "{page}");

    // Pages by cursor: two at a time, the same events in the same order, no overlap.
    let mut walked = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let url = match before {
            Some(id) => app.url(&format!("{EVENTS}?limit=2&before={id}")),
            None => app.url(&format!("{EVENTS}?limit=2")),
        };
        let page: Value = json_of(first.get(url).send().await.expect("request")).await;
        assert!(page["events"].as_array().unwrap().len() <= 2);
        walked.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(walked, ids);
    for query in ["before=x", "limit=0", "limit=201", "limit=4294967296"] {
        let bad = first
            .get(app.url(&format!("{EVENTS}?{query}")))
            .send()
            .await
            .expect("request");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

#[actix_web::test]
async fn an_administrators_change_names_them_and_their_timeline_view_is_scoped() {
    let app = spawn_app().await;
    let admin = Browser::sign_in(&app, "admin").await;
    let changed = admin
        .send(Method::PUT, FOOUSER, Some(json!({"cliFirstName": "Desk"})))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);

    let owner = Browser::sign_in(&app, "foouser").await;
    let page = owner.get(EVENTS).await;
    let by_admin = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "profile_update")
        .expect("the administrator's change")
        .clone();
    assert_eq!(by_admin["by"], json!({"name": "admin", "level": 16}));

    // The administrator reads the same timeline; one outside the scope is refused.
    let seen = admin.get(&format!("{FOOUSER}events/")).await;
    assert_eq!(seen["events"][0]["id"], page["events"][0]["id"]);
    let outsider = Browser::sign_in(&app, GROUP_ADMIN).await;
    let refused = outsider.send(Method::GET, &format!("{FOOUSER}events/"), None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // The probe is in the audit log, not in foouser's timeline (it would name another tenant's
    // administrator to them).
    let after = owner.get(EVENTS).await;
    assert_eq!(after["events"][0]["id"], page["events"][0]["id"], "{after}");

    // The operator acts without a user: named as such.
    app.operator()
        .create_api_token(
            &Username::parse("foouser").unwrap(),
            "ops",
            None,
            &accountd_service::RequestContext::default(),
        )
        .unwrap();
    let latest = owner.get(EVENTS).await;
    assert_eq!(latest["events"][0]["action"], "token_create");
    assert_eq!(latest["events"][0]["by"], json!({"name": "operator", "level": null}));
}

#[actix_web::test]
async fn the_export_holds_every_dialects_profile_and_no_secret() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_exports_per_account = 2),
        ..Spawn::default()
    })
    .await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let token = owner
        .send(
            Method::POST,
            "/api/v1/session/tokens/",
            Some(json!({"name": "script", "scope": "read", "expiresInDays": 7})),
        )
        .await;
    assert_eq!(token.status(), StatusCode::CREATED);
    let token: Value = token.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let export = owner.send(Method::GET, EXPORT, None).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert!(
        export
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment")),
    );
    assert_eq!(export.headers()["cache-control"], "no-store");
    let text = export.text().await.unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(data["profile"]["apio"]["username"], "foouser");
    assert_eq!(data["profile"]["superOffice"]["UserName"], "foouser");
    assert_eq!(data["profile"]["axway"]["loginName"], "foouser");
    assert_eq!(data["tokens"][0]["name"], "script");
    assert!(
        data["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "login")
    );
    assert!(data["credentials"]["credentials"].as_array().unwrap().len() >= 3);

    // No secret: not the password, the PIN, the token, nor any stored hash or digest.
    let key = app
        .db
        .read(|r| r.user_by_username(&Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap()
        .key;
    let (password, pin) = app
        .db
        .read(|r| Ok::<_, accountd_domain::ports::StoreError>((r.password(key)?, r.pin(key)?)))
        .unwrap();
    let password_hash = password.unwrap().hash;
    let pin_hash = pin.unwrap().hash.unwrap();
    let secrets = [
        DEMO_PASSWORD,
        accountd_service::demo::DEMO_PIN,
        token.as_str(),
        password_hash.as_str(),
        pin_hash.as_str(),
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "the export holds a secret");
    }
    // Nor the parts of a hash (its salt or digest) on their own.
    for part in password_hash.as_str().split('$').filter(|p| p.len() >= 16) {
        assert!(!text.contains(part), "the export holds part of the password hash");
    }

    // Bounded per account, and audited.
    assert_eq!(owner.send(Method::GET, EXPORT, None).await.status(), StatusCode::OK);
    let third = owner.send(Method::GET, EXPORT, None).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = owner.get(EVENTS).await;
    let exports = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "data_export")
        .count();
    assert_eq!(exports, 2);
}

#[actix_web::test]
async fn the_timeline_says_once_when_the_account_was_throttled() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_failures_per_account_address = 3),
        ..Spawn::default()
    })
    .await;
    let attacker = browser_named("Guesser/1.0");
    for _ in 0..3 {
        let refused = app.login_with(&attacker, "foouser", "Wrong-Passw0rd!").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let waiting = app.login_with(&attacker, "foouser", "Wrong-Passw0rd!").await;
    assert_eq!(waiting.status(), StatusCode::TOO_MANY_REQUESTS);

    // The owner, from elsewhere in the test's eyes (the same address: wait out the window first).
    app.clock.advance_seconds(1_800);
    let owner = Browser::sign_in(&app, "foouser").await;
    let page = owner.get(EVENTS).await;
    let seen = summary(&page);
    let throttled: Vec<&(String, String, String)> = seen.iter().filter(|(a, _, _)| a == "account_throttled").collect();
    assert_eq!(throttled.len(), 1, "{page}");
    let event = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "account_throttled")
        .unwrap();
    assert!(event["by"].is_null(), "{event}");
    assert_eq!(throttled[0].2, "Guesser/1.0");
    let denied = seen.iter().filter(|(a, o, _)| a == "login" && o == "denied").count();
    assert_eq!(denied, 3, "the refused attempts, not the one throttling turned away");
}
