//! The problem responses of the OpenAPI document, each written once: an operation lists the ones
//! it can answer with in `#[utoipa::path(responses(...))]` (`problem::Unauthenticated`, …), and
//! [`crate::openapi`] adds 413, 415, 503 and `default` to every operation that can have them.
//!
//! One type per status, so an operation cannot declare one under the wrong status; the description
//! names the problem `type`s (see [`super::ApiError`]'s table) it may carry.

use super::Problem;
use utoipa::IntoResponses;

#[derive(Debug, IntoResponses)]
#[response(
    status = 400,
    description = "Invalid input: a body, path, query or header that can't be read (`bad-request`), values that \
                   fail validation (`validation`) or a password or PIN that breaks the policy (`policy`); each \
                   problem is in `errors[]`",
    content_type = "application/problem+json"
)]
pub struct BadRequest(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 401,
    description = "Not authenticated (`unauthenticated`), or a wrong username or password (`bad-credentials`)",
    content_type = "application/problem+json"
)]
pub struct Unauthenticated(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 403,
    description = "Refused: not allowed (`forbidden`), a wrong old password or PIN (`wrong-secret`), a member the \
                   caller may not change (named in `errors[]`), or a change sent with a session cookie but without \
                   a matching X-XSRF-TOKEN (`xsrf`)",
    content_type = "application/problem+json"
)]
pub struct Forbidden(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 404,
    description = "What the path or body names does not exist",
    content_type = "application/problem+json"
)]
pub struct NotFound(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 406,
    description = "Accept names none of the media types the operation answers with",
    content_type = "application/problem+json"
)]
pub struct NotAcceptable(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 409,
    description = "A unique value (user id, username, …) is taken",
    content_type = "application/problem+json"
)]
pub struct Conflict(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 412,
    description = "If-Match is stale or malformed",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 408,
    description = "The body did not arrive within the configured time (http.body_timeout_ms)",
    content_type = "application/problem+json"
)]
pub struct RequestTimeout(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 413,
    description = "The body is larger than the configured limit",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 415,
    description = "The body's Content-Type is not the documented one",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 428,
    description = "If-Match is required",
    content_type = "application/problem+json"
)]
pub struct PreconditionRequired(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 429,
    description = "Too many attempts or checks; see Retry-After",
    content_type = "application/problem+json"
)]
pub struct Throttled(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = 503,
    description = "Shutting down, overloaded, the database is unavailable, or another change of the same user is in progress (`user-busy`), or no password-hashing slot came free in time (`hashing-busy`), or the Application Server was not called: too many calls in flight or its circuit breaker open (`upstream-unavailable`); see Retry-After",
    content_type = "application/problem+json"
)]
pub struct Unavailable(pub Problem);

#[derive(Debug, IntoResponses)]
#[response(
    status = "default",
    description = "Any other error, e.g. 507 `storage-full` on a change when the database's disk is full (reads keep working; see Retry-After)",
    content_type = "application/problem+json"
)]
pub struct OtherError(pub Problem);
