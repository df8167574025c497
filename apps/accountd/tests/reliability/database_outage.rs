//! Item 2, PostgreSQL outages mid-load: a database of the test's own on the shared server is made
//! to refuse connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`) and its backends are ended
//! (`pg_terminate_backend`), for a few seconds, while clients write and read. Requests during the
//! outage must get 503 with `Retry-After` (never a 500), `/readyz` must say not ready, the pool must
//! recover by itself once connections are allowed again, and no acknowledged write may be lost.

use crate::report::{Scale, report};
use crate::server::*;
use accountd_storage::testing::{in_ci, postgres_base_url};
use accountd_storage::{Database, PoolOptions};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;

/// A database created for this test on the shared server, dropped at the end.
struct OwnDatabase {
    admin: Database,
    name: String,
    url: String,
}

impl OwnDatabase {
    fn create() -> Result<OwnDatabase, String> {
        let base = postgres_base_url();
        let admin = Database::open(&base, &PoolOptions::default()).map_err(|e| e.to_string())?;
        let name = format!("accountd_outage_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .map_err(|e| e.to_string())?;
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => return Err(format!("no database in {base}")),
        };
        Ok(OwnDatabase { admin, name, url })
    }

    /// Refuses new connections and ends every open one.
    fn go_down(&self) {
        self.admin
            .execute_raw(&format!(
                "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
                self.name
            ))
            .unwrap();
    }

    fn come_back(&self) {
        self.admin
            .execute_raw(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.name))
            .unwrap();
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute_raw(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// What the clients saw, by phase.
#[derive(Debug, Default)]
struct Seen {
    /// Status → count, for requests that started during the outage.
    during: BTreeMap<u16, u64>,
    /// Status → count, for the others.
    outside: BTreeMap<u16, u64>,
    /// 503s without `Retry-After`.
    without_retry_after: u64,
    /// Requests that got no answer at all.
    unanswered: u64,
}

#[tokio::test]
async fn a_postgres_outage_answers_503_recovers_by_itself_and_loses_nothing() {
    let own = match OwnDatabase::create() {
        Ok(own) => own,
        Err(reason) => {
            assert!(!in_ci(), "CI must run the PostgreSQL outage: {reason}");
            eprintln!("skipping postgres: {reason}");
            return;
        }
    };
    let scale = Scale::get();
    let outage = scale.pick(Duration::from_secs(3), Duration::from_secs(10));
    // A short pool wait: during the outage a request waits this long for a connection, then 503.
    let server = Server::start(
        &own.url,
        &["--demo"],
        &[("ACCOUNTD__DATABASE__POOL_TIMEOUT_MS", "1000")],
    );
    let url = format!("http://127.0.0.1:{}", server.port);
    let c = client();
    let sessions: Vec<Session> = {
        let mut sessions = Vec::new();
        for _ in 0..CLIENTS {
            sessions.push(session(&c, &server, "foouser", DEMO_PASSWORD).await);
        }
        sessions
    };
    let down = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    // Each client renames its own profile field… all on foouser: the last acknowledged name wins.
    let acked: Arc<Mutex<Vec<(Instant, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, s) in sessions.into_iter().enumerate() {
        let (url, down, stop, seen, acked) = (url.clone(), down.clone(), stop.clone(), seen.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let during = down.load(Ordering::SeqCst);
                let write = n % 2 == 0;
                let name = format!("C{i}n{n}");
                let request = if write {
                    c.put(format!("{url}{USER_LOGIN_INFO}"))
                        .headers(s.headers())
                        .json(&json!({"last_name": name}))
                } else {
                    c.get(format!("{url}{USER_LOGIN_INFO}")).headers(s.headers())
                };
                let sent_at = Instant::now();
                let Ok(response) = request.timeout(Duration::from_secs(30)).send().await else {
                    seen.lock().unwrap().unanswered += 1;
                    continue;
                };
                let status = response.status();
                {
                    let mut seen = seen.lock().unwrap();
                    let bucket = if during { &mut seen.during } else { &mut seen.outside };
                    *bucket.entry(status.as_u16()).or_default() += 1;
                    if status == StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key("retry-after") {
                        seen.without_retry_after += 1;
                    }
                }
                if write && status.is_success() {
                    acked.lock().unwrap().push((sent_at, name));
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    own.go_down();
    down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ready_during = c.get(format!("{url}/readyz")).send().await.unwrap();
    let ready_during_status = ready_during.status();
    let ready_during_retry = ready_during.headers().contains_key("retry-after");
    tokio::time::sleep(outage.saturating_sub(Duration::from_millis(1500))).await;
    own.come_back();
    let back_at = Instant::now();
    down.store(false, Ordering::SeqCst);
    // The pool recovers by itself: /readyz is 200 again, and so are the clients' requests.
    let recovered_ms = loop {
        let ready = c.get(format!("{url}/readyz")).send().await.unwrap();
        if ready.status() == StatusCode::OK {
            break back_at.elapsed().as_millis();
        }
        assert!(back_at.elapsed() < Duration::from_secs(30), "the pool did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    // No acknowledged write lost: the name stored is the last one acknowledged (every write went
    // to the same user; the server answered them one after the other).
    let foo = session(&c, &server, "foouser", DEMO_PASSWORD).await;
    let (_, info) = login_info(&c, &url, &foo).await;
    let stored = info["profile"]["last_name"].as_str().unwrap().to_owned();
    let acked = acked.lock().unwrap().clone();
    let acknowledged = acked.len() as u64;
    // Writes overlap in time, so the last one answered need not be the last applied: the stored
    // one must be one of those acknowledged, and after the outage at least one was.
    let lost = u64::from(!acked.iter().any(|(_, name)| *name == stored));
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    let server_errors: u64 = seen
        .during
        .iter()
        .chain(&seen.outside)
        .filter(|(status, _)| **status >= 500 && **status != 503)
        .map(|(_, n)| n)
        .sum();
    report(json!({
        "scenario": "PostgreSQL outage",
        "backend": "PostgreSQL",
        "fault": format!("connections refused and every backend terminated for {} s, under {CLIENTS} clients", outage.as_secs()),
        "answered": format!("during the outage {:?}; outside it {:?}; /readyz {} during", seen.during, seen.outside, ready_during_status.as_u16()),
        "acknowledged": acknowledged,
        "lost": lost,
        "recovered_ms": recovered_ms,
        "unanswered": seen.unanswered,
        "503_without_retry_after": seen.without_retry_after,
    }));
    assert_eq!(server_errors, 0, "a 5xx other than 503: {seen:?}");
    assert_eq!(seen.without_retry_after, 0, "every 503 says when to retry");
    assert_eq!(seen.unanswered, 0);
    assert!(
        seen.during.get(&503).copied().unwrap_or(0) > 0,
        "the outage was felt: {seen:?}"
    );
    assert_eq!(ready_during_status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready_during_retry);
    assert_eq!(lost, 0, "stored {stored:?} was never acknowledged");
    server.stop();
}
