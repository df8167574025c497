//! Clients PUT back what they GET: a member sent at its current value is no change, in every dialect,
//! and a PUT made only of current values changes nothing (no new version, no audit event, no
//! Application Server call). A member the caller may not change about themself is refused by name.

use crate::helpers::*;
use accountd_domain::ids::{DepartmentName, GroupId, TenantId, Username};
use accountd_domain::level::Role;
use accountd_domain::ports::Store;
use accountd_domain::user::{DepartmentKey, User};
use accountd_policy::mode::LoginMode;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const AXWAY: &str = "/api/portal/v1.3/currentuser/";
const LOGIN_INFO: &str = "/api/v1/session/user_login_info/";

/// An app in LOCAL_LOGIN_DEDICATED, so every profile change would reach the Application Server.
async fn dedicated_app() -> TestApp {
    spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        ..Spawn::default()
    })
    .await
}

async fn call(app: &TestApp, who: &str, method: Method, path: &str, body: Option<&Value>) -> Response {
    let mut request = app
        .fresh_client()
        .request(method, app.url(path))
        .basic_auth(who, Some(DEMO_PASSWORD));
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

fn stored(app: &TestApp, username: &str) -> User {
    app.db
        .read(|r| r.user_by_username(&Username::parse(username).unwrap()))
        .unwrap()
        .unwrap()
}

fn own_path(user: &User) -> String {
    let m = user.role.member().expect("a group member");
    user_path(m.tenant.as_str(), m.group.as_str(), m.user.as_str())
}

fn audit_events(app: &TestApp, user: &User) -> usize {
    app.db.read(|r| r.recent_audit(Some(user.key), 100)).unwrap().len()
}

/// The state a no-op must leave as it found: version, audit trail, Application Server calls.
fn snapshot(app: &TestApp, username: &str) -> (i64, usize, usize) {
    let user = stored(app, username);
    (user.version.0, audit_events(app, &user), app.upstream.calls().len())
}

/// A department admin of `test_department_parent_1`, placed in `test_department_initial` (below it).
fn department_admin(app: &TestApp) -> User {
    let department = |name: &str| DepartmentKey {
        tenant: TenantId::parse("ApioSpTest").unwrap(),
        group: Some(GroupId::parse("ApioGrpTest").unwrap()),
        name: DepartmentName::parse(name).unwrap(),
    };
    app.add_user(
        "deptadmin",
        Role::DepartmentAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "deptadmin"),
            department: DepartmentName::parse("test_department_parent_1").unwrap(),
        },
        Some(department("test_department_initial")),
    )
}

/// GET the caller's own seed 001 body and PUT it back, as is: 200, the same body, nothing changed.
async fn seed_001_round_trip(app: &TestApp, username: &str) -> Value {
    let path = own_path(&stored(app, username));
    let got = call(app, username, Method::GET, &path, None).await;
    assert_eq!(got.status(), StatusCode::OK, "GET as {username}");
    let etag = got.headers()["etag"].clone();
    let body: Value = got.json().await.unwrap();

    let before = snapshot(app, username);
    let put = call(app, username, Method::PUT, &path, Some(&body)).await;
    assert_eq!(put.status(), StatusCode::OK, "PUT back as {username}");
    assert_eq!(put.headers()["etag"], etag, "no new version for {username}");
    assert_eq!(put.json::<Value>().await.unwrap(), body);
    assert_eq!(
        snapshot(app, username),
        before,
        "no version, audit event or AS call for {username}"
    );
    body
}

#[actix_web::test]
async fn every_level_puts_back_its_own_seed_001_body() {
    let app = dedicated_app().await;
    department_admin(&app);
    for username in ["foouser", "deptadmin", GROUP_ADMIN] {
        let mut body = seed_001_round_trip(&app, username).await;

        // A real change beside the read-only members at their current values goes through.
        let path = own_path(&stored(&app, username));
        body["firstName"] = json!("Changed");
        let before = snapshot(&app, username);
        let put = call(&app, username, Method::PUT, &path, Some(&body)).await;
        assert_eq!(put.status(), StatusCode::OK, "{username}");
        let (version, events, calls) = snapshot(&app, username);
        assert_eq!(version, before.0 + 1);
        assert_eq!(events, before.1 + 1, "one audit event");
        assert_eq!(calls, before.2 + 1, "one Application Server call");
        assert_eq!(stored(&app, username).profile.first_name.as_str(), "Changed");
    }
}

#[actix_web::test]
async fn a_refused_member_is_named_and_nothing_changes() {
    let app = dedicated_app().await;
    let path = own_path(&stored(&app, "foouser"));
    let mut body: Value = call(&app, "foouser", Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    body["firstName"] = json!("Sneaky");
    body["phoneNumber"] = json!("+3225550000");
    body["networkClassOfService"] = json!("1");
    body["department"] = json!({"tenantId": "ApioSpTest", "groupId": "ApioGrpTest",
        "departmentName": "test_department_parent_1"});
    body["accessDeviceEndpoint"]["linePort"] = json!("other@sip.netaxis.be");
    let before = snapshot(&app, "foouser");
    let response = call(&app, "foouser", Method::PUT, &path, Some(&body)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem = problem(response).await;
    assert_eq!(problem["type"], "urn:accountd:problem:forbidden");
    let named: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [
            ("phoneNumber", "read_only"),
            ("department", "read_only"),
            ("networkClassOfService", "read_only"),
            ("accessDeviceEndpoint", "read_only"),
        ]
    );
    let (version, _, calls) = snapshot(&app, "foouser");
    assert_eq!(
        (version, calls),
        (before.0, before.2),
        "nothing changed, the AS not called"
    );
    assert_eq!(stored(&app, "foouser").profile.first_name.as_str(), "Test");
}

#[actix_web::test]
async fn the_seed_001_put_example_works_for_the_user_themself() {
    let app = spawn_app().await;
    let path = own_path(&stored(&app, "foouser"));
    // Seed 001's example (commas fixed), with foouser's real current password.
    let mut example = crate::profile::seed_001_put();
    example["oldPassword"] = json!(DEMO_PASSWORD);
    example["newPassword"] = json!("new_Test-passwd-2026");
    let response = call(&app, "foouser", Method::PUT, &path, Some(&example)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["lastName"], "Last Test PUT");
    assert_eq!(body["timeZone"], "Europe/Luxembourg");
    assert_eq!(body["department"]["departmentName"], "test_department_initial");
    assert_eq!(
        app.login("foouser", "new_Test-passwd-2026").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn axway_round_trips_for_a_user_and_an_administrator() {
    let app = dedicated_app().await;
    department_admin(&app);
    for username in ["jbloggs", "foouser", "deptadmin", GROUP_ADMIN] {
        let got: Value = call(&app, username, Method::GET, AXWAY, None)
            .await
            .json()
            .await
            .unwrap();
        let before = snapshot(&app, username);
        let put = call(&app, username, Method::PUT, AXWAY, Some(&got)).await;
        assert_eq!(put.status(), StatusCode::OK, "{username}");
        assert_eq!(put.json::<Value>().await.unwrap(), got);
        assert_eq!(snapshot(&app, username), before, "{username}: nothing changed");
    }
    // A read-only profile member is named by its Axway name, with the account members beside it.
    let mut body: Value = call(&app, "foouser", Method::GET, AXWAY, None)
        .await
        .json()
        .await
        .unwrap();
    body["phone"] = json!("+3225550000");
    let response = call(&app, "foouser", Method::PUT, AXWAY, Some(&body)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let refused = problem(response).await;
    assert_eq!(refused["errors"][0]["field"], "phone");
    assert_eq!(refused["errors"][0]["code"], "read_only");
    body["role"] = json!("admin");
    let refused = problem(call(&app, "foouser", Method::PUT, AXWAY, Some(&body)).await).await;
    let named: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["role", "phone"]);
}

#[actix_web::test]
async fn seed_000_puts_back_its_own_profile_members() {
    let app = dedicated_app().await;
    for username in ["foouser", GROUP_ADMIN, "admin"] {
        let got: Value = call(&app, username, Method::GET, LOGIN_INFO, None)
            .await
            .json()
            .await
            .unwrap();
        let profile = &got["profile"];
        let body = json!({
            "first_name": profile["first_name"],
            "last_name": profile["last_name"],
            "emailAddress": profile["emailAddress"],
        });
        let before = snapshot(&app, username);
        let put = call(&app, username, Method::PUT, LOGIN_INFO, Some(&body)).await;
        assert_eq!(put.status(), StatusCode::OK, "{username}");
        assert_eq!(put.json::<Value>().await.unwrap(), got, "{username}");
        assert_eq!(snapshot(&app, username), before, "{username}: nothing changed");
    }
}
