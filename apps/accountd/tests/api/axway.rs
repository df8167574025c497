//! Seed 003 replayed: the Axway API Portal's current user, `GET`/`PUT` field by field, read-only
//! members, the self-editing policy, and `changepassword` with a form body.

use crate::helpers::*;
use crate::superoffice::assert_same_shape;
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";
pub const CHANGE_PASSWORD: &str = "/api/portal/v1.3/currentuser/changepassword";

/// Seed 003's example `User`, verbatim (request and response are the same).
fn seed_003_user() -> Value {
    json!({
        "id" : "2be9fc6e-1110-474f-8029-bf1577ec3801",
        "organizationId" : "6fb4bd38-199a-4e9f-8c11-43233f530d82",
        "name" : "New User",
        "description" : "Created by admin",
        "loginName" : "jbloggs",
        "email" : "jbloggs@acmecorp.com",
        "phone" : "+353 (1) 6742000",
        "mobile" : "+353 (89) 6742087",
        "role" : "user",
        "image" : "resources/photo.jpg",
        "enabled" : true,
        "createdOn" : 1367337125476i64,
        "state" : "approved",
        "type" : "internal",
        "authAttrs" : null,
        "surname" : "User",
        "dn" : null
    })
}

/// The organization of a tenant, computed here independently of the server.
pub fn organization_of(tenant: &str) -> uuid::Uuid {
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"urn:accountd:organization");
    uuid::Uuid::new_v5(&namespace, format!("tenant:{tenant}").as_bytes())
}

pub fn as_user(request: RequestBuilder, username: &str, password: &str) -> RequestBuilder {
    request.basic_auth(username, Some(password))
}

pub async fn get_user(app: &TestApp, username: &str, password: &str) -> Response {
    as_user(app.fresh_client().get(app.url(CURRENT_USER)), username, password)
        .send()
        .await
        .unwrap()
}

pub async fn get_user_ok(app: &TestApp, username: &str, password: &str) -> Value {
    let response = get_user(app, username, password).await;
    assert_eq!(response.status(), StatusCode::OK, "GET currentuser as {username}");
    response.json().await.unwrap()
}

pub async fn put_user(app: &TestApp, username: &str, password: &str, body: &Value) -> Response {
    as_user(app.fresh_client().put(app.url(CURRENT_USER)), username, password)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn change_password(app: &TestApp, username: &str, password: &str, form: &[(&str, &str)]) -> Response {
    as_user(app.fresh_client().post(app.url(CHANGE_PASSWORD)), username, password)
        .form(form)
        .send()
        .await
        .unwrap()
}

fn jbloggs(app: &TestApp) -> accountd_domain::user::User {
    app.db
        .read(|r| r.user_by_username(&Username::parse("jbloggs").unwrap()))
        .unwrap()
        .unwrap()
}

#[actix_web::test]
async fn get_replays_seed_003_for_jbloggs() {
    replay_seed_003_get(&spawn_app().await).await;
}

/// The same on PostgreSQL: a user without a second factor sees the seed there too.
#[actix_web::test]
async fn get_replays_seed_003_for_jbloggs_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        replay_seed_003_get(&app).await;
    }
}

async fn replay_seed_003_get(app: &TestApp) {
    let response = get_user(app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_same_shape(&seed_003_user(), &body, "User");

    let user = jbloggs(app);
    let mut expected = seed_003_user();
    expected["id"] = json!(user.uuid.to_string());
    expected["organizationId"] = json!(organization_of("AcmeCorp").to_string());
    expected["createdOn"] = json!(user.created_at.as_millis());
    assert_eq!(body, expected, "every other member is the seed's");
}

#[actix_web::test]
async fn roles_and_organizations_follow_the_user() {
    let app = spawn_app().await;
    let admin = get_user_ok(&app, "admin", DEMO_PASSWORD).await;
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["name"], "System Administrator");
    assert_eq!(admin["email"], Value::Null, "no address");
    let group_admin = get_user_ok(&app, GROUP_ADMIN, DEMO_PASSWORD).await;
    assert_eq!(group_admin["role"], "oadmin");
    assert_eq!(group_admin["organizationId"], organization_of("Pie").to_string());
    let foouser = get_user_ok(&app, "foouser", DEMO_PASSWORD).await;
    assert_eq!(foouser["role"], "user");
    assert_eq!(foouser["organizationId"], organization_of("ApioSpTest").to_string());
    assert_eq!(foouser["surname"], "Test");
    assert_ne!(admin["organizationId"], foouser["organizationId"]);
}

#[actix_web::test]
async fn put_back_what_get_gave_changes_nothing_and_answers_the_user() {
    let app = spawn_app().await;
    let before = jbloggs(&app);
    let body = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), body);
    assert_eq!(jbloggs(&app).version, before.version, "no write for no change");
}

#[actix_web::test]
async fn put_changes_what_a_user_may_change_about_themself() {
    let app = spawn_app().await;
    let mut body = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    body["name"] = json!("Joe Bloggs");
    body["surname"] = json!("Bloggs");
    body["email"] = json!("joe.bloggs@acmecorp.com");
    body["mobile"] = json!("+353 (87) 1234567");
    body["description"] = json!("Changed by himself");
    body["image"] = json!("resources/joe.png");
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), body);
    assert_eq!(get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await, body);
    let user = jbloggs(&app);
    assert_eq!(user.profile.first_name.as_str(), "Joe");
    assert_eq!(user.profile.last_name.as_str(), "Bloggs");

    // A new full name with the surname left as it is: the last word is the last name.
    let mut partial = json!({"name": "Mary Ann Smith"});
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &partial).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["name"], "Mary Ann Smith");
    assert_eq!(answer["surname"], "Smith");
    assert_eq!(answer["email"], "joe.bloggs@acmecorp.com", "absent members are kept");

    // "" removes the address.
    partial = json!({"email": ""});
    let answer: Value = put_user(&app, "jbloggs", DEMO_PASSWORD, &partial)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["email"], Value::Null);
}

#[actix_web::test]
async fn the_seeds_request_verbatim_is_refused_for_another_users_ids() {
    let app = spawn_app().await;
    let before = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &seed_003_user()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = problem(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "organizationId", "createdOn"]);
    assert_eq!(get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await, before);
}

#[actix_web::test]
async fn changing_read_only_members_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let before = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    let version = jbloggs(&app).version;
    let changes: [(&str, Value); 10] = [
        ("id", json!(uuid::Uuid::new_v4().to_string())),
        ("organizationId", json!(organization_of("Pie").to_string())),
        ("loginName", json!("jbloggs2")),
        ("role", json!("admin")),
        ("enabled", json!(false)),
        ("state", json!("pending")),
        ("createdOn", json!(0)),
        ("type", json!("external")),
        ("authAttrs", json!({"a": 1})),
        ("dn", json!("cn=jbloggs")),
    ];
    for (member, value) in &changes {
        let mut body = before.clone();
        body[*member] = value.clone();
        body["name"] = json!("Sneaky Change");
        let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{member}");
        let problem = problem(response).await;
        assert_eq!(problem["type"], "urn:accountd:problem:forbidden");
        assert_eq!(problem["errors"][0]["field"], *member);
        assert_eq!(problem["errors"][0]["code"], "read_only");
    }
    // Several at once are all named.
    let mut body = before.clone();
    body["role"] = json!("oadmin");
    body["enabled"] = json!(false);
    body["state"] = json!("rejected");
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem = problem(response).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["role", "enabled", "state"]);

    assert_eq!(
        get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await,
        before,
        "nothing changed"
    );
    assert_eq!(jbloggs(&app).version, version);
}

#[actix_web::test]
async fn phone_is_the_telephony_number_only_administrators_change() {
    let app = spawn_app().await;
    let before = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    let mut body = before.clone();
    body["phone"] = json!("+353 (1) 0000000");
    body["description"] = json!("also this");
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    problem(response).await;
    assert_eq!(
        get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await,
        before,
        "nothing changed"
    );

    // System may change everything about itself, its phone included.
    let mut admin = get_user_ok(&app, "admin", DEMO_PASSWORD).await;
    admin["phone"] = json!("+32 2 123 45 67");
    let response = put_user(&app, "admin", DEMO_PASSWORD, &admin).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["phone"], "+32 2 123 45 67");
}

#[actix_web::test]
async fn bad_bodies_are_400_naming_every_problem() {
    let app = spawn_app().await;
    let before = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    let mut body = before.clone();
    body["email"] = json!("not-an-address");
    body["mobile"] = json!("call me");
    body["description"] = json!("x".repeat(300));
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem_body = problem(response).await;
    let fields: Vec<&str> = problem_body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["description", "email", "mobile"]);

    for (bad, what) in [
        (json!({"name": "Cher"}), "a name without a last name"),
        (
            json!({"name": "Jane Roe", "surname": "Smith"}),
            "a name that does not end with the new surname",
        ),
        (json!({"nickname": "jb"}), "an unknown member"),
        (json!({"enabled": "yes"}), "a wrong type"),
        (json!({"id": "not-a-uuid"}), "a malformed id"),
    ] {
        let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        problem(response).await;
    }
    assert_eq!(
        get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await,
        before,
        "nothing changed"
    );
}

#[actix_web::test]
async fn session_callers_need_the_xsrf_token_to_put() {
    let app = spawn_app().await;
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "jbloggs").await;
    let body = json!({"description": "via the portal"});
    let refused = client.put(app.url(CURRENT_USER)).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(refused).await["type"], "urn:accountd:problem:xsrf");
    let ok = client
        .put(app.url(CURRENT_USER))
        .header("X-XSRF-TOKEN", &xsrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["description"], "via the portal");
    // And the path without its trailing slash is the same resource.
    let get = client
        .get(app.url(CURRENT_USER.trim_end_matches('/')))
        .send()
        .await
        .unwrap();
    assert_eq!(get.json::<Value>().await.unwrap()["description"], "via the portal");
}

#[actix_web::test]
async fn unauthenticated_callers_get_401_everywhere() {
    let app = spawn_app().await;
    let client = app.fresh_client();
    for request in [
        client.get(app.url(CURRENT_USER)),
        client.put(app.url(CURRENT_USER)).json(&json!({})),
        client
            .post(app.url(CHANGE_PASSWORD))
            .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", "Fresh-Passw0rd!7")]),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
        problem(response).await;
    }
    let delete = client.delete(app.url(CURRENT_USER)).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn changepassword_round_trip() {
    let app = spawn_app().await;
    let new_password = "Fresh-Passw0rd!7";

    let wrong = change_password(
        &app,
        "jbloggs",
        DEMO_PASSWORD,
        &[("oldPassword", "Not-The-0ld!"), ("newPassword", new_password)],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(wrong).await["type"], "urn:accountd:problem:wrong-secret");

    let weak = change_password(
        &app,
        "jbloggs",
        DEMO_PASSWORD,
        &[("oldPassword", DEMO_PASSWORD), ("newPassword", "short")],
    )
    .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let body = problem(weak).await;
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "password_too_short",
        "password_min_uppercase",
        "password_min_digits",
        "password_min_special",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["field"] == "newPassword")
    );

    let missing = change_password(&app, "jbloggs", DEMO_PASSWORD, &[]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body = problem(missing).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["oldPassword", "newPassword"]);

    let json_body = as_user(
        app.fresh_client().post(app.url(CHANGE_PASSWORD)),
        "jbloggs",
        DEMO_PASSWORD,
    )
    .json(&json!({"oldPassword": DEMO_PASSWORD, "newPassword": new_password}))
    .send()
    .await
    .unwrap();
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let unknown = change_password(
        &app,
        "jbloggs",
        DEMO_PASSWORD,
        &[
            ("oldPassword", DEMO_PASSWORD),
            ("newPassword", new_password),
            ("extra", "x"),
        ],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    // Nothing of the above changed the password.
    assert_eq!(
        app.login_with(&app.fresh_client(), "jbloggs", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    // The seed's `id` parameter is accepted and ignored.
    let changed = change_password(
        &app,
        "jbloggs",
        DEMO_PASSWORD,
        &[
            ("id", "2be9fc6e-1110-474f-8029-bf1577ec3801"),
            ("oldPassword", DEMO_PASSWORD),
            ("newPassword", new_password),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert!(changed.bytes().await.unwrap().is_empty());

    assert_eq!(
        get_user(&app, "jbloggs", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get_user(&app, "jbloggs", new_password).await.status(), StatusCode::OK);
    assert_eq!(
        app.login_with(&app.fresh_client(), "jbloggs", new_password)
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn changepassword_keeps_the_callers_session_and_ends_the_others() {
    let app = spawn_app().await;
    let other = app.fresh_client();
    app.login_ok(&other, "jbloggs").await;
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "jbloggs").await;
    let form = [("oldPassword", DEMO_PASSWORD), ("newPassword", "Fresh-Passw0rd!7")];
    let refused = client.post(app.url(CHANGE_PASSWORD)).form(&form).send().await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a session caller needs the XSRF token"
    );
    let changed = client
        .post(app.url(CHANGE_PASSWORD))
        .header("X-XSRF-TOKEN", &xsrf)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        client.get(app.url(CURRENT_USER)).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        other.get(app.url(CURRENT_USER)).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
