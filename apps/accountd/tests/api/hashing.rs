//! The bounded wait for a hashing slot (`hashing.queue_timeout_ms`): a login or a password change
//! that finds every slot taken for that long is answered 503 `hashing-busy` with `Retry-After`, and
//! nothing is changed.

use crate::axway::CHANGE_PASSWORD;
use crate::helpers::*;
use accountd_domain::records::{AuditAction, AuditOutcome};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const QUEUE_TIMEOUT: Duration = Duration::from_millis(300);

async fn app() -> TestApp {
    spawn_with(Spawn {
        configure: Box::new(|config| {
            config.hashing.queue_timeout_ms = u64::try_from(QUEUE_TIMEOUT.as_millis()).unwrap();
        }),
        ..Spawn::default()
    })
    .await
}

/// Checks a `hashing-busy` answer; its `Retry-After` in seconds.
async fn busy(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = problem(response).await;
    assert_eq!(body["type"], "urn:accountd:problem:hashing-busy", "{body}");
    assert_eq!(body["status"], 503);
    retry_after
}

#[actix_web::test]
async fn a_login_that_waits_past_the_queue_timeout_is_answered_503_with_retry_after() {
    let app = app().await;
    let held: Vec<_> = (0..app.hasher.permits())
        .map(|_| app.hasher.hold_permit().unwrap())
        .collect();

    let started = Instant::now();
    let refused = app.login_with(&app.fresh_client(), "jbloggs", DEMO_PASSWORD).await;
    assert!(started.elapsed() >= QUEUE_TIMEOUT, "{:?}", started.elapsed());
    assert!(cookie(&refused, "sessionid").is_none(), "no session");
    busy(refused).await;
    assert_eq!(app.hasher.refused(), 1);
    // An unknown user is refused the same way: a 401 here would say the user doesn't exist.
    let unknown = app.login_with(&app.fresh_client(), "nosuchuser", DEMO_PASSWORD).await;
    busy(unknown).await;
    assert_eq!(app.hasher.refused(), 2);
    assert_eq!(metric(&app, "accountd_argon2_refused_total").await, 2.0);

    // A slot given back within the wait serves the login.
    let client = app.fresh_client();
    let (late, ()) = tokio::join!(app.login_with(&client, "jbloggs", DEMO_PASSWORD), async {
        actix_web::rt::time::sleep(QUEUE_TIMEOUT / 3).await;
        drop(held);
    });
    assert_eq!(late.status(), StatusCode::OK);
    assert_eq!(app.get_info(&client).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_password_change_that_waits_past_the_queue_timeout_changes_nothing() {
    let app = app().await;
    let browser = Browser::sign_in(&app, "jbloggs").await;
    let new_password = "Fresh-Passw0rd!7";
    let change = || {
        browser
            .client
            .post(app.url(CHANGE_PASSWORD))
            .header("X-XSRF-TOKEN", &browser.xsrf)
            .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", new_password)])
            .send()
    };
    {
        let _held: Vec<_> = (0..app.hasher.permits())
            .map(|_| app.hasher.hold_permit().unwrap())
            .collect();
        busy(change().await.unwrap()).await;
    }
    // Audited as a failure on our side, not as the user's mistake.
    let audited = audit_of(&app, "jbloggs");
    assert!(
        audited
            .iter()
            .any(|(action, outcome, _)| { *action == AuditAction::PasswordChange && *outcome == AuditOutcome::Failed }),
        "{audited:?}"
    );
    // Nothing changed: the old password still signs in, the new one doesn't, the session lives.
    assert_eq!(app.get_info(&browser.client).await.status(), StatusCode::OK);
    assert_eq!(
        app.login_with(&app.fresh_client(), "jbloggs", new_password)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok(&app.fresh_client(), "jbloggs").await;
    // With the slots free, the same change goes through.
    assert!(change().await.unwrap().status().is_success());
    assert_eq!(
        app.login_with(&app.fresh_client(), "jbloggs", new_password)
            .await
            .status(),
        StatusCode::OK
    );
}
