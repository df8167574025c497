//! Password reset by e-mail over HTTP (issue 22; docs/notifications.md "Password reset"). Neither
//! route needs a session: the link in the e-mail is the proof.

use crate::AppState;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::resource;
use crate::secret::Secret;
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

pub const RESET: &str = "/api/v1/password_reset/";
pub const CONFIRM: &str = "/api/v1/password_reset/confirm/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(RESET).route(web::post().to(request::<S>)))
        .service(resource(CONFIRM).route(web::post().to(confirm::<S>)));
}

/// Who forgot their password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Their username, or their e-mail address.
    #[schema(min_length = 1, max_length = 320)]
    pub login: String,
}

/// A reset link's token and the new password.
// The password is a `Secret`: `Debug` doesn't show it; nor the token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetConfirm {
    /// The `reset` value of the link's fragment (`…/account/#reset=<token>`).
    #[schema(min_length = 1, max_length = 100)]
    pub token: String,
    #[schema(value_type = String, min_length = 1)]
    pub new_password: Secret<Password>,
}

impl std::fmt::Debug for ResetConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetConfirm").finish_non_exhaustive()
    }
}

#[utoipa::path(post, path = "/api/v1/password_reset/", tag = "account", operation_id = "account_request_password_reset",
    summary = "E-mail a password-reset link",
    description = "Sends a single-use link (valid `notifications.reset_link_minutes`) to the e-mail address of the user with this username or address, if there is one: the answer is the same whether or not there is. Only where accountd checks passwords and e-mail is configured (409 `password-reset-unavailable` otherwise, saying where passwords live). At most `throttle.max_resets_per_account` per name and `throttle.max_resets_per_address` per client address in the window (429).",
    request_body(content = ResetRequest, content_type = "application/json"),
    security(()),
    responses(
        (status = 202, description = "If such a user exists, a link is on its way", body = crate::openapi::Empty),
        problem::BadRequest,
        problem::Conflict,
        problem::Throttled,
    ))]
pub(crate) async fn request<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
    body: Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = body.into_inner().login;
    let problem = if login.trim().is_empty() {
        Some(accountd_domain::Problem::Empty)
    } else if login.chars().count() > 320 {
        Some(accountd_domain::Problem::TooLong { max: 320 })
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(ApiError::invalid(vec![accountd_domain::InvalidValue::new(
            "login", problem,
        )]));
    }
    let services = state.services.clone();
    blocking(move || services.request_password_reset(&login, &ctx)).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

#[utoipa::path(post, path = "/api/v1/password_reset/confirm/", tag = "account", operation_id = "account_confirm_password_reset",
    summary = "Set a new password with a reset link",
    description = "Sets the new password under the user's policy (every violation at once, 400, and the link stays usable), uses the link up, signs out every session of the user, and ends every other link. An unknown, used or expired link is 400 `reset-link-invalid`.",
    request_body(content = ResetConfirm, content_type = "application/json"),
    security(()),
    responses(
        (status = 200, description = "The password is changed; every session ended", body = crate::openapi::Empty),
        problem::BadRequest,
        problem::Conflict,
        problem::Throttled,
    ))]
pub(crate) async fn confirm<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
    body: Json<ResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = body
        .new_password
        .named("newPassword")
        .map_err(|e| ApiError::invalid(vec![e]))?;
    let token = body.token;
    let services = state.services.clone();
    blocking(move || services.confirm_password_reset(&token, &new, &ctx)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}
