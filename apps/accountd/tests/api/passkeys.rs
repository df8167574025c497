//! Passkeys over HTTP (issue 19), with webauthn-authenticator-rs's software authenticator
//! (`SoftPasskey`): registration, sign-in with a passkey alone, a passkey as the second step of a
//! password login, re-authentication and removal, a cloned authenticator refused and audited, bad
//! answers refused with nothing changed, and a ceremony begun on one instance and finished on
//! another on PostgreSQL. The browser side (a discoverable credential created by Chromium's
//! virtual authenticator) is in `tests/e2e/passkeys.rs`.
//!
//! `SoftPasskey` keeps no resident keys: the test clears `residentKey` in the authenticator's copy
//! of the creation options (the server does not check residency, a real authenticator does), and
//! for a sign-in it names the credential in its copy of the request and adds the user handle (the
//! user's uuid, from the registration options) to the answer, as a discoverable authenticator
//! would. The user handle is not signed, so the server checks it as it would a real one's.

use crate::helpers::*;
use accountd_domain::records::{AuditAction, AuditOutcome};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::Url;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, RequestChallengeResponse, ResidentKeyRequirement,
};

const PASSKEYS: &str = "/api/v1/session/second_factors/passkeys/";
const REGISTRATION_OPTIONS: &str = "/api/v1/session/second_factors/passkeys/options/";
const SIGN_IN_OPTIONS: &str = "/api/v1/login/passkey/options/";
const SIGN_IN: &str = "/api/v1/login/passkey/";
const REAUTH: &str = "/api/v1/session/reauthenticate/";
const REAUTH_OPTIONS: &str = "/api/v1/session/reauthenticate/options/";
const FACTORS: &str = "/api/v1/session/second_factors/";
/// The default `passkeys.origins`.
const ORIGIN: &str = "http://localhost:8080";

/// A software authenticator and the one passkey it registered.
pub struct Authenticator {
    inner: WebauthnAuthenticator<SoftPasskey>,
    origin: Url,
    /// base64url, as the browser's answers carry it.
    credential_id: String,
    /// base64url of the user's uuid (the WebAuthn user handle).
    user_handle: String,
}

impl Authenticator {
    pub fn new() -> Self {
        Self::at(ORIGIN)
    }

    fn at(origin: &str) -> Self {
        Self {
            // `true`: it claims user verification, which passkeys require.
            inner: WebauthnAuthenticator::new(SoftPasskey::new(true)),
            origin: Url::parse(origin).expect("origin"),
            credential_id: String::new(),
            user_handle: String::new(),
        }
    }

    /// The authenticator's answer to registration `options` (`{"publicKey": …}`).
    pub fn create(&mut self, options: &Value) -> Value {
        let mut options: CreationChallengeResponse = serde_json::from_value(options.clone()).expect("creation options");
        let selection = options
            .public_key
            .authenticator_selection
            .as_mut()
            .expect("authenticatorSelection");
        assert_eq!(
            (selection.resident_key, selection.require_resident_key),
            (Some(ResidentKeyRequirement::Required), true),
            "the server asks for a discoverable credential"
        );
        // SoftPasskey can't keep one (see the module's doc).
        selection.resident_key = Some(ResidentKeyRequirement::Discouraged);
        selection.require_resident_key = false;
        self.user_handle = serde_json::to_value(&options.public_key.user.id)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("user id");
        let answer = self
            .inner
            .do_registration(self.origin.clone(), options)
            .expect("registration");
        let answer = serde_json::to_value(answer).expect("JSON");
        self.credential_id = answer["id"].as_str().expect("id").to_owned();
        answer
    }

    /// The authenticator's answer to assertion `options`; for a discoverable request (no allowed
    /// credentials), it picks its passkey and names the user as a resident key would.
    pub fn get(&mut self, options: &Value) -> Value {
        let mut options: RequestChallengeResponse = serde_json::from_value(options.clone()).expect("request options");
        let discoverable = options.public_key.allow_credentials.is_empty();
        if discoverable {
            let id: Value = Value::String(self.credential_id.clone());
            options.public_key.allow_credentials = vec![AllowCredentials {
                type_: "public-key".to_owned(),
                id: serde_json::from_value(id).expect("credential id"),
                transports: None,
            }];
        }
        let answer = self
            .inner
            .do_authentication(self.origin.clone(), options)
            .expect("assertion");
        let mut answer = serde_json::to_value(answer).expect("JSON");
        if discoverable {
            answer["response"]["userHandle"] = Value::String(self.user_handle.clone());
        }
        answer
    }
}

/// Registers a passkey named `name` for the browser's user; answers the passkey's view.
async fn register(browser: &Browser<'_>, authenticator: &mut Authenticator, name: &str) -> Value {
    let begun = browser.get_posted(REGISTRATION_OPTIONS).await;
    let answer = authenticator.create(&begun["options"]);
    let done = browser
        .send(
            Method::POST,
            PASSKEYS,
            Some(json!({"ceremony": begun["ceremony"], "name": name, "credential": answer})),
        )
        .await;
    assert_eq!(done.status(), StatusCode::CREATED);
    done.json().await.expect("passkey")
}

/// Signs `client` in with the authenticator's passkey alone.
async fn sign_in(app: &TestApp, client: &Client, authenticator: &mut Authenticator) -> Response {
    let begun = begin_sign_in(app, client).await;
    let answer = authenticator.get(&begun["options"]);
    finish_sign_in(app, client, &begun["ceremony"], answer).await
}

async fn begin_sign_in(app: &TestApp, client: &Client) -> Value {
    let begun = client.post(app.url(SIGN_IN_OPTIONS)).send().await.expect("request");
    assert_eq!(begun.status(), StatusCode::OK);
    assert_eq!(
        begun.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let begun: Value = begun.json().await.expect("JSON");
    assert!(begun["options"]["mediation"].is_null(), "a button, not autofill");
    begun
}

async fn finish_sign_in(app: &TestApp, client: &Client, ceremony: &Value, answer: Value) -> Response {
    client
        .post(app.url(SIGN_IN))
        .json(&json!({"ceremony": ceremony, "credential": answer}))
        .send()
        .await
        .expect("request")
}

async fn kind_of(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["type"].as_str().unwrap_or_default().to_owned())
}

impl Browser<'_> {
    /// `POST path` without a body, expecting 200 and JSON.
    async fn get_posted(&self, path: &str) -> Value {
        json_of(self.send(Method::POST, path, None).await).await
    }
}

#[actix_web::test]
async fn a_passkey_signs_in_alone_and_as_second_factor_until_removed() {
    let app = spawn_app().await;
    passkey_lifecycle(&app).await;
}

#[actix_web::test]
async fn a_passkey_signs_in_alone_and_as_second_factor_until_removed_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        passkey_lifecycle(&app).await;
    }
}

async fn passkey_lifecycle(app: &TestApp) {
    let owner = Browser::sign_in(app, "foouser").await;
    let mut laptop = Authenticator::new();
    let registered = register(&owner, &mut laptop, "Laptop").await;
    assert_eq!(registered["name"], "Laptop");
    assert!(registered["last_used_at"].is_null());
    let mut phone = Authenticator::new();
    register(&owner, &mut phone, "Phone").await;
    let listed = owner.get(PASSKEYS).await;
    let names: Vec<&str> = listed["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Laptop", "Phone"]);
    assert_eq!(owner.get(FACTORS).await["passkeys"], 2);

    // Alone: the same session as a password login (seed 000 body, both cookies).
    let client = app.fresh_client();
    let done = sign_in(app, &client, &mut laptop).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(cookie(&done, "sessionid").is_some() && cookie(&done, "XSRF-TOKEN").is_some());
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["username"], "foouser");
    assert_eq!(body["profile"]["is_first_login"], false);
    assert_eq!(app.get_info(&client).await.status(), StatusCode::OK);
    let listed = owner.get(PASSKEYS).await;
    assert!(listed["passkeys"][0]["last_used_at"].is_i64(), "{listed}");

    // A ceremony is used once.
    let other = app.fresh_client();
    let begun = begin_sign_in(app, &other).await;
    let answer = laptop.get(&begun["options"]);
    let first = finish_sign_in(app, &other, &begun["ceremony"], answer.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let replayed = finish_sign_in(app, &app.fresh_client(), &begun["ceremony"], answer).await;
    assert_eq!(
        kind_of(replayed).await,
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:bad-credentials".to_owned()
        )
    );

    // After the password, a passkey is the second factor (the only method: no TOTP here).
    let client = app.fresh_client();
    let refused = app.login_with(&client, "foouser", DEMO_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge: Value = refused.json().await.unwrap();
    assert_eq!(challenge["type"], "urn:accountd:problem:second-factor-required");
    assert_eq!(challenge["methods"], json!(["passkey"]));
    let allowed = challenge["passkey_options"]["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(allowed, 2, "both of the user's passkeys");
    // A forged answer is refused, and the challenge lives on.
    let second_step = |answer: Value| {
        let client = client.clone();
        let challenge = challenge["challenge"].clone();
        async move {
            client
                .post(app.url("/api/v1/login/"))
                .json(&json!({"challenge": challenge, "passkey": answer}))
                .send()
                .await
                .expect("request")
        }
    };
    let mut forged = phone.get(&challenge["passkey_options"]);
    forged["response"]["signature"] = Value::String("AAAA".to_owned());
    assert_eq!(second_step(forged).await.status(), StatusCode::UNAUTHORIZED);
    let done = second_step(phone.get(&challenge["passkey_options"])).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.get_info(&client).await.status(), StatusCode::OK);

    // Removal needs a recent proof; a passkey gives one.
    app.clock.advance_seconds(301);
    let laptop_id = registered["id"].as_i64().unwrap();
    let remove = owner
        .send(Method::DELETE, &format!("{PASSKEYS}{laptop_id}/"), None)
        .await;
    assert_eq!(
        kind_of(remove).await,
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:reauthentication-required".to_owned()
        )
    );
    let password = owner
        .send(Method::POST, REAUTH, Some(json!({"password": DEMO_PASSWORD})))
        .await;
    assert_eq!(
        password.status(),
        StatusCode::FORBIDDEN,
        "a user with a factor proves it"
    );
    let begun = owner.get_posted(REAUTH_OPTIONS).await;
    let proof = laptop.get(&begun["options"]);
    let reauth = owner
        .send(
            Method::POST,
            REAUTH,
            Some(json!({"ceremony": begun["ceremony"], "passkey": proof})),
        )
        .await;
    assert_eq!(reauth.status(), StatusCode::NO_CONTENT);
    let remove = owner
        .send(Method::DELETE, &format!("{PASSKEYS}{laptop_id}/"), None)
        .await;
    assert_eq!(remove.status(), StatusCode::NO_CONTENT);
    let gone = owner
        .send(Method::DELETE, &format!("{PASSKEYS}{laptop_id}/"), None)
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // A removed passkey signs in no more; the other one still does.
    let refused = sign_in(app, &app.fresh_client(), &mut laptop).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        sign_in(app, &app.fresh_client(), &mut phone).await.status(),
        StatusCode::OK
    );

    // Without passkeys the password alone signs in again.
    let phone_id = owner.get(PASSKEYS).await["passkeys"][0]["id"].as_i64().unwrap();
    let remove = owner
        .send(Method::DELETE, &format!("{PASSKEYS}{phone_id}/"), None)
        .await;
    assert_eq!(remove.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    let audit = audit_of(app, "foouser");
    let has = |action: AuditAction, outcome: AuditOutcome, field: &str| {
        audit
            .iter()
            .any(|(a, o, f)| *a == action && *o == outcome && f.iter().any(|x| x == field))
    };
    assert!(has(AuditAction::FactorEnroll, AuditOutcome::Success, "passkey"));
    assert!(has(AuditAction::Login, AuditOutcome::Success, "passkey"));
    assert!(has(AuditAction::Login, AuditOutcome::Denied, "passkey"));
    assert!(has(AuditAction::Reauthenticate, AuditOutcome::Success, "passkey"));
    assert!(has(AuditAction::FactorRemove, AuditOutcome::Success, "passkey"));
}

#[actix_web::test]
async fn a_cloned_authenticator_is_refused_and_audited() {
    let app = spawn_app().await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let mut key = Authenticator::new();
    register(&owner, &mut key, "Key").await;

    // Two assertions: the later one (counter 2) arrives first, as when a copy of the key was
    // used meanwhile; the earlier one (counter 1) then goes backwards.
    let client = app.fresh_client();
    let early = begin_sign_in(&app, &client).await;
    let early_answer = key.get(&early["options"]);
    let late = begin_sign_in(&app, &client).await;
    let late_answer = key.get(&late["options"]);
    let accepted = finish_sign_in(&app, &client, &late["ceremony"], late_answer).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let cloned = finish_sign_in(&app, &app.fresh_client(), &early["ceremony"], early_answer).await;
    assert_eq!(
        kind_of(cloned).await,
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:bad-credentials".to_owned()
        )
    );

    let audit = audit_of(&app, "foouser");
    assert!(
        audit.iter().any(|(a, o, f)| *a == AuditAction::Login
            && *o == AuditOutcome::Denied
            && f == &["passkey", "counter_regressed"]),
        "{audit:?}"
    );
    assert_eq!(
        metric(
            &app,
            "accountd_second_factor_checks_total{method=\"passkey_clone\",outcome=\"refused\"}"
        )
        .await,
        1.0
    );
    // As a second factor too, where the challenge's copy of the counter is older than the stored
    // one: two password logins, their assertions made in one order and sent in the other.
    let challenge = |client: Client| {
        let app = &app;
        async move {
            let refused = app.login_with(&client, "foouser", DEMO_PASSWORD).await;
            let body: Value = refused.json().await.expect("problem");
            (client, body)
        }
    };
    let (first_client, first) = challenge(app.fresh_client()).await;
    let (second_client, second) = challenge(app.fresh_client()).await;
    let first_answer = key.get(&first["passkey_options"]);
    let second_answer = key.get(&second["passkey_options"]);
    let finish = |client: Client, challenge: Value, answer: Value| {
        let app = &app;
        async move {
            client
                .post(app.url("/api/v1/login/"))
                .json(&json!({"challenge": challenge["challenge"], "passkey": answer}))
                .send()
                .await
                .expect("request")
        }
    };
    let accepted = finish(second_client, second, second_answer).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let behind = finish(first_client, first, first_answer).await;
    assert_eq!(behind.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        metric(
            &app,
            "accountd_second_factor_checks_total{method=\"passkey_clone\",outcome=\"refused\"}"
        )
        .await,
        2.0
    );
    let listed = owner.get(PASSKEYS).await;
    assert!(listed["passkeys"][0]["last_used_at"].is_i64());
}

#[actix_web::test]
async fn bad_registrations_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let mut key = Authenticator::new();

    let begun = owner.get_posted(REGISTRATION_OPTIONS).await;
    let answer = key.create(&begun["options"]);
    let post = |body: Value| owner.send(Method::POST, PASSKEYS, Some(body));
    // No name, an answer that is not a credential, an unknown ceremony.
    let (status, kind) =
        kind_of(post(json!({"ceremony": begun["ceremony"], "name": " ", "credential": answer})).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "urn:accountd:problem:validation")
    );
    let (status, _) =
        kind_of(post(json!({"ceremony": begun["ceremony"], "name": "Key", "credential": {"id": 1}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = kind_of(post(json!({"ceremony": "AAAA", "name": "Key", "credential": answer})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The ceremony survived the answers refused before it was looked at.
    let done = post(json!({"ceremony": begun["ceremony"], "name": "Key", "credential": answer})).await;
    assert_eq!(done.status(), StatusCode::CREATED);
    // …and is used once.
    let (status, _) =
        kind_of(post(json!({"ceremony": begun["ceremony"], "name": "Key", "credential": answer})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An authenticator answering on another origin (a page this server does not serve).
    let mut phished = Authenticator::at("http://localhost:9999");
    let begun = owner.get_posted(REGISTRATION_OPTIONS).await;
    let answer = phished.create(&begun["options"]);
    let (status, kind) =
        kind_of(post(json!({"ceremony": begun["ceremony"], "name": "Evil", "credential": answer})).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "urn:accountd:problem:passkey-refused")
    );

    // Another user's session can't finish this user's ceremony.
    let begun = owner.get_posted(REGISTRATION_OPTIONS).await;
    let answer = Authenticator::new().create(&begun["options"]);
    let intruder = Browser::sign_in(&app, "jbloggs").await;
    let stolen = intruder
        .send(
            Method::POST,
            PASSKEYS,
            Some(json!({"ceremony": begun["ceremony"], "name": "Mine", "credential": answer})),
        )
        .await;
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);

    let names: Vec<String> = owner.get(PASSKEYS).await["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Key"]);
    assert_eq!(intruder.get(PASSKEYS).await["passkeys"], json!([]));

    // Registering needs a recent proof too.
    app.clock.advance_seconds(301);
    let late = owner.send(Method::POST, REGISTRATION_OPTIONS, None).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_ceremony_begun_on_one_instance_finishes_on_another_on_postgres() {
    let Some((first, _schema)) = spawn_on_postgres().await else {
        return;
    };
    let second = beside(&first).await;
    let owner = Browser::sign_in(&first, "foouser").await;
    let mut key = Authenticator::new();

    // Registration: options from the first instance, the answer to the second.
    let begun = owner.get_posted(REGISTRATION_OPTIONS).await;
    let answer = key.create(&begun["options"]);
    let on_second = Browser {
        app: &second,
        client: owner.client.clone(),
        xsrf: owner.xsrf.clone(),
    };
    let done = on_second
        .send(
            Method::POST,
            PASSKEYS,
            Some(json!({"ceremony": begun["ceremony"], "name": "Key", "credential": answer})),
        )
        .await;
    assert_eq!(done.status(), StatusCode::CREATED);

    // Sign-in: begun on the second, finished on the first; then the same answer on the second
    // finds the ceremony taken.
    let client = second.fresh_client();
    let begun = begin_sign_in(&second, &client).await;
    let answer = key.get(&begun["options"]);
    let done = finish_sign_in(&first, &client, &begun["ceremony"], answer.clone()).await;
    assert_eq!(done.status(), StatusCode::OK);
    let again = finish_sign_in(&second, &client, &begun["ceremony"], answer).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    // An expired ceremony finishes nowhere.
    let begun = begin_sign_in(&first, &client).await;
    let answer = key.get(&begun["options"]);
    first.clock.advance_seconds(301);
    let late = finish_sign_in(&second, &client, &begun["ceremony"], answer).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_first_passkey_lifts_an_enrollment_only_session_and_a_reset_removes_it() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.mfa.required_levels = vec![accountd_domain::level::UserLevel::EndUser]),
        ..Spawn::default()
    })
    .await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let profile = owner.send(Method::GET, "/api/v1/session/profile/", None).await;
    assert_eq!(
        kind_of(profile).await,
        (
            StatusCode::FORBIDDEN,
            "urn:accountd:problem:second-factor-enrollment-required".to_owned()
        )
    );
    let mut key = Authenticator::new();
    register(&owner, &mut key, "Key").await;
    let profile = owner.send(Method::GET, "/api/v1/session/profile/", None).await;
    assert_eq!(profile.status(), StatusCode::OK, "enrolled: everything again");
    // A passkey user may add an authenticator app too; the second step then offers both.
    let totp = owner
        .send(Method::POST, "/api/v1/session/second_factors/totp/", None)
        .await;
    assert_eq!(totp.status(), StatusCode::CREATED);
    let secret: Value = totp.json().await.expect("enrollment");
    let secret = accountd_policy::factors::TotpSecret::from_base32(secret["secret"].as_str().unwrap_or("")).unwrap();
    let step = {
        use accountd_domain::ports::Clock;
        app.clock.now().as_millis() / 30_000
    };
    let confirm = owner
        .send(
            Method::PUT,
            "/api/v1/session/second_factors/totp/",
            Some(json!({"code": secret.code_at_step(step)})),
        )
        .await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let refused = app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD).await;
    let challenge: Value = refused.json().await.expect("problem");
    assert_eq!(challenge["methods"], json!(["totp", "passkey", "recovery_code"]));

    // An administrator of a higher level resets the user's factors: the passkey goes, and with it
    // the sign-in it gave.
    let reset = app
        .fresh_client()
        .delete(app.url("/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/second_factors/"))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .expect("request");
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let refused = sign_in(&app, &app.fresh_client(), &mut key).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let again = Browser::sign_in(&app, "foouser").await;
    assert_eq!(again.get(PASSKEYS).await["passkeys"], json!([]));
}

#[actix_web::test]
async fn a_passkey_signs_in_only_its_owner_and_sign_ins_begun_are_bounded_per_address() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.throttle.max_ceremonies_per_address = 4),
        ..Spawn::default()
    })
    .await;
    let mut mine = Authenticator::new();
    register(&Browser::sign_in(&app, "foouser").await, &mut mine, "Mine").await;
    let mut theirs = Authenticator::new();
    register(&Browser::sign_in(&app, "jbloggs").await, &mut theirs, "Theirs").await;

    // foouser's passkey, presented as jbloggs's (the user handle is not signed).
    mine.user_handle.clone_from(&theirs.user_handle);
    let client = app.fresh_client();
    let posing = sign_in(&app, &client, &mut mine).await;
    assert_eq!(posing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_info(&client).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(&app, &client, &mut theirs).await.status(), StatusCode::OK);

    // Each sign-in begun stores a ceremony: the fifth from this address in the window is 429.
    let more = app.fresh_client();
    begin_sign_in(&app, &more).await;
    begin_sign_in(&app, &more).await;
    let refused = more.post(app.url(SIGN_IN_OPTIONS)).send().await.expect("request");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_some());
}
