//! `HttpUpstream` against a real HTTP server on the loopback: the request each operation sends
//! (method, percent-encoded path, JSON body, headers), the mapping of every answer to the port's
//! result, timeouts, refused connections, retries, and that no secret reaches an error.
//!
//! The server is a tiny blocking one written here on `std::net`: it records every request it reads
//! and answers what the test's handler says, so the tests see exactly what went over the wire.

// Helpers outside `#[test]` functions panic on purpose too: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd_domain::ids::{DepartmentName, GroupId, TenantId, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{ApplicationServer, UpstreamError};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::testing::{TestUser, member};
use accountd_domain::text::{EmailAddress, Name, Text, TimeZoneName};
use accountd_domain::user::{DepartmentKey, ProfileChange, User};
use accountd_upstream::{HttpUpstream, HttpUpstreamConfig};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const PASSWORD: &str = "S3cret-Pa55word!";
const PIN: &str = "739182";
const TOKEN: &str = "tok_9f8e7d6c5b4a";
const USERNAME: &str = "PieGroupAdmin1@sip.netaxis.be";
const ENCODED_USERNAME: &str = "PieGroupAdmin1%40sip.netaxis.be";

// ---------------------------------------------------------------------------------------------
// The test server
// ---------------------------------------------------------------------------------------------

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// The request target as sent: path and query, still percent-encoded.
    target: String,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What the server does with a request.
enum Reply {
    /// Answer this status and body (JSON when it is not empty).
    Answer(u16, String),
    /// Wait, then answer.
    After(Duration, u16, String),
    /// Answer, and keep the connection open for the client's next request.
    KeepOpen(u16, String),
    /// Close the connection without answering.
    Hangup,
    /// Send the status line and headers (announcing a body), then nothing more for this long.
    HeadersThenHang(u16, Duration),
    /// Send these bytes, which are not HTTP, and close.
    Raw(&'static [u8]),
}

fn answer(status: u16, body: Value) -> Reply {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    Reply::Answer(status, text)
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

struct TestServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// Serves on `127.0.0.1:0` until dropped.
    fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve(listener, Arc::new(handler))
    }

    fn serve(listener: TcpListener, handler: Arc<Handler>) -> Self {
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let received = Arc::clone(&received);
                    let handler = Arc::clone(&handler);
                    thread::spawn(move || serve_connection(stream, &received, &*handler));
                }
            });
        }
        Self { addr, received, stop }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The one request received (panics unless there was exactly one).
    fn only(&self) -> Received {
        let all = self.received();
        assert_eq!(all.len(), 1, "expected one request, got {all:#?}");
        all.into_iter().next().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads a request, records it and answers it; closes the connection unless the reply says to
/// keep it open, in which case the next request on it is served the same way.
fn serve_connection(stream: TcpStream, received: &Mutex<Vec<Received>>, handler: &Handler) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        received.lock().unwrap().push(request.clone());
        let (status, body, keep_open) = match handler(&request) {
            Reply::Answer(status, body) => (status, body, false),
            Reply::After(wait, status, body) => {
                thread::sleep(wait);
                (status, body, false)
            }
            Reply::KeepOpen(status, body) => (status, body, true),
            Reply::Hangup => return,
            Reply::HeadersThenHang(status, wait) => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
                    reason(status)
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.flush());
                thread::sleep(wait);
                return;
            }
            Reply::Raw(bytes) => {
                let _ = stream.write_all(bytes).and_then(|()| stream.flush());
                return;
            }
        };
        let content_type = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/json\r\n"
        };
        let connection = if keep_open { "keep-alive" } else { "close" };
        let head = format!(
            "HTTP/1.1 {status} {}\r\n{content_type}Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
            reason(status),
            body.len()
        );
        let sent = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .and_then(|()| stream.flush());
        if sent.is_err() || !keep_open {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        target,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn config(base_url: &str) -> HttpUpstreamConfig {
    let mut config = HttpUpstreamConfig::new(base_url);
    config.connect_timeout = Duration::from_millis(500);
    config.request_timeout = Duration::from_millis(500);
    config.api_token = Some(TOKEN.to_owned());
    config
}

fn client(server: &TestServer) -> HttpUpstream {
    HttpUpstream::new(config(&server.base_url())).unwrap()
}

fn user(username: &str) -> User {
    TestUser::new(
        7,
        Role::GroupAdmin {
            member: member("Pie", "PieGroup", "PieGroupAdmin1"),
        },
    )
    .username(username)
    .named("John", "Doe")
    .build()
}

fn password() -> Password {
    Password::new(PASSWORD).unwrap()
}

fn pin() -> PinCode {
    PinCode::parse(PIN).unwrap()
}

fn username() -> Username {
    Username::parse(USERNAME).unwrap()
}

/// Every operation of the port, each run once against `up`, named for failure messages.
fn every_operation(up: &HttpUpstream) -> Vec<(&'static str, Result<(), UpstreamError>)> {
    let u = user(USERNAME);
    vec![
        ("authenticate", up.authenticate(&u.username, &password())),
        ("update_profile", up.update_profile(&u, &name_change())),
        ("set_password", up.set_password(&u, &password())),
        ("set_pin", up.set_pin(&u, Some(&pin()), &PinSettings::default())),
        ("delete_user", up.delete_user(&u, true)),
        ("password_rules", up.password_rules(UserLevel::EndUser).map(|_| ())),
        ("pin_rules", up.pin_rules(UserLevel::EndUser).map(|_| ())),
    ]
}

fn name_change() -> ProfileChange {
    ProfileChange {
        first_name: Some(Name::parse_for("firstName", "Test First Name").unwrap()),
        ..ProfileChange::default()
    }
}

/// Asserts that no secret shows in the error's `Display` nor `Debug`.
fn assert_no_secret(error: &UpstreamError) {
    for printed in [error.to_string(), format!("{error:?}")] {
        for secret in [PASSWORD, PIN, TOKEN] {
            assert!(!printed.contains(secret), "{secret} leaked into {printed}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request shapes
// ---------------------------------------------------------------------------------------------

#[test]
fn authenticate_posts_the_credentials_with_the_bearer_token() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    assert_eq!(client(&server).authenticate(&username(), &password()), Ok(()));
    let r = server.only();
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/auth"));
    assert_eq!(r.json(), json!({"username": USERNAME, "password": PASSWORD}));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
}

#[test]
fn no_token_no_authorization_header() {
    let server = TestServer::start(|_| answer(200, json!({})));
    let mut config = config(&server.base_url());
    config.api_token = None;
    let up = HttpUpstream::new(config).unwrap();
    assert_eq!(up.authenticate(&username(), &password()), Ok(()));
    assert_eq!(server.only().header("authorization"), None);
}

#[test]
fn update_profile_puts_the_set_fields_with_seed_names() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    let change = ProfileChange {
        first_name: Some(Name::parse_for("firstName", "First Test PUT").unwrap()),
        last_name: Some(Name::parse_for("lastName", "Last Test PUT").unwrap()),
        cli_first_name: Some(Text::parse_for("cliFirstName", "CLID First").unwrap()),
        department: Some(Some(DepartmentKey {
            tenant: TenantId::parse("ApioSpTest").unwrap(),
            group: Some(GroupId::parse("ApioGrpTest").unwrap()),
            name: DepartmentName::parse("test_department_initial").unwrap(),
        })),
        email: Some(Some(
            EmailAddress::parse_for("emailAddress", "modified.test_mail@test.netaxis.be").unwrap(),
        )),
        time_zone: Some(Some(TimeZoneName::parse_for("timeZone", "Europe/Luxembourg").unwrap())),
        language: Some(None),
        network_class_of_service: Some(Text::parse_for("networkClassOfService", "9").unwrap()),
        ..ProfileChange::default()
    };
    assert_eq!(client(&server).update_profile(&user(USERNAME), &change), Ok(()));
    let r = server.only();
    assert_eq!(r.method, "PUT");
    assert_eq!(r.target, format!("/users/{ENCODED_USERNAME}/profile"));
    assert_eq!(
        r.json(),
        json!({
            "firstName": "First Test PUT",
            "lastName": "Last Test PUT",
            "cliFirstName": "CLID First",
            "department": {
                "tenantId": "ApioSpTest",
                "groupId": "ApioGrpTest",
                "departmentName": "test_department_initial"
            },
            "emailAddress": "modified.test_mail@test.netaxis.be",
            "timeZone": "Europe/Luxembourg",
            "language": null,
            "networkClassOfService": "9"
        })
    );
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
}

#[test]
fn set_password_puts_the_password() {
    let server = TestServer::start(|_| answer(200, json!({})));
    assert_eq!(client(&server).set_password(&user(USERNAME), &password()), Ok(()));
    let r = server.only();
    assert_eq!(r.method, "PUT");
    assert_eq!(r.target, format!("/users/{ENCODED_USERNAME}/password"));
    assert_eq!(r.json(), json!({"password": PASSWORD}));
}

#[test]
fn set_pin_puts_the_pin_and_its_settings() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    let up = client(&server);
    let settings = PinSettings::new(true, 3600, false).unwrap();
    assert_eq!(up.set_pin(&user(USERNAME), Some(&pin()), &settings), Ok(()));
    assert_eq!(up.set_pin(&user(USERNAME), None, &PinSettings::default()), Ok(()));
    let all = server.received();
    assert_eq!(all.len(), 2);
    for r in &all {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.target, format!("/users/{ENCODED_USERNAME}/pincode"));
    }
    assert_eq!(
        all[0].json(),
        json!({"pinCode": PIN, "loginDisabled": true, "expirationDays": 3600, "doesNotExpire": false})
    );
    assert_eq!(
        all[1].json(),
        json!({"loginDisabled": false, "expirationDays": 180, "doesNotExpire": false}),
        "no pinCode when only the settings change"
    );
}

#[test]
fn delete_user_sends_delete_devices_in_the_query() {
    let server = TestServer::start(|_| answer(200, json!({})));
    let up = client(&server);
    assert_eq!(up.delete_user(&user(USERNAME), true), Ok(()));
    assert_eq!(up.delete_user(&user(USERNAME), false), Ok(()));
    let all = server.received();
    assert_eq!(all[0].method, "DELETE");
    assert_eq!(all[0].target, format!("/users/{ENCODED_USERNAME}?delete_devices=true"));
    assert_eq!(all[1].target, format!("/users/{ENCODED_USERNAME}?delete_devices=false"));
    assert!(all[0].body.is_empty());
}

#[test]
fn deleting_a_user_the_server_does_not_know_succeeds() {
    let server = TestServer::start(|_| answer(404, json!({"details": "no such user"})));
    assert_eq!(client(&server).delete_user(&user(USERNAME), false), Ok(()));
}

#[test]
fn every_path_segment_is_percent_encoded() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    let odd = user("a%b?c#d+é@x.y");
    assert_eq!(client(&server).set_password(&odd, &password()), Ok(()));
    assert_eq!(server.only().target, "/users/a%25b%3Fc%23d%2B%C3%A9%40x.y/password");
}

#[test]
fn a_base_path_prefix_is_kept() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    let up = HttpUpstream::new(config(&format!("{}/as/v1/", server.base_url()))).unwrap();
    assert_eq!(up.base_url(), format!("{}/as/v1", server.base_url()));
    assert_eq!(up.authenticate(&username(), &password()), Ok(()));
    assert_eq!(server.only().target, "/as/v1/auth");
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

#[test]
fn password_rules_are_read_per_level() {
    let server = TestServer::start(|r| match r.target.as_str() {
        "/rules/password/8" => answer(
            200,
            json!({
                "minLength": 10, "maxLength": 64, "minUppercase": 1, "minLowercase": 1,
                "minDigits": 2, "minSpecial": 1, "forbidUsername": true, "history": 5,
                "forbidCommon": true
            }),
        ),
        _ => answer(404, Value::Null),
    });
    let up = client(&server);
    assert_eq!(
        up.password_rules(UserLevel::GroupAdmin),
        Ok(Some(PasswordRules {
            min_length: 10,
            max_length: 64,
            min_uppercase: 1,
            min_lowercase: 1,
            min_digits: 2,
            min_special: 1,
            forbid_username: true,
            history: 5,
            forbid_common: true,
        }))
    );
    assert_eq!(up.password_rules(UserLevel::EndUser), Ok(None), "404: no rules");
    let all = server.received();
    assert_eq!(all[0].method, "GET");
    assert_eq!(all[1].target, "/rules/password/0");
    assert_eq!(all[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
}

#[test]
fn pin_rules_are_read_per_level() {
    let server = TestServer::start(|r| match r.target.as_str() {
        "/rules/pincode/0" => answer(
            200,
            json!({
                "minLength": 4, "maxLength": 8, "maxRepeatedDigits": 2, "maxAscendingRun": 3,
                "maxDescendingRun": 3, "forbidRepeatedPatterns": true, "forbidUserNumber": true,
                "forbidReversedUserNumber": true, "history": 3, "forbidReversedOld": true,
                "expiryDays": null, "maxFailedAttempts": 5
            }),
        ),
        "/rules/pincode/16" => answer(204, Value::Null),
        _ => answer(404, Value::Null),
    });
    let up = client(&server);
    assert_eq!(
        up.pin_rules(UserLevel::EndUser),
        Ok(Some(PinRules {
            min_length: 4,
            max_length: 8,
            max_repeated_digits: Some(2),
            max_ascending_run: Some(3),
            max_descending_run: Some(3),
            forbid_repeated_patterns: true,
            forbid_user_number: true,
            forbid_reversed_user_number: true,
            history: 3,
            forbid_reversed_old: true,
            expiry_days: None,
            max_failed_attempts: Some(5),
        }))
    );
    assert_eq!(up.pin_rules(UserLevel::System), Ok(None), "204: no rules");
    assert_eq!(up.pin_rules(UserLevel::TenantAdmin), Ok(None), "404: no rules");
}

#[test]
fn unparseable_rules_are_unavailable() {
    for body in [
        "{\"minLength\": \"eight\", \"maxLength\": 64}",
        "{\"minLength\": 8, \"maxLength\": 64, \"minDigit\": 1}",
        "{\"minLength\": 9, \"maxLength\": 8}",
        "<html>oops</html>",
        "",
    ] {
        let server = TestServer::start(move |_| Reply::Answer(200, body.to_owned()));
        let result = client(&server).password_rules(UserLevel::EndUser);
        assert!(
            matches!(result, Err(UpstreamError::Unavailable(_))),
            "{body}: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Status mapping
// ---------------------------------------------------------------------------------------------

#[test]
fn refused_credentials_are_unauthorized() {
    for status in [401, 403, 404] {
        let server = TestServer::start(move |_| answer(status, json!({"details": "bad credentials"})));
        assert_eq!(
            client(&server).authenticate(&username(), &password()),
            Err(UpstreamError::Unauthorized),
            "{status}"
        );
    }
}

#[test]
fn refusals_with_details_are_rejected_for_every_operation() {
    for status in [400, 409, 422] {
        let server = TestServer::start(move |_| answer(status, json!({"details": "extension 4000 is taken"})));
        for (name, result) in every_operation(&client(&server)) {
            assert_eq!(
                result,
                Err(UpstreamError::Rejected {
                    details: "extension 4000 is taken".to_owned()
                }),
                "{name} {status}"
            );
        }
    }
}

#[test]
fn refusals_without_details_are_rejected_with_a_generic_text() {
    let server = TestServer::start(|_| Reply::Answer(422, "not json".to_owned()));
    let result = client(&server).set_password(&user(USERNAME), &password());
    assert_eq!(
        result,
        Err(UpstreamError::Rejected {
            details: "the Application Server refused the request (HTTP 422)".to_owned()
        })
    );
}

#[test]
fn an_unknown_user_rejects_a_change() {
    let server = TestServer::start(|_| answer(404, Value::Null));
    let up = client(&server);
    let u = user(USERNAME);
    for result in [
        up.update_profile(&u, &name_change()),
        up.set_password(&u, &password()),
        up.set_pin(&u, None, &PinSettings::default()),
    ] {
        assert!(matches!(result, Err(UpstreamError::Rejected { .. })), "{result:?}");
    }
}

#[test]
fn server_errors_are_unavailable_for_every_operation() {
    for status in [500, 502, 503] {
        let server = TestServer::start(move |_| answer(status, json!({"details": "database down"})));
        for (name, result) in every_operation(&client(&server)) {
            let Err(UpstreamError::Unavailable(text)) = &result else {
                panic!("{name} {status}: {result:?}");
            };
            assert!(text.contains(&status.to_string()), "{text}");
        }
    }
}

#[test]
fn a_refused_api_token_is_unavailable_not_unauthorized() {
    let server = TestServer::start(|_| answer(401, Value::Null));
    for (name, result) in every_operation(&client(&server)) {
        if name == "authenticate" {
            assert_eq!(result, Err(UpstreamError::Unauthorized));
        } else {
            assert!(
                matches!(result, Err(UpstreamError::Unavailable(_))),
                "{name}: {result:?}"
            );
        }
    }
}

#[test]
fn unexpected_statuses_and_redirects_are_unavailable() {
    for status in [302, 405, 415, 429] {
        let server = TestServer::start(move |_| Reply::Answer(status, String::new()));
        let result = client(&server).set_password(&user(USERNAME), &password());
        assert!(
            matches!(result, Err(UpstreamError::Unavailable(_))),
            "{status}: {result:?}"
        );
        assert_eq!(server.received().len(), 1, "{status}: redirects are not followed");
    }
}

#[test]
fn a_hangup_is_unavailable() {
    let server = TestServer::start(|_| Reply::Hangup);
    let result = client(&server).authenticate(&username(), &password());
    assert!(matches!(result, Err(UpstreamError::Unavailable(_))), "{result:?}");
}

#[test]
fn a_garbage_answer_is_unavailable_for_every_operation() {
    for garbage in [
        &b"this is not HTTP at all\r\n\r\n"[..],
        &b"HTTP/1.1 abc Nope\r\n\r\n"[..],
        &b"\x00\x01\x02\xff\xfe"[..],
    ] {
        let server = TestServer::start(move |_| Reply::Raw(garbage));
        for (name, result) in every_operation(&client(&server)) {
            assert!(
                matches!(result, Err(UpstreamError::Unavailable(_))),
                "{name} {garbage:?}: {result:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timeouts, connections and retries
// ---------------------------------------------------------------------------------------------

#[test]
fn headers_then_silence_times_out_within_the_request_timeout() {
    let server = TestServer::start(|_| Reply::HeadersThenHang(200, Duration::from_secs(3)));
    let mut config = config(&server.base_url());
    config.request_timeout = Duration::from_millis(300);
    let up = HttpUpstream::new(config).unwrap();
    let start = Instant::now();
    let change = up.update_profile(&user(USERNAME), &name_change());
    let took_change = start.elapsed();
    let start = Instant::now();
    let rules = up.password_rules(UserLevel::EndUser).map(|_| ());
    let took_rules = start.elapsed();
    assert_eq!(change, Err(UpstreamError::Timeout), "update_profile");
    assert_eq!(rules, Err(UpstreamError::Timeout), "password_rules");
    for took in [took_change, took_rules] {
        assert!(
            took < Duration::from_millis(2500),
            "the body wait is bounded too: {took:?}"
        );
    }
}

#[test]
fn a_slow_server_times_out_within_the_request_timeout() {
    let server = TestServer::start(|_| Reply::After(Duration::from_secs(2), 204, String::new()));
    let mut config = config(&server.base_url());
    config.request_timeout = Duration::from_millis(200);
    let up = HttpUpstream::new(config).unwrap();
    for (name, call) in [
        (
            "set_password",
            Box::new(|| up.set_password(&user(USERNAME), &password())) as Box<dyn Fn() -> Result<(), UpstreamError>>,
        ),
        (
            "password_rules",
            Box::new(|| up.password_rules(UserLevel::EndUser).map(|_| ())),
        ),
    ] {
        let start = Instant::now();
        assert_eq!(call(), Err(UpstreamError::Timeout), "{name}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(150),
            "{name} returned too early: {took:?}"
        );
        assert!(took < Duration::from_millis(1500), "{name} took {took:?}");
    }
    assert_eq!(server.received().len(), 2, "a timed-out GET is not retried either");
}

/// A loopback port with nothing listening on it.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[test]
fn a_refused_connection_is_unavailable() {
    let up = HttpUpstream::new(config(&format!("http://{}", closed_port()))).unwrap();
    for (name, result) in every_operation(&up) {
        let Err(UpstreamError::Unavailable(text)) = &result else {
            panic!("{name}: {result:?}");
        };
        assert!(text.contains("cannot connect"), "{name}: {text}");
        assert_no_secret(result.as_ref().unwrap_err());
    }
}

#[test]
fn a_get_is_retried_once_when_the_connection_is_refused() {
    // Nothing listens at first; the server comes up while the client pauses before its retry.
    let addr = closed_port();
    let up = HttpUpstream::new(config(&format!("http://{addr}"))).unwrap();
    let server = thread::spawn(move || {
        thread::sleep(Duration::from_millis(40));
        let listener = TcpListener::bind(addr).unwrap();
        TestServer::serve(listener, Arc::new(|_: &Received| answer(404, Value::Null)))
    });
    // The first attempt is refused before the listener binds, so the one request the server sees
    // is the retry.
    assert_eq!(up.pin_rules(UserLevel::EndUser), Ok(None));
    let server = server.join().unwrap();
    assert_eq!(server.only().target, "/rules/pincode/0");
}

#[test]
fn a_failed_get_with_an_answer_is_not_retried() {
    let server = TestServer::start(|_| answer(503, Value::Null));
    assert!(client(&server).password_rules(UserLevel::EndUser).is_err());
    assert_eq!(server.received().len(), 1);
}

#[test]
fn writes_are_sent_exactly_once_whatever_happens() {
    let replies: [fn() -> Reply; 3] = [
        || answer(500, Value::Null),
        || Reply::Hangup,
        || Reply::After(Duration::from_millis(400), 204, String::new()),
    ];
    for (i, reply) in replies.into_iter().enumerate() {
        let server = TestServer::start(move |_| reply());
        let mut config = config(&server.base_url());
        config.request_timeout = Duration::from_millis(150);
        let up = HttpUpstream::new(config).unwrap();
        let u = user(USERNAME);
        // Several calls in a row, so a pooled (and then stale) connection would have a chance to
        // be replayed.
        assert!(up.set_password(&u, &password()).is_err(), "case {i}");
        assert!(up.update_profile(&u, &name_change()).is_err(), "case {i}");
        assert!(
            up.set_pin(&u, Some(&pin()), &PinSettings::default()).is_err(),
            "case {i}"
        );
        assert!(up.delete_user(&u, true).is_err(), "case {i}");
        assert!(up.authenticate(&u.username, &password()).is_err(), "case {i}");
        thread::sleep(Duration::from_millis(450));
        let methods: Vec<String> = server.received().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["PUT", "PUT", "PUT", "DELETE", "POST"], "case {i}");
    }
}

#[test]
fn writes_are_not_replayed_on_a_stale_kept_alive_connection() {
    // The first answer keeps its connection open, as a real server would; every later request is
    // met by a hang-up, as when a server closes an idle connection just as a request arrives. An
    // HTTP client replays an idempotent request (a DELETE has no body) on a fresh connection when
    // a reused one dies like that; accountd must not, whatever the method.
    let answered = AtomicBool::new(false);
    let server = TestServer::start(move |_| {
        if answered.swap(true, Ordering::SeqCst) {
            Reply::Hangup
        } else {
            Reply::KeepOpen(204, String::new())
        }
    });
    let up = client(&server);
    let u = user(USERNAME);
    assert_eq!(up.password_rules(UserLevel::EndUser), Ok(None));
    assert!(matches!(up.delete_user(&u, true), Err(UpstreamError::Unavailable(_))));
    thread::sleep(Duration::from_millis(100));
    let methods: Vec<String> = server.received().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "DELETE"]);
}

#[test]
fn concurrent_calls_share_one_client() {
    let server = TestServer::start(|_| answer(204, Value::Null));
    let up = client(&server);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let up = up.clone();
            thread::spawn(move || up.authenticate(&username(), &password()))
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().unwrap(), Ok(()));
    }
    assert_eq!(server.received().len(), 8);
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn secrets_never_reach_an_error() {
    // A careless Application Server that echoes everything it got, in every kind of answer.
    for status in [400, 422, 500, 503, 404, 405] {
        let server = TestServer::start(move |r| {
            let echoed = format!(
                "got {} with token {}",
                String::from_utf8_lossy(&r.body),
                r.header("authorization").unwrap_or_default()
            );
            answer(status, json!({ "details": echoed }))
        });
        let up = client(&server);
        for (name, result) in every_operation(&up) {
            if let Err(error) = &result {
                assert_no_secret(error);
            } else {
                assert!(name == "delete_user" || name.ends_with("rules"), "{name} {status}");
            }
        }
        let printed = format!("{up:?}");
        assert!(!printed.contains(TOKEN), "{printed}");
    }
}

#[test]
fn rejected_details_keep_the_reason_but_not_the_secret() {
    let server = TestServer::start(|_| answer(422, json!({"details": format!("password {PASSWORD} is too weak")})));
    let result = client(&server).set_password(&user(USERNAME), &password());
    assert_eq!(
        result,
        Err(UpstreamError::Rejected {
            details: "password <redacted> is too weak".to_owned()
        })
    );
}

#[test]
fn config_errors_never_print_the_token() {
    let mut config = HttpUpstreamConfig::new("http://as.example.net");
    config.api_token = Some(TOKEN.to_owned());
    let error = HttpUpstream::new(config.clone()).unwrap_err();
    assert!(!error.to_string().contains(TOKEN));
    assert!(!format!("{config:?}").contains(TOKEN));
}
