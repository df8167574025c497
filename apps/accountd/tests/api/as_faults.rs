//! Issue 15, item 4: Application Server faults against a real HTTP stub on the loopback. accountd
//! runs in LOCAL_LOGIN_DEDICATED with the guarded HTTP adapter (`upstream.kind = "http"`); for each
//! fault a profile PUT answers its documented problem (docs/upstream.md), nothing changes locally,
//! and what needs no AS (another user's login, a GET) keeps answering. Latencies are printed; the
//! assertions on them are loose sanity bounds only. The circuit breaker and the in-flight bound are
//! driven through the same stub, the breaker's cool-down by the test's manual clock.

use crate::helpers::*;
use accountd_policy::mode::LoginMode;
use reqwest::StatusCode;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the stub does with the next requests.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `204 No Content`: the AS accepts.
    Accept,
    /// This status, with an APIO-style body.
    Status(u16),
    /// Bytes that are not HTTP.
    Garbage,
    /// `302 Found` to elsewhere (never followed).
    Redirect,
    /// Answers 204 after this long.
    Slow(Duration),
    /// Sends `200` and headers announcing a body, then nothing for this long (a `204` has no body
    /// by definition, so it would be a complete answer).
    HeadersThenHang(Duration),
}

/// A tiny AS on `127.0.0.1:0` whose behaviour the test switches.
struct Stub {
    addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    requests: Arc<AtomicUsize>,
}

impl Stub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Accept));
        let requests = Arc::new(AtomicUsize::new(0));
        {
            let fault = Arc::clone(&fault);
            let requests = Arc::clone(&requests);
            // The thread lives as long as the test binary; each test has its own port.
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let fault = *fault.lock().unwrap();
                    let requests = Arc::clone(&requests);
                    thread::spawn(move || serve(stream, fault, &requests));
                }
            });
        }
        Self { addr, fault, requests }
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, fault: Fault, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mut stream = stream;
    let answer = |status: u16, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let text = match fault {
        Fault::Accept => answer(204, "", ""),
        Fault::Status(status) => answer(
            status,
            "Content-Type: application/json\r\n",
            r#"{"details": "database down"}"#,
        ),
        Fault::Garbage => "\u{1}\u{2}not http at all\r\n\r\n".to_owned(),
        Fault::Redirect => answer(302, "Location: http://127.0.0.1:1/elsewhere\r\n", ""),
        Fault::Slow(wait) => {
            thread::sleep(wait);
            answer(204, "", "")
        }
        Fault::HeadersThenHang(wait) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.flush());
            thread::sleep(wait);
            return;
        }
    };
    let _ = stream.write_all(text.as_bytes()).and_then(|()| stream.flush());
}

const REQUEST_TIMEOUT_MS: u64 = 400;

/// accountd in LOCAL_LOGIN_DEDICATED over the guarded HTTP adapter at `base_url`.
async fn dedicated_over_http(base_url: String, failure_threshold: u32, max_in_flight: u32) -> TestApp {
    dedicated_over_http_with_timeout(base_url, failure_threshold, max_in_flight, REQUEST_TIMEOUT_MS).await
}

async fn dedicated_over_http_with_timeout(
    base_url: String,
    failure_threshold: u32,
    max_in_flight: u32,
    request_timeout_ms: u64,
) -> TestApp {
    spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        configure: Box::new(move |config| {
            config.upstream.kind = accountd::config::UpstreamKind::Http;
            config.upstream.http.base_url = base_url;
            config.upstream.http.connect_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS);
            config.upstream.http.request_timeout = Duration::from_millis(request_timeout_ms);
            config.upstream.breaker.failure_threshold = failure_threshold;
            config.upstream.breaker.cool_down = Duration::from_secs(30);
            config.upstream.max_in_flight = max_in_flight;
            // The outbox worker's realignments after an ambiguous failure (a 500, a timeout) are
            // calls too; they would race with the counts these tests make, so the worker looks
            // once at start and then not for an hour. tests/api/outbox.rs covers it.
            config.outbox.poll_interval_ms = 3_600_000;
        }),
        upstream_from_config: true,
    })
    .await
}

/// Runs a profile PUT of the group admin while, 100 ms into it, another user logs in and the admin
/// GETs their profile; returns the PUT's status and problem type, and prints the three latencies.
async fn put_with_bystanders(app: &TestApp, xsrf: &str, label: &str) -> (StatusCode, String) {
    let put = async {
        let started = Instant::now();
        let response = rename(app, xsrf, "Changed").await;
        let status = response.status();
        let kind = if status.is_success() {
            String::new()
        } else {
            problem(response).await["type"].as_str().unwrap_or("").to_owned()
        };
        (status, kind, started.elapsed())
    };
    let others = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let login = app
            .login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status();
        let login_took = started.elapsed();
        let started = Instant::now();
        let get = app.get_info(&app.client).await.status();
        (login, login_took, get, started.elapsed())
    };
    let ((status, kind, put_took), (login, login_took, get, get_took)) = tokio::join!(put, others);
    println!(
        "AS fault {label}: PUT {} in {} ms; meanwhile another user's login {} in {} ms, a GET {} in {} ms",
        status.as_u16(),
        put_took.as_millis(),
        login.as_u16(),
        login_took.as_millis(),
        get.as_u16(),
        get_took.as_millis()
    );
    assert_eq!(login, StatusCode::OK, "{label}: a local login needs no AS");
    assert_eq!(get, StatusCode::OK, "{label}: a GET needs no AS");
    // Loose: far above a login's or a GET's own time, far below an AS hang.
    for took in [login_took, get_took] {
        assert!(took < Duration::from_secs(3), "{label}: a bystander waited {took:?}");
    }
    (status, kind)
}

#[actix_web::test]
async fn each_application_server_fault_answers_its_problem_and_changes_nothing() {
    let stub = Stub::start();
    // The breaker is off here: every fault must reach the adapter's own mapping.
    let app = dedicated_over_http(stub.base_url(), 0, 16).await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    assert_eq!(rename(&app, &xsrf, "Before").await.status(), StatusCode::OK);
    assert_eq!(stub.requests(), 1, "the accepted change went to the stub");
    let before = stored_first_name(&app).await;
    assert_eq!(before, "Before");

    let hang = Duration::from_secs(4);
    for (label, fault, status, kind) in [
        ("5xx", Fault::Status(500), StatusCode::BAD_GATEWAY, "upstream-failed"),
        ("503", Fault::Status(503), StatusCode::BAD_GATEWAY, "upstream-failed"),
        ("garbage", Fault::Garbage, StatusCode::BAD_GATEWAY, "upstream-failed"),
        ("redirect", Fault::Redirect, StatusCode::BAD_GATEWAY, "upstream-failed"),
        (
            "slow",
            Fault::Slow(hang),
            StatusCode::GATEWAY_TIMEOUT,
            "upstream-timeout",
        ),
        (
            "headers-then-hang",
            Fault::HeadersThenHang(hang),
            StatusCode::GATEWAY_TIMEOUT,
            "upstream-timeout",
        ),
    ] {
        stub.set(fault);
        let sent = stub.requests();
        let (got, got_kind) = put_with_bystanders(&app, &xsrf, label).await;
        assert_eq!(got, status, "{label}");
        assert_eq!(got_kind, format!("urn:accountd:problem:{kind}"), "{label}");
        assert_eq!(stub.requests(), sent + 1, "{label}: sent once, never retried");
        assert_eq!(
            stored_first_name(&app).await,
            before,
            "{label}: nothing changed locally"
        );
    }
}

#[actix_web::test]
async fn a_refused_connection_answers_502_and_changes_nothing() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let app = dedicated_over_http(format!("http://{closed}"), 0, 16).await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let before = stored_first_name(&app).await;
    let (status, kind) = put_with_bystanders(&app, &xsrf, "connection refused").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(kind, "urn:accountd:problem:upstream-failed");
    assert_eq!(stored_first_name(&app).await, before);
}

#[actix_web::test]
async fn the_breaker_opens_fails_fast_with_503_and_half_opens_after_the_cool_down() {
    let stub = Stub::start();
    let app = dedicated_over_http(stub.base_url(), 2, 16).await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let before = stored_first_name(&app).await;
    assert_eq!(readyz(&app).await["upstream"]["breaker"], "closed");
    assert_eq!(metric(&app, "accountd_upstream_breaker_state").await, 0.0);

    stub.set(Fault::Status(500));
    for _ in 0..2 {
        assert_eq!(rename(&app, &xsrf, "X").await.status(), StatusCode::BAD_GATEWAY);
    }
    let sent = stub.requests();
    let started = Instant::now();
    let response = rename(&app, &xsrf, "X").await;
    let took = started.elapsed();
    println!("open breaker: the PUT failed fast in {} ms", took.as_millis());
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(
        problem(response).await["type"],
        "urn:accountd:problem:upstream-unavailable"
    );
    assert_eq!(stub.requests(), sent, "an open breaker sends nothing");
    assert_eq!(readyz(&app).await["upstream"]["breaker"], "open");
    assert_eq!(metric(&app, "accountd_upstream_breaker_state").await, 1.0);
    assert_eq!(metric(&app, "accountd_upstream_fast_failures_total").await, 1.0);
    // Local logins and reads go on.
    app.login_ok(&app.fresh_client(), "foouser").await;
    assert_eq!(stored_first_name(&app).await, before);

    app.clock.advance_seconds(30);
    assert_eq!(readyz(&app).await["upstream"]["breaker"], "half-open");
    assert_eq!(metric(&app, "accountd_upstream_breaker_state").await, 2.0);
    stub.set(Fault::Accept);
    assert_eq!(rename(&app, &xsrf, "After").await.status(), StatusCode::OK);
    assert_eq!(readyz(&app).await["upstream"]["breaker"], "closed");
    assert_eq!(stored_first_name(&app).await, "After");
}

#[actix_web::test]
async fn calls_past_max_in_flight_fail_fast_with_503() {
    let stub = Stub::start();
    // A timeout well above the slow call's time: the first call succeeds.
    let app = dedicated_over_http_with_timeout(stub.base_url(), 0, 1, 5000).await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let other = app.fresh_client();
    let other_xsrf = app.login_ok(&other, "foouser").await;
    stub.set(Fault::Slow(Duration::from_millis(1500)));
    let slow = rename(&app, &xsrf, "Slow");
    let second = async {
        // Once the first call holds the one slot (seen in /metrics, not guessed from timing).
        let mut waited = 0;
        while metric(&app, "accountd_upstream_in_flight").await < 1.0 {
            assert!(waited < 200, "the first call never reached the AS");
            waited += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        let response = app
            .put_info(&other, Some(&other_xsrf), &json!({"first_name": "Second"}))
            .await;
        (response, started.elapsed())
    };
    let (first, (second, took)) = tokio::join!(slow, second);
    println!(
        "max_in_flight 1: the second user's PUT failed fast in {} ms",
        took.as_millis()
    );
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    assert_eq!(metric(&app, "accountd_upstream_max_in_flight").await, 1.0);
    assert_eq!(metric(&app, "accountd_upstream_in_flight").await, 0.0);
}

/// With the breaker open, every change that goes to the AS (password, PIN, delete) fails fast with
/// 503 `upstream-unavailable`, sends nothing and changes nothing locally.
#[actix_web::test]
async fn with_the_breaker_open_password_pin_and_delete_answer_503_and_change_nothing() {
    let stub = Stub::start();
    let app = dedicated_over_http(stub.base_url(), 1, 16).await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    stub.set(Fault::Status(500));
    assert_eq!(rename(&app, &xsrf, "X").await.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(readyz(&app).await["upstream"]["breaker"], "open");
    let sent = stub.requests();
    let path = user_path("Pie", "PieGroup", GROUP_ADMIN);
    let client = app.fresh_client();
    let password = client
        .put(app.url(&path))
        .basic_auth(GROUP_ADMIN, Some(DEMO_PASSWORD))
        .json(&json!({"oldPassword": DEMO_PASSWORD, "newPassword": "Another-Passw0rd!"}))
        .send()
        .await
        .unwrap();
    let pin = client
        .put(app.url(&format!("{path}pincode/")))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .json(&json!({"pinCode": "73915"}))
        .send()
        .await
        .unwrap();
    let delete = client
        .delete(app.url(&path))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    for (what, response) in [("password", password), ("PIN", pin), ("delete", delete)] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert_eq!(
            problem(response).await["type"],
            "urn:accountd:problem:upstream-unavailable",
            "{what}"
        );
    }
    assert_eq!(stub.requests(), sent, "an open breaker sends nothing");
    // Nothing changed: the old password still logs in, the user is there, no PIN was set.
    app.login_ok(&app.fresh_client(), GROUP_ADMIN).await;
    let pin_now = app
        .fresh_client()
        .get(app.url(&format!("{path}pincode/")))
        .basic_auth("admin", Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(pin_now.status(), StatusCode::OK);
    assert_eq!(readyz(&app).await["outbox"]["divergences"], 0);
}

/// In SERVER_LOGIN a login needs the AS: with the breaker open it fails fast (503), while a
/// session opened before keeps reading.
#[actix_web::test]
async fn server_login_with_the_breaker_open_refuses_logins_fast_and_keeps_sessions_reading() {
    let stub = Stub::start();
    let app = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        configure: Box::new({
            let base_url = stub.base_url();
            move |config| {
                config.upstream.kind = accountd::config::UpstreamKind::Http;
                config.upstream.http.base_url = base_url;
                config.upstream.http.request_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS);
                config.upstream.breaker.failure_threshold = 1;
                config.upstream.breaker.cool_down = Duration::from_secs(30);
            }
        }),
        upstream_from_config: true,
    })
    .await;
    app.login_ok(&app.client, GROUP_ADMIN).await;
    stub.set(Fault::Status(500));
    let failed = app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD).await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let sent = stub.requests();
    let started = Instant::now();
    let refused = app.login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD).await;
    println!(
        "SERVER_LOGIN, open breaker: a login failed fast in {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        problem(refused).await["type"],
        "urn:accountd:problem:upstream-unavailable"
    );
    assert_eq!(stub.requests(), sent);
    assert_eq!(app.get_info(&app.client).await.status(), StatusCode::OK);
}
