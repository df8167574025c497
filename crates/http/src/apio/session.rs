//! The APIO dialect: login and logout, and the session's login info (seed 000), with its deprecated
//! alias. Field names and casing follow the seed exactly (`first_name` beside `emailAddress`).

use super::users::{clearable, nullable};
use crate::auth::{Caller, SESSION_COOKIE, XSRF_COOKIE};
use crate::context::{Ctx, blocking};
use crate::error::responses as problem;
use crate::error::{ApiError, Collect};
use crate::json::Json;
use crate::secret::Secret;
use crate::{AppState, resource};
use accountd_domain::ports::Store;
use accountd_domain::principal::Ids;
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name};
use accountd_domain::user::{ProfileChange, User};
use accountd_service::factors::Proof;
use accountd_service::profile::Actor;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const LOGIN: &str = "/api/v1/login/";
pub const LOGOUT: &str = "/api/v1/logout/";
pub const USER_LOGIN_INFO: &str = "/api/v1/session/user_login_info/";
pub const LOGIN_INFO_DEPRECATED: &str = "/api/v1/session/login_info/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(LOGIN).route(web::post().to(login::<S>)))
        .service(resource(LOGOUT).route(web::post().to(logout::<S>)))
        .service(
            resource(USER_LOGIN_INFO)
                .route(web::get().to(get_login_info::<S>))
                .route(web::put().to(put_login_info::<S>)),
        )
        .service(
            resource(LOGIN_INFO_DEPRECATED)
                .route(web::get().to(get_login_info_deprecated::<S>))
                .route(web::put().to(put_login_info_deprecated::<S>)),
        );
}

/// `POST /api/v1/login/` body: a username and password, or (SSO_LOGIN_DEDICATED) the identity
/// provider's signed token.
// `Debug` (below) shows neither the password nor the token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: Option<String>,
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret<Password>>,
    pub token: Option<String>,
    /// The second step (issue 18): the `challenge` of the `second-factor-required` answer, with
    /// `code` (the authenticator app's) or `recovery_code`.
    pub challenge: Option<String>,
    pub code: Option<String>,
    pub recovery_code: Option<String>,
    /// The second step with a passkey (issue 19): the `PublicKeyCredential` (JSON, binary members
    /// in base64url) that `navigator.credentials.get()` gave for the answer's `passkey_options`.
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
    /// Deprecated by APIO; accepted and ignored.
    #[serde(default)]
    pub provide_basic_profile: Option<bool>,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("password", &self.password)
            // A signed token is a bearer credential until it expires.
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("challenge", &self.challenge.as_ref().map(|_| "<redacted>"))
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("recovery_code", &self.recovery_code.as_ref().map(|_| "<redacted>"))
            .field("passkey", &self.passkey.as_ref().map(|_| "<assertion>"))
            .field("provide_basic_profile", &self.provide_basic_profile)
            .finish()
    }
}

/// Seed 000's `profile`: the optional members appear only when relevant.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct LoginProfile {
    pub user_level: u8,
    pub first_name: String,
    pub last_name: String,
    #[serde(rename = "emailAddress", skip_serializing_if = "Option::is_none", default)]
    pub email_address: Option<String>,
    /// Only in the login answer ("never provided as it is not a login" elsewhere).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub is_first_login: Option<bool>,
}

/// Seed 000's body: `ids`, `profile`, `username`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct LoginInfo {
    #[schema(value_type = crate::openapi::IdsSchema)]
    pub ids: Ids,
    pub profile: LoginProfile,
    pub username: String,
    /// Only in a login answer, and only when true: the session may only enroll a second factor
    /// (`mfa.required_levels`) until it does. Absent for everybody else, as in seed 000.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub second_factor_enrollment_required: bool,
    /// Only when true: the user reported an event as not theirs ("this wasn't me"), and this
    /// session (or HTTP Basic caller) may only change the password until it is changed (POST
    /// /api/portal/v1.3/currentuser/changepassword). In the login answer and in `GET`. Absent for
    /// everybody else, as in seed 000.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub password_change_required: bool,
}

impl LoginInfo {
    pub fn of(user: &User, is_first_login: Option<bool>) -> Self {
        LoginInfo {
            ids: Ids::of(&user.role),
            profile: LoginProfile {
                user_level: user.level().as_u8(),
                first_name: user.profile.first_name.to_string(),
                last_name: user.profile.last_name.to_string(),
                email_address: user.profile.email.as_ref().map(ToString::to_string),
                is_first_login,
            },
            username: user.username.to_string(),
            second_factor_enrollment_required: false,
            password_change_required: false,
        }
    }
}

/// `PUT user_login_info` body: the profile's changeable members, promoted to the root.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInfoUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `null` or `""` clears the address (as on seed 001's PUT); absent keeps it.
    #[serde(rename = "emailAddress", default, deserialize_with = "nullable")]
    pub email_address: Option<Option<String>>,
}

impl LoginInfoUpdate {
    /// The domain change, or every invalid value at once.
    fn into_change(self) -> Result<ProfileChange, ApiError> {
        let mut invalid = Collect::default();
        let first_name = self
            .first_name
            .and_then(|v| invalid.take(Name::parse_for("first_name", v)));
        let last_name = self
            .last_name
            .and_then(|v| invalid.take(Name::parse_for("last_name", v)));
        let email = clearable(&mut invalid, self.email_address, |v| {
            EmailAddress::parse_for("emailAddress", v)
        });
        invalid.finish()?;
        Ok(ProfileChange {
            first_name,
            last_name,
            email,
            ..ProfileChange::default()
        })
    }
}

fn session_cookies<'a>(token: String, xsrf: String, secure: bool, max_age_seconds: i64) -> [Cookie<'a>; 2] {
    let session = Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_seconds))
        .finish();
    // Readable by the page's script, which echoes it in X-XSRF-TOKEN.
    let xsrf = Cookie::build(XSRF_COOKIE, xsrf)
        .path("/")
        .http_only(false)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_seconds))
        .finish();
    [session, xsrf]
}

#[utoipa::path(post, path = "/api/v1/login/", tag = "apio", operation_id = "apio_login",
    summary = "Log in with a username and password, or an identity provider's token",
    description = "Sets the `sessionid` (HttpOnly) and `XSRF-TOKEN` cookies. Give `username` and `password`, or `token` alone. For a user with a second factor the password answers 401 `second-factor-required` with a `challenge` and the `methods` that finish it: send it back with `code`, `recovery_code` or `passkey` (the assertion for the answer's `passkey_options`).",
    request_body(content = LoginBody, content_type = "application/json"),
    security(()),
    responses(
        (status = 200, description = "Logged in; the session's login info", body = LoginInfo),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn login<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
    body: Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let services = state.services.clone();
    let second = (body.challenge, body.code, body.recovery_code, body.passkey);
    let outcome = match (body.username, body.password, body.token, second) {
        (Some(username), Some(password), None, (None, None, None, None)) => {
            let password = password.named("password").map_err(|e| ApiError::invalid(vec![e]))?;
            blocking(move || services.login(&username, &password, &ctx)).await?
        }
        (None, None, Some(token), (None, None, None, None)) => {
            blocking(move || services.login_sso(&token, &ctx)).await?
        }
        (None, None, None, (Some(challenge), Some(code), None, None)) => {
            blocking(move || services.login_second_factor(&challenge, &Proof::Totp(&code), &ctx)).await?
        }
        (None, None, None, (Some(challenge), None, Some(code), None)) => {
            blocking(move || services.login_second_factor(&challenge, &Proof::RecoveryCode(&code), &ctx)).await?
        }
        (None, None, None, (Some(challenge), None, None, Some(credential))) => {
            blocking(move || {
                let proof = Proof::Passkey {
                    ceremony: None,
                    credential: &credential,
                };
                services.login_second_factor(&challenge, &proof, &ctx)
            })
            .await?
        }
        _ => {
            return Err(ApiError::BadRequest {
                details: "Give username and password, or token, or challenge with code, recovery_code or passkey."
                    .into(),
                errors: vec![],
            });
        }
    };
    Ok(login_answer(&state, outcome))
}

/// The answer to a login that opened a session: its cookies and the session's login info.
pub(crate) fn login_answer<S: Store>(
    state: &AppState<S>,
    outcome: accountd_service::auth::LoginOutcome,
) -> HttpResponse {
    let max_age = state.services.config().sessions.absolute_timeout_seconds;
    let [session, xsrf] = session_cookies(
        outcome.session_token,
        outcome.xsrf_token,
        state.config.secure_cookies,
        max_age,
    );
    HttpResponse::Ok().cookie(session).cookie(xsrf).json(LoginInfo {
        second_factor_enrollment_required: outcome.enrollment_only,
        password_change_required: outcome.password_change_required,
        ..LoginInfo::of(&outcome.user, Some(outcome.is_first_login))
    })
}

#[utoipa::path(post, path = "/api/v1/logout/", tag = "apio", operation_id = "apio_logout",
    summary = "End the caller's session and clear its cookies",
    responses(
        (status = 200, description = "Logged out", body = crate::openapi::Empty),
        problem::Unauthenticated,
    ))]
pub(crate) async fn logout<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    blocking(move || services.logout(&caller.principal, &ctx)).await?;
    Ok(without_session_cookies(&state).json(serde_json::json!({})))
}

/// A 200 answer that removes the session and XSRF cookies (the session has ended).
pub(crate) fn without_session_cookies<S: Store>(state: &AppState<S>) -> actix_web::HttpResponseBuilder {
    let mut gone = session_cookies(String::new(), String::new(), state.config.secure_cookies, 0);
    let mut response = HttpResponse::Ok();
    for cookie in &mut gone {
        cookie.make_removal();
        response.cookie(cookie.clone());
    }
    response
}

fn deprecated(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        header::HeaderName::from_static("deprecation"),
        header::HeaderValue::from_static("true"),
    );
    headers.insert(
        header::LINK,
        header::HeaderValue::from_static("</api/v1/session/user_login_info/>; rel=\"successor-version\""),
    );
    response
}

#[utoipa::path(get, path = "/api/v1/session/user_login_info/", tag = "apio", operation_id = "apio_get_user_login_info",
    summary = "The caller's login info",
    responses(
        (status = 200, description = "The caller's ids, profile and username", body = LoginInfo),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_login_info<S: Store>(caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(LoginInfo {
        password_change_required: caller.principal.password_change_only,
        ..LoginInfo::of(&caller.principal.user, None)
    }))
}

#[utoipa::path(put, path = "/api/v1/session/user_login_info/", tag = "apio", operation_id = "apio_put_user_login_info",
    summary = "Change the caller's first name, last name or email address",
    request_body(content = LoginInfoUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated login info", body = LoginInfo),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn put_login_info<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<LoginInfoUpdate>,
) -> Result<HttpResponse, ApiError> {
    let change = body.into_inner().into_change()?;
    let services = state.services.clone();
    let principal = caller.principal;
    let updated =
        blocking(move || services.update_profile(Actor::Caller(&principal), principal.user.key, None, &change, &ctx))
            .await?;
    Ok(HttpResponse::Ok().json(LoginInfo::of(&updated, None)))
}

#[utoipa::path(get, path = "/api/v1/session/login_info/", tag = "apio", operation_id = "apio_get_login_info_deprecated",
    summary = "Deprecated alias of GET /api/v1/session/user_login_info/", 
    responses(
        (status = 200, description = "The caller's login info (with `Deprecation: true`)", body = LoginInfo),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_login_info_deprecated<S: Store>(caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    get_login_info(caller).await.map(deprecated)
}

#[utoipa::path(put, path = "/api/v1/session/login_info/", tag = "apio", operation_id = "apio_put_login_info_deprecated",
    summary = "Deprecated alias of PUT /api/v1/session/user_login_info/",
    request_body(content = LoginInfoUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated login info (with `Deprecation: true`)", body = LoginInfo),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn put_login_info_deprecated<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    ctx: Ctx,
    body: Json<LoginInfoUpdate>,
) -> Result<HttpResponse, ApiError> {
    put_login_info(state, caller, ctx, body).await.map(deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_reports_every_invalid_field() {
        let update = LoginInfoUpdate {
            first_name: Some(" ".into()),
            last_name: Some("Doe".into()),
            email_address: Some(Some("not-an-address".into())),
        };
        let Err(ApiError::Service(accountd_service::ServiceError::Invalid(errors))) = update.into_change() else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["first_name", "emailAddress"]);
    }

    #[test]
    fn empty_or_null_email_clears_and_absent_keeps() {
        let change = |body: &str| {
            serde_json::from_str::<LoginInfoUpdate>(body)
                .unwrap()
                .into_change()
                .unwrap()
        };
        assert_eq!(change(r#"{"emailAddress": ""}"#).email, Some(None));
        assert_eq!(change(r#"{"emailAddress": null}"#).email, Some(None));
        assert_eq!(change(r#"{"first_name": "A"}"#).email, None);
        assert!(
            change(r#"{"emailAddress": "a@example.com"}"#)
                .email
                .is_some_and(|e| e.is_some())
        );
    }

    #[test]
    fn login_body_debug_shows_no_secret() {
        let body: LoginBody = serde_json::from_str(
            r#"{"username": "jbloggs", "password": "Hunter2-Secret!", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"}"#,
        )
        .unwrap();
        let debug = format!("{body:?}");
        assert!(debug.contains("jbloggs"), "{debug}");
        for secret in ["Hunter2", "eyJhbGci", "c2ln"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert_eq!(
            body.password.unwrap().named("password").unwrap().expose(),
            "Hunter2-Secret!"
        );
        // A refused password is named as before, without its value.
        let body: LoginBody = serde_json::from_str(r#"{"username": "u", "password": ""}"#).unwrap();
        let err = body.password.unwrap().named("password").unwrap_err();
        assert_eq!(err.field, "password");
    }
}
