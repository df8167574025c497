//! Seed 002 replayed: `GET /api/v1/User/currentPrincipal` in JSON and XML for the demo users, field
//! by field; content negotiation with its fallbacks and 406; languages; SO-TimeZone; every
//! authentication scheme; the Basic verification cache.

use crate::helpers::*;
use accountd_domain::ids::{GroupId, TenantId, Username};
use accountd_domain::ports::{Store, StoreError};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const PRINCIPAL: &str = "/api/v1/User/currentPrincipal";

/// Seed 002's sample response, verbatim.
fn seed_002_body() -> Value {
    json!({
        "UserType": "AnonymousAssociate",
        "Associate": "ullam",
        "AssociateId": 367,
        "IsPerson": false,
        "PersonId": 580,
        "CountryId": 97,
        "HomeCountryId": 973,
        "ContactId": 312,
        "GroupId": 260,
        "BusinessId": 876,
        "CategoryId": 243,
        "ContactOwner": 710,
        "RoleId": 981,
        "RoleName": "Blick-Herzog",
        "RoleDescription": "Adaptive even-keeled instruction set",
        "RoleType": "Anonymous",
        "Licenses": [
            {
                "OwnerId": 433,
                "OwnerName": "Farrell-White",
                "OwnerDescription": "Customer-focused foreground core",
                "ModuleId": 751,
                "Name": "Fahey-Gutkowski",
                "Description": "User-friendly real-time collaboration",
                "Version": "quisquam",
                "LicenseType": "SatelliteLicense",
                "ExtraFlags": 542,
                "ExtraInfo": "ex",
                "SortOrder": 88,
                "LicenseNumber": 915,
                "IsHidden": true,
                "IsUnrestricted": true,
                "ExpiryDate": "2005-02-09T02:30:53.1786436+01:00",
                "TableRight": null,
                "FieldProperties": {
                    "fieldName": {
                        "FieldRight": null,
                        "FieldType": "System.Int32",
                        "FieldLength": 674
                    }
                }
            }
        ],
        "FullName": "Quinn Cassin",
        "EMailAddress": "sunt",
        "FunctionRights": ["fugit", "praesentium"],
        "EjUserId": 923,
        "EjAccessLevel": 587,
        "EjUserStatus": "StatusDeleted",
        "ProvidedCredentials": [
            {
                "Type": "eaque",
                "SearchName": "Goyette-Stiedemann",
                "DisplayName": "Kertzmann, Bergstrom and Howe",
                "CredentialId": 740
            },
            {
                "Type": "eaque",
                "SearchName": "Goyette-Stiedemann",
                "DisplayName": "Kertzmann, Bergstrom and Howe",
                "CredentialId": 740
            }
        ],
        "SecondaryGroups": [609, 247],
        "DatabaseContextIdentifier": "velit",
        "UserName": "Cassin, Franecki and Little"
    })
}

/// The members of `SoPrincipalCarrier` in the seed's order.
pub const MEMBERS: [&str; 27] = [
    "UserType",
    "Associate",
    "AssociateId",
    "IsPerson",
    "PersonId",
    "CountryId",
    "HomeCountryId",
    "ContactId",
    "GroupId",
    "BusinessId",
    "CategoryId",
    "ContactOwner",
    "RoleId",
    "RoleName",
    "RoleDescription",
    "RoleType",
    "Licenses",
    "FullName",
    "EMailAddress",
    "FunctionRights",
    "EjUserId",
    "EjAccessLevel",
    "EjUserStatus",
    "ProvidedCredentials",
    "SecondaryGroups",
    "DatabaseContextIdentifier",
    "UserName",
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `ours` has exactly the members of `seed`, each of the same JSON type, recursively (array items
/// against the seed's first item; `FieldProperties` is a dictionary, so only its type counts).
pub fn assert_same_shape(seed: &Value, ours: &Value, path: &str) {
    assert_eq!(json_type(seed), json_type(ours), "{path}: {ours}");
    match (seed, ours) {
        (Value::Object(s), Value::Object(o)) if !path.ends_with("FieldProperties") => {
            let mut seed_keys: Vec<&String> = s.keys().collect();
            let mut our_keys: Vec<&String> = o.keys().collect();
            seed_keys.sort();
            our_keys.sort();
            assert_eq!(our_keys, seed_keys, "{path}");
            for (key, value) in s {
                assert_same_shape(value, &o[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            if let Some(first) = s.first() {
                assert!(!o.is_empty(), "{path} is empty");
                for item in o {
                    assert_same_shape(first, item, &format!("{path}[]"));
                }
            }
        }
        _ => {}
    }
}

pub fn principal_request(app: &TestApp) -> RequestBuilder {
    app.fresh_client().get(app.url(PRINCIPAL))
}

pub async fn principal_basic(app: &TestApp, username: &str, password: &str) -> Response {
    principal_request(app)
        .basic_auth(username, Some(password))
        .send()
        .await
        .unwrap()
}

fn content_type(response: &Response) -> String {
    response.headers()["content-type"].to_str().unwrap().to_owned()
}

struct Keys {
    user: i64,
    tenant: i64,
    group: i64,
    support: i64,
}

fn jbloggs_keys(app: &TestApp) -> Keys {
    app.db
        .read(|r| {
            let acme = TenantId::parse("AcmeCorp").unwrap();
            Ok::<_, StoreError>(Keys {
                user: r.user_by_username(&Username::parse("jbloggs").unwrap())?.unwrap().key.0,
                tenant: r.tenant(&acme)?.unwrap().key,
                group: r.group(&acme, &GroupId::parse("AcmeGroup").unwrap())?.unwrap().key,
                support: r.group(&acme, &GroupId::parse("AcmeSupport").unwrap())?.unwrap().key,
            })
        })
        .unwrap()
}

const END_USER_RIGHTS: [&str; 4] = [
    "own:change_own_password",
    "own:change_own_pin",
    "own:read",
    "own:update_profile",
];

#[actix_web::test]
async fn current_principal_replays_seed_002_for_jbloggs() {
    replay_seed_002(&spawn_app().await).await;
}

/// The same on PostgreSQL: a user without a second factor sees the seed there too.
#[actix_web::test]
async fn current_principal_replays_seed_002_for_jbloggs_on_postgres() {
    if let Some((app, _schema)) = spawn_on_postgres().await {
        replay_seed_002(&app).await;
    }
}

async fn replay_seed_002(app: &TestApp) {
    // The seed's sample request: Basic, JSON with a charset, Swedish.
    let response = principal_request(app)
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .header("Accept", "application/json; charset=utf-8")
        .header("Accept-Language", "sv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/json; charset=utf-8");
    assert_eq!(response.headers()["content-language"], "sv");
    let text = response.text().await.unwrap();
    // Every member, in the seed's order.
    let positions: Vec<usize> = MEMBERS
        .iter()
        .map(|m| text.find(&format!("\"{m}\":")).unwrap_or_else(|| panic!("{m} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_same_shape(&seed_002_body(), &body, "SoPrincipalCarrier");

    let keys = jbloggs_keys(app);
    let expected = json!({
        "UserType": "InternalAssociate",
        "Associate": "jbloggs",
        "AssociateId": keys.user,
        "IsPerson": true,
        "PersonId": keys.user,
        "CountryId": 0,
        "HomeCountryId": 0,
        "ContactId": keys.tenant,
        "GroupId": keys.group,
        "BusinessId": 0,
        "CategoryId": 0,
        "ContactOwner": 0,
        "RoleId": 0,
        "RoleName": "End user",
        "RoleDescription": "Hanterar sin egen profil, sitt lösenord och sin PIN-kod.",
        "RoleType": "Employee",
        "Licenses": [{
            "OwnerId": 0,
            "OwnerName": "accountd",
            "OwnerDescription": "accountd demo licences",
            "ModuleId": 1,
            "Name": "Portal",
            "Description": "Self-service portal access",
            "Version": "1.3",
            "LicenseType": "SiteLicense",
            "ExtraFlags": 0,
            "ExtraInfo": "",
            "SortOrder": 1,
            "LicenseNumber": 915,
            "IsHidden": false,
            "IsUnrestricted": true,
            "ExpiryDate": "2030-01-01T00:00:00.0000000+00:00",
            "TableRight": null,
            "FieldProperties": {}
        }],
        "FullName": "New User",
        "EMailAddress": "jbloggs@acmecorp.com",
        "FunctionRights": END_USER_RIGHTS,
        "EjUserId": 0,
        "EjAccessLevel": 0,
        "EjUserStatus": "",
        "ProvidedCredentials": [{
            "Type": "Password",
            "SearchName": "jbloggs",
            "DisplayName": "New User",
            "CredentialId": keys.user
        }],
        "SecondaryGroups": [keys.support],
        "DatabaseContextIdentifier": "accountd",
        "UserName": "jbloggs"
    });
    assert_eq!(body, expected);
    assert_ne!(keys.group, keys.support);
}

#[actix_web::test]
async fn current_principal_follows_the_level() {
    let app = spawn_app().await;
    let admin: Value = principal_basic(&app, "admin", DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["UserType"], "SystemAssociate");
    assert_eq!(admin["RoleType"], "SystemUser");
    assert_eq!(admin["RoleId"], 16);
    assert_eq!(admin["ContactId"], 0, "System belongs to no tenant");
    assert_eq!(admin["GroupId"], 0);
    assert_eq!(admin["Licenses"], json!([]));
    assert_eq!(admin["SecondaryGroups"], json!([]));
    assert_eq!(admin["FullName"], "System Administrator");
    assert_eq!(admin["EMailAddress"], "", "no address");

    let group_admin: Value = principal_basic(&app, GROUP_ADMIN, DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let pie_group = app
        .db
        .read(|r| r.group(&TenantId::parse("Pie").unwrap(), &GroupId::parse("PieGroup").unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(group_admin["RoleId"], 8);
    assert_eq!(group_admin["RoleName"], "Group administrator");
    assert_eq!(group_admin["GroupId"], pie_group.key);
    assert_eq!(group_admin["UserType"], "InternalAssociate");
    let rights: Vec<String> = serde_json::from_value(group_admin["FunctionRights"].clone()).unwrap();
    let mut sorted = rights.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(rights, sorted, "sorted ordinally");
    for right in [
        "scope:group",
        "users:reset_password",
        "users:delete",
        "own:change_own_password",
    ] {
        assert!(rights.iter().any(|r| r == right), "{right} in {rights:?}");
    }
    assert!(!rights.iter().any(|r| r == "own:delete"), "only System deletes itself");
}

#[actix_web::test]
async fn current_principal_in_xml_has_the_same_elements() {
    let app = spawn_app().await;
    let json: Value = principal_basic(&app, "jbloggs", DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    for accept in ["application/xml", "text/xml"] {
        let response = principal_request(&app)
            .basic_auth("jbloggs", Some(DEMO_PASSWORD))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), format!("{accept}; charset=utf-8"));
        let text = response.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "SoPrincipalCarrier");
        let names: Vec<&str> = root
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(names, MEMBERS, "{accept}");
        let child = |name: &str| root.children().find(|n| n.has_tag_name(name)).unwrap();
        let scalar = |name: &str| child(name).text().unwrap_or("").to_owned();
        for member in MEMBERS {
            match &json[member] {
                Value::String(s) => assert_eq!(&scalar(member), s, "{member}"),
                Value::Number(n) => assert_eq!(scalar(member), n.to_string(), "{member}"),
                Value::Bool(b) => assert_eq!(scalar(member), b.to_string(), "{member}"),
                _ => {}
            }
        }
        let items = |name: &str, item: &str| -> Vec<String> {
            child(name)
                .children()
                .filter(|n| n.has_tag_name(item))
                .map(|n| n.text().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(items("FunctionRights", "string"), END_USER_RIGHTS);
        assert_eq!(
            items("SecondaryGroups", "int"),
            [json["SecondaryGroups"][0].to_string()]
        );
        let license = child("Licenses")
            .children()
            .find(|n| n.has_tag_name("LicenseInfo"))
            .unwrap();
        let field = |name: &str| license.children().find(|n| n.has_tag_name(name)).unwrap();
        assert_eq!(field("ExpiryDate").text(), Some("2030-01-01T00:00:00.0000000+00:00"));
        assert_eq!(field("LicenseNumber").text(), Some("915"));
        assert_eq!(
            field("TableRight").attribute(("http://www.w3.org/2001/XMLSchema-instance", "nil")),
            Some("true")
        );
        let credential = child("ProvidedCredentials").first_element_child().unwrap();
        assert_eq!(credential.tag_name().name(), "CredentialInfo");
        assert_eq!(
            credential.children().find(|n| n.has_tag_name("Type")).unwrap().text(),
            Some("Password")
        );
    }
}

#[actix_web::test]
async fn xml_escapes_what_users_type() {
    let app = spawn_app().await;
    let client = app.fresh_client();
    let xsrf = app.login_ok(&client, "jbloggs").await;
    let response = app
        .put_info(&client, Some(&xsrf), &json!({"first_name": "Tom & <Jerry> \"T\""}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = principal_request(&app)
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Tom &amp; &lt;Jerry&gt; &quot;T&quot; User"), "{text}");
    let doc = roxmltree::Document::parse(&text).unwrap();
    let full_name = doc.descendants().find(|n| n.has_tag_name("FullName")).unwrap();
    assert_eq!(full_name.text(), Some("Tom & <Jerry> \"T\" User"));
}

#[actix_web::test]
async fn accept_is_negotiated_with_fallback_to_json_and_406_when_both_are_refused() {
    let app = spawn_app().await;
    let cases: [(Option<&str>, &str); 11] = [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("text/json"), "text/json"),
        (Some("application/json-patch+json"), "application/json-patch+json"),
        (Some("application/merge-patch+json"), "application/merge-patch+json"),
        (Some("text/html"), "application/json"),
        (Some("image/png, text/plain;q=0.5"), "application/json"),
        (
            Some("application/xml;q=0.5, application/json;q=0.9"),
            "application/json",
        ),
        (Some("application/json;q=0.5, text/xml"), "text/xml"),
        (Some("application/xml, application/json"), "application/xml"),
        (Some("text/html, application/json;q=0"), "application/xml"),
    ];
    for (accept, expected) in cases {
        let mut request = principal_request(&app).basic_auth("jbloggs", Some(DEMO_PASSWORD));
        if let Some(a) = accept {
            request = request.header("Accept", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(
            content_type(&response),
            format!("{expected}; charset=utf-8"),
            "{accept:?}"
        );
        assert!(response.headers()["vary"].to_str().unwrap().contains("Accept"));
        let body = response.text().await.unwrap();
        if expected.ends_with("xml") {
            assert!(roxmltree::Document::parse(&body).is_ok(), "{accept:?}");
        } else {
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["UserName"], "jbloggs");
        }
    }
    for refused in [
        "application/json;q=0, */*;q=0",
        "application/json;q=0, application/xml;q=0",
        "*/*;q=0",
    ] {
        let response = principal_request(&app)
            .basic_auth("jbloggs", Some(DEMO_PASSWORD))
            .header("Accept", refused)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE, "{refused}");
        assert_eq!(problem(response).await["type"], "urn:accountd:problem:not-acceptable");
    }
}

#[actix_web::test]
async fn languages_pick_role_descriptions_and_error_texts() {
    let app = spawn_app().await;
    let english = "Manages their own profile, password and PIN.";
    let swedish = "Hanterar sin egen profil, sitt lösenord och sin PIN-kod.";
    // (request headers, expected RoleDescription, expected Content-Language)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 6] = [
        (&[], english, "en"),
        (&[("Accept-Language", "sv")], swedish, "sv"),
        (&[("Accept-Language", "sv-SE, en;q=0.5")], swedish, "sv"),
        (&[("Accept-Language", "fr, en;q=0.2, sv;q=0.4")], swedish, "sv"),
        (&[("Accept-Language", "fr")], english, "en"),
        (&[("Accept-Language", "sv"), ("SO-Language", "en")], english, "en"),
    ];
    for (headers, description, code) in cases {
        let mut request = principal_request(&app).basic_auth("jbloggs", Some(DEMO_PASSWORD));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["content-language"], code, "{headers:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["RoleDescription"], description, "{headers:?}");
        assert_eq!(body["RoleName"], "End user", "role names are data, not translated");
    }
    let swedish_principal = principal_request(&app)
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .header("SO-Language", "sv")
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(
        swedish_principal.json::<Value>().await.unwrap()["RoleDescription"],
        swedish
    );

    // Errors of this route speak the same language, with the same status and headers.
    let unauthenticated = principal_request(&app)
        .header("Accept-Language", "sv")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(unauthenticated.headers().contains_key("www-authenticate"));
    assert_eq!(unauthenticated.headers()["content-language"], "sv");
    let body = problem(unauthenticated).await;
    assert_eq!(body["detail"], "Anroparen kan inte autentiseras.");
    assert_eq!(body["details"], body["detail"]);
    assert_eq!(body["type"], "urn:accountd:problem:unauthenticated");

    let english_error = principal_request(&app)
        .header("Accept-Language", "sv")
        .header("SO-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(english_error).await["details"],
        "The caller cannot be authenticated."
    );

    let wrong_password = principal_request(&app)
        .basic_auth("jbloggs", Some("wrong"))
        .header("SO-Language", "sv")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem(wrong_password).await["details"],
        "Ogiltigt användarnamn eller lösenord."
    );

    let refused = principal_request(&app)
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .header("Accept", "*/*;q=0")
        .header("Accept-Language", "sv")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        problem(refused).await["details"],
        "Ingen av medietyperna i Accept kan levereras."
    );

    let post = app
        .fresh_client()
        .post(app.url(PRINCIPAL))
        .header("Accept-Language", "sv")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem(post).await["details"], "Resursen stöder inte den metoden.");
}

#[actix_web::test]
async fn so_time_zone_converts_date_times() {
    let app = spawn_app().await;
    let expiry = async |zone: &str| -> Response {
        principal_request(&app)
            .basic_auth("jbloggs", Some(DEMO_PASSWORD))
            .header("SO-TimeZone", zone)
            .send()
            .await
            .unwrap()
    };
    for (zone, expected) in [
        ("Europe/Stockholm", "2030-01-01T01:00:00.0000000+01:00"),
        ("America/New_York", "2029-12-31T19:00:00.0000000-05:00"),
        ("Asia/Kolkata", "2030-01-01T05:30:00.0000000+05:30"),
        ("UTC", "2030-01-01T00:00:00.0000000+00:00"),
        // Windows zone ids, as .NET clients send them (CLDR's world-wide default zone).
        ("W. Europe Standard Time", "2030-01-01T01:00:00.0000000+01:00"),
        ("India Standard Time", "2030-01-01T05:30:00.0000000+05:30"),
        // An unknown code does not fail the read: UTC, which the offset shows.
        ("Mars/Olympus", "2030-01-01T00:00:00.0000000+00:00"),
        ("Nowhere", "2030-01-01T00:00:00.0000000+00:00"),
    ] {
        let response = expiry(zone).await;
        assert_eq!(response.status(), StatusCode::OK, "{zone}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Licenses"][0]["ExpiryDate"], expected, "{zone}");
    }
}

#[actix_web::test]
async fn every_authentication_scheme_is_accepted_and_reported() {
    let app = spawn_app().await;
    let credential = |body: &Value| body["ProvidedCredentials"][0]["Type"].as_str().unwrap().to_owned();

    let basic: Value = principal_basic(&app, "jbloggs", DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credential(&basic), "Password");

    let client = app.fresh_client();
    let login = app.login_with(&client, "jbloggs", DEMO_PASSWORD).await;
    let session_id = cookie(&login, "sessionid").unwrap();
    let xsrf = cookie(&login, "XSRF-TOKEN").unwrap();
    let by_cookie = client
        .get(app.url(PRINCIPAL))
        .header("X-XSRF-TOKEN", &xsrf)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    assert_eq!(credential(&by_cookie.json().await.unwrap()), "Session");

    let ticket = app
        .fresh_client()
        .get(app.url(PRINCIPAL))
        .header("Authorization", format!("SoTicket {session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), StatusCode::OK);
    assert_eq!(credential(&ticket.json().await.unwrap()), "Ticket");

    let token = accountd::startup::services(&keyed_config(), app.db.clone())
        .unwrap()
        .create_api_token(&Username::parse("jbloggs").unwrap(), "so", None, &Default::default())
        .unwrap()
        .token;
    let bearer = principal_request(&app).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let body: Value = bearer.json().await.unwrap();
    assert_eq!(credential(&body), "ApiToken");
    assert_eq!(body["UserName"], "jbloggs");

    // SuperOffice's routes ignore case.
    let lower = app
        .fresh_client()
        .get(app.url("/api/v1/user/currentprincipal"))
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), StatusCode::OK);

    for (request, what) in [
        (principal_request(&app), "nothing"),
        (
            principal_request(&app).basic_auth("jbloggs", Some("wrong")),
            "wrong password",
        ),
        (
            principal_request(&app).header("Authorization", "SoTicket nope"),
            "bad ticket",
        ),
        (principal_request(&app).bearer_auth("A".repeat(43)), "bad token"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("Basic"),
            "{what}"
        );
        problem(response).await;
    }
}

#[actix_web::test]
async fn database_context_identifier_comes_from_configuration() {
    let app = spawn_with(Spawn {
        configure: Box::new(|c| c.http.superoffice.database_context_identifier = "Cust12345".into()),
        ..Spawn::default()
    })
    .await;
    let body: Value = principal_basic(&app, "jbloggs", DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["DatabaseContextIdentifier"], "Cust12345");
}

/// Issue 23: no stampede. Many requests with one credential at once share one verification,
/// and a hot entry is verified again before it expires, so it never expires under load.
#[actix_web::test]
async fn concurrent_basic_requests_share_one_verification_and_a_hot_entry_never_expires() {
    let app = spawn_app().await;
    let before = app.hasher.verifications();
    let requests: Vec<_> = (0..32)
        .map(|_| {
            let request = principal_request(&app).basic_auth("jbloggs", Some(DEMO_PASSWORD));
            actix_web::rt::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(
        app.hasher.verifications() - before,
        1,
        "32 concurrent requests, one argon2 verification"
    );

    // In the entry's last sixth (50 s of 60): one request verifies again, the others don't wait.
    app.clock.advance_seconds(52);
    let before = app.hasher.verifications();
    for _ in 0..5 {
        assert_eq!(
            principal_basic(&app, "jbloggs", DEMO_PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.hasher.verifications() - before, 1, "one refresh");
    // Past the first verification's 60 s: the refreshed entry still holds.
    app.clock.advance_seconds(20);
    let before = app.hasher.verifications();
    principal_basic(&app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(app.hasher.verifications() - before, 0, "refreshed before it expired");
}

#[actix_web::test]
async fn basic_is_verified_once_per_cache_period_and_forgotten_on_password_change() {
    let app = spawn_app().await;
    let before = app.hasher.verifications();
    for _ in 0..20 {
        assert_eq!(
            principal_basic(&app, "jbloggs", DEMO_PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.hasher.verifications() - before,
        1,
        "one argon2 verification for 20 requests"
    );

    // Past the cache period (60 s), the next request verifies again.
    app.clock.advance_seconds(61);
    let before = app.hasher.verifications();
    principal_basic(&app, "jbloggs", DEMO_PASSWORD).await;
    principal_basic(&app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(app.hasher.verifications() - before, 1);

    // A password change (through Axway, authenticated with the cached Basic credentials) forgets it.
    let new_password = "Fresh-Passw0rd!7";
    let changed = app
        .fresh_client()
        .post(app.url("/api/portal/v1.3/currentuser/changepassword"))
        .basic_auth("jbloggs", Some(DEMO_PASSWORD))
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", new_password)])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let before = app.hasher.verifications();
    assert_eq!(
        principal_basic(&app, "jbloggs", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "the remembered old password no longer counts"
    );
    assert_eq!(app.hasher.verifications() - before, 1, "checked against the new hash");
    let before = app.hasher.verifications();
    for _ in 0..10 {
        assert_eq!(
            principal_basic(&app, "jbloggs", new_password).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.hasher.verifications() - before, 1);
}

fn challenges(response: &Response) -> String {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

#[actix_web::test]
async fn a_401_offers_the_soticket_scheme_beside_basic_and_bearer() {
    let app = spawn_app().await;
    for (request, what) in [
        (principal_request(&app), "nothing"),
        (
            principal_request(&app).header("Authorization", "SoTicket nope"),
            "bad ticket",
        ),
        (principal_request(&app).header("Accept-Language", "sv"), "in Swedish"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let offered = challenges(&response);
        for scheme in ["Basic ", "SOTicket ", "Bearer "] {
            assert!(offered.contains(scheme), "{what}: {scheme} in {offered}");
        }
        problem(response).await;
    }
    // A page's script is not offered Basic (a browser would open its login prompt), the rest stays.
    let script = principal_request(&app)
        .header("Sec-Fetch-Mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::UNAUTHORIZED);
    let offered = challenges(&script);
    assert!(!offered.contains("Basic"), "{offered}");
    assert!(
        offered.contains("SOTicket ") && offered.contains("Bearer "),
        "{offered}"
    );
}

#[actix_web::test]
async fn the_trailing_slash_form_and_head_are_served_like_get() {
    let app = spawn_app().await;
    let get = principal_basic(&app, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(get.status(), StatusCode::OK);
    let headers = get.headers().clone();
    let body: Value = get.json().await.unwrap();
    let slash = format!("{PRINCIPAL}/");
    for path in [slash.as_str(), "/api/v1/user/currentprincipal/"] {
        let response = app
            .fresh_client()
            .get(app.url(path))
            .basic_auth("jbloggs", Some(DEMO_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), body, "{path}");
    }
    for path in [PRINCIPAL, slash.as_str()] {
        let head = app
            .fresh_client()
            .head(app.url(path))
            .basic_auth("jbloggs", Some(DEMO_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        for name in [
            "content-type",
            "content-length",
            "content-language",
            "vary",
            "cache-control",
        ] {
            assert_eq!(head.headers().get(name), headers.get(name), "{path}: {name}");
        }
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    let unauthenticated = app.fresh_client().head(app.url(PRINCIPAL)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(challenges(&unauthenticated).contains("SOTicket "));
    assert!(unauthenticated.bytes().await.unwrap().is_empty());

    let post = app.fresh_client().post(app.url(&slash)).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}
