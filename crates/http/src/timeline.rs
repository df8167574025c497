//! The user's own security timeline and data export over HTTP (issue 21; docs/timeline.md).
//! Times are RFC 3339, UTC, and members camelCase, as the session list's.

use crate::AppState;
use crate::apio::users::member_of;
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::resource;
use crate::selfservice::rfc3339;
use accountd_domain::ports::Store;
use accountd_service::timeline::{TimelineEvent, TimelinePage};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const EVENTS: &str = "/api/v1/session/events/";
pub const USER_EVENTS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/events/";
pub const EXPORT: &str = "/api/v1/session/export/";
pub const REPORT: &str = "/api/v1/session/events/{id}/report/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(EVENTS).route(web::get().to(own_events::<S>)))
        .service(resource(REPORT).route(web::post().to(report::<S>)))
        .service(resource(USER_EVENTS).route(web::get().to(user_events::<S>)))
        .service(resource(EXPORT).route(web::get().to(export::<S>)));
}

/// What a caller held to a password change may do ("this wasn't me"): change it (Axway's
/// changepassword, with or without the trailing slash), check a candidate against the policy,
/// read who it is (`GET user_login_info`), sign out. Everything else is 403
/// `password-change-required`, HTTP Basic included.
pub(crate) fn allowed_while_changing_password(method: &actix_web::http::Method, path: &str) -> bool {
    path.trim_end_matches('/') == crate::axway::CHANGE_PASSWORD
        || path == crate::selfservice::PASSWORD_POLICY
        || path == crate::apio::LOGOUT
        || (method == actix_web::http::Method::GET && path == crate::apio::USER_LOGIN_INFO)
}

/// Which page of a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The previous page's `next`: events older than it. Absent: the newest.
    pub before: Option<i64>,
    /// Events per page: 1 to 200, 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The page size asked for, refused (400 naming `limit`) outside 1 to 200.
    fn limit(&self) -> Result<Option<u32>, ApiError> {
        let max = accountd_service::timeline::MAX_PAGE;
        match self.limit {
            Some(n) if !(1..=max).contains(&n) => Err(ApiError::invalid(vec![accountd_domain::InvalidValue::new(
                "limit",
                accountd_domain::Problem::OutOfRange {
                    min: 1,
                    max: i64::from(max),
                },
            )])),
            limit => Ok(limit),
        }
    }
}

/// Who acted, when it was not the user themself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActingView {
    pub name: String,
    /// Their user level (0, 4, 8, 12, 16); absent for the operator's tools.
    pub level: Option<u8>,
}

/// One event of a timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: i64,
    pub at: String,
    /// `login`, `logout`, `password_change`, `pin_change`, `profile_update`, `account_update`,
    /// `session_revoke`, `token_create`, `token_revoke`, `factor_enroll`, `factor_remove`,
    /// `factor_reset`, `reauthenticate`, `recovery_codes_regenerate`, `data_export`,
    /// `account_throttled`, `account_read` (a refused read by an administrator), …
    pub action: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// What it touched or used: member names (`firstName`, `password`), never values; the factor
    /// of a sign-in (`totp`, `passkey`, `recovery_code`).
    pub fields: Vec<String>,
    /// The client address the server saw.
    pub address: Option<String>,
    /// The browser or program (its User-Agent).
    pub user_agent: Option<String>,
    /// Someone else who acted on the account (an administrator, the operator).
    pub by: Option<ActingView>,
    pub request_id: Option<String>,
}

fn event_view(e: TimelineEvent) -> EventView {
    let event = e.record.event;
    EventView {
        id: e.record.id,
        at: rfc3339(event.at),
        action: event.action.as_str().to_owned(),
        outcome: event.outcome.as_str().to_owned(),
        fields: event.fields,
        address: event.client.address,
        user_agent: event.client.user_agent,
        by: e.by.map(|b| ActingView {
            name: b.name,
            level: b.level.map(|l| l.as_u8()),
        }),
        request_id: event.request_id,
    }
}

/// A page of a timeline, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Give it as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

fn page_view(page: TimelinePage) -> EventPage {
    EventPage {
        events: page.events.into_iter().map(event_view).collect(),
        next: page.next,
    }
}

#[utoipa::path(get, path = "/api/v1/session/events/", tag = "account", operation_id = "account_list_events",
    summary = "The caller's security timeline",
    description = "Sign-ins (refused ones too) with address, browser and factor; password, PIN and profile changes (members, never values); sessions ended; factors and tokens added or removed; an administrator's changes (who, at which level). Newest first; `next` is the cursor of the older page. Kept as long as the audit log (`audit.retention_seconds`).",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        problem::BadRequest,
        problem::Unauthenticated,
    ))]
pub(crate) async fn own_events<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit()?;
    let services = state.services.clone();
    let page = blocking(move || services.own_events(&caller.principal, query.before, limit)).await?;
    Ok(HttpResponse::Ok().json(page_view(page)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/events/", tag = "apio",
    operation_id = "apio_list_user_events",
    summary = "A user's security timeline (an administrator within scope)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn user_events<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let query = query.into_inner();
    let limit = query.limit()?;
    let services = state.services.clone();
    let page = blocking(move || services.user_events_at(&caller.principal, &member, query.before, limit, &ctx)).await?;
    Ok(HttpResponse::Ok().json(page_view(page)))
}

/// The caller's profile as each dialect shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DialectProfiles {
    /// APIO's login info (seed 000).
    pub apio: crate::apio::LoginInfo,
    /// SuperOffice's currentPrincipal (seed 002), in English and UTC.
    #[serde(rename = "superOffice")]
    pub super_office: crate::superoffice::SoPrincipalCarrier,
    /// The Axway API Portal's current user (seed 003).
    pub axway: crate::axway::AxwayUser,
}

/// Everything accountd keeps about the caller, but secrets and hashes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnDataView {
    /// When the export was made.
    pub exported_at: String,
    pub profile: DialectProfiles,
    /// Everything that can sign in as the caller (as `GET /api/v1/session/credentials/`).
    pub credentials: crate::credentials::CredentialList,
    /// API tokens, expired ones too (never their secrets).
    pub tokens: Vec<crate::credentials::TokenView>,
    /// The timeline, newest first (at most 10,000 events).
    pub events: Vec<EventView>,
}

#[utoipa::path(get, path = "/api/v1/session/export/", tag = "account", operation_id = "account_export",
    summary = "Download the caller's own data",
    description = "One JSON document: the profile in the three dialects' shapes, everything that can sign in (metadata only), API tokens and the timeline. Never a secret or a hash. At most `throttle.max_exports_per_account` per window (then 429); audited as `data_export`.",
    responses(
        (status = 200, description = "The caller's data, as an attachment", body = OwnDataView),
        problem::Unauthenticated,
        problem::Throttled,
    ))]
pub(crate) async fn export<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let now = services.clock().now();
    let principal = caller.principal;
    let (data, principal, directory) = blocking(move || {
        let data = services.export_own_data(&principal, &ctx)?;
        let directory = services.directory_of(&principal.user)?;
        Ok::<_, accountd_service::ServiceError>((data, principal, directory))
    })
    .await?;
    let tokens = data
        .tokens
        .iter()
        .map(|t| crate::credentials::token_view(t, now))
        .collect();
    let body = OwnDataView {
        exported_at: rfc3339(now),
        profile: DialectProfiles {
            apio: crate::apio::LoginInfo::of(&data.user, None),
            super_office: crate::superoffice::SoPrincipalCarrier::of(
                &principal,
                &directory,
                &state.config.superoffice,
                crate::superoffice::Language::English,
                chrono_tz::Tz::UTC,
            ),
            axway: crate::axway::AxwayUser::of(&data.user),
        },
        credentials: crate::credentials::credential_list(data.credentials, now),
        tokens,
        events: data.events.into_iter().map(event_view).collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"accountd-export.json\"",
        ))
        .json(body))
}

/// What "this wasn't me" did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    /// Every session of the user ended, the one that reported too (its cookies are removed).
    pub sessions_ended: u64,
    pub tokens_revoked: u64,
    /// The next sign-in may only change the password until it is changed. `false` in
    /// SSO_LOGIN_DEDICATED, where the identity provider keeps passwords.
    pub password_change_required: bool,
}

#[utoipa::path(post, path = "/api/v1/session/events/{id}/report/", tag = "account", operation_id = "account_report_event",
    summary = "\"This wasn't me\": report an event of the caller's timeline",
    description = "Ends every session of the caller (this one too: its cookies are removed) and every API token, and requires a password change at the next sign-in: until then a session (or HTTP Basic) may only change the password (POST /api/portal/v1.3/currentuser/changepassword), check one against the policy, read user_login_info and sign out; anything else is 403 `password-change-required`, and the login answer says `password_change_required: true`. In SSO_LOGIN_DEDICATED only sessions and tokens end. From a signed-in session only (403 otherwise); audited as `compromise_report`, counted in `accountd_compromise_reports_total`. The body is ignored.",
    params(("id" = i64, Path, description = "The event's id, from the timeline")),
    responses(
        (status = 200, description = "Reported: everything ended", body = ReportView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn report<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::selfservice::numeric_id(&path.into_inner(), "event")?;
    let services = state.services.clone();
    let reported = blocking(move || services.report_event(&caller.principal, id, &ctx)).await?;
    Ok(crate::apio::without_session_cookies(&state).json(ReportView {
        sessions_ended: reported.sessions_ended,
        tokens_revoked: reported.tokens_revoked,
        password_change_required: reported.password_change_required,
    }))
}
