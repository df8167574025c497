//! The rows, one function each, in the order a run measures them: the ceiling on its own server,
//! rows 2–6 against one accountd with the small database (the RSS sampler told each row's
//! phase), row 8 after growing the database and restarting.

use super::load::{Measured, Request, Session, basic_auth, change_password_url, login, login_spread, problems, wrk};
use super::report::Row;
use super::server::{Sampler, Server, free_port, read_rss, read_status_kib};
use super::{
    AXWAY_CURRENT_USER, Argon2, Bench, CHANGERS, CURRENT_PRINCIPAL, FIRST_CHANGER, LOGIN, PASSWORD, SESSIONS, SMALL_DB,
    USER_LOGIN_INFO, WARMUP_SECONDS, spread, thousands, username,
};
use anyhow::Result;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// Row 1: a bare actix-web handler answering small JSON, under the same load as the GET rows.
pub(super) fn ceiling(bench: &Bench) -> Result<(Measured, Row)> {
    let port = free_port()?;
    let server = Server::start(
        "bench-ceiling",
        Command::new(&bench.ceiling).arg(format!("127.0.0.1:{port}")),
        port,
        &bench.work.path().join("ceiling.log"),
    )?;
    let sampler = Sampler::start(server.pid());
    sampler.phase("ceiling");
    let dummy: Vec<Request> = (0..SESSIONS)
        .map(|i| Request::get("/").header("Cookie", format!("sessionid=ceiling{i}")))
        .collect();
    let ceiling = bench.load.run("ceiling", port, &dummy)?;
    let rss = sampler.finish().remove("ceiling");
    drop(server);
    let row = Row::new("1", "ceiling: bare actix-web handler, small JSON", &ceiling).rss(rss);
    Ok((ceiling, row))
}

/// Rows 2–6, one accountd with the demo data and 1,000 generated users; what the targets and the
/// memory row need of them.
pub(super) struct Small {
    pub(super) rows: Vec<Row>,
    pub(super) get: Measured,
    pub(super) p99_ratio: f64,
    pub(super) login_ratio: f64,
    pub(super) peaks: BTreeMap<String, u64>,
    pub(super) base_rss: u64,
    pub(super) vm_hwm: u64,
}

pub(super) fn small_database(bench: &Bench, ceiling: &Measured, argon2: &Argon2) -> Result<Small> {
    let server = bench.serve(&["serve", "--demo"])?;
    let sampler = Sampler::start(server.pid());
    sampler.phase("start");
    std::thread::sleep(Duration::from_millis(300));
    let base_rss = read_rss(server.pid()).unwrap_or(0);
    let sessions = login_spread(bench.port, SMALL_DB)?;
    let phases = Phases {
        bench,
        sampler: &sampler,
        sessions: &sessions,
        ceiling,
    };
    let get = phases.get()?;
    let principal = phases.principal()?;
    let currentuser = phases.currentuser()?;
    let put = phases.put()?;
    let logins = phases.logins(argon2)?;
    let busy = phases.password_changes(&get.measured)?;
    let peaks = sampler.finish();
    let vm_hwm = read_status_kib(server.pid(), "VmHWM:").unwrap_or(0) * 1024;
    drop(server);
    let mut small = Small {
        get: get.measured.clone(),
        p99_ratio: busy.measured.p99_ms / get.measured.p99_ms,
        login_ratio: logins.measured.rps / argon2.limit,
        rows: vec![get, principal, currentuser, put, logins, busy],
        peaks,
        base_rss,
        vm_hwm,
    };
    for row in &mut small.rows {
        if let Some(phase) = row.phase {
            row.rss = small.peaks.get(phase).copied();
        }
    }
    Ok(small)
}

/// The rows measured against one running accountd; each names its phase for the RSS sampler.
struct Phases<'a> {
    bench: &'a Bench,
    sampler: &'a Sampler,
    sessions: &'a [Session],
    ceiling: &'a Measured,
}

impl Phases<'_> {
    /// A GET of `path` per session, with its cookie.
    fn cookie_gets(&self, path: &str) -> Vec<Request> {
        self.sessions
            .iter()
            .map(|s| Request::get(path).header("Cookie", s.cookie.clone()))
            .collect()
    }

    fn run(&self, phase: &str, name: &str, requests: &[Request]) -> Result<Measured> {
        self.sampler.phase(phase);
        self.bench.load.run(name, self.bench.port, requests)
    }

    /// Row 2: GET user_login_info with a session.
    fn get(&self) -> Result<Row> {
        let get = self.run("get", "get-session", &self.cookie_gets(USER_LOGIN_INFO))?;
        Ok(Row::new("2", "GET user_login_info, cookie (1,000 users)", &get)
            .ratio(get.rps / self.ceiling.rps)
            .phase("get"))
    }

    /// Row 3a: SuperOffice's currentPrincipal with Basic authentication (a password on every
    /// request).
    fn principal(&self) -> Result<Row> {
        let basic: Vec<Request> = spread(SMALL_DB)
            .map(|i| Request::get(CURRENT_PRINCIPAL).header("Authorization", basic_auth(&username(i), PASSWORD)))
            .collect();
        let principal = self.run("principal", "get-principal", &basic)?;
        Ok(Row::new("3a", "GET currentPrincipal, Basic (SuperOffice)", &principal)
            .ratio(principal.rps / self.ceiling.rps)
            .phase("principal"))
    }

    /// Row 3b: Axway's currentuser with a cookie.
    fn currentuser(&self) -> Result<Row> {
        let axway = self.run("currentuser", "get-axway", &self.cookie_gets(AXWAY_CURRENT_USER))?;
        Ok(Row::new("3b", "GET currentuser, cookie (Axway)", &axway)
            .ratio(axway.rps / self.ceiling.rps)
            .phase("currentuser"))
    }

    /// Row 4: PUT user_login_info with two alternating last names per session, so every PUT
    /// writes.
    fn put(&self) -> Result<Row> {
        let puts: Vec<Request> = self
            .sessions
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                ["A", "B"].map(|v| {
                    Request::new("PUT", USER_LOGIN_INFO)
                        .header("Cookie", s.cookie.clone())
                        .header("X-XSRF-TOKEN", s.xsrf.clone())
                        .header("Content-Type", "application/json".into())
                        .body(format!(r#"{{"last_name":"User{i}{v}"}}"#))
                })
            })
            .collect();
        let put = self.run("put", "put-session", &puts)?;
        Ok(Row::new("4", "PUT user_login_info, cookie + XSRF (writes)", &put).phase("put"))
    }

    /// Row 5: logins per second against the argon2 limit.
    fn logins(&self, argon2: &Argon2) -> Result<Row> {
        let logins: Vec<Request> = spread(SMALL_DB)
            .map(|i| {
                Request::new("POST", LOGIN)
                    .header("Content-Type", "application/json".into())
                    .body(format!(r#"{{"username":"{}","password":"{PASSWORD}"}}"#, username(i)))
            })
            .collect();
        let logins = self.run("login", "login", &logins)?;
        let Argon2 {
            hash_ms,
            limit,
            permits,
            cores,
            parallel_limit,
            ..
        } = argon2;
        Ok(Row::new("5", "POST login (argon2id verify + new session)", &logins)
            .ratio(logins.rps / limit)
            .note(format!(
                "argon2 limit {limit:.1}/s = {cores} cores / {hash_ms:.1} ms (ratio is to it); \
                 {permits} verifications at once, alone: {parallel_limit:.1}/s"
            ))
            .phase("login"))
    }

    /// Row 6: the GET of row 2 while [`CHANGERS`] clients change their passwords continuously
    /// (their own wrk, started first and outlasting the GET's warm-up and measurement).
    fn password_changes(&self, idle: &Measured) -> Result<Row> {
        self.sampler.phase("password-changes");
        let port = self.bench.port;
        let changers: Vec<Session> = (0..CHANGERS)
            .map(|i| login(port, &username(FIRST_CHANGER + i), PASSWORD))
            .collect::<Result<_>>()?;
        let change_script = self.bench.load.password_change_script(&changers)?;
        let change_seconds = self.bench.opts.seconds + WARMUP_SECONDS + 4;
        let changing = std::thread::spawn(move || {
            wrk(
                change_password_url(port),
                &change_script,
                CHANGERS as u32,
                CHANGERS as u32,
                change_seconds,
            )
        });
        std::thread::sleep(Duration::from_millis(1500));
        let busy = self
            .bench
            .load
            .run("get-under-changes", port, &self.cookie_gets(USER_LOGIN_INFO))?;
        let changes = changing
            .join()
            .map_err(|_| anyhow::anyhow!("the password-change load panicked"))??;
        Ok(
            Row::new("6", "GET user_login_info while 8 clients change passwords", &busy)
                .ratio(busy.rps / self.ceiling.rps)
                .note(format!(
                    "p99 {:.2}× idle (row 2); {:.1} password changes/s{}",
                    busy.p99_ms / idle.p99_ms,
                    changes.rps,
                    problems(&changes)
                ))
                .phase("password-changes"),
        )
    }
}

/// Row 8: the GET of row 2 after growing the database to `--large-users` and restarting; also the
/// seconds the growth took.
pub(super) fn large_database(bench: &Bench, ceiling: &Measured, get: &Measured) -> Result<(Row, f64)> {
    let users = bench.opts.large_users;
    eprintln!("==> database: {users} generated users");
    let populate_started = Instant::now();
    bench.accountd(&["bench", "populate", "--users", &users.to_string()])?;
    let populate_seconds = populate_started.elapsed().as_secs_f64();
    let server = bench.serve(&["serve"])?;
    let sampler = Sampler::start(server.pid());
    let sessions = login_spread(bench.port, users)?;
    sampler.phase("get-large");
    let gets: Vec<Request> = sessions
        .iter()
        .map(|s| Request::get(USER_LOGIN_INFO).header("Cookie", s.cookie.clone()))
        .collect();
    let large = bench.load.run("get-large", bench.port, &gets)?;
    let peaks = sampler.finish();
    drop(server);
    let row = Row::new(
        "8",
        &format!("GET user_login_info, cookie ({} users)", thousands(users)),
        &large,
    )
    .ratio(large.rps / ceiling.rps)
    .note(format!(
        "{:.2}× the throughput with 1,000 users (row 2)",
        large.rps / get.rps
    ))
    .rss(peaks.get("get-large").copied());
    Ok((row, populate_seconds))
}
