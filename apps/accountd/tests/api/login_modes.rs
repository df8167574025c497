//! Every login mode of DESIGN.md: where the password is checked and where a profile change goes,
//! with the Application Server's failures leaving the local store unchanged.

use crate::helpers::*;
use accountd_domain::ports::UpstreamError;
use accountd_policy::mode::LoginMode;
use accountd_upstream::UpstreamCall;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn profile_updates(app: &TestApp) -> usize {
    app.upstream
        .calls()
        .iter()
        .filter(|c| matches!(c, UpstreamCall::UpdateProfile { .. }))
        .count()
}

fn authentications(app: &TestApp) -> usize {
    app.upstream
        .calls()
        .iter()
        .filter(|c| matches!(c, UpstreamCall::Authenticate { .. }))
        .count()
}

#[actix_web::test]
async fn server_login_checks_the_application_server_and_writes_both() {
    let app = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    // The AS's password is the one that counts, not the local copy.
    app.upstream.add_user(GROUP_ADMIN, "As-Only-Passw0rd!");
    assert_eq!(
        app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app.login(GROUP_ADMIN, "As-Only-Passw0rd!").await;
    assert_eq!(response.status(), StatusCode::OK);
    let xsrf = cookie(&response, "XSRF-TOKEN").unwrap();
    assert_eq!(authentications(&app), 2);

    assert_eq!(rename(&app, &xsrf, "Both").await.status(), StatusCode::OK);
    assert_eq!(profile_updates(&app), 1);
    assert_eq!(stored_first_name(&app).await, "Both");
}

#[actix_web::test]
async fn an_application_server_failure_leaves_local_unchanged() {
    let app = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;

    app.upstream.fail_next(UpstreamError::Rejected {
        details: "name refused".into(),
    });
    let refused = rename(&app, &xsrf, "Refused").await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert!(
        problem(refused).await["details"]
            .as_str()
            .unwrap()
            .contains("name refused")
    );
    assert_eq!(stored_first_name(&app).await, "John");

    app.upstream
        .fail_next(UpstreamError::Unavailable("connection refused".into()));
    let failed = rename(&app, &xsrf, "Failed").await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    assert!(
        !problem(failed).await.to_string().contains("connection refused"),
        "log text stays in the log"
    );
    assert_eq!(stored_first_name(&app).await, "John");

    app.upstream.fail_next(UpstreamError::Timeout);
    assert_eq!(rename(&app, &xsrf, "Late").await.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(stored_first_name(&app).await, "John");

    app.upstream.fail_next(UpstreamError::Unavailable("down".into()));
    assert_eq!(
        app.login_with(&app.fresh_client(), GROUP_ADMIN, DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::BAD_GATEWAY
    );
}

#[actix_web::test]
async fn a_slow_application_server_does_not_block_reads() {
    let app = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    app.upstream.set_delay(Some(Duration::from_millis(600)));
    let slow = rename(&app, &xsrf, "Slow");
    let read = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let status = app.get_info(&app.fresh_client()).await.status();
        (status, started.elapsed())
    };
    let (write, (read_status, _)) = tokio::join!(slow, read);
    assert_eq!(write.status(), StatusCode::OK);
    assert_eq!(
        read_status,
        StatusCode::UNAUTHORIZED,
        "an unauthenticated read is answered meanwhile"
    );
}

#[actix_web::test]
async fn local_login_shared_never_calls_the_application_server() {
    let app = spawn_with(Spawn {
        mode: LoginMode::LocalLoginShared,
        ..Spawn::default()
    })
    .await;
    app.upstream
        .fail_always(Some(UpstreamError::Unavailable("must not be called".into())));
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    assert_eq!(rename(&app, &xsrf, "Local").await.status(), StatusCode::OK);
    assert_eq!(stored_first_name(&app).await, "Local");
    assert!(app.upstream.calls().is_empty());
}

#[actix_web::test]
async fn django_only_never_calls_the_application_server() {
    let app = spawn_with(Spawn {
        mode: LoginMode::DjangoOnly,
        ..Spawn::default()
    })
    .await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    assert_eq!(rename(&app, &xsrf, "Django").await.status(), StatusCode::OK);
    assert!(app.upstream.calls().is_empty());
}

#[actix_web::test]
async fn local_login_dedicated_checks_locally_and_writes_both() {
    let app = spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        ..Spawn::default()
    })
    .await;
    app.upstream.add_user(GROUP_ADMIN, "As-Only-Passw0rd!");
    assert_eq!(
        app.login(GROUP_ADMIN, "As-Only-Passw0rd!").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    assert_eq!(authentications(&app), 0);
    assert_eq!(rename(&app, &xsrf, "Dedicated").await.status(), StatusCode::OK);
    assert_eq!(profile_updates(&app), 1);
    app.upstream.fail_next(UpstreamError::Timeout);
    assert_eq!(rename(&app, &xsrf, "Late").await.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(stored_first_name(&app).await, "Dedicated");
}

pub(crate) mod sso {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use ed25519_dalek::{Signer, SigningKey};

    pub(crate) fn key() -> SigningKey {
        SigningKey::from_bytes(&[42u8; 32])
    }

    pub(crate) fn token(key: &SigningKey, sub: &str, exp: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(json!({"sub": sub, "exp": exp, "iss": "idp"}).to_string());
        let signed = format!("{header}.{claims}");
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(key.sign(signed.as_bytes()).to_bytes())
        )
    }

    pub(crate) async fn spawn_sso(update_bs_db: bool) -> TestApp {
        spawn_with(Spawn {
            mode: LoginMode::SsoLoginDedicated,
            configure: Box::new(move |c| {
                c.sso.public_key = Some(STANDARD.encode(key().verifying_key().to_bytes()));
                c.sso.issuer = Some("idp".into());
                c.apio.update_profile_to_bs_db_sso = update_bs_db;
            }),
            ..Spawn::default()
        })
        .await
    }

    pub(crate) fn now_s(app: &TestApp) -> i64 {
        use accountd_domain::ports::Clock;
        app.clock.now().as_millis() / 1000
    }

    #[actix_web::test]
    async fn sso_accepts_signed_tokens_not_passwords() {
        let app = spawn_sso(false).await;
        assert_eq!(
            app.login(GROUP_ADMIN, DEMO_PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let good = token(&key(), GROUP_ADMIN, now_s(&app) + 300);
        let response = app
            .client
            .post(app.url("/api/v1/login/"))
            .json(&json!({"token": good}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let xsrf = cookie(&response, "XSRF-TOKEN").unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["username"], GROUP_ADMIN);

        // Changes stay local while UPDATE_PROFILE_TO_BS_DB_SSO is false (the default).
        assert_eq!(rename(&app, &xsrf, "Sso").await.status(), StatusCode::OK);
        assert_eq!(profile_updates(&app), 0);

        // A Bearer JWT authenticates a single request.
        let bearer = app
            .fresh_client()
            .get(app.url("/api/v1/session/user_login_info/"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), StatusCode::OK);

        let forged = token(&SigningKey::from_bytes(&[1u8; 32]), GROUP_ADMIN, now_s(&app) + 300);
        let refused = app
            .fresh_client()
            .post(app.url("/api/v1/login/"))
            .json(&json!({"token": forged}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let expired = token(&key(), GROUP_ADMIN, now_s(&app) - 3600);
        let refused = app
            .fresh_client()
            .post(app.url("/api/v1/login/"))
            .json(&json!({"token": expired}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn sso_users_change_no_password_here() {
        let app = spawn_sso(false).await;
        let good = token(&key(), GROUP_ADMIN, now_s(&app) + 300);
        let response = app
            .fresh_client()
            .post(app.url("/api/portal/v1.3/currentuser/changepassword"))
            .bearer_auth(&good)
            .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", "N3w-Passw0rd!x")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let detail = problem(response).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("identity provider"), "{detail}");
        assert_eq!(app.upstream.calls().len(), 0);
    }

    #[actix_web::test]
    async fn sso_writes_the_application_server_when_configured() {
        let app = spawn_sso(true).await;
        let good = token(&key(), GROUP_ADMIN, now_s(&app) + 300);
        let response = app
            .client
            .post(app.url("/api/v1/login/"))
            .json(&json!({"token": good}))
            .send()
            .await
            .unwrap();
        let xsrf = cookie(&response, "XSRF-TOKEN").unwrap();
        assert_eq!(rename(&app, &xsrf, "ToBs").await.status(), StatusCode::OK);
        assert_eq!(profile_updates(&app), 1);
    }
}

/// The three ways a user changes (or checks a change of) their own password.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Seed 001's self-PUT with `oldPassword`/`newPassword`.
    ApioPut,
    /// The account page's candidate check with the current password.
    Check,
    /// Axway's `changepassword` form.
    AxwayForm,
}

/// `username` (signing in with `login`) changes their own password from `old` to `new` `via` one
/// way; the answer's status.
async fn own_password_change(app: &TestApp, via: Via, username: &str, login: &str, old: &str, new: &str) -> StatusCode {
    let client = app.fresh_client();
    let body = json!({"oldPassword": old, "newPassword": new});
    let request = match via {
        Via::ApioPut => client.put(app.url(&user_path("Pie", "PieGroup", username))).json(&body),
        Via::Check => client.post(app.url("/api/v1/session/password_policy/")).json(&body),
        Via::AxwayForm => client
            .post(app.url("/api/portal/v1.3/currentuser/changepassword"))
            .form(&[("oldPassword", old), ("newPassword", new)]),
    };
    request.basic_auth(username, Some(login)).send().await.unwrap().status()
}

/// [`own_password_change`] each way, in the order of [`Via`].
async fn own_password_changes(app: &TestApp, username: &str, login: &str, old: &str, new: &str) -> [StatusCode; 3] {
    let mut statuses = [StatusCode::OK; 3];
    for (status, via) in statuses.iter_mut().zip([Via::ApioPut, Via::Check, Via::AxwayForm]) {
        *status = own_password_change(app, via, username, login, old, new).await;
    }
    statuses
}

#[actix_web::test]
async fn server_login_verifies_the_old_password_with_the_application_server() {
    let app = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    // The AS's password is the one the user logs in with; the local copy is stale.
    app.upstream.add_user(GROUP_ADMIN, "As-Only-Passw0rd!");
    let stale = own_password_changes(&app, GROUP_ADMIN, "As-Only-Passw0rd!", DEMO_PASSWORD, "N3w-Passw0rd!x").await;
    assert_eq!(stale, [StatusCode::FORBIDDEN; 3], "the stale local copy proves nothing");
    assert_eq!(
        app.upstream.password_of(GROUP_ADMIN).as_deref(),
        Some("As-Only-Passw0rd!")
    );

    // The AS's password is accepted: first the check, then the APIO PUT changes it everywhere.
    for via in [Via::Check, Via::ApioPut] {
        let status = own_password_change(
            &app,
            via,
            GROUP_ADMIN,
            "As-Only-Passw0rd!",
            "As-Only-Passw0rd!",
            "N3w-Passw0rd!x",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{via:?}");
    }
    assert_eq!(app.upstream.password_of(GROUP_ADMIN).as_deref(), Some("N3w-Passw0rd!x"));
    assert_eq!(app.login(GROUP_ADMIN, "N3w-Passw0rd!x").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn local_modes_verify_the_old_password_locally() {
    for mode in [
        LoginMode::LocalLoginShared,
        LoginMode::LocalLoginDedicated,
        LoginMode::DjangoOnly,
    ] {
        let app = spawn_with(Spawn {
            mode,
            ..Spawn::default()
        })
        .await;
        // A different AS password proves nothing where logins are checked locally.
        app.upstream.add_user(GROUP_ADMIN, "As-Only-Passw0rd!");
        let wrong = own_password_changes(&app, GROUP_ADMIN, DEMO_PASSWORD, "As-Only-Passw0rd!", "N3w-Passw0rd!x").await;
        assert_eq!(wrong, [StatusCode::FORBIDDEN; 3], "{mode}");
        let right = own_password_changes(&app, GROUP_ADMIN, DEMO_PASSWORD, DEMO_PASSWORD, "N3w-Passw0rd!x").await;
        // The APIO PUT changed it: the check and the form then log in with a stale password.
        assert_eq!(right[0], StatusCode::OK, "{mode}");
        assert_eq!(
            app.login(GROUP_ADMIN, "N3w-Passw0rd!x").await.status(),
            StatusCode::OK,
            "{mode}"
        );
    }
}
