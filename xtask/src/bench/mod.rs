//! `cargo xtask bench`: what matters to operators, measured side by side in one run against the
//! ceiling of the web framework, printed as one table and written to `target/bench/report.json`
//! and `docs/performance.md` (between its `bench:begin`/`bench:end` markers).
//!
//! Steps: note the load average; build the release binaries (`accountd`, `bench-ceiling`); make
//! sure `wrk` is installed (Debian's, by `apt-get`); make a PostgreSQL schema of the run's own
//! (`postgres`); in a temporary directory, migrate a SQLite database and add 1,000 generated users
//! (`accountd bench populate`); time argon2 (`accountd bench hash`); measure the ceiling (a bare
//! actix-web handler); serve accountd with the demo data on loopback and measure each row with
//! `wrk` (Lua scripts give each request its cookie, XSRF header or body); restart it with a short
//! Basic cache and measure one Basic credential on 64 connections across its expiries; grow the
//! database to 1,000,000 users, restart, measure the GET again; serve accountd on the PostgreSQL
//! schema (same demo data and 1,000 users) and measure its rows; drop the schema. The server's
//! resident memory is sampled from `/proc/<pid>/status` during every phase. Each row is one
//! warm-up then the median of `--runs` runs (`load`); `noise` says how quiet the machine was.
//!
//! Load generator and server share the machine (2 cores here): every figure is "with wrk on the
//! same cores", the ceiling included, so ratios compare like with like. PostgreSQL shares them too.
//!
//! Options: `--seconds N` per run (default 5), `--runs N` per row (default 3), `--large-users N`
//! (default 1,000,000), `--no-build` (use the release binaries as they are), `--postgres URL`
//! (default `ACCOUNTD_TEST_POSTGRES_URL` or the local test server), `--no-postgres`. The first
//! three are for quick trials: only a run with their defaults rewrites docs/performance.md.
//!
//! This file holds the run's order and what its phases share; `phases` the rows, one function
//! each; `server` the processes under measurement and their memory; `load` wrk and its scripts;
//! `postgres` the PostgreSQL schema; `noise` the machine's load; `report` the table and its files.

mod load;
mod noise;
mod phases;
mod postgres;
mod report;
mod server;

use anyhow::{Context, Result, bail, ensure};
use load::{Load, ensure_wrk};
use noise::{CpuMark, LoadAverage, Noise};
use phases::{basic_expiry, ceiling, large_database, postgres_rows, small_database};
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
/// Measured runs per row; the row shows the median one.
const RUNS: u32 = 3;
/// Row 3c: connections sharing one Basic credential, and the Basic cache's lifetime on its server
/// (`basic_auth.cache_seconds`): short, so that every run of the row spans two expiries in 13 s,
/// but not so short that a re-verification started ahead of an expiry (today in the entry's last
/// sixth: 1 s) has no time to finish on cores saturated by the load.
const EXPIRY_CONNECTIONS: u32 = 64;
const EXPIRY_CACHE_SECONDS: u64 = 6;
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
    runs: u32,
    large_users: u64,
    build: bool,
    /// The PostgreSQL server of the PostgreSQL rows; `None` with `--no-postgres`.
    postgres: Option<String>,
}

impl Options {
    /// The measuring options of the published numbers: only those runs rewrite docs/performance.md.
    fn measures_as_published(&self) -> bool {
        let published = Self::default();
        (self.seconds, self.runs, self.large_users) == (published.seconds, published.runs, published.large_users)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seconds: 5,
            runs: RUNS,
            large_users: 1_000_000,
            build: true,
            postgres: Some(postgres::default_url()),
        }
    }
}

fn options(args: &[String]) -> Result<Options> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut text = || it.next().with_context(|| format!("{arg} needs a value"));
        let mut number = || -> Result<u64> { text()?.parse().with_context(|| format!("{arg} takes a number")) };
        match arg.as_str() {
            "--seconds" => opts.seconds = number()?.max(1),
            "--runs" => opts.runs = u32::try_from(number()?.clamp(1, 99))?,
            "--large-users" => opts.large_users = number()?.max(SMALL_DB),
            "--no-build" => opts.build = false,
            "--postgres" => opts.postgres = Some(text()?.clone()),
            "--no-postgres" => opts.postgres = None,
            other => bail!(
                "unknown option {other} (bench takes --seconds N, --runs N, --large-users N, --no-build, \
                 --postgres URL, --no-postgres)"
            ),
        }
    }
    Ok(opts)
}

/// `cargo xtask bench [options]`: the steps of the module doc, in that order, then the report.
pub fn bench(args: &[String]) -> Result<()> {
    let opts = options(args)?;
    let started = Instant::now();
    let mut noise = Noise {
        at_start: LoadAverage::now(),
        ..Noise::default()
    };
    let root = std::env::current_dir()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let build_seconds = build(&opts)?;
    let wrk_version = ensure_wrk()?;
    // Made first, so an unreachable server fails the run before minutes of measuring.
    let schema = opts.postgres.as_deref().map(postgres::Schema::create).transpose()?;
    let bench = Bench::new(opts, &target)?;

    eprintln!("==> database: migrate, {SMALL_DB} generated users; argon2 timing");
    bench.accountd(&["migrate"])?;
    bench.accountd(&["bench", "populate", "--users", &SMALL_DB.to_string()])?;
    let argon2 = Argon2::measure(&bench)?;
    noise.cores = argon2.cores;

    noise.before_rows = LoadAverage::now();
    let cpu_start = CpuMark::now();
    let (ceiling, ceiling_row) = ceiling(&bench)?;
    let small = small_database(&bench, &ceiling)?;
    let expiry = basic_expiry(&bench, &ceiling)?;
    let (large_row, populate_seconds) = large_database(&bench, &ceiling, &small.get)?;
    noise.others = cpu_start
        .zip(CpuMark::now())
        .and_then(|(start, end)| end.others_since(start));
    let postgres = match &schema {
        Some(schema) => Some(postgres_rows(&bench, &ceiling, schema)?),
        None => None,
    };
    noise.after = LoadAverage::now();
    drop(schema);

    let memory = Memory::new(&small.peaks, small.base_rss, small.vm_hwm, &argon2);
    let targets = report::targets(&ceiling, &small, &expiry, &memory, &argon2);
    let mut rows = vec![ceiling_row];
    let mut small_rows = small.rows.into_iter();
    // 2, 3a, 3b, then 3c (its own server), then 4–6.
    rows.extend(small_rows.by_ref().take(3));
    rows.push(expiry.row);
    rows.extend(small_rows);
    rows.push(large_row);
    let postgres_version = postgres.as_ref().map(|p| p.version.clone());
    rows.extend(postgres.into_iter().flat_map(|p| p.rows));
    let facts = report::Facts {
        wrk: &wrk_version,
        opts: &bench.opts,
        argon2: &argon2,
        noise: &noise,
        postgres: postgres_version.as_deref(),
        populate_seconds,
        build_seconds,
        started,
    };
    let report = report::json(&facts, &rows, &memory, &targets);
    let text = report::render(&report, &rows, &targets, &bench.opts, &noise)?;
    println!("{text}");
    let docs = root.join("docs/performance.md");
    let publish = bench.opts.measures_as_published();
    report::write(&target.join("bench"), &report, publish.then_some(docs.as_path()), &text)?;
    eprintln!(
        "xtask bench: done in {:.0}s (build {build_seconds:.0}s); target/bench/report.json written{}",
        started.elapsed().as_secs_f64(),
        if publish {
            ", and docs/performance.md"
        } else {
            "; docs/performance.md left as it was (--seconds, --runs or --large-users changed: a trial)"
        }
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
            runs: opts.runs,
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
        self.accountd_in(&self.env, args)
    }

    /// Runs an `accountd` command with the environment `env`; its standard output.
    fn accountd_in(&self, env: &[(String, String)], args: &[&str]) -> Result<String> {
        let output = Command::new(&self.accountd)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running accountd {}", args.join(" ")))?;
        ensure!(output.status.success(), "accountd {} failed", args.join(" "));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `accountd <args>` serving on the benchmark's port, its output in `accountd.log`.
    fn serve(&self, args: &[&str]) -> Result<Server> {
        self.serve_in(&self.env, args, "accountd.log")
    }

    /// `accountd <args>` with the environment `env`, serving on the benchmark's port, its output
    /// in `log` (in the scratch directory).
    fn serve_in(&self, env: &[(String, String)], args: &[&str], log: &str) -> Result<Server> {
        Server::start(
            "accountd",
            Command::new(&self.accountd)
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v))),
            self.port,
            &self.work.path().join(log),
        )
    }

    /// The benchmark's environment with `changes` set (replacing variables of the same name).
    fn env_with(&self, changes: &[(&str, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(name, _)| name == k))
            .cloned()
            .collect();
        env.extend(changes.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env
    }
}

/// `accountd bench hash`: one argon2 verification's cost on this machine, and the login limit:
/// what argon2 does here with as many verifications at once as the server runs (`permits`),
/// nothing else running (`parallel_limit`). The nominal figure (`limit`: cores / the fastest
/// verification alone) assumes verifications scale with the cores; their 19 MiB working sets
/// share caches and memory bandwidth, and two at once reach 68-94% of it here
/// (docs/performance.md). `json` goes into the report as it came.
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
        let json: Value = serde_json::from_str(bench.accountd(&["bench", "hash", "--count", "32"])?.trim())
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
            "    one verification {:.1} ms on one core: nominally {:.1} logins/s on {} cores; \
             {} at once: {:.1}/s (the limit)",
            argon2.hash_ms, argon2.limit, argon2.cores, argon2.permits, argon2.parallel_limit
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
    fn only_the_published_settings_rewrite_the_docs() -> Result<()> {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(options(&[])?.measures_as_published());
        assert!(options(&args(&["--no-build", "--no-postgres"]))?.measures_as_published());
        assert!(!options(&args(&["--seconds", "1"]))?.measures_as_published());
        assert!(!options(&args(&["--runs", "1"]))?.measures_as_published());
        assert!(!options(&args(&["--large-users", "2000"]))?.measures_as_published());
        let pg = options(&args(&["--postgres", "postgres://u@h/db"]))?;
        assert_eq!(pg.postgres.as_deref(), Some("postgres://u@h/db"));
        assert_eq!(options(&args(&["--no-postgres"]))?.postgres, None);
        assert!(options(&args(&["--seconds"])).is_err());
        Ok(())
    }

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
