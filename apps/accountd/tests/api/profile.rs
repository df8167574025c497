//! Seed 001: the user resource and its PIN code, replayed against the demo data, with ETags, delete
//! semantics, creation and listing, login modes, and audit events.

use crate::helpers::*;
use accountd_domain::ids::Username;
use accountd_domain::ports::{Store, UpstreamError};
use accountd_domain::records::AuditAction;
use accountd_policy::mode::LoginMode;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";
const FOOPIN: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/pincode/";

fn seed_001_user() -> Value {
    json!({
        "lastName": "Test",
        "firstName": "Test",
        "cliLastName": "Test",
        "cliFirstName": "Test",
        "phoneNumber": "",
        "extension": "4000",
        "cliPhoneNumber": "",
        "department": {
            "tenantId": "ApioSpTest",
            "groupId": "ApioGrpTest",
            "departmentName": "test_department_initial",
            "fullPathName": "test_department_parent_1 \\ test_department_initial"
        },
        "language": "English",
        "emailAddress": "test_mail@test.netaxis.be",
        "networkClassOfService": "9",
        "accessDeviceEndpoint": {
            "accessDevice": { "name": "DP_ApioUserTest", "level": "Group" },
            "lineNumber": 0,
            "contacts": [],
            "linePort": "LP_ApioUserTest@sip.netaxis.be"
        },
        "timeZone": "Europe/Brussels"
    })
}

/// Seed 001's PUT example, with its missing commas fixed.
pub fn seed_001_put() -> Value {
    json!({
        "lastName": "Last Test PUT",
        "firstName": "First Test PUT",
        "cliLastName": "CLID Last Test PUT",
        "cliFirstName": "CLID First Test PUT",
        "department": {
            "tenantId": "ApioSpTest",
            "groupId": "ApioGrpTest",
            "departmentName": "test_department_initial"
        },
        "oldPassword": "test_passwd",
        "newPassword": "new_test_passwd",
        "timeZone": "Europe/Luxembourg",
        "language": "English",
        "emailAddress": "modified.test_mail@test.netaxis.be",
        "networkClassOfService": "9"
    })
}

/// Logs `user` in again with `password` (their sessions ended with a password change).
async fn as_user_with(app: &TestApp, user: &str, password: &str) -> (Client, String) {
    let client = app.fresh_client();
    let response = app.login_with(&client, user, password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let xsrf = cookie(&response, "XSRF-TOKEN").unwrap();
    (client, xsrf)
}

/// A client logged in as `user`, with its XSRF token.
async fn as_user(app: &TestApp, user: &str) -> (Client, String) {
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, user).await;
    (client, xsrf)
}

async fn send(
    app: &TestApp,
    who: &(Client, String),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = who.0.request(method, app.url(path)).header("X-XSRF-TOKEN", &who.1);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn get_replays_seed_001_with_a_strong_etag() {
    replay_seed_001_get(&spawn_app().await).await;
}

/// The same on PostgreSQL: a user without a second factor sees the seed there too.
#[actix_web::test]
async fn get_replays_seed_001_with_a_strong_etag_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        replay_seed_001_get(&app).await;
    }
}

async fn replay_seed_001_get(app: &TestApp) {
    let admin = as_user(app, "admin").await;
    let response = send(app, &admin, reqwest::Method::GET, FOOUSER, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    assert_eq!(response.json::<Value>().await.unwrap(), seed_001_user());
    // The user reads themself the same way.
    let me = as_user(app, "foouser").await;
    assert_eq!(
        send(app, &me, reqwest::Method::GET, FOOUSER, None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        seed_001_user()
    );
}

#[actix_web::test]
async fn put_replays_seed_001_under_relaxed_rules() {
    // The seed's new password "new_test_passwd" has no capital, digit or symbol: accepted only once
    // MINIMUM_PASSWORD_RULES.END_USER asks for none of them.
    let app = spawn_with(Spawn {
        configure: Box::new(|c| {
            let r = &mut c.apio.minimum_password_rules.end_user;
            (r.min_special, r.min_uppercase, r.min_digits) = (0, 0, 0);
        }),
        ..Spawn::default()
    })
    .await;
    let admin = as_user(&app, "admin").await;
    let response = send(&app, &admin, reqwest::Method::PUT, FOOUSER, Some(seed_001_put())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut expected = seed_001_user();
    for (k, v) in [
        ("lastName", "Last Test PUT"),
        ("firstName", "First Test PUT"),
        ("cliLastName", "CLID Last Test PUT"),
        ("cliFirstName", "CLID First Test PUT"),
        ("timeZone", "Europe/Luxembourg"),
        ("emailAddress", "modified.test_mail@test.netaxis.be"),
    ] {
        expected[k] = json!(v);
    }
    assert_eq!(response.json::<Value>().await.unwrap(), expected, "answers like GET");
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, FOOUSER, None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        expected
    );
    // The administrator set the password: it works, and it is a first login.
    let login = app.login_with(&app.fresh_client(), "foouser", "new_test_passwd").await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.json::<Value>().await.unwrap()["profile"]["is_first_login"], true);
}

#[actix_web::test]
async fn put_with_a_weak_password_lists_every_rule_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let response = send(&app, &admin, reqwest::Method::PUT, FOOUSER, Some(seed_001_put())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = problem(response).await;
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    // "_" is a special character: the seed password breaks exactly these two rules.
    assert_eq!(codes, ["password_min_uppercase", "password_min_digits"]);
    for code in ["password_min_uppercase", "password_min_digits"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, FOOUSER, None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        seed_001_user()
    );
}

#[actix_web::test]
async fn own_password_needs_the_old_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let me = as_user(&app, "foouser").await;
    let other = as_user(&app, "foouser").await;
    let wrong = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"oldPassword": "nope", "newPassword": "Brand-New-Passw0rd!"})),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(wrong).await["type"], "urn:accountd:problem:wrong-secret");
    let missing = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"newPassword": "Brand-New-Passw0rd!"})),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let reused = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"oldPassword": DEMO_PASSWORD, "newPassword": DEMO_PASSWORD})),
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(reused).await["errors"][0]["code"], "password_reused");

    let ok = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"oldPassword": DEMO_PASSWORD, "newPassword": "Brand-New-Passw0rd!"})),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        send(&app, &me, reqwest::Method::GET, FOOUSER, None).await.status(),
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        send(&app, &other, reqwest::Method::GET, FOOUSER, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "others end"
    );
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", "Brand-New-Passw0rd!")
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn wrong_old_passwords_are_throttled() {
    let app = spawn_app().await;
    let me = as_user(&app, "foouser").await;
    for _ in 0..10 {
        let r = send(
            &app,
            &me,
            reqwest::Method::PUT,
            FOOUSER,
            Some(json!({"oldPassword": "nope", "newPassword": "Brand-New-Passw0rd!"})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let throttled = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"oldPassword": DEMO_PASSWORD, "newPassword": "Brand-New-Passw0rd!"})),
    )
    .await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
}

#[actix_web::test]
async fn users_change_only_their_own_editable_fields() {
    let app = spawn_app().await;
    let me = as_user(&app, "foouser").await;
    for body in [
        json!({"networkClassOfService": "1"}),
        json!({"extension": "5000"}),
        json!({"department": null}),
        json!({"accessDeviceEndpoint": null}),
    ] {
        let r = send(&app, &me, reqwest::Method::PUT, FOOUSER, Some(body.clone())).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{body}");
    }
    let ok = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"firstName": "Me", "language": "French"})),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        (body["firstName"].as_str(), body["language"].as_str()),
        (Some("Me"), Some("French"))
    );
    assert_eq!(body["networkClassOfService"], "9");
}

#[actix_web::test]
async fn bad_bodies_are_400_naming_fields_and_change_nothing() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let both = json!({
        "accessDeviceEndpoint": {"accessDevice": {"name": "DP_ApioUserTest", "level": "Group"}, "linePort": "x@y"},
        "trunkEndpoint": {"trunkGroupDevice": {"name": "TG", "level": "Group"}, "linePort": "z@y"}
    });
    for (body, field) in [
        (both, "accessDeviceEndpoint"),
        (json!({"emailAddress": "nope"}), "emailAddress"),
        (
            json!({"department": {"tenantId": "ApioSpTest", "groupId": "ApioGrpTest", "departmentName": "no_such"}}),
            "department",
        ),
        (
            json!({"accessDeviceEndpoint": {"accessDevice": {"name": "NoDevice", "level": "Group"}, "linePort": "a@b"}}),
            "device",
        ),
        (json!({"nickname": "x"}), "nickname"),
    ] {
        let r = send(&app, &admin, reqwest::Method::PUT, FOOUSER, Some(body.clone())).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem = problem(r).await;
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field} in {problem}"
        );
    }
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, FOOUSER, None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        seed_001_user()
    );
    let bad_path = send(
        &app,
        &admin,
        reqwest::Method::GET,
        "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/%00x/",
        None,
    )
    .await;
    assert_eq!(bad_path.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn two_puts_with_the_same_etag_give_one_200_and_one_412() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let etag = send(&app, &admin, reqwest::Method::GET, FOOUSER, None).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let put = |name: &'static str| {
        admin
            .0
            .put(app.url(FOOUSER))
            .header("X-XSRF-TOKEN", &admin.1)
            .header("If-Match", &etag)
            .json(&json!({"firstName": name}))
            .send()
    };
    let (a, b) = tokio::join!(put("Racer A"), put("Racer B"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    // A DELETE with the stale tag is refused too.
    let stale = admin
        .0
        .delete(app.url(FOOUSER))
        .header("X-XSRF-TOKEN", &admin.1)
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, FOOUSER, None).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn require_if_match_makes_it_mandatory() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.apio.require_if_match = true),
        ..Spawn::default()
    })
    .await;
    let admin = as_user(&app, "admin").await;
    let r = send(
        &app,
        &admin,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"firstName": "X"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_REQUIRED);
    let r = send(&app, &admin, reqwest::Method::DELETE, FOOUSER, None).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_REQUIRED);
    let etag = send(&app, &admin, reqwest::Method::GET, FOOUSER, None).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let ok = admin
        .0
        .put(app.url(FOOUSER))
        .header("X-XSRF-TOKEN", &admin.1)
        .header("If-Match", &etag)
        .json(&json!({"firstName": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_ne!(ok.headers()["etag"].to_str().unwrap(), etag, "a change moves the tag");
}

mod pincode {
    use super::*;

    #[actix_web::test]
    async fn get_shows_the_settings_never_the_pin() {
        let app = spawn_app().await;
        let admin = as_user(&app, "admin").await;
        let r = send(&app, &admin, reqwest::Method::GET, FOOPIN, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"loginDisabled": false, "expirationDays": 3600, "doesNotExpire": false})
        );
    }

    #[actix_web::test]
    async fn seed_put_is_refused_by_the_default_pin_rules() {
        let app = spawn_app().await;
        let me = as_user(&app, "foouser").await;
        let r = send(
            &app,
            &me,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"pinCode": "123456", "oldPinCode": "987654"})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = problem(r).await;
        assert!(
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == "pin_ascending_run"),
            "{body}"
        );
    }

    #[actix_web::test]
    async fn seed_put_replays_without_local_validation() {
        let app = spawn_with(Spawn {
            configure: Box::new(|c| c.apio.validate_pincode_locally = false),
            ..Spawn::default()
        })
        .await;
        let me = as_user(&app, "foouser").await;
        let r = send(
            &app,
            &me,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"pinCode": "123456", "oldPinCode": "987654"})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"loginDisabled": false, "expirationDays": 3600, "doesNotExpire": false})
        );
        // The old PIN is now 123456.
        let again = send(
            &app,
            &me,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"pinCode": "555555", "oldPinCode": "987654"})),
        )
        .await;
        assert_eq!(again.status(), StatusCode::FORBIDDEN);
        let ok = send(
            &app,
            &me,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"pinCode": "555555", "oldPinCode": "123456"})),
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn own_pin_rules_history_and_settings() {
        let app = spawn_app().await;
        let me = as_user(&app, "foouser").await;
        let put = |body: Value| send(&app, &me, reqwest::Method::PUT, FOOPIN, Some(body));
        assert_eq!(
            put(json!({"pinCode": "5830"})).await.status(),
            StatusCode::BAD_REQUEST,
            "old PIN required"
        );
        assert_eq!(
            put(json!({"pinCode": "5830", "oldPinCode": "111111"})).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            put(json!({"pinCode": "12a4", "oldPinCode": "987654"})).await.status(),
            StatusCode::BAD_REQUEST
        );
        let reversed = problem(put(json!({"pinCode": "456789", "oldPinCode": "987654"})).await).await;
        assert!(reversed["errors"].to_string().contains("pin_"), "{reversed}");
        let ext = problem(put(json!({"pinCode": "94000", "oldPinCode": "987654"})).await).await;
        assert!(ext["errors"].to_string().contains("pin_contains_user_number"), "{ext}");
        assert_eq!(
            put(json!({"pinCode": "5830", "oldPinCode": "987654"})).await.status(),
            StatusCode::OK
        );
        let reused = problem(put(json!({"pinCode": "5830", "oldPinCode": "5830"})).await).await;
        assert_eq!(reused["errors"][0]["code"], "pin_reused");
        let settings = put(json!({"expirationDays": 30, "oldPinCode": "5830"})).await;
        assert_eq!(
            settings.status(),
            StatusCode::FORBIDDEN,
            "settings are the administrators'"
        );
    }

    #[actix_web::test]
    async fn administrators_set_pins_and_settings_without_the_old_pin() {
        let app = spawn_app().await;
        let admin = as_user(&app, "admin").await;
        let r = send(
            &app,
            &admin,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"pinCode": "5830", "expirationDays": 90, "doesNotExpire": true})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"loginDisabled": false, "expirationDays": 90, "doesNotExpire": true})
        );
        let bad = send(
            &app,
            &admin,
            reqwest::Method::PUT,
            FOOPIN,
            Some(json!({"expirationDays": 0})),
        )
        .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}

mod delete {
    use super::*;
    use accountd_domain::endpoint::{
        AccessDeviceEndpoint, AdditionalEndpoint, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint,
    };
    use accountd_domain::ids::{AppId, DeviceName, GroupId, LinePort, TenantId, UserKey};
    use accountd_domain::level::Role;
    use accountd_domain::records::AppData;

    fn device(name: &str) -> Device {
        Device {
            owner: DeviceOwner::Group {
                tenant: TenantId::parse("ApioSpTest").unwrap(),
                group: GroupId::parse("ApioGrpTest").unwrap(),
            },
            name: DeviceName::parse(name).unwrap(),
        }
    }

    fn dref(name: &str) -> DeviceRef {
        DeviceRef {
            name: DeviceName::parse(name).unwrap(),
            level: DeviceLevel::Group,
        }
    }

    /// alice: main line on D1 and an additional line on D2; bob: an additional line on D1; app data.
    fn setup(app: &TestApp) -> (UserKey, UserKey) {
        let alice = app.add_user(
            "alice",
            Role::EndUser {
                member: member("ApioSpTest", "ApioGrpTest", "alice"),
            },
            None,
        );
        let bob = app.add_user(
            "bob",
            Role::EndUser {
                member: member("ApioSpTest", "ApioGrpTest", "bob"),
            },
            None,
        );
        app.db
            .write(|r| {
                r.ensure_device(&device("D1"))?;
                r.ensure_device(&device("D2"))?;
                r.set_endpoint(
                    alice.key,
                    Some(&Endpoint::AccessDevice(AccessDeviceEndpoint {
                        device: dref("D1"),
                        line_port: LinePort::parse("alice@sip.example").unwrap(),
                        line_number: Some(1),
                        contacts: vec![],
                    })),
                )?;
                r.add_additional_endpoint(
                    alice.key,
                    &AdditionalEndpoint {
                        device: dref("D2"),
                        line_port: LinePort::parse("alice2@sip.example").unwrap(),
                    },
                )?;
                r.add_additional_endpoint(
                    bob.key,
                    &AdditionalEndpoint {
                        device: dref("D1"),
                        line_port: LinePort::parse("bob-on-d1@sip.example").unwrap(),
                    },
                )?;
                for app_id in ["keep", "drop"] {
                    r.put_app_data(
                        alice.key,
                        &AppData {
                            app: AppId::parse(app_id).unwrap(),
                            data: "{}".into(),
                        },
                    )?;
                }
                Ok::<_, accountd_domain::ports::StoreError>(())
            })
            .unwrap();
        (alice.key, bob.key)
    }

    #[actix_web::test]
    async fn deleting_with_devices_reports_the_seed_lists_and_keeps_excluded_app_data() {
        let app = spawn_app().await;
        let (_, bob) = setup(&app);
        let admin = as_user(&app, "admin").await;
        let path = user_path("ApioSpTest", "ApioGrpTest", "alice");
        let r = send(
            &app,
            &admin,
            reqwest::Method::DELETE,
            &path,
            Some(json!({"delete_devices": true, "_excludedAppIds": ["keep"]})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({
                "detached_additional_users": [{"userId": "bob", "linePort": "bob-on-d1@sip.example"}],
                "deleted_additional_devices": [{"userId": "alice", "linePort": "alice2@sip.example"}],
                "deleted_main_device": {"userId": "alice", "linePort": "alice@sip.example"}
            })
        );
        assert_eq!(
            send(&app, &admin, reqwest::Method::GET, &path, None).await.status(),
            StatusCode::NOT_FOUND
        );
        assert!(
            app.db.read(|r| r.additional_endpoints(bob)).unwrap().is_empty(),
            "bob was unlinked"
        );
        // Re-created at the same place, alice finds only the excluded application's data.
        let again = app.add_user(
            "alice",
            Role::EndUser {
                member: member("ApioSpTest", "ApioGrpTest", "alice"),
            },
            None,
        );
        let apps: Vec<String> = app
            .db
            .read(|r| r.app_data(again.key))
            .unwrap()
            .into_iter()
            .map(|d| d.app.to_string())
            .collect();
        assert_eq!(apps, ["keep"]);
        // Deleting again (the user is gone... and back): gone for good, then 200 {} for a missing one.
        assert_eq!(
            send(&app, &admin, reqwest::Method::DELETE, &path, None).await.status(),
            StatusCode::OK
        );
        let missing = send(&app, &admin, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(missing.status(), StatusCode::OK);
        assert_eq!(missing.json::<Value>().await.unwrap(), json!({}));
    }

    #[actix_web::test]
    async fn delete_devices_false_from_the_query_keeps_the_devices() {
        let app = spawn_app().await;
        let (_, bob) = setup(&app);
        let admin = as_user(&app, "admin").await;
        let path = format!(
            "{}?delete_devices=false",
            user_path("ApioSpTest", "ApioGrpTest", "alice")
        );
        let r = send(&app, &admin, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["detached_additional_users"], json!([]));
        assert_eq!(body["deleted_additional_devices"], json!([]));
        assert_eq!(
            app.db.read(|r| r.additional_endpoints(bob)).unwrap().len(),
            1,
            "bob keeps his line on D1"
        );
    }

    #[actix_web::test]
    async fn deleting_out_of_scope_is_403_and_missing_in_scope_is_200() {
        let app = spawn_app().await;
        setup(&app);
        let pie_admin = as_user(&app, GROUP_ADMIN).await;
        let r = send(
            &app,
            &pie_admin,
            reqwest::Method::DELETE,
            &user_path("ApioSpTest", "ApioGrpTest", "alice"),
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = send(
            &app,
            &pie_admin,
            reqwest::Method::DELETE,
            &user_path("ApioSpTest", "ApioGrpTest", "ghost"),
            None,
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "out of scope whether or not the user exists"
        );
        let r = send(
            &app,
            &pie_admin,
            reqwest::Method::DELETE,
            &user_path("Pie", "PieGroup", "ghost"),
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let me = as_user(&app, "foouser").await;
        assert_eq!(
            send(&app, &me, reqwest::Method::DELETE, FOOUSER, None).await.status(),
            StatusCode::FORBIDDEN,
            "not oneself"
        );
        let admin = as_user(&app, "admin").await;
        let bad = send(
            &app,
            &admin,
            reqwest::Method::DELETE,
            &format!("{FOOUSER}?delete_devices=maybe"),
            None,
        )
        .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            send(&app, &admin, reqwest::Method::GET, FOOUSER, None).await.status(),
            StatusCode::OK,
            "nothing deleted"
        );
    }
}

#[actix_web::test]
async fn administrators_create_and_list_group_users() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let users = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/";
    let created = send(&app, &admin, reqwest::Method::POST, users, Some(json!({
        "userId": "newbie", "password": "Fresh-Start-9x!", "firstName": "New", "lastName": "Bie",
        "emailAddress": "newbie@example.com",
        "department": {"tenantId": "ApioSpTest", "groupId": "ApioGrpTest", "departmentName": "test_department_parent_1"}
    }))).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    assert_eq!(created.headers()["location"], format!("{users}newbie/"));
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["department"]["fullPathName"], "test_department_parent_1");
    let login = app.login_with(&app.fresh_client(), "newbie", "Fresh-Start-9x!").await;
    assert_eq!(login.json::<Value>().await.unwrap()["profile"]["is_first_login"], true);

    let dup = send(
        &app,
        &admin,
        reqwest::Method::POST,
        users,
        Some(json!({"userId": "newbie", "password": "Fresh-Start-9x!", "firstName": "A", "lastName": "B"})),
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let weak = send(
        &app,
        &admin,
        reqwest::Method::POST,
        users,
        Some(json!({"userId": "weak", "password": "short", "firstName": "A", "lastName": "B"})),
    )
    .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert!(
        problem(weak).await["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["field"] == "password")
    );

    for i in 0..5 {
        app.add_user(
            &format!("u{i}"),
            accountd_domain::level::Role::EndUser {
                member: member("ApioSpTest", "ApioGrpTest", &format!("u{i}")),
            },
            None,
        );
    }
    let mut seen = Vec::new();
    let mut next: Option<i64> = None;
    loop {
        let path = match next {
            Some(after) => format!("{users}?limit=3&after={after}"),
            None => format!("{users}?limit=3"),
        };
        let page: Value = send(&app, &admin, reqwest::Method::GET, &path, None)
            .await
            .json()
            .await
            .unwrap();
        let items = page["users"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|u| u["userId"].as_str().unwrap().to_owned()));
        match page["next"].as_i64() {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["foouser", "newbie", "u0", "u1", "u2", "u3", "u4"]);
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, &format!("{users}?limit=0"), None)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let me = as_user(&app, "foouser").await;
    assert_eq!(
        send(&app, &me, reqwest::Method::GET, users, None).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &app,
            &admin,
            reqwest::Method::GET,
            "/api/v1/tenants/ApioSpTest/groups/Nope/users/",
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn the_location_of_a_created_user_is_percent_encoded() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let users = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/";
    let user_id = "Jane Doe+1%?#ü@example.com";
    let created = send(&app, &admin, reqwest::Method::POST, users, Some(json!({
        "userId": user_id, "username": "jane.doe", "password": "Fresh-Start-9x!", "firstName": "Jane", "lastName": "Doe"
    }))).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{users}Jane%20Doe%2B1%25%3F%23%C3%BC@example.com/"));
    // The Location names the created user.
    let fetched = send(&app, &admin, reqwest::Method::GET, &location, None).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.json::<Value>().await.unwrap()["firstName"], "Jane");
    let listed: Value = send(&app, &admin, reqwest::Method::GET, users, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["userId"] == user_id),
        "{listed}"
    );
}

#[actix_web::test]
async fn changes_go_to_the_application_server_all_or_nothing() {
    let app = spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        ..Spawn::default()
    })
    .await;
    let admin = as_user(&app, "admin").await;
    app.upstream.fail_next(UpstreamError::Timeout);
    let r = send(
        &app,
        &admin,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"firstName": "Late", "newPassword": "Another-Passw0rd!"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        send(&app, &admin, reqwest::Method::GET, FOOUSER, None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        seed_001_user()
    );
    assert_eq!(
        app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "password unchanged"
    );

    let r = send(
        &app,
        &admin,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"firstName": "Both", "newPassword": "Another-Passw0rd!"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.upstream.password_of("foouser").as_deref(),
        Some("Another-Passw0rd!")
    );
    assert_eq!(app.upstream.profile_changes_of("foouser").len(), 1);

    app.upstream.fail_next(UpstreamError::Rejected {
        details: "PIN refused".into(),
    });
    let pin = send(
        &app,
        &admin,
        reqwest::Method::PUT,
        FOOPIN,
        Some(json!({"pinCode": "5830"})),
    )
    .await;
    assert_eq!(pin.status(), StatusCode::BAD_GATEWAY);
    let pin = send(
        &app,
        &admin,
        reqwest::Method::PUT,
        FOOPIN,
        Some(json!({"pinCode": "5830"})),
    )
    .await;
    assert_eq!(pin.status(), StatusCode::OK);
    assert_eq!(app.upstream.pin_of("foouser").as_deref(), Some("5830"));
}

#[actix_web::test]
async fn every_change_is_audited_without_secrets() {
    let app = spawn_app().await;
    let admin = as_user(&app, "admin").await;
    let r = admin
        .0
        .put(app.url(FOOUSER))
        .header("X-XSRF-TOKEN", &admin.1)
        .header("X-Request-Id", "audit-me-1")
        .json(&json!({"firstName": "Audited", "newPassword": "Audited-Passw0rd!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me = as_user_with(&app, "foouser", "Audited-Passw0rd!").await;
    let denied = send(
        &app,
        &me,
        reqwest::Method::PUT,
        FOOUSER,
        Some(json!({"extension": "1"})),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    let foo = app
        .db
        .read(|r| r.user_by_username(&Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap();
    let events = app.db.read(|r| r.recent_audit(Some(foo.key), 20)).unwrap();
    let profile = events
        .iter()
        .find(|e| e.action == AuditAction::ProfileUpdate && e.request_id.as_deref() == Some("audit-me-1"))
        .expect("profile event");
    assert_eq!(profile.fields, ["firstName"]);
    assert_eq!(profile.actor_name.as_deref(), Some("admin"));
    assert!(events.iter().any(
        |e| e.action == AuditAction::PasswordChange && e.outcome == accountd_domain::records::AuditOutcome::Success
    ));
    assert!(events.iter().any(|e| e.action == AuditAction::ProfileUpdate
        && e.outcome == accountd_domain::records::AuditOutcome::Denied
        && e.fields == ["extension"]));
    let text = format!("{events:?}");
    assert!(!text.contains("Audited-Passw0rd!"), "no secret in the audit log");
}
