//! The HTTP boundary's one error: every failure becomes an RFC 9457 `application/problem+json` body
//! with a stable `type`, a `details` member (APIO clients read it) and `errors[]` listing every
//! violation. The status of each case is in [`ApiError::status`]; no internal text (SQL, upstream
//! log text) ever reaches a client: those are logged with the request id and answered generically.

use accountd_domain::InvalidValue;
use accountd_domain::ports::{StoreError, UpstreamError};
use accountd_policy::Violation;
use accountd_service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// One field's problem, in `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl From<&InvalidValue> for FieldError {
    fn from(v: &InvalidValue) -> Self {
        Self {
            field: v.field.to_owned(),
            code: v.problem.code().to_owned(),
            message: v.to_string(),
        }
    }
}

impl From<&Violation> for FieldError {
    fn from(v: &Violation) -> Self {
        Self {
            field: v.field.to_owned(),
            code: v.code.to_owned(),
            message: v.message.clone(),
        }
    }
}

/// Collects every invalid value of a request body, so all are reported at once.
#[derive(Debug, Default)]
pub struct Collect(Vec<InvalidValue>);

impl Collect {
    /// The value, or `None` after noting why it is invalid.
    pub fn take<T>(&mut self, result: Result<T, InvalidValue>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// `Err` with every noted problem, if there is any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.0))
        }
    }
}

/// Both values, or every invalid one of the two.
pub(crate) fn both<A, B>(a: Result<A, InvalidValue>, b: Result<B, InvalidValue>) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(ApiError::invalid(a.err().into_iter().chain(b.err()).collect())),
    }
}

/// What went wrong, as answered to a client.
#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    /// The body or query could not be read as the operation's input (400).
    BadRequest {
        details: String,
        errors: Vec<FieldError>,
    },
    /// The body is not in a media type the operation reads (415).
    UnsupportedMediaType(String),
    /// The body is larger than allowed (413).
    PayloadTooLarge {
        limit: usize,
    },
    /// The request lacks a valid XSRF token (403).
    Xsrf,
    /// The client accepts no representation the operation has (406).
    NotAcceptable,
    /// No route (404) or no such method on it (405).
    NoRoute {
        status: StatusCode,
    },
    /// The blocking pool is shut down or overloaded (503).
    Busy,
    /// `/readyz`: the store is unreachable or its migrations are pending (503).
    NotReady,
}

/// The `application/problem+json` body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// RFC 9457's human-readable explanation.
    pub detail: String,
    /// The same text under the name APIO clients read.
    pub details: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        ApiError::Service(err)
    }
}

impl From<InvalidValue> for ApiError {
    fn from(err: InvalidValue) -> Self {
        ApiError::Service(ServiceError::Invalid(vec![err]))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, _, detail) = self.describe();
        f.write_str(&detail)
    }
}

impl ApiError {
    /// Invalid values, every one of them.
    pub fn invalid(errors: Vec<InvalidValue>) -> Self {
        ApiError::Service(ServiceError::Invalid(errors))
    }

    /// (stable type code, title, detail): the whole status table but for the status itself.
    fn describe(&self) -> (&'static str, &'static str, String) {
        match self {
            ApiError::Service(err) => match err {
                ServiceError::Unauthenticated => {
                    ("unauthenticated", "Authentication required", "The caller cannot be authenticated.".into())
                }
                ServiceError::BadCredentials => {
                    ("bad-credentials", "Invalid credentials", "Invalid username or password.".into())
                }
                ServiceError::Forbidden(why) => (
                    "forbidden",
                    "Forbidden",
                    format!("The caller is not allowed to access this resource: {why}."),
                ),
                ServiceError::ReadOnly(fields) => (
                    "forbidden",
                    "Forbidden",
                    format!(
                        "The caller is not allowed to change these members of their own account: {}.",
                        fields.join(", ")
                    ),
                ),
                ServiceError::WrongSecret(what) => ("wrong-secret", "Wrong credentials", format!("The {what} is not correct.")),
                ServiceError::NotFound(what) => ("not-found", "Not found", format!("No such {what}.")),
                ServiceError::Invalid(errors) => {
                    let names: Vec<&str> = errors.iter().map(|e| e.field).collect();
                    ("validation", "Invalid input", format!("Invalid value for: {}.", names.join(", ")))
                }
                ServiceError::Policy { field, violations } => (
                    "policy",
                    "Policy not met",
                    format!("The {field} breaks {} rule(s) of the policy.", violations.len()),
                ),
                ServiceError::Conflict(field) => ("conflict", "Conflict", format!("The {field} is already taken.")),
                ServiceError::PreconditionFailed => (
                    "precondition-failed",
                    "Precondition failed",
                    "The resource changed since it was read (If-Match does not match its ETag).".into(),
                ),
                ServiceError::PreconditionRequired => (
                    "precondition-required",
                    "Precondition required",
                    "This change needs an If-Match header with the resource's ETag.".into(),
                ),
                ServiceError::Throttled { retry_after_seconds } => (
                    "throttled",
                    "Too many attempts",
                    format!("Too many failed attempts; try again in {retry_after_seconds} seconds."),
                ),
                ServiceError::Upstream(UpstreamError::Timeout) => (
                    "upstream-timeout",
                    "Application Server timeout",
                    "The Application Server did not answer in time; nothing was changed.".into(),
                ),
                ServiceError::Upstream(UpstreamError::Rejected { details }) => (
                    "upstream-rejected",
                    "Refused by the Application Server",
                    format!("The Application Server refused the change; nothing was changed: {details}"),
                ),
                ServiceError::Upstream(_) => (
                    "upstream-failed",
                    "Application Server failure",
                    "The Application Server failed; nothing was changed.".into(),
                ),
                ServiceError::Store(StoreError::Unavailable(_)) => (
                    "unavailable",
                    "Service unavailable",
                    "The database is busy or unreachable; nothing was changed. Try again.".into(),
                ),
                ServiceError::Store(_) | ServiceError::Hashing(_) => {
                    ("internal", "Internal error", "An internal error occurred; it has been logged.".into())
                }
            },
            ApiError::BadRequest { details, .. } => ("bad-request", "Bad request", details.clone()),
            ApiError::UnsupportedMediaType(details) => ("unsupported-media-type", "Unsupported media type", details.clone()),
            ApiError::PayloadTooLarge { limit } => (
                "payload-too-large",
                "Payload too large",
                format!("The request body is larger than {limit} bytes."),
            ),
            ApiError::Xsrf => (
                "xsrf",
                "XSRF token missing or wrong",
                "Requests that change something with a session cookie need the X-XSRF-TOKEN header equal to the XSRF-TOKEN cookie."
                    .into(),
            ),
            ApiError::NotAcceptable => (
                "not-acceptable",
                "Not acceptable",
                "None of the media types in Accept can be produced.".into(),
            ),
            ApiError::NoRoute { status } if *status == StatusCode::METHOD_NOT_ALLOWED => {
                ("method-not-allowed", "Method not allowed", "This resource does not support that method.".into())
            }
            ApiError::NoRoute { .. } => ("no-route", "Not found", "No resource at this path.".into()),
            ApiError::Busy => ("unavailable", "Service unavailable", "The server is shutting down or overloaded.".into()),
            ApiError::NotReady => (
                "not-ready",
                "Not ready",
                "The database is unreachable or its migrations are pending.".into(),
            ),
        }
    }

    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Service(ServiceError::Invalid(errors)) => errors.iter().map(FieldError::from).collect(),
            ApiError::Service(ServiceError::Policy { violations, .. }) => {
                violations.iter().map(FieldError::from).collect()
            }
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::Service(ServiceError::ReadOnly(fields)) => fields
                .iter()
                .map(|field| FieldError {
                    field: (*field).to_owned(),
                    code: "read_only".into(),
                    message: format!("{field} can't be changed by the user themself"),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn problem(&self) -> Problem {
        let (code, title, detail) = self.describe();
        Problem {
            kind: format!("urn:accountd:problem:{code}"),
            title,
            status: self.status_code().as_u16(),
            details: detail.clone(),
            detail,
            errors: self.errors(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Service(err) => match err {
                ServiceError::Unauthenticated | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
                ServiceError::Forbidden(_) | ServiceError::WrongSecret(_) | ServiceError::ReadOnly(_) => {
                    StatusCode::FORBIDDEN
                }
                ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
                ServiceError::Invalid(_) | ServiceError::Policy { .. } => StatusCode::BAD_REQUEST,
                ServiceError::Conflict(_) => StatusCode::CONFLICT,
                ServiceError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
                ServiceError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
                ServiceError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                ServiceError::Upstream(UpstreamError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
                ServiceError::Upstream(UpstreamError::Disabled) => StatusCode::INTERNAL_SERVER_ERROR,
                ServiceError::Upstream(_) => StatusCode::BAD_GATEWAY,
                ServiceError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
                ServiceError::Store(_) | ServiceError::Hashing(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Xsrf => StatusCode::FORBIDDEN,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::NoRoute { status } => *status,
            ApiError::Busy | ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The full internal text goes to the log only.
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        match self {
            ApiError::Service(ServiceError::Unauthenticated | ServiceError::BadCredentials) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"accountd\", Bearer realm=\"accountd\""),
                ));
            }
            ApiError::Service(ServiceError::Throttled { retry_after_seconds }) => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            ApiError::Service(ServiceError::Store(StoreError::Unavailable(_)))
            | ApiError::Busy
            | ApiError::NotReady => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        response.body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::Problem as P;

    #[test]
    fn validation_problems_list_every_field() {
        let err = ApiError::invalid(vec![
            InvalidValue::new("emailAddress", P::Format("an e-mail address")),
            InvalidValue::new("first_name", P::Empty),
        ]);
        let problem = err.problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.kind, "urn:accountd:problem:validation");
        assert_eq!(problem.errors.len(), 2);
        assert_eq!(problem.errors[1].field, "first_name");
        assert_eq!(problem.errors[1].code, "empty");
        assert!(problem.details.contains("emailAddress"));
    }

    #[test]
    fn internal_text_never_reaches_the_body() {
        let err = ApiError::Service(ServiceError::Store(StoreError::Backend("SELECT secret FROM x".into())));
        let body = serde_json::to_string(&err.problem()).unwrap();
        assert!(!body.contains("SELECT"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let upstream = ApiError::Service(ServiceError::Upstream(UpstreamError::Unavailable(
            "10.0.0.1 refused".into(),
        )));
        assert!(!serde_json::to_string(&upstream.problem()).unwrap().contains("10.0.0.1"));
        assert_eq!(upstream.status_code(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn status_table() {
        let s = |e: ServiceError| ApiError::Service(e).status_code().as_u16();
        assert_eq!(s(ServiceError::Unauthenticated), 401);
        assert_eq!(s(ServiceError::WrongSecret("old password")), 403);
        assert_eq!(s(ServiceError::NotFound("user")), 404);
        assert_eq!(s(ServiceError::Conflict("username")), 409);
        assert_eq!(s(ServiceError::PreconditionFailed), 412);
        assert_eq!(s(ServiceError::PreconditionRequired), 428);
        assert_eq!(s(ServiceError::Throttled { retry_after_seconds: 5 }), 429);
        assert_eq!(s(ServiceError::Upstream(UpstreamError::Timeout)), 504);
        assert_eq!(s(ServiceError::Store(StoreError::Unavailable("busy".into()))), 503);
    }
}
