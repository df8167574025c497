//! The account page's API (profile, password and PIN policy, sessions) and the page's own headers.

use crate::helpers::*;
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use accountd_domain::records::AuditAction;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const PROFILE: &str = "/api/v1/session/profile/";
const PASSWORD_POLICY: &str = "/api/v1/session/password_policy/";
const PINCODE_POLICY: &str = "/api/v1/session/pincode_policy/";
const SESSIONS: &str = "/api/v1/session/sessions/";

fn codes(verdict: &Value, passed: Option<bool>) -> Vec<String> {
    verdict["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"].as_bool() == passed)
        .map(|c| c["code"].as_str().expect("code").to_owned())
        .collect()
}

#[actix_web::test]
async fn profile_reads_and_changes_what_the_user_may_change() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;

    let profile = me.get(PROFILE).await;
    assert_eq!(profile["username"], "foouser");
    assert_eq!(profile["language"], "English");
    assert_eq!(profile["timeZone"], "Europe/Brussels");
    assert_eq!(
        profile["editable"],
        json!([
            "firstName",
            "lastName",
            "emailAddress",
            "mobile",
            "language",
            "timeZone"
        ])
    );

    // Every member the page edits, the read-only one sent back unchanged.
    let changed = json_of(
        me.send(
            Method::PUT,
            PROFILE,
            Some(json!({
                "firstName": "Frieda", "lastName": "Fenwick", "emailAddress": "frieda@example.com",
                "phoneNumber": profile["phoneNumber"], "mobile": "+32 470 12 34 56",
                "language": "French", "timeZone": "America/Montreal"
            })),
        )
        .await,
    )
    .await;
    assert_eq!(changed["firstName"], "Frieda");
    assert_eq!(changed["mobile"], "+32 470 12 34 56");
    assert_eq!(changed["timeZone"], "America/Montreal");

    // The other dialects see the change.
    let apio = me.get("/api/v1/session/user_login_info/").await;
    assert_eq!(apio["profile"]["first_name"], "Frieda");
    assert_eq!(apio["profile"]["emailAddress"], "frieda@example.com");
    let axway = me.get("/api/portal/v1.3/currentuser").await;
    assert_eq!(axway["mobile"], "+32 470 12 34 56");

    // `null` and "" clear the optional members.
    let cleared = json_of(
        me.send(
            Method::PUT,
            PROFILE,
            Some(json!({"language": null, "timeZone": "", "mobile": null})),
        )
        .await,
    )
    .await;
    assert_eq!(cleared["language"], Value::Null);
    assert_eq!(cleared["timeZone"], Value::Null);
    assert_eq!(cleared["mobile"], "");
    assert_eq!(cleared["firstName"], "Frieda", "untouched members stay");
}

#[actix_web::test]
async fn profile_refusals_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;
    let before = me.get(PROFILE).await;

    let response = me
        .send(
            Method::PUT,
            PROFILE,
            Some(json!({"firstName": "Ok", "emailAddress": "not-an-address", "timeZone": "../etc"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = problem(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["emailAddress", "timeZone"]);

    let response = me
        .send(
            Method::PUT,
            PROFILE,
            Some(json!({"firstName": "Ok", "phoneNumber": "+32 2 555 00 00"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = problem(response).await;
    assert_eq!(body["errors"][0]["field"], "phoneNumber");
    assert_eq!(body["errors"][0]["code"], "read_only");

    let response = me.send(Method::PUT, PROFILE, Some(json!({"nickname": "x"}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(response).await["errors"][0]["field"], "nickname");

    // Without the XSRF header the cookie alone changes nothing.
    let response = me
        .client
        .put(app.url(PROFILE))
        .json(&json!({"firstName": "Forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let after = me.get(PROFILE).await;
    assert_eq!(before, after);
    let anonymous = app.fresh_client().get(app.url(PROFILE)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_system_user_may_change_their_own_phone_number() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "admin").await;
    let profile = me.get(PROFILE).await;
    assert!(profile["editable"].as_array().unwrap().contains(&json!("phoneNumber")));
    let changed = json_of(
        me.send(Method::PUT, PROFILE, Some(json!({"phoneNumber": "+32 2 555 00 00"})))
            .await,
    )
    .await;
    assert_eq!(changed["phoneNumber"], "+32 2 555 00 00");
}

#[actix_web::test]
async fn password_policy_lists_the_effective_rules_and_judges_candidates() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;

    let policy = me.get(PASSWORD_POLICY).await;
    // An end user: accountd's baseline with MINIMUM_PASSWORD_RULES.END_USER on top.
    assert_eq!(policy["rules"]["minLength"], 8);
    assert_eq!(policy["rules"]["minSpecial"], 1);
    assert_eq!(policy["rules"]["history"], 5);
    let listed: Vec<&str> = policy["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(listed.first(), Some(&"password_too_short"));
    assert_eq!(listed.last(), Some(&"password_reused"));

    let weak = json_of(
        me.send(Method::POST, PASSWORD_POLICY, Some(json!({"newPassword": "foouser1"})))
            .await,
    )
    .await;
    assert_eq!(weak["valid"], false);
    let failed = codes(&weak, Some(false));
    for code in [
        "password_min_uppercase",
        "password_min_special",
        "password_contains_username",
    ] {
        assert!(failed.contains(&code.to_owned()), "{code} in {failed:?}");
    }
    assert_eq!(
        codes(&weak, None),
        ["password_reused"],
        "reuse is not checked for a weak one"
    );
    assert_eq!(weak["errors"].as_array().unwrap().len(), failed.len());

    // A good candidate without the current password: reuse stays unchecked.
    let good = json_of(
        me.send(
            Method::POST,
            PASSWORD_POLICY,
            Some(json!({"newPassword": DEMO_PASSWORD})),
        )
        .await,
    )
    .await;
    assert_eq!(good["valid"], true);
    assert_eq!(codes(&good, None), ["password_reused"]);

    // With the current password, reuse is checked: the current one is refused.
    let reused = json_of(
        me.send(
            Method::POST,
            PASSWORD_POLICY,
            Some(json!({"newPassword": DEMO_PASSWORD, "oldPassword": DEMO_PASSWORD})),
        )
        .await,
    )
    .await;
    assert_eq!(reused["valid"], false);
    assert_eq!(codes(&reused, Some(false)), ["password_reused"]);
    assert_eq!(reused["errors"][0]["field"], "newPassword");

    // Nothing was stored: the password is still the demo one.
    assert_eq!(app.login("foouser", DEMO_PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_wrong_current_password_in_a_check_counts_like_a_failed_login() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_failures_per_account = 2),
        ..Spawn::default()
    })
    .await;
    let me = Browser::sign_in(&app, "foouser").await;
    for _ in 0..2 {
        let response = me
            .send(
                Method::POST,
                PASSWORD_POLICY,
                Some(json!({"newPassword": "Quartz-Lantern-93!", "oldPassword": "wrong-guess"})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = me
        .send(
            Method::POST,
            PASSWORD_POLICY,
            Some(json!({"newPassword": "Quartz-Lantern-93!", "oldPassword": DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guesses lock the account as logins would"
    );
    assert_eq!(
        app.login("foouser", DEMO_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn candidate_checks_are_throttled_per_account() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_checks_per_account = 3),
        ..Spawn::default()
    })
    .await;
    let me = Browser::sign_in(&app, "foouser").await;
    for _ in 0..3 {
        let response = me
            .send(Method::POST, PASSWORD_POLICY, Some(json!({"newPassword": "abc"})))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = me
        .send(Method::POST, PINCODE_POLICY, Some(json!({"pinCode": "1234"})))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    // Logins are not affected: only checks were counted.
    let other = app.fresh_client();
    assert_eq!(
        app.login_with(&other, "foouser", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
    // The window ends.
    app.clock.advance_seconds(app.config.throttle.window_seconds + 1);
    let response = me
        .send(Method::POST, PASSWORD_POLICY, Some(json!({"newPassword": "abc"})))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn pincode_policy_for_a_group_member_and_for_an_administrator() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;
    let policy = me.get(PINCODE_POLICY).await;
    assert_eq!(policy["applies"], true);
    assert_eq!(policy["hasPin"], true);
    assert_eq!(
        policy["resource"],
        "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/pincode/"
    );
    assert!(policy["rules"]["minLength"].as_u64().is_some());

    let weak = json_of(
        me.send(Method::POST, PINCODE_POLICY, Some(json!({"pinCode": "1111"})))
            .await,
    )
    .await;
    assert_eq!(weak["valid"], false);
    assert!(
        codes(&weak, Some(false)).contains(&"pin_repeated_pattern".to_owned()),
        "{weak}"
    );

    // Set a PIN, then check candidates with it: reuse and its reverse are refused.
    let response = me
        .send(
            Method::PUT,
            policy["resource"].as_str().unwrap(),
            Some(json!({"pinCode": "583920", "oldPinCode": "987654"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    for (candidate, code) in [("583920", "pin_reused"), ("029385", "pin_reversed_old")] {
        let verdict = json_of(
            me.send(
                Method::POST,
                PINCODE_POLICY,
                Some(json!({"pinCode": candidate, "oldPinCode": "583920"})),
            )
            .await,
        )
        .await;
        assert_eq!(codes(&verdict, Some(false)), [code], "{verdict}");
    }
    let good = json_of(
        me.send(
            Method::POST,
            PINCODE_POLICY,
            Some(json!({"pinCode": "716204", "oldPinCode": "583920"})),
        )
        .await,
    )
    .await;
    assert_eq!(good["valid"], true, "{good}");
    assert!(
        codes(&good, None).is_empty(),
        "every rule checked with the old PIN: {good}"
    );

    let response = me
        .send(
            Method::POST,
            PINCODE_POLICY,
            Some(json!({"pinCode": "583920", "oldPinCode": "111111"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = me
        .send(Method::POST, PINCODE_POLICY, Some(json!({"pinCode": "12a4"})))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(response).await["errors"][0]["field"], "pinCode");

    let admin = Browser::sign_in(&app, "admin").await;
    let policy = admin.get(PINCODE_POLICY).await;
    assert_eq!(policy["applies"], false);
    assert_eq!(policy["resource"], Value::Null);
    let response = admin
        .send(Method::POST, PINCODE_POLICY, Some(json!({"pinCode": "583920"})))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn sessions_are_listed_and_ended_one_or_all_others() {
    let app = spawn_app().await;
    let me = Browser::sign_in(&app, "foouser").await;
    let second = app.fresh_client();
    app.login_ok(&second, "foouser").await;
    let third = app.fresh_client();
    app.login_ok(&third, "foouser").await;
    let stranger = Browser::sign_in(&app, "jbloggs").await;

    let list = me.get(SESSIONS).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert!(current[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(current[0]["client"]["address"], "127.0.0.1");
    let others: Vec<i64> = sessions
        .iter()
        .filter(|s| s["current"] == false)
        .map(|s| s["id"].as_i64().unwrap())
        .collect();

    // Someone else cannot end foouser's session: it is not theirs (404, and it lives on).
    let response = stranger
        .send(Method::DELETE, &format!("{SESSIONS}{}/", others[0]), None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let alive = me.get(SESSIONS).await;
    assert_eq!(alive["sessions"].as_array().unwrap().len(), 3);

    // One of them.
    let response = me
        .send(Method::DELETE, &format!("{SESSIONS}{}/", others[0]), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = me
        .send(Method::DELETE, &format!("{SESSIONS}{}/", others[0]), None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "already ended");
    let response = me.send(Method::DELETE, &format!("{SESSIONS}abc/"), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let list = me.get(SESSIONS).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);

    // All the others.
    let ended = json_of(me.send(Method::DELETE, SESSIONS, None).await).await;
    assert_eq!(ended["ended"], 1);
    for client in [&second, &third] {
        assert_eq!(app.get_info(client).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.get_info(&me.client).await.status(),
        StatusCode::OK,
        "the current one stays"
    );
    assert_eq!(
        app.get_info(&stranger.client).await.status(),
        StatusCode::OK,
        "other users keep theirs"
    );

    // Without the XSRF header nothing is ended.
    let response = me.client.delete(app.url(SESSIONS)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Each ending is audited under the user, with the session it ended.
    let foo = app
        .db
        .read(|r| r.user_by_username(&Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap();
    let events = app.db.read(|r| r.recent_audit(Some(foo.key), 50)).unwrap();
    let revoked: Vec<Vec<String>> = events
        .iter()
        .filter(|e| e.action == AuditAction::SessionRevoke)
        .map(|e| e.fields.clone())
        .collect();
    assert!(revoked.contains(&vec![format!("session:{}", others[0])]), "{revoked:?}");
    assert!(revoked.contains(&vec!["other_sessions".to_owned()]), "{revoked:?}");
}

#[actix_web::test]
async fn the_page_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/account/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<script src="account.js""#));
    // Revalidation: the same ETag answers 304 without a body (and the same security headers).
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let response = app
        .client
        .get(app.url("/account/"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    assert!(response.headers().contains_key("content-security-policy"));
    assert!(response.bytes().await.unwrap().is_empty());
    let response = app
        .client
        .get(app.url("/account/"))
        .header("If-None-Match", "\"0000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "another version is sent whole");

    for (path, media) in [
        ("/account/account.js", "text/javascript; charset=utf-8"),
        ("/account/account.css", "text/css; charset=utf-8"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], media, "{path}");
    }
    let no_redirects = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/account/");
    let response = app.client.post(app.url("/account/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET");
}

#[actix_web::test]
async fn a_script_is_not_challenged_with_basic() {
    let app = spawn_app().await;
    let challenge = |response: &reqwest::Response| response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    // An API client is offered both schemes.
    let response = app.fresh_client().get(app.url(PROFILE)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("Basic"));
    // A page's fetch (and the account page's own hint): Bearer only, so no browser login prompt.
    for (name, value) in [("Sec-Fetch-Mode", "cors"), ("X-Requested-With", "XMLHttpRequest")] {
        let response = app
            .fresh_client()
            .get(app.url(PROFILE))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), "Bearer realm=\"accountd\"", "{name}");
        let login = app
            .fresh_client()
            .post(app.url("/api/v1/login/"))
            .header(name, value)
            .json(&json!({"username": "foouser", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
        assert!(!challenge(&login).contains("Basic"), "{name}");
    }
}

#[actix_web::test]
async fn idle_sessions_are_not_listed() {
    let app = spawn_app().await;
    let idle = app.config.sessions.idle_timeout_seconds;
    let me = Browser::sign_in(&app, "foouser").await;
    let _abandoned = Browser::sign_in(&app, "foouser").await;
    // Only `me` stays active; the other session passes its idle timeout.
    app.clock.advance_seconds(idle / 2 + 1);
    assert_eq!(me.get(SESSIONS).await["sessions"].as_array().unwrap().len(), 2);
    app.clock.advance_seconds(idle / 2 + 1);
    let list = me.get(SESSIONS).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{list}");
    assert_eq!(sessions[0]["current"], true);
}

#[actix_web::test]
async fn checks_need_the_xsrf_header_and_a_wrong_current_pin_counts() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_failures_per_account = 2),
        ..Spawn::default()
    })
    .await;
    let me = Browser::sign_in(&app, "foouser").await;
    for (path, body) in [
        (PASSWORD_POLICY, json!({"newPassword": "Quartz-Lantern-93!"})),
        (PINCODE_POLICY, json!({"pinCode": "583920"})),
    ] {
        let response = me.client.post(app.url(path)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} without X-XSRF-TOKEN");
        assert_eq!(problem(response).await["type"], "urn:accountd:problem:xsrf");
    }
    for _ in 0..2 {
        let response = me
            .send(
                Method::POST,
                PINCODE_POLICY,
                Some(json!({"pinCode": "583920", "oldPinCode": "111111"})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(problem(response).await["type"], "urn:accountd:problem:wrong-secret");
    }
    let response = me
        .send(
            Method::POST,
            PINCODE_POLICY,
            Some(json!({"pinCode": "583920", "oldPinCode": "987654"})),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "wrong PINs count like failed logins"
    );
}
