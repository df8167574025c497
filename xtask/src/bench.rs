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

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

pub fn bench(args: &[String]) -> Result<()> {
    let opts = options(args)?;
    let started = Instant::now();
    let root = std::env::current_dir()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));

    let build_started = Instant::now();
    if opts.build {
        eprintln!("==> build (release: accountd, bench-ceiling)");
        crate::run(
            "cargo",
            &["build", "--release", "--quiet", "-p", "accountd", "-p", "bench-ceiling"],
        )?;
        eprintln!("<== build ok ({:.1}s)", build_started.elapsed().as_secs_f64());
    }
    let build_seconds = build_started.elapsed().as_secs_f64();
    let accountd = target.join("release/accountd");
    let ceiling_bin = target.join("release/bench-ceiling");
    let wrk_version = ensure_wrk()?;

    let work = TempDir::new()?;
    let db = work.path().join("bench.db");
    let port = free_port()?;
    let env: Vec<(String, String)> = vec![
        ("ACCOUNTD__DATABASE__URL".into(), format!("sqlite://{}", db.display())),
        ("ACCOUNTD__SERVER__BIND".into(), format!("127.0.0.1:{port}")),
    ];
    let accountd_cmd = |args: &[&str]| -> Result<String> {
        let output = Command::new(&accountd)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running accountd {}", args.join(" ")))?;
        ensure!(output.status.success(), "accountd {} failed", args.join(" "));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };

    eprintln!("==> database: migrate, {SMALL_DB} generated users; argon2 timing");
    accountd_cmd(&["migrate"])?;
    accountd_cmd(&["bench", "populate", "--users", &SMALL_DB.to_string()])?;
    let hash: Value = serde_json::from_str(accountd_cmd(&["bench", "hash", "--count", "16"])?.trim())
        .context("reading `accountd bench hash`")?;
    let hash_ms = number(&hash, "fastest_ms")?;
    let argon2_limit = number(&hash, "limit_per_second")?;
    let permits = number(&hash, "permits")?;
    let memory_kib = number(&hash, "memory_kib")?;
    let cores = number(&hash, "cores")?;
    let parallel_limit = number(&hash, "parallel_per_second")?;
    eprintln!("    one verification {hash_ms:.1} ms on one core: limit {argon2_limit:.1} logins/s on {cores} cores");

    let load = Load {
        seconds: opts.seconds,
        scripts: work.path().to_path_buf(),
    };
    let mut rows: Vec<Row> = Vec::new();

    // 1. The ceiling.
    let ceiling_port = free_port()?;
    let ceiling_server = Server::start(
        "bench-ceiling",
        Command::new(&ceiling_bin).arg(format!("127.0.0.1:{ceiling_port}")),
        ceiling_port,
        &work.path().join("ceiling.log"),
    )?;
    let sampler = Sampler::start(ceiling_server.pid());
    sampler.phase("ceiling");
    let dummy: Vec<Request> = (0..SESSIONS)
        .map(|i| Request::get("/").header("Cookie", format!("sessionid=ceiling{i}")))
        .collect();
    let ceiling = load.run("ceiling", ceiling_port, &dummy)?;
    let ceiling_rss = sampler.finish().remove("ceiling");
    drop(ceiling_server);
    rows.push(Row::new("1", "ceiling: bare actix-web handler, small JSON", &ceiling).rss(ceiling_rss));

    // accountd with the demo data and 1,000 generated users.
    let log = work.path().join("accountd.log");
    let server = Server::start(
        "accountd",
        Command::new(&accountd)
            .args(["serve", "--demo"])
            .envs(env.iter().map(|(k, v)| (k, v))),
        port,
        &log,
    )?;
    let sampler = Sampler::start(server.pid());
    sampler.phase("start");
    std::thread::sleep(Duration::from_millis(300));
    let base_rss = read_rss(server.pid()).unwrap_or(0);

    let sessions = login_spread(port, SMALL_DB)?;
    let cookie_gets = |path: &str| -> Vec<Request> {
        sessions
            .iter()
            .map(|s| Request::get(path).header("Cookie", s.cookie.clone()))
            .collect()
    };

    // 2. GET user_login_info with a session.
    sampler.phase("get");
    let get = load.run("get-session", port, &cookie_gets(USER_LOGIN_INFO))?;
    rows.push(
        Row::new("2", "GET user_login_info, cookie (1,000 users)", &get)
            .ratio(get.rps / ceiling.rps)
            .phase("get"),
    );

    // 3. currentPrincipal with Basic, Axway currentuser with a cookie.
    sampler.phase("principal");
    let basic: Vec<Request> = spread(SMALL_DB)
        .map(|i| Request::get(CURRENT_PRINCIPAL).header("Authorization", basic_auth(&username(i), PASSWORD)))
        .collect();
    let principal = load.run("get-principal", port, &basic)?;
    rows.push(
        Row::new("3a", "GET currentPrincipal, Basic (SuperOffice)", &principal)
            .ratio(principal.rps / ceiling.rps)
            .phase("principal"),
    );
    sampler.phase("currentuser");
    let axway = load.run("get-axway", port, &cookie_gets(AXWAY_CURRENT_USER))?;
    rows.push(
        Row::new("3b", "GET currentuser, cookie (Axway)", &axway)
            .ratio(axway.rps / ceiling.rps)
            .phase("currentuser"),
    );

    // 4. PUT user_login_info: two alternating last names per session, so every PUT writes.
    sampler.phase("put");
    let puts: Vec<Request> = sessions
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
    let put = load.run("put-session", port, &puts)?;
    rows.push(Row::new("4", "PUT user_login_info, cookie + XSRF (writes)", &put).phase("put"));

    // 5. Logins per second against the argon2 limit.
    sampler.phase("login");
    let logins: Vec<Request> = spread(SMALL_DB)
        .map(|i| {
            Request::new("POST", LOGIN)
                .header("Content-Type", "application/json".into())
                .body(format!(r#"{{"username":"{}","password":"{PASSWORD}"}}"#, username(i)))
        })
        .collect();
    let logins = load.run("login", port, &logins)?;
    let login_ratio = logins.rps / argon2_limit;
    rows.push(
        Row::new("5", "POST login (argon2id verify + new session)", &logins)
            .ratio(login_ratio)
            .note(format!(
                "argon2 limit {argon2_limit:.1}/s = {cores} cores / {hash_ms:.1} ms (ratio is to it); \
                 {permits} verifications at once, alone: {parallel_limit:.1}/s"
            ))
            .phase("login"),
    );

    // 6. GET p99 while 8 clients change their passwords continuously.
    sampler.phase("password-changes");
    let changers: Vec<Session> = (0..CHANGERS)
        .map(|i| login(port, &username(FIRST_CHANGER + i), PASSWORD))
        .collect::<Result<_>>()?;
    let change_script = load.password_change_script(&changers)?;
    let change_seconds = opts.seconds + WARMUP_SECONDS + 4;
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
    let busy_get = load.run("get-under-changes", port, &cookie_gets(USER_LOGIN_INFO))?;
    let changes = changing
        .join()
        .map_err(|_| anyhow::anyhow!("the password-change load panicked"))??;
    let p99_ratio = busy_get.p99_ms / get.p99_ms;
    rows.push(
        Row::new("6", "GET user_login_info while 8 clients change passwords", &busy_get)
            .ratio(busy_get.rps / ceiling.rps)
            .note(format!(
                "p99 {:.2}× idle (row 2); {:.1} password changes/s{}",
                p99_ratio,
                changes.rps,
                problems(&changes)
            ))
            .phase("password-changes"),
    );
    let small_peaks = sampler.finish();
    let small_hwm = read_status_kib(server.pid(), "VmHWM:").unwrap_or(0) * 1024;
    drop(server);

    // 8. The same GET with a million users.
    eprintln!("==> database: {} generated users", opts.large_users);
    let populate_started = Instant::now();
    accountd_cmd(&["bench", "populate", "--users", &opts.large_users.to_string()])?;
    let populate_seconds = populate_started.elapsed().as_secs_f64();
    let server = Server::start(
        "accountd",
        Command::new(&accountd)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v))),
        port,
        &log,
    )?;
    let sampler = Sampler::start(server.pid());
    let large_sessions = login_spread(port, opts.large_users)?;
    sampler.phase("get-large");
    let large_gets: Vec<Request> = large_sessions
        .iter()
        .map(|s| Request::get(USER_LOGIN_INFO).header("Cookie", s.cookie.clone()))
        .collect();
    let large = load.run("get-large", port, &large_gets)?;
    let large_peaks = sampler.finish();
    drop(server);
    for row in &mut rows {
        if let Some(phase) = row.phase {
            row.rss = small_peaks.get(phase).copied();
        }
    }
    rows.push(
        Row::new(
            "8",
            &format!("GET user_login_info, cookie ({} users)", thousands(opts.large_users)),
            &large,
        )
        .ratio(large.rps / ceiling.rps)
        .note(format!(
            "{:.2}× the throughput with 1,000 users (row 2)",
            large.rps / get.rps
        ))
        .rss(large_peaks.get("get-large").copied()),
    );

    // 7. Memory: the hashing phases against base + permits × memory cost.
    let read_peak = ["get", "principal", "currentuser", "put"]
        .iter()
        .filter_map(|p| small_peaks.get(*p))
        .copied()
        .max()
        .unwrap_or(base_rss);
    let hash_peak = ["login", "password-changes"]
        .iter()
        .filter_map(|p| small_peaks.get(*p))
        .copied()
        .max()
        .unwrap_or(0);
    let argon2_bytes = (permits * memory_kib * 1024.0) as u64;
    let rss_bound = read_peak + argon2_bytes;

    let targets = vec![
        Target::new(
            "GET with a session ≥ 50% of the ceiling",
            format!("{:.0}%", 100.0 * get.rps / ceiling.rps),
            get.rps / ceiling.rps >= 0.5,
        ),
        Target::new(
            "GET p99 under password changes ≤ 2× idle",
            format!("{p99_ratio:.2}×"),
            p99_ratio <= 2.0,
        ),
        Target::new(
            "logins ≥ 90% of the argon2 limit",
            format!("{:.0}%", 100.0 * login_ratio),
            login_ratio >= 0.9,
        ),
        Target::new(
            "RSS while hashing ≤ base + permits × memory cost",
            format!(
                "{:.1} MiB ≤ {:.1} + {permits} × {:.0} MiB = {:.1} MiB",
                hash_peak as f64 / MIB,
                read_peak as f64 / MIB,
                memory_kib / 1024.0,
                rss_bound as f64 / MIB
            ),
            hash_peak <= rss_bound,
        ),
    ];

    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let wall_seconds = started.elapsed().as_secs_f64();
    let report = json!({
        "date": date,
        "machine": {
            "cores": cores as u64,
            "cpu": cpu,
            "shared_with_load_generator": true,
        },
        "load": {
            "tool": wrk_version,
            "threads": THREADS,
            "connections": CONNECTIONS,
            "warmup_seconds": WARMUP_SECONDS,
            "seconds": opts.seconds,
            "sessions": SESSIONS,
            "password_changers": CHANGERS,
        },
        "argon2": hash,
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "memory": {
            "base_rss_bytes": base_rss,
            "read_phases_peak_rss_bytes": read_peak,
            "hashing_phases_peak_rss_bytes": hash_peak,
            "argon2_bytes": argon2_bytes,
            "bound_bytes": rss_bound,
            "vm_hwm_bytes": small_hwm,
        },
        "targets": targets.iter().map(Target::json).collect::<Vec<_>>(),
        "populate": { "users": opts.large_users, "seconds": populate_seconds },
        "build_seconds": build_seconds,
        "wall_seconds": wall_seconds,
    });
    let text = render(&report, &rows, &targets, &opts)?;
    println!("{text}");

    let out = target.join("bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    write_docs(&root.join("docs/performance.md"), &text)?;
    eprintln!(
        "xtask bench: done in {:.0}s (build {build_seconds:.0}s); target/bench/report.json and docs/performance.md written",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn change_password_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}{AXWAY_CHANGE_PASSWORD}")
}

/// The indices of [`SESSIONS`] generated users spread over `1..=users` (one in each of
/// [`SESSIONS`] equal slices), clear of the password changers in the small database.
fn spread(users: u64) -> impl Iterator<Item = u64> {
    let span = if users <= SMALL_DB { FIRST_CHANGER - 1 } else { users };
    let stride = (span / SESSIONS).max(1);
    (0..SESSIONS).map(move |i| 1 + i * stride + (i * 7919) % stride)
}

fn username(index: u64) -> String {
    format!("bench-{index:07}")
}

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

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Makes sure `wrk` runs; installs Debian's package when it is missing. Returns its version line.
fn ensure_wrk() -> Result<String> {
    let version = || {
        // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer" → "wrk debian/4.1.0-3+b2"
        Command::new("wrk").arg("--version").output().ok().map(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
        })
    };
    if let Some(v) = version() {
        return Ok(v);
    }
    eprintln!("==> wrk is missing: apt-get install -y wrk");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "wrk"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        eprintln!("    install failed: apt-get update, then again");
        crate::run("apt-get", &["update", "-q"])?;
        if !install() {
            bail!("could not install wrk with apt-get (run as root on Debian, or install wrk yourself)");
        }
    }
    version().context("wrk installed but does not run")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("accountd-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server process on loopback, killed on drop.
struct Server {
    child: Child,
}

impl Server {
    fn start(name: &str, command: &mut Command, port: u16, log: &Path) -> Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut server = Self { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("{name} exited with {status} before listening:\n{text}");
            }
            if Instant::now() > deadline {
                bail!("{name} did not listen on port {port} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_rss(pid: u32) -> Option<u64> {
    read_status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// Samples a process's VmRSS every 20 ms and keeps the largest per phase (VmHWM can't be reset
/// between phases).
struct Sampler {
    phase: Arc<Mutex<String>>,
    peaks: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let phase = Arc::new(Mutex::new(String::from("start")));
        let peaks = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (phase, peaks, stop) = (phase.clone(), peaks.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = read_rss(pid) {
                        let name = phase.lock().map(|p| p.clone()).unwrap_or_default();
                        if let Ok(mut peaks) = peaks.lock() {
                            let peak = peaks.entry(name).or_insert(0);
                            *peak = (*peak).max(rss);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            phase,
            peaks,
            stop,
            thread: Some(thread),
        }
    }

    fn phase(&self, name: &str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = name.to_owned();
        }
    }

    fn finish(mut self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// A logged-in session: the `Cookie` header to send and the XSRF token for unsafe methods.
struct Session {
    cookie: String,
    xsrf: String,
}

/// Logs in [`SESSIONS`] users spread over the first `users` generated ones.
fn login_spread(port: u16, users: u64) -> Result<Vec<Session>> {
    spread(users).map(|i| login(port, &username(i), PASSWORD)).collect()
}

fn login(port: u16, user: &str, password: &str) -> Result<Session> {
    let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let reply = http(port, "POST", LOGIN, &[("Content-Type", "application/json")], &body)?;
    ensure!(
        reply.status == 200,
        "login of {user} answered {}: {}",
        reply.status,
        reply.body
    );
    let cookie = |name: &str| {
        reply
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    let session = cookie("sessionid").context("login set no sessionid cookie")?;
    let xsrf = cookie("XSRF-TOKEN").context("login set no XSRF-TOKEN cookie")?;
    Ok(Session {
        cookie: format!("sessionid={session}; XSRF-TOKEN={xsrf}"),
        xsrf,
    })
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// One HTTP/1.1 request on its own connection (enough for logging in; wrk does the load).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(request, "{k}: {v}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One request of a rotation: wrk sends them in turn, over every connection.
struct Request {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

impl Request {
    fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn body(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }
}

/// A Lua long string: no escaping needed for what we put in.
fn lua(text: &str) -> String {
    format!("[==[{text}]==]")
}

/// What every script ends with: one JSON line with the figures the report needs.
const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"#;

/// What one wrk run measured.
#[derive(Debug, Clone)]
struct Measured {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    non2xx: u64,
}

struct Load {
    seconds: u64,
    scripts: PathBuf,
}

impl Load {
    /// Warms up for [`WARMUP_SECONDS`], then measures `self.seconds`, rotating through `requests`.
    fn run(&self, name: &str, port: u16, requests: &[Request]) -> Result<Measured> {
        let mut script = String::from("-- generated by cargo xtask bench\nlocal reqs = {}\ninit = function(args)\n");
        for r in requests {
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("[ {} ] = {}", lua(k), lua(v)))
                .collect();
            let _ = writeln!(
                script,
                "  reqs[#reqs + 1] = wrk.format({}, {}, {{ {} }}, {})",
                lua(r.method),
                lua(&r.path),
                headers.join(", "),
                r.body.as_deref().map(lua).unwrap_or_else(|| "nil".into()),
            );
        }
        script.push_str("end\nlocal i = 0\nrequest = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n");
        script.push_str(LUA_DONE);
        let path = self.scripts.join(format!("{name}.lua"));
        std::fs::write(&path, script)?;
        let url = format!("http://127.0.0.1:{port}/");
        eprintln!(
            "==> {name}: wrk -t{THREADS} -c{CONNECTIONS}, {WARMUP_SECONDS}s warm-up + {}s",
            self.seconds
        );
        wrk(url.clone(), &path, THREADS, CONNECTIONS, WARMUP_SECONDS)?;
        let measured = wrk(url, &path, THREADS, CONNECTIONS, self.seconds)?;
        eprintln!(
            "    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
            measured.rps,
            measured.p50_ms,
            measured.p99_ms,
            problems(&measured)
        );
        Ok(measured)
    }

    /// Each wrk thread (one connection) is one user changing their password over and over: from
    /// the demo password to `Rotate-Kx7q-<client>-1`, `-2`, … (all different, so the history rule
    /// of the default configuration never refuses one). A refused change is retried as it was.
    fn password_change_script(&self, users: &[Session]) -> Result<PathBuf> {
        let mut script = String::from("-- generated by cargo xtask bench\nlocal users = {\n");
        for u in users {
            let _ = writeln!(script, "  {{ cookie = {}, xsrf = {} }},", lua(&u.cookie), lua(&u.xsrf));
        }
        script.push_str(&format!(
            r#"}}
local next_id = 1
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local k = 0
local function password(j)
  if j == 0 then return "{PASSWORD}" end
  return "Rotate-Kx7q-" .. id .. "-" .. j
end
request = function()
  local u = users[id]
  local body = "oldPassword=" .. password(k):gsub("!", "%%21") .. "&newPassword=" .. password(k + 1)
  return wrk.format("POST", nil, {{ ["Cookie"] = u.cookie, ["X-XSRF-TOKEN"] = u.xsrf,
    ["Content-Type"] = "application/x-www-form-urlencoded" }}, body)
end
response = function(status, headers, body)
  if status == 204 then k = k + 1 end
end
"#
        ));
        script.push_str(LUA_DONE);
        let path = self.scripts.join("password-changes.lua");
        std::fs::write(&path, script)?;
        Ok(path)
    }
}

fn wrk(url: String, script: &Path, threads: u32, connections: u32, seconds: u64) -> Result<Measured> {
    let output = Command::new("wrk")
        .args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            "--timeout".into(),
            "10s".into(),
            "-s".into(),
            script.display().to_string(),
            url,
        ])
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH-JSON "))
        .with_context(|| {
            format!(
                "no BENCH-JSON line in wrk's output (a Lua error?):\n{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let v: Value = serde_json::from_str(line)?;
    let requests = number(&v, "requests")? as u64;
    let seconds = number(&v, "duration_us")? / 1e6;
    Ok(Measured {
        requests,
        rps: requests as f64 / seconds.max(1e-9),
        p50_ms: number(&v, "p50_us")? / 1e3,
        p99_ms: number(&v, "p99_us")? / 1e3,
        errors: number(&v, "errors")? as u64,
        non2xx: number(&v, "non2xx")? as u64,
    })
}

/// ", 12 non-2xx of 3400, 1 socket error" or "".
fn problems(m: &Measured) -> String {
    let mut out = String::new();
    if m.non2xx > 0 {
        let _ = write!(out, "; WARNING {} non-2xx of {}", m.non2xx, m.requests);
    }
    if m.errors > 0 {
        let _ = write!(out, "; WARNING {} socket errors", m.errors);
    }
    out
}

struct Row {
    id: &'static str,
    name: String,
    measured: Measured,
    ratio: Option<f64>,
    note: String,
    phase: Option<&'static str>,
    rss: Option<u64>,
}

impl Row {
    fn new(id: &'static str, name: &str, measured: &Measured) -> Self {
        Self {
            id,
            name: name.to_owned(),
            measured: measured.clone(),
            ratio: None,
            note: problems(measured).trim_start_matches("; ").to_owned(),
            phase: None,
            rss: None,
        }
    }

    fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self
    }

    fn note(mut self, note: String) -> Self {
        self.note = if self.note.is_empty() {
            note
        } else {
            format!("{note}; {}", self.note)
        };
        self
    }

    fn phase(mut self, phase: &'static str) -> Self {
        self.phase = Some(phase);
        self
    }

    fn rss(mut self, rss: Option<u64>) -> Self {
        self.rss = rss;
        self
    }

    fn json(&self) -> Value {
        let m = &self.measured;
        json!({
            "id": self.id,
            "name": self.name,
            "requests": m.requests,
            "requests_per_second": m.rps,
            "p50_ms": m.p50_ms,
            "p99_ms": m.p99_ms,
            "ratio": self.ratio,
            "non_2xx": m.non2xx,
            "socket_errors": m.errors,
            "peak_rss_bytes": self.rss,
            "note": self.note,
        })
    }
}

struct Target {
    name: &'static str,
    value: String,
    met: bool,
}

impl Target {
    fn new(name: &'static str, value: String, met: bool) -> Self {
        Self { name, value, met }
    }

    fn json(&self) -> Value {
        json!({ "target": self.name, "measured": self.value, "met": self.met })
    }
}

/// The table (Markdown, so the same text goes to docs/performance.md).
fn render(report: &Value, rows: &[Row], targets: &[Target], opts: &Options) -> Result<String> {
    let mut t = String::new();
    let machine = &report["machine"];
    writeln!(
        t,
        "Run of {}: {} cores ({}), shared by the server and the load generator; {}; \
         wrk -t{THREADS} -c{CONNECTIONS}, {WARMUP_SECONDS} s warm-up then {} s per row; \
         SQLite in a temporary directory; {SESSIONS} sessions (distinct users) per row.\n",
        report["date"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["cpu"].as_str().unwrap_or("?"),
        report["load"]["tool"].as_str().unwrap_or("wrk"),
        opts.seconds
    )?;
    writeln!(
        t,
        "| # | measurement | req/s | p50 ms | p99 ms | ratio | peak RSS MiB | notes |"
    )?;
    writeln!(t, "|---|---|---:|---:|---:|---:|---:|---|")?;
    for r in rows {
        let m = &r.measured;
        writeln!(
            t,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            r.id,
            r.name,
            m.rps,
            m.p50_ms,
            m.p99_ms,
            r.ratio
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_else(|| "—".into()),
            r.rss
                .map(|b| format!("{:.1}", b as f64 / MIB))
                .unwrap_or_else(|| "—".into()),
            r.note
        )?;
    }
    let mem = &report["memory"];
    let mib = |k: &str| mem[k].as_f64().unwrap_or(0.0) / MIB;
    writeln!(
        t,
        "| 7 | peak RSS per phase (column above) | | | | | {:.1} | base after start {:.1} MiB; read phases {:.1}; hashing phases {:.1}; VmHWM {:.1} |",
        mib("hashing_phases_peak_rss_bytes"),
        mib("base_rss_bytes"),
        mib("read_phases_peak_rss_bytes"),
        mib("hashing_phases_peak_rss_bytes"),
        mib("vm_hwm_bytes"),
    )?;
    writeln!(
        t,
        "\nRatios: rows 1–3, 6 and 8 are to the ceiling (row 1); row 5 is to the argon2 limit. \
         Populating {} users took {:.1} s; the build step {:.0} s; the whole run {:.0} s.\n",
        thousands(report["populate"]["users"].as_u64().unwrap_or(0)),
        report["populate"]["seconds"].as_f64().unwrap_or(0.0),
        report["build_seconds"].as_f64().unwrap_or(0.0),
        report["wall_seconds"].as_f64().unwrap_or(0.0),
    )?;
    writeln!(t, "| target | measured | met |")?;
    writeln!(t, "|---|---|---|")?;
    for target in targets {
        writeln!(
            t,
            "| {} | {} | {} |",
            target.name,
            target.value,
            if target.met { "yes" } else { "**no**" }
        )?;
    }
    Ok(t)
}

const BEGIN: &str = "<!-- bench:begin (written by cargo xtask bench) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the text between the markers of docs/performance.md (appends them when missing).
fn write_docs(path: &Path, table: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Performance\n".into());
    let block = format!("{BEGIN}\n{table}\n{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("{}\n## Latest run\n\n{block}\n", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
