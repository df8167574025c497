//! `cargo xtask reliability [--long] [--soak-seconds N] [--fuzz-cases N]`: the reliability suite
//! (issue 16) at full scale, and its report.
//!
//! It runs the scenarios of `apps/accountd/tests/reliability` (crashes under load on SQLite and
//! PostgreSQL, a PostgreSQL outage, a full disk, floods and slow clients, the soak) with
//! `RELIABILITY_SCALE=full`, one at a time so they don't disturb each other's figures, then the
//! property tests with more cases, and rewrites the generated part of docs/reliability.md (between
//! its `reliability-report` markers) from the `RELIABILITY {json}` lines the scenarios print. A
//! failed scenario fails the command after the report is written, so the report shows what was
//! seen. `cargo xtask ci` runs the same scenarios at their short CI scale through `cargo test`.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

const REPORT: &str = "docs/reliability.md";
const BEGIN: &str = "<!-- reliability-report:begin -->";
const END: &str = "<!-- reliability-report:end -->";

struct Options {
    soak_seconds: u64,
    fuzz_cases: u32,
}

fn options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        soak_seconds: 120,
        fuzz_cases: 2_000,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse::<u64>()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--long" => options.soak_seconds = 20 * 60,
            "--soak-seconds" => options.soak_seconds = value("--soak-seconds")?,
            "--fuzz-cases" => options.fuzz_cases = u32::try_from(value("--fuzz-cases")?)?,
            other => bail!("unknown option {other} (use --long, --soak-seconds N, --fuzz-cases N)"),
        }
    }
    Ok(options)
}

/// Runs `command`, echoing its standard output, and returns the `RELIABILITY` records it printed
/// and whether it succeeded.
fn run_collecting(mut command: Command) -> Result<(Vec<Value>, bool)> {
    let mut child = command.stdout(Stdio::piped()).spawn().context("starting cargo test")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut records = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        // `cargo test` prints "test <name> ... " and then the test's own output on the same line.
        if let Some(json) = line.find("RELIABILITY {").map(|at| &line[at + "RELIABILITY ".len()..]) {
            records.push(serde_json::from_str(json).with_context(|| format!("a report line: {json}"))?);
        }
    }
    Ok((records, child.wait()?.success()))
}

pub fn reliability(args: &[String]) -> Result<()> {
    let options = options(args)?;
    let started = Instant::now();
    let mut command = Command::new("cargo");
    command
        .args([
            "test",
            "-p",
            "accountd",
            "--test",
            "reliability",
            "--",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RELIABILITY_SCALE", "full")
        .env("RELIABILITY_SOAK_SECONDS", options.soak_seconds.to_string());
    let (mut records, scenarios_ok) = run_collecting(command)?;

    let suites: [(&str, &[&str]); 3] = [
        ("accountd-domain", &["--test", "fuzz"]),
        ("accountd", &["--test", "api", "fuzz"]),
        ("accountd", &["--lib", "fuzz"]),
    ];
    for (krate, target) in suites {
        let fuzz_started = Instant::now();
        let status = Command::new("cargo")
            .args(["test", "--workspace"])
            .args(target)
            .env("PROPTEST_CASES", options.fuzz_cases.to_string())
            .status()
            .context("running the property tests")?;
        records.push(serde_json::json!({
            "scenario": "fuzzing",
            "backend": if krate == "accountd" { "SQLite" } else { "none" },
            "fault": format!(
                "{} arbitrary inputs per property: `PROPTEST_CASES={} cargo test --workspace {}`",
                options.fuzz_cases,
                options.fuzz_cases,
                target.join(" ")
            ),
            "answered": if status.success() { "no panic, no 5xx, every refusal a 4xx problem" } else { "FAILED: see the output" },
            "lost": 0,
            "seconds": fuzz_started.elapsed().as_secs(),
        }));
        if !status.success() {
            write_report(&records, &options, started)?;
            bail!("the property tests of {krate} failed");
        }
    }
    write_report(&records, &options, started)?;
    if !scenarios_ok {
        bail!("a reliability scenario failed (its assertion is in the output above)");
    }
    let lost: u64 = records.iter().filter_map(|r| r["lost"].as_u64()).sum();
    if lost > 0 {
        bail!("{lost} acknowledged write(s) lost");
    }
    eprintln!(
        "xtask reliability: {} records, nothing lost, in {:.0?}",
        records.len(),
        started.elapsed()
    );
    Ok(())
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.replace('|', "\\|"),
        Value::Null => String::new(),
        other => other.to_string().replace('|', "\\|"),
    }
}

/// The generated section: one table row per fault, then each record's other figures.
fn render(records: &[Value], options: &Options, started: Instant) -> String {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Generated by `cargo xtask reliability{}` at commit `{commit}` on {cores} cores in {:.0} s \
         (soak {} s, {} property cases). The debug build of the server, as `cargo test` builds it.\n",
        if options.soak_seconds == 1200 { " --long" } else { "" },
        started.elapsed().as_secs_f64(),
        options.soak_seconds,
        options.fuzz_cases,
    );
    out.push_str("| Scenario | Backend | What was done | What it answered | Acknowledged writes | Lost |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for r in records {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r["scenario"]),
            cell(&r["backend"]),
            cell(&r["fault"]),
            cell(&r["answered"]),
            cell(&r["acknowledged"]),
            cell(&r["lost"]),
        );
    }
    let standard = ["scenario", "backend", "fault", "answered", "acknowledged", "lost"];
    out.push_str("\nFigures of each:\n\n");
    for r in records {
        let Some(object) = r.as_object() else { continue };
        let details: Vec<String> = object
            .iter()
            .filter(|(k, _)| !standard.contains(&k.as_str()))
            .map(|(k, v)| format!("`{k}` {}", cell(v)))
            .collect();
        if !details.is_empty() {
            let _ = writeln!(
                out,
                "- **{}** ({}): {}",
                cell(&r["scenario"]),
                cell(&r["backend"]),
                details.join(", ")
            );
        }
    }
    out
}

fn write_report(records: &[Value], options: &Options, started: Instant) -> Result<()> {
    let text = std::fs::read_to_string(REPORT).with_context(|| format!("reading {REPORT}"))?;
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        bail!("{REPORT} has no {BEGIN} … {END} section");
    };
    let generated = render(records, options, started);
    let updated = format!("{}{BEGIN}\n{generated}{}", &text[..begin], &text[end..]);
    std::fs::write(REPORT, updated).with_context(|| format!("writing {REPORT}"))?;
    eprintln!("{REPORT} rewritten");
    Ok(())
}
