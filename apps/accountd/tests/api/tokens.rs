//! Personal API tokens and every credential in one list (issue 20): a user's token works on
//! SuperOffice's currentPrincipal, APIO's login info and the Axway GET, a `read` token is refused on a PUT with its
//! reason, a token stops working when revoked or expired, creation needs a recent proof, a level
//! in `tokens.levels` and a lifetime within `tokens.max_lifetime_days`; "everything but this
//! session" ends the other browser's session and every token; an administrator within scope lists
//! and revokes a user's tokens and sessions (audited), one out of scope is refused.

use crate::helpers::*;
use accountd_domain::ports::Store;
use accountd_domain::records::{AuditAction, AuditOutcome};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const TOKENS: &str = "/api/v1/session/tokens/";
const CREDENTIALS: &str = "/api/v1/session/credentials/";
const PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";
const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";

async fn kind_of(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["type"].as_str().unwrap_or_default().to_owned())
}

/// Creates a token for the browser's user; answers the creation's body (with `token`).
async fn create(browser: &Browser<'_>, name: &str, scope: &str, days: u32) -> Value {
    let created = browser
        .send(
            Method::POST,
            TOKENS,
            Some(json!({"name": name, "scope": scope, "expiresInDays": days})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json().await.expect("token")
}

async fn bearer(app: &TestApp, method: Method, path: &str, token: &Value, body: Option<Value>) -> Response {
    let mut request = app
        .fresh_client()
        .request(method, app.url(path))
        .bearer_auth(token["token"].as_str().unwrap_or_default());
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

#[actix_web::test]
async fn a_personal_token_works_on_every_dialect_within_its_scope_until_revoked_or_expired() {
    let app = spawn_app().await;
    let owner = Browser::sign_in(&app, "jbloggs").await;
    let full = create(&owner, "backup script", "full", 30).await;
    let read = create(&owner, "dashboard", "read", 1).await;
    assert_eq!(
        (full["scope"].as_str(), full["personal"].as_bool()),
        (Some("full"), Some(true))
    );
    assert!(full["token"].as_str().is_some_and(|t| t.len() > 30));
    assert!(full["expiresAt"].is_string() && !full["expired"].as_bool().unwrap_or(true));

    // Both read on every dialect.
    for token in [&full, &read] {
        let principal = bearer(&app, Method::GET, PRINCIPAL, token, None).await;
        assert_eq!(principal.status(), StatusCode::OK);
        let principal: Value = principal.json().await.unwrap();
        assert!(principal.to_string().contains("jbloggs"), "{principal}");
        let apio = bearer(&app, Method::GET, "/api/v1/session/user_login_info/", token, None).await;
        assert_eq!(apio.status(), StatusCode::OK);
        assert_eq!(apio.json::<Value>().await.unwrap()["username"], "jbloggs");
        let axway = bearer(&app, Method::GET, CURRENT_USER, token, None).await;
        assert_eq!(axway.status(), StatusCode::OK);
        assert_eq!(axway.json::<Value>().await.unwrap()["loginName"], "jbloggs");
    }
    // The read token may not change anything, and says why; the full one may.
    let before = bearer(&app, Method::GET, CURRENT_USER, &full, None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let change = json!({"name": "Joe Bloggs"});
    let refused = bearer(&app, Method::PUT, CURRENT_USER, &read, Some(change.clone())).await;
    assert_eq!(
        kind_of(refused).await,
        (StatusCode::FORBIDDEN, "urn:accountd:problem:read-only-token".to_owned())
    );
    let unchanged = bearer(&app, Method::GET, CURRENT_USER, &full, None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(unchanged, before, "nothing changed");
    let changed = bearer(&app, Method::PUT, CURRENT_USER, &full, Some(change)).await;
    assert_eq!(changed.status(), StatusCode::OK);

    // Listed with its last use, never with its secret.
    let listed = owner.get(TOKENS).await;
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t.get("token").is_none()));
    assert!(tokens.iter().all(|t| t["lastUsedAt"].is_string()), "{listed}");

    // Expired: a day and a second later the read token signs in no more.
    app.clock.advance_seconds(86_401);
    let late = bearer(&app, Method::GET, PRINCIPAL, &read, None).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    // (The day ended the browser's session too.)
    let owner = Browser::sign_in(&app, "jbloggs").await;
    let listed = owner.get(TOKENS).await;
    let expired: Vec<bool> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expired"].as_bool().unwrap())
        .collect();
    assert_eq!(expired, [true, false], "newest first");
    // What can't sign in is not in the list of what can.
    let names: Vec<String> = owner.get(CREDENTIALS).await["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "api_token")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["backup script"]);

    // Revoked: at once.
    let id = full["id"].as_i64().unwrap();
    let revoked = owner.send(Method::DELETE, &format!("{TOKENS}{id}/"), None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let gone = bearer(&app, Method::GET, CURRENT_USER, &full, None).await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    let again = owner.send(Method::DELETE, &format!("{TOKENS}{id}/"), None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn creating_a_token_needs_a_recent_proof_a_level_and_a_lifetime_within_bounds() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| {
            c.tokens.max_lifetime_days = 30;
            c.tokens.levels = vec![accountd_domain::level::UserLevel::EndUser];
        }),
        ..Spawn::default()
    })
    .await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let post = |body: Value| owner.send(Method::POST, TOKENS, Some(body));
    for (body, field) in [
        (
            json!({"name": "x", "scope": "full", "expiresInDays": 31}),
            "expiresInDays",
        ),
        (
            json!({"name": "x", "scope": "full", "expiresInDays": 0}),
            "expiresInDays",
        ),
        (json!({"name": "x", "scope": "admin", "expiresInDays": 1}), "scope"),
        (json!({"name": " ", "scope": "full", "expiresInDays": 1}), "name"),
    ] {
        let response = post(body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem: Value = response.json().await.unwrap();
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, [field], "{body}: {problem}");
    }
    let (status, _) = kind_of(post(json!({"name": "x", "scope": "full"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no lifetime");
    assert_eq!(owner.get(TOKENS).await["tokens"], json!([]), "nothing created");

    // Too long after the sign-in: prove it again first.
    app.clock.advance_seconds(301);
    let (status, kind) = kind_of(post(json!({"name": "x", "scope": "full", "expiresInDays": 1})).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "urn:accountd:problem:reauthentication-required"
        )
    );
    let proved = owner
        .send(
            Method::POST,
            "/api/v1/session/reauthenticate/",
            Some(json!({"password": DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(proved.status(), StatusCode::NO_CONTENT);
    create(&owner, "x", "full", 30).await;

    // A level not in tokens.levels may not.
    let admin = Browser::sign_in(&app, GROUP_ADMIN).await;
    let refused = admin
        .send(
            Method::POST,
            TOKENS,
            Some(json!({"name": "x", "scope": "full", "expiresInDays": 1})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Nor a token: tokens come from a session.
    let token = create(&owner, "y", "full", 1).await;
    let minted = bearer(
        &app,
        Method::POST,
        TOKENS,
        &token,
        Some(json!({"name": "z", "scope": "full", "expiresInDays": 1})),
    )
    .await;
    let (status, detail) = {
        let status = minted.status();
        let body: Value = minted.json().await.unwrap_or_default();
        (status, body["detail"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(detail.contains("from a signed-in session"), "{detail}");
    // Nor take the session's place to revoke everything.
    let everything = bearer(&app, Method::DELETE, CREDENTIALS, &token, None).await;
    assert_eq!(everything.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        bearer(&app, Method::GET, PRINCIPAL, &token, None).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn everything_but_this_session_ends_the_other_browser_and_every_token() {
    let app = spawn_app().await;
    let here = Browser::sign_in(&app, "foouser").await;
    let there = Browser::sign_in(&app, "foouser").await;
    let token = create(&here, "script", "full", 7).await;
    assert_eq!(
        bearer(&app, Method::GET, PRINCIPAL, &token, None).await.status(),
        StatusCode::OK
    );

    // One list: password, PIN, both sessions, the token, the recovery codes (none yet).
    let list = here.get(CREDENTIALS).await;
    let kinds: Vec<&str> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["password", "pin", "session", "session", "api_token"], "{list}");
    let current: Vec<&Value> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert!(
        current[0]["revoke"].is_null(),
        "the current session is ended by signing out"
    );
    let token_entry = &list["credentials"][4];
    assert_eq!(token_entry["revoke"]["method"], "DELETE");
    assert_eq!(token_entry["name"], "script");
    assert!(
        !list.to_string().contains(token["token"].as_str().unwrap()),
        "no secret"
    );

    let revoked = here.send(Method::DELETE, CREDENTIALS, None).await;
    assert_eq!(json_of(revoked).await, json!({"sessions": 1, "tokens": 1}));
    assert_eq!(app.get_info(&there.client).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bearer(&app, Method::GET, PRINCIPAL, &token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_info(&here.client).await.status(),
        StatusCode::OK,
        "this one stays"
    );
    let kinds: Vec<String> = here.get(CREDENTIALS).await["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["password", "pin", "session"]);
}

#[actix_web::test]
async fn an_administrator_within_scope_lists_and_revokes_a_users_tokens_and_sessions() {
    let app = spawn_app().await;
    let owner = Browser::sign_in(&app, "foouser").await;
    let token = create(&owner, "script", "read", 7).await;
    let admin = Browser::sign_in(&app, "admin").await;

    let tokens = admin.get(&format!("{FOOUSER}tokens/")).await;
    assert_eq!(tokens["tokens"][0]["name"], "script");
    assert!(tokens["tokens"][0].get("token").is_none());
    let sessions = admin.get(&format!("{FOOUSER}sessions/")).await;
    let session_id = sessions["sessions"][0]["id"].as_i64().unwrap();

    // Out of scope: another tenant's group admin; and the user themself is no administrator.
    let outsider = Browser::sign_in(&app, GROUP_ADMIN).await;
    let refused = outsider.send(Method::GET, &format!("{FOOUSER}tokens/"), None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = outsider
        .send(Method::DELETE, &format!("{FOOUSER}sessions/{session_id}/"), None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_info(&owner.client).await.status(), StatusCode::OK);
    // Outside their scope a missing user is 403 too: nothing about other tenants leaks.
    let nobody = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/nobody/";
    for (method, path) in [
        (Method::GET, format!("{nobody}tokens/")),
        (Method::GET, format!("{nobody}sessions/")),
        (Method::DELETE, format!("{nobody}tokens/1/")),
        (Method::DELETE, format!("{nobody}second_factors/")),
    ] {
        let refused = outsider.send(method.clone(), &path, None).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let missing = admin.send(method.clone(), &path, None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }

    let token_id = token["id"].as_i64().unwrap();
    let revoked = admin
        .send(Method::DELETE, &format!("{FOOUSER}tokens/{token_id}/"), None)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        bearer(&app, Method::GET, PRINCIPAL, &token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let ended = admin
        .send(Method::DELETE, &format!("{FOOUSER}sessions/{session_id}/"), None)
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_info(&owner.client).await.status(), StatusCode::UNAUTHORIZED);
    let missing = admin
        .send(Method::DELETE, &format!("{FOOUSER}tokens/{token_id}/"), None)
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let key = app
        .db
        .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse("foouser").unwrap()))
        .unwrap()
        .unwrap()
        .key;
    let events = app.db.read(|r| r.recent_audit(Some(key), 50)).unwrap();
    let has =
        |action: AuditAction, outcome: AuditOutcome| events.iter().any(|e| e.action == action && e.outcome == outcome);
    assert!(has(AuditAction::TokenCreate, AuditOutcome::Success));
    assert!(has(AuditAction::TokenRevoke, AuditOutcome::Success));
    assert!(has(AuditAction::SessionRevoke, AuditOutcome::Success));
    // The outsider's probes are in the audit log, without the user as subject (their timeline
    // would name another tenant's administrator to them).
    assert!(!has(AuditAction::SessionRevoke, AuditOutcome::Denied));
    let all = app.db.read(|r| r.recent_audit(None, 500)).unwrap();
    let probes: Vec<AuditAction> = all
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Denied && e.actor_name.as_deref() == Some(GROUP_ADMIN))
        .map(|e| e.action)
        .collect();
    assert!(probes.contains(&AuditAction::AccountRead), "{probes:?}");
    assert!(probes.contains(&AuditAction::SessionRevoke), "{probes:?}");
}
