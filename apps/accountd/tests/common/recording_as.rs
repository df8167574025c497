//! A recording Application Server on `127.0.0.1:0`, for process-level tests: every request is
//! answered `204 No Content` after a fixed delay; each profile `PUT` is recorded on arrival, in
//! arrival order, as (username, body).
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct RecordingAs {
    pub port: u16,
    profiles: Arc<Mutex<Vec<(String, Value)>>>,
}

impl RecordingAs {
    pub fn start(delay: Duration) -> RecordingAs {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let profiles = Arc::new(Mutex::new(Vec::new()));
        let record = profiles.clone();
        // The threads live as long as the test binary; each test has its own port.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = record.clone();
                std::thread::spawn(move || serve(stream, delay, &record));
            }
        });
        RecordingAs { port, profiles }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Profile `PUT`s received so far.
    pub fn profile_puts(&self) -> usize {
        self.profiles.lock().unwrap().len()
    }

    /// The `firstName` the AS received last, for anyone.
    pub fn last_first_name(&self) -> Option<String> {
        self.profiles
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find_map(|(_, body)| first_name(body))
    }

    /// The `firstName` the AS received last for `username`.
    pub fn first_name_of(&self, username: &str) -> Option<String> {
        self.profiles
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|(user, _)| user == username)
            .find_map(|(_, body)| first_name(body))
    }
}

fn first_name(body: &Value) -> Option<String> {
    body["firstName"].as_str().map(str::to_owned)
}

fn serve(mut stream: std::net::TcpStream, delay: Duration, record: &Mutex<Vec<(String, Value)>>) {
    let Ok(clone) = stream.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    // `PUT /users/{username}/profile HTTP/1.1`
    let mut parts = request_line.split_whitespace();
    if let (Some("PUT"), Some(path)) = (parts.next(), parts.next())
        && let Some(user) = path.strip_prefix("/users/").and_then(|p| p.strip_suffix("/profile"))
    {
        let user = percent_decode(user);
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        record.lock().unwrap().push((user, body));
    }
    std::thread::sleep(delay);
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
