//! "This wasn't me" (issue 21): a user reports a sign-in from another browser; every session (the
//! reporting one too) and every API token ends, the report is audited and counted, and the next
//! sign-in may only change the password (HTTP Basic too) until it is changed. In SERVER_LOGIN the
//! change goes to the Application Server; in SSO_LOGIN_DEDICATED only sessions and tokens end.

use crate::axway::CHANGE_PASSWORD;
use crate::helpers::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const EVENTS: &str = "/api/v1/session/events/";
const INFO: &str = "/api/v1/session/user_login_info/";
const PROBLEM: &str = "urn:accountd:problem:password-change-required";
const NEW_PASSWORD: &str = "Fresh-Passw0rd!7";

/// Signs `client` in as `username` with `password`: the XSRF token and the login answer.
async fn sign_in(app: &TestApp, client: &Client, username: &str, password: &str) -> (String, Value) {
    let response = app.login_with(client, username, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login of {username}");
    let xsrf = cookie(&response, "XSRF-TOKEN").expect("XSRF-TOKEN cookie");
    (xsrf, response.json().await.expect("login answer"))
}

async fn send(
    app: &TestApp,
    client: &Client,
    xsrf: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, app.url(path)).header("X-XSRF-TOKEN", xsrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// The id of the newest successful sign-in from `agent` in the timeline `client` sees.
async fn sign_in_from(app: &TestApp, client: &Client, agent: &str) -> i64 {
    let page: Value = json_of(client.get(app.url(EVENTS)).send().await.expect("request")).await;
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "login" && e["outcome"] == "success" && e["userAgent"] == agent)
        .and_then(|e| e["id"].as_i64())
        .unwrap_or_else(|| panic!("no sign-in from {agent} in {page}"))
}

/// Axway's changepassword from a browser's session.
async fn change_password(app: &TestApp, client: &Client, xsrf: &str, old: &str, new: &str) -> reqwest::Response {
    client
        .post(app.url(CHANGE_PASSWORD))
        .header("X-XSRF-TOKEN", xsrf)
        .form(&[("oldPassword", old), ("newPassword", new)])
        .send()
        .await
        .unwrap()
}

async fn report(app: &TestApp, client: &Client, xsrf: &str, event: i64) -> reqwest::Response {
    send(
        app,
        client,
        xsrf,
        Method::POST,
        &format!("{EVENTS}{event}/report/"),
        None,
    )
    .await
}

async fn assert_held(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    assert_eq!(problem(response).await["type"], PROBLEM, "{what}");
}

#[actix_web::test]
async fn this_wasnt_me_ends_everything_and_holds_the_next_sign_in_to_a_password_change() {
    let app = spawn_app().await;
    let mine = browser_named("Browser-A/1.0");
    let (xsrf, _) = sign_in(&app, &mine, "foouser", DEMO_PASSWORD).await;
    app.clock.advance_seconds(1);
    let theirs = browser_named("Browser-B/2.0");
    sign_in(&app, &theirs, "foouser", DEMO_PASSWORD).await;
    let token = send(
        &app,
        &mine,
        &xsrf,
        Method::POST,
        "/api/v1/session/tokens/",
        Some(json!({"name": "script", "scope": "full", "expiresInDays": 7})),
    )
    .await;
    assert_eq!(token.status(), StatusCode::CREATED);
    let token: Value = token.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let reports_before = metric(&app, "accountd_compromise_reports_total").await;

    // Only one's own events, from a session: another user's event, an unknown one, a token or
    // Basic are refused, and nothing ends.
    let admin = Browser::sign_in(&app, "admin").await;
    let admins_event = admin.get(EVENTS).await["events"][0]["id"].as_i64().unwrap();
    assert_eq!(
        report(&app, &mine, &xsrf, admins_event).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        report(&app, &mine, &xsrf, i64::MAX).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(report(&app, &mine, &xsrf, -1).await.status(), StatusCode::NOT_FOUND);
    let bad = send(&app, &mine, &xsrf, Method::POST, &format!("{EVENTS}x/report/"), None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let event = sign_in_from(&app, &mine, "Browser-B/2.0").await;
    let by_token = app
        .fresh_client()
        .post(app.url(&format!("{EVENTS}{event}/report/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), StatusCode::FORBIDDEN);
    let by_basic = app
        .fresh_client()
        .post(app.url(&format!("{EVENTS}{event}/report/")))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(by_basic.status(), StatusCode::FORBIDDEN);
    assert_eq!(theirs.get(app.url(INFO)).send().await.unwrap().status(), StatusCode::OK);

    // The report: both sessions and the token end; the reporting browser's cookies go.
    let reported = report(&app, &mine, &xsrf, event).await;
    assert_eq!(reported.status(), StatusCode::OK);
    assert!(set_cookie_header(&reported, "sessionid").is_some_and(|c| c.contains("Max-Age=0")));
    let body: Value = reported.json().await.unwrap();
    assert_eq!(
        body,
        json!({"sessionsEnded": 2, "tokensRevoked": 1, "passwordChangeRequired": true})
    );
    for (client, who) in [(&mine, "the reporting browser"), (&theirs, "the other browser")] {
        let status = client.get(app.url(INFO)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}");
    }
    let with_token = app
        .fresh_client()
        .get(app.url(INFO))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        metric(&app, "accountd_compromise_reports_total").await,
        reports_before + 1.0
    );

    // The next sign-in says so, and may only change the password.
    let again = browser_named("Browser-A/1.0");
    let (xsrf, answer) = sign_in(&app, &again, "foouser", DEMO_PASSWORD).await;
    assert_eq!(answer["password_change_required"], true, "{answer}");
    let info: Value = json_of(again.get(app.url(INFO)).send().await.unwrap()).await;
    assert_eq!(info["password_change_required"], true);
    for (method, path, body) in [
        (Method::GET, "/api/v1/session/profile/", None),
        (
            Method::PUT,
            "/api/v1/session/profile/",
            Some(json!({"firstName": "Mallory"})),
        ),
        (Method::GET, EVENTS, None),
        (Method::GET, "/api/v1/User/currentPrincipal", None),
        (
            Method::POST,
            "/api/v1/session/tokens/",
            Some(json!({"name": "again", "scope": "full", "expiresInDays": 7})),
        ),
        (Method::PUT, INFO, Some(json!({"first_name": "Mallory"}))),
    ] {
        let what = format!("{method} {path}");
        assert_held(send(&app, &again, &xsrf, method, path, body).await, &what).await;
    }
    assert_eq!(stored_first_name_of(&app, "foouser"), "Test", "nothing changed");
    // HTTP Basic is held to the same.
    let basic = app
        .fresh_client()
        .get(app.url("/api/portal/v1.3/currentuser/"))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_held(basic, "Basic GET currentuser").await;
    let basic_info = app
        .fresh_client()
        .get(app.url(INFO))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(basic_info).await["password_change_required"], true);
    // The policy check is allowed; a password the policy refuses changes nothing.
    let check = send(
        &app,
        &again,
        &xsrf,
        Method::POST,
        "/api/v1/session/password_policy/",
        Some(json!({"newPassword": "short"})),
    )
    .await;
    assert_eq!(check.status(), StatusCode::OK);
    let weak = change_password(&app, &again, &xsrf, DEMO_PASSWORD, "short").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_held(
        send(&app, &again, &xsrf, Method::GET, "/api/v1/session/profile/", None).await,
        "after a refused change",
    )
    .await;

    // The change lifts it, for this session and the next sign-ins.
    let changed = change_password(&app, &again, &xsrf, DEMO_PASSWORD, NEW_PASSWORD).await;
    assert!(changed.status().is_success(), "{}", changed.status());
    let profile = send(&app, &again, &xsrf, Method::GET, "/api/v1/session/profile/", None).await;
    assert_eq!(profile.status(), StatusCode::OK);
    let info: Value = json_of(again.get(app.url(INFO)).send().await.unwrap()).await;
    assert!(info.get("password_change_required").is_none(), "{info}");
    let (_, answer) = sign_in(&app, &app.fresh_client(), "foouser", NEW_PASSWORD).await;
    assert!(answer.get("password_change_required").is_none(), "{answer}");
    let basic = app
        .fresh_client()
        .get(app.url("/api/portal/v1.3/currentuser/"))
        .basic_auth("foouser", Some(NEW_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);

    // The timeline has the report, naming the event, by the user.
    let page: Value = json_of(again.get(app.url(EVENTS)).send().await.unwrap()).await;
    let report = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "compromise_report")
        .expect("the report in the timeline");
    assert_eq!(report["fields"], json!([format!("event:{event}")]));
    assert!(report["by"].is_null());
}

#[actix_web::test]
async fn an_administrators_reset_leaves_the_demand_to_the_user() {
    let app = spawn_app().await;
    let mine = browser_named("Browser-A/1.0");
    let (xsrf, _) = sign_in(&app, &mine, "foouser", DEMO_PASSWORD).await;
    let event = sign_in_from(&app, &mine, "Browser-A/1.0").await;
    assert_eq!(report(&app, &mine, &xsrf, event).await.status(), StatusCode::OK);

    // An administrator sets a password: the user still has to choose their own.
    let admin = Browser::sign_in(&app, "admin").await;
    let reset = admin
        .send(
            Method::PUT,
            "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/",
            Some(json!({"newPassword": "Admin-Set-Passw0rd!"})),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let client = app.fresh_client();
    let (xsrf, answer) = sign_in(&app, &client, "foouser", "Admin-Set-Passw0rd!").await;
    assert_eq!(answer["password_change_required"], true, "{answer}");
    let changed = change_password(&app, &client, &xsrf, "Admin-Set-Passw0rd!", NEW_PASSWORD).await;
    assert!(changed.status().is_success(), "{}", changed.status());
    assert_eq!(
        client.get(app.url(EVENTS)).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn in_server_login_the_demanded_change_goes_to_the_application_server() {
    let app = spawn_with(Spawn {
        mode: accountd_policy::mode::LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    let mine = browser_named("Browser-A/1.0");
    let (xsrf, _) = sign_in(&app, &mine, GROUP_ADMIN, DEMO_PASSWORD).await;
    let event = sign_in_from(&app, &mine, "Browser-A/1.0").await;
    let reported: Value = json_of(report(&app, &mine, &xsrf, event).await).await;
    assert_eq!(reported["passwordChangeRequired"], true);

    let client = app.fresh_client();
    let (xsrf, answer) = sign_in(&app, &client, GROUP_ADMIN, DEMO_PASSWORD).await;
    assert_eq!(answer["password_change_required"], true);
    assert_held(
        send(&app, &client, &xsrf, Method::GET, "/api/v1/session/profile/", None).await,
        "GET profile",
    )
    .await;
    let changed = change_password(&app, &client, &xsrf, DEMO_PASSWORD, NEW_PASSWORD).await;
    assert!(changed.status().is_success(), "{}", changed.status());
    assert_eq!(app.upstream.password_of(GROUP_ADMIN).as_deref(), Some(NEW_PASSWORD));
    let profile = send(&app, &client, &xsrf, Method::GET, "/api/v1/session/profile/", None).await;
    assert_eq!(profile.status(), StatusCode::OK);
}

#[actix_web::test]
async fn in_sso_login_dedicated_only_sessions_and_tokens_end() {
    use crate::login_modes::sso;
    let app = sso::spawn_sso(false).await;
    let good = sso::token(&sso::key(), GROUP_ADMIN, sso::now_s(&app) + 300);
    let mine = browser_named("Browser-A/1.0");
    let response = mine
        .post(app.url("/api/v1/login/"))
        .json(&json!({"token": good}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xsrf = cookie(&response, "XSRF-TOKEN").unwrap();
    let event = sign_in_from(&app, &mine, "Browser-A/1.0").await;
    let reported: Value = json_of(report(&app, &mine, &xsrf, event).await).await;
    assert_eq!(
        reported,
        json!({"sessionsEnded": 1, "tokensRevoked": 0, "passwordChangeRequired": false})
    );
    assert_eq!(
        mine.get(app.url(INFO)).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // The identity provider keeps the password: the next sign-in is not held.
    let again = app
        .fresh_client()
        .post(app.url("/api/v1/login/"))
        .json(&json!({"token": good}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let answer: Value = again.json().await.unwrap();
    assert!(answer.get("password_change_required").is_none(), "{answer}");
}

/// The stored first name of `username`.
fn stored_first_name_of(app: &TestApp, username: &str) -> String {
    use accountd_domain::ports::Store;
    app.db
        .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse(username).unwrap()))
        .unwrap()
        .unwrap()
        .profile
        .first_name
        .to_string()
}

/// An API token created by a request authenticated before a report and committed after it is
/// refused, not left standing: the report ended its session (the review's race, made
/// deterministic by holding the principal across the report).
#[actix_web::test]
async fn a_token_that_outran_the_report_is_refused() {
    use accountd_domain::principal::AuthMethod;
    use accountd_domain::records::TokenScope;
    use accountd_service::RequestContext;
    let app = spawn_app().await;
    let operator = app.operator();
    let mine = browser_named("Browser-A/1.0");
    let response = app.login_with(&mine, "foouser", DEMO_PASSWORD).await;
    let session = cookie(&response, "sessionid").expect("session cookie");
    let xsrf = cookie(&response, "XSRF-TOKEN").expect("XSRF cookie");
    // Authenticated now: this is what a request in flight holds.
    let principal = operator
        .authenticate_session(&session, AuthMethod::Session)
        .expect("a live session");
    let event = sign_in_from(&app, &mine, "Browser-A/1.0").await;
    assert_eq!(report(&app, &mine, &xsrf, event).await.status(), StatusCode::OK);

    let ctx = RequestContext::default();
    let token = operator.create_personal_token(&principal, "late", TokenScope::Full, 7, &ctx);
    assert!(
        matches!(token, Err(accountd_service::ServiceError::Unauthenticated)),
        "{token:?}"
    );
    // Nothing was written: no token; the demand stands, the old password still signs in (held).
    let tokens = operator.own_tokens(&principal).unwrap();
    assert!(tokens.is_empty(), "{tokens:?}");
    let (_, answer) = sign_in(&app, &app.fresh_client(), "foouser", DEMO_PASSWORD).await;
    assert_eq!(answer["password_change_required"], true);
}
