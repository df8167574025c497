//! Second factors over HTTP (issue 18; docs/second-factors.md): the caller's TOTP authenticator
//! and recovery codes, re-authentication, and an administrator's reset of a user's factors. The
//! login's second step is on `POST /api/v1/login/` itself (`crate::apio`).

use crate::AppState;
use crate::apio::users::member_of;
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::resource;
use crate::secret::Secret;
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use accountd_service::factors::{FactorStatus, Proof, RecoveryCodes};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const FACTORS: &str = "/api/v1/session/second_factors/";
pub const TOTP: &str = "/api/v1/session/second_factors/totp/";
pub const RECOVERY_CODES: &str = "/api/v1/session/second_factors/recovery_codes/";
pub const REAUTHENTICATE: &str = "/api/v1/session/reauthenticate/";
pub const USER_FACTORS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/second_factors/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(FACTORS).route(web::get().to(status::<S>)))
        .service(
            resource(TOTP)
                .route(web::post().to(enroll_totp::<S>))
                .route(web::put().to(confirm_totp::<S>))
                .route(web::delete().to(remove_totp::<S>)),
        )
        .service(resource(RECOVERY_CODES).route(web::post().to(regenerate_recovery_codes::<S>)))
        .service(resource(REAUTHENTICATE).route(web::post().to(reauthenticate::<S>)))
        .service(resource(USER_FACTORS).route(web::delete().to(reset::<S>)));
}

/// Whether a request of a session that may only enroll a factor may go on: the factor routes,
/// re-authentication, logout, and reading its own login info and the account page's status.
pub(crate) fn allowed_while_enrolling(method: &actix_web::http::Method, path: &str) -> bool {
    path.starts_with(FACTORS)
        || path == REAUTHENTICATE
        || path == crate::passkeys::REAUTHENTICATE_OPTIONS
        || path == crate::apio::LOGOUT
        || (method == actix_web::http::Method::GET && path == crate::apio::USER_LOGIN_INFO)
}

/// The caller's second factors.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FactorsView {
    /// `none`, `pending` (enrollment begun, not confirmed) or `enabled`.
    pub totp: String,
    /// When the authenticator was confirmed, in ms since the epoch.
    pub totp_enabled_at: Option<i64>,
    pub recovery_codes_left: u32,
    /// How many passkeys the caller has (`/api/v1/session/second_factors/passkeys/` lists them).
    pub passkeys: u32,
    /// The session may only enroll a factor until it does (`mfa.required_levels`).
    pub enrollment_required: bool,
}

impl From<FactorStatus> for FactorsView {
    fn from(s: FactorStatus) -> Self {
        FactorsView {
            totp: match s.totp_confirmed {
                None => "none",
                Some(false) => "pending",
                Some(true) => "enabled",
            }
            .to_owned(),
            totp_enabled_at: s.totp_confirmed_at.map(|t| t.as_millis()),
            recovery_codes_left: s.recovery_codes_left,
            passkeys: s.passkeys,
            enrollment_required: s.enrollment_required,
        }
    }
}

/// A TOTP enrollment begun: shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrollmentView {
    /// The secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/…` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri` as an SVG document (rendered here; no third-party service).
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

impl std::fmt::Debug for CodeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeBody(<redacted>)")
    }
}

/// New recovery codes: shown once, each usable once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodesView {
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodesView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodesView({} codes, <redacted>)", self.recovery_codes.len())
    }
}

impl From<RecoveryCodes> for RecoveryCodesView {
    fn from(codes: RecoveryCodes) -> Self {
        RecoveryCodesView {
            recovery_codes: codes.0,
        }
    }
}

/// One proof: the password (for a user without a factor), a TOTP code, a recovery code, or a
/// passkey's assertion with the `ceremony` of `POST /api/v1/session/reauthenticate/options/`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateBody {
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret<Password>>,
    pub code: Option<String>,
    pub recovery_code: Option<String>,
    pub ceremony: Option<String>,
    /// The `PublicKeyCredential` `navigator.credentials.get()` gave (JSON, base64url members).
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

impl std::fmt::Debug for ReauthenticateBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReauthenticateBody")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("recovery_code", &self.recovery_code.as_ref().map(|_| "<redacted>"))
            .field("ceremony", &self.ceremony.as_ref().map(|_| "<redacted>"))
            .field("passkey", &self.passkey.as_ref().map(|_| "<assertion>"))
            .finish()
    }
}

/// The QR code of `text` as a standalone SVG document.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| ApiError::BadRequest {
        details: "The enrollment URI is too long for a QR code.".into(),
        errors: vec![],
    })?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[utoipa::path(get, path = "/api/v1/session/second_factors/", tag = "account", operation_id = "account_get_second_factors",
    summary = "The caller's second factors",
    responses(
        (status = 200, description = "TOTP state and recovery codes left", body = FactorsView),
        problem::Unauthenticated,
    ))]
pub(crate) async fn status<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let status = blocking(move || services.factor_status(&caller.principal)).await?;
    Ok(HttpResponse::Ok().json(FactorsView::from(status)))
}

#[utoipa::path(post, path = "/api/v1/session/second_factors/totp/", tag = "account", operation_id = "account_enroll_totp",
    summary = "Begin enrolling a TOTP authenticator",
    description = "Answers a new secret, its otpauth URI and QR code (shown once). The authenticator counts once confirmed with PUT. Needs a recent sign-in or re-authentication.",
    responses(
        (status = 201, description = "The enrollment", body = TotpEnrollmentView),
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Conflict,
    ))]
pub(crate) async fn enroll_totp<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let enrollment = blocking(move || services.enroll_totp(&caller.principal, &ctx)).await?;
    let qr_svg = qr_svg(&enrollment.otpauth_uri)?;
    Ok(HttpResponse::Created().json(TotpEnrollmentView {
        secret: enrollment.secret.clone(),
        otpauth_uri: enrollment.otpauth_uri.clone(),
        qr_svg,
    }))
}

#[utoipa::path(put, path = "/api/v1/session/second_factors/totp/", tag = "account", operation_id = "account_confirm_totp",
    summary = "Confirm the TOTP authenticator with its first code",
    description = "Turns the second factor on and answers the first ten recovery codes (shown once).",
    request_body(content = CodeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Enabled; the recovery codes", body = RecoveryCodesView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Throttled,
    ))]
pub(crate) async fn confirm_totp<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let code = body.into_inner().code;
    let codes = blocking(move || services.confirm_totp(&caller.principal, &code, &ctx)).await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesView::from(codes)))
}

#[utoipa::path(delete, path = "/api/v1/session/second_factors/totp/", tag = "account", operation_id = "account_remove_totp",
    summary = "Remove the TOTP authenticator and the recovery codes",
    description = "Needs a recent sign-in or re-authentication.",
    responses(
        (status = 204, description = "Removed"),
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn remove_totp<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    blocking(move || services.remove_totp(&caller.principal, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/session/second_factors/recovery_codes/", tag = "account", operation_id = "account_regenerate_recovery_codes",
    summary = "A new set of recovery codes (the old set stops working)",
    description = "Needs a recent sign-in or re-authentication.",
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodesView),
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn regenerate_recovery_codes<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let codes = blocking(move || services.regenerate_recovery_codes(&caller.principal, &ctx)).await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesView::from(codes)))
}

#[utoipa::path(post, path = "/api/v1/session/reauthenticate/", tag = "account", operation_id = "account_reauthenticate",
    summary = "Prove the password or a second factor again, for sensitive changes",
    description = "Give exactly one of password (users without a second factor), code, recovery_code, or ceremony (from POST /api/v1/session/reauthenticate/options/) with passkey.",
    request_body(content = ReauthenticateBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Proved; sensitive changes are allowed for security.reauth_max_age_seconds"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn reauthenticate<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<ReauthenticateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let services = state.services.clone();
    match (
        body.password,
        body.code,
        body.recovery_code,
        (body.ceremony, body.passkey),
    ) {
        (Some(password), None, None, (None, None)) => {
            let password = password.named("password").map_err(|e| ApiError::invalid(vec![e]))?;
            blocking(move || services.reauthenticate(&caller.principal, &Proof::Password(&password), &ctx)).await?;
        }
        (None, Some(code), None, (None, None)) => {
            blocking(move || services.reauthenticate(&caller.principal, &Proof::Totp(&code), &ctx)).await?;
        }
        (None, None, Some(code), (None, None)) => {
            blocking(move || services.reauthenticate(&caller.principal, &Proof::RecoveryCode(&code), &ctx)).await?;
        }
        (None, None, None, (Some(ceremony), Some(credential))) => {
            blocking(move || {
                let proof = Proof::Passkey {
                    ceremony: Some(&ceremony),
                    credential: &credential,
                };
                services.reauthenticate(&caller.principal, &proof, &ctx)
            })
            .await?;
        }
        _ => {
            return Err(ApiError::BadRequest {
                details: "Give exactly one of password, code, recovery_code, or ceremony with passkey.".into(),
                errors: vec![],
            });
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/second_factors/", tag = "apio",
    operation_id = "apio_reset_second_factors",
    summary = "Remove every second factor of a user (an administrator of a higher level)",
    description = "Removes the user's TOTP authenticator and recovery codes and ends their sessions; audited.",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "The user has no second factor any more"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn reset<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    blocking(move || services.reset_second_factors_at(&caller.principal, &member, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}
