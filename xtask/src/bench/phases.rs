//! The rows, one function each, in the order a run measures them: the ceiling on its own server,
//! rows 2–6 against one accountd with the small database (the RSS sampler told each row's
//! phase), row 3c against one restarted with a short Basic cache, row 8 after growing the
//! database and restarting, then the PostgreSQL rows (2pg, 3apg, 4pg, 5pg) against one accountd
//! on a PostgreSQL schema with the same data.

use super::load::{
    Measured, Request, SLOW_MS, Session, basic_auth, change_password_url, login, login_spread, problems, wrk,
};
use super::postgres::Schema;
use super::report::Row;
use super::server::{Sampler, Server, free_port, read_rss, read_status_kib};
use super::{
    AXWAY_CURRENT_USER, Argon2, Bench, CHANGERS, CURRENT_PRINCIPAL, EXPIRY_CACHE_SECONDS, EXPIRY_CONNECTIONS,
    FIRST_CHANGER, LOGIN, PASSWORD, SESSIONS, SMALL_DB, USER_LOGIN_INFO, spread, thousands, username,
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
    /// Row 3a.
    pub(super) basic: Measured,
    pub(super) p99_ratio: f64,
    pub(super) login_ratio: f64,
    pub(super) peaks: BTreeMap<String, u64>,
    pub(super) base_rss: u64,
    pub(super) vm_hwm: u64,
}

pub(super) fn small_database(bench: &Bench, ceiling: &Measured) -> Result<Small> {
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
        postgres: false,
    };
    let get = phases.get()?;
    let principal = phases.principal()?;
    let currentuser = phases.currentuser()?;
    let put = phases.put()?;
    let (logins, login_ratio) = phases.logins()?;
    let busy = phases.password_changes(&get.measured)?;
    let peaks = sampler.finish();
    let vm_hwm = read_status_kib(server.pid(), "VmHWM:").unwrap_or(0) * 1024;
    drop(server);
    let mut small = Small {
        get: get.measured.clone(),
        basic: principal.measured.clone(),
        p99_ratio: busy.measured.p99_ms / get.measured.p99_ms,
        login_ratio,
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
    /// Serving from PostgreSQL: the rows' ids end in `pg` and their names say so.
    postgres: bool,
}

impl Phases<'_> {
    /// A row of this server: `2` or `2pg`, its name with the backend when it is PostgreSQL.
    fn row(&self, id: &str, name: &str, measured: &Measured) -> Row {
        if self.postgres {
            Row::new(&format!("{id}pg"), &format!("{name}, PostgreSQL"), measured)
        } else {
            Row::new(id, name, measured)
        }
    }

    /// The name of a wrk script of this server.
    fn script(&self, name: &str) -> String {
        if self.postgres {
            format!("{name}-pg")
        } else {
            name.to_owned()
        }
    }

    /// A GET of `path` per session, with its cookie.
    fn cookie_gets(&self, path: &str) -> Vec<Request> {
        self.sessions
            .iter()
            .map(|s| Request::get(path).header("Cookie", s.cookie.clone()))
            .collect()
    }

    fn run(&self, phase: &str, name: &str, requests: &[Request]) -> Result<Measured> {
        self.sampler.phase(phase);
        self.bench.load.run(&self.script(name), self.bench.port, requests)
    }

    /// Row 2: GET user_login_info with a session.
    fn get(&self) -> Result<Row> {
        let get = self.run("get", "get-session", &self.cookie_gets(USER_LOGIN_INFO))?;
        Ok(self
            .row("2", "GET user_login_info, cookie (1,000 users)", &get)
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
        Ok(self
            .row("3a", "GET currentPrincipal, Basic (SuperOffice)", &principal)
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
        Ok(self
            .row("4", "PUT user_login_info, cookie + XSRF (writes)", &put)
            .phase("put"))
    }

    /// Row 5: logins per second against the argon2 limit, measured just before them (the
    /// server idle): this shared machine's speed moves by a fifth over minutes (one verification
    /// took 13.5–18.8 ms in runs of one day), so a limit timed at the start of the run can be
    /// another machine's by the time the logins run. Also returns the ratio.
    fn logins(&self) -> Result<(Row, f64)> {
        let argon2 = Argon2::measure(self.bench)?;
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
        let ratio = logins.rps / parallel_limit;
        let row = self
            .row("5", "POST login (argon2id verify + new session)", &logins)
            .ratio(ratio)
            .note(format!(
                "argon2 limit {parallel_limit:.1}/s: {permits} verifications at once, nothing else running \
                 (ratio is to it); nominally {limit:.1}/s = {cores} cores / {hash_ms:.1} ms, {:.0}% of that",
                100.0 * logins.rps / limit
            ))
            .phase("login");
        Ok((row, ratio))
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
        // Started 1.5 s before the GET's warm-up, and outlasting its last run.
        let change_seconds = self.bench.load.span() + 4;
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

/// Row 3c and what its target needs: one Basic credential on [`EXPIRY_CONNECTIONS`] connections
/// against accountd restarted on the small database with a Basic cache of
/// [`EXPIRY_CACHE_SECONDS`], each run long enough to span two expiries (the first verifications
/// fall in the warm-up).
pub(super) struct Expiry {
    pub(super) row: Row,
    pub(super) measured: Measured,
}

pub(super) fn basic_expiry(bench: &Bench, ceiling: &Measured) -> Result<Expiry> {
    let env = bench.env_with(&[("ACCOUNTD__BASIC_AUTH__CACHE_SECONDS", EXPIRY_CACHE_SECONDS.to_string())]);
    let server = bench.serve_in(&env, &["serve"], "accountd-basic-expiry.log")?;
    let sampler = Sampler::start(server.pid());
    sampler.phase("basic-expiry");
    let user = spread(SMALL_DB).next().unwrap_or(1);
    let request = Request::get(CURRENT_PRINCIPAL).header("Authorization", basic_auth(&username(user), PASSWORD));
    let seconds = expiry_seconds(bench.opts.seconds);
    let measured = bench
        .load
        .run_shaped("basic-expiry", bench.port, &[request], EXPIRY_CONNECTIONS, seconds)?;
    let rss = sampler.finish().remove("basic-expiry");
    drop(server);
    let row = Row::new(
        "3c",
        &format!(
            "GET currentPrincipal, Basic, one credential on {EXPIRY_CONNECTIONS} connections across cache expiries"
        ),
        &measured,
    )
    .ratio(measured.rps / ceiling.rps)
    .note(format!(
        "{} requests ≥ {SLOW_MS} ms in {} runs; p99.9 {:.1} ms; basic_auth.cache_seconds = {EXPIRY_CACHE_SECONDS}; \
         runs of {seconds} s, each spanning ≥ 2 expiries",
        measured.slow,
        measured.runs_rps.len(),
        measured.p999_ms
    ))
    .rss(rss);
    Ok(Expiry { row, measured })
}

/// Row 3c's run length: `--seconds`, but at least two cache lifetimes and a second, so that a run
/// spans two expiries wherever it starts.
fn expiry_seconds(seconds: u64) -> u64 {
    seconds.max(2 * EXPIRY_CACHE_SECONDS + 1)
}

/// The PostgreSQL rows and the server's version.
pub(super) struct Postgres {
    pub(super) rows: Vec<Row>,
    pub(super) version: String,
}

/// Rows 2pg, 3apg, 4pg, 5pg: accountd on `schema` with the demo data and 1,000 generated users
/// (its TOTP sealing key from `accountd keygen`, as PostgreSQL requires one), the same loads as
/// rows 2, 3a, 4 and 5, ratios to the same ceiling, the logins to an argon2 limit timed before them.
pub(super) fn postgres_rows(bench: &Bench, ceiling: &Measured, schema: &Schema) -> Result<Postgres> {
    eprintln!(
        "==> PostgreSQL {} (schema {}): migrate, {SMALL_DB} generated users",
        schema.version,
        schema.name()
    );
    let key = bench.accountd(&["keygen", "--id", "bench"])?;
    let env = bench.env_with(&[
        ("ACCOUNTD__DATABASE__URL", schema.url()),
        ("ACCOUNTD__SECURITY__KEYS", key.trim().to_owned()),
    ]);
    bench.accountd_in(&env, &["migrate"])?;
    bench.accountd_in(&env, &["bench", "populate", "--users", &SMALL_DB.to_string()])?;
    let server = bench.serve_in(&env, &["serve", "--demo"], "accountd-postgres.log")?;
    let sampler = Sampler::start(server.pid());
    let sessions = login_spread(bench.port, SMALL_DB)?;
    let phases = Phases {
        bench,
        sampler: &sampler,
        sessions: &sessions,
        ceiling,
        postgres: true,
    };
    let mut rows = vec![phases.get()?, phases.principal()?, phases.put()?, phases.logins()?.0];
    let peaks = sampler.finish();
    drop(server);
    for row in &mut rows {
        if let Some(phase) = row.phase {
            row.rss = peaks.get(phase).copied();
        }
    }
    Ok(Postgres {
        rows,
        version: schema.version.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_basic_expiry_run_spans_two_expiries() {
        assert_eq!(expiry_seconds(1), 2 * EXPIRY_CACHE_SECONDS + 1);
        assert_eq!(expiry_seconds(60), 60);
    }
}
