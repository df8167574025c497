//! Issue 22, password reset by e-mail, through a real SMTP server (aiosmtpd): the same answer
//! whether or not the user exists (and no mail for an unknown one); the link e-mailed in the
//! user's language works once, under the user's policy (a refused password leaves it usable),
//! signs out every session and kills the other links; an expired link is refused; throttled;
//! refused in SERVER_LOGIN and SSO_LOGIN_DEDICATED with a problem that says where passwords live.

use crate::helpers::*;
use crate::smtp_sink::{SmtpSink, link_token};
use accountd_policy::mode::LoginMode;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const RESET: &str = "/api/v1/password_reset/";
const CONFIRM: &str = "/api/v1/password_reset/confirm/";
const NEW_PASSWORD: &str = "Fresh-Passw0rd!7";

async fn spawn_mailing(smtp: &SmtpSink, mode: LoginMode) -> TestApp {
    let port = smtp.port;
    spawn_with(Spawn {
        mode,
        configure: Box::new(move |c| {
            c.outbox.poll_interval_ms = 20;
            c.notifications.smtp.host = "127.0.0.1".into();
            c.notifications.smtp.port = port;
            c.notifications.smtp.tls = accountd_service::config::SmtpTlsMode::None;
            c.notifications.account_page_url = "https://accounts.example.com/account/".into();
            c.throttle.max_resets_per_account = 4;
        }),
        ..Spawn::default()
    })
    .await
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.fresh_client().post(app.url(path)).json(&body).send().await.unwrap()
}

/// Waits for `n` messages whose subject is `subject`; returns them.
async fn mails(smtp: &SmtpSink, subject: &str, n: usize) -> Vec<Value> {
    smtp.wait_for(n, |m| m["subject"] == subject).await.unwrap()
}

/// The token of the link in a reset e-mail.
fn token_of(mail: &Value) -> String {
    link_token(mail["text"].as_str().unwrap(), "#reset=").expect("a reset link")
}

#[actix_web::test]
async fn a_reset_link_works_once_under_the_policy_and_signs_out_everywhere() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_mailing(&smtp, LoginMode::LocalLoginShared).await;
    let other = Browser::sign_in(&app, "foouser").await;

    // The same answer for someone who does not exist, and no mail for them.
    for login in ["foouser", "nobody", "nobody@example.com"] {
        let asked = post(&app, RESET, json!({"login": login})).await;
        assert_eq!(asked.status(), StatusCode::ACCEPTED, "{login}");
        assert_eq!(asked.json::<Value>().await.unwrap(), json!({}));
    }
    let sent = mails(&smtp, "Reset your password", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resets = smtp
        .messages()
        .into_iter()
        .filter(|m| m["subject"] == "Reset your password")
        .count();
    assert_eq!(resets, 1, "one link, for foouser only");
    let mail = &sent[0];
    let address = other.get("/api/v1/session/user_login_info/").await["profile"]["emailAddress"].clone();
    assert_eq!(mail["rcpt_tos"], json!([address]));
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("https://accounts.example.com/account/#reset=")
    );
    assert!(mail["html"].as_str().unwrap().contains("#reset="));
    let token = token_of(mail);
    assert!(token.len() >= 40, "{token}");

    // Bad input: nothing changes, the link stays.
    assert_eq!(
        post(&app, RESET, json!({"login": ""})).await.status(),
        StatusCode::BAD_REQUEST
    );
    let weak = post(&app, CONFIRM, json!({"token": token, "newPassword": "short"})).await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let weak = problem(weak).await;
    assert!(
        weak["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["field"] == "newPassword"),
        "{weak}"
    );
    let wrong = post(
        &app,
        CONFIRM,
        json!({"token": "not-a-token", "newPassword": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(problem(wrong).await["type"], "urn:accountd:problem:reset-link-invalid");
    assert_eq!(
        app.get_info(&other.client).await.status(),
        StatusCode::OK,
        "nothing ended yet"
    );

    // A second link asked meanwhile.
    assert_eq!(
        post(&app, RESET, json!({"login": "foouser"})).await.status(),
        StatusCode::ACCEPTED
    );
    let other_link = mails(&smtp, "Reset your password", 2)
        .await
        .iter()
        .map(token_of)
        .find(|t| *t != token)
        .expect("the second link");

    // The link works once: the new password signs in, the old one no more, every session ended,
    // and the other link died with it.
    let done = post(&app, CONFIRM, json!({"token": token, "newPassword": NEW_PASSWORD})).await;
    assert_eq!(done.status(), StatusCode::OK);
    let dead = post(
        &app,
        CONFIRM,
        json!({"token": other_link, "newPassword": "Third-Passw0rd!5"}),
    )
    .await;
    assert_eq!(problem(dead).await["type"], "urn:accountd:problem:reset-link-invalid");
    assert_eq!(app.get_info(&other.client).await.status(), StatusCode::UNAUTHORIZED);
    let again = post(
        &app,
        CONFIRM,
        json!({"token": token, "newPassword": "Other-Passw0rd!9"}),
    )
    .await;
    assert_eq!(problem(again).await["type"], "urn:accountd:problem:reset-link-invalid");
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The change is notified, and in the timeline as the user's own.
    mails(&smtp, "Your password was changed", 1).await;
    let owner = app.fresh_client();
    assert_eq!(
        app.login_with(&owner, "foouser", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let events: Value = json_of(owner.get(app.url("/api/v1/session/events/")).send().await.unwrap()).await;
    let change = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "password_change")
        .expect("the change in the timeline");
    assert_eq!(change["fields"], json!(["password", "reset_link"]));
    assert!(change["by"].is_null(), "{change}");
}

#[actix_web::test]
async fn a_link_expires_an_address_finds_its_user_and_requests_are_throttled() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_mailing(&smtp, LoginMode::LocalLoginShared).await;
    let address = Browser::sign_in(&app, "jbloggs")
        .await
        .get("/api/v1/session/user_login_info/")
        .await["profile"]["emailAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post(&app, RESET, json!({"login": address})).await.status(),
        StatusCode::ACCEPTED
    );
    let sent = mails(&smtp, "Reset your password", 1).await;
    assert_eq!(sent[0]["rcpt_tos"], json!([address]));
    let token = token_of(&sent[0]);
    // 30 minutes later the link is dead.
    app.clock.advance_seconds(31 * 60);
    let late = post(&app, CONFIRM, json!({"token": token, "newPassword": NEW_PASSWORD})).await;
    assert_eq!(problem(late).await["type"], "urn:accountd:problem:reset-link-invalid");
    // A name is asked for at most max_resets_per_account times in the window, known or not.
    for _ in 0..3 {
        assert_eq!(
            post(&app, RESET, json!({"login": "nobody"})).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let mut throttled = 0;
    for _ in 0..2 {
        if post(&app, RESET, json!({"login": "nobody"})).await.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    assert!(throttled >= 1, "asking too often is refused");
}

#[actix_web::test]
async fn where_accountd_does_not_keep_passwords_reset_is_refused_saying_where_they_live() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_mailing(&smtp, LoginMode::ServerLogin).await;
    let refused = post(&app, RESET, json!({"login": "foouser"})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body = problem(refused).await;
    assert_eq!(body["type"], "urn:accountd:problem:password-reset-unavailable");
    assert!(
        body["detail"].as_str().unwrap().contains("Application Server"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(smtp.messages().is_empty());

    // Without SMTP, it is refused too (nothing could be sent).
    let quiet = spawn_app().await;
    let refused = post(&quiet, RESET, json!({"login": "foouser"})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(problem(refused).await["detail"].as_str().unwrap().contains("e-mail"));
}

#[actix_web::test]
async fn in_local_login_dedicated_the_reset_goes_to_the_application_server_and_a_failure_keeps_the_link() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_mailing(&smtp, LoginMode::LocalLoginDedicated).await;
    assert_eq!(
        post(&app, RESET, json!({"login": GROUP_ADMIN})).await.status(),
        StatusCode::ACCEPTED
    );
    let token = token_of(&mails(&smtp, "Reset your password", 1).await[0]);
    // The Application Server refuses: nothing changes, and the link still works afterwards.
    app.upstream.fail_next(accountd_domain::ports::UpstreamError::Rejected {
        details: "password refused".into(),
    });
    let refused = post(&app, CONFIRM, json!({"token": token, "newPassword": NEW_PASSWORD})).await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(app.upstream.password_of(GROUP_ADMIN).as_deref(), Some(DEMO_PASSWORD));
    let done = post(&app, CONFIRM, json!({"token": token, "newPassword": NEW_PASSWORD})).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.upstream.password_of(GROUP_ADMIN).as_deref(), Some(NEW_PASSWORD));
    assert_eq!(
        app.login_with(&app.fresh_client(), GROUP_ADMIN, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn other_links_die_with_a_reset_or_any_password_change_and_a_link_gets_few_tries() {
    let Some(smtp) = SmtpSink::start() else { return };
    let app = spawn_mailing(&smtp, LoginMode::LocalLoginShared).await;
    for _ in 0..2 {
        assert_eq!(
            post(&app, RESET, json!({"login": "jbloggs"})).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let sent = mails(&smtp, "Reset your password", 2).await;
    let (first, second) = (token_of(&sent[0]), token_of(&sent[1]));
    assert_ne!(first, second);
    // A password change made otherwise (here Axway's, with the old password) ends both links.
    let changed = app
        .fresh_client()
        .post(app.url(crate::axway::CHANGE_PASSWORD))
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());
    for token in [&first, &second] {
        let dead = post(
            &app,
            CONFIRM,
            json!({"token": token, "newPassword": "Other-Passw0rd!9"}),
        )
        .await;
        assert_eq!(problem(dead).await["type"], "urn:accountd:problem:reset-link-invalid");
    }

    // A new link gets five tries in the window: a refused password can't be tried for ever (its
    // "reused" answer would tell the current password).
    assert_eq!(
        post(&app, RESET, json!({"login": "jbloggs"})).await.status(),
        StatusCode::ACCEPTED
    );
    let token = mails(&smtp, "Reset your password", 3)
        .await
        .iter()
        .map(token_of)
        .find(|t| *t != first && *t != second)
        .expect("the third link");
    for n in 0..5 {
        let reused = post(&app, CONFIRM, json!({"token": token, "newPassword": NEW_PASSWORD})).await;
        let body = problem(reused).await;
        assert_eq!(body["errors"][0]["code"], "password_reused", "try {n}: {body}");
    }
    let sixth = post(
        &app,
        CONFIRM,
        json!({"token": token, "newPassword": "Other-Passw0rd!9"}),
    )
    .await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
}
