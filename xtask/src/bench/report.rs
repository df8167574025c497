//! What a run reports: its rows and targets, `target/bench/report.json`, and the Markdown table
//! printed and written between the markers of `docs/performance.md` (one text for both, so the
//! published page is exactly what the run printed).

use super::load::{Measured, SLOW_MS, problems};
use super::noise::Noise;
use super::phases::{Expiry, Small};
use super::{
    Argon2, CHANGERS, CONNECTIONS, EXPIRY_CACHE_SECONDS, EXPIRY_CONNECTIONS, MIB, Options, SESSIONS, THREADS,
    WARMUP_SECONDS, thousands,
};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One line of the table: what was measured, compared with what, and the server's peak memory.
pub(super) struct Row {
    id: String,
    name: String,
    pub(super) measured: Measured,
    ratio: Option<f64>,
    note: String,
    /// The sampler's phase whose peak RSS this row shows, filled in once the server stopped.
    pub(super) phase: Option<&'static str>,
    pub(super) rss: Option<u64>,
}

impl Row {
    pub(super) fn new(id: &str, name: &str, measured: &Measured) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            measured: measured.clone(),
            ratio: None,
            note: problems(measured).trim_start_matches("; ").to_owned(),
            phase: None,
            rss: None,
        }
    }

    pub(super) fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self
    }

    /// Puts `note` before the warnings, if any.
    pub(super) fn note(mut self, note: String) -> Self {
        self.note = if self.note.is_empty() {
            note
        } else {
            format!("{note}; {}", self.note)
        };
        self
    }

    pub(super) fn phase(mut self, phase: &'static str) -> Self {
        self.phase = Some(phase);
        self
    }

    pub(super) fn rss(mut self, rss: Option<u64>) -> Self {
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
            "p99_9_ms": m.p999_ms,
            "max_ms": m.max_ms,
            "slow_requests": m.slow,
            "slow_ms": SLOW_MS,
            "runs_requests_per_second": m.runs_rps,
            "spread": m.spread(),
            "ratio": self.ratio,
            "non_2xx": m.non2xx,
            "socket_errors": m.errors,
            "peak_rss_bytes": self.rss,
            "note": self.note,
        })
    }
}

/// Row 7: the server's peak RSS in the phases that read against those that hash, and the bound
/// the hashing phases must stay under (the read peak plus one argon2 memory cost per permit).
pub(super) struct Memory {
    base: u64,
    read_peak: u64,
    hash_peak: u64,
    argon2_bytes: u64,
    bound: u64,
    vm_hwm: u64,
}

impl Memory {
    pub(super) fn new(peaks: &BTreeMap<String, u64>, base: u64, vm_hwm: u64, argon2: &Argon2) -> Self {
        let peak = |phases: &[&str]| phases.iter().filter_map(|p| peaks.get(*p)).copied().max();
        let read_peak = peak(&["get", "principal", "currentuser", "put"]).unwrap_or(base);
        let hash_peak = peak(&["login", "password-changes"]).unwrap_or(0);
        let argon2_bytes = (argon2.permits * argon2.memory_kib * 1024.0) as u64;
        Self {
            base,
            read_peak,
            hash_peak,
            argon2_bytes,
            bound: read_peak + argon2_bytes,
            vm_hwm,
        }
    }

    fn json(&self) -> Value {
        json!({
            "base_rss_bytes": self.base,
            "read_phases_peak_rss_bytes": self.read_peak,
            "hashing_phases_peak_rss_bytes": self.hash_peak,
            "argon2_bytes": self.argon2_bytes,
            "bound_bytes": self.bound,
            "vm_hwm_bytes": self.vm_hwm,
        })
    }
}

/// A goal of docs/performance.md, what this run measured of it, and whether it was met.
pub(super) struct Target {
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

/// Row 3c's target: one Basic credential on 64 connections across cache expiries, p99 ≤ 100 ms
/// and at most this many requests of [`SLOW_MS`] or more per run. A stampede, or all 64 waiting
/// for one shared verification at an expiry, stalls the 64 requests in flight at once: 64 of the
/// rate × lifetime requests between two expiries, under 1% at any useful rate (the p99 can't see
/// it), so the target counts them. One request re-verifying a hot entry is one.
const EXPIRY_P99_MS: f64 = 100.0;
const EXPIRY_SLOW_PER_RUN: u64 = 8;

pub(super) fn targets(
    ceiling: &Measured,
    small: &Small,
    expiry: &Expiry,
    memory: &Memory,
    argon2: &Argon2,
) -> Vec<Target> {
    let (get, basic, p99_ratio, login_ratio) = (&small.get, &small.basic, small.p99_ratio, small.login_ratio);
    let expiry = &expiry.measured;
    vec![
        Target::new(
            "GET with a session ≥ 50% of the ceiling",
            format!("{:.0}%", 100.0 * get.rps / ceiling.rps),
            get.rps / ceiling.rps >= 0.5,
        ),
        Target::new(
            "Basic GET ≥ 40% of the ceiling (row 3a)",
            format!("{:.0}%", 100.0 * basic.rps / ceiling.rps),
            basic.rps / ceiling.rps >= 0.4,
        ),
        Target::new(
            "Basic, one credential on 64 connections across cache expiries: p99 ≤ 100 ms, \
             at most 8 requests ≥ 100 ms per run (row 3c)",
            format!(
                "p99 {:.1} ms; {} requests ≥ {SLOW_MS} ms in {} runs (max {:.0} ms)",
                expiry.p99_ms,
                expiry.slow,
                expiry.runs_rps.len(),
                expiry.max_ms
            ),
            expiry.p99_ms <= EXPIRY_P99_MS && expiry.slow <= EXPIRY_SLOW_PER_RUN * expiry.runs_rps.len() as u64,
        ),
        Target::new(
            "GET p99 under password changes ≤ 2× idle",
            format!("{p99_ratio:.2}×"),
            p99_ratio <= 2.0,
        ),
        Target::new(
            "logins ≥ 90% of the argon2 limit (verifications at once, alone)",
            format!("{:.0}%", 100.0 * login_ratio),
            login_ratio >= 0.9,
        ),
        Target::new(
            "RSS while hashing ≤ base + permits × memory cost",
            format!(
                "{:.1} MiB ≤ {:.1} + {} × {:.0} MiB = {:.1} MiB",
                memory.hash_peak as f64 / MIB,
                memory.read_peak as f64 / MIB,
                argon2.permits,
                argon2.memory_kib / 1024.0,
                memory.bound as f64 / MIB
            ),
            memory.hash_peak <= memory.bound,
        ),
    ]
}

/// The run's circumstances the report states besides its rows.
pub(super) struct Facts<'a> {
    pub(super) wrk: &'a str,
    pub(super) opts: &'a Options,
    pub(super) argon2: &'a Argon2,
    pub(super) noise: &'a Noise,
    /// The PostgreSQL server's version; `None` when its rows were skipped.
    pub(super) postgres: Option<&'a str>,
    pub(super) populate_seconds: f64,
    pub(super) build_seconds: f64,
    pub(super) started: Instant,
}

/// `target/bench/report.json`; [`render`] reads the table's figures from it.
pub(super) fn json(facts: &Facts, rows: &[Row], memory: &Memory, targets: &[Target]) -> Value {
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    json!({
        "date": date,
        "machine": {
            "cores": facts.argon2.cores as u64,
            "cpu": cpu(),
            "shared_with_load_generator": true,
            "noise": facts.noise.json(),
        },
        "load": {
            "tool": facts.wrk,
            "threads": THREADS,
            "connections": CONNECTIONS,
            "warmup_seconds": WARMUP_SECONDS,
            "seconds": facts.opts.seconds,
            "runs": facts.opts.runs,
            "figures": "the median run of each row (by req/s): its req/s, p50, p99 and max",
            "sessions": SESSIONS,
            "password_changers": CHANGERS,
            "basic_expiry": {
                "connections": EXPIRY_CONNECTIONS,
                "cache_seconds": EXPIRY_CACHE_SECONDS,
            },
        },
        "postgres": facts.postgres.map(|version| json!({ "version": version })),
        "argon2": facts.argon2.json,
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "memory": memory.json(),
        "targets": targets.iter().map(Target::json).collect::<Vec<_>>(),
        "populate": { "users": facts.opts.large_users, "seconds": facts.populate_seconds },
        "build_seconds": facts.build_seconds,
        "wall_seconds": facts.started.elapsed().as_secs_f64(),
    })
}

/// The first "model name" of /proc/cpuinfo.
fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The table (Markdown, so the same text goes to docs/performance.md).
pub(super) fn render(
    report: &Value,
    rows: &[Row],
    targets: &[Target],
    opts: &Options,
    noise: &Noise,
) -> Result<String> {
    let mut t = String::new();
    let machine = &report["machine"];
    let postgres = match report["postgres"]["version"].as_str() {
        Some(version) => format!("PostgreSQL {version} on loopback (same cores) for the rows marked pg"),
        None => "PostgreSQL rows skipped (--no-postgres)".into(),
    };
    writeln!(
        t,
        "Run of {}: {} cores ({}), shared by the server and the load generator; {}; \
         wrk -t{THREADS} -c{CONNECTIONS}, {WARMUP_SECONDS} s warm-up then {} runs of {} s per row, \
         the median run shown (its req/s, p50, p99 and max; spread = (fastest − slowest) / median req/s); \
         SQLite in a temporary directory; {postgres}; {SESSIONS} sessions (distinct users) per row.\n\n{}.\n",
        report["date"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["cpu"].as_str().unwrap_or("?"),
        report["load"]["tool"].as_str().unwrap_or("wrk"),
        opts.runs,
        opts.seconds,
        noise.sentence(),
    )?;
    render_rows(&mut t, rows)?;
    render_memory(&mut t, &report["memory"])?;
    writeln!(
        t,
        "\nRatios: rows 2–3c, 6, 8, 2pg and 3apg are to the ceiling (row 1); rows 5 and 5pg to the argon2 \
         limit. Populating {} users took {:.1} s; the build step {:.0} s; the whole run {:.0} s.\n",
        thousands(report["populate"]["users"].as_u64().unwrap_or(0)),
        report["populate"]["seconds"].as_f64().unwrap_or(0.0),
        report["build_seconds"].as_f64().unwrap_or(0.0),
        report["wall_seconds"].as_f64().unwrap_or(0.0),
    )?;
    render_targets(&mut t, targets)?;
    Ok(t)
}

fn render_rows(t: &mut String, rows: &[Row]) -> std::fmt::Result {
    writeln!(
        t,
        "| # | measurement | req/s | spread | p50 ms | p99 ms | max ms | ratio | peak RSS MiB | notes |"
    )?;
    writeln!(t, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for r in rows {
        let m = &r.measured;
        writeln!(
            t,
            "| {} | {} | {:.0} | {:.0}% | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
            r.id,
            r.name,
            m.rps,
            100.0 * m.spread(),
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            r.ratio
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_else(|| "—".into()),
            r.rss
                .map(|b| format!("{:.1}", b as f64 / MIB))
                .unwrap_or_else(|| "—".into()),
            r.note
        )?;
    }
    Ok(())
}

/// Row 7, from the report's `memory` object.
fn render_memory(t: &mut String, mem: &Value) -> std::fmt::Result {
    let mib = |k: &str| mem[k].as_f64().unwrap_or(0.0) / MIB;
    writeln!(
        t,
        "| 7 | peak RSS per phase (column above) | | | | | | | {:.1} | base after start {:.1} MiB; read phases {:.1}; hashing phases {:.1}; VmHWM {:.1} |",
        mib("hashing_phases_peak_rss_bytes"),
        mib("base_rss_bytes"),
        mib("read_phases_peak_rss_bytes"),
        mib("hashing_phases_peak_rss_bytes"),
        mib("vm_hwm_bytes"),
    )
}

fn render_targets(t: &mut String, targets: &[Target]) -> std::fmt::Result {
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
    Ok(())
}

/// Writes `report.json` into `out` and, when given, the table into the docs page.
pub(super) fn write(out: &Path, report: &Value, docs: Option<&Path>, text: &str) -> Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(report)?)?;
    docs.map_or(Ok(()), |docs| write_docs(docs, text))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_replaces_only_the_text_between_the_markers() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let page = dir.path().join("performance.md");
        std::fs::write(&page, format!("# P\n\nbefore\n{BEGIN}\nold\n{END}\nafter\n"))?;
        write_docs(&page, "new")?;
        assert_eq!(
            std::fs::read_to_string(&page)?,
            format!("# P\n\nbefore\n{BEGIN}\nnew\n{END}\nafter\n")
        );
        Ok(())
    }

    #[test]
    fn a_page_without_markers_gets_them_appended() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let page = dir.path().join("performance.md");
        std::fs::write(&page, "# P\n")?;
        write_docs(&page, "t")?;
        assert_eq!(
            std::fs::read_to_string(&page)?,
            format!("# P\n## Latest run\n\n{BEGIN}\nt\n{END}\n")
        );
        Ok(())
    }
}
