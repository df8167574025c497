//! Item 1, crashes under load: SIGKILL while 16 clients write (profile PUTs, password changes, PIN
//! changes, logins), in LOCAL_LOGIN_DEDICATED so every change also goes to an Application Server
//! (a recording stub) and arms a realignment in the outbox; then a restart on the same database.
//! Every acknowledged change must be there (the value in flight at the kill may or may not be),
//! each change must have its audit event and no other (nothing half-applied), the database's own
//! check must be clean, and the outbox must drain after the restart with the AS aligned with the
//! local store.

use crate::population::Population;
use crate::recording_as::RecordingAs;
use crate::report::{Scale, report};
use crate::server::*;
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_storage::testing::{TestSchema, postgres_unavailable};
use accountd_storage::{Database, PoolOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USERS: usize = 16;
const TENANT: &str = "Rel";
const GROUP: &str = "RelGroup";
/// The writers' `n`-th password: never one of the history's (each change takes the next).
fn password(n: usize) -> String {
    format!("Reliable-Passw0rd-{n:03}!")
}
/// Valid under the default PIN rules (no runs, repeats, patterns or reversals of each other).
const PINS: [&str; 6] = ["739152", "264817", "518394", "947261", "385729", "672593"];
/// The AS's request timeout: claims expire 2 × this + 5 s after a crash.
const AS_TIMEOUT_MS: u64 = 1000;

/// The writers.
const WRITERS: Population = Population {
    prefix: "w",
    tenant: TENANT,
    group: GROUP,
    count: USERS,
    first_name: "Writer",
    password: "Reliable-Passw0rd-000!",
};

fn start(database_url: &str, stub: &RecordingAs) -> Server {
    let base_url = stub.base_url();
    let timeout = format!("{AS_TIMEOUT_MS}ms");
    Server::start(
        database_url,
        &[],
        &[
            ("ACCOUNTD__APIO__LOGIN_MODE", "LOCAL_LOGIN_DEDICATED"),
            ("ACCOUNTD__UPSTREAM__KIND", "http"),
            ("ACCOUNTD__UPSTREAM__HTTP__BASE_URL", &base_url),
            ("ACCOUNTD__UPSTREAM__HTTP__REQUEST_TIMEOUT", &timeout),
            ("ACCOUNTD__OUTBOX__POLL_INTERVAL_MS", "100"),
            // The writers log in over and over with the right password: no throttling concern,
            // but 16 writers share one address.
            ("ACCOUNTD__THROTTLE__FAILURE_FLOOR_MS", "0"),
        ],
    )
}

/// What one writer knows: the last acknowledged value of each thing it changes, and the one in
/// flight when the server died (it may or may not have been applied).
#[derive(Debug, Default, Clone)]
struct Writer {
    first_name: Option<String>,
    pending_name: Option<String>,
    password: usize,
    pending_password: Option<usize>,
    pin: Option<usize>,
    pending_pin: Option<usize>,
    /// Writes answered 2xx (profile, password, PIN).
    acknowledged: u64,
    logins: u64,
    /// A write in flight when the server died.
    in_flight: bool,
    /// Answers other than 2xx while the server was up.
    refused: Vec<String>,
}

/// Writes as user `i` until the server dies (a request fails to get an answer) or `stop`.
async fn write_until_killed(i: usize, server_url: String, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> Writer {
    let c = client();
    let user = WRITERS.username(i);
    let mut w = Writer::default();
    let Some(session) = try_session(&c, &server_url, &user, &password(0)).await else {
        w.refused.push("first login".into());
        return w;
    };
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let (request, op) = match n % 4 {
            0 => {
                let name = format!("W{i}n{n}");
                w.pending_name = Some(name.clone());
                (
                    c.put(format!("{server_url}{USER_LOGIN_INFO}"))
                        .headers(session.headers())
                        .json(&json!({"first_name": name})),
                    "profile",
                )
            }
            1 => {
                let next = w.password + 1;
                w.pending_password = Some(next);
                (
                    c.put(format!("{server_url}{}", WRITERS.user_path(i)))
                        .headers(session.headers())
                        .json(&json!({"oldPassword": password(w.password), "newPassword": password(next)})),
                    "password",
                )
            }
            2 => {
                let next = w.pin.map_or(0, |p| (p + 1) % PINS.len());
                w.pending_pin = Some(next);
                let mut body = json!({"pinCode": PINS[next]});
                if let Some(old) = w.pin {
                    body["oldPinCode"] = json!(PINS[old]);
                }
                (
                    c.put(format!("{server_url}{}pincode/", WRITERS.user_path(i)))
                        .headers(session.headers())
                        .json(&body),
                    "pin",
                )
            }
            _ => (
                c.post(format!("{server_url}/api/v1/login/"))
                    .json(&json!({"username": user, "password": password(w.password)})),
                "login",
            ),
        };
        w.in_flight = op != "login";
        let Ok(response) = request.send().await else {
            // No answer: the server died with this request in flight.
            return w;
        };
        let status = response.status();
        w.in_flight = false;
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            w.refused.push(format!("{op}: {status} {body}"));
            w.pending_name = None;
            w.pending_password = None;
            w.pending_pin = None;
            continue;
        }
        match op {
            "profile" => w.first_name = w.pending_name.take(),
            "password" => w.password = w.pending_password.take().unwrap_or(w.password),
            "pin" => w.pin = w.pending_pin.take(),
            _ => w.logins += 1,
        }
        if op != "login" {
            w.acknowledged += 1;
            acked.fetch_add(1, Ordering::SeqCst);
        }
    }
    w
}

/// After the restart: whether user `i`'s acknowledged changes are all there; checks and reports
/// each. Returns the number of lost ones (0, 1, 2 or 3).
async fn lost_changes(i: usize, server_url: &str, w: &Writer, db: &Database) -> u64 {
    let c = client();
    let user = WRITERS.username(i);
    let mut lost = 0;
    // The password: the acknowledged one, or the one in flight if it was applied.
    let candidates: Vec<usize> = std::iter::once(w.password).chain(w.pending_password).collect();
    let mut session = None;
    for p in &candidates {
        if let Some(s) = try_session(&c, server_url, &user, &password(*p)).await {
            session = Some(s);
            break;
        }
    }
    let Some(session) = session else {
        eprintln!("{user}: no password of {candidates:?} logs in");
        return 3;
    };
    // The first name.
    let (_, stored) = stored_first_name(&c, server_url, &session).await;
    let stored = stored.unwrap();
    // Before its first acknowledged rename, the imported name is as good.
    let acked = w.first_name.clone().unwrap_or_else(|| "Writer".to_owned());
    let expected: Vec<String> = std::iter::once(acked).chain(w.pending_name.clone()).collect();
    if !expected.contains(&stored) {
        eprintln!("{user}: first name {stored:?}, acknowledged {expected:?}");
        lost += 1;
    }
    // The PIN: changing it again needs the current one as the old PIN.
    if let Some(acked) = w.pin {
        let mut olds: Vec<usize> = vec![acked];
        olds.extend(w.pending_pin);
        let mut ok = false;
        let mut answers = Vec::new();
        for old in olds {
            let next = (old + 2) % PINS.len();
            // A claim the killed server held answers 503 `user-busy` until it expires: retried as
            // a client would, after `Retry-After`.
            let started = Instant::now();
            let status = loop {
                let response = c
                    .put(format!("{server_url}{}pincode/", WRITERS.user_path(i)))
                    .headers(session.headers())
                    .json(&json!({"oldPinCode": PINS[old], "pinCode": PINS[next]}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                if status != StatusCode::SERVICE_UNAVAILABLE || started.elapsed() > Duration::from_secs(20) {
                    break status;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            answers.push(status);
            if status.is_success() {
                ok = true;
                break;
            }
        }
        if !ok {
            eprintln!("{user}: neither the acknowledged PIN nor the one in flight is the PIN: {answers:?}");
            lost += 1;
        }
    }
    // Nothing half-applied: one successful audit event per applied change, no more.
    let key = db
        .read(|repo| repo.user_by_username(&Username::parse(&user).unwrap()))
        .unwrap()
        .unwrap()
        .key;
    let audited = db
        .read(|repo| repo.recent_audit(Some(key), 100_000))
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome == AuditOutcome::Success)
        .filter(|e| {
            matches!(
                e.action,
                AuditAction::ProfileUpdate | AuditAction::PasswordChange | AuditAction::PinChange
            )
        })
        .count() as u64;
    // The PIN check above made one more change.
    let checked = u64::from(w.pin.is_some());
    let applied_at_most = w.acknowledged + u64::from(w.in_flight) + checked;
    assert!(
        (w.acknowledged + checked..=applied_at_most).contains(&audited),
        "{user}: {audited} audited changes for {} acknowledged (+{} in flight)",
        w.acknowledged,
        u64::from(w.in_flight)
    );
    lost
}

async fn crash_under_load(backend: &str, database_url: &str, dir: &Path) {
    let scale = Scale::get();
    WRITERS.import(database_url, dir);
    // A slow AS: a kill then often finds changes inside their AS call, with a realignment armed.
    let stub = RecordingAs::start(Duration::from_millis(150));
    let server = start(database_url, &stub);
    let url = format!("http://127.0.0.1:{}", server.port);
    let started_load = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..USERS)
        .map(|i| tokio::spawn(write_until_killed(i, url.clone(), stop.clone(), acked.clone())))
        .collect();
    // The load runs for its time, and until every writer could have written twice (on a busy
    // machine the first logins alone, 16 argon2 verifications, take seconds).
    tokio::time::sleep(scale.pick(Duration::from_secs(3), Duration::from_secs(15))).await;
    let waiting = Instant::now();
    while acked.load(Ordering::SeqCst) < 2 * USERS as u64 && waiting.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load_seconds = started_load.elapsed().as_secs();
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut states = Vec::new();
    for writer in writers {
        states.push(writer.await.unwrap());
    }
    drop(server);
    let acknowledged: u64 = states.iter().map(|w| w.acknowledged).sum();
    let logins: u64 = states.iter().map(|w| w.logins).sum();
    let in_flight = states.iter().filter(|w| w.in_flight).count();
    let refused: Vec<&String> = states.iter().flat_map(|w| &w.refused).collect();
    assert!(
        refused.is_empty(),
        "{backend}: refused while the server was up: {refused:?}"
    );
    assert!(
        acknowledged >= USERS as u64,
        "{backend}: the writers wrote ({acknowledged})"
    );

    // Restart on the same database.
    let restarted_at = Instant::now();
    let server = start(database_url, &stub);
    let restart_ms = restarted_at.elapsed().as_millis();
    let url = format!("http://127.0.0.1:{}", server.port);
    let db = Database::open(database_url, &PoolOptions::default()).unwrap();
    let problems = db.integrity_check().unwrap();
    assert!(problems.is_empty(), "{backend}: integrity check: {problems:?}");
    // The outbox drains (armed realignments of the changes in flight are due when their claims
    // would have expired: 2 × the AS timeout + 5 s).
    let c = client();
    let started = Instant::now();
    let mut depth_after_restart = None;
    loop {
        let ready: Value = c
            .get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let depth = ready["outbox"]["depth"].as_u64().unwrap();
        depth_after_restart.get_or_insert(depth);
        if depth == 0 {
            assert_eq!(ready["outbox"]["divergences"], 0, "{backend}: {ready}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{backend}: the outbox did not drain: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained_ms = started.elapsed().as_millis();
    let mut lost = 0;
    for (i, w) in states.iter().enumerate() {
        lost += lost_changes(i, &url, w, &db).await;
    }
    // The AS agrees with the local store for every writer it heard of.
    for i in 0..USERS {
        let user = WRITERS.username(i);
        if let Some(on_the_as) = stub.first_name_of(&user) {
            let local = db
                .read(|repo| repo.user_by_username(&Username::parse(&user).unwrap()))
                .unwrap()
                .unwrap()
                .profile
                .first_name
                .to_string();
            assert_eq!(on_the_as, local, "{backend}: {user} on the AS and locally");
        }
    }
    report(json!({
        "scenario": "crash under load",
        "backend": backend,
        "fault": format!(
            "SIGKILL while {USERS} clients wrote profiles, passwords and PINs and logged in, after {} s",
            load_seconds
        ),
        "answered": format!("every request answered before the kill was 2xx; {in_flight} write(s) in flight got no answer"),
        "acknowledged": acknowledged,
        "lost": lost,
        "logins": logins,
        "restart_ms": restart_ms,
        "outbox_after_restart": depth_after_restart,
        "outbox_drained_ms": drained_ms,
        "integrity_check": "clean",
    }));
    assert_eq!(lost, 0, "{backend}: acknowledged changes lost");
    server.stop();
}

#[tokio::test]
async fn a_kill_under_load_loses_no_acknowledged_change_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_under_load("SQLite", &sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test]
async fn a_kill_under_load_loses_no_acknowledged_change_on_postgres() {
    let schema = match TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return postgres_unavailable(reason).unwrap_or(()),
    };
    let dir = tempfile::tempdir().unwrap();
    crash_under_load("PostgreSQL", schema.url(), dir.path()).await;
}
