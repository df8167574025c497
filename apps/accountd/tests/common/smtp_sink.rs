//! The tests' SMTP server (issue 22): aiosmtpd (`tests/support/smtp_sink.py`) in a child process,
//! writing each message it accepts as JSON (envelope, decoded headers, text and HTML parts) into a
//! temporary directory that the test reads. Shared by the API and browser tests.

use serde_json::Value;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The test's SMTP server: aiosmtpd writing each message it accepts as JSON into a directory.
/// Killed when dropped.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// `None` (the reason printed) when no Python with aiosmtpd is found, except under `CI=true`,
    /// where `cargo xtask ci` installs it (`ACCOUNTD_TEST_PYTHON`) and its absence fails the test.
    pub fn start() -> Option<Self> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let candidates = [
            std::env::var("ACCOUNTD_TEST_PYTHON").ok(),
            Some(root.join("target/test-python-venv/bin/python").display().to_string()),
            Some("python3".to_owned()),
        ];
        let python = candidates.into_iter().flatten().find(|p| {
            std::process::Command::new(p)
                .args(["-c", "import aiosmtpd"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(python) = python else {
            let reason = "no Python with aiosmtpd (run `cargo xtask ci`, or pip install aiosmtpd)";
            assert!(!accountd_storage::testing::in_ci(), "{reason}");
            eprintln!("skipping the SMTP test: {reason}");
            return None;
        };
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().expect("mail directory");
        let child = std::process::Command::new(python)
            .arg(root.join("apps/accountd/tests/support/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starting the SMTP server");
        let sink = Self { child, port, dir };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the SMTP server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sink)
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
            }
        }
        out
    }

    /// Waits (at most 20 s) until at least `n` of the messages received match `wanted`; returns
    /// the matching ones, or `Err` with every message received when they did not come.
    pub async fn wait_for(&self, n: usize, wanted: impl Fn(&Value) -> bool) -> Result<Vec<Value>, String> {
        let started = Instant::now();
        loop {
            let found: Vec<Value> = self.messages().into_iter().filter(|m| wanted(m)).collect();
            if found.len() >= n {
                return Ok(found);
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "{} of {n} mails after 20 s; all mail: {:#?}",
                    found.len(),
                    self.messages()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The token of the first link with `marker` (`#reset=`, `#verify_email=`) in a mail's `text`.
pub fn link_token(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!token.is_empty()).then_some(token)
}
