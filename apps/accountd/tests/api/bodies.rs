//! The JSON request bodies of every route, read by the one extractor of the HTTP layer: a body must
//! be a JSON object, and a member that can't be read is named (not its value) in `errors[]`.

use crate::helpers::*;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const LOGIN: &str = "/api/v1/login/";
const LOGIN_INFO: &str = "/api/v1/session/user_login_info/";
const LOGIN_INFO_DEPRECATED: &str = "/api/v1/session/login_info/";
const USERS: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/";
const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";
const FOOPIN: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/pincode/";
const GHOST: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/ghost/";
const AXWAY: &str = "/api/portal/v1.3/currentuser/";
const PROFILE: &str = "/api/v1/session/profile/";
const PASSWORD_POLICY: &str = "/api/v1/session/password_policy/";
const PINCODE_POLICY: &str = "/api/v1/session/pincode_policy/";

async fn as_admin(app: &TestApp) -> (Client, String) {
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "admin").await;
    (client, xsrf)
}

/// `body` as sent, with `Content-Type: application/json`.
async fn send_raw(app: &TestApp, who: &(Client, String), method: Method, path: &str, body: &str) -> Response {
    who.0
        .request(method, app.url(path))
        .header("X-XSRF-TOKEN", &who.1)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

async fn state(app: &TestApp, who: &(Client, String)) -> (Value, Value, Value) {
    let get = |path: &'static str| async move {
        let r = who.0.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json::<Value>().await.unwrap()
    };
    (get(FOOUSER).await, get(FOOPIN).await, get(AXWAY).await)
}

#[actix_web::test]
async fn a_member_of_the_wrong_type_is_named_not_its_value() {
    let app = spawn_app().await;
    let admin = as_admin(&app).await;
    let before = state(&app, &admin).await;
    let new_user = |extra: &str| {
        format!(r#"{{"userId": "newbie", "password": "Fresh-Start-9x!", "firstName": "A", "lastName": "B"{extra}}}"#)
    };
    let cases = [
        // Seed 001's PIN PUT with a number for the PIN.
        (Method::PUT, FOOPIN, r#"{"pinCode": 123456}"#.to_owned(), "pinCode"),
        (
            Method::PUT,
            FOOPIN,
            r#"{"oldPinCode": 987654, "pinCode": "1357"}"#.into(),
            "oldPinCode",
        ),
        (
            Method::PUT,
            FOOPIN,
            r#"{"expirationDays": "30"}"#.into(),
            "expirationDays",
        ),
        (
            Method::PUT,
            FOOPIN,
            r#"{"loginDisabled": "yes"}"#.into(),
            "loginDisabled",
        ),
        // Seed 001's PUT: its profile members are read through a flattened struct.
        (Method::PUT, FOOUSER, r#"{"firstName": 5}"#.into(), "firstName"),
        (
            Method::PUT,
            FOOUSER,
            r#"{"lastName": "Doe", "timeZone": 1}"#.into(),
            "timeZone",
        ),
        (
            Method::PUT,
            FOOUSER,
            r#"{"newPassword": 12345678}"#.into(),
            "newPassword",
        ),
        (
            Method::PUT,
            FOOUSER,
            r#"{"department": {"tenantId": 5, "departmentName": "d"}}"#.into(),
            "department",
        ),
        (Method::POST, USERS, new_user(r#", "userLevel": "8""#), "userLevel"),
        (Method::POST, USERS, new_user(r#", "emailAddress": 5"#), "emailAddress"),
        (
            Method::POST,
            USERS,
            r#"{"userId": 7, "password": "Fresh-Start-9x!", "firstName": "A", "lastName": "B"}"#.into(),
            "userId",
        ),
        // Seed 000's PUT, and its deprecated alias.
        (Method::PUT, LOGIN_INFO, r#"{"first_name": 5}"#.into(), "first_name"),
        (
            Method::PUT,
            LOGIN_INFO_DEPRECATED,
            r#"{"emailAddress": true}"#.into(),
            "emailAddress",
        ),
        // Seed 003's PUT.
        (Method::PUT, AXWAY, r#"{"enabled": "yes"}"#.into(), "enabled"),
        (Method::PUT, AXWAY, r#"{"createdOn": "yesterday"}"#.into(), "createdOn"),
        // The account page's resources.
        (Method::PUT, PROFILE, r#"{"mobile": 32470000000}"#.into(), "mobile"),
        (
            Method::POST,
            PASSWORD_POLICY,
            r#"{"newPassword": 1}"#.into(),
            "newPassword",
        ),
        (Method::POST, PINCODE_POLICY, r#"{"pinCode": 1234}"#.into(), "pinCode"),
        // DELETE's optional body.
        (
            Method::DELETE,
            FOOUSER,
            r#"{"delete_devices": "yes"}"#.into(),
            "delete_devices",
        ),
        (
            Method::DELETE,
            FOOUSER,
            r#"{"_excludedAppIds": "a,b"}"#.into(),
            "_excludedAppIds",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = send_raw(&app, &admin, method.clone(), path, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path} {body}");
        let problem = problem(r).await;
        assert_eq!(fields(&problem), [field], "{method} {path} {body}: {problem}");
        assert!(
            problem["details"].as_str().unwrap().contains(field),
            "{method} {path} {body}: {problem}"
        );
    }
    let login = app
        .fresh_client()
        .post(app.url(LOGIN))
        .json(&json!({"username": 5, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&problem(login).await), ["username"]);

    assert_eq!(state(&app, &admin).await, before, "nothing changed");
}

#[actix_web::test]
async fn an_array_is_refused_where_the_contract_says_object() {
    let app = spawn_app().await;
    // serde's derived structs read an array member by member: this logged in.
    let login = app
        .fresh_client()
        .post(app.url(LOGIN))
        .json(&json!([GROUP_ADMIN, DEMO_PASSWORD, null, null]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::BAD_REQUEST);
    assert!(cookie(&login, "sessionid").is_none());
    let body = problem(login).await;
    assert!(body["details"].as_str().unwrap().contains("JSON object"), "{body}");

    let admin = as_admin(&app).await;
    let before = state(&app, &admin).await;
    let routes = [
        (Method::POST, LOGIN),
        (Method::PUT, LOGIN_INFO),
        (Method::PUT, LOGIN_INFO_DEPRECATED),
        (Method::POST, USERS),
        (Method::PUT, FOOUSER),
        (Method::DELETE, GHOST),
        (Method::PUT, FOOPIN),
        (Method::PUT, AXWAY),
        (Method::PUT, PROFILE),
        (Method::POST, PASSWORD_POLICY),
        (Method::POST, PINCODE_POLICY),
    ];
    for (method, path) in routes {
        for body in [
            "[]",
            r#"["newbie", "Fresh-Start-9x!", null, null, null]"#,
            "[false, null]",
            r#" ["Jane", "Doe", null]"#,
            r#""jbloggs""#,
            "42",
            "null",
        ] {
            let r = send_raw(&app, &admin, method.clone(), path, body).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path} {body}");
            let problem = problem(r).await;
            assert!(
                problem["details"].as_str().unwrap().contains("JSON object"),
                "{method} {path} {body}: {problem}"
            );
        }
    }
    assert_eq!(state(&app, &admin).await, before, "nothing changed");
}

/// Found by the property tests (tests/api/fuzz.rs): DELETE reads its optional body as bytes, and a
/// body over `http.max_body_bytes` was actix's plain-text 413 (`payload reached size limit`), not
/// a problem. Every route's oversized body is the same 413 problem, DELETE's too.
#[actix_web::test]
async fn an_oversized_body_is_a_413_problem_on_every_route() {
    let app = spawn_app().await;
    let admin = as_admin(&app).await;
    let before = state(&app, &admin).await;
    let limit = app.config.http.max_body_bytes;
    let oversized = format!(r#"{{"delete_devices": true, "x": "{}"}}"#, "a".repeat(limit));
    for (method, path) in [
        (Method::DELETE, FOOUSER),
        (Method::PUT, FOOUSER),
        (Method::PUT, FOOPIN),
        (Method::PUT, PROFILE),
    ] {
        let r = send_raw(&app, &admin, method.clone(), path, &oversized).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}");
        let problem = problem(r).await;
        assert_eq!(problem["status"], 413, "{method} {path}: {problem}");
    }
    assert_eq!(state(&app, &admin).await, before, "nothing changed");
}
