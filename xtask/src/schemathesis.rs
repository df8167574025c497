//! `cargo xtask openapi` (rewrite docs/openapi.json) and the `schemathesis` step of `cargo xtask ci`:
//! schemathesis, installed from PyPI into `target/schemathesis-venv`, run against `accountd serve
//! --demo` (debug build, temporary SQLite database, throttling raised) authenticated as the demo
//! system administrator, over every operation of `/openapi.json`, with every check.

use anyhow::{Context, Result, bail};
use std::fs;
use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The schemathesis release CI runs (bump deliberately: its checks change between releases).
const SCHEMATHESIS: &str = "4.32.5";
const VENV: &str = "target/schemathesis-venv";
const WORK: &str = "target/schemathesis-run";
/// The demo system administrator (apps/accountd/src/demo.rs).
const AUTH: &str = "admin:Demo-Passw0rd!";

/// `cargo xtask openapi`: the staleness test of crates/http, told to rewrite the committed copy.
pub fn openapi() -> Result<()> {
    let status = Command::new("cargo")
        .args([
            "test",
            "--quiet",
            "-p",
            "accountd-http",
            "--lib",
            "openapi::tests::committed_document_is_current",
        ])
        .env("ACCOUNTD_WRITE_OPENAPI", "1")
        .status()
        .context("starting cargo test")?;
    if !status.success() {
        bail!("writing docs/openapi.json failed ({status})");
    }
    eprintln!("docs/openapi.json rewritten");
    Ok(())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The venv's `schemathesis`, installed (or upgraded to [`SCHEMATHESIS`]) when needed; why not when
/// Python or PyPI is unavailable.
fn ensure_schemathesis() -> Result<PathBuf, String> {
    let bin = python_tool(VENV, &format!("schemathesis=={SCHEMATHESIS}"), |bin| {
        Command::new(bin.join("schemathesis"))
            .arg("--version")
            .output()
            .ok()
            .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS))
    })?;
    Ok(bin.join("schemathesis"))
}

/// A Python tool from PyPI in its own venv under the project (`venv`): the venv's `bin`
/// directory, once `installed(bin)` says `requirement` is there (installing it first when not);
/// why not when Python or PyPI is unavailable.
pub(crate) fn python_tool(venv: &str, requirement: &str, installed: impl Fn(&Path) -> bool) -> Result<PathBuf, String> {
    let venv = crate::project_root().join(venv);
    let bin = venv.join("bin");
    if installed(&bin) {
        return Ok(bin);
    }
    if !bin.join("python").exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 is not available: {e}"))?
            .success();
        if !ok {
            return Err("`python3 -m venv` failed (is python3-venv installed?)".into());
        }
    }
    eprintln!("installing {requirement} into {}", venv.display());
    let ok = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", requirement])
        .status()
        .map_err(|e| format!("pip could not start: {e}"))?
        .success();
    if !ok || !installed(&bin) {
        return Err(format!("`pip install {requirement}` failed (no network?)"));
    }
    Ok(bin)
}

/// The server under test, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn wait_listening(port: u16, server: &mut Server, log: &Path) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = server.0.try_wait()? {
            bail!(
                "accountd exited ({status}) before listening:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("accountd did not listen on port {port} within 60 s")
}

/// The `schemathesis` step of `cargo xtask ci`.
pub fn schemathesis() -> Result<()> {
    let exe = match ensure_schemathesis() {
        Ok(exe) => exe,
        Err(why) if in_ci() => bail!("schemathesis is required in CI: {why}"),
        Err(why) => {
            eprintln!("SKIPPED schemathesis: {why} (CI=true makes this a failure)");
            return Ok(());
        }
    };
    crate::run("cargo", &["build", "--quiet", "-p", "accountd"])?;
    match run_once(&exe)? {
        Attempt::Passed => Ok(()),
        Attempt::Failed(why) => bail!(why),
        Attempt::InterpreterCrash => {
            // CPython 3.11.7 (this machine's) keeps the AST conversion's depth counter in state
            // shared by threads, so Hypothesis parsing sources on two threads at once can end in
            // "AST constructor recursion depth mismatch": a bug of the interpreter, not a finding
            // about accountd. We run one worker for that reason; should it still happen, run once
            // more on a fresh server. Any real failure, or the same crash again, fails the step.
            eprintln!("schemathesis crashed inside CPython ({INTERPRETER_BUG}); running it once more");
            match run_once(&exe)? {
                Attempt::Passed => Ok(()),
                Attempt::Failed(why) => bail!(why),
                Attempt::InterpreterCrash => bail!("schemathesis crashed twice inside CPython ({INTERPRETER_BUG})"),
            }
        }
    }
}

/// The CPython error the step tolerates once (see [`schemathesis`]).
const INTERPRETER_BUG: &str = "AST constructor recursion depth mismatch";

/// How one schemathesis run against a fresh server ended.
enum Attempt {
    Passed,
    /// A check failed, or schemathesis failed some other way: the message says where to look.
    Failed(String),
    /// It failed only because the interpreter raised [`INTERPRETER_BUG`]: no check failed.
    InterpreterCrash,
}

/// Starts a fresh `accountd serve --demo` and runs schemathesis against it once, echoing its output.
fn run_once(exe: &Path) -> Result<Attempt> {
    let work = PathBuf::from(WORK);
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("creating {WORK}"))?;
    let work = work.canonicalize()?;
    let log = work.join("accountd.log");
    let port = free_port()?;
    let mut server = Server(
        Command::new(crate::project_root().join("target/debug/accountd"))
            .args(["serve", "--demo"])
            .env(
                "ACCOUNTD__DATABASE__URL",
                format!("sqlite://{}", work.join("st.db").display()),
            )
            .env("ACCOUNTD__SERVER__BIND", format!("127.0.0.1:{port}"))
            // schemathesis sends many wrong passwords from one address: never lock the admin out
            // mid-run (every counter of docs/security.md), and answer its refusals at once rather
            // than after the timing floor.
            .env("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ACCOUNT_ADDRESS", "1000000000")
            .env("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ACCOUNT", "1000000000")
            .env("ACCOUNTD__THROTTLE__MAX_FAILURES_PER_ADDRESS", "1000000000")
            .env("ACCOUNTD__THROTTLE__FAILURE_FLOOR_MS", "0")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log)?)
            .stderr(fs::File::create(work.join("accountd.stderr"))?)
            .spawn()
            .context("starting accountd")?,
    );
    wait_listening(port, &mut server, &log)?;
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    eprintln!(
        "schemathesis {SCHEMATHESIS} against {url} (server log: {})",
        log.display()
    );
    let mut child = Command::new(exe)
        .args([
            "run",
            &url,
            "--checks",
            "all",
            // "Schema-valid request rejected": the schema states types, lengths and patterns, not
            // every business rule (password policy, e-mail syntax, time-zone names, uniqueness,
            // levels allowed to change what), so a 400 for a schema-valid body is the server's
            // validation, not a bug. The three checks issue 7 asks for stay: no 5xx, responses
            // that match the schema, and no schema-violating request accepted.
            "--exclude-checks",
            "positive_data_acceptance",
            "--auth",
            AUTH,
            "--max-examples",
            "100",
            // One worker: two threads crash CPython 3.11.7's AST conversion (see `schemathesis`).
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--seed",
            "42",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
        ])
        .arg(work.join("report"))
        .current_dir(&work)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting schemathesis")?;
    // Echo the output as it comes, and keep it to tell an interpreter crash from a finding.
    let mut output = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("reading schemathesis' output")?;
            println!("{line}");
            output.push_str(&line);
            output.push('\n');
        }
    }
    let status = child.wait().context("waiting for schemathesis")?;
    drop(server);
    if status.success() {
        return Ok(Attempt::Passed);
    }
    // A run with any failed check prints a FAILURES section; only a run without one, whose error
    // is the interpreter's, counts as a crash.
    if output.contains(INTERPRETER_BUG) && !output.contains(" FAILURES ") {
        return Ok(Attempt::InterpreterCrash);
    }
    Ok(Attempt::Failed(format!(
        "schemathesis found failures ({status}); the server's log is {}",
        log.display()
    )))
}
