//! accountd's project commands, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order: formatting, clippy with `-D warnings`, the inner crates'
//!   dependency direction, Chromium and chromedriver for the browser test (installed with apt-get
//!   when missing), every test of the workspace, the inner crates' examples (each asserts what it
//!   prints; `cargo test` only builds them), `cargo doc` with `-D warnings`, then schemathesis
//!   against a demo server (xtask/src/schemathesis.rs). `.ci/run` and the README call it.
//! - `deps`: only the dependency-direction check.
//! - `examples`: only the inner crates' examples step of `ci`.
//! - `openapi`: rewrite the committed docs/openapi.json from the code.
//! - `schemathesis`: only the schemathesis step of `ci`.
//! - `mutants`: cargo-mutants over the inner crates (xtask/src/mutants.rs); not part of `ci` (it
//!   takes most of an hour on 2 cores).
//! - `bench`: the benchmarks of docs/performance.md (release build, wrk, one table); not part of
//!   `ci` (it takes minutes and its numbers depend on the machine).

mod bench;
mod mutants;
mod reliability;
mod schemathesis;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Crates that must stay embeddable: none of these may appear in their dependency tree.
const INNER_CRATES: &[&str] = &["accountd-domain", "accountd-policy"];
const FORBIDDEN_IN_INNER: &[&str] = &["diesel", "actix-web", "actix-rt", "tokio", "ureq", "r2d2"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("deps") => check_dependency_direction(),
        Some("examples") => run_inner_examples(),
        Some("bench") => bench::bench(&args[1..]),
        Some("openapi") => schemathesis::openapi(),
        Some("schemathesis") => schemathesis::schemathesis(),
        Some("reliability") => reliability::reliability(&args[1..]),
        Some("mutants") => mutants::mutants(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|deps|examples|openapi|schemathesis|bench [--seconds N] [--runs N] [--large-users N] [--postgres URL | --no-postgres] [--no-build]|reliability [--long] [--soak-seconds N] [--fuzz-cases N]|mutants [cargo-mutants args]>"
            );
            bail!("unknown or missing command")
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn ci() -> Result<()> {
    let started = Instant::now();
    step("format", || run("cargo", &["fmt", "--all", "--", "--check"]))?;
    step("clippy", || {
        run(
            "cargo",
            &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        )
    })?;
    step("dependency direction", check_dependency_direction)?;
    step("browser", ensure_browser)?;
    let python = step_with("test tools", test_python)?;
    step("tests", || {
        run_with_env(
            "cargo",
            &["test", "--workspace", "--all-targets", "--no-fail-fast"],
            &[("ACCOUNTD_TEST_PYTHON", &python)],
        )
    })?;
    step("examples", run_inner_examples)?;
    step("rustdoc", || {
        run_with_env(
            "cargo",
            &["doc", "--workspace", "--no-deps", "--quiet"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    step("schemathesis", schemathesis::schemathesis)?;
    eprintln!("xtask ci: all green in {:.0?}", started.elapsed());
    Ok(())
}

/// The Python the tests run their SMTP server with (`aiosmtpd`, from PyPI, in its own venv).
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

fn test_python() -> Result<String> {
    let bin = schemathesis::python_tool("target/test-python-venv", AIOSMTPD, |bin| {
        Command::new(bin.join("python"))
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(bin.join("python").display().to_string())
}

fn step_with<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    eprintln!("==> {name}");
    let value = f().with_context(|| format!("step '{name}' failed"))?;
    eprintln!("<== {name} ok ({:.1?})", started.elapsed());
    Ok(value)
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    step_with(name, f)
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    run_with_env(program, args, &[])
}

fn run_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        let env: String = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
        bail!("`{env}{program} {}` exited with {status}", args.join(" "));
    }
    Ok(())
}

/// Runs every example of the inner crates (`crates/<part>/examples/*.rs`, found on disk so a new
/// one is run without editing this list). Each example asserts what it prints, so it is a test
/// that also documents: `cargo test --all-targets` only builds examples, it never runs them.
fn run_inner_examples() -> Result<()> {
    for krate in INNER_CRATES {
        let dir = Path::new("crates")
            .join(krate.trim_start_matches("accountd-"))
            .join("examples");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
            })
            .collect();
        names.sort();
        if names.is_empty() {
            bail!("{} holds no example", dir.display());
        }
        for name in &names {
            eprintln!("{krate}: example {name}");
            let output = Command::new("cargo")
                .args(["run", "--quiet", "-p", krate, "--example", name])
                .output()
                .with_context(|| format!("running example {name}"))?;
            if !output.status.success() {
                bail!(
                    "example {name} of {krate} exited with {}:\n{}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
    Ok(())
}

/// The account page's browser test (apps/accountd/tests/e2e) drives Debian's Chromium through
/// chromedriver: installed here when missing, as root (CI) or through `sudo -n` (a developer's
/// machine with passwordless sudo; otherwise the error says what to install).
fn ensure_browser() -> Result<()> {
    const TOOLS: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
    if TOOLS.iter().all(|tool| Path::new(tool).exists()) {
        eprintln!("chromium and chromedriver are installed");
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("starting apt-get")?;
        if !status.success() {
            bail!("`apt-get {}` exited with {status}", args.join(" "));
        }
        Ok(())
    };
    let install = [
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ];
    apt(&["update"]).and_then(|()| apt(&install)).context(
        "installing chromium and chromium-driver for the browser test \
             (as root: `apt-get install chromium chromium-driver`)",
    )?;
    if let Some(missing) = TOOLS.iter().find(|tool| !Path::new(tool).exists()) {
        bail!("{missing} is still missing after installing chromium and chromium-driver");
    }
    Ok(())
}

/// `cargo tree -p <inner crate> -e normal` must show none of [`FORBIDDEN_IN_INNER`].
fn check_dependency_direction() -> Result<()> {
    for krate in INNER_CRATES {
        let output = Command::new("cargo")
            .args([
                "tree", "--quiet", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
            ])
            .output()
            .context("running cargo tree")?;
        if !output.status.success() {
            bail!(
                "cargo tree -p {krate} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let tree = String::from_utf8_lossy(&output.stdout);
        let found: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| FORBIDDEN_IN_INNER.contains(name))
            .collect();
        if !found.is_empty() {
            bail!("{krate} must not depend on {found:?} (see docs/architecture.md)");
        }
        eprintln!("{krate}: no {}", FORBIDDEN_IN_INNER.join(", no "));
    }
    Ok(())
}
