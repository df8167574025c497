//! Passkeys over HTTP (issue 19; docs/second-factors.md, "Passkeys"): the caller's passkeys
//! (list, register, remove), sign-in with a passkey alone, and the options to re-authenticate with
//! one. A passkey as the second step of a password login is on `POST /api/v1/login/` itself.
//!
//! Every ceremony takes two calls: the first answers a `ceremony` handle and the `options` for
//! `navigator.credentials.create()` / `.get()` (`{"publicKey": …}`, binary members in base64url);
//! the second sends the handle back with what the browser answered.

use crate::AppState;
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::resource;
use accountd_domain::ports::Store;
use accountd_service::passkeys::{CeremonyOptions, PasskeyInfo};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PASSKEYS: &str = "/api/v1/session/second_factors/passkeys/";
pub const REGISTRATION_OPTIONS: &str = "/api/v1/session/second_factors/passkeys/options/";
pub const PASSKEY: &str = "/api/v1/session/second_factors/passkeys/{id}/";
pub const SIGN_IN_OPTIONS: &str = "/api/v1/login/passkey/options/";
pub const SIGN_IN: &str = "/api/v1/login/passkey/";
pub const REAUTHENTICATE_OPTIONS: &str = "/api/v1/session/reauthenticate/options/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(PASSKEYS)
            .route(web::get().to(list::<S>))
            .route(web::post().to(register::<S>)),
    )
    .service(resource(REGISTRATION_OPTIONS).route(web::post().to(registration_options::<S>)))
    .service(resource(PASSKEY).route(web::delete().to(remove::<S>)))
    .service(resource(SIGN_IN_OPTIONS).route(web::post().to(sign_in_options::<S>)))
    .service(resource(SIGN_IN).route(web::post().to(sign_in::<S>)))
    .service(resource(REAUTHENTICATE_OPTIONS).route(web::post().to(reauthentication_options::<S>)));
}

/// A ceremony begun: send `ceremony` back with the browser's answer to `options`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CeremonyView {
    /// The handle of this ceremony (single use; it expires with `security.challenge_seconds`).
    pub ceremony: String,
    /// For `navigator.credentials.create()` or `.get()`: `{"publicKey": {…}}`, binary members
    /// (challenge, user id, credential ids) in base64url.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl std::fmt::Debug for CeremonyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeremonyView")
            .field("ceremony", &"<redacted>")
            .field("options", &self.options)
            .finish()
    }
}

impl From<CeremonyOptions> for CeremonyView {
    fn from(c: CeremonyOptions) -> Self {
        CeremonyView {
            ceremony: c.ceremony,
            options: c.options,
        }
    }
}

/// One of the caller's passkeys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    /// ms since the epoch.
    pub created_at: i64,
    /// ms since the epoch; absent until it signs in once.
    pub last_used_at: Option<i64>,
    /// WebAuthn's BE flag: the passkey may be synced between devices (a password manager's).
    pub backup_eligible: bool,
    /// WebAuthn's BS flag: it is backed up now.
    pub backup_state: bool,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at.as_millis(),
            last_used_at: p.last_used_at.map(|t| t.as_millis()),
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
        }
    }
}

/// The caller's passkeys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeysView {
    pub passkeys: Vec<PasskeyView>,
}

/// The browser's answer to a registration's options, and the passkey's name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub ceremony: String,
    /// What the user calls it ("Laptop", "Phone"): 1 to 80 characters.
    pub name: String,
    /// The `PublicKeyCredential` `navigator.credentials.create()` gave (JSON, base64url members).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// The browser's answer to a sign-in's options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub ceremony: String,
    /// The `PublicKeyCredential` `navigator.credentials.get()` gave (JSON, base64url members).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

impl std::fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterBody")
            .field("ceremony", &"<redacted>")
            .field("name", &self.name)
            .field("credential", &"<credential>")
            .finish()
    }
}

impl std::fmt::Debug for SignInBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInBody")
            .field("ceremony", &"<redacted>")
            .field("credential", &"<assertion>")
            .finish()
    }
}

/// A ceremony's options are for this client only and used once: never stored by a cache.
fn ceremony_answer(ceremony: CeremonyOptions) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CeremonyView::from(ceremony))
}

#[utoipa::path(get, path = "/api/v1/session/second_factors/passkeys/", tag = "account", operation_id = "account_list_passkeys",
    summary = "The caller's passkeys",
    responses(
        (status = 200, description = "Oldest first", body = PasskeysView),
        problem::Unauthenticated,
    ))]
pub(crate) async fn list<S: Store>(state: web::Data<AppState<S>>, caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let passkeys = blocking(move || services.passkeys(&caller.principal)).await?;
    Ok(HttpResponse::Ok().json(PasskeysView {
        passkeys: passkeys.into_iter().map(PasskeyView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/session/second_factors/passkeys/options/", tag = "account", operation_id = "account_passkey_registration_options",
    summary = "Begin registering a passkey",
    description = "Answers the options for navigator.credentials.create() and the ceremony to send back with its answer to POST /api/v1/session/second_factors/passkeys/. The passkey must be discoverable and verify its user. Needs a recent sign-in or re-authentication.",
    responses(
        (status = 200, description = "The ceremony", body = CeremonyView),
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn registration_options<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let ceremony = blocking(move || services.begin_passkey_registration(&caller.principal)).await?;
    Ok(ceremony_answer(ceremony))
}

#[utoipa::path(post, path = "/api/v1/session/second_factors/passkeys/", tag = "account", operation_id = "account_register_passkey",
    summary = "Finish registering a passkey",
    description = "Checks the authenticator's answer and stores the passkey under its name. From now on it signs in alone, and it is a second factor after a password. A session that had to enroll a factor may do everything again.",
    request_body(content = RegisterBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = PasskeyView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
    ))]
pub(crate) async fn register<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let services = state.services.clone();
    let passkey = blocking(move || {
        services.finish_passkey_registration(&caller.principal, &body.ceremony, &body.name, body.credential, &ctx)
    })
    .await?;
    Ok(HttpResponse::Created().json(PasskeyView::from(passkey)))
}

#[utoipa::path(delete, path = "/api/v1/session/second_factors/passkeys/{id}/", tag = "account", operation_id = "account_remove_passkey",
    summary = "Remove one of the caller's passkeys",
    description = "It stops signing in at once. With the last factor, the recovery codes go too. Needs a recent sign-in or re-authentication.",
    params(("id" = i64, Path, description = "The passkey's id, from the list")),
    responses(
        (status = 204, description = "Removed"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn remove<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::selfservice::numeric_id(&path.into_inner(), "passkey")?;
    let services = state.services.clone();
    blocking(move || services.remove_passkey(&caller.principal, id, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/login/passkey/options/", tag = "account", operation_id = "account_passkey_sign_in_options",
    summary = "Begin signing in with a passkey alone",
    description = "Answers the options for navigator.credentials.get() (no username: the browser offers the passkeys it holds for this site) and the ceremony to send back with its answer to POST /api/v1/login/passkey/.",
    security(()),
    responses(
        (status = 200, description = "The ceremony", body = CeremonyView),
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn sign_in_options<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let ceremony = blocking(move || services.begin_passkey_sign_in(&ctx)).await?;
    Ok(ceremony_answer(ceremony))
}

#[utoipa::path(post, path = "/api/v1/login/passkey/", tag = "account", operation_id = "account_passkey_sign_in",
    summary = "Sign in with a passkey alone",
    description = "Opens the same session as POST /api/v1/login/ (cookies and login info). A refused passkey is 401 bad-credentials, counted like a wrong password.",
    request_body(content = SignInBody, content_type = "application/json"),
    security(()),
    responses(
        (status = 200, description = "Signed in; the session's login info", body = crate::apio::LoginInfo),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn sign_in<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
    body: Json<SignInBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let services = state.services.clone();
    let outcome = blocking(move || services.finish_passkey_sign_in(&body.ceremony, body.credential, &ctx)).await?;
    Ok(crate::apio::login_answer(&state, outcome))
}

#[utoipa::path(post, path = "/api/v1/session/reauthenticate/options/", tag = "account", operation_id = "account_passkey_reauthentication_options",
    summary = "Begin re-authenticating with a passkey",
    description = "Answers the options for navigator.credentials.get() over the caller's passkeys and the ceremony to send to POST /api/v1/session/reauthenticate/ with the passkey's answer.",
    responses(
        (status = 200, description = "The ceremony", body = CeremonyView),
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn reauthentication_options<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let ceremony = blocking(move || services.begin_passkey_reauthentication(&caller.principal)).await?;
    Ok(ceremony_answer(ceremony))
}
