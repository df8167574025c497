//! `accountd serve` as a child process (`CARGO_BIN_EXE_accountd`) and the requests the
//! process-level tests make to it. Shared by tests/ops.rs and tests/reliability through
//! `#[path]`, so each test binary compiles what it uses.
#![allow(dead_code)]

use reqwest::header::{COOKIE, HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DEMO_PASSWORD: &str = "Demo-Passw0rd!";

/// Generous bound for a child to start (argon2 for the demo users) or to stop.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// `security.keys` of every process the tests start (32 bytes of 7).
pub const TEST_KEY: &str = "test:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_accountd"));
    // Only what each test sets: no configuration from the environment the tests run in.
    for (name, _) in std::env::vars() {
        if name.starts_with("ACCOUNTD__") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    // The key that seals TOTP secrets: required on PostgreSQL (every instance shares it); on
    // SQLite it would otherwise be generated beside the database.
    command.env("ACCOUNTD__SECURITY__KEYS", TEST_KEY);
    command
}

/// `accountd serve` as a child process, its standard error captured whole.
pub struct Server {
    pub child: Child,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = binary();
        command
            .arg("serve")
            .args(args)
            .env("ACCOUNTD__SERVER__BIND", "127.0.0.1:0")
            .env("ACCOUNTD__SERVER__WORKERS", "2")
            .env("ACCOUNTD__DATABASE__URL", database_url)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start accountd");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready, listening) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .strip_prefix("accountd listening on 127.0.0.1:")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = ready.send(port);
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let port = match listening.recv_timeout(PATIENCE) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("accountd did not start:\n{}", stderr.lock().unwrap());
            }
        };
        let server = Server {
            child,
            port,
            stderr,
            reader: Some(reader),
        };
        server.wait_until_serving();
        server
    }

    /// Until `/healthz` answers 200: the server loop runs (and handles SIGTERM from then on; the
    /// "listening" line comes a moment before).
    pub fn wait_until_serving(&self) {
        use std::io::{Read, Write};
        let started = Instant::now();
        loop {
            let answer = std::net::TcpStream::connect(("127.0.0.1", self.port)).and_then(|mut stream| {
                stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")?;
                let mut text = String::new();
                stream.read_to_string(&mut text)?;
                Ok(text)
            });
            if answer.is_ok_and(|text| text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200")) {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "accountd does not answer /healthz");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to end (within [`PATIENCE`]) and returns its status and whole log.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < PATIENCE, "accountd did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.stderr.lock().unwrap().clone();
        (status, log)
    }

    /// Stops the server with SIGTERM; it must exit 0. Returns its whole log.
    pub fn stop(self) -> String {
        self.sigterm();
        let (status, log) = self.wait();
        assert!(status.success(), "accountd exited with {status}:\n{log}");
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("accountd.db").display())
}

/// A client that keeps no cookies (each test passes them explicitly, as two browsers would) and
/// no idle connections (so a stopping server has none to close).
pub fn client() -> Client {
    Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

pub fn cookie(response: &Response, name: &str) -> Option<String> {
    response
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A logged-in browser: its session id and XSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub xsrf: String,
}

impl Session {
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("sessionid={}; XSRF-TOKEN={}", self.id, self.xsrf)).unwrap(),
        );
        headers.insert("x-xsrf-token", HeaderValue::from_str(&self.xsrf).unwrap());
        headers
    }
}

pub async fn login(client: &Client, server: &Server, username: &str, password: &str) -> Response {
    client
        .post(server.url("/api/v1/login/"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

pub async fn session(client: &Client, server: &Server, username: &str, password: &str) -> Session {
    let response = login(client, server, username, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login of {username}");
    Session {
        id: cookie(&response, "sessionid").unwrap(),
        xsrf: cookie(&response, "XSRF-TOKEN").unwrap(),
    }
}

/// Seed 000's own-profile resource.
pub const USER_LOGIN_INFO: &str = "/api/v1/session/user_login_info/";

/// A session for `username` on the server at `base_url`, or `None` when the login is refused or
/// the server does not answer (a server being killed, a database being down).
pub async fn try_session(client: &Client, base_url: &str, username: &str, password: &str) -> Option<Session> {
    let response = client
        .post(format!("{base_url}/api/v1/login/"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .ok()?;
    (response.status() == StatusCode::OK).then(|| Session {
        id: cookie(&response, "sessionid").unwrap(),
        xsrf: cookie(&response, "XSRF-TOKEN").unwrap(),
    })
}

/// `GET user_login_info` as `session`: the status and the body (`null` when it is not JSON).
pub async fn login_info(client: &Client, base_url: &str, session: &Session) -> (StatusCode, Value) {
    let response = client
        .get(format!("{base_url}{USER_LOGIN_INFO}"))
        .headers(session.headers())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The first name `GET user_login_info` shows `session` (`None` when the answer has none).
pub async fn stored_first_name(client: &Client, base_url: &str, session: &Session) -> (StatusCode, Option<String>) {
    let (status, body) = login_info(client, base_url, session).await;
    (status, body["profile"]["first_name"].as_str().map(str::to_owned))
}
