//! Operability, proven on the real binary run as child processes (`CARGO_BIN_EXE_accountd`): its
//! log holds none of the secrets a realistic session used; SIGTERM lets the in-flight request
//! finish; two instances on one PostgreSQL schema share sessions, logouts, password changes and
//! throttling, and order two changes of one user the same way on the Application Server and
//! locally; `import`/`export` from the command line; notifications survive a kill -9, and two
//! instances deliver each once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/recording_as.rs"]
mod recording_as;
#[path = "common/server.rs"]
mod server;

use recording_as::RecordingAs;
use server::*;

use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use accountd_storage::testing::{TestSchema, postgres_unavailable};
use accountd_storage::{Database, PoolOptions};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const GROUP_ADMIN: &str = "PieGroupAdmin1@sip.netaxis.be";
const FOOUSER: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/";
const FOOPIN: &str = "/api/v1/tenants/ApioSpTest/groups/ApioGrpTest/users/foouser/pincode/";

// ------------------------------------------------------------------------------------------------
// Logs

/// Every string inside a JSON value (keys too), but the `skip` members' values.
fn strings<'a>(value: &'a Value, skip: &[&str], out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, skip, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                if !skip.contains(&k.as_str()) {
                    strings(v, skip, out);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_log_holds_no_secret_of_a_realistic_session() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let server = Server::start(
        &url,
        &["--demo"],
        &[
            ("ACCOUNTD__LOG__FORMAT", "json"),
            ("ACCOUNTD__LOG__FILTER", "debug"),
            // An access line per request, to check each one (the default keeps only refusals).
            ("ACCOUNTD__LOG__ACCESS", "all"),
        ],
    );
    // An API token, made by the operator command against the running server's database.
    let token_out = binary()
        .args(["token", "create", "foouser", "--name", "logscan"])
        .env("ACCOUNTD__DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(token_out.status.success(), "{token_out:?}");
    let api_token = String::from_utf8(token_out.stdout).unwrap().trim().to_owned();
    assert_eq!(api_token.len(), 43);

    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let wrong_password = format!("Wrong-Passw0rd-{suffix}");
    let new_password = format!("Changed-Passw0rd-{suffix}!");
    let query_secret = format!("QuerySecret{suffix}");
    let new_pin = "49175208";
    let candidate_password = format!("Candidate-Passw0rd-{suffix}?");
    let candidate_pin = "60381729";
    let wrong_pin = "31415926";
    let c = client();
    let mut sent: Vec<(String, u16)> = Vec::new();
    let mut n = 0;
    // Every request carries its own X-Request-Id, and must leave an access line under it.
    let mut rid = |status: StatusCode, sent: &mut Vec<(String, u16)>| {
        n += 1;
        let id = format!("logscan-{suffix}-{n}");
        sent.push((id.clone(), status.as_u16()));
        id
    };
    macro_rules! expect {
        ($request:expr, $status:expr) => {{
            let id = rid($status, &mut sent);
            let response = $request.header("x-request-id", &id).send().await.unwrap();
            assert_eq!(response.status(), $status, "request {id}");
            response
        }};
    }

    // A cookie session: login, read, change, with XSRF.
    let r = expect!(
        c.post(server.url("/api/v1/login/"))
            .json(&json!({"username": GROUP_ADMIN, "password": DEMO_PASSWORD})),
        StatusCode::OK
    );
    let admin = Session {
        id: cookie(&r, "sessionid").unwrap(),
        xsrf: cookie(&r, "XSRF-TOKEN").unwrap(),
    };
    expect!(
        c.get(server.url(USER_LOGIN_INFO)).headers(admin.headers()),
        StatusCode::OK
    );
    expect!(
        c.put(server.url(USER_LOGIN_INFO))
            .headers(admin.headers())
            .json(&json!({"first_name": "Logged", "last_name": "Scan"})),
        StatusCode::OK
    );
    expect!(
        c.get(format!(
            "{}?password={query_secret}&token={query_secret}",
            server.url(USER_LOGIN_INFO)
        ))
        .headers(admin.headers()),
        StatusCode::OK
    );
    // Basic and Bearer.
    expect!(
        c.get(server.url(USER_LOGIN_INFO))
            .basic_auth("foouser", Some(DEMO_PASSWORD)),
        StatusCode::OK
    );
    expect!(c.get(server.url(FOOUSER)).bearer_auth(&api_token), StatusCode::OK);
    // Failed logins: a wrong password, an unknown user, bad Basic credentials.
    for _ in 0..3 {
        expect!(
            c.post(server.url("/api/v1/login/"))
                .json(&json!({"username": "foouser", "password": wrong_password})),
            StatusCode::UNAUTHORIZED
        );
    }
    expect!(
        c.post(server.url("/api/v1/login/"))
            .json(&json!({"username": format!("nobody-{suffix}"), "password": wrong_password})),
        StatusCode::UNAUTHORIZED
    );
    expect!(
        c.get(server.url(USER_LOGIN_INFO))
            .basic_auth(GROUP_ADMIN, Some(&wrong_password)),
        StatusCode::UNAUTHORIZED
    );
    // foouser changes their PIN (a wrong old one first) and their password.
    let r = expect!(
        c.post(server.url("/api/v1/login/"))
            .json(&json!({"username": "foouser", "password": DEMO_PASSWORD})),
        StatusCode::OK
    );
    let foo = Session {
        id: cookie(&r, "sessionid").unwrap(),
        xsrf: cookie(&r, "XSRF-TOKEN").unwrap(),
    };
    expect!(
        c.put(server.url(FOOPIN))
            .headers(foo.headers())
            .json(&json!({"pinCode": new_pin, "oldPinCode": wrong_pin})),
        StatusCode::FORBIDDEN
    );
    expect!(
        c.put(server.url(FOOPIN))
            .headers(foo.headers())
            .json(&json!({"pinCode": new_pin, "oldPinCode": "987654"})),
        StatusCode::OK
    );
    // The account page's live checks: candidates are judged, never logged.
    expect!(
        c.post(server.url("/api/v1/session/password_policy/"))
            .headers(foo.headers())
            .json(&json!({"newPassword": candidate_password})),
        StatusCode::OK
    );
    expect!(
        c.post(server.url("/api/v1/session/password_policy/"))
            .headers(foo.headers())
            .json(&json!({"newPassword": candidate_password, "oldPassword": wrong_password})),
        StatusCode::FORBIDDEN
    );
    expect!(
        c.post(server.url("/api/v1/session/pincode_policy/"))
            .headers(foo.headers())
            .json(&json!({"pinCode": candidate_pin, "oldPinCode": new_pin})),
        StatusCode::OK
    );
    expect!(
        c.put(server.url(FOOUSER))
            .headers(foo.headers())
            .json(&json!({"oldPassword": wrong_password, "newPassword": new_password})),
        StatusCode::FORBIDDEN
    );
    expect!(
        c.put(server.url(FOOUSER))
            .headers(foo.headers())
            .json(&json!({"oldPassword": DEMO_PASSWORD, "newPassword": new_password})),
        StatusCode::OK
    );
    let r = expect!(
        c.post(server.url("/api/v1/login/"))
            .json(&json!({"username": "foouser", "password": new_password})),
        StatusCode::OK
    );
    let foo_again = cookie(&r, "sessionid").unwrap();
    expect!(
        c.post(server.url("/api/v1/logout/")).headers(admin.headers()),
        StatusCode::OK
    );
    let log = server.stop();

    // The secrets: what was sent, what was handed out, and what the database keeps.
    let db = Database::open(&url, &PoolOptions::default()).unwrap();
    let mut hashes = Vec::new();
    for name in ["admin", GROUP_ADMIN, "foouser", "jbloggs"] {
        db.read(|repo| {
            let user = repo.user_by_username(&Username::parse(name).unwrap())?.unwrap();
            hashes.push(repo.password(user.key)?.unwrap().hash.as_str().to_owned());
            for old in repo.password_history(user.key, 10)? {
                hashes.push(old.as_str().to_owned());
            }
            if let Some(pin) = repo.pin(user.key)? {
                hashes.extend(pin.hash.map(|h| h.as_str().to_owned()));
                for old in repo.pin_history(user.key, 10)? {
                    hashes.push(old.as_str().to_owned());
                }
            }
            Ok::<_, accountd_domain::ports::StoreError>(())
        })
        .unwrap();
    }
    assert!(
        hashes.len() >= 7,
        "4 passwords, a history entry, 2 PINs: {}",
        hashes.len()
    );
    let basic =
        |user: &str, password: &str| base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut secrets: Vec<String> = vec![
        DEMO_PASSWORD.into(),
        wrong_password.clone(),
        new_password.clone(),
        query_secret.clone(),
        candidate_password.clone(),
        candidate_pin.into(),
        api_token.clone(),
        admin.id.clone(),
        admin.xsrf.clone(),
        foo.id.clone(),
        foo.xsrf.clone(),
        foo_again,
        basic("foouser", DEMO_PASSWORD),
        basic(GROUP_ADMIN, &wrong_password),
    ];
    for hash in &hashes {
        secrets.push(hash.clone());
        // The digest alone (after the last '$') is a leak too.
        secrets.push(hash.rsplit('$').next().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret is in the log: {secret}");
    }
    // PINs are digits: look for them in the text of every log record, not in numbers (latencies),
    // the timestamp or the random request ids, where a short digit string can occur by chance.
    let mut records = 0;
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        records += 1;
        let mut texts = Vec::new();
        strings(&record, &["timestamp", "request_id"], &mut texts);
        for text in texts {
            for pin in [new_pin, wrong_pin, "987654"] {
                assert!(!text.contains(pin), "a PIN is in the log: {line}");
            }
        }
    }
    assert!(records > sent.len(), "the log was captured as JSON ({records} records)");

    // And the log is the real one: an access line per request, with its id, route pattern and
    // status, and no query string.
    let access: Vec<Value> = log
        .lines()
        .filter(|l| l.contains("\"accountd::access\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (id, status) in &sent {
        let line = access
            .iter()
            .find(|a| a["span"]["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no access line for {id}:\n{log}"));
        assert_eq!(line["status"], *status, "{line}");
        assert!(line["latency_ms"].as_f64().is_some(), "{line}");
        assert!(line["route"].as_str().is_some_and(|r| r.starts_with('/')), "{line}");
    }
    assert!(
        access
            .iter()
            .any(|a| a["route"] == "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/"),
        "route patterns, not paths"
    );
    assert!(!log.contains("QuerySecret"), "no query string");
}

#[tokio::test]
async fn the_default_access_log_keeps_refused_requests_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_url(dir.path()), &[], &[("ACCOUNTD__LOG__FORMAT", "json")]);
    let c = client();
    let get = |path: &str, id: &str| c.get(server.url(path)).header("x-request-id", id).send();
    assert_eq!(get("/healthz", "quiet-ok").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get(USER_LOGIN_INFO, "loud-401").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("/no/such/route", "loud-404").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let log = server.stop();
    let access: Vec<Value> = log
        .lines()
        .filter(|l| l.contains("\"accountd::access\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line_of = |id: &str| access.iter().find(|a| a["span"]["request_id"] == id);
    assert_eq!(
        line_of("loud-401").map(|a| a["status"].clone()),
        Some(json!(401)),
        "{log}"
    );
    assert_eq!(
        line_of("loud-404").map(|a| a["status"].clone()),
        Some(json!(404)),
        "{log}"
    );
    assert!(
        line_of("quiet-ok").is_none(),
        "a fast 200 leaves no access line:\n{log}"
    );
}

// ------------------------------------------------------------------------------------------------
// Graceful shutdown

#[tokio::test]
async fn sigterm_lets_the_in_flight_request_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    // First run: the demo data, hashed with the default (fast) parameters; an idle server stops
    // at once and cleanly.
    let first = Server::start(&url, &["--demo"], &[]);
    first.stop();

    // Second run with much costlier argon2 parameters: a login verifies the stored hash, finds it
    // outdated, and re-hashes the password with the new cost (seconds) before opening the
    // session. SIGTERM arrives while that runs.
    let slow = [
        ("ACCOUNTD__HASHING__MEMORY_KIB", "65536"),
        ("ACCOUNTD__HASHING__ITERATIONS", "60"),
    ];
    let server = Server::start(&url, &[], &slow);
    let login_client = client();
    let login_url = server.url("/api/v1/login/");
    let in_flight = tokio::spawn(async move {
        let response = login_client
            .post(login_url)
            .json(&json!({"username": GROUP_ADMIN, "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let session = cookie(&response, "sessionid");
        (status, session)
    });
    // Wait until the server is hashing (an argon2 permit is taken), then SIGTERM.
    let probe = client();
    let started = Instant::now();
    loop {
        let metrics = probe
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics
            .lines()
            .any(|l| l.starts_with("accountd_argon2_in_use ") && !l.ends_with(" 0"))
        {
            break;
        }
        assert!(!in_flight.is_finished(), "the login ended before it was seen hashing");
        assert!(started.elapsed() < PATIENCE, "the login never started hashing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(probe);
    server.sigterm();
    let (status, session) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "the in-flight login completed");
    assert!(session.is_some(), "with its session");
    let (exit, log) = tokio::task::spawn_blocking(move || server.wait()).await.unwrap();
    assert!(exit.success(), "exit status {exit}:\n{log}");
    assert!(log.contains("SIGTERM") || log.contains("shutdown"), "{log}");

    // Nothing was lost: the re-hash with the new cost and the session are in the database.
    let db = Database::open(&url, &PoolOptions::default()).unwrap();
    db.read(|repo| {
        let (user, record) = repo
            .user_with_password(&Username::parse(GROUP_ADMIN).unwrap())?
            .unwrap();
        let hash = record.unwrap().hash;
        assert!(hash.as_str().contains("m=65536,t=60,p=1"), "re-hashed");
        assert_eq!(repo.user_sessions(user.key)?.len(), 1, "the session was stored");
        Ok::<_, accountd_domain::ports::StoreError>(())
    })
    .unwrap();
}

// ------------------------------------------------------------------------------------------------
// Two instances on one PostgreSQL schema

#[tokio::test]
async fn two_instances_share_sessions_logouts_password_changes_and_throttling() {
    let schema = match TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return postgres_unavailable(reason).unwrap_or(()),
    };
    let a = Server::start(schema.url(), &["--demo"], &[]);
    let b = Server::start(schema.url(), &[], &[]);
    let c = client();
    let info = |server: &Server, s: &Session| c.get(server.url(USER_LOGIN_INFO)).headers(s.headers()).send();

    // A session made on A is valid on B, for reads and (XSRF included) for changes.
    let s1 = session(&c, &a, "foouser", DEMO_PASSWORD).await;
    let on_b = info(&b, &s1).await.unwrap();
    assert_eq!(on_b.status(), StatusCode::OK);
    assert_eq!(on_b.json::<Value>().await.unwrap()["username"], "foouser");
    let put = c
        .put(b.url(USER_LOGIN_INFO))
        .headers(s1.headers())
        .json(&json!({"first_name": "Scaled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK, "XSRF token of A accepted by B");
    let on_a: Value = info(&a, &s1).await.unwrap().json().await.unwrap();
    assert_eq!(on_a["profile"]["first_name"], "Scaled", "B's write seen by A");

    // A logout on B is seen by A within a second (A may answer from the lookup it just made:
    // docs/performance.md, change 11).
    let out = c
        .post(b.url("/api/v1/logout/"))
        .headers(s1.headers())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_millis(1_250);
    while info(&a, &s1).await.unwrap().status() != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "A still accepts the session B ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A password change on A ends the user's other sessions on B, and B's Basic cache too.
    let on_b_session = session(&c, &b, "foouser", DEMO_PASSWORD).await;
    let basic_ok = c
        .get(b.url(USER_LOGIN_INFO))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic_ok.status(), StatusCode::OK, "B remembers this Basic verification");
    let changer = session(&c, &a, "foouser", DEMO_PASSWORD).await;
    let new_password = "Scaled-Out-Passw0rd!";
    let change = c
        .put(a.url(FOOUSER))
        .headers(changer.headers())
        .json(&json!({"oldPassword": DEMO_PASSWORD, "newPassword": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::OK);
    assert_eq!(
        info(&b, &on_b_session).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "the session on B ended"
    );
    assert_eq!(
        info(&b, &changer).await.unwrap().status(),
        StatusCode::OK,
        "the changer's stays"
    );
    let old_basic = c
        .get(b.url(USER_LOGIN_INFO))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_basic.status(),
        StatusCode::UNAUTHORIZED,
        "B's Basic cache is not fooled"
    );
    assert_eq!(login(&c, &b, "foouser", new_password).await.status(), StatusCode::OK);

    // Throttling counts are shared: ten failures on A, the eleventh attempt on B is refused.
    for attempt in 1..=10 {
        let r = login(&c, &a, "jbloggs", "Not-The-Passw0rd!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let eleventh = login(&c, &b, "jbloggs", DEMO_PASSWORD).await;
    assert_eq!(
        eleventh.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    assert!(eleventh.headers().contains_key("retry-after"));
    let metrics = c.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("accountd_throttled_attempts_total{route=\"/api/v1/login/\"} 1"),
        "{metrics}"
    );
    a.stop();
    b.stop();
}

/// Issue 15: two changes of one user sent at the same moment through two instances on one
/// PostgreSQL schema, round after round, end in the same order on the Application Server and
/// locally (the per-user claim orders them across instances); an ETag conflict is still 412.
#[tokio::test]
async fn two_instances_change_one_user_in_the_same_order_on_the_application_server_and_locally() {
    let schema = match TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return postgres_unavailable(reason).unwrap_or(()),
    };
    let stub = RecordingAs::start(Duration::from_millis(60));
    let base_url = stub.base_url();
    let env = [
        ("ACCOUNTD__APIO__LOGIN_MODE", "LOCAL_LOGIN_DEDICATED"),
        ("ACCOUNTD__UPSTREAM__KIND", "http"),
        ("ACCOUNTD__UPSTREAM__HTTP__BASE_URL", base_url.as_str()),
    ];
    let a = Server::start(schema.url(), &["--demo"], &env);
    let b = Server::start(schema.url(), &[], &env);
    let c = client();
    let (on_a, on_b) = (
        session(&c, &a, "foouser", DEMO_PASSWORD).await,
        session(&c, &b, "foouser", DEMO_PASSWORD).await,
    );
    let rename = |server: &Server, s: &Session, name: String| {
        c.put(server.url(USER_LOGIN_INFO))
            .headers(s.headers())
            .json(&json!({ "first_name": name }))
            .send()
    };
    let stored = || async { stored_first_name(&c, &a.url(""), &on_a).await.1.unwrap() };
    for round in 0..6 {
        let (one, two) = tokio::join!(
            rename(&a, &on_a, format!("A{round}")),
            rename(&b, &on_b, format!("B{round}"))
        );
        assert_eq!(one.unwrap().status(), StatusCode::OK);
        assert_eq!(two.unwrap().status(), StatusCode::OK);
        assert_eq!(stub.last_first_name(), Some(stored().await), "round {round}");
    }
    // Both send the ETag they read (seed 001): one wins, the other gets 412 and never reaches the AS.
    let read = c.get(a.url(FOOUSER)).headers(on_a.headers()).send().await.unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let sent = stub.profile_puts();
    let put = |server: &Server, s: &Session, name: &str| {
        c.put(server.url(FOOUSER))
            .headers(s.headers())
            .header("if-match", etag.clone())
            .json(&json!({ "firstName": name }))
            .send()
    };
    let (one, two) = tokio::join!(put(&a, &on_a, "Etag A"), put(&b, &on_b, "Etag B"));
    let mut statuses = [one.unwrap().status(), two.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
    assert_eq!(stub.profile_puts(), sent + 1);
    assert_eq!(stub.last_first_name(), Some(stored().await));
    let ready: Value = c.get(a.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        ready["outbox"],
        json!({"depth": 0, "oldest_age_seconds": 0, "divergences": 0})
    );
    a.stop();
    b.stop();
}

// ------------------------------------------------------------------------------------------------
// import / export

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples")
        .join(name)
}

fn run(args: &[&str], url: &str) -> (bool, String, String) {
    let out = binary()
        .args(args)
        .env("ACCOUNTD__DATABASE__URL", url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn import_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let csv = example("import.csv");
    let csv = csv.to_str().unwrap();
    let (ok, out, err) = run(&["import", csv], &url);
    assert!(ok, "{out}{err}");
    assert!(out.contains("total:       11 created, 0 unchanged, 0 failed"), "{out}");
    assert!(out.contains("users:       4 created"), "{out}");
    assert!(
        !err.contains("records ("),
        "no progress bar when standard error is not a terminal: {err}"
    );

    let (ok, out, _) = run(&["import", csv], &url);
    assert!(ok);
    assert!(
        out.contains("total:       0 created, 11 unchanged, 0 failed"),
        "idempotent: {out}"
    );

    let json = dir.path().join("export.json");
    let (ok, out, err) = run(&["export", json.to_str().unwrap()], &url);
    assert!(ok, "{out}{err}");
    let exported = std::fs::read_to_string(&json).unwrap();
    assert!(!exported.contains("Initial-Passw0rd!"), "never a plaintext password");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Both hold password hashes: the owner's only.
        for file in [json.clone(), dir.path().join("accountd.db")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }
    let records: Vec<Value> = serde_json::from_str(&exported).unwrap();
    assert_eq!(records.len(), 11);
    assert!(records.iter().all(|r| r.get("password").is_none()));
    let hank = records.iter().find(|r| r["username"] == "hank@globex.example").unwrap();
    assert!(
        hank["password_hash"].as_str().unwrap().starts_with("pbkdf2_sha256$"),
        "as imported"
    );

    // The export imports into an empty database, as CSV too (--format overrides the extension).
    let other = tempfile::tempdir().unwrap();
    let other_url = sqlite_url(other.path());
    let as_csv = dir.path().join("export.txt");
    let (ok, _, _) = run(&["export", as_csv.to_str().unwrap(), "--format", "csv"], &url);
    assert!(ok);
    let (ok, out, err) = run(&["import", as_csv.to_str().unwrap(), "--format", "csv"], &other_url);
    assert!(ok, "{out}{err}");
    assert!(out.contains("total:       11 created"), "{out}");

    // Bad records are named by line with their reason; the good ones are kept; the exit status
    // says something was refused.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "kind,tenant,group,username,level,first_name,last_name,email,password\n\
         user,Globex,Sales,ok@globex.example,0,Ok,User,,Some-Passw0rd!\n\
         user,Globex,Sales,bad@globex.example,0,Bad,User,not-an-address,Some-Passw0rd!\n\
         group,Nowhere,Lost,,,,,,\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["import", bad.to_str().unwrap()], &url);
    assert!(!ok);
    assert!(err.contains("line 3: user: "), "{err}");
    assert!(err.contains("email"), "{err}");
    assert!(err.contains("line 4: group: no such tenant"), "{err}");
    assert!(!err.contains("Some-Passw0rd!"), "no password in a report");
    assert!(out.contains("users:       1 created, 0 unchanged, 1 failed"), "{out}");
}

// ------------------------------------------------------------------------------------------------
// Documentation

fn leaf_keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_keys(v, &key, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn configuration_reference_lists_every_key() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")).unwrap();
    let defaults = serde_json::to_value(accountd::config::AppConfig::default()).unwrap();
    let mut keys = Vec::new();
    leaf_keys(&defaults, "", &mut keys);
    assert!(keys.len() > 40, "{keys:?}");
    for key in &keys {
        assert!(doc.contains(&format!("`{key}`")), "docs/configuration.md lacks `{key}`");
        let env = format!("ACCOUNTD__{}", key.replace('.', "__").to_uppercase());
        assert!(doc.contains(&format!("`{env}`")), "docs/configuration.md lacks `{env}`");
    }
    // Its "complete file" is a valid configuration, and is the defaults.
    let start = doc.find("## A complete file with every default").unwrap();
    let block = &doc[start..];
    let toml = &block[block.find("```toml\n").unwrap() + 8..];
    let toml = &toml[..toml.find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accountd.toml");
    std::fs::write(&file, toml).unwrap();
    let loaded = accountd::config::AppConfig::load_from(Some(&file), Vec::new()).unwrap();
    assert_eq!(serde_json::to_value(loaded).unwrap(), defaults);
}

// ------------------------------------------------------------------------------------------------
// Second factors: keys and the operator's reset

/// `accountd keygen` prints a key the server takes; PostgreSQL without `security.keys` is refused
/// at start, naming the fix; SQLite generates its key file beside the database; `accountd user
/// reset-factors` answers for a user without factors and refuses an unknown one.
#[test]
fn keys_and_the_operators_factor_reset_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let (ok, out, err) = run(&["keygen", "--id", "k2"], &url);
    assert!(ok, "{err}");
    let line = out.trim();
    let (id, key) = line.split_once(':').unwrap();
    assert_eq!(id, "k2");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key).unwrap().len(), 32);
    let (ok, _, err) = run(&["keygen", "--id", "not an id"], &url);
    assert!(!ok, "a bad id is refused: {err}");

    // SQLite without a configured key: one is generated beside the database, mode 0600.
    let (ok, out, err) = binary()
        .args(["user", "reset-factors", "admin"])
        .env("ACCOUNTD__DATABASE__URL", &url)
        .env_remove("ACCOUNTD__SECURITY__KEYS")
        .output()
        .map(|o| {
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert!(!ok, "no user admin before the first serve: {out}{err}");
    let key_file = dir.path().join("accountd-keys");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let (ok, out, err) = run(&["import", example("import.csv").to_str().unwrap()], &url);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(&["user", "reset-factors", "hank@globex.example"], &url);
    assert!(ok, "{out}{err}");
    assert!(out.contains("had no second factor"), "{out}");

    // PostgreSQL without a key: refused at start, saying what to do.
    let (ok, _, err) = binary()
        .args(["user", "reset-factors", "admin"])
        .env("ACCOUNTD__DATABASE__URL", "postgres://postgres@127.0.0.1:5432/test")
        .env_remove("ACCOUNTD__SECURITY__KEYS")
        .output()
        .map(|o| {
            (
                o.status.success(),
                String::new(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert!(!ok);
    assert!(
        err.contains("security.keys is required with PostgreSQL") && err.contains("accountd keygen"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------------
// Notifications (issue 22): durable through a kill -9, delivered once by two instances

/// A configuration file with one webhook endpoint at `url` wanting `events`.
fn webhook_config(dir: &Path, url: &str, events: &[&str]) -> PathBuf {
    let file = dir.join("accountd.toml");
    let events: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    std::fs::write(
        &file,
        format!(
            "[[notifications.webhooks]]\nname = \"crm\"\nurl = \"{url}\"\nsecret = \"{}\"\nevents = [{}]\n",
            receiver::SECRET,
            events.join(", ")
        ),
    )
    .unwrap();
    file
}

/// Fast retries, so the tests need not wait out the default backoff.
const FAST_OUTBOX: [(&str, &str); 3] = [
    ("ACCOUNTD__OUTBOX__POLL_INTERVAL_MS", "50"),
    ("ACCOUNTD__OUTBOX__FIRST_RETRY_DELAY_MS", "100"),
    ("ACCOUNTD__OUTBOX__MAX_RETRY_DELAY_SECONDS", "1"),
];

/// Waits (at most 30 s) until `receiver` has `n` requests.
async fn received(receiver: &receiver::Receiver, n: usize) -> Vec<receiver::Received> {
    let started = Instant::now();
    while receiver.received().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {n} webhook deliveries",
            receiver.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.received()
}

#[tokio::test]
async fn an_undelivered_notification_is_delivered_after_a_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    // The receiver's port, with nothing listening on it yet: every attempt fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hook = format!("http://127.0.0.1:{port}/hooks/accountd");
    let config = webhook_config(dir.path(), &hook, &["password_changed"]);
    let config_arg = config.display().to_string();
    let first = Server::start(&url, &["--config", &config_arg, "--demo"], &FAST_OUTBOX);
    let changed = client()
        .post(first.url("/api/portal/v1.3/currentuser/changepassword"))
        .basic_auth("foouser", Some(DEMO_PASSWORD))
        .form(&[("oldPassword", DEMO_PASSWORD), ("newPassword", "Fresh-Passw0rd!7")])
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    // A few attempts fail (connection refused), then the process is killed outright.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    // The receiver comes up; a new process on the same database delivers the event.
    let receiver = receiver::Receiver::start_on(port, vec![]);
    let second = Server::start(&url, &["--config", &config_arg], &FAST_OUTBOX);
    let got = received(&receiver, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 1, "delivered once: {got_now:?}");
    let event: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(event["type"], "accountd.password_changed");
    assert_eq!(event["data"]["username"], "foouser");
    assert!(receiver::signed(
        got[0].header("accountd-signature").unwrap(),
        &got[0].body
    ));
    second.stop();
}

#[tokio::test]
async fn two_instances_on_one_postgresql_deliver_each_notification_once() {
    let schema = match TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return postgres_unavailable(reason).unwrap_or(()),
    };
    let dir = tempfile::tempdir().unwrap();
    let receiver = receiver::Receiver::start(vec![]);
    let config = webhook_config(dir.path(), &receiver.url, &["sign_in"]);
    let config_arg = config.display().to_string();
    let a = Server::start(schema.url(), &["--config", &config_arg, "--demo"], &FAST_OUTBOX);
    let b = Server::start(schema.url(), &["--config", &config_arg], &FAST_OUTBOX);
    let c = client();
    const SIGN_INS: usize = 8;
    for n in 0..SIGN_INS {
        let server = if n % 2 == 0 { &a } else { &b };
        let response = login(&c, server, "foouser", DEMO_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let got = received(&receiver, SIGN_INS).await;
    // Both workers keep looking for a while: nothing is delivered twice.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), SIGN_INS, "{got_now:?}");
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), SIGN_INS, "each event once");
    a.stop();
    b.stop();
}
