//! `cargo xtask bench`: what matters to operators, measured side by side in one run against the
//! ceiling of the web framework, printed as one table and written to `target/bench/report.json`
//! and `docs/performance.md` (between its `bench:begin`/`bench:end` markers).
//!
//! Steps: build the release binaries (`accountd`, `bench-ceiling`); make sure `wrk` is installed
//! (Debian's, by `apt-get`); in a temporary directory, migrate a SQLite database and add 1,000
//! generated users (`accountd bench populate`); time argon2 (`accountd bench hash`); measure the
//! ceiling (a bare actix-web handler); serve accountd with the demo data on loopback and measure
//! each row with `wrk` (Lua scripts give each request its cookie, XSRF header or body); grow the
//! database to 1,000,000 users, restart, measure the GET again. The server's resident memory is
//! sampled from `/proc/<pid>/status` during every phase.
//!
//! Load generator and server share the machine (2 cores here): every figure is "with wrk on the
//! same cores", the ceiling included, so ratios compare like with like.
//!
//! Options (for quick trials; the published numbers use the defaults): `--seconds N` per phase
//! (default 5), `--large-users N` (default 1,000,000), `--no-build` (use the release binaries as
//! they are).
//!
//! This file holds the run's order and what its phases share; `phases` the rows, one function
//! each; `server` the processes under measurement and their memory; `load` wrk and its scripts;
//! `report` the table and its files.

mod load;
mod phases;
mod report;
mod server;

use anyhow::{Context, Result, bail, ensure};
use load::{Load, ensure_wrk};
use phases::{ceiling, large_database, small_database};
use report::Memory;
use serde_json::Value;
use server::{Server, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// wrk's load settings, the same for every row (the password changers of row 6 excepted).
const THREADS: u32 = 1;
const CONNECTIONS: u32 = 8;
const WARMUP_SECONDS: u64 = 1;
/// Sessions (distinct users) the GET and PUT rows rotate through, spread over the database.
const SESSIONS: u64 = 32;
const SMALL_DB: u64 = 1_000;
/// Clients changing passwords in row 6, each its own user, one connection each.
const CHANGERS: u64 = 8;
const PASSWORD: &str = "Demo-Passw0rd!";
/// Generated users reserved for the password changers (outside every session's range).
const FIRST_CHANGER: u64 = 991;
const MIB: f64 = 1024.0 * 1024.0;

const USER_LOGIN_INFO: &str = "/api/v1/session/user_login_info/";
const CURRENT_PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const AXWAY_CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";
const AXWAY_CHANGE_PASSWORD: &str = "/api/portal/v1.3/currentuser/changepassword";
const LOGIN: &str = "/api/v1/login/";

struct Options {
    seconds: u64,
    large_users: u64,
    build: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        seconds: 5,
        large_users: 1_000_000,
        build: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || -> Result<u64> {
            it.next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()
                .with_context(|| format!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--seconds" => opts.seconds = value()?.max(1),
            "--large-users" => opts.large_users = value()?.max(SMALL_DB),
            "--no-build" => opts.build = false,
            other => bail!("unknown option {other} (bench takes --seconds N, --large-users N, --no-build)"),
        }
    }
    Ok(opts)
}

/// `cargo xtask bench [options]`: the steps of the module doc, in that order, then the report.
pub fn bench(args: &[String]) -> Result<()> {
    let opts = options(args)?;
    let started = Instant::now();
    let root = std::env::current_dir()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let build_seconds = build(&opts)?;
    let wrk_version = ensure_wrk()?;
    let bench = Bench::new(opts, &target)?;

    eprintln!("==> database: migrate, {SMALL_DB} generated users; argon2 timing");
    bench.accountd(&["migrate"])?;
    bench.accountd(&["bench", "populate", "--users", &SMALL_DB.to_string()])?;
    let argon2 = Argon2::measure(&bench)?;

    let (ceiling, ceiling_row) = ceiling(&bench)?;
    let small = small_database(&bench, &ceiling, &argon2)?;
    let (large_row, populate_seconds) = large_database(&bench, &ceiling, &small.get)?;

    let memory = Memory::new(&small.peaks, small.base_rss, small.vm_hwm, &argon2);
    let targets = report::targets(&ceiling, &small, &memory, &argon2);
    let mut rows = vec![ceiling_row];
    rows.extend(small.rows);
    rows.push(large_row);
    let facts = report::Facts {
        wrk: &wrk_version,
        opts: &bench.opts,
        argon2: &argon2,
        populate_seconds,
        build_seconds,
        started,
    };
    let report = report::json(&facts, &rows, &memory, &targets);
    let text = report::render(&report, &rows, &targets, &bench.opts)?;
    println!("{text}");
    report::write(&target.join("bench"), &report, &root.join("docs/performance.md"), &text)?;
    eprintln!(
        "xtask bench: done in {:.0}s (build {build_seconds:.0}s); target/bench/report.json and docs/performance.md written",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds the release binaries unless `--no-build`; the seconds it took.
fn build(opts: &Options) -> Result<f64> {
    let build_started = Instant::now();
    if opts.build {
        eprintln!("==> build (release: accountd, bench-ceiling)");
        crate::run(
            "cargo",
            &["build", "--release", "--quiet", "-p", "accountd", "-p", "bench-ceiling"],
        )?;
        eprintln!("<== build ok ({:.1}s)", build_started.elapsed().as_secs_f64());
    }
    Ok(build_started.elapsed().as_secs_f64())
}

/// What every phase shares: the options, the binaries, the scratch directory (database, scripts,
/// logs) and accountd's port and environment.
struct Bench {
    opts: Options,
    accountd: PathBuf,
    ceiling: PathBuf,
    work: tempfile::TempDir,
    port: u16,
    env: Vec<(String, String)>,
    load: Load,
}

impl Bench {
    fn new(opts: Options, target: &Path) -> Result<Self> {
        let work = tempfile::Builder::new()
            .prefix("accountd-bench-")
            .tempdir()
            .context("creating the scratch directory")?;
        let db = work.path().join("bench.db");
        let port = free_port()?;
        let env = vec![
            ("ACCOUNTD__DATABASE__URL".into(), format!("sqlite://{}", db.display())),
            ("ACCOUNTD__SERVER__BIND".into(), format!("127.0.0.1:{port}")),
        ];
        let load = Load {
            seconds: opts.seconds,
            scripts: work.path().to_path_buf(),
        };
        Ok(Self {
            opts,
            accountd: target.join("release/accountd"),
            ceiling: target.join("release/bench-ceiling"),
            work,
            port,
            env,
            load,
        })
    }

    /// Runs an `accountd` command on the benchmark's database; its standard output.
    fn accountd(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.accountd)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running accountd {}", args.join(" ")))?;
        ensure!(output.status.success(), "accountd {} failed", args.join(" "));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `accountd <args>` serving on the benchmark's port, its output in `accountd.log`.
    fn serve(&self, args: &[&str]) -> Result<Server> {
        Server::start(
            "accountd",
            Command::new(&self.accountd)
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k, v))),
            self.port,
            &self.work.path().join("accountd.log"),
        )
    }
}

/// `accountd bench hash`: one argon2 verification's cost on this machine and the login limit it
/// implies. `json` goes into the report as it came.
struct Argon2 {
    json: Value,
    hash_ms: f64,
    limit: f64,
    permits: f64,
    memory_kib: f64,
    cores: f64,
    parallel_limit: f64,
}

impl Argon2 {
    fn measure(bench: &Bench) -> Result<Self> {
        let json: Value = serde_json::from_str(bench.accountd(&["bench", "hash", "--count", "16"])?.trim())
            .context("reading `accountd bench hash`")?;
        let argon2 = Self {
            hash_ms: number(&json, "fastest_ms")?,
            limit: number(&json, "limit_per_second")?,
            permits: number(&json, "permits")?,
            memory_kib: number(&json, "memory_kib")?,
            cores: number(&json, "cores")?,
            parallel_limit: number(&json, "parallel_per_second")?,
            json,
        };
        eprintln!(
            "    one verification {:.1} ms on one core: limit {:.1} logins/s on {} cores",
            argon2.hash_ms, argon2.limit, argon2.cores
        );
        Ok(argon2)
    }
}

/// The indices of [`SESSIONS`] generated users spread over `1..=users` (one in each of
/// [`SESSIONS`] equal slices), clear of the password changers in the small database.
fn spread(users: u64) -> impl Iterator<Item = u64> {
    let span = if users <= SMALL_DB { FIRST_CHANGER - 1 } else { users };
    let stride = (span / SESSIONS).max(1);
    (0..SESSIONS).map(move |i| 1 + i * stride + (i * 7919) % stride)
}

/// The name `accountd bench populate` gives its `index`th generated user.
fn username(index: u64) -> String {
    format!("bench-{index:07}")
}

/// `1000000` → `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn number(v: &Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .with_context(|| format!("`{key}` missing in {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_by_three() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2000), "2,000");
    }

    #[test]
    fn sessions_spread_clear_of_the_password_changers() {
        let small: Vec<u64> = spread(SMALL_DB).collect();
        assert_eq!(small.len(), SESSIONS as usize);
        assert!(small.iter().all(|&i| (1..FIRST_CHANGER).contains(&i)));
        assert!(spread(1_000_000).all(|i| (1..=1_000_000).contains(&i)));
    }
}
