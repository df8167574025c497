//! Item 5, the soak: [`Scale::soak`] of mixed load (GETs, profile PUTs, logins, wrong logins,
//! password changes) from [`CLIENTS`] clients on one server, with sessions expiring (short idle and
//! absolute timeouts, one client pausing past the idle timeout now and then) and the periodic purge
//! running every second or two with a short audit retention, so that everything the purge bounds is
//! created, expires and is purged many times over within the run.
//!
//! Every few seconds it samples the server's resident memory (`/proc/<pid>/status` VmRSS), its
//! open file descriptors (`/proc/<pid>/fd`), the database's size (SQLite: the file and its WAL;
//! PostgreSQL: `pg_total_relation_size` of every table of the schema) and the rows of the tables
//! the purge bounds. On a PostgreSQL server without autovacuum (the shared test server has it off)
//! it vacuums the schema's tables every minute itself, as autovacuum would in production: without
//! that, every UPDATE and DELETE leaves a dead row version nothing reclaims, and the size grows
//! with the traffic whatever the purge does. It reports their slopes per hour (least squares over the samples after a
//! warm-up that lets the first sessions and audit events reach their retention), and the log's
//! size per request at the default `log.access` (`RELIABILITY_SOAK_ACCESS_LOG=all` measures the
//! other setting).
//!
//! It asserts no error answer (no 5xx, no transport error, no 4xx but the expected ones: the wrong
//! logins' 401, and a session's 401 only once the client's own clock says it may have expired),
//! that once the load stops every session, throttling counter and audit event is purged, and
//! generous bounds on memory, descriptors and database size after the warm-up (a leak doubling
//! them fails; the figures themselves are for docs/reliability.md).

use crate::population::Population;
use crate::report::{Scale, report};
use crate::server::*;
use accountd_storage::testing::{TestSchema, postgres_unavailable};
use diesel::prelude::*;
use reqwest::{Client, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const TENANT: &str = "Soak";
const GROUP: &str = "SoakGroup";
const FIRST_PASSWORD: &str = "Soaking-Passw0rd-0!";
/// Session timeouts short enough that sessions expire many times within a CI-scale run.
const IDLE_TIMEOUT_S: u64 = 3;
const ABSOLUTE_TIMEOUT_S: u64 = 8;
const TOUCH_INTERVAL_S: u64 = 1;
const THROTTLE_WINDOW_S: u64 = 5;
/// The tables the periodic purge bounds.
const PURGED_TABLES: [&str; 4] = ["sessions", "throttle", "audit_events", "user_claims"];

/// The soak's users.
const USERS: Population = Population {
    prefix: "s",
    tenant: TENANT,
    group: GROUP,
    count: CLIENTS,
    first_name: "Soaker",
    password: FIRST_PASSWORD,
};

/// How the run is sized: the purge and the retention shrink with short runs so that purging
/// happens many times whatever the length.
#[derive(Debug, Clone, Copy)]
struct Plan {
    duration: Duration,
    purge_interval: Duration,
    retention: Duration,
    sample_every: Duration,
    /// Samples before this are not in the slopes: the first sessions, counters and events have not
    /// reached their timeouts yet, and the allocator and SQLite's page caches are still filling.
    warm_up: Duration,
}

impl Plan {
    fn new(duration: Duration) -> Plan {
        let secs = duration.as_secs().max(4);
        let purge_interval = Duration::from_secs(if secs < 60 { 1 } else { 2 });
        let retention = Duration::from_secs((secs / 8).clamp(5, 60));
        let settle = retention + 2 * purge_interval + Duration::from_secs(ABSOLUTE_TIMEOUT_S);
        Plan {
            duration,
            purge_interval,
            retention,
            sample_every: Duration::from_secs((secs / 60).clamp(1, 10)),
            warm_up: settle.min(duration / 2),
        }
    }
}

/// Reads what the database holds, on a connection of its own.
enum Probe {
    Sqlite {
        path: PathBuf,
        conn: SqliteConnection,
    },
    Postgres {
        conn: PgConnection,
        /// Set when the server runs without autovacuum (the shared test server does): the probe
        /// then vacuums the schema's tables every [`VACUUM_EVERY`], as autovacuum would, so that
        /// the size measured is that of a production server rather than of dead row versions
        /// nothing reclaims. The times it did, for the report.
        vacuums: Option<(Instant, u64)>,
    },
}

/// autovacuum's default naptime.
const VACUUM_EVERY: Duration = Duration::from_secs(60);

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    setting: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl Probe {
    fn open(database_url: &str) -> Probe {
        match database_url.strip_prefix("sqlite://") {
            Some(path) => Probe::Sqlite {
                path: PathBuf::from(path),
                conn: SqliteConnection::establish(path).unwrap(),
            },
            None => {
                let mut conn = PgConnection::establish(database_url).unwrap();
                let autovacuum: Vec<Setting> =
                    diesel::sql_query("SELECT setting FROM pg_settings WHERE name = 'autovacuum'")
                        .load(&mut conn)
                        .unwrap();
                let off = autovacuum.first().is_some_and(|s| s.setting == "off");
                Probe::Postgres {
                    conn,
                    vacuums: off.then(|| (Instant::now(), 0)),
                }
            }
        }
    }

    /// What autovacuum would have done by now, when the server has it off.
    fn vacuum_if_due(&mut self) {
        let Probe::Postgres {
            conn,
            vacuums: Some((last, n)),
        } = self
        else {
            return;
        };
        if last.elapsed() < VACUUM_EVERY {
            return;
        }
        let tables: Vec<Setting> =
            diesel::sql_query("SELECT tablename AS setting FROM pg_tables WHERE schemaname = current_schema()")
                .load(conn)
                .unwrap();
        for t in tables {
            diesel::sql_query(format!("VACUUM \"{}\"", t.setting))
                .execute(conn)
                .unwrap();
        }
        *last = Instant::now();
        *n += 1;
    }

    /// PostgreSQL: the largest relations of the schema (tables, indexes, TOAST), for the report.
    fn largest(&mut self) -> Vec<(String, i64)> {
        #[derive(QueryableByName)]
        struct Relation {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            bytes: i64,
        }
        let Probe::Postgres { conn, .. } = self else {
            return Vec::new();
        };
        let rows: Vec<Relation> = diesel::sql_query(
            "SELECT c.relname::TEXT AS name, pg_relation_size(c.oid)::BIGINT AS bytes FROM pg_class c \
             JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = current_schema() \
             ORDER BY 2 DESC LIMIT 6",
        )
        .load(conn)
        .unwrap();
        rows.into_iter().map(|r| (r.name, r.bytes)).collect()
    }

    fn vacuums(&self) -> Option<u64> {
        match self {
            Probe::Postgres {
                vacuums: Some((_, n)), ..
            } => Some(*n),
            _ => None,
        }
    }

    fn count(&mut self, sql: &str) -> u64 {
        let rows: Vec<Count> = match self {
            Probe::Sqlite { conn, .. } => diesel::sql_query(sql).load(conn),
            Probe::Postgres { conn, .. } => diesel::sql_query(sql).load(conn),
        }
        .unwrap();
        rows.first().map_or(0, |c| c.n as u64)
    }

    /// The database's size on disk: SQLite's file and its WAL; every table of the schema with its
    /// indexes and TOAST on PostgreSQL.
    fn bytes(&mut self) -> u64 {
        match self {
            Probe::Sqlite { path, .. } => {
                let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                size(path.clone()) + size(PathBuf::from(wal))
            }
            Probe::Postgres { .. } => self.count(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT AS n FROM pg_class c \
                 JOIN pg_namespace s ON s.oid = c.relnamespace \
                 WHERE s.nspname = current_schema() AND c.relkind = 'r'",
            ),
        }
    }

    fn rows(&mut self) -> BTreeMap<&'static str, u64> {
        PURGED_TABLES
            .iter()
            .map(|t| (*t, self.count(&format!("SELECT COUNT(*) AS n FROM {t}"))))
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: u64,
    db_bytes: u64,
    rows: BTreeMap<&'static str, u64>,
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64
}

/// Samples the server every `every` until `stop`, on a thread of its own (the probe's queries
/// block).
fn sample_until(
    pid: u32,
    mut probe: Probe,
    every: Duration,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<Sample>, Probe)> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        loop {
            samples.push(Sample {
                at: started.elapsed(),
                rss_kib: rss_kib(pid),
                fds: open_fds(pid),
                db_bytes: probe.bytes(),
                rows: probe.rows(),
            });
            if stop.load(Ordering::SeqCst) {
                return (samples, probe);
            }
            probe.vacuum_if_due();
            std::thread::sleep(every);
        }
    })
}

/// The least-squares slope of `y` over time, per hour.
fn slope_per_hour(points: &[(Duration, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let hours: Vec<f64> = points.iter().map(|(t, _)| t.as_secs_f64() / 3600.0).collect();
    let mean_x = hours.iter().sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, (_, y)) in hours.iter().zip(points) {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// What one client did, and every answer it did not expect.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    ops: BTreeMap<&'static str, u64>,
    /// Requests that write an audit event (logins, wrong logins, profile and password changes).
    audited: u64,
    expired_idle: u64,
    expired_absolute: u64,
    errors: Vec<String>,
}

struct LoggedIn {
    session: Session,
    /// When the login was sent: the session was created after.
    login_sent: Instant,
    /// When the last request it answered 2xx was sent: the session was last active after.
    last_ok_sent: Instant,
}

async fn login(c: &Client, url: &str, user: &str, password: &str, t: &mut Tally) -> Option<LoggedIn> {
    let sent = Instant::now();
    t.requests += 1;
    t.audited += 1;
    *t.ops.entry("login").or_default() += 1;
    let response = match c
        .post(format!("{url}/api/v1/login/"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            t.errors.push(format!("login: {e}"));
            return None;
        }
    };
    if response.status() != StatusCode::OK {
        let status = response.status();
        t.errors
            .push(format!("login: {status} {}", response.text().await.unwrap_or_default()));
        return None;
    }
    Some(LoggedIn {
        session: Session {
            id: cookie(&response, "sessionid").unwrap(),
            xsrf: cookie(&response, "XSRF-TOKEN").unwrap(),
        },
        login_sent: sent,
        last_ok_sent: sent,
    })
}

/// Client `i`: the mixed load on user `i` until `stop`. Client 0 also pauses past the idle
/// timeout every 40 requests, so idle expiry happens besides the absolute one.
async fn drive(i: usize, url: String, stop: Arc<AtomicBool>) -> Tally {
    let c = client();
    let user = USERS.username(i);
    let mut password = FIRST_PASSWORD.to_owned();
    let mut t = Tally::default();
    let mut current = None;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Some(li) = current.as_mut() else {
            current = login(&c, &url, &user, &password, &mut t).await;
            if current.is_none() {
                // Counted as an error; don't spin on a server that refuses.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        };
        n += 1;
        if i == 0 && n.is_multiple_of(40) {
            tokio::time::sleep(Duration::from_secs(IDLE_TIMEOUT_S) + Duration::from_millis(500)).await;
        }
        let new_password = format!("Soaking-Passw0rd-{i}-{n}!");
        // Of every 20 requests: 12 GETs, 4 profile PUTs, a password change, a wrong login and,
        // on even clients, a fresh login (its old session abandoned, for the purge); odd clients
        // keep their session until it ends after the absolute timeout. Like real traffic, mostly
        // reads, and few argon2 verifications (the slowest requests by far).
        let (op, request, audited) = match n % 20 {
            16..=19 => (
                "profile",
                c.put(format!("{url}{USER_LOGIN_INFO}"))
                    .headers(li.session.headers())
                    .json(&json!({"first_name": format!("S{i}n{n}")})),
                true,
            ),
            15 => (
                "password",
                c.put(format!("{url}{}", USERS.user_path(i)))
                    .headers(li.session.headers())
                    .json(&json!({"oldPassword": password, "newPassword": new_password})),
                true,
            ),
            14 => (
                "wrong login",
                c.post(format!("{url}/api/v1/login/"))
                    .json(&json!({"username": user, "password": "Not-The-Passw0rd!"})),
                true,
            ),
            13 if i.is_multiple_of(2) => {
                current = login(&c, &url, &user, &password, &mut t).await;
                continue;
            }
            _ => (
                "get",
                c.get(format!("{url}{USER_LOGIN_INFO}")).headers(li.session.headers()),
                false,
            ),
        };
        let sent = Instant::now();
        t.requests += 1;
        t.audited += u64::from(audited);
        *t.ops.entry(op).or_default() += 1;
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                t.errors.push(format!("{op}: {e}"));
                continue;
            }
        };
        let status = response.status();
        match (op, status) {
            ("wrong login", StatusCode::UNAUTHORIZED) => {}
            (_, s) if s.is_success() => {
                li.last_ok_sent = sent;
                if op == "password" {
                    password = new_password;
                }
            }
            (_, StatusCode::UNAUTHORIZED) if op != "wrong login" => {
                // The session may have ended: only if the client's clock allows it (the session
                // was created after `login_sent`, and last seen at most a touch interval before
                // the last request answered).
                let age = sent.duration_since(li.login_sent);
                let idle = sent.duration_since(li.last_ok_sent);
                if age >= Duration::from_secs(ABSOLUTE_TIMEOUT_S) {
                    t.expired_absolute += 1;
                    current = None;
                } else if idle >= Duration::from_secs(IDLE_TIMEOUT_S - TOUCH_INTERVAL_S) {
                    t.expired_idle += 1;
                    current = None;
                } else {
                    t.errors.push(format!(
                        "{op}: 401 for a session {age:?} old, idle {idle:?}: {}",
                        response.text().await.unwrap_or_default()
                    ));
                    current = None;
                }
            }
            _ => t
                .errors
                .push(format!("{op}: {status} {}", response.text().await.unwrap_or_default())),
        }
    }
    t
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

async fn soak(backend: &str, database_url: &str, dir: &Path) {
    let plan = Plan::new(Scale::get().soak());
    let access_log = std::env::var("RELIABILITY_SOAK_ACCESS_LOG").unwrap_or_else(|_| "errors".into());
    USERS.import(database_url, dir);
    let s = |d: Duration| d.as_secs().to_string();
    let server = Server::start(
        database_url,
        &[],
        &[
            ("ACCOUNTD__LOG__ACCESS", access_log.as_str()),
            ("ACCOUNTD__SESSIONS__IDLE_TIMEOUT_SECONDS", &IDLE_TIMEOUT_S.to_string()),
            (
                "ACCOUNTD__SESSIONS__ABSOLUTE_TIMEOUT_SECONDS",
                &ABSOLUTE_TIMEOUT_S.to_string(),
            ),
            (
                "ACCOUNTD__SESSIONS__TOUCH_INTERVAL_SECONDS",
                &TOUCH_INTERVAL_S.to_string(),
            ),
            ("ACCOUNTD__SESSIONS__PURGE_INTERVAL_SECONDS", &s(plan.purge_interval)),
            ("ACCOUNTD__AUDIT__RETENTION_SECONDS", &s(plan.retention)),
            ("ACCOUNTD__THROTTLE__WINDOW_SECONDS", &THROTTLE_WINDOW_S.to_string()),
            // The wrong logins are the load's, not an attack: never refused with 429.
            ("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ACCOUNT_ADDRESS", "1000000"),
            ("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ACCOUNT", "1000000"),
            ("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ADDRESS", "1000000"),
            ("ACCOUNTD__THROTTLE__FAILURE_FLOOR_MS", "0"),
        ],
    );
    let pid = server.child.id();
    let url = format!("http://127.0.0.1:{}", server.port);
    let started = Instant::now();
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = sample_until(
        pid,
        Probe::open(database_url),
        plan.sample_every,
        started,
        stop_sampling.clone(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(drive(i, url.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(plan.duration).await;
    stop.store(true, Ordering::SeqCst);
    let mut tallies = Vec::new();
    for client in clients {
        tallies.push(client.await.unwrap());
    }
    let loaded_for = started.elapsed();
    stop_sampling.store(true, Ordering::SeqCst);
    let (samples, mut probe) = sampler.join().unwrap();

    // Once the load stops, the purge empties what it bounds: every session idles out, every
    // counter leaves its window, every event passes its retention.
    let quiet = Instant::now();
    let drained = loop {
        let rows = probe.rows();
        if rows.values().all(|n| *n == 0) {
            break quiet.elapsed();
        }
        assert!(
            quiet.elapsed() < PATIENCE,
            "{backend}: the purge did not empty {rows:?} within {PATIENCE:?} of the load's end"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let db_after_drain = probe.bytes();
    let largest = probe.largest();
    let vacuums = probe.vacuums();
    let log = server.stop();

    let requests: u64 = tallies.iter().map(|t| t.requests).sum();
    let audited: u64 = tallies.iter().map(|t| t.audited).sum();
    let errors: Vec<&String> = tallies.iter().flat_map(|t| &t.errors).collect();
    let mut ops: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &tallies {
        for (op, n) in &t.ops {
            *ops.entry(op).or_default() += n;
        }
    }
    let expired_idle: u64 = tallies.iter().map(|t| t.expired_idle).sum();
    let expired_absolute: u64 = tallies.iter().map(|t| t.expired_absolute).sum();
    let access_lines: Vec<&str> = log.lines().filter(|l| l.contains("accountd::access")).collect();
    let access_bytes: usize = access_lines.iter().map(|l| l.len() + 1).sum();
    let purge_lines = log.lines().filter(|l| l.contains("purged")).count();

    // The series itself, for whoever explains a slope (shown with --nocapture).
    for s in &samples {
        println!(
            "soak {backend} t={:>5}s rss={:>6.1}MiB fds={:>3} db={:>9}B rows={:?}",
            s.at.as_secs(),
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.db_bytes,
            s.rows
        );
    }
    let warm: Vec<&Sample> = samples.iter().filter(|s| s.at >= plan.warm_up).collect();
    let first = warm.first().copied().unwrap_or(&samples[0]);
    let last = samples.last().unwrap();
    let slope = |f: &dyn Fn(&Sample) -> f64| slope_per_hour(&warm.iter().map(|s| (s.at, f(s))).collect::<Vec<_>>());
    let peak = |table: &str| warm.iter().map(|s| s.rows[table]).max().unwrap_or(0);
    let max_fds = warm.iter().map(|s| s.fds).max().unwrap_or(0);
    report(json!({
        "scenario": "soak",
        "backend": backend,
        "fault": format!(
            "none: {} s of mixed load from {CLIENTS} clients (GETs, profile PUTs, logins, wrong logins, password changes), \
             sessions idle after {IDLE_TIMEOUT_S} s and ending after {ABSOLUTE_TIMEOUT_S} s, purge every {} s, audit retention {} s",
            loaded_for.as_secs(), plan.purge_interval.as_secs(), plan.retention.as_secs()
        ),
        "answered": format!("{} requests, {} errors (5xx, transport errors or unexpected 4xx)", requests, errors.len()),
        "lost": 0,
        "errors": errors.len(),
        "requests": requests,
        "requests_per_second": round1(requests as f64 / loaded_for.as_secs_f64()),
        "ops": ops,
        "sessions_expired": {"idle": expired_idle, "absolute": expired_absolute},
        "samples": samples.len(),
        "warm_up_seconds": plan.warm_up.as_secs(),
        "rss_mib": {"start": mib(samples[0].rss_kib), "after_warm_up": mib(first.rss_kib), "end": mib(last.rss_kib)},
        "rss_mib_per_hour": round1(slope(&|s| s.rss_kib as f64 / 1024.0)),
        "fds": {"start": samples[0].fds, "after_warm_up": first.fds, "max": max_fds, "end": last.fds},
        "fds_per_hour": round1(slope(&|s| s.fds as f64)),
        "db_bytes": {"start": samples[0].db_bytes, "after_warm_up": first.db_bytes, "end": last.db_bytes, "after_drain": db_after_drain},
        "db_mib_per_hour": round1(slope(&|s| s.db_bytes as f64 / 1_048_576.0)),
        "db_largest_relations": largest,
        "vacuums_by_the_probe": vacuums,
        "audit_events": {"written_about": audited, "peak_after_warm_up": peak("audit_events"), "end": last.rows["audit_events"]},
        "audit_rows_per_hour": round1(slope(&|s| s.rows["audit_events"] as f64)),
        "sessions_peak": peak("sessions"),
        "throttle_rows_peak": peak("throttle"),
        "purged_everything_after_load_ms": drained.as_millis(),
        "purge_log_lines": purge_lines,
        "access_log": access_log,
        "log_bytes": log.len(),
        "log_bytes_per_request": round1(log.len() as f64 / requests.max(1) as f64),
        "access_lines": access_lines.len(),
        "access_line_bytes_avg": round1(access_bytes as f64 / access_lines.len().max(1) as f64),
    }));

    assert!(
        errors.is_empty(),
        "{backend}: {} unexpected answers: {errors:?}",
        errors.len()
    );
    assert!(
        requests >= 100,
        "{backend}: the clients were served ({requests} requests)"
    );
    assert!(
        expired_idle + expired_absolute > 0,
        "{backend}: sessions expired under the clients ({expired_idle} idle, {expired_absolute} absolute)"
    );
    // The purge kept the audit log to its window: well under what the run wrote.
    assert!(
        peak("audit_events") < audited,
        "{backend}: {} audit events at the peak after the warm-up, of about {audited} written",
        peak("audit_events")
    );
    // Generous bounds: a leak that doubles memory, descriptors or the database fails.
    assert!(
        last.rss_kib <= 2 * first.rss_kib + 64 * 1024,
        "{backend}: RSS {} KiB after warm-up, {} KiB at the end",
        first.rss_kib,
        last.rss_kib
    );
    assert!(
        max_fds <= 2 * first.fds + 2 * CLIENTS as u64,
        "{backend}: {} descriptors after warm-up, up to {max_fds}",
        first.fds
    );
    assert!(
        last.db_bytes <= 2 * first.db_bytes + 8 * 1_048_576,
        "{backend}: database {} bytes after warm-up, {} at the end",
        first.db_bytes,
        last.db_bytes
    );
}

#[tokio::test]
async fn a_soak_under_mixed_load_stays_error_free_and_bounded_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    soak("SQLite", &sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test]
async fn a_soak_under_mixed_load_stays_error_free_and_bounded_on_postgres() {
    let schema = match TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return postgres_unavailable(reason).unwrap_or(()),
    };
    let dir = tempfile::tempdir().unwrap();
    soak("PostgreSQL", schema.url(), dir.path()).await;
}
