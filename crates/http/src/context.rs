//! Per-request plumbing: the request id (taken from `X-Request-Id` when sane, else generated) with a
//! tracing span around the request, the access log and request metrics, the client address, and
//! running a use case on the blocking pool inside that span.

use crate::error::ApiError;
use crate::ops::Metrics;
use accountd_domain::records::ClientInfo;
use accountd_service::{RequestContext, ServiceError};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one request, on every log line of it and in the `X-Request-Id` response header.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Which answered requests get an access line (`log.access`).
///
/// One line per request was most of an instance's disk use (a 5-minute soak wrote 650 MB of them
/// at the default level) while the line support actually looks up, by the request id a user
/// quotes, is that of a refused or failed request. So by default only those, and slow answers,
/// are logged; [`Metrics`] still count every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLog {
    /// Every request.
    All,
    /// Answers with a 4xx or 5xx status, and answers slower than the slow threshold.
    #[default]
    Errors,
    /// None: the request id is still on every other line logged during the request, and in the
    /// response.
    Off,
}

/// The access log's settings, as the app data the [`request_id`] middleware reads. An app without
/// them (a test's) logs as the default does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLogPolicy {
    pub mode: AccessLog,
    /// With [`AccessLog::Errors`], an answer at least this slow is logged whatever its status.
    pub slow: std::time::Duration,
}

impl Default for AccessLogPolicy {
    fn default() -> Self {
        Self {
            mode: AccessLog::default(),
            slow: std::time::Duration::from_millis(1000),
        }
    }
}

impl AccessLogPolicy {
    /// Whether an answer with `status` after `elapsed` gets an access line.
    pub fn logs(&self, status: actix_web::http::StatusCode, elapsed: std::time::Duration) -> bool {
        match self.mode {
            AccessLog::All => true,
            AccessLog::Errors => status.is_client_error() || status.is_server_error() || elapsed >= self.slow,
            AccessLog::Off => false,
        }
    }
}

/// Middleware: assigns the request id, opens the request's span, echoes the id in the response,
/// and when the request is answered writes its access-log line (as [`AccessLogPolicy`] says) and
/// counts it in the server's [`Metrics`] (when the app has them).
///
/// The access line (target `accountd::access`, level info) holds the method, the route **pattern**,
/// the status and the latency, inside the request's span (so with its `request_id`). It never holds
/// the query string, a header, a cookie or a body: those may carry credentials.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let access = req.app_data::<AccessLogPolicy>().copied().unwrap_or_default();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let script = is_script_request(req.headers());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let mut response = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    let status = response.status();
    let route = response.request().match_pattern();
    if access.logs(status, elapsed) {
        span.in_scope(|| {
            tracing::info!(
                target: "accountd::access",
                method = %method,
                route = route.as_deref().unwrap_or(crate::ops::UNMATCHED),
                status = status.as_u16(),
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        });
    }
    if let Some(metrics) = metrics {
        metrics.observe(&method, route.as_deref(), status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if script && status == actix_web::http::StatusCode::UNAUTHORIZED {
        // A Basic challenge makes a browser open its own login prompt over the page that asked.
        let headers = response.headers_mut();
        let offered = headers
            .get(actix_web::http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(without_basic)
            .unwrap_or_default();
        let challenge = HeaderValue::from_str(&offered)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(HeaderValue::from_static(SCRIPT_CHALLENGE));
        headers.insert(actix_web::http::header::WWW_AUTHENTICATE, challenge);
    }
    Ok(response)
}

/// The 401 challenge for a script's request when the answer offered nothing but Basic (see
/// [`is_script_request`]).
pub const SCRIPT_CHALLENGE: &str = "Bearer realm=\"accountd\"";

/// A `WWW-Authenticate` value without its Basic challenge. Ours are `<scheme> realm="accountd"`
/// joined by `, ` (`crate::error`), so a challenge starts after each `, `.
fn without_basic(challenges: &str) -> String {
    challenges
        .split(", ")
        .filter(|c| !c.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("basic ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a request comes from a page's script rather than from an API client or the browser's
/// address bar: `Sec-Fetch-Mode` other than `navigate` (every current browser sends it), or
/// `X-Requested-With: XMLHttpRequest` (what the account page sends, for older ones). A 401 to such
/// a request challenges with Bearer only: with Basic, the browser would open its login prompt.
pub fn is_script_request(headers: &actix_web::http::header::HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("sec-fetch-mode").is_some_and(|mode| !mode.eq_ignore_ascii_case("navigate"))
        || header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"))
}

/// Whether the client address is read from `X-Forwarded-For`/`Forwarded` (behind a trusted proxy)
/// or from the connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddressSource {
    pub trust_forwarded_for: bool,
}

/// Extracts the [`RequestContext`] of a request.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

pub(crate) fn context_of(req: &HttpRequest) -> RequestContext {
    let trust = req
        .app_data::<ClientAddressSource>()
        .is_some_and(|s| s.trust_forwarded_for);
    let address = if trust {
        req.connection_info().realip_remote_addr().map(str::to_owned)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    };
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    RequestContext {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        client: ClientInfo { address, user_agent },
    }
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Ctx(context_of(req))))
    }
}

/// Runs a use case on the blocking pool, inside the current span.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    match web::block(move || span.in_scope(f)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_access_log_keeps_refused_failed_and_slow_answers() {
        use actix_web::http::StatusCode;
        use std::time::Duration;
        let fast = Duration::from_millis(3);
        let policy = AccessLogPolicy::default();
        assert!(!policy.logs(StatusCode::OK, fast));
        assert!(!policy.logs(StatusCode::NO_CONTENT, fast));
        assert!(!policy.logs(StatusCode::FOUND, fast));
        assert!(policy.logs(StatusCode::UNAUTHORIZED, fast));
        assert!(policy.logs(StatusCode::NOT_FOUND, fast));
        assert!(policy.logs(StatusCode::SERVICE_UNAVAILABLE, fast));
        assert!(policy.logs(StatusCode::OK, Duration::from_millis(1000)), "slow");
        let all = AccessLogPolicy {
            mode: AccessLog::All,
            ..policy
        };
        assert!(all.logs(StatusCode::OK, fast));
        let off = AccessLogPolicy {
            mode: AccessLog::Off,
            ..policy
        };
        assert!(!off.logs(StatusCode::INTERNAL_SERVER_ERROR, Duration::from_secs(60)));
    }

    #[test]
    fn request_ids_are_bounded_and_plain() {
        assert!(acceptable_request_id("3f2c-11aa_b.c:d"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id("a b"));
        assert!(!acceptable_request_id("a\r\nSet-Cookie: x"));
        assert!(!acceptable_request_id(&"a".repeat(129)));
    }

    #[test]
    fn scripts_are_offered_every_scheme_but_basic() {
        assert_eq!(
            without_basic("Basic realm=\"accountd\", Bearer realm=\"accountd\""),
            "Bearer realm=\"accountd\""
        );
        assert_eq!(
            without_basic("Basic realm=\"accountd\", SOTicket realm=\"accountd\", Bearer realm=\"accountd\""),
            "SOTicket realm=\"accountd\", Bearer realm=\"accountd\""
        );
        assert_eq!(without_basic("basic realm=\"accountd\""), "");
    }

    #[test]
    fn script_requests_are_told_from_api_clients_and_navigation() {
        use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
            }
            map
        };
        assert!(is_script_request(&headers(&[("sec-fetch-mode", "cors")])));
        assert!(is_script_request(&headers(&[("sec-fetch-mode", "same-origin")])));
        assert!(is_script_request(&headers(&[("x-requested-with", "XMLHttpRequest")])));
        assert!(!is_script_request(&headers(&[])), "curl and API clients");
        assert!(
            !is_script_request(&headers(&[("sec-fetch-mode", "navigate")])),
            "the address bar"
        );
        assert!(!is_script_request(&headers(&[("x-requested-with", "com.example.app")])));
    }
}
