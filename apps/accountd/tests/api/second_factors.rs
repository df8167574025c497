//! Second factors over HTTP (issue 18): enrolling TOTP, the two-step login, codes accepted once,
//! recovery codes, HTTP Basic refused with its reason, re-authentication, `mfa.required_levels`
//! and an administrator's reset. Codes are computed from the enrolled secret at the server's
//! (manual) clock.

use crate::helpers::*;
use accountd_domain::ports::Store;
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_policy::factors::TotpSecret;
use base64::Engine;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const FACTORS: &str = "/api/v1/session/second_factors/";
const TOTP: &str = "/api/v1/session/second_factors/totp/";
const RECOVERY: &str = "/api/v1/session/second_factors/recovery_codes/";
const REAUTH: &str = "/api/v1/session/reauthenticate/";
const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";

/// The code of `secret` now, and `steps` steps later.
fn code(app: &TestApp, secret: &TotpSecret, steps: i64) -> String {
    use accountd_domain::ports::Clock;
    secret.code_at_step(app.clock.now().as_millis() / 30_000 + steps)
}

async fn problem_type(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("problem+json");
    (status, body["type"].as_str().unwrap_or_default().to_owned(), body)
}

/// Enrolls and confirms TOTP for the browser's user; returns the secret and the recovery codes.
async fn enroll(browser: &Browser<'_>) -> (TotpSecret, Vec<String>) {
    let begun = browser.send(Method::POST, TOTP, None).await;
    assert_eq!(begun.status(), StatusCode::CREATED);
    let begun: Value = begun.json().await.unwrap();
    let secret = TotpSecret::from_base32(begun["secret"].as_str().unwrap()).unwrap();
    assert!(
        begun["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/accountd:")
    );
    let svg = begun["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && !svg.contains("<script"), "{svg}");
    assert_eq!(
        browser
            .send(Method::GET, FACTORS, None)
            .await
            .json::<Value>()
            .await
            .unwrap()["totp"],
        "pending"
    );

    let wrong = browser.send(Method::PUT, TOTP, Some(json!({"code": "000000"}))).await;
    // (1 in 10^6 that 000000 is the right code: then this test fails once.)
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let confirmed = browser
        .send(Method::PUT, TOTP, Some(json!({"code": code(browser.app, &secret, 0)})))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Vec<String> = confirmed.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let status: Value = browser.send(Method::GET, FACTORS, None).await.json().await.unwrap();
    assert_eq!(
        (status["totp"].as_str(), status["recovery_codes_left"].as_u64()),
        (Some("enabled"), Some(10))
    );
    (secret, codes)
}

/// The first step: the password answers the challenge.
async fn challenge(app: &TestApp, client: &Client, username: &str) -> String {
    let (status, kind, body) = problem_type(app.login_with(client, username, DEMO_PASSWORD).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(kind, "urn:accountd:problem:second-factor-required");
    assert!(body["methods"].as_array().unwrap().contains(&json!("totp")), "{body}");
    assert!(body.get("ids").is_none(), "no session yet");
    body["challenge"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, client: &Client, body: Value) -> Response {
    client.post(app.url("/api/v1/login/")).json(&body).send().await.unwrap()
}

#[actix_web::test]
async fn totp_makes_login_two_steps_and_each_code_works_once() {
    two_steps(&spawn_app().await).await;
}

#[actix_web::test]
async fn totp_makes_login_two_steps_and_each_code_works_once_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        two_steps(&app).await;
    }
}

async fn two_steps(app: &TestApp) {
    let owner = Browser::sign_in(app, "foouser").await;
    let (secret, recovery) = enroll(&owner).await;

    // Password, then code: the seed 000 body and both cookies, as a one-step login.
    let client = app.fresh_client();
    let first = challenge(app, &client, "foouser").await;
    let now = code(app, &secret, 1);
    let done = second_step(app, &client, json!({"challenge": first, "code": now})).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(cookie(&done, "sessionid").is_some() && cookie(&done, "XSRF-TOKEN").is_some());
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["username"], "foouser");
    assert_eq!(body["profile"]["is_first_login"], false);
    assert!(body.get("second_factor_enrollment_required").is_none());
    assert_eq!(app.get_info(&client).await.status(), StatusCode::OK);

    // The same code again (same step) is refused, and a used challenge is gone.
    let other = app.fresh_client();
    let again = challenge(app, &other, "foouser").await;
    let replay = second_step(app, &other, json!({"challenge": again, "code": now})).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let reused = second_step(app, &other, json!({"challenge": first, "code": code(app, &secret, 0)})).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);

    // A recovery code works once, in any case; one fewer is left.
    let third = challenge(app, &other, "foouser").await;
    let upper = recovery[0].to_uppercase();
    let ok = second_step(app, &other, json!({"challenge": third, "recovery_code": upper})).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let fourth = challenge(app, &app.fresh_client(), "foouser").await;
    let used = second_step(
        app,
        &app.fresh_client(),
        json!({"challenge": fourth, "recovery_code": recovery[0]}),
    )
    .await;
    assert_eq!(used.status(), StatusCode::UNAUTHORIZED);
    let status: Value = owner.send(Method::GET, FACTORS, None).await.json().await.unwrap();
    assert_eq!(status["recovery_codes_left"], 9);

    // HTTP Basic with the right password is refused, saying why; a wrong one gets the usual 401.
    let basic = |password: &str| {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("foouser:{password}"));
        app.fresh_client()
            .get(app.url("/api/v1/session/user_login_info/"))
            .header("Authorization", format!("Basic {credentials}"))
            .send()
    };
    let (status, kind, body) = problem_type(basic(DEMO_PASSWORD).await.unwrap()).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:second-factor-basic-refused"
        )
    );
    assert!(body["detail"].as_str().unwrap().contains("API token"), "{body}");
    let (_, kind, _) = problem_type(basic("Wrong-Passw0rd!").await.unwrap()).await;
    assert_eq!(kind, "urn:accountd:problem:bad-credentials");

    // An API token keeps working for them: a credential of its own.
    let token = app
        .operator()
        .create_api_token(
            &accountd_domain::ids::Username::parse("foouser").unwrap(),
            "ci",
            None,
            &accountd_service::RequestContext::default(),
        )
        .unwrap();
    let bearer = app
        .fresh_client()
        .get(app.url("/api/v1/session/user_login_info/"))
        .bearer_auth(&token.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    // Every use and failure is audited.
    let key = app
        .db
        .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap()
        .key;
    let events = app.db.read(|r| r.recent_audit(Some(key), 50)).unwrap();
    let has = |action: AuditAction, outcome: AuditOutcome, field: &str| {
        events
            .iter()
            .any(|e| e.action == action && e.outcome == outcome && e.fields.iter().any(|f| f == field))
    };
    assert!(has(AuditAction::FactorEnroll, AuditOutcome::Success, "confirmed"));
    assert!(has(AuditAction::FactorEnroll, AuditOutcome::Denied, "totp"));
    assert!(has(AuditAction::Login, AuditOutcome::Success, "totp"));
    assert!(has(AuditAction::Login, AuditOutcome::Success, "recovery_code"));
    assert!(has(AuditAction::Login, AuditOutcome::Denied, "totp"));

    // And counted by method and outcome.
    let accepted = metric(
        app,
        r#"accountd_second_factor_checks_total{method="totp",outcome="accepted"}"#,
    )
    .await;
    let refused = metric(
        app,
        r#"accountd_second_factor_checks_total{method="totp",outcome="refused"}"#,
    )
    .await;
    let recovered = metric(
        app,
        r#"accountd_second_factor_checks_total{method="recovery_code",outcome="accepted"}"#,
    )
    .await;
    assert_eq!(
        (accepted, recovered),
        (2.0, 1.0),
        "confirmation and one login; one recovery code"
    );
    assert!(refused >= 2.0, "the wrong confirmation and the replay: {refused}");
}

#[actix_web::test]
async fn sensitive_changes_need_a_recent_proof() {
    let app = spawn_app().await;
    let foo = Browser::sign_in(&app, "foouser").await;
    let (secret, _) = enroll(&foo).await;
    app.clock.advance_seconds(301);
    let (status, kind, _) = problem_type(foo.send(Method::DELETE, TOTP, None).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:reauthentication-required"
        )
    );
    let (_, kind, _) = problem_type(foo.send(Method::POST, RECOVERY, None).await).await;
    assert_eq!(kind, "urn:accountd:problem:reauthentication-required");
    // A user with a factor re-proves with it, not with the password alone.
    let password = foo
        .send(Method::POST, REAUTH, Some(json!({"password": DEMO_PASSWORD})))
        .await;
    assert_eq!(password.status(), StatusCode::FORBIDDEN);
    let proved = foo
        .send(Method::POST, REAUTH, Some(json!({"code": code(&app, &secret, 0)})))
        .await;
    assert_eq!(proved.status(), StatusCode::NO_CONTENT);
    let regenerated: Value = foo.send(Method::POST, RECOVERY, None).await.json().await.unwrap();
    assert_eq!(regenerated["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        foo.send(Method::DELETE, TOTP, None).await.status(),
        StatusCode::NO_CONTENT
    );
    // Without a factor, the password alone signs in again.
    let client = app.fresh_client();
    assert_eq!(
        app.login_with(&client, "foouser", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn required_levels_get_an_enrollment_only_session_until_they_enroll() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.mfa.required_levels = vec![accountd_domain::level::UserLevel::System]),
        ..Spawn::default()
    })
    .await;
    let client = app.fresh_client();
    let login = app.login_with(&client, "admin", DEMO_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let xsrf = cookie(&login, "XSRF-TOKEN").unwrap();
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["second_factor_enrollment_required"], true);
    let admin = Browser {
        app: &app,
        client,
        xsrf,
    };
    let (status, kind, _) = problem_type(admin.send(Method::GET, FOOUSER, None).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::FORBIDDEN,
            "urn:accountd:problem:second-factor-enrollment-required"
        )
    );
    assert_eq!(
        admin
            .send(Method::GET, "/api/v1/session/user_login_info/", None)
            .await
            .status(),
        StatusCode::OK
    );
    // HTTP Basic is no way around it.
    let basic = app
        .fresh_client()
        .get(app.url(FOOUSER))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    let (status, kind, _) = problem_type(basic).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::FORBIDDEN,
            "urn:accountd:problem:second-factor-enrollment-required"
        )
    );
    enroll(&admin).await;
    assert_eq!(
        admin.send(Method::GET, FOOUSER, None).await.status(),
        StatusCode::OK,
        "enrolled: lifted"
    );
    // A user of another level is not concerned.
    let foo = app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD).await;
    assert!(
        foo.json::<Value>()
            .await
            .unwrap()
            .get("second_factor_enrollment_required")
            .is_none()
    );
}

#[actix_web::test]
async fn a_higher_administrator_resets_a_users_factors() {
    let app = spawn_app().await;
    let foo = Browser::sign_in(&app, "foouser").await;
    enroll(&foo).await;
    let path = format!("{FOOUSER}second_factors/");
    // foouser can't reset themself.
    let (status, _, _) = problem_type(foo.send(Method::DELETE, &path, None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = Browser::sign_in(&app, "admin").await;
    assert_eq!(
        admin.send(Method::DELETE, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );
    // Their sessions ended; the password alone signs in again.
    assert_eq!(
        foo.send(Method::GET, FACTORS, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}
