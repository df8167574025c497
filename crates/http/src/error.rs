//! The HTTP boundary's one error: every failure becomes an RFC 9457 `application/problem+json` body
//! with a stable `type`, a `details` member (APIO clients read it) and `errors[]` listing every
//! violation. Everything a client sees of each case (status, `type`, title, `detail` in English and,
//! for SuperOffice clients, Swedish, `errors[]`, `WWW-Authenticate`, `Retry-After`) is one row of
//! one table, `ApiError::answer`: an exhaustive `match` without wildcards, so a new variant does
//! not compile until its row is written. No internal text (SQL, upstream log text) ever reaches a
//! client: those are logged with the request id and answered generically.

use accountd_domain::InvalidValue;
use accountd_domain::ports::{StoreError, UpstreamError};
use accountd_policy::Violation;
use accountd_service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

pub mod responses;

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
    /// The body did not arrive within `http.body_timeout_ms` of the headers (408).
    BodyTimeout {
        after: std::time::Duration,
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
    /// `second-factor-required` only: send it back with a code to `POST /api/v1/login/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// `second-factor-required` only: the ways to finish (`totp`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<&'static str>>,
    /// `second-factor-required` only: when the challenge dies, in ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_expires_at: Option<i64>,
    /// `second-factor-required` with `passkey` among the methods: the options for
    /// `navigator.credentials.get()`; send its answer with the challenge as `passkey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passkey_options: Option<serde_json::Value>,
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
        f.write_str(&self.answer().detail)
    }
}

/// One row of the error table: everything a client sees of one kind of failure.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// The stable end of `type`: `urn:accountd:problem:<code>`.
    code: &'static str,
    title: &'static str,
    detail: String,
    /// `detail` for SuperOffice clients that ask for Swedish; `None` keeps the English one.
    swedish: Option<String>,
    errors: Vec<FieldError>,
    /// Sends the `WWW-Authenticate` challenge.
    challenge: bool,
    /// Sends `Retry-After` with these seconds.
    retry_after: Option<u64>,
    /// The second step of a login (`second-factor-required`).
    second_factor: Option<accountd_service::factors::SecondFactorChallenge>,
}

/// The schemes a 401 offers.
const CHALLENGE: &str = "Basic realm=\"accountd\", Bearer realm=\"accountd\"";
/// The schemes a 401 of the SuperOffice dialect offers: seed 002 names Basic, SoTicket and Bearer
/// (`Authorization: SOTicket <ticket>`, the spelling of SuperOffice's documentation; schemes are
/// case-insensitive, and `crate::auth` reads any case).
const SUPEROFFICE_CHALLENGE: &str = "Basic realm=\"accountd\", SOTicket realm=\"accountd\", Bearer realm=\"accountd\"";

impl Answer {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            swedish: None,
            errors: Vec::new(),
            challenge: false,
            retry_after: None,
            second_factor: None,
        }
    }

    fn swedish(mut self, detail: impl Into<String>) -> Self {
        self.swedish = Some(detail.into());
        self
    }

    fn errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    fn challenge(mut self) -> Self {
        self.challenge = true;
        self
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn problem(self, in_swedish: bool) -> Problem {
        let detail = match self.swedish {
            Some(swedish) if in_swedish => swedish,
            _ => self.detail,
        };
        let second = self.second_factor;
        Problem {
            kind: format!("urn:accountd:problem:{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            details: detail.clone(),
            detail,
            errors: self.errors,
            challenge: second.as_ref().map(|s| s.challenge.clone()),
            methods: second.as_ref().map(|s| s.methods.clone()),
            challenge_expires_at: second.as_ref().map(|s| s.expires_at.as_millis()),
            passkey_options: second.and_then(|s| s.passkey_options),
        }
    }

    fn into_response(self, in_swedish: bool, challenge: &'static str) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let body = serde_json::to_vec(&self.problem(in_swedish)).unwrap_or_else(|_| b"{}".to_vec());
        response.body(body)
    }
}

/// Values that fail validation (400), each in `errors[]`.
fn invalid(values: &[InvalidValue]) -> Answer {
    let names: Vec<&str> = values.iter().map(|e| e.field).collect();
    Answer::new(
        StatusCode::BAD_REQUEST,
        "validation",
        "Invalid input",
        format!("Invalid value for: {}.", names.join(", ")),
    )
    .swedish(format!("Ogiltigt värde för: {}.", names.join(", ")))
    .errors(values.iter().map(FieldError::from).collect())
}

/// Members the caller may not change about themself (403 `forbidden`, one shape in every dialect),
/// one `errors[]` entry of code `read_only` each.
fn read_only(fields: &[&str]) -> Answer {
    Answer::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Forbidden",
        format!(
            "The caller is not allowed to change these members of their own account: {}.",
            fields.join(", ")
        ),
    )
    .swedish("Anroparen får inte ändra dessa medlemmar av sitt eget konto.")
    .errors(
        fields
            .iter()
            .map(|field| FieldError {
                field: (*field).to_owned(),
                code: "read_only".into(),
                message: format!("{field} can't be changed by the user themself"),
            })
            .collect(),
    )
}

/// The Application Server failed (502), or none is configured where one is needed (500: our bug).
fn upstream_failed(status: StatusCode) -> Answer {
    Answer::new(
        status,
        "upstream-failed",
        "Application Server failure",
        "The Application Server failed; nothing was changed.",
    )
    .swedish(UPSTREAM_FAILED_SV)
}

const UPSTREAM_FAILED_SV: &str = "Applikationsservern misslyckades; inget ändrades.";

impl ApiError {
    /// Invalid values, every one of them.
    pub fn invalid(errors: Vec<InvalidValue>) -> Self {
        ApiError::Service(ServiceError::Invalid(errors))
    }

    /// The error table: one row per case, and no wildcard, so a new variant (of `ApiError`,
    /// `ServiceError`, `UpstreamError` or `StoreError`) does not compile until its row is written.
    fn answer(&self) -> Answer {
        use ApiError as E;
        use ServiceError as S;
        use StatusCode as C;
        match self {
            E::Service(S::Unauthenticated) => Answer::new(
                C::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "The caller cannot be authenticated.",
            )
            .swedish("Anroparen kan inte autentiseras.")
            .challenge(),
            E::Service(S::BadCredentials) => Answer::new(
                C::UNAUTHORIZED,
                "bad-credentials",
                "Invalid credentials",
                "Invalid username or password.",
            )
            .swedish("Ogiltigt användarnamn eller lösenord.")
            .challenge(),
            E::Service(S::Forbidden(why)) => Answer::new(
                C::FORBIDDEN,
                "forbidden",
                "Forbidden",
                format!("The caller is not allowed to access this resource: {why}."),
            )
            .swedish("Anroparen får inte komma åt den här resursen."),
            E::Service(S::ReadOnly(fields)) => read_only(fields),
            E::Service(S::WrongSecret(what)) => Answer::new(
                C::FORBIDDEN,
                "wrong-secret",
                "Wrong credentials",
                format!("The {what} is not correct."),
            ),
            E::Service(S::NotFound(what)) => {
                Answer::new(C::NOT_FOUND, "not-found", "Not found", format!("No such {what}."))
                    .swedish("Det efterfrågade finns inte.")
            }
            E::Service(S::Invalid(values)) => invalid(values),
            E::Service(S::Policy { field, violations }) => Answer::new(
                C::BAD_REQUEST,
                "policy",
                "Policy not met",
                format!("The {field} breaks {} rule(s) of the policy.", violations.len()),
            )
            .errors(violations.iter().map(FieldError::from).collect()),
            E::Service(S::Conflict(field)) => Answer::new(
                C::CONFLICT,
                "conflict",
                "Conflict",
                format!("The {field} is already taken."),
            ),
            E::Service(S::PreconditionFailed) => Answer::new(
                C::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                "The resource changed since it was read (If-Match does not match its ETag).",
            ),
            E::Service(S::PreconditionRequired) => Answer::new(
                C::PRECONDITION_REQUIRED,
                "precondition-required",
                "Precondition required",
                "This change needs an If-Match header with the resource's ETag.",
            ),
            E::Service(S::SecondFactorRequired(challenge)) => Answer {
                second_factor: Some(challenge.clone()),
                ..Answer::new(
                    C::UNAUTHORIZED,
                    "second-factor-required",
                    "Second factor required",
                    "The password is right; this account also needs a second factor. Send the challenge \
                     back to POST /api/v1/login/ with a code from the authenticator app (\"code\"), a \
                     recovery code (\"recovery_code\") or a passkey's answer to passkey_options (\"passkey\").",
                )
            },
            E::Service(S::ResetLinkInvalid) => Answer::new(
                C::BAD_REQUEST,
                "reset-link-invalid",
                "Password-reset link not valid",
                "This password-reset link is unknown, already used or expired. Ask for a new one: POST \
                 /api/v1/password_reset/. Nothing was changed.",
            ),
            E::Service(S::EmailChangeLinkInvalid) => Answer::new(
                C::BAD_REQUEST,
                "email-change-link-invalid",
                "E-mail change link not valid",
                "This link to confirm a new e-mail address is unknown, already used, replaced by a newer \
                 change, cancelled or expired. Change the address again on the account page to get a new \
                 one. Nothing was changed.",
            ),
            E::Service(S::ResetUnavailable(why)) => Answer::new(
                C::CONFLICT,
                "password-reset-unavailable",
                "Password reset by e-mail unavailable",
                format!("{why} Nothing was changed."),
            ),
            E::Service(S::PasswordChangeRequired) => Answer::new(
                C::FORBIDDEN,
                "password-change-required",
                "Password change required",
                "An event of this account was reported as not the account holder's: every session and token \
                 was ended, and the password must be changed before anything else: POST \
                 /api/portal/v1.3/currentuser/changepassword (oldPassword, newPassword). Nothing was changed.",
            )
            .swedish(
                "En händelse på kontot rapporterades som inte kontoinnehavarens: lösenordet måste bytas innan \
                 något annat görs. Inget ändrades.",
            ),
            E::Service(S::ReadOnlyToken) => Answer::new(
                C::FORBIDDEN,
                "read-only-token",
                "Read-only API token",
                "This API token has the scope read: it may only use safe methods (GET, HEAD, OPTIONS). \
                 Nothing was changed; create a token with the scope full to make changes.",
            ),
            E::Service(S::PasskeyRefused) => Answer::new(
                C::BAD_REQUEST,
                "passkey-refused",
                "Passkey refused",
                "The authenticator's answer was refused (its signature, origin or challenge is wrong, or it did \
                 not verify the user). Nothing was changed; begin again.",
            ),
            E::Service(S::BasicWithSecondFactor) => Answer::new(
                C::UNAUTHORIZED,
                "second-factor-basic-refused",
                "HTTP Basic refused for this account",
                "This account has a second factor, which HTTP Basic can't carry. Sign in with POST \
                 /api/v1/login/ (password, then code), or use an API token (Authorization: Bearer).",
            )
            .swedish(
                "Kontot har en andra faktor, som HTTP Basic inte kan bära. Logga in med POST /api/v1/login/ \
                 eller använd en API-token (Authorization: Bearer).",
            ),
            E::Service(S::ReauthenticationRequired) => Answer::new(
                C::UNAUTHORIZED,
                "reauthentication-required",
                "Re-authentication required",
                "This change needs the password or a second factor proved again within the last minutes: \
                 POST /api/v1/session/reauthenticate/, then retry. Nothing was changed.",
            ),
            E::Service(S::EnrollmentRequired) => Answer::new(
                C::FORBIDDEN,
                "second-factor-enrollment-required",
                "Second factor enrollment required",
                "This account must enroll a second factor before anything else: POST \
                 /api/v1/session/second_factors/totp/. Nothing was changed.",
            ),
            E::Service(S::Throttled { retry_after_seconds }) => Answer::new(
                C::TOO_MANY_REQUESTS,
                "throttled",
                "Too many attempts",
                format!("Too many failed attempts; try again in {retry_after_seconds} seconds."),
            )
            .swedish(format!(
                "För många misslyckade försök; försök igen om {retry_after_seconds} sekunder."
            ))
            .retry_after(*retry_after_seconds),
            E::Service(S::Upstream(UpstreamError::Timeout)) => Answer::new(
                C::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Application Server timeout",
                "The Application Server did not answer in time; nothing was changed.",
            )
            .swedish("Applikationsservern svarade inte i tid; inget ändrades."),
            E::Service(S::Upstream(UpstreamError::Rejected { details })) => Answer::new(
                C::BAD_GATEWAY,
                "upstream-rejected",
                "Refused by the Application Server",
                format!("The Application Server refused the change; nothing was changed: {details}"),
            )
            .swedish(UPSTREAM_FAILED_SV),
            E::Service(S::Upstream(UpstreamError::Unauthorized | UpstreamError::Unavailable(_))) => {
                upstream_failed(C::BAD_GATEWAY)
            }
            E::Service(S::Upstream(UpstreamError::Disabled)) => upstream_failed(C::INTERNAL_SERVER_ERROR),
            E::Service(S::Upstream(UpstreamError::NotAttempted { retry_after_seconds })) => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "upstream-unavailable",
                "Application Server not called",
                format!(
                    "The Application Server is overloaded or failing, so it was not called; nothing was \
                     changed. Try again in {retry_after_seconds} seconds."
                ),
            )
            .swedish(format!(
                "Applikationsservern är överbelastad eller fungerar inte och anropades inte; inget ändrades. \
                 Försök igen om {retry_after_seconds} sekunder."
            ))
            .retry_after(*retry_after_seconds),
            E::Service(S::UserBusy) => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "user-busy",
                "Another change of this user is in progress",
                "Another change of this user is still being applied; nothing was changed. Try again.",
            )
            .swedish("En annan ändring av den här användaren pågår; inget ändrades. Försök igen.")
            .retry_after(1),
            E::Service(S::HashingBusy { retry_after_seconds }) => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "hashing-busy",
                "Too many passwords being checked",
                format!(
                    "The server is checking too many passwords at once; nothing was changed. Try again in \
                     {retry_after_seconds} seconds."
                ),
            )
            .swedish(format!(
                "Servern kontrollerar för många lösenord samtidigt; inget ändrades. Försök igen om \
                 {retry_after_seconds} sekunder."
            ))
            .retry_after(*retry_after_seconds),
            E::Service(S::Store(StoreError::Unavailable(_))) => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "The database is busy or unreachable; nothing was changed. Try again.",
            )
            .swedish("Databasen är upptagen eller kan inte nås; inget ändrades. Försök igen.")
            .retry_after(1),
            // A full disk is the operator's to fix; reads go on meanwhile (docs/operations.md).
            E::Service(S::Store(StoreError::Full(_))) => Answer::new(
                C::INSUFFICIENT_STORAGE,
                "storage-full",
                "Storage full",
                "The database's storage is full; nothing was changed. Reading still works; try the change again later.",
            )
            .swedish("Databasens lagring är full; inget ändrades. Läsning fungerar fortfarande; försök igen senare.")
            .retry_after(60),
            // `ServiceError::from(StoreError)` turns the first three into their own variants: here
            // they are a bug, like the rest.
            E::Service(
                S::Store(
                    StoreError::NotFound(_)
                    | StoreError::Conflict(_)
                    | StoreError::VersionMismatch
                    | StoreError::Corrupt(_)
                    | StoreError::Backend(_),
                )
                | S::Hashing(_),
            ) => Answer::new(
                C::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "An internal error occurred; it has been logged.",
            )
            .swedish("Ett internt fel inträffade; det har loggats."),
            // A `BadRequest` of the SuperOffice route is built in the caller's language.
            E::BadRequest { details, errors } => {
                Answer::new(C::BAD_REQUEST, "bad-request", "Bad request", details.clone()).errors(errors.clone())
            }
            E::UnsupportedMediaType(details) => Answer::new(
                C::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                details.clone(),
            ),
            E::PayloadTooLarge { limit } => Answer::new(
                C::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                format!("The request body is larger than {limit} bytes."),
            ),
            E::BodyTimeout { after } => Answer::new(
                C::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                format!(
                    "The request body did not arrive within {} ms of its headers.",
                    after.as_millis()
                ),
            ),
            E::Xsrf => Answer::new(
                C::FORBIDDEN,
                "xsrf",
                "XSRF token missing or wrong",
                "Requests that change something with a session cookie need the X-XSRF-TOKEN header equal to the \
                 XSRF-TOKEN cookie.",
            ),
            E::NotAcceptable => Answer::new(
                C::NOT_ACCEPTABLE,
                "not-acceptable",
                "Not acceptable",
                "None of the media types in Accept can be produced.",
            )
            .swedish("Ingen av medietyperna i Accept kan levereras."),
            E::NoRoute { status } if *status == C::METHOD_NOT_ALLOWED => Answer::new(
                *status,
                "method-not-allowed",
                "Method not allowed",
                "This resource does not support that method.",
            )
            .swedish("Resursen stöder inte den metoden."),
            E::NoRoute { status } => Answer::new(*status, "no-route", "Not found", "No resource at this path.")
                .swedish("Det finns ingen resurs på den här sökvägen."),
            E::Busy => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "The server is shutting down or overloaded.",
            )
            .swedish("Servern stängs av eller är överbelastad.")
            .retry_after(1),
            E::NotReady => Answer::new(
                C::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "The database is unreachable or its migrations are pending.",
            )
            .retry_after(1),
        }
    }

    /// The problem+json body, in English.
    pub fn problem(&self) -> Problem {
        self.answer().problem(false)
    }

    /// As [`ResponseError::error_response`], for a SuperOffice client: a 401 offers the `SOTicket`
    /// scheme too, and `detail` is in Swedish where the table has a Swedish text and the client
    /// asks for it (`in_swedish`).
    pub(crate) fn superoffice_error_response(&self, in_swedish: bool) -> HttpResponse {
        self.respond(in_swedish, SUPEROFFICE_CHALLENGE)
    }

    fn respond(&self, in_swedish: bool, challenge: &'static str) -> HttpResponse {
        let answer = self.answer();
        if answer.status.is_server_error() {
            // The full internal text goes to the log only.
            tracing::error!(error = ?self, "request failed");
        }
        answer.into_response(in_swedish, challenge)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.answer().status
    }

    fn error_response(&self) -> HttpResponse {
        self.respond(false, CHALLENGE)
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
    fn headers_and_swedish_texts_come_from_the_table() {
        let response = |e: ApiError, swedish: bool| {
            if swedish {
                e.superoffice_error_response(true)
            } else {
                e.error_response()
            }
        };
        let unauthenticated = response(ApiError::Service(ServiceError::Unauthenticated), false);
        assert_eq!(
            unauthenticated.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            CHALLENGE
        );
        let superoffice = ApiError::Service(ServiceError::Unauthenticated).superoffice_error_response(false);
        assert_eq!(
            superoffice.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            SUPEROFFICE_CHALLENGE
        );
        let throttled = response(
            ApiError::Service(ServiceError::Throttled { retry_after_seconds: 7 }),
            true,
        );
        assert_eq!(throttled.headers().get(header::RETRY_AFTER).unwrap(), "7");
        assert_eq!(
            response(ApiError::Busy, false)
                .headers()
                .get(header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        // No Swedish text in the table: the English one.
        assert!(
            !response(ApiError::Xsrf, true)
                .headers()
                .contains_key(header::RETRY_AFTER)
        );
        assert_eq!(
            ApiError::Xsrf.answer().problem(true).detail,
            ApiError::Xsrf.problem().detail
        );
        assert_eq!(
            ApiError::NotAcceptable.answer().problem(true).detail,
            "Ingen av medietyperna i Accept kan levereras."
        );
    }

    #[test]
    fn read_only_members_are_each_named() {
        let problem = ApiError::Service(ServiceError::ReadOnly(vec!["phoneNumber", "department"])).problem();
        assert_eq!(problem.status, 403);
        assert_eq!(problem.kind, "urn:accountd:problem:forbidden");
        let codes: Vec<(&str, &str)> = problem
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(codes, [("phoneNumber", "read_only"), ("department", "read_only")]);
    }

    #[test]
    fn status_table() {
        let s = |e: ServiceError| ApiError::Service(e).status_code().as_u16();
        assert_eq!(s(ServiceError::Unauthenticated), 401);
        assert_eq!(s(ServiceError::WrongSecret("old password")), 403);
        assert_eq!(s(ServiceError::NotFound("user")), 404);
        assert_eq!(
            ApiError::BodyTimeout {
                after: std::time::Duration::from_secs(1)
            }
            .status_code()
            .as_u16(),
            408
        );
        assert_eq!(s(ServiceError::Conflict("username")), 409);
        assert_eq!(s(ServiceError::PreconditionFailed), 412);
        assert_eq!(s(ServiceError::PreconditionRequired), 428);
        assert_eq!(s(ServiceError::Throttled { retry_after_seconds: 5 }), 429);
        assert_eq!(s(ServiceError::Upstream(UpstreamError::Timeout)), 504);
        assert_eq!(s(ServiceError::Store(StoreError::Unavailable("busy".into()))), 503);
        assert_eq!(
            s(ServiceError::Store(StoreError::Full("database or disk is full".into()))),
            507
        );
        assert_eq!(s(ServiceError::UserBusy), 503);
        let busy = ApiError::Service(ServiceError::HashingBusy { retry_after_seconds: 4 });
        assert_eq!(busy.status_code().as_u16(), 503);
        assert_eq!(busy.problem().kind, "urn:accountd:problem:hashing-busy");
        assert_eq!(busy.error_response().headers().get(header::RETRY_AFTER).unwrap(), "4");
        assert_eq!(
            s(ServiceError::Upstream(UpstreamError::NotAttempted {
                retry_after_seconds: 3
            })),
            503
        );
    }
}
