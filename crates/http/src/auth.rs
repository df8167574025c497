//! The authentication extractor: `Authorization: Basic`, `Bearer` (API tokens), `SoTicket`
//! (a session id), or the `sessionid` cookie. With the cookie, an unsafe method (anything but GET,
//! HEAD, OPTIONS) also needs `X-XSRF-TOKEN` equal to the `XSRF-TOKEN` cookie and bound to the
//! session (double submit, keyed to the session id): else 403 before any database work.

use crate::AppState;
use crate::context::{blocking, context_of};
use crate::error::ApiError;
use accountd_domain::ports::Store;
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::secret::Password;
use accountd_policy::tokens::constant_time_eq;
use accountd_service::ServiceError;
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use zeroize::Zeroizing;

pub const SESSION_COOKIE: &str = "sessionid";
pub const XSRF_COOKIE: &str = "XSRF-TOKEN";
pub const XSRF_HEADER: &str = "x-xsrf-token";

/// The credentials a request carries, read from its headers. `Debug` shows the Basic username
/// and nothing else: passwords, bearer tokens, tickets and session ids are secrets.
enum Credentials {
    Basic {
        username: String,
        password: Password,
    },
    Bearer(String),
    SoTicket(String),
    /// `xsrf`: the `X-XSRF-TOKEN` header when it equals the `XSRF-TOKEN` cookie.
    Cookie {
        session: String,
        safe: bool,
        xsrf: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REDACTED: &str = "<redacted>";
        match self {
            Credentials::Basic { username, password } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", password)
                .finish(),
            Credentials::Bearer(_) => f.debug_tuple("Bearer").field(&REDACTED).finish(),
            Credentials::SoTicket(_) => f.debug_tuple("SoTicket").field(&REDACTED).finish(),
            Credentials::Cookie { safe, xsrf, .. } => f
                .debug_struct("Cookie")
                .field("session", &REDACTED)
                .field("safe", safe)
                .field("xsrf", &xsrf.as_ref().map(|_| REDACTED))
                .finish(),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn read_credentials(req: &HttpRequest) -> Result<Credentials, ServiceError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ServiceError::Unauthenticated)?;
        let (scheme, rest) = value.split_once(' ').ok_or(ServiceError::Unauthenticated)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .map_err(|_| ServiceError::Unauthenticated)?;
                // Zeroed when dropped: it holds the password.
                let decoded = Zeroizing::new(decoded);
                let text = std::str::from_utf8(&decoded).map_err(|_| ServiceError::Unauthenticated)?;
                let (username, password) = text.split_once(':').ok_or(ServiceError::Unauthenticated)?;
                Ok(Credentials::Basic {
                    username: username.to_owned(),
                    // An empty or oversized password can't be right.
                    password: Password::new(password).map_err(|_| ServiceError::BadCredentials)?,
                })
            }
            "bearer" => Ok(Credentials::Bearer(rest.to_owned())),
            "soticket" => Ok(Credentials::SoTicket(rest.to_owned())),
            _ => Err(ServiceError::Unauthenticated),
        };
    }
    let session = req
        .cookie(SESSION_COOKIE)
        .ok_or(ServiceError::Unauthenticated)?
        .value()
        .to_owned();
    let safe = is_safe(req.method());
    let header = req
        .headers()
        .get(XSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cookie = req
        .cookie(XSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let xsrf =
        (!header.is_empty() && constant_time_eq(header.as_bytes(), cookie.as_bytes())).then(|| header.to_owned());
    Ok(Credentials::Cookie { session, safe, xsrf })
}

/// The authenticated caller of a request; handlers take it as an argument.
#[derive(Debug)]
pub struct Caller<S> {
    pub principal: Principal,
    _store: PhantomData<fn() -> S>,
}

impl<S: Store> FromRequest for Caller<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState<S>>>().cloned();
        let credentials = read_credentials(req);
        let ctx = context_of(req);
        let enrolling_allowed = crate::factors::allowed_while_enrolling(req.method(), req.path());
        let changing_password = crate::timeline::allowed_while_changing_password(req.method(), req.path());
        let safe_method = is_safe(req.method());
        Box::pin(async move {
            let state = state.ok_or(ApiError::Busy)?;
            let services = state.services.clone();
            let principal = match credentials? {
                Credentials::Cookie { session, safe, xsrf } => {
                    if !safe {
                        // The token must be the one bound to this session, not just any matching pair.
                        let bound = services.xsrf_token_for(&session).ok_or(ServiceError::Unauthenticated)?;
                        if !xsrf.is_some_and(|x| constant_time_eq(x.as_bytes(), bound.as_bytes())) {
                            return Err(ApiError::Xsrf);
                        }
                    }
                    session_principal(services, session, AuthMethod::Session).await?
                }
                Credentials::SoTicket(token) => session_principal(services, token, AuthMethod::SoTicket).await?,
                Credentials::Bearer(token) => blocking(move || services.authenticate_bearer(&token)).await?,
                Credentials::Basic { username, password } => {
                    // The common case (a remembered verification) on this worker, on SQLite.
                    let here = services
                        .reads_here()
                        .then(|| services.authenticate_basic_here(&username, &password, &ctx))
                        .flatten();
                    match here {
                        Some(answer) => answer?,
                        None => blocking(move || services.authenticate_basic(&username, &password, &ctx)).await?,
                    }
                }
            };
            // A demanded password change comes first: a caller held to it may only change the
            // password (whether or not it must also enroll a factor), read who it is, sign out.
            if principal.password_change_only && !changing_password {
                return Err(ServiceError::PasswordChangeRequired.into());
            }
            if principal.enrollment_only && !enrolling_allowed && !principal.password_change_only {
                return Err(ServiceError::EnrollmentRequired.into());
            }
            if principal.read_only && !safe_method {
                return Err(ServiceError::ReadOnlyToken.into());
            }
            Ok(Caller {
                principal,
                _store: PhantomData,
            })
        })
    }
}

/// The principal of a session: on this worker when the store reads in microseconds here
/// (SQLite: one indexed read on the worker's own connection, DESIGN.md's measured exception),
/// else, or when the session must be touched or ended, on the blocking pool.
async fn session_principal<S: Store>(
    services: std::sync::Arc<accountd_service::Services<S>>,
    token: String,
    method: AuthMethod,
) -> Result<Principal, ApiError> {
    if services.reads_here()
        && let Some(answer) = services.authenticate_session_here(&token, method)
    {
        return Ok(answer?);
    }
    blocking(move || services.authenticate_session(&token, method)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn credentials(req: TestRequest) -> String {
        format!("{:?}", read_credentials(&req.to_http_request()))
    }

    #[test]
    fn credentials_do_not_debug_secrets() {
        let basic = base64::engine::general_purpose::STANDARD.encode("jbloggs:Hunter2-Secret!");
        let debug =
            credentials(TestRequest::default().insert_header((header::AUTHORIZATION, format!("Basic {basic}"))));
        assert!(debug.contains("jbloggs") && !debug.contains("Hunter2"), "{debug}");
        for (scheme, secret) in [("Bearer", "tok-3f9a8b7c6d5e"), ("SoTicket", "ticket-1a2b3c4d")] {
            let debug = credentials(
                TestRequest::default().insert_header((header::AUTHORIZATION, format!("{scheme} {secret}"))),
            );
            assert!(
                debug.starts_with(&format!("Ok({scheme}(")) && !debug.contains(secret),
                "{debug}"
            );
        }
        let debug = credentials(
            TestRequest::post()
                .cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, "sess-9f8e7d6c"))
                .cookie(actix_web::cookie::Cookie::new(XSRF_COOKIE, "xsrf-5b4a3c2d"))
                .insert_header((XSRF_HEADER, "xsrf-5b4a3c2d")),
        );
        assert!(debug.contains("Cookie") && debug.contains("Some"), "{debug}");
        assert!(!debug.contains("sess-9f8e") && !debug.contains("xsrf-5b4a"), "{debug}");
    }

    #[test]
    fn an_empty_basic_password_is_bad_credentials() {
        let basic = base64::engine::general_purpose::STANDARD.encode("jbloggs:");
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Basic {basic}")))
            .to_http_request();
        assert!(matches!(read_credentials(&req), Err(ServiceError::BadCredentials)));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic bm9jb2xvbg=="))
            .to_http_request();
        assert!(matches!(read_credentials(&req), Err(ServiceError::Unauthenticated)));
    }
}
