//! Every API answer is about a person: `Cache-Control: no-store` (no shared or browser cache keeps
//! it) and `X-Content-Type-Options: nosniff` (no browser reads it as anything but its media type).
//! One walk over every operation of the OpenAPI document, each answered as it would be in use.

use crate::helpers::*;
use accountd_http::{apio, axway, factors, selfservice, superoffice};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The operations walked, as `METHOD path-template`, and the failures seen.
#[derive(Default)]
struct Walk {
    seen: BTreeSet<String>,
    failures: Vec<String>,
}

impl Walk {
    /// Sends `request` for the operation `method template`, expects `status`, and checks both
    /// headers. Returns the response for the next step.
    async fn step(&mut self, method: Method, template: &str, request: RequestBuilder, status: StatusCode) -> Response {
        let name = format!("{method} {template}");
        let response = request.send().await.expect("request");
        if response.status() != status {
            self.failures
                .push(format!("{name}: status {} (expected {status})", response.status()));
        }
        let header = |h: &str| {
            response
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if header("cache-control").as_deref() != Some("no-store") {
            self.failures
                .push(format!("{name}: Cache-Control {:?}", header("cache-control")));
        }
        if header("x-content-type-options").as_deref() != Some("nosniff") {
            self.failures.push(format!(
                "{name}: X-Content-Type-Options {:?}",
                header("x-content-type-options")
            ));
        }
        self.seen.insert(name);
        response
    }
}

fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    pairs.iter().fold(template.to_owned(), |path, (name, value)| {
        path.replace(&format!("{{{name}}}"), value)
    })
}

#[actix_web::test]
async fn every_personal_data_answer_is_no_store_and_nosniff() {
    let app = spawn_app().await;
    let mut walk = Walk::default();
    let basic = |method: Method, path: &str, who: &str| {
        app.fresh_client()
            .request(method, app.url(path))
            .basic_auth(who, Some(DEMO_PASSWORD))
    };
    let ids = [
        ("tenant_id", "ApioSpTest"),
        ("group_id", "ApioGrpTest"),
        ("user_id", "foouser"),
    ];

    // APIO: login (a cookie session, for logout and the session list), login info and its alias.
    let browser = app.fresh_client();
    let login = browser
        .post(app.url(apio::LOGIN))
        .json(&json!({"username": "foouser", "password": DEMO_PASSWORD}));
    walk.step(Method::POST, apio::LOGIN, login, StatusCode::OK).await;
    for path in [apio::USER_LOGIN_INFO, apio::LOGIN_INFO_DEPRECATED] {
        walk.step(Method::GET, path, basic(Method::GET, path, "foouser"), StatusCode::OK)
            .await;
        let put = basic(Method::PUT, path, "foouser").json(&json!({"first_name": "Foo"}));
        walk.step(Method::PUT, path, put, StatusCode::OK).await;
    }

    // Seed 001: the group's users, one user, its PIN code.
    let users = fill(apio::users::USERS, &ids);
    walk.step(
        Method::GET,
        apio::users::USERS,
        basic(Method::GET, &users, "admin"),
        StatusCode::OK,
    )
    .await;
    let create = basic(Method::POST, &users, "admin").json(&json!({
        "userId": "headers", "password": "Fresh-Start-9x!", "firstName": "Head", "lastName": "Ers"
    }));
    walk.step(Method::POST, apio::users::USERS, create, StatusCode::CREATED)
        .await;
    let user = fill(apio::users::USER, &ids);
    walk.step(
        Method::GET,
        apio::users::USER,
        basic(Method::GET, &user, "foouser"),
        StatusCode::OK,
    )
    .await;
    let put = basic(Method::PUT, &user, "foouser").json(&json!({"cliFirstName": "Foo"}));
    walk.step(Method::PUT, apio::users::USER, put, StatusCode::OK).await;
    let pin = fill(apio::users::PINCODE, &ids);
    walk.step(
        Method::GET,
        apio::users::PINCODE,
        basic(Method::GET, &pin, "foouser"),
        StatusCode::OK,
    )
    .await;
    let put = basic(Method::PUT, &pin, "admin").json(&json!({"expirationDays": 90}));
    walk.step(Method::PUT, apio::users::PINCODE, put, StatusCode::OK).await;
    let created = fill(
        apio::users::USER,
        &[
            ("tenant_id", "ApioSpTest"),
            ("group_id", "ApioGrpTest"),
            ("user_id", "headers"),
        ],
    );
    walk.step(
        Method::DELETE,
        apio::users::USER,
        basic(Method::DELETE, &created, "admin"),
        StatusCode::OK,
    )
    .await;

    // SuperOffice: the principal as JSON and as XML (one operation in the document).
    for accept in ["application/json", "application/xml"] {
        let get = basic(Method::GET, superoffice::CURRENT_PRINCIPAL, "foouser").header("Accept", accept);
        walk.step(Method::GET, superoffice::CURRENT_PRINCIPAL, get, StatusCode::OK)
            .await;
    }

    // Axway: the current user with and without its trailing slash, put back as read; the password.
    for path in [axway::CURRENT_USER, axway::CURRENT_USER.trim_end_matches('/')] {
        let got = walk
            .step(Method::GET, path, basic(Method::GET, path, "jbloggs"), StatusCode::OK)
            .await;
        let body: Value = got.json().await.unwrap_or(Value::Null);
        let put = basic(Method::PUT, path, "jbloggs").json(&body);
        walk.step(Method::PUT, path, put, StatusCode::OK).await;
    }
    let mut password = DEMO_PASSWORD.to_owned();
    for (i, path) in [
        axway::CHANGE_PASSWORD.to_owned(),
        format!("{}/", axway::CHANGE_PASSWORD),
    ]
    .iter()
    .enumerate()
    {
        let new_password = format!("Fresh-Passw0rd!{i}");
        let change = app
            .fresh_client()
            .post(app.url(path))
            .basic_auth("jbloggs", Some(&password))
            .form(&[("oldPassword", password.as_str()), ("newPassword", &new_password)]);
        walk.step(Method::POST, path, change, StatusCode::NO_CONTENT).await;
        password = new_password;
    }

    // The self-service API.
    for (path, body) in [
        (
            selfservice::PASSWORD_POLICY,
            json!({"newPassword": "a-Long-enough-0ne!"}),
        ),
        (selfservice::PINCODE_POLICY, json!({"pinCode": "583920"})),
    ] {
        walk.step(Method::GET, path, basic(Method::GET, path, "foouser"), StatusCode::OK)
            .await;
        let post = basic(Method::POST, path, "foouser").json(&body);
        walk.step(Method::POST, path, post, StatusCode::OK).await;
    }
    let profile = selfservice::PROFILE;
    walk.step(
        Method::GET,
        profile,
        basic(Method::GET, profile, "foouser"),
        StatusCode::OK,
    )
    .await;
    let put = basic(Method::PUT, profile, "foouser").json(&json!({"firstName": "Foo"}));
    walk.step(Method::PUT, profile, put, StatusCode::OK).await;
    let sessions = selfservice::SESSIONS;
    let list = walk
        .step(
            Method::GET,
            sessions,
            basic(Method::GET, sessions, "foouser"),
            StatusCode::OK,
        )
        .await;
    let list: Value = list.json().await.unwrap_or(Value::Null);
    let id = list["sessions"][0]["id"].as_i64().unwrap_or(0).to_string();
    let other = app.fresh_client();
    app.login_ok(&other, "foouser").await;
    walk.step(
        Method::DELETE,
        selfservice::SESSION,
        basic(Method::DELETE, &fill(selfservice::SESSION, &[("id", &id)]), "foouser"),
        StatusCode::NO_CONTENT,
    )
    .await;
    walk.step(
        Method::DELETE,
        sessions,
        basic(Method::DELETE, sessions, "foouser"),
        StatusCode::OK,
    )
    .await;

    // Second factors (a cookie session: they are managed from one), then an administrator's reset.
    let factors_browser = app.fresh_client();
    let fx = app.login_ok(&factors_browser, "foouser").await;
    let cookie = |method: Method, path: &str| {
        factors_browser
            .request(method, app.url(path))
            .header("X-XSRF-TOKEN", fx.clone())
    };
    walk.step(
        Method::GET,
        factors::FACTORS,
        cookie(Method::GET, factors::FACTORS),
        StatusCode::OK,
    )
    .await;
    let begun = walk
        .step(
            Method::POST,
            factors::TOTP,
            cookie(Method::POST, factors::TOTP),
            StatusCode::CREATED,
        )
        .await;
    let begun: Value = begun.json().await.unwrap_or(Value::Null);
    let secret = accountd_policy::factors::TotpSecret::from_base32(begun["secret"].as_str().unwrap_or("")).unwrap();
    let step = {
        use accountd_domain::ports::Clock;
        app.clock.now().as_millis() / 30_000
    };
    let confirm = cookie(Method::PUT, factors::TOTP).json(&json!({"code": secret.code_at_step(step)}));
    walk.step(Method::PUT, factors::TOTP, confirm, StatusCode::OK).await;
    let reauth = cookie(Method::POST, factors::REAUTHENTICATE).json(&json!({"code": secret.code_at_step(step + 1)}));
    walk.step(Method::POST, factors::REAUTHENTICATE, reauth, StatusCode::NO_CONTENT)
        .await;
    walk.step(
        Method::POST,
        factors::RECOVERY_CODES,
        cookie(Method::POST, factors::RECOVERY_CODES),
        StatusCode::OK,
    )
    .await;
    walk.step(
        Method::DELETE,
        factors::TOTP,
        cookie(Method::DELETE, factors::TOTP),
        StatusCode::NO_CONTENT,
    )
    .await;

    // Passkeys: list, register, re-authentication's options, sign-in alone, remove.
    use accountd_http::passkeys as pk;
    walk.step(
        Method::GET,
        pk::PASSKEYS,
        cookie(Method::GET, pk::PASSKEYS),
        StatusCode::OK,
    )
    .await;
    let mut key = crate::passkeys::Authenticator::new();
    let begun = walk
        .step(
            Method::POST,
            pk::REGISTRATION_OPTIONS,
            cookie(Method::POST, pk::REGISTRATION_OPTIONS),
            StatusCode::OK,
        )
        .await;
    let begun: Value = begun.json().await.unwrap_or(Value::Null);
    let answer = key.create(&begun["options"]);
    let register = cookie(Method::POST, pk::PASSKEYS)
        .json(&json!({"ceremony": begun["ceremony"], "name": "Key", "credential": answer}));
    let registered = walk
        .step(Method::POST, pk::PASSKEYS, register, StatusCode::CREATED)
        .await;
    let registered: Value = registered.json().await.unwrap_or(Value::Null);
    walk.step(
        Method::POST,
        pk::REAUTHENTICATE_OPTIONS,
        cookie(Method::POST, pk::REAUTHENTICATE_OPTIONS),
        StatusCode::OK,
    )
    .await;
    let stranger = app.fresh_client();
    let begun = walk
        .step(
            Method::POST,
            pk::SIGN_IN_OPTIONS,
            stranger.post(app.url(pk::SIGN_IN_OPTIONS)),
            StatusCode::OK,
        )
        .await;
    let begun: Value = begun.json().await.unwrap_or(Value::Null);
    let answer = key.get(&begun["options"]);
    let sign_in = stranger
        .post(app.url(pk::SIGN_IN))
        .json(&json!({"ceremony": begun["ceremony"], "credential": answer}));
    walk.step(Method::POST, pk::SIGN_IN, sign_in, StatusCode::OK).await;
    let one = pk::PASSKEY.replace("{id}", &registered["id"].to_string());
    walk.step(
        Method::DELETE,
        pk::PASSKEY,
        cookie(Method::DELETE, &one),
        StatusCode::NO_CONTENT,
    )
    .await;
    walk.step(
        Method::DELETE,
        factors::USER_FACTORS,
        basic(Method::DELETE, &fill(factors::USER_FACTORS, &ids), "admin"),
        StatusCode::NO_CONTENT,
    )
    .await;

    // Personal tokens and the credential list, then an administrator's view of them.
    use accountd_http::credentials as cr;
    let tokens_browser = app.fresh_client();
    let tx = app.login_ok(&tokens_browser, "foouser").await;
    let own = |method: Method, path: &str| {
        tokens_browser
            .request(method, app.url(path))
            .header("X-XSRF-TOKEN", tx.clone())
    };
    let created = own(Method::POST, cr::TOKENS).json(&json!({"name": "t", "scope": "read", "expiresInDays": 1}));
    let created: Value = walk
        .step(Method::POST, cr::TOKENS, created, StatusCode::CREATED)
        .await
        .json()
        .await
        .unwrap_or(Value::Null);
    walk.step(Method::GET, cr::TOKENS, own(Method::GET, cr::TOKENS), StatusCode::OK)
        .await;
    walk.step(
        Method::GET,
        cr::CREDENTIALS,
        own(Method::GET, cr::CREDENTIALS),
        StatusCode::OK,
    )
    .await;
    let user_tokens = fill(cr::USER_TOKENS, &ids);
    walk.step(
        Method::GET,
        cr::USER_TOKENS,
        basic(Method::GET, &user_tokens, "admin"),
        StatusCode::OK,
    )
    .await;
    let user_token = format!("{user_tokens}{}/", created["id"]);
    walk.step(
        Method::DELETE,
        cr::USER_TOKEN,
        basic(Method::DELETE, &user_token, "admin"),
        StatusCode::NO_CONTENT,
    )
    .await;
    let user_sessions = fill(cr::USER_SESSIONS, &ids);
    let listed: Value = walk
        .step(
            Method::GET,
            cr::USER_SESSIONS,
            basic(Method::GET, &user_sessions, "admin"),
            StatusCode::OK,
        )
        .await
        .json()
        .await
        .unwrap_or(Value::Null);
    let created = own(Method::POST, cr::TOKENS).json(&json!({"name": "u", "scope": "read", "expiresInDays": 1}));
    let created: Value = created.send().await.expect("token").json().await.unwrap_or(Value::Null);
    let one = cr::TOKEN.replace("{id}", &created["id"].to_string());
    walk.step(
        Method::DELETE,
        cr::TOKEN,
        own(Method::DELETE, &one),
        StatusCode::NO_CONTENT,
    )
    .await;
    walk.step(
        Method::DELETE,
        cr::CREDENTIALS,
        own(Method::DELETE, cr::CREDENTIALS),
        StatusCode::OK,
    )
    .await;
    let user_session = format!("{user_sessions}{}/", listed["sessions"][0]["id"]);
    walk.step(
        Method::DELETE,
        cr::USER_SESSION,
        basic(Method::DELETE, &user_session, "admin"),
        StatusCode::NO_CONTENT,
    )
    .await;

    // The timeline, an administrator's view of it, and the export.
    use accountd_http::timeline as tl;
    let timeline_browser = app.fresh_client();
    app.login_ok(&timeline_browser, "foouser").await;
    walk.step(
        Method::GET,
        tl::EVENTS,
        timeline_browser.get(app.url(tl::EVENTS)),
        StatusCode::OK,
    )
    .await;
    walk.step(
        Method::GET,
        tl::EXPORT,
        timeline_browser.get(app.url(tl::EXPORT)),
        StatusCode::OK,
    )
    .await;
    let user_events = fill(tl::USER_EVENTS, &ids);
    walk.step(
        Method::GET,
        tl::USER_EVENTS,
        basic(Method::GET, &user_events, "admin"),
        StatusCode::OK,
    )
    .await;

    // "This wasn't me", by another user (it ends every session of theirs).
    let reporter = app.fresh_client();
    let xsrf = app.login_ok(&reporter, "admin").await;
    let events: Value = reporter
        .get(app.url(tl::EVENTS))
        .send()
        .await
        .expect("events")
        .json()
        .await
        .unwrap_or(Value::Null);
    let reported = tl::REPORT.replace("{id}", &events["events"][0]["id"].to_string());
    let report = reporter.post(app.url(&reported)).header("X-XSRF-TOKEN", xsrf);
    walk.step(Method::POST, tl::REPORT, report, StatusCode::OK).await;

    // Password reset by e-mail: this server sends no mail, so both are refused (409), still
    // no-store.
    use accountd_http::reset as rs;
    let asked = app
        .fresh_client()
        .post(app.url(rs::RESET))
        .json(&json!({"login": "foouser"}));
    walk.step(Method::POST, rs::RESET, asked, StatusCode::CONFLICT).await;
    let confirm = app
        .fresh_client()
        .post(app.url(rs::CONFIRM))
        .json(&json!({"token": "x", "newPassword": "Fresh-Passw0rd!7"}));
    walk.step(Method::POST, rs::CONFIRM, confirm, StatusCode::CONFLICT)
        .await;

    // Logout, on a fresh session (ending the others ended the first one).
    let xsrf = app.login_ok(&browser, "foouser").await;

    // Verified e-mail changes: the pending change, its cancellation, a link that isn't one.
    use accountd_http::email_change as ec;
    let pending = browser.get(app.url(ec::PENDING));
    walk.step(Method::GET, ec::PENDING, pending, StatusCode::OK).await;
    let cancel = browser.delete(app.url(ec::PENDING)).header("X-XSRF-TOKEN", &xsrf);
    walk.step(Method::DELETE, ec::PENDING, cancel, StatusCode::NO_CONTENT)
        .await;
    let confirm = app
        .fresh_client()
        .post(app.url(ec::CONFIRM))
        .json(&json!({"token": "x"}));
    walk.step(Method::POST, ec::CONFIRM, confirm, StatusCode::BAD_REQUEST)
        .await;

    let logout = browser.post(app.url(apio::LOGOUT)).header("X-XSRF-TOKEN", xsrf);
    walk.step(Method::POST, apio::LOGOUT, logout, StatusCode::OK).await;

    // Errors too: a problem may name the caller's data (a refused value).
    let refused = basic(Method::PUT, apio::USER_LOGIN_INFO, "foouser").json(&json!({"first_name": " "}));
    let refused = walk
        .step(Method::PUT, apio::USER_LOGIN_INFO, refused, StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(refused.headers()["content-type"], "application/problem+json");

    assert!(walk.failures.is_empty(), "{:#?}", walk.failures);

    // The walk covers every operation of the document: a new route can't be left out.
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("JSON");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert_eq!(walk.seen, documented, "the walk and the document differ");
}

/// `/docs` and its assets: the account page's policy (no inline script, no framing, Trusted
/// Types), and revalidated rather than stored (they hold nothing personal).
#[actix_web::test]
async fn the_docs_page_is_served_under_the_account_pages_policy() {
    let app = spawn_app().await;
    let html = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    let html = html.text().await.unwrap();
    assert!(
        html.contains(r#"<script src="/docs/docs.js" defer></script>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/docs/docs.css">"#),
        "{html}"
    );
    for (path, content_type) in [
        ("/docs", "text/html; charset=utf-8"),
        ("/docs/docs.js", "text/javascript; charset=utf-8"),
        ("/docs/docs.css", "text/css; charset=utf-8"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(
            headers["content-security-policy"],
            accountd_http::account::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert!(headers.contains_key("etag"), "{path}");
    }
}
