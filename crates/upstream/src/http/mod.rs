//! [`HttpUpstream`]: the Application Server reached over HTTP/JSON, per the contract in
//! `docs/upstream.md` (accountd is the client; an operator puts a small JSON API in front of the
//! network element).
//!
//! Every call is one blocking exchange bounded by the configured timeouts. Only the rule look-ups
//! (`GET`) are retried, once, when the connection could not be made at all (nothing was sent).
//! `PUT` and `DELETE` go over connections that are never pooled, so not even the HTTP client's
//! replay of an idempotent request on a stale pooled connection can repeat a change. `POST /auth`
//! (no change) may reuse a pooled connection: the client re-sends it only when the request head
//! could not be written, i.e. when the server can't have read it. Redirects are not followed.
//!
//! Error texts name the operation and what went wrong, never a password, PIN or the API token:
//! anything taken from an answer is cleaned first (`wire::clean_text`).

pub(crate) mod config;
mod wire;

pub use config::{
    ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, HttpUpstreamConfig, MAX_TIMEOUT, checked_url,
};

use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{ApplicationServer, UpstreamError};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::user::{ProfileChange, User};
use std::fmt;
use std::io::{self, Read};
use std::time::Duration;
use zeroize::Zeroizing;

/// Largest answer body read, in bytes; a longer one is a contract violation.
const MAX_BODY_BYTES: u64 = 64 * 1024;
/// Pause before the one retry of a `GET` whose connection failed.
const GET_RETRY_PAUSE: Duration = Duration::from_millis(150);

/// The Application Server over HTTP/JSON. Cheap to clone (clones share the connection pool).
#[derive(Clone)]
pub struct HttpUpstream {
    base_url: String,
    /// `Bearer <token>`, when a token is configured.
    authorization: Option<Zeroizing<String>>,
    /// For `POST /auth` and the `GET`s: keeps idle connections for reuse.
    pooled: ureq::Agent,
    /// For `PUT` and `DELETE`: a fresh connection per request, so nothing can replay them.
    unpooled: ureq::Agent,
}

impl fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("base_url", &self.base_url)
            .field("api_token", &self.authorization.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What one operation does with an answer, besides 2xx (success) and the shared mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// `POST /auth`: 401/403/404 mean the credentials were refused.
    Authenticate,
    /// `PUT …/profile|password|pincode`: 404 means the Application Server doesn't know the user.
    Update,
    /// `DELETE /users/{username}`: 404 means already gone, which is success.
    Delete,
    /// `GET /rules/…`: 404 means no rules for that level.
    Rules,
}

/// An answer as read: status and (bounded) body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// One request to send.
struct Call<'a> {
    operation: Operation,
    method: &'static str,
    path: String,
    /// JSON body, zeroed when dropped (it may hold a password or PIN).
    body: Option<Zeroizing<Vec<u8>>>,
    /// Values that must never appear in an error text: the request's secrets and the API token.
    secrets: Vec<&'a str>,
}

impl HttpUpstream {
    /// Checks `config` and builds the client. No connection is made until the first call.
    pub fn new(config: HttpUpstreamConfig) -> Result<Self, ConfigError> {
        let base_url = config.validate()?;
        let builder = || {
            ureq::AgentBuilder::new()
                .timeout_connect(config.connect_timeout)
                .timeout(config.request_timeout)
                .redirects(0)
                .user_agent(concat!("accountd/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            base_url,
            authorization: config
                .api_token
                .as_ref()
                .map(|token| Zeroizing::new(format!("Bearer {token}"))),
            pooled: builder().build(),
            unpooled: builder()
                .max_idle_connections(0)
                .max_idle_connections_per_host(0)
                .build(),
        })
    }

    /// The base URL every path is appended to (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn user_path(username: &Username, tail: &str) -> String {
        format!("/users/{}{tail}", wire::encode_segment(username.as_str()))
    }

    /// Sends `call` and reads the answer; `Err` when there is no answer to interpret.
    fn exchange(&self, call: &Call<'_>) -> Result<Answer, UpstreamError> {
        let retries = if call.method == "GET" { 1 } else { 0 };
        let mut attempt = 0;
        loop {
            match self.send_once(call) {
                Err(Failure::Connect(_)) if attempt < retries => {
                    attempt += 1;
                    std::thread::sleep(GET_RETRY_PAUSE);
                }
                Err(failure) => return Err(failure.into_error(call)),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    fn send_once(&self, call: &Call<'_>) -> Result<Answer, Failure> {
        let agent = match call.method {
            "GET" | "POST" => &self.pooled,
            _ => &self.unpooled,
        };
        let mut request = agent
            .request(call.method, &format!("{}{}", self.base_url, call.path))
            .set("Accept", "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.set("Authorization", authorization);
        }
        let result = match &call.body {
            Some(body) => request.set("Content-Type", "application/json").send_bytes(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(transport)) => return Err(Failure::from_transport(&transport)),
        };
        let status = response.status();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| Failure::from_io(&e, "reading the answer"))?;
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(Failure::Other(format!(
                "HTTP {status} with a body over {MAX_BODY_BYTES} bytes"
            )));
        }
        Ok(Answer { status, body })
    }

    /// Sends `call` and maps any answer but 2xx to an error (rules' 404 aside, see
    /// [`HttpUpstream::fetch_rules`]).
    fn send(&self, call: &Call<'_>) -> Result<Answer, UpstreamError> {
        let answer = self.exchange(call)?;
        match (call.operation, answer.status) {
            (_, 200..=299) | (Operation::Delete | Operation::Rules, 404) => Ok(answer),
            (_, status) => Err(status_error(call, status, &answer.body)),
        }
    }

    /// Sends a call whose answer carries nothing but its status.
    fn perform(
        &self,
        operation: Operation,
        method: &'static str,
        path: String,
        body: Option<Zeroizing<Vec<u8>>>,
        secrets: Vec<&str>,
    ) -> Result<(), UpstreamError> {
        let call = Call {
            operation,
            method,
            path,
            body,
            secrets: self.with_token(secrets),
        };
        self.send(&call).map(|_| ())
    }

    fn with_token<'a>(&'a self, mut secrets: Vec<&'a str>) -> Vec<&'a str> {
        if let Some(authorization) = &self.authorization {
            secrets.push(authorization.trim_start_matches("Bearer "));
        }
        secrets
    }

    /// `GET /rules/{kind}/{level}`: the rule set of a 2xx answer, `None` for 204 or 404.
    fn fetch_rules<T>(
        &self,
        kind: &str,
        level: UserLevel,
        parse: fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<T>, UpstreamError> {
        let call = Call {
            operation: Operation::Rules,
            method: "GET",
            path: format!("/rules/{kind}/{}", level.as_u8()),
            body: None,
            secrets: self.with_token(Vec::new()),
        };
        let answer = self.send(&call)?;
        if matches!(answer.status, 204 | 404) {
            return Ok(None);
        }
        parse(&answer.body).map(Some).map_err(|e| {
            UpstreamError::Unavailable(format!(
                "{} {}: {}",
                call.method,
                call.path,
                wire::clean_text(&e, &call.secrets)
            ))
        })
    }
}

/// Serialises a request body into a buffer that is zeroed when dropped.
fn json_body(value: &impl serde::Serialize) -> Result<Zeroizing<Vec<u8>>, UpstreamError> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(128));
    serde_json::to_writer(&mut *buffer, value)
        .map_err(|e| UpstreamError::Unavailable(format!("could not encode the request: {e}")))?;
    Ok(buffer)
}

/// Maps an answer other than 2xx to the error the contract gives it.
fn status_error(call: &Call<'_>, status: u16, body: &[u8]) -> UpstreamError {
    let what = format!("{} {}", call.method, call.path);
    let details = || wire::error_details(body).map(|d| wire::clean_text(&d, &call.secrets));
    match (call.operation, status) {
        (Operation::Authenticate, 401 | 403 | 404) => UpstreamError::Unauthorized,
        (Operation::Update, 404) => UpstreamError::Rejected {
            details: details().unwrap_or_else(|| "the Application Server does not know this user".to_owned()),
        },
        (_, 400 | 409 | 422) => UpstreamError::Rejected {
            details: details().unwrap_or_else(|| format!("the Application Server refused the request (HTTP {status})")),
        },
        (_, 401 | 403) => UpstreamError::Unavailable(format!(
            "{what}: HTTP {status}: the Application Server refused accountd's API token"
        )),
        (_, status) => {
            let snippet = wire::clean_text(&String::from_utf8_lossy(body), &call.secrets);
            if snippet.is_empty() {
                UpstreamError::Unavailable(format!("{what}: unexpected HTTP {status}"))
            } else {
                UpstreamError::Unavailable(format!("{what}: unexpected HTTP {status}: {snippet}"))
            }
        }
    }
}

/// Why an exchange produced no answer.
#[derive(Debug)]
enum Failure {
    /// The connection could not be made (refused, unreachable, name unknown): nothing was sent.
    Connect(String),
    /// A timeout, connecting or waiting for the answer.
    Timeout,
    /// Anything else (connection reset, malformed HTTP, oversize answer).
    Other(String),
}

impl Failure {
    fn from_transport(transport: &ureq::Transport) -> Self {
        if is_timeout(transport) {
            return Failure::Timeout;
        }
        // The text is built from the kind, message and source, not ureq's Display, so it can't
        // carry the URL's query or anything else added later.
        let mut text = transport.kind().to_string();
        if let Some(message) = transport.message() {
            text.push_str(": ");
            text.push_str(message);
        }
        if let Some(source) = std::error::Error::source(transport) {
            text.push_str(": ");
            text.push_str(&source.to_string());
        }
        match transport.kind() {
            ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => Failure::Connect(text),
            _ => Failure::Other(text),
        }
    }

    fn from_io(error: &io::Error, doing: &str) -> Self {
        if matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
            Failure::Timeout
        } else {
            Failure::Other(format!("{doing}: {error}"))
        }
    }

    fn into_error(self, call: &Call<'_>) -> UpstreamError {
        let what = format!("{} {}", call.method, call.path);
        match self {
            Failure::Timeout => UpstreamError::Timeout,
            Failure::Connect(text) => UpstreamError::Unavailable(format!(
                "{what}: cannot connect: {}",
                wire::clean_text(&text, &call.secrets)
            )),
            Failure::Other(text) => {
                UpstreamError::Unavailable(format!("{what}: {}", wire::clean_text(&text, &call.secrets)))
            }
        }
    }
}

/// Whether a transport error is a timeout: an I/O error of kind `TimedOut` (or `WouldBlock`, which
/// a socket timeout gives on some platforms) anywhere in its chain.
fn is_timeout(transport: &ureq::Transport) -> bool {
    let mut source = std::error::Error::source(transport);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<io::Error>()
            && matches!(io.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
        {
            return true;
        }
        source = error.source();
    }
    false
}

impl ApplicationServer for HttpUpstream {
    fn authenticate(&self, username: &Username, password: &Password) -> Result<(), UpstreamError> {
        let body = json_body(&wire::AuthBody {
            username: username.as_str(),
            password: password.expose(),
        })?;
        self.perform(
            Operation::Authenticate,
            "POST",
            "/auth".to_owned(),
            Some(body),
            vec![password.expose()],
        )
    }

    fn update_profile(&self, user: &User, change: &ProfileChange) -> Result<(), UpstreamError> {
        let body = json_body(&wire::profile_change_json(change))?;
        self.perform(
            Operation::Update,
            "PUT",
            Self::user_path(&user.username, "/profile"),
            Some(body),
            Vec::new(),
        )
    }

    fn set_password(&self, user: &User, password: &Password) -> Result<(), UpstreamError> {
        let body = json_body(&wire::PasswordBody {
            password: password.expose(),
        })?;
        self.perform(
            Operation::Update,
            "PUT",
            Self::user_path(&user.username, "/password"),
            Some(body),
            vec![password.expose()],
        )
    }

    fn set_pin(&self, user: &User, pin: Option<&PinCode>, settings: &PinSettings) -> Result<(), UpstreamError> {
        let body = json_body(&wire::PinBody::new(pin.map(PinCode::expose), settings))?;
        self.perform(
            Operation::Update,
            "PUT",
            Self::user_path(&user.username, "/pincode"),
            Some(body),
            pin.map(PinCode::expose).into_iter().collect(),
        )
    }

    fn delete_user(&self, user: &User, delete_devices: bool) -> Result<(), UpstreamError> {
        let path = Self::user_path(&user.username, &format!("?delete_devices={delete_devices}"));
        self.perform(Operation::Delete, "DELETE", path, None, Vec::new())
    }

    fn password_rules(&self, level: UserLevel) -> Result<Option<PasswordRules>, UpstreamError> {
        self.fetch_rules("password", level, wire::parse_password_rules)
    }

    fn pin_rules(&self, level: UserLevel) -> Result<Option<PinRules>, UpstreamError> {
        self.fetch_rules("pincode", level, wire::parse_pin_rules)
    }
}
