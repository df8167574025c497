//! The authorization matrix of issue 5: every level against every route, on self, a user of the same
//! group, of another group of the same tenant, and of another tenant.

use crate::helpers::*;
use accountd_domain::ids::DepartmentName;
use accountd_domain::level::Role;
use accountd_domain::ports::Store;
use accountd_domain::user::DepartmentKey;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Own,
    SameGroup,
    OtherGroup,
    OtherTenant,
}

fn dept(name: &str) -> DepartmentKey {
    DepartmentKey {
        tenant: accountd_domain::ids::TenantId::parse("ApioSpTest").unwrap(),
        group: Some(accountd_domain::ids::GroupId::parse("ApioGrpTest").unwrap()),
        name: DepartmentName::parse(name).unwrap(),
    }
}

/// (route, method, body): every route of seed 001.
fn routes(path: &str) -> Vec<(String, Method, Option<serde_json::Value>)> {
    vec![
        (path.to_owned(), Method::GET, None),
        (path.to_owned(), Method::PUT, Some(json!({"cliFirstName": "Matrix"}))),
        (format!("{path}pincode/"), Method::GET, None),
        (
            format!("{path}pincode/"),
            Method::PUT,
            Some(json!({"expirationDays": 90})),
        ),
        (path.to_owned(), Method::DELETE, None),
    ]
}

#[actix_web::test]
async fn every_level_against_every_route_and_target() {
    let app = spawn_app().await;
    // Targets: end users in ApioSpTest/ApioGrpTest (in test_department_initial), ApioSpTest/OtherGroup, Pie/PieGroup.
    app.db
        .write(|r| {
            let t = accountd_domain::ids::TenantId::parse("ApioSpTest").unwrap();
            r.ensure_group(
                &t,
                &accountd_domain::ids::GroupId::parse("OtherGroup").unwrap(),
                &accountd_domain::text::Text::empty(),
            )?;
            Ok::<_, accountd_domain::ports::StoreError>(())
        })
        .unwrap();
    // Actors, one per level, each with a place in ApioSpTest/ApioGrpTest where they have one.
    app.add_user("sys2", Role::System, None);
    app.add_user(
        "tadmin",
        Role::TenantAdmin {
            tenant: accountd_domain::ids::TenantId::parse("ApioSpTest").unwrap(),
        },
        None,
    );
    app.add_user(
        "gadmin",
        Role::GroupAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "gadmin"),
        },
        None,
    );
    app.add_user(
        "dadmin",
        Role::DepartmentAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "dadmin"),
            department: DepartmentName::parse("test_department_parent_1").unwrap(),
        },
        None,
    );
    app.add_user(
        "enduser",
        Role::EndUser {
            member: member("ApioSpTest", "ApioGrpTest", "enduser"),
        },
        Some(dept("test_department_initial")),
    );
    let actors = ["sys2", "tadmin", "gadmin", "dadmin", "enduser"];

    use Target::*;
    // What each actor may do (true = 2xx) for each target, per route kind.
    // Reads: read on self and on users in scope. Writes (admin fields, PIN settings, delete): only in
    // scope and at a lower level; never on oneself (but System).
    let allowed = |actor: &str, target: Target, method: &Method, route: &str| -> bool {
        let write = *method != Method::GET;
        let delete = *method == Method::DELETE;
        // On oneself: read, and change one's editable profile fields; not PIN settings, not delete.
        let own_allowed = !(delete || (route.ends_with("pincode/") && write));
        match (actor, target) {
            ("sys2", _) => true,
            ("tadmin", SameGroup | OtherGroup) => true,
            ("tadmin", _) => false,
            ("gadmin", SameGroup) => true,
            ("gadmin", Own) => own_allowed,
            ("gadmin", _) => false,
            // dadmin's department contains test_department_initial, where the same-group target sits.
            ("dadmin", SameGroup) => true,
            ("dadmin", Own) => own_allowed,
            ("dadmin", _) => false,
            ("enduser", Own) => own_allowed,
            ("enduser", _) => false,
            _ => unreachable!(),
        }
    };

    let mut failures = Vec::new();
    let mut checked = 0;
    for actor in actors {
        let client = app.fresh_client();
        let xsrf = app.login_ok(&client, actor).await;
        for target in [Own, SameGroup, OtherGroup, OtherTenant] {
            // A fresh target per actor and target, so deletes don't disturb later rows.
            let n = format!("{actor}-{target:?}").to_lowercase();
            let (tenant, group, user) = match target {
                Own => {
                    if matches!(actor, "sys2" | "tadmin") {
                        continue; // no group, hence no seed 001 path of their own
                    }
                    ("ApioSpTest".to_owned(), "ApioGrpTest".to_owned(), actor.to_owned())
                }
                SameGroup => {
                    app.add_user(
                        &n,
                        Role::EndUser {
                            member: member("ApioSpTest", "ApioGrpTest", &n),
                        },
                        Some(dept("test_department_initial")),
                    );
                    ("ApioSpTest".into(), "ApioGrpTest".into(), n)
                }
                OtherGroup => {
                    app.add_user(
                        &n,
                        Role::EndUser {
                            member: member("ApioSpTest", "OtherGroup", &n),
                        },
                        None,
                    );
                    ("ApioSpTest".into(), "OtherGroup".into(), n)
                }
                OtherTenant => {
                    app.add_user(
                        &n,
                        Role::EndUser {
                            member: member("Pie", "PieGroup", &n),
                        },
                        None,
                    );
                    ("Pie".into(), "PieGroup".into(), n)
                }
            };
            for (route, method, body) in routes(&user_path(&tenant, &group, &user)) {
                if target == Own && method == Method::DELETE && actor == "sys2" {
                    continue;
                }
                let mut request = client
                    .request(method.clone(), app.url(&route))
                    .header("X-XSRF-TOKEN", &xsrf);
                if let Some(body) = &body {
                    request = request.json(body);
                }
                let status = request.send().await.unwrap().status();
                let want = allowed(actor, target, &method, &route);
                checked += 1;
                let ok = if want {
                    status.is_success()
                } else {
                    status == StatusCode::FORBIDDEN
                };
                if !ok {
                    failures.push(format!(
                        "{actor} {method} {route} ({target:?}): got {status}, wanted {}",
                        if want { "2xx" } else { "403" }
                    ));
                }
            }
        }
    }
    assert!(checked >= 80, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn department_admins_only_reach_their_subtree() {
    let app = spawn_app().await;
    app.add_user(
        "dadmin",
        Role::DepartmentAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "dadmin"),
            department: DepartmentName::parse("test_department_initial").unwrap(),
        },
        None,
    );
    app.add_user(
        "above",
        Role::EndUser {
            member: member("ApioSpTest", "ApioGrpTest", "above"),
        },
        Some(dept("test_department_parent_1")),
    );
    app.add_user(
        "nodept",
        Role::EndUser {
            member: member("ApioSpTest", "ApioGrpTest", "nodept"),
        },
        None,
    );
    let client = app.fresh_client();
    app.login_ok(&client, "dadmin").await;
    let get = |user: &str| {
        client
            .get(app.url(&user_path("ApioSpTest", "ApioGrpTest", user)))
            .send()
    };
    assert_eq!(
        get("foouser").await.unwrap().status(),
        StatusCode::OK,
        "in test_department_initial"
    );
    assert_eq!(
        get("above").await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "the parent is outside"
    );
    assert_eq!(get("nodept").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get("ghost").await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "in the group: a missing user is 404"
    );
    let listed: serde_json::Value = client
        .get(app.url("/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["foouser", "dadmin"]);
}

#[actix_web::test]
async fn moves_stay_inside_the_movers_scope() {
    let app = spawn_app().await;
    app.db
        .write(|r| {
            r.ensure_department(&accountd_domain::records::NewDepartment {
                key: dept("beside"),
                parent: None,
            })?;
            Ok::<_, accountd_domain::ports::StoreError>(())
        })
        .unwrap();
    app.add_user(
        "dadmin",
        Role::DepartmentAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "dadmin"),
            department: DepartmentName::parse("test_department_parent_1").unwrap(),
        },
        None,
    );
    app.add_user(
        "gadmin",
        Role::GroupAdmin {
            member: member("ApioSpTest", "ApioGrpTest", "gadmin"),
        },
        None,
    );
    let foouser = user_path("ApioSpTest", "ApioGrpTest", "foouser");
    let department = |name: &str| json!({"department": {"tenantId": "ApioSpTest", "groupId": "ApioGrpTest", "departmentName": name}});
    let put = |who: &'static str, body: serde_json::Value| {
        let request = app
            .fresh_client()
            .put(app.url(&foouser))
            .basic_auth(who, Some(DEMO_PASSWORD))
            .json(&body);
        async move { request.send().await.unwrap().status() }
    };
    let stored_department = || {
        app.db
            .read(|r| r.user_by_username(&accountd_domain::ids::Username::parse("foouser").unwrap()))
            .unwrap()
            .unwrap()
            .profile
            .department
            .map(|d| d.key.name.as_str().to_owned())
    };
    // The department admin moves within their subtree, never out of it.
    assert_eq!(
        put("dadmin", department("test_department_parent_1")).await,
        StatusCode::OK
    );
    assert_eq!(put("dadmin", department("beside")).await, StatusCode::FORBIDDEN);
    assert_eq!(put("dadmin", json!({"department": null})).await, StatusCode::FORBIDDEN);
    assert_eq!(put("dadmin", department("nowhere")).await, StatusCode::BAD_REQUEST);
    assert_eq!(stored_department().as_deref(), Some("test_department_parent_1"));
    // A group admin's scope is the group: anywhere in it, or out of every department.
    assert_eq!(put("gadmin", department("beside")).await, StatusCode::OK);
    assert_eq!(stored_department().as_deref(), Some("beside"));
    // Now outside the department admin's subtree: they can't even address foouser.
    assert_eq!(
        put("dadmin", department("test_department_initial")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(put("gadmin", json!({"department": null})).await, StatusCode::OK);
    assert_eq!(stored_department(), None);
}
