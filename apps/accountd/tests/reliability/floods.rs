//! Item 4, floods and slow clients, on SQLite with the demo users: thousands of idle connections,
//! slowloris headers (a first request's and, on a kept-alive connection, a second one's) and slow
//! bodies, each while ordinary clients log in and read their profile. What is checked: the ordinary
//! clients are all served (their latencies reported), the server cuts every attacker at its
//! configured limit (`server.client_request_timeout_ms`, `http.body_timeout_ms`; when is
//! reported), and its memory stays bounded (RSS and open descriptors from /proc before, during
//! and after).
//!
//! The limits are set short here so the suite stays short; docs/operations.md gives the defaults.
//! Latencies and times are reported, not asserted: only loose sanity bounds are (a cut long after
//! its limit, an RSS more than double plus 200 MB).

use crate::report::{Scale, report};
use crate::server::*;
use reqwest::{Client, StatusCode};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The header deadline the server gets (`server.client_request_timeout_ms`).
const HEAD_TIMEOUT: Duration = Duration::from_millis(3000);
/// The body deadline (`http.body_timeout_ms`).
const BODY_TIMEOUT: Duration = Duration::from_millis(3000);
/// How late after its limit a cut may come before the test calls it not cut: a sanity bound on a
/// shared machine, not a latency figure.
const SLACK: Duration = Duration::from_secs(5);
/// How early a cut may come: actix reads its clock from a cache it refreshes every 500 ms, so its
/// deadlines fall up to that much before the configured time.
const COARSE_CLOCK: Duration = Duration::from_millis(600);
/// A slow client's pace: one byte this often.
const TRICKLE: Duration = Duration::from_millis(300);

fn start_on(database_url: &str) -> Server {
    let head = HEAD_TIMEOUT.as_millis().to_string();
    let body = BODY_TIMEOUT.as_millis().to_string();
    Server::start(
        database_url,
        &["--demo"],
        &[
            ("ACCOUNTD__SERVER__CLIENT_REQUEST_TIMEOUT_MS", head.as_str()),
            ("ACCOUNTD__HTTP__BODY_TIMEOUT_MS", body.as_str()),
            // A pause between two requests longer than the whole scenario: a kept-alive
            // connection's slowloris is cut by something else, or not at all.
            ("ACCOUNTD__SERVER__KEEP_ALIVE_MS", "60000"),
        ],
    )
}

/// The server's resident memory, in KiB.
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The server's open file descriptors (its sockets among them).
fn open_fds(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
        .unwrap()
        .count()
}

/// What the ordinary clients got.
#[derive(Debug, Default)]
struct Served {
    latencies_ms: Vec<f64>,
    failures: Vec<String>,
}

impl Served {
    fn merge(&mut self, other: Served) {
        self.latencies_ms.extend(other.latencies_ms);
        self.failures.extend(other.failures);
    }

    /// p50 and max, in ms.
    fn figures(&mut self) -> (f64, f64) {
        self.latencies_ms.sort_by(f64::total_cmp);
        let p50 = self
            .latencies_ms
            .get(self.latencies_ms.len() / 2)
            .copied()
            .unwrap_or(0.0);
        let max = self.latencies_ms.last().copied().unwrap_or(0.0);
        (p50, max)
    }

    fn assert_served(&self, what: &str) {
        assert!(
            self.failures.is_empty(),
            "{what}: ordinary clients refused: {:?}",
            self.failures
        );
        assert!(
            self.latencies_ms.len() >= 4,
            "{what}: the ordinary clients made {} requests",
            self.latencies_ms.len()
        );
    }
}

/// One ordinary client for `duration`: a login with the demo password, then three reads of the
/// profile with its session, over again; each on a new connection (the client pools none), so
/// each also has to be accepted past the flood.
async fn ordinary(url: String, duration: Duration) -> Served {
    let c: Client = client();
    let mut served = Served::default();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        let response = c
            .post(format!("{url}/api/v1/login/"))
            .json(&json!({"username": "foouser", "password": DEMO_PASSWORD}))
            .send()
            .await;
        served.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let response = match response {
            Ok(r) if r.status() == StatusCode::OK => r,
            Ok(r) => {
                served.failures.push(format!("login: {}", r.status()));
                continue;
            }
            Err(e) => {
                served.failures.push(format!("login: {e}"));
                continue;
            }
        };
        let session = Session {
            id: cookie(&response, "sessionid").unwrap(),
            xsrf: cookie(&response, "XSRF-TOKEN").unwrap(),
        };
        for _ in 0..3 {
            let t = Instant::now();
            let response = c
                .get(format!("{url}{USER_LOGIN_INFO}"))
                .headers(session.headers())
                .send()
                .await;
            served.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            match response {
                Ok(r) if r.status() == StatusCode::OK => {}
                Ok(r) => served.failures.push(format!("user_login_info: {}", r.status())),
                Err(e) => served.failures.push(format!("user_login_info: {e}")),
            }
        }
    }
    served
}

/// `clients` ordinary clients for `duration`, together.
async fn ordinary_load(url: &str, clients: usize, duration: Duration) -> Served {
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(ordinary(url.to_owned(), duration)))
        .collect();
    let mut served = Served::default();
    for task in tasks {
        served.merge(task.await.unwrap());
    }
    served
}

/// How the server ended one attacking connection.
#[derive(Debug, Clone)]
struct Cut {
    /// When the server closed the connection, from its start (or, for a kept-alive one, from its
    /// first answer).
    after: Duration,
    /// When its answer came, if one did (before the close: the close waits up to
    /// `server.client_disconnect_timeout_ms` for the client's).
    answered: Option<Duration>,
    /// The status line the server sent before closing, if any (`HTTP/1.1 408 Request Timeout`).
    answer: Option<String>,
    /// The answer's `Content-Type`, if any.
    content_type: Option<String>,
}

/// What a connection has said and whether it is closed; reads without blocking.
#[derive(Debug, Default)]
struct Heard {
    bytes: Vec<u8>,
    closed: bool,
    first_byte: Option<Duration>,
}

fn listen_to(stream: &mut TcpStream, heard: &mut Heard) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                heard.closed = true;
                return;
            }
            Ok(n) => heard.bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => {
                heard.closed = true;
                return;
            }
        }
    }
}

fn cut_of(after: Duration, heard: &Heard) -> Cut {
    let text = String::from_utf8_lossy(&heard.bytes);
    let answer = text
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .map(str::to_owned);
    let content_type = text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-type:")
            .map(|v| v.trim().to_owned())
    });
    Cut {
        after,
        answered: heard.first_byte,
        answer,
        content_type,
    }
}

/// Watches `streams` (non-blocking), each started at its `Instant`, until every one is closed by
/// the server or `give_up` has passed since the first start; every `TRICKLE`, writes the next byte
/// of `drip(i)` to each still open (nothing when `drip` gives none). Returns each stream's cut, or
/// `None` for one still open at the end.
fn watch(
    mut streams: Vec<(TcpStream, Instant)>,
    give_up: Duration,
    drip: impl Fn(usize, usize) -> Option<u8>,
) -> Vec<Option<Cut>> {
    let first = streams.iter().map(|(_, t)| *t).min().unwrap_or_else(Instant::now);
    let mut heard: Vec<Heard> = streams.iter().map(|_| Heard::default()).collect();
    let mut cuts: Vec<Option<Cut>> = vec![None; streams.len()];
    let mut round = 0;
    let mut next_drip = Instant::now();
    while first.elapsed() < give_up && cuts.iter().any(Option::is_none) {
        let dripping = Instant::now() >= next_drip;
        for (i, (stream, started)) in streams.iter_mut().enumerate() {
            if cuts[i].is_some() {
                continue;
            }
            listen_to(stream, &mut heard[i]);
            if heard[i].first_byte.is_none() && !heard[i].bytes.is_empty() {
                heard[i].first_byte = Some(started.elapsed());
            }
            if !heard[i].closed
                && dripping
                && let Some(byte) = drip(i, round)
            {
                // A write into a connection the server reset is its close too.
                if stream.write_all(&[byte]).is_err() {
                    heard[i].closed = true;
                }
            }
            if heard[i].closed {
                cuts[i] = Some(cut_of(started.elapsed(), &heard[i]));
            }
        }
        if dripping {
            round += 1;
            next_drip += TRICKLE;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cuts
}

/// When the answers came (ms): first and last.
fn answer_figures(cuts: &[Option<Cut>]) -> (u128, u128) {
    let times: Vec<u128> = cuts
        .iter()
        .flatten()
        .filter_map(|c| c.answered)
        .map(|t| t.as_millis())
        .collect();
    (
        times.iter().copied().min().unwrap_or(0),
        times.iter().copied().max().unwrap_or(0),
    )
}

/// Figures of the cuts: how many, how many with the 408, first and last close (ms).
fn cut_figures(cuts: &[Option<Cut>]) -> (usize, usize, u128, u128) {
    let done: Vec<&Cut> = cuts.iter().flatten().collect();
    let with_408 = done
        .iter()
        .filter(|c| c.answer.as_deref().is_some_and(|a| a.contains(" 408 ")))
        .count();
    let first = done.iter().map(|c| c.after.as_millis()).min().unwrap_or(0);
    let last = done.iter().map(|c| c.after.as_millis()).max().unwrap_or(0);
    (done.len(), with_408, first, last)
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// (a) `n` idle connections, held open while ordinary clients are served; the server must close
/// them at its header deadline.
async fn idle_flood(server: &Server, scale: Scale) {
    let n = scale.pick(2_000, 10_000);
    let clients = scale.pick(4, 8);
    let url = server.url("");
    let rss_before = rss_kib(server);
    let fds_before = open_fds(server);
    let opened = Instant::now();
    let streams: Vec<(TcpStream, Instant)> = (0..n).map(|_| (connect(server), Instant::now())).collect();
    let connect_ms = opened.elapsed().as_millis();
    // The connections alone, accepted, before the ordinary clients' hashing adds its own.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = rss_kib(server);
    // Served while every idle connection is open: well within the header deadline.
    let load = tokio::spawn({
        let url = url.clone();
        async move { ordinary_load(&url, clients, HEAD_TIMEOUT / 2).await }
    });
    tokio::time::sleep(HEAD_TIMEOUT / 4).await;
    // With the ordinary clients too (their logins' argon2 memory).
    let rss_during = rss_kib(server);
    let fds_during = open_fds(server);
    let mut served = load.await.unwrap();
    // Then the server's header deadline closes them.
    for (stream, _) in &streams {
        stream.set_nonblocking(true).unwrap();
    }
    let cuts = tokio::task::spawn_blocking(move || watch(streams, HEAD_TIMEOUT + SLACK, |_, _| None))
        .await
        .unwrap();
    let (closed, with_408, first_ms, last_ms) = cut_figures(&cuts);
    // The sockets are the server's to release: wait (boundedly) for them to go.
    let settled = Instant::now();
    while open_fds(server) > fds_before + 50 && settled.elapsed() < SLACK {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_after = rss_kib(server);
    let fds_after = open_fds(server);
    let (p50, max) = served.figures();
    report(json!({
        "scenario": "floods and slow clients",
        "backend": "SQLite",
        "fault": format!("{n} idle TCP connections (connected in {connect_ms} ms, nothing sent) while {clients} clients logged in and read their profile for {} ms", (HEAD_TIMEOUT / 2).as_millis()),
        "answered": format!("{} ordinary requests, all 200 (p50 {p50:.0} ms, max {max:.0} ms); the server closed {closed} of {n} idle connections {first_ms}–{last_ms} ms after they opened ({with_408} with a 408), header deadline {} ms", served.latencies_ms.len(), HEAD_TIMEOUT.as_millis()),
        "lost": 0,
        "idle_connections": n,
        "ordinary_requests": served.latencies_ms.len(),
        "ordinary_p50_ms": p50.round(),
        "ordinary_max_ms": max.round(),
        "idle_closed_first_ms": first_ms,
        "idle_closed_last_ms": last_ms,
        "rss_kib": {"before": rss_before, "idle_connections_only": rss_idle, "during": rss_during, "after": rss_after},
        "open_fds": {"before": fds_before, "during": fds_during, "after": fds_after},
    }));
    served.assert_served("idle flood");
    assert!(
        fds_during >= fds_before + n * 9 / 10,
        "the idle connections were accepted by the server ({fds_before} → {fds_during} descriptors)"
    );
    assert_eq!(
        closed, n,
        "every idle connection closed within {SLACK:?} of the header deadline"
    );
    assert!(
        first_ms >= (HEAD_TIMEOUT - COARSE_CLOCK).as_millis(),
        "not closed before the deadline"
    );
    assert!(
        fds_after <= fds_before + 50,
        "the sockets were released ({fds_before} → {fds_after})"
    );
    assert_bounded(rss_before, rss_idle.max(rss_during), "idle flood");
}

fn assert_bounded(before_kib: u64, during_kib: u64, what: &str) {
    assert!(
        during_kib < 2 * before_kib + 200 * 1024,
        "{what}: RSS {before_kib} KiB before, {during_kib} KiB during"
    );
}

/// (b) slowloris: connections sending a request's headers a byte per `TRICKLE`, cut at the
/// header deadline, while ordinary clients are served. Then the same on connections that first
/// made one whole request (kept alive): actix's head timer covers only a connection's first
/// request, and these ran for ever until accountd's own (src/transport.rs) cut them too.
async fn slowloris(server: &Server, scale: Scale) {
    let n = scale.pick(50, 500);
    let clients = scale.pick(4, 8);
    let url = server.url("");
    const HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: accountd\r\nX-Slow: ";
    let rss_before = rss_kib(server);
    let streams: Vec<(TcpStream, Instant)> = (0..n)
        .map(|_| {
            let s = connect(server);
            s.set_nonblocking(true).unwrap();
            (s, Instant::now())
        })
        .collect();
    // Never a whole header section: the header line goes on for ever.
    let drip = |_: usize, round: usize| Some(HEAD.get(round).copied().unwrap_or(b'a'));
    let watcher = tokio::task::spawn_blocking(move || watch(streams, HEAD_TIMEOUT + SLACK, drip));
    let load = tokio::spawn({
        let url = url.clone();
        async move { ordinary_load(&url, clients, HEAD_TIMEOUT).await }
    });
    tokio::time::sleep(HEAD_TIMEOUT / 2).await;
    let rss_during = rss_kib(server);
    let fds_during = open_fds(server);
    let mut served = load.await.unwrap();
    let cuts = watcher.await.unwrap();
    let (cut, with_408, first_ms, last_ms) = cut_figures(&cuts);
    let (p50, max) = served.figures();

    // The kept-alive variant: one whole request answered, then the next one's headers trickled.
    let kept = scale.pick(5, 20);
    let streams: Vec<(TcpStream, Instant)> = (0..kept)
        .map(|_| {
            let mut s = connect(server);
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: accountd\r\n\r\n").unwrap();
            let mut answer = [0u8; 1024];
            let read = s.read(&mut answer).unwrap();
            assert!(
                answer[..read].starts_with(b"HTTP/1.1 200"),
                "the first request is served"
            );
            s.set_nonblocking(true).unwrap();
            (s, Instant::now())
        })
        .collect();
    let give_up = HEAD_TIMEOUT + SLACK;
    let kept_cuts = tokio::task::spawn_blocking(move || watch(streams, give_up, drip))
        .await
        .unwrap();
    let (kept_cut, kept_408, kept_first_ms, kept_last_ms) = cut_figures(&kept_cuts);
    let rss_after = rss_kib(server);

    report(json!({
        "scenario": "floods and slow clients",
        "backend": "SQLite",
        "fault": format!("slowloris: {n} connections sending a request's headers one byte every {} ms, never ending them, while {clients} clients logged in and read their profile", TRICKLE.as_millis()),
        "answered": format!("{} ordinary requests, all 200 (p50 {p50:.0} ms, max {max:.0} ms); {cut} of {n} slowloris connections cut {first_ms}–{last_ms} ms after they opened ({with_408} with a 408), header deadline {} ms", served.latencies_ms.len(), HEAD_TIMEOUT.as_millis()),
        "lost": 0,
        "slow_connections": n,
        "ordinary_requests": served.latencies_ms.len(),
        "ordinary_p50_ms": p50.round(),
        "ordinary_max_ms": max.round(),
        "cut_first_ms": first_ms,
        "cut_last_ms": last_ms,
        "rss_kib": {"before": rss_before, "during": rss_during, "after": rss_after},
        "open_fds_during": fds_during,
    }));
    report(json!({
        "scenario": "floods and slow clients",
        "backend": "SQLite",
        "fault": format!("slowloris after a first request: {kept} kept-alive connections, each served one whole request, then sending the next one's headers one byte every {} ms", TRICKLE.as_millis()),
        "answered": format!("{kept_cut} of {kept} cut {kept_first_ms}–{kept_last_ms} ms after their first answer ({kept_408} with a 408), header deadline {} ms", HEAD_TIMEOUT.as_millis()),
        "lost": 0,
        "kept_alive_connections": kept,
        "cut": kept_cut,
        "cut_first_ms": kept_first_ms,
        "cut_last_ms": kept_last_ms,
    }));
    served.assert_served("slowloris");
    assert_eq!(
        cut, n,
        "every slowloris connection cut within {SLACK:?} of the header deadline"
    );
    assert!(
        first_ms >= (HEAD_TIMEOUT - COARSE_CLOCK).as_millis(),
        "not cut before the deadline"
    );
    assert_eq!(
        kept_cut, kept,
        "every kept-alive slowloris cut within {SLACK:?} of the header deadline"
    );
    assert!(
        kept_first_ms >= (HEAD_TIMEOUT - COARSE_CLOCK).as_millis(),
        "a kept-alive slowloris not cut before the deadline"
    );
    assert_bounded(rss_before, rss_during, "slowloris");
}

/// (c) slow bodies: POST logins and PUT profiles whose headers arrive whole, declaring a
/// Content-Length, and whose body then trickles a byte per `TRICKLE`: answered 408 problem+json
/// at the body deadline, while ordinary clients are served.
async fn slow_bodies(server: &Server, scale: Scale) {
    let n = scale.pick(20, 200);
    let clients = scale.pick(4, 8);
    let url = server.url("");
    let c = client();
    let session = session(&c, server, "foouser", DEMO_PASSWORD).await;
    let body = br#"{"username": "foouser", "password": "Demo-Passw0rd!", "padding": "......................"}"#;
    let rss_before = rss_kib(server);
    let streams: Vec<(TcpStream, Instant)> = (0..n)
        .map(|i| {
            let mut s = connect(server);
            let head = if i % 2 == 0 {
                format!(
                    "POST /api/v1/login/ HTTP/1.1\r\nHost: accountd\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
            } else {
                format!(
                    "PUT /api/v1/session/user_login_info/ HTTP/1.1\r\nHost: accountd\r\nContent-Type: application/json\r\nCookie: sessionid={}; XSRF-TOKEN={}\r\nX-XSRF-TOKEN: {}\r\nContent-Length: {}\r\n\r\n",
                    session.id,
                    session.xsrf,
                    session.xsrf,
                    body.len()
                )
            };
            s.write_all(head.as_bytes()).unwrap();
            s.set_nonblocking(true).unwrap();
            (s, Instant::now())
        })
        .collect();
    // One byte per round: the body is nowhere near whole at the deadline.
    let drip = move |_: usize, round: usize| body.get(round).copied();
    let watcher = tokio::task::spawn_blocking(move || watch(streams, BODY_TIMEOUT + SLACK, drip));
    let load = tokio::spawn({
        let url = url.clone();
        async move { ordinary_load(&url, clients, BODY_TIMEOUT).await }
    });
    tokio::time::sleep(BODY_TIMEOUT / 2).await;
    let rss_during = rss_kib(server);
    let fds_during = open_fds(server);
    let mut served = load.await.unwrap();
    let cuts = watcher.await.unwrap();
    let (cut, with_408, closed_first_ms, closed_last_ms) = cut_figures(&cuts);
    let (first_ms, last_ms) = answer_figures(&cuts);
    let problems = cuts
        .iter()
        .flatten()
        .filter(|c| c.content_type.as_deref() == Some("application/problem+json"))
        .count();
    let rss_after = rss_kib(server);
    let (p50, max) = served.figures();
    report(json!({
        "scenario": "floods and slow clients",
        "backend": "SQLite",
        "fault": format!("slow bodies: {n} requests (POST /api/v1/login/ and PUT /api/v1/session/user_login_info/) with whole headers and a {}-byte Content-Length, the body sent one byte every {} ms, while {clients} clients logged in and read their profile", body.len(), TRICKLE.as_millis()),
        "answered": format!("{} ordinary requests, all 200 (p50 {p50:.0} ms, max {max:.0} ms); {with_408} of {n} slow bodies answered 408 ({problems} as problem+json) {first_ms}–{last_ms} ms after their headers, body deadline {} ms; {cut} closed by the server {closed_first_ms}–{closed_last_ms} ms after their headers", served.latencies_ms.len(), BODY_TIMEOUT.as_millis()),
        "lost": 0,
        "slow_bodies": n,
        "ordinary_requests": served.latencies_ms.len(),
        "ordinary_p50_ms": p50.round(),
        "ordinary_max_ms": max.round(),
        "answered_first_ms": first_ms,
        "answered_last_ms": last_ms,
        "closed_first_ms": closed_first_ms,
        "closed_last_ms": closed_last_ms,
        "rss_kib": {"before": rss_before, "during": rss_during, "after": rss_after},
        "open_fds_during": fds_during,
    }));
    served.assert_served("slow bodies");
    assert_eq!(
        cut, n,
        "every slow body's connection closed within {SLACK:?} of the deadline"
    );
    assert_eq!(with_408, n, "every slow body answered 408: {cuts:?}");
    assert_eq!(problems, n, "every 408 a problem+json: {cuts:?}");
    assert!(
        first_ms >= (BODY_TIMEOUT - COARSE_CLOCK).as_millis(),
        "not answered before the deadline"
    );
    assert_bounded(rss_before, rss_during, "slow bodies");
}

#[tokio::test]
async fn floods_and_slow_clients_leave_others_served_on_sqlite() {
    let scale = Scale::get();
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(&sqlite_url(dir.path()));
    // One login first: the hashing memory is in the RSS the floods are compared with.
    session(&client(), &server, "foouser", DEMO_PASSWORD).await;
    idle_flood(&server, scale).await;
    slowloris(&server, scale).await;
    slow_bodies(&server, scale).await;
    server.stop();
}
