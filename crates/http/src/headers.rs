//! The headers every answer carries, set in one place: [`personal_data`], a middleware the server
//! wraps around every route, rather than by each handler (a handler that forgets is still covered).
//!
//! - `Cache-Control: no-store`, unless the handler chose its own. The API's answers are about a
//!   person (the caller's profile and sessions, the users an administrator manages, a login) and
//!   change at any moment: no shared cache nor the browser keeps them. Only the pages and
//!   documents that hold nothing personal (`/account/` and its assets, `/docs` and its assets,
//!   `/openapi.json`) choose `no-cache` with an ETag.
//! - `X-Content-Type-Options: nosniff`: a browser takes every answer as its declared media type,
//!   never guesses script or HTML out of a JSON or XML body that echoes user data.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// Middleware: adds `Cache-Control: no-store` (unless the handler set a `Cache-Control`) and
/// `X-Content-Type-Options: nosniff` to every response, errors included.
pub async fn personal_data(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
