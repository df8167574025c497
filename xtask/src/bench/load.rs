//! The load: requests as data, turned into the Lua scripts `wrk` sends in rotation (so every
//! request can carry its own cookie, XSRF header or body), wrk's runs and what they measured (a
//! row's figures are those of the median of its runs); and the few plain HTTP requests (ureq) that
//! log the benchmark's users in beforehand.

use super::{AXWAY_CHANGE_PASSWORD, CONNECTIONS, LOGIN, PASSWORD, THREADS, WARMUP_SECONDS, number, spread, username};
use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use ureq::OrAnyStatus as _;

/// One request of a rotation: wrk sends them in turn, over every connection.
pub(super) struct Request {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

impl Request {
    pub(super) fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub(super) fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub(super) fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(super) fn body(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }

    /// The Lua statement that adds this request to the script's `reqs` table.
    fn lua(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("[ {} ] = {}", lua(k), lua(v)))
            .collect();
        format!(
            "  reqs[#reqs + 1] = wrk.format({}, {}, {{ {} }}, {})",
            lua(self.method),
            lua(&self.path),
            headers.join(", "),
            self.body.as_deref().map(lua).unwrap_or_else(|| "nil".into()),
        )
    }
}

/// A Lua long string: no escaping needed for what we put in.
fn lua(text: &str) -> String {
    format!("[==[{text}]==]")
}

/// What every script ends with: one JSON line with the figures the report needs. `slow` counts
/// the requests that took [`SLOW_MS`] or more: wrk gives percentiles, not counts, so it bisects
/// for the last rank faster than that (`percentile((r - 0.5) / n * 100)` is the latency of rank r).
const LUA_DONE: &str = r#"
local function at_least(latency, n, us)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if latency:percentile((mid - 0.5) / n * 100) < us then lo = mid else hi = mid - 1 end
  end
  return n - lo
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"slow":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    at_least(latency, summary.requests, SLOW_US)))
end
"#;

/// What a request must take at least to count as slow (row 3c's target).
pub(super) const SLOW_MS: u64 = 100;

/// [`LUA_DONE`] with [`SLOW_MS`] in it.
fn lua_done() -> String {
    LUA_DONE.replace("SLOW_US", &(SLOW_MS * 1000).to_string())
}

/// What one wrk run measured, or a row's runs: then the rate and latencies are those of the
/// median run (the run whose rate is the median, so they belong together), `runs_rps` every run's
/// rate in order, and the counts are totals over every run.
#[derive(Debug, Clone)]
pub(super) struct Measured {
    pub(super) requests: u64,
    pub(super) rps: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) p999_ms: f64,
    pub(super) max_ms: f64,
    pub(super) errors: u64,
    pub(super) non2xx: u64,
    /// Requests that took [`SLOW_MS`] or more.
    pub(super) slow: u64,
    pub(super) runs_rps: Vec<f64>,
}

impl Measured {
    /// The median run of `runs` (for an even count, the faster of the two middle ones), with the
    /// totals and every run's rate.
    fn median(runs: &[Measured]) -> Result<Measured> {
        let mut by_rate: Vec<&Measured> = runs.iter().collect();
        by_rate.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        let middle = by_rate.get(by_rate.len() / 2).context("no run to take the median of")?;
        Ok(Measured {
            requests: runs.iter().map(|m| m.requests).sum(),
            errors: runs.iter().map(|m| m.errors).sum(),
            non2xx: runs.iter().map(|m| m.non2xx).sum(),
            slow: runs.iter().map(|m| m.slow).sum(),
            runs_rps: runs.iter().map(|m| m.rps).collect(),
            ..(*middle).clone()
        })
    }

    /// (fastest − slowest) / median rate of the runs: how much the row moved within this run.
    pub(super) fn spread(&self) -> f64 {
        let max = self.runs_rps.iter().copied().fold(f64::MIN, f64::max);
        let min = self.runs_rps.iter().copied().fold(f64::MAX, f64::min);
        if self.runs_rps.len() < 2 || self.rps <= 0.0 {
            0.0
        } else {
            (max - min) / self.rps
        }
    }
}

/// How long each row is measured, how many times, and where its generated script is written.
pub(super) struct Load {
    pub(super) seconds: u64,
    pub(super) runs: u32,
    pub(super) scripts: PathBuf,
}

impl Load {
    /// Warms up for [`WARMUP_SECONDS`], then measures `self.runs` times `self.seconds` with
    /// [`CONNECTIONS`] connections, rotating through `requests`; the median run.
    pub(super) fn run(&self, name: &str, port: u16, requests: &[Request]) -> Result<Measured> {
        self.run_shaped(name, port, requests, CONNECTIONS, self.seconds)
    }

    /// The seconds a row of [`Load::run`] takes from its warm-up to its last run's end.
    pub(super) fn span(&self) -> u64 {
        WARMUP_SECONDS + u64::from(self.runs) * self.seconds
    }

    /// [`Load::run`] with `connections` connections and runs of `seconds`.
    pub(super) fn run_shaped(
        &self,
        name: &str,
        port: u16,
        requests: &[Request],
        connections: u32,
        seconds: u64,
    ) -> Result<Measured> {
        let mut script = String::from("-- generated by cargo xtask bench\nlocal reqs = {}\ninit = function(args)\n");
        for r in requests {
            let _ = writeln!(script, "{}", r.lua());
        }
        script.push_str("end\nlocal i = 0\nrequest = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n");
        script.push_str(&lua_done());
        let path = self.scripts.join(format!("{name}.lua"));
        std::fs::write(&path, script)?;
        let url = format!("http://127.0.0.1:{port}/");
        let runs = self.runs.max(1);
        eprintln!("==> {name}: wrk -t{THREADS} -c{connections}, {WARMUP_SECONDS}s warm-up + {runs} × {seconds}s");
        wrk(url.clone(), &path, THREADS, connections, WARMUP_SECONDS)?;
        let runs: Vec<Measured> = (0..runs)
            .map(|_| wrk(url.clone(), &path, THREADS, connections, seconds))
            .collect::<Result<_>>()?;
        let measured = Measured::median(&runs)?;
        let rates: Vec<String> = measured.runs_rps.iter().map(|r| format!("{r:.0}")).collect();
        eprintln!(
            "    {:.0} req/s (runs: {}), p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms{}",
            measured.rps,
            rates.join(", "),
            measured.p50_ms,
            measured.p99_ms,
            measured.max_ms,
            problems(&measured)
        );
        Ok(measured)
    }

    /// Each wrk thread (one connection) is one user changing their password over and over: from
    /// the demo password to `Rotate-Kx7q-<client>-1`, `-2`, … (all different, so the history rule
    /// of the default configuration never refuses one). A refused change is retried as it was.
    pub(super) fn password_change_script(&self, users: &[Session]) -> Result<PathBuf> {
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
        script.push_str(&lua_done());
        let path = self.scripts.join("password-changes.lua");
        std::fs::write(&path, script)?;
        Ok(path)
    }
}

pub(super) fn change_password_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}{AXWAY_CHANGE_PASSWORD}")
}

/// One wrk run of `script` against `url`; its figures from the script's `BENCH-JSON` line.
pub(super) fn wrk(url: String, script: &Path, threads: u32, connections: u32, seconds: u64) -> Result<Measured> {
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
    measured(&serde_json::from_str(line)?)
}

fn measured(v: &Value) -> Result<Measured> {
    let requests = number(v, "requests")? as u64;
    let seconds = number(v, "duration_us")? / 1e6;
    Ok(Measured {
        requests,
        rps: requests as f64 / seconds.max(1e-9),
        p50_ms: number(v, "p50_us")? / 1e3,
        p99_ms: number(v, "p99_us")? / 1e3,
        p999_ms: number(v, "p999_us")? / 1e3,
        max_ms: number(v, "max_us")? / 1e3,
        errors: number(v, "errors")? as u64,
        non2xx: number(v, "non2xx")? as u64,
        slow: number(v, "slow")? as u64,
        runs_rps: vec![requests as f64 / seconds.max(1e-9)],
    })
}

/// ", 12 non-2xx of 3400, 1 socket error" or "".
pub(super) fn problems(m: &Measured) -> String {
    let mut out = String::new();
    if m.non2xx > 0 {
        let _ = write!(out, "; WARNING {} non-2xx of {}", m.non2xx, m.requests);
    }
    if m.errors > 0 {
        let _ = write!(out, "; WARNING {} socket errors", m.errors);
    }
    out
}

/// Makes sure `wrk` runs; installs Debian's package when it is missing. Returns its version line.
pub(super) fn ensure_wrk() -> Result<String> {
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

/// A logged-in session: the `Cookie` header to send and the XSRF token for unsafe methods.
pub(super) struct Session {
    pub(super) cookie: String,
    pub(super) xsrf: String,
}

/// Logs in [`super::SESSIONS`] users spread over the first `users` generated ones.
pub(super) fn login_spread(port: u16, users: u64) -> Result<Vec<Session>> {
    spread(users).map(|i| login(port, &username(i), PASSWORD)).collect()
}

/// Logs `user` in over plain HTTP (a handful of requests before the load; wrk does the load).
/// Cookies are read by hand: the workspace's ureq has no cookie store, and wrk needs the header
/// text anyway.
pub(super) fn login(port: u16, user: &str, password: &str) -> Result<Session> {
    let reply = ureq::post(&format!("http://127.0.0.1:{port}{LOGIN}"))
        .timeout(Duration::from_secs(30))
        .send_json(json!({ "username": user, "password": password }))
        // ureq 2 answers a 4xx or 5xx as `Err(Status)`: keep it as a reply, to show its body.
        .or_any_status()
        .with_context(|| format!("login of {user}"))?;
    if reply.status() != 200 {
        let status = reply.status();
        bail!(
            "login of {user} answered {status}: {}",
            reply.into_string().unwrap_or_default()
        );
    }
    let cookie = |name: &str| {
        reply
            .all("set-cookie")
            .into_iter()
            .filter_map(|v| v.split(';').next())
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    let session = cookie("sessionid").context("login set no sessionid cookie")?;
    let xsrf = cookie("XSRF-TOKEN").context("login set no XSRF-TOKEN cookie")?;
    Ok(Session {
        cookie: format!("sessionid={session}; XSRF-TOKEN={xsrf}"),
        xsrf,
    })
}

pub(super) fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc_7617s_example() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    fn run(rps: f64, p99_ms: f64, non2xx: u64) -> Measured {
        Measured {
            requests: 100,
            rps,
            p50_ms: 1.0,
            p99_ms,
            p999_ms: 1.5 * p99_ms,
            max_ms: 2.0 * p99_ms,
            errors: 0,
            non2xx,
            slow: non2xx,
            runs_rps: vec![rps],
        }
    }

    #[test]
    fn a_rows_figures_are_its_median_runs_and_its_counts_the_totals() -> Result<()> {
        let m = Measured::median(&[run(900.0, 3.0, 1), run(1_100.0, 1.0, 0), run(1_000.0, 2.0, 2)])?;
        assert_eq!((m.rps, m.p99_ms, m.max_ms), (1_000.0, 2.0, 4.0));
        assert_eq!((m.requests, m.non2xx, m.slow), (300, 3, 3));
        assert_eq!(m.runs_rps, [900.0, 1_100.0, 1_000.0]);
        assert!((m.spread() - 0.2).abs() < 1e-9);
        let one = Measured::median(&[run(500.0, 1.0, 0)])?;
        assert_eq!((one.rps, one.spread()), (500.0, 0.0));
        assert!(Measured::median(&[]).is_err());
        Ok(())
    }

    #[test]
    fn every_script_counts_its_slow_requests() {
        let done = lua_done();
        assert!(done.contains("at_least(latency, summary.requests, 100000)"), "{done}");
        assert!(!done.contains("SLOW_US"));
    }

    #[test]
    fn a_request_becomes_one_lua_statement() {
        let put = Request::new("PUT", "/p/")
            .header("Cookie", "sessionid=s".into())
            .body("{}".into());
        assert_eq!(
            put.lua(),
            "  reqs[#reqs + 1] = wrk.format([==[PUT]==], [==[/p/]==], { [ [==[Cookie]==] ] = [==[sessionid=s]==] }, [==[{}]==])"
        );
        assert!(Request::get("/").lua().ends_with("{  }, nil)"));
    }
}
