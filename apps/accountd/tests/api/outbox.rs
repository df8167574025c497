//! Issue 15, the durable outbox: when the local write fails after the Application Server accepted,
//! the AS is realigned with the local store, now or (when the AS is gone too) by the outbox worker
//! once it is back; what can't be realigned (a new password, a delete) is a divergence an operator
//! sees in `/readyz`, `/metrics` and `accountd divergences`.

use crate::helpers::*;
use accountd_domain::ports::UpstreamError;
use accountd_policy::mode::LoginMode;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

/// LOCAL_LOGIN_DEDICATED (changes go to the AS too), the worker looking every 20 ms.
async fn dedicated() -> TestApp {
    spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        configure: Box::new(|c| c.outbox.poll_interval_ms = 20),
        ..Spawn::default()
    })
    .await
}

/// Waits (at most 10 s) until `/readyz` shows an empty outbox.
async fn outbox_drained(app: &TestApp) {
    let started = Instant::now();
    while readyz(app).await["outbox"]["depth"] != 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_realignment_the_application_server_refuses_waits_in_the_outbox_until_it_is_back() {
    let app = dedicated().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let before = stored_first_name(&app).await;
    // The AS accepts the change, then is gone (its breaker open) for the realignment.
    app.upstream.set_delay(Some(Duration::from_millis(800)));
    app.upstream.succeed_then_fail(
        1,
        UpstreamError::NotAttempted {
            retry_after_seconds: 30,
        },
    );
    let (response, ()) = tokio::join!(
        rename(&app, &xsrf, "Diverging"),
        touch_during_the_call(&app, GROUP_ADMIN)
    );
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    app.upstream.set_delay(None);
    assert_eq!(stored_first_name(&app).await, before);
    assert_eq!(upstream_first_name(&app, GROUP_ADMIN).as_deref(), Some("Diverging"));
    // Waiting, visible to the operator; the instance stays ready.
    let ready = readyz(&app).await;
    assert_eq!(ready["outbox"]["depth"], 1, "{ready}");
    assert_eq!(metric(&app, "accountd_outbox_depth").await, 1.0);
    assert!(metric(&app, "accountd_outbox_delivery_failures_total").await >= 1.0);

    // The AS is back; once the backoff has passed, the worker realigns it with the local value.
    app.upstream.fail_always(None);
    app.clock.advance_seconds(5);
    outbox_drained(&app).await;
    assert_eq!(upstream_first_name(&app, GROUP_ADMIN), Some(before));
    assert_eq!(metric(&app, "accountd_outbox_depth").await, 0.0);
    assert!(metric(&app, "accountd_outbox_delivered_total").await >= 1.0);
    assert_eq!(readyz(&app).await["outbox"]["divergences"], 0);
}

#[actix_web::test]
async fn a_change_whose_application_server_call_timed_out_is_realigned_by_the_worker() {
    let app = dedicated().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let before = stored_first_name(&app).await;
    // The AS may or may not have applied it: the answer does not say.
    app.upstream.fail_next(UpstreamError::Timeout);
    let response = rename(&app, &xsrf, "Maybe").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(stored_first_name(&app).await, before);
    outbox_drained(&app).await;
    // The worker sent the local value afterwards, whatever the AS had done.
    assert_eq!(upstream_first_name(&app, GROUP_ADMIN), Some(before));

    // A refusal leaves the AS unchanged for sure: nothing to realign.
    let calls = app.upstream.calls().len();
    app.upstream.fail_next(UpstreamError::Rejected {
        details: "not today".into(),
    });
    assert_eq!(rename(&app, &xsrf, "Refused").await.status(), StatusCode::BAD_GATEWAY);
    outbox_drained(&app).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.upstream.calls().len(), calls + 1, "only the refused call");
}

#[actix_web::test]
async fn a_new_password_the_local_store_could_not_keep_is_a_divergence_the_operator_sees() {
    let app = dedicated().await;
    app.upstream.set_delay(Some(Duration::from_millis(800)));
    let change = async {
        app.fresh_client()
            .put(app.url(&user_path("Pie", "PieGroup", GROUP_ADMIN)))
            .basic_auth(GROUP_ADMIN, Some(DEMO_PASSWORD))
            .json(&json!({"oldPassword": DEMO_PASSWORD, "newPassword": "Another-Passw0rd!"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let (status, ()) = tokio::join!(change, touch_during_the_call(&app, GROUP_ADMIN));
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    app.upstream.set_delay(None);
    // The AS has the new password, the local store the old one: recorded, not hidden.
    assert_eq!(
        app.upstream.password_of(GROUP_ADMIN).as_deref(),
        Some("Another-Passw0rd!")
    );
    assert_eq!(app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(readyz(&app).await["outbox"]["divergences"], 1);
    assert_eq!(metric(&app, "accountd_divergences").await, 1.0);
    let operator = app.operator();
    let divergences = operator.divergences().unwrap();
    assert_eq!(divergences.len(), 1);
    assert_eq!(divergences[0].topic, "upstream.password");
    assert!(
        !divergences[0].detail.contains("Another-Passw0rd!"),
        "no secret in a divergence"
    );
    // The operator deals with it and resolves it.
    assert!(operator.resolve_divergence(divergences[0].id).unwrap());
    assert_eq!(readyz(&app).await["outbox"]["divergences"], 0);
}

#[actix_web::test]
async fn a_pin_change_the_local_store_could_not_keep_realigns_the_settings_and_records_the_pin() {
    let app = dedicated().await;
    let pin_path = format!("{}pincode/", user_path("Pie", "PieGroup", GROUP_ADMIN));
    app.upstream.set_delay(Some(Duration::from_millis(800)));
    let change = async {
        app.fresh_client()
            .put(app.url(&pin_path))
            .basic_auth("admin", Some(DEMO_PASSWORD))
            .json(&json!({"pinCode": "73915", "loginDisabled": true}))
            .send()
            .await
            .unwrap()
    };
    let (response, ()) = tokio::join!(change, touch_during_the_call(&app, GROUP_ADMIN));
    assert_eq!(
        response.status(),
        StatusCode::PRECONDITION_FAILED,
        "{:?}",
        response.text().await
    );
    app.upstream.set_delay(None);
    // The settings went back to the local ones at once; the PIN itself is a divergence.
    let settings = app.upstream.pin_settings_of(GROUP_ADMIN).unwrap();
    assert!(!settings.login_disabled);
    assert_eq!(readyz(&app).await["outbox"]["depth"], 0);
    let divergences = app.operator().divergences().unwrap();
    assert_eq!(
        divergences.iter().map(|d| d.topic.as_str()).collect::<Vec<_>>(),
        ["upstream.pin"]
    );
}

#[actix_web::test]
async fn a_delete_the_local_store_could_not_make_is_a_divergence() {
    let app = dedicated().await;
    app.upstream.set_delay(Some(Duration::from_millis(800)));
    let delete = async {
        app.fresh_client()
            .delete(app.url(&user_path("Pie", "PieGroup", GROUP_ADMIN)))
            .basic_auth("admin", Some(DEMO_PASSWORD))
            .send()
            .await
            .unwrap()
            .status()
    };
    let (status, ()) = tokio::join!(delete, touch_during_the_call(&app, GROUP_ADMIN));
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    app.upstream.set_delay(None);
    assert!(
        app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status().is_success(),
        "still there locally"
    );
    let divergences = app.operator().divergences().unwrap();
    assert_eq!(
        divergences.iter().map(|d| d.topic.as_str()).collect::<Vec<_>>(),
        ["upstream.delete"]
    );
}
