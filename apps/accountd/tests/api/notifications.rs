//! Issue 22, notifications: a password change is told to a configured webhook as one signed
//! CloudEvents event through the outbox; a receiver answering 500 three times gets it on the
//! fourth attempt, the same event (same id) each time; the signature is an HMAC over the attempt's
//! time and the body; an endpoint's filter is honoured; unacceptable endpoints refuse the start.
//! With SMTP configured, the same change is one e-mail in the user's language, through a real SMTP
//! server (aiosmtpd, `tests/support/smtp_sink.py`), beside one signed webhook.

use crate::helpers::*;
use crate::receiver::{Receiver, SECRET, signed};
use crate::smtp_sink::SmtpSink;
use accountd_service::config::{ConfigSecret, NotificationsConfig, WebhookEndpoint};
use serde_json::Value;
use std::time::{Duration, Instant};

const NEW_PASSWORD: &str = "Fresh-Passw0rd!7";

fn endpoint(name: &str, url: &str, events: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint {
        name: name.to_owned(),
        url: url.to_owned(),
        secret: ConfigSecret::new(SECRET),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

#[actix_web::test]
async fn a_password_change_reaches_a_webhook_that_failed_three_times_on_the_fourth_attempt() {
    let failing = Receiver::start(vec![500, 500, 500]);
    let sign_ins = Receiver::start(vec![]);
    let (failing_url, sign_ins_url) = (failing.url.clone(), sign_ins.url.clone());
    let app = spawn_with(Spawn {
        configure: Box::new(move |c| {
            c.outbox.poll_interval_ms = 20;
            c.outbox.first_retry_delay_ms = 1_000;
            c.notifications.webhooks = vec![
                endpoint("crm", &failing_url, &["password_changed"]),
                endpoint("siem", &sign_ins_url, &["sign_in"]),
            ];
        }),
        ..Spawn::default()
    })
    .await;
    let changed = app
        .fresh_client()
        .post(app.url(crate::axway::CHANGE_PASSWORD))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());

    // Each failure waits its backoff on the server's clock: move it on until the fourth attempt.
    let started = Instant::now();
    while failing.received().len() < 4 {
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", failing.received());
        app.clock.advance_seconds(5);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Delivered: nothing more comes, and the outbox is empty.
    for _ in 0..5 {
        app.clock.advance_seconds(60);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = failing.received();
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert_eq!(readyz(&app).await["outbox"]["depth"], 0);

    // The same event each time, signed at each attempt, and no secret in it.
    let ids: Vec<&str> = attempts.iter().map(|a| a.header("webhook-id").unwrap_or("")).collect();
    assert!(!ids[0].is_empty() && ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for attempt in &attempts {
        assert_eq!(attempt.body, attempts[0].body);
        assert_eq!(
            attempt.header("content-type"),
            Some("application/cloudevents+json; charset=utf-8")
        );
        let signature = attempt.header("accountd-signature").expect("signature");
        assert!(signed(signature, &attempt.body), "{signature}");
        assert!(!signed(signature, &attempt.body.replace("foouser", "mallory")));
        for secret in [DEMO_PASSWORD, NEW_PASSWORD, SECRET] {
            assert!(!attempt.body.contains(secret));
        }
    }
    let event: Value = serde_json::from_str(&attempts[0].body).unwrap();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "accountd.password_changed");
    assert_eq!(event["id"], ids[0]);
    assert_eq!(event["data"]["username"], "foouser");
    assert_eq!(event["data"]["fields"], serde_json::json!(["password"]));
    assert!(event["subject"].as_str().is_some_and(|s| s.len() == 36), "{event}");

    // The other endpoint wants sign-ins only: a password change is not for it.
    assert!(sign_ins.received().is_empty());
    app.login_ok(&app.fresh_client(), "jbloggs").await;
    let started = Instant::now();
    while sign_ins.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "no sign-in event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let event: Value = serde_json::from_str(&sign_ins.received()[0].body).unwrap();
    assert_eq!(event["type"], "accountd.sign_in");
    assert_eq!(event["data"]["username"], "jbloggs");
    assert_eq!(failing.received().len(), 4);
}

#[test]
fn unacceptable_endpoints_refuse_the_start() {
    let refused = |webhooks: Vec<WebhookEndpoint>| {
        let config = NotificationsConfig {
            webhooks,
            ..NotificationsConfig::default()
        };
        match accountd::startup::webhook_client(&config) {
            Ok(_) => String::new(),
            Err(err) => err.to_string(),
        }
    };
    let plain = refused(vec![endpoint("crm", "http://crm.example.com/hook", &[])]);
    assert!(plain.contains("loopback only") && plain.contains("crm"), "{plain}");
    let short = refused(vec![WebhookEndpoint {
        secret: ConfigSecret::new("short"),
        ..endpoint("crm", "https://crm.example.com/hook", &[])
    }]);
    assert!(short.contains("16 bytes"), "{short}");
    let unknown = refused(vec![endpoint(
        "crm",
        "https://crm.example.com/hook",
        &["password_chnaged"],
    )]);
    assert!(unknown.contains("password_chnaged"), "{unknown}");
    let twice = refused(vec![
        endpoint("crm", "https://crm.example.com/a", &[]),
        endpoint("crm", "https://crm.example.com/b", &[]),
    ]);
    assert!(twice.contains("name of its own"), "{twice}");
    assert_eq!(
        refused(vec![
            endpoint("crm", "https://crm.example.com/hook", &["password_changed"]),
            endpoint("local", "http://127.0.0.1:9/hook", &[]),
        ]),
        ""
    );
    // The secret is never shown.
    let shown = format!(
        "{:?} {}",
        endpoint("crm", "https://crm.example.com/hook", &[]),
        serde_json::to_string(&endpoint("crm", "https://crm.example.com/hook", &[])).unwrap()
    );
    assert!(!shown.contains(SECRET), "{shown}");
}

#[actix_web::test]
async fn a_password_change_is_one_mail_in_the_users_language_and_one_signed_webhook() {
    let Some(smtp) = SmtpSink::start() else { return };
    let hooks = Receiver::start(vec![]);
    let (port, url) = (smtp.port, hooks.url.clone());
    let app = spawn_with(Spawn {
        configure: Box::new(move |c| {
            c.outbox.poll_interval_ms = 20;
            c.notifications.webhooks = vec![endpoint("crm", &url, &["password_changed"])];
            c.notifications.smtp.host = "127.0.0.1".into();
            c.notifications.smtp.port = port;
            c.notifications.smtp.tls = accountd_service::config::SmtpTlsMode::None;
            c.notifications.smtp.from = "Accounts <no-reply@example.com>".into();
            c.notifications.account_page_url = "https://accounts.example.com/account/".into();
        }),
        ..Spawn::default()
    })
    .await;
    // foouser reads French (their own profile change is not notified).
    let browser = Browser::sign_in(&app, "foouser").await;
    let french = browser
        .send(
            reqwest::Method::PUT,
            "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/",
            Some(serde_json::json!({"language": "French"})),
        )
        .await;
    assert_eq!(french.status(), reqwest::StatusCode::OK);
    let address = browser.get("/api/v1/session/user_login_info/").await["profile"]["emailAddress"]
        .as_str()
        .expect("foouser has an address")
        .to_owned();
    let before = smtp.messages().len();

    let changed = app
        .fresh_client()
        .post(app.url(crate::axway::CHANGE_PASSWORD))
        .header("User-Agent", "Script/<b>1</b>")
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    let started = Instant::now();
    while smtp.messages().len() < before + 1 || hooks.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", smtp.messages());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails: Vec<Value> = smtp
        .messages()
        .into_iter()
        .filter(|m| m["subject"] == "Votre mot de passe a été modifié")
        .collect();
    assert_eq!(mails.len(), 1, "{:?}", smtp.messages());
    let mail = &mails[0];
    assert_eq!(mail["rcpt_tos"], serde_json::json!([address]));
    assert_eq!(mail["from"], "Accounts <no-reply@example.com>");
    let text = mail["text"].as_str().unwrap();
    let html = mail["html"].as_str().unwrap();
    assert!(text.starts_with("Bonjour foouser"), "{text}");
    assert!(text.contains("127.0.0.1") && text.contains("Script/<b>1</b>"), "{text}");
    assert!(text.contains("https://accounts.example.com/account/"), "{text}");
    assert!(
        html.contains("Script/&lt;b&gt;1&lt;/b&gt;") && !html.contains("<b>1</b>"),
        "{html}"
    );
    for secret in [DEMO_PASSWORD, NEW_PASSWORD] {
        assert!(!text.contains(secret) && !html.contains(secret));
    }
    // One webhook, signed, for the same event (the e-mail's Message-ID carries its id).
    let hooks = hooks.received();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert!(signed(hooks[0].header("accountd-signature").unwrap(), &hooks[0].body));
    let id = hooks[0].header("webhook-id").unwrap();
    assert!(mail["message_id"].as_str().unwrap().contains(id), "{mail}");
    assert_eq!(readyz(&app).await["outbox"]["depth"], 0);
}
