//! Operations endpoints on the in-process server: `/healthz`, `/readyz` (503 while a migration is
//! pending), Prometheus `/metrics` by route pattern, and imported Django hashes upgraded at login.

use crate::helpers::*;
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use accountd_policy::hashing::{self, HashParams};
use accountd_service::import::{Kind, Located, Location, Record, Silent};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[actix_web::test]
async fn health_is_the_process_and_readiness_the_database() {
    let app = spawn_app().await;
    let c = app.fresh_client();
    let health = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready", "outbox": {"depth": 0, "oldest_age_seconds": 0, "divergences": 0}})
    );

    // A migration this build expects goes missing (as when an older schema is shared): not ready,
    // though alive.
    let latest = "(SELECT MAX(version) FROM __diesel_schema_migrations)";
    app.db
        .execute_raw(&format!(
            "CREATE TABLE removed_migration AS SELECT * FROM __diesel_schema_migrations WHERE version = {latest}; \
             DELETE FROM __diesel_schema_migrations WHERE version = {latest};"
        ))
        .unwrap();
    let not_ready = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(not_ready.headers()["retry-after"], "1");
    let body = problem(not_ready).await;
    assert_eq!(body["type"], "urn:accountd:problem:not-ready");
    assert_eq!(
        c.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );

    app.db
        .execute_raw(
            "INSERT INTO __diesel_schema_migrations SELECT * FROM removed_migration; DROP TABLE removed_migration;",
        )
        .unwrap();
    assert_eq!(c.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let wrong = c.post(app.url(path)).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
}

/// The value of the sample `name` (with its labels, exactly as exposed) in a text exposition.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    let admin = app.fresh_client();
    app.login_ok(&admin, "admin").await;
    for user in ["foouser", "nobody"] {
        admin
            .get(app.url(&user_path("ApioSpTest", "ApioGrpTest", user)))
            .send()
            .await
            .unwrap();
    }
    for _ in 0..11 {
        app.login_with(&app.fresh_client(), "jbloggs", "Not-The-Passw0rd!")
            .await;
    }
    let response = app.fresh_client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = response.text().await.unwrap();
    let users = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/";
    assert_eq!(
        sample(
            &text,
            &format!("accountd_http_requests_total{{method=\"GET\",route=\"{users}\",status=\"200\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("accountd_http_requests_total{{method=\"GET\",route=\"{users}\",status=\"404\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("/users/foouser/"), "patterns, never raw paths");
    assert_eq!(
        sample(
            &text,
            "accountd_http_requests_total{method=\"POST\",route=\"/api/v1/login/\",status=\"401\"}"
        ),
        Some(10.0)
    );
    assert_eq!(
        sample(&text, "accountd_throttled_attempts_total{route=\"/api/v1/login/\"}"),
        Some(1.0),
        "the eleventh attempt was throttled"
    );
    assert_eq!(
        sample(
            &text,
            "accountd_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/login/\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "accountd_argon2_permits"),
        Some(2.0),
        "spawn_app's hasher"
    );
    assert_eq!(sample(&text, "accountd_argon2_queue_length"), Some(0.0));
    assert_eq!(sample(&text, "accountd_argon2_in_use"), Some(0.0));
    assert!(sample(&text, "accountd_argon2_verifications_total").is_some_and(|v| v >= 11.0));
    assert_eq!(sample(&text, "accountd_db_pool_max_size"), Some(10.0));
    let open = sample(&text, "accountd_db_pool_connections").unwrap();
    let idle = sample(&text, "accountd_db_pool_idle_connections").unwrap();
    assert!(open >= 1.0 && idle <= open, "{open} {idle}");
    assert_eq!(sample(&text, "accountd_up"), Some(1.0));
}

/// `pbkdf2_sha256` of [`DEMO_PASSWORD`] with 1000 iterations, as Django stores it (policy's test
/// vector, computed with Python's hashlib).
const DJANGO_PBKDF2: &str = "pbkdf2_sha256$1000$seasalt2024abcd$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=";

#[actix_web::test]
async fn imported_django_hashes_log_in_and_are_upgraded_to_argon2id() {
    let app = spawn_app().await;
    // Django's argon2 hasher format: "argon2" + the PHC string, here with cheap parameters.
    let cheap = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        ..HashParams::DEFAULT
    };
    let django_argon2 = format!(
        "argon2{}",
        hashing::hash_secret(DEMO_PASSWORD, &cheap, &[3; hashing::SALT_LEN])
            .unwrap()
            .as_str()
    );
    let user = |name: &str, hash: &str| Located {
        location: Location::Index(0),
        record: Ok(Record {
            kind: Some(Kind::User),
            tenant: Some("Pie".into()),
            group: Some("PieGroup".into()),
            username: Some(name.into()),
            first_name: Some("Imported".into()),
            last_name: Some("User".into()),
            password_hash: Some(hash.into()),
            ..Record::default()
        }),
    };
    let operator = app.operator();
    let report = operator
        .import(
            vec![
                user("django-pbkdf2", DJANGO_PBKDF2),
                user("django-argon2", &django_argon2),
            ],
            &Silent,
        )
        .unwrap();
    assert_eq!(report.created_total(), 2, "{report:?}");

    for (name, imported) in [
        ("django-pbkdf2", DJANGO_PBKDF2),
        ("django-argon2", django_argon2.as_str()),
    ] {
        let stored = || {
            app.db
                .read(|repo| repo.user_with_password(&Username::parse(name).unwrap()))
                .unwrap()
                .unwrap()
                .1
                .unwrap()
                .hash
        };
        assert_eq!(stored().as_str(), imported, "stored as given");
        assert_eq!(
            app.login_with(&app.fresh_client(), name, "Wrong-Passw0rd!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(stored().as_str(), imported, "a wrong password upgrades nothing");
        let response = app.login_with(&app.fresh_client(), name, DEMO_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["profile"]["is_first_login"], false,
            "a carried-over password is the user's own"
        );
        let upgraded = stored();
        assert!(
            upgraded.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{name}: upgraded to our argon2id"
        );
        assert_eq!(
            app.login_with(&app.fresh_client(), name, DEMO_PASSWORD).await.status(),
            StatusCode::OK,
            "and the upgraded hash verifies"
        );
        assert_eq!(stored(), upgraded, "once");
    }
}
