//! Verified e-mail changes over HTTP (issue 22; docs/notifications.md, "Verified e-mail
//! changes"): the caller's pending change (to show and cancel it), and the confirmation of a new
//! address through the link e-mailed to it, which needs no session (the link is the proof).

use crate::AppState;
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::resource;
use crate::selfservice::rfc3339;
use accountd_domain::ports::Store;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PENDING: &str = "/api/v1/session/email_change/";
pub const CONFIRM: &str = "/api/v1/email_change/confirm/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(PENDING)
            .route(web::get().to(pending::<S>))
            .route(web::delete().to(cancel::<S>)),
    )
    .service(resource(CONFIRM).route(web::post().to(confirm::<S>)));
}

/// The caller's change of address waiting for its link, if any.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailChangeView {
    /// Whether a user's own change of address waits for confirmation here
    /// (`email.verify_changes`).
    pub verify_changes: bool,
    pub pending: Option<PendingView>,
}

/// A change of address waiting for its link.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// The new address; the account keeps the old one until the link is followed.
    pub email_address: String,
    pub requested_at: String,
    /// When the link stops working.
    pub expires_at: String,
}

/// The link's token.
// `Debug` doesn't show the token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeConfirm {
    /// The `verify_email` value of the link's fragment (`…/account/#verify_email=<token>`).
    #[schema(min_length = 1, max_length = 100)]
    pub token: String,
}

impl std::fmt::Debug for EmailChangeConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChangeConfirm").finish_non_exhaustive()
    }
}

/// The confirmed address.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmedView {
    pub email_address: String,
}

#[utoipa::path(get, path = "/api/v1/session/email_change/", tag = "account", operation_id = "account_pending_email_change",
    summary = "The caller's change of e-mail address waiting for confirmation",
    description = "With `email.verify_changes` on, a user's own change of their address (through any dialect's profile update) keeps the old address until the link e-mailed to the new one is followed: every seed route answers the old address meanwhile. `pending` is that change, or null.",
    responses(
        (status = 200, description = "The pending change, if any", body = EmailChangeView),
        problem::Unauthenticated,
    ))]
pub(crate) async fn pending<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let verify_changes = services.config().email.verify_changes;
    let pending = blocking(move || services.pending_email_change(&caller.principal)).await?;
    Ok(HttpResponse::Ok().json(EmailChangeView {
        verify_changes,
        pending: pending.map(|p| PendingView {
            email_address: p.email.to_string(),
            requested_at: rfc3339(p.created_at),
            expires_at: rfc3339(p.expires_at),
        }),
    }))
}

#[utoipa::path(delete, path = "/api/v1/session/email_change/", tag = "account", operation_id = "account_cancel_email_change",
    summary = "Cancel the caller's pending change of e-mail address",
    description = "Its link stops working; the address stays as it is. 204 whether or not there was one.",
    responses(
        (status = 204, description = "No change of address waits any more"),
        problem::Unauthenticated,
    ))]
pub(crate) async fn cancel<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    blocking(move || services.cancel_email_change(&caller.principal, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/email_change/confirm/", tag = "account", operation_id = "account_confirm_email_change",
    summary = "Confirm a new e-mail address with its link",
    description = "The link's address becomes the user's (sent to the Application Server too when the login mode sends profile changes there) and the link is used up; the user's password-reset links end. An unknown, used, replaced, cancelled or expired link is 400 `email-change-link-invalid`. Throttled as password-reset links are (429).",
    request_body(content = EmailChangeConfirm, content_type = "application/json"),
    security(()),
    responses(
        (status = 200, description = "The address is changed", body = ConfirmedView),
        problem::BadRequest,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn confirm<S: Store>(
    state: web::Data<AppState<S>>,
    Ctx(ctx): Ctx,
    body: Json<EmailChangeConfirm>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    let services = state.services.clone();
    let email = blocking(move || services.confirm_email_change(&token, &ctx)).await?;
    Ok(HttpResponse::Ok().json(ConfirmedView {
        email_address: email.to_string(),
    }))
}
