//! Issue 22, verified e-mail changes (`email.verify_changes`), through a real SMTP server
//! (aiosmtpd): a user's own new address takes effect only after its link is followed, while every
//! dialect answers the old one and the old address is told; the link works once; a newer change,
//! a cancellation, a password change and "revoke everything" end a pending one; changes are
//! throttled; an
//! administrator's change applies at once; in LOCAL_LOGIN_DEDICATED the Application Server hears
//! of the address only when it is confirmed; off (the default), the address changes at once.

use crate::helpers::*;
use crate::smtp_sink::{SmtpSink, link_token};
use accountd_policy::mode::LoginMode;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PENDING: &str = "/api/v1/session/email_change/";
const CONFIRM: &str = "/api/v1/email_change/confirm/";
const PROFILE: &str = "/api/v1/session/profile/";
const CONFIRM_SUBJECT: &str = "Confirm your new e-mail address";
const NOTICE_SUBJECT: &str = "A change of your e-mail address was asked";

async fn spawn_verifying(smtp: &SmtpSink, mode: LoginMode) -> TestApp {
    let port = smtp.port;
    spawn_with(Spawn {
        mode,
        configure: Box::new(move |c| {
            c.outbox.poll_interval_ms = 20;
            c.notifications.smtp.host = "127.0.0.1".into();
            c.notifications.smtp.port = port;
            c.notifications.smtp.tls = accountd_service::config::SmtpTlsMode::None;
            c.notifications.account_page_url = "https://accounts.example.com/account/".into();
            c.email.verify_changes = true;
            c.throttle.max_resets_per_account = 4;
        }),
        ..Spawn::default()
    })
    .await
}

/// Waits for `n` messages with `subject` to `to`; returns them.
async fn mails_to(smtp: &SmtpSink, subject: &str, to: &str, n: usize) -> Vec<Value> {
    smtp.wait_for(n, |m| m["subject"] == subject && m["rcpt_tos"] == json!([to]))
        .await
        .unwrap()
}

/// The token of the link in a confirmation e-mail.
fn token_of(mail: &Value) -> String {
    link_token(mail["text"].as_str().unwrap(), "#verify_email=").expect("a confirmation link")
}

async fn confirm(app: &TestApp, token: &str) -> reqwest::Response {
    app.fresh_client()
        .post(app.url(CONFIRM))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

/// The address every dialect answers for foouser: APIO's session info, Axway's current user and
/// the account page's profile (each must agree).
async fn seen_address(me: &Browser<'_>) -> Value {
    let apio = me.get("/api/v1/session/user_login_info/").await["profile"]["emailAddress"].clone();
    let axway = me.get("/api/portal/v1.3/currentuser").await["email"].clone();
    let page = me.get(PROFILE).await["emailAddress"].clone();
    assert_eq!(apio, axway, "APIO and Axway agree");
    assert_eq!(apio, page, "APIO and the page agree");
    apio
}

/// foouser asks for `address` through the account page's profile (with another member).
async fn ask(me: &Browser<'_>, address: &str, first_name: &str) -> Value {
    json_of(
        me.send(
            Method::PUT,
            PROFILE,
            Some(json!({"firstName": first_name, "emailAddress": address})),
        )
        .await,
    )
    .await
}

#[actix_web::test]
async fn a_new_address_takes_effect_only_after_its_link_is_followed() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_verifying(&smtp, LoginMode::LocalLoginShared).await;
    let me = Browser::sign_in(&app, "foouser").await;
    let old = seen_address(&me).await;
    let old = old.as_str().expect("foouser has an address").to_owned();
    assert_eq!(me.get(PENDING).await, json!({"verifyChanges": true, "pending": null}));

    // Through the APIO PUT of seed 001: the other member changes, the address waits.
    let path = user_path("ApioSpTest", "ApioGrpTest", "foouser");
    let put = me
        .send(
            Method::PUT,
            &path,
            Some(json!({"firstName": "Frieda", "emailAddress": "frieda@example.org"})),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let put: Value = put.json().await.unwrap();
    assert_eq!(put["firstName"], "Frieda");
    assert_eq!(put["emailAddress"], old.as_str(), "the PUT answers the current address");
    assert_eq!(seen_address(&me).await, old.as_str());
    let pending = me.get(PENDING).await;
    assert_eq!(pending["pending"]["emailAddress"], "frieda@example.org");
    assert!(pending["pending"]["expiresAt"].as_str().unwrap().ends_with('Z'));

    // The link goes to the new address; the old one is told, in the user's language.
    let link = mails_to(&smtp, CONFIRM_SUBJECT, "frieda@example.org", 1).await;
    let notice = mails_to(&smtp, NOTICE_SUBJECT, &old, 1).await;
    assert!(
        link[0]["text"]
            .as_str()
            .unwrap()
            .contains("https://accounts.example.com/account/#verify_email=")
    );
    let notice_text = notice[0]["text"].as_str().unwrap();
    assert!(
        notice_text.contains("https://accounts.example.com/account/"),
        "{notice_text}"
    );
    assert!(
        !notice_text.contains("#verify_email="),
        "the old address never gets the link"
    );
    let token = token_of(&link[0]);

    // Bad and unknown links change nothing.
    let bad = confirm(&app, "not-a-token").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        problem(bad).await["type"]
            .as_str()
            .unwrap()
            .ends_with("email-change-link-invalid")
    );
    assert_eq!(seen_address(&me).await, old.as_str());

    // Followed: every dialect answers the new address; the link works once.
    let confirmed = confirm(&app, &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        confirmed.json::<Value>().await.unwrap(),
        json!({"emailAddress": "frieda@example.org"})
    );
    assert_eq!(seen_address(&me).await, "frieda@example.org");
    assert_eq!(me.get(PENDING).await["pending"], Value::Null);
    let again = confirm(&app, &token).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        problem(again).await["type"]
            .as_str()
            .unwrap()
            .ends_with("email-change-link-invalid")
    );

    // What the other dialects' PUTs answer while a change waits: the current address.
    let session_put = me
        .send(
            Method::PUT,
            "/api/v1/session/user_login_info/",
            Some(json!({"emailAddress": "apio@example.org"})),
        )
        .await;
    assert_eq!(session_put.status(), StatusCode::OK);
    assert_eq!(
        session_put.json::<Value>().await.unwrap()["profile"]["emailAddress"],
        "frieda@example.org"
    );
    let axway_put = me
        .send(
            Method::PUT,
            "/api/portal/v1.3/currentuser",
            Some(json!({"email": "axway@example.org"})),
        )
        .await;
    assert_eq!(axway_put.status(), StatusCode::OK);
    assert_eq!(axway_put.json::<Value>().await.unwrap()["email"], "frieda@example.org");
    assert_eq!(
        me.get(PENDING).await["pending"]["emailAddress"],
        "axway@example.org",
        "the newer change replaced the older"
    );
    assert_eq!(seen_address(&me).await, "frieda@example.org");

    // The audit log names what happened, never the address.
    let events = me.get("/api/v1/session/events/").await;
    let text = events.to_string();
    assert!(text.contains("email_change_request"), "{text}");
    assert!(text.contains("verified_link"), "{text}");
    assert!(!text.contains("example.org"), "no address in the audit log: {text}");
}

#[actix_web::test]
async fn a_newer_change_a_cancellation_and_security_events_end_a_pending_change() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_verifying(&smtp, LoginMode::LocalLoginShared).await;
    let me = Browser::sign_in(&app, "foouser").await;
    let old = seen_address(&me).await;

    // A newer change replaces the pending one and its link.
    ask(&me, "first@example.org", "One").await;
    let first = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "first@example.org", 1).await[0]);
    ask(&me, "second@example.org", "Two").await;
    let second = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "second@example.org", 1).await[0]);
    assert_eq!(me.get(PENDING).await["pending"]["emailAddress"], "second@example.org");
    assert_eq!(confirm(&app, &first).await.status(), StatusCode::BAD_REQUEST);

    // Cancelled: its link stops working, the address stays.
    let cancelled = me.send(Method::DELETE, PENDING, None).await;
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    assert_eq!(me.get(PENDING).await["pending"], Value::Null);
    assert_eq!(confirm(&app, &second).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(seen_address(&me).await, old);

    // A password change ends a pending change (a thief's, perhaps).
    ask(&me, "third@example.org", "Three").await;
    let third = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "third@example.org", 1).await[0]);
    let changed = me
        .client
        .post(app.url("/api/portal/v1.3/currentuser/changepassword"))
        .header("X-XSRF-TOKEN", &me.xsrf)
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", "Fresh-Passw0rd!7")])
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.text().await.unwrap());
    assert_eq!(me.get(PENDING).await["pending"], Value::Null);
    assert_eq!(confirm(&app, &third).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(seen_address(&me).await, old);

    // So does "revoke everything but this session".
    ask(&me, "fourth@example.org", "Four").await;
    let fourth = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "fourth@example.org", 1).await[0]);
    let revoked = me.send(Method::DELETE, "/api/v1/session/credentials/", None).await;
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert_eq!(confirm(&app, &fourth).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(seen_address(&me).await, old);

    // Each change mails an address of the client's choosing: the fifth in the window is refused,
    // and nothing of it changes.
    let fifth = me
        .send(
            Method::PUT,
            PROFILE,
            Some(json!({"firstName": "Five", "emailAddress": "fifth@example.org"})),
        )
        .await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(me.get(PROFILE).await["firstName"], "Four");
    assert_eq!(me.get(PENDING).await["pending"], Value::Null);
}

#[actix_web::test]
async fn an_administrator_sets_an_address_at_once_and_ends_a_pending_change() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_verifying(&smtp, LoginMode::LocalLoginShared).await;
    let me = Browser::sign_in(&app, "foouser").await;
    ask(&me, "mine@example.org", "Mine").await;
    let mine = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "mine@example.org", 1).await[0]);

    app.add_user(
        "gadmin",
        accountd_domain::level::Role::GroupAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "gadmin"),
        },
        None,
    );
    let put = app
        .fresh_client()
        .put(app.url(&user_path("ApioSpTest", "ApioGrpTest", "foouser")))
        .basic_auth("gadmin", Some(DEMO_PASSWORD))
        .json(&json!({"emailAddress": "set-by-admin@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(
        put.json::<Value>().await.unwrap()["emailAddress"],
        "set-by-admin@example.org"
    );
    assert_eq!(seen_address(&me).await, "set-by-admin@example.org");
    assert_eq!(me.get(PENDING).await["pending"], Value::Null);
    assert_eq!(confirm(&app, &mine).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(seen_address(&me).await, "set-by-admin@example.org");
}

#[actix_web::test]
async fn the_application_server_hears_of_the_address_only_when_it_is_confirmed() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_verifying(&smtp, LoginMode::LocalLoginDedicated).await;
    let me = Browser::sign_in(&app, "foouser").await;
    let told = |app: &TestApp| {
        app.upstream
            .profile_changes_of("foouser")
            .iter()
            .filter_map(|c| c.email.clone().flatten().map(|e| e.to_string()))
            .collect::<Vec<_>>()
    };
    ask(&me, "dedicated@example.org", "Dedicated").await;
    assert_eq!(upstream_first_name(&app, "foouser").as_deref(), Some("Dedicated"));
    assert!(told(&app).is_empty(), "{:?}", told(&app));
    let token = token_of(&mails_to(&smtp, CONFIRM_SUBJECT, "dedicated@example.org", 1).await[0]);
    assert_eq!(confirm(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(told(&app), ["dedicated@example.org"]);
    assert_eq!(seen_address(&me).await, "dedicated@example.org");
}

#[actix_web::test]
async fn off_by_default_the_address_changes_at_once() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;
    let changed = ask(&me, "straight@example.org", "Straight").await;
    assert_eq!(changed["emailAddress"], "straight@example.org");
    assert_eq!(seen_address(&me).await, "straight@example.org");
    assert_eq!(me.get(PENDING).await, json!({"verifyChanges": false, "pending": null}));
}
