//! One user, three dialects: a name, an e-mail address and a password changed through each dialect
//! that can change them (APIO `PUT user_login_info`, Axway `PUT currentuser` and `changepassword`)
//! are read back through the other two (SuperOffice is read-only: it reads, and signs in with Basic).

use crate::axway::{change_password, get_user_ok, put_user};
use crate::helpers::*;
use crate::superoffice::{PRINCIPAL, principal_basic};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What each dialect shows of one person.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    first: String,
    last: String,
    full: String,
    email: Option<String>,
}

/// jbloggs through APIO (a fresh session, which also proves `password` logs in there).
async fn through_apio(app: &TestApp, password: &str) -> Seen {
    let client = app.fresh_client();
    let login = app.login_with(&client, "jbloggs", password).await;
    assert_eq!(login.status(), StatusCode::OK, "APIO login with {password}");
    let body: Value = app.get_info(&client).await.json().await.unwrap();
    let profile = &body["profile"];
    let first = profile["first_name"].as_str().unwrap().to_owned();
    let last = profile["last_name"].as_str().unwrap().to_owned();
    Seen {
        full: format!("{first} {last}"),
        first,
        last,
        email: profile["emailAddress"].as_str().map(str::to_owned),
    }
}

/// jbloggs through Axway (Basic).
async fn through_axway(app: &TestApp, password: &str) -> Seen {
    let body = get_user_ok(app, "jbloggs", password).await;
    let full = body["name"].as_str().unwrap().to_owned();
    let last = body["surname"].as_str().unwrap().to_owned();
    let first = full
        .strip_suffix(&last)
        .and_then(|f| f.strip_suffix(' '))
        .expect("the full name ends with the surname")
        .to_owned();
    Seen {
        first,
        last,
        full,
        email: body["email"].as_str().map(str::to_owned),
    }
}

/// What SuperOffice shows (Basic): the full name and the address ("" when none).
async fn through_superoffice(app: &TestApp, password: &str) -> (String, String) {
    let response = principal_basic(app, "jbloggs", password).await;
    assert_eq!(response.status(), StatusCode::OK, "SuperOffice Basic with {password}");
    let body: Value = response.json().await.unwrap();
    (
        body["FullName"].as_str().unwrap().to_owned(),
        body["EMailAddress"].as_str().unwrap().to_owned(),
    )
}

/// The three dialects agree, on `expected`.
async fn assert_everywhere(app: &TestApp, password: &str, expected: &Seen) {
    assert_eq!(&through_apio(app, password).await, expected, "APIO");
    assert_eq!(&through_axway(app, password).await, expected, "Axway");
    let (full, email) = through_superoffice(app, password).await;
    assert_eq!(full, expected.full, "SuperOffice FullName");
    assert_eq!(
        Some(email).filter(|e| !e.is_empty()),
        expected.email,
        "SuperOffice EMailAddress"
    );
}

fn seen(first: &str, last: &str, email: Option<&str>) -> Seen {
    Seen {
        first: first.into(),
        last: last.into(),
        full: format!("{first} {last}"),
        email: email.map(str::to_owned),
    }
}

#[actix_web::test]
async fn names_and_addresses_changed_in_one_dialect_are_seen_in_the_others() {
    let app = spawn_app().await;
    assert_everywhere(&app, DEMO_PASSWORD, &seen("New", "User", Some("jbloggs@acmecorp.com"))).await;

    // Through APIO.
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "jbloggs").await;
    let response = app
        .put_info(
            &client,
            Some(&xsrf),
            &json!({"first_name": "Joe", "last_name": "Bloggs", "emailAddress": "joe@acmecorp.com"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_everywhere(&app, DEMO_PASSWORD, &seen("Joe", "Bloggs", Some("joe@acmecorp.com"))).await;

    // Through Axway: the GET body with a new name, surname and address.
    let mut body = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    body["name"] = json!("Jane Q. Roe");
    body["surname"] = json!("Roe");
    body["email"] = json!("jane.roe@acmecorp.com");
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_everywhere(
        &app,
        DEMO_PASSWORD,
        &seen("Jane Q.", "Roe", Some("jane.roe@acmecorp.com")),
    )
    .await;

    // Removing the address through APIO, then setting it again through Axway.
    let response = app.put_info(&client, Some(&xsrf), &json!({"emailAddress": ""})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_everywhere(&app, DEMO_PASSWORD, &seen("Jane Q.", "Roe", None)).await;
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &json!({"email": "back@acmecorp.com"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_everywhere(&app, DEMO_PASSWORD, &seen("Jane Q.", "Roe", Some("back@acmecorp.com"))).await;
}

#[actix_web::test]
async fn a_password_changed_through_axway_signs_in_everywhere() {
    let app = spawn_app().await;
    let first = "Fresh-Passw0rd!7";
    let changed = change_password(
        &app,
        "jbloggs",
        DEMO_PASSWORD,
        &[("oldPassword", DEMO_PASSWORD), ("newPassword", first)],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let expected = seen("New", "User", Some("jbloggs@acmecorp.com"));
    assert_everywhere(&app, first, &expected).await;
    // The old one works nowhere.
    assert_eq!(
        app.login_with(&app.fresh_client(), "jbloggs", DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        principal_basic(&app, "jbloggs", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Again, this time from a session opened through APIO (with its XSRF token), and the name
    // change through Axway and password change are seen by SuperOffice through a SoTicket.
    let client = app.fresh_client();
    let login = app.login_with(&client, "jbloggs", first).await;
    let xsrf = cookie(&login, "XSRF-TOKEN").unwrap();
    let second = "Second-Passw0rd!8";
    let changed = client
        .post(app.url(crate::axway::CHANGE_PASSWORD))
        .header("X-XSRF-TOKEN", &xsrf)
        .form(&[("oldPassword", first), ("newPassword", second)])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let session_id = cookie(&login, "sessionid").unwrap();
    let ticket: Value = app
        .fresh_client()
        .get(app.url(PRINCIPAL))
        .header("Authorization", format!("SoTicket {session_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ticket["UserName"], "jbloggs",
        "the caller's own session survives its change"
    );
    assert_everywhere(&app, second, &expected).await;
    assert_eq!(
        principal_basic(&app, "jbloggs", first).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A name stored before invisible characters were refused (bidi overrides, zero-width characters)
/// still reads back in every dialect, as stored; a new value holding one is refused by name.
#[actix_web::test]
async fn stored_invisible_characters_read_back_but_new_ones_are_refused() {
    let app = spawn_app().await;
    // As an older version stored it: "John" + RIGHT-TO-LEFT OVERRIDE + "gnp.exe", and a
    // zero-width space in the last name, the CLI name and the description.
    app.db
        .execute_raw(
            "UPDATE users SET first_name = 'John' || char(8238) || 'gnp.exe', \
             last_name = 'Blo' || char(8203) || 'ggs', cli_first_name = 'J' || char(8294) || 'B', \
             description = 'x' || char(65279) WHERE username = 'jbloggs'",
        )
        .unwrap();
    let first = "John\u{202E}gnp.exe";
    let last = "Blo\u{200B}ggs";

    let seen = through_apio(&app, DEMO_PASSWORD).await;
    assert_eq!((seen.first.as_str(), seen.last.as_str()), (first, last));
    let axway = get_user_ok(&app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(axway["name"], format!("{first} {last}"));
    let principal = principal_basic(&app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(principal.status(), StatusCode::OK);
    let own = app
        .fresh_client()
        .get(app.url("/api/v1/session/profile/"))
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.json::<Value>().await.unwrap()["firstName"], first);
    // An administrator lists the group and reads the user (the list maps every row).
    let users = app
        .fresh_client()
        .get(app.url("/api/v1/tenants/AcmeCorp/groups/AcmeGroup/users/"))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    let seed_001 = user_path("AcmeCorp", "AcmeGroup", "jbloggs");
    let admin = |method: reqwest::Method| {
        app.fresh_client()
            .request(method, app.url(&seed_001))
            .basic_auth("admin", Some(DEMO_PASSWORD))
    };
    let user: Value = admin(reqwest::Method::GET).send().await.unwrap().json().await.unwrap();
    assert_eq!(user["firstName"], first);
    assert_eq!(user["cliFirstName"], "J\u{2066}B");

    // New values: refused with the field named, and nothing changed.
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "jbloggs").await;
    for (body, field) in [
        (json!({"first_name": "Jo\u{200B}hn"}), "first_name"),
        (json!({"last_name": "\u{202E}sggolB"}), "last_name"),
    ] {
        let response = app.put_info(&client, Some(&xsrf), &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let body = problem(response).await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["errors"][0]["code"], "invisible_character", "{body}");
    }
    let response = admin(reqwest::Method::PUT)
        .json(&json!({"firstName": "John", "cliFirstName": "J\u{FEFF}B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = problem(response).await;
    assert_eq!(body["errors"][0]["field"], "cliFirstName", "{body}");
    assert_eq!(body["errors"][0]["code"], "invisible_character", "{body}");
    let mut renamed = axway.clone();
    renamed["name"] = json!(format!("Jo\u{2066}hn {last}"));
    let response = put_user(&app, "jbloggs", DEMO_PASSWORD, &renamed).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = problem(response).await;
    assert_eq!(body["errors"][0]["field"], "name", "{body}");
    assert_eq!(body["errors"][0]["code"], "invisible_character", "{body}");
    let seen = through_apio(&app, DEMO_PASSWORD).await;
    assert_eq!((seen.first.as_str(), seen.last.as_str()), (first, last), "unchanged");
    // A clean name replaces the spoofed one.
    let response = app.put_info(&client, Some(&xsrf), &json!({"first_name": "John"})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn unknown_time_zones_are_refused_but_stored_ones_stay_readable() {
    let app = spawn_app().await;
    let foouser = user_path("ApioSpTest", "ApioGrpTest", "foouser");
    let put = |body: Value| {
        let request = app
            .fresh_client()
            .put(app.url(&foouser))
            .basic_auth("admin", Some(DEMO_PASSWORD))
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    // A zone the tz database does not know, of the right shape: 400 naming the field.
    let response = put(json!({"timeZone": "Mars/Olympus_Mons"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(response).await["errors"][0]["field"], "timeZone");
    let response = app
        .fresh_client()
        .put(app.url("/api/v1/session/profile/"))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .json(&json!({"timeZone": "Mars/Olympus_Mons"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(response).await["errors"][0]["field"], "timeZone");
    assert_eq!(
        put(json!({"timeZone": "Europe/Luxembourg"})).await.status(),
        StatusCode::OK
    );

    // Stored by an older version, before either rule: every dialect still reads the user.
    app.db
        .execute_raw(
            "UPDATE users SET time_zone = 'Mars/Olympus_Mons', email = 'jöns@example.com' \
             WHERE username = 'foouser'",
        )
        .unwrap();
    let got = app
        .fresh_client()
        .get(app.url(&foouser))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let body: Value = got.json().await.unwrap();
    assert_eq!(body["timeZone"], "Mars/Olympus_Mons");
    assert_eq!(body["emailAddress"], "jöns@example.com");
    assert_eq!(app.login("foouser", DEMO_PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        get_user_ok(&app, "foouser", DEMO_PASSWORD).await["email"],
        "jöns@example.com"
    );
    assert_eq!(
        principal_basic(&app, "foouser", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
    // Seed 001 validates every member it is sent as a new value (docs/security.md): PUT back as
    // read, the old values are named (a 4xx the client can act on, never a 5xx), nothing changes;
    // with valid ones instead, the change goes through.
    let mut back = body.clone();
    back["firstName"] = json!("Changed");
    let response = put(back.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let named: Vec<String> = problem(response).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named, ["emailAddress", "timeZone"]);
    back["timeZone"] = json!("Europe/Brussels");
    back["emailAddress"] = json!("jons@example.com");
    assert_eq!(put(back).await.status(), StatusCode::OK);
}
