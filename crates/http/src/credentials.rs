//! Personal API tokens and every credential in one list over HTTP (issue 20;
//! docs/account-page.md, "Credentials"), and an administrator's view of a user's tokens and
//! sessions. Times are RFC 3339, UTC, and members camelCase, as the session list's.

use crate::AppState;
use crate::apio::users::member_of;
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::resource;
use crate::selfservice::{SessionView, numeric_id, rfc3339};
use accountd_domain::ports::Store;
use accountd_domain::records::{ApiToken, Session, TokenScope};
use accountd_domain::user::Timestamp;
use accountd_service::credentials::Credentials;
use accountd_service::selfservice::OwnSession;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const TOKENS: &str = "/api/v1/session/tokens/";
pub const TOKEN: &str = "/api/v1/session/tokens/{id}/";
pub const CREDENTIALS: &str = "/api/v1/session/credentials/";
pub const USER_TOKENS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/tokens/";
pub const USER_TOKEN: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/tokens/{id}/";
pub const USER_SESSIONS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/sessions/";
pub const USER_SESSION: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/sessions/{id}/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(TOKENS)
            .route(web::get().to(list_tokens::<S>))
            .route(web::post().to(create_token::<S>)),
    )
    .service(resource(TOKEN).route(web::delete().to(revoke_token::<S>)))
    .service(
        resource(CREDENTIALS)
            .route(web::get().to(credentials::<S>))
            .route(web::delete().to(revoke_all::<S>)),
    )
    .service(resource(USER_TOKENS).route(web::get().to(user_tokens::<S>)))
    .service(resource(USER_TOKEN).route(web::delete().to(revoke_user_token::<S>)))
    .service(resource(USER_SESSIONS).route(web::get().to(user_sessions::<S>)))
    .service(resource(USER_SESSION).route(web::delete().to(end_user_session::<S>)));
}

/// One API token (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// `read` (safe methods only) or `full`.
    pub scope: String,
    /// Created by the user (else by the operator, `accountd token create`).
    pub personal: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    /// Past its expiry: it signs in no more.
    pub expired: bool,
}

pub(crate) fn token_view(token: &ApiToken, now: Timestamp) -> TokenView {
    TokenView {
        id: token.id,
        name: token.name.as_str().to_owned(),
        scope: token.scope.as_str().to_owned(),
        personal: token.personal,
        created_at: rfc3339(token.created_at),
        last_used_at: token.last_used_at.map(rfc3339),
        expires_at: token.expires_at.map(rfc3339),
        expired: token.expires_at.is_some_and(|end| now >= end),
    }
}

/// API tokens, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A new personal token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewTokenBody {
    /// What it is for ("backup script"): 1 to 256 characters of one line.
    pub name: String,
    /// `read` (safe methods only) or `full`.
    pub scope: String,
    /// Days until it expires: 1 to `tokens.max_lifetime_days`.
    pub expires_in_days: u32,
}

/// The new token: `token` is shown this once (send it as `Authorization: Bearer`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token", &"<redacted>")
            .field("view", &self.view)
            .finish()
    }
}

/// How to revoke a credential: send `method` to `path` (with the session's XSRF header).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeAction {
    pub method: String,
    pub path: String,
}

fn delete(path: String) -> Option<RevokeAction> {
    Some(RevokeAction {
        method: "DELETE".to_owned(),
        path,
    })
}

/// One thing that can sign in as the caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// `password`, `pin`, `session`, `api_token`, `totp`, `passkey` or `recovery_codes`.
    pub kind: String,
    /// The session's, token's or passkey's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The token's or passkey's name, the session's browser (its User-Agent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was set up (for a password or PIN: last changed).
    pub created_at: Option<String>,
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// A session: the one this request came with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
    /// A token: `read` or `full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A session: where it signed in from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Recovery codes: how many are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// How to revoke it, where that makes sense (not the password, the PIN, the current session
    /// or the recovery codes, which are replaced rather than revoked).
    pub revoke: Option<RevokeAction>,
}

impl CredentialView {
    fn of(kind: &str) -> Self {
        CredentialView {
            kind: kind.to_owned(),
            id: None,
            name: None,
            created_at: None,
            last_used_at: None,
            expires_at: None,
            current: None,
            scope: None,
            address: None,
            remaining: None,
            revoke: None,
        }
    }
}

/// Everything that can sign in as the caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialList {
    pub credentials: Vec<CredentialView>,
}

pub(crate) fn credential_list(c: Credentials, now: Timestamp) -> CredentialList {
    let mut list = Vec::new();
    if let Some(changed) = c.password_changed_at {
        list.push(CredentialView {
            created_at: Some(rfc3339(changed)),
            ..CredentialView::of("password")
        });
    }
    if let Some(changed) = c.pin {
        list.push(CredentialView {
            created_at: changed.map(rfc3339),
            ..CredentialView::of("pin")
        });
    }
    for (session, current) in c.sessions {
        list.push(CredentialView {
            id: Some(session.id),
            name: session.client.user_agent.clone(),
            created_at: Some(rfc3339(session.created_at)),
            last_used_at: Some(rfc3339(session.last_seen_at)),
            expires_at: Some(rfc3339(session.expires_at)),
            current: Some(current),
            address: session.client.address.clone(),
            revoke: if current {
                None
            } else {
                delete(format!("/api/v1/session/sessions/{}/", session.id))
            },
            ..CredentialView::of("session")
        });
    }
    for token in &c.tokens {
        let view = token_view(token, now);
        list.push(CredentialView {
            id: Some(view.id),
            name: Some(view.name),
            created_at: Some(view.created_at),
            last_used_at: view.last_used_at,
            expires_at: view.expires_at,
            scope: Some(view.scope),
            revoke: delete(format!("/api/v1/session/tokens/{}/", token.id)),
            ..CredentialView::of("api_token")
        });
    }
    if let Some((enabled, last_used)) = c.totp {
        list.push(CredentialView {
            created_at: Some(rfc3339(enabled)),
            last_used_at: last_used.map(rfc3339),
            revoke: delete(crate::factors::TOTP.to_owned()),
            ..CredentialView::of("totp")
        });
    }
    for passkey in c.passkeys {
        list.push(CredentialView {
            id: Some(passkey.id),
            name: Some(passkey.name),
            created_at: Some(rfc3339(passkey.created_at)),
            last_used_at: passkey.last_used_at.map(rfc3339),
            revoke: delete(format!("{}{}/", crate::passkeys::PASSKEYS, passkey.id)),
            ..CredentialView::of("passkey")
        });
    }
    if c.recovery_codes_left > 0 {
        list.push(CredentialView {
            remaining: Some(c.recovery_codes_left),
            ..CredentialView::of("recovery_codes")
        });
    }
    CredentialList { credentials: list }
}

/// What "everything but this session" ended.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedView {
    pub sessions: u64,
    pub tokens: u64,
}

/// A user's active sessions, for an administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSessionList {
    pub sessions: Vec<SessionView>,
}

/// A user's path and the numeric id of one of their `what` (a token, a session).
fn member_and_id(
    (tenant, group, user, id): (String, String, String, String),
    what: &str,
) -> Result<(accountd_domain::level::GroupMember, i64), ApiError> {
    Ok((member_of((tenant, group, user))?, numeric_id(&id, what)?))
}

fn session_view(session: Session) -> SessionView {
    SessionView::from(OwnSession {
        session,
        current: false,
    })
}

#[utoipa::path(get, path = "/api/v1/session/tokens/", tag = "account", operation_id = "account_list_tokens",
    summary = "The caller's API tokens (theirs and the operator's for them)",
    responses(
        (status = 200, description = "Newest first; never the secrets", body = TokenList),
        problem::Unauthenticated,
    ))]
pub(crate) async fn list_tokens<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let now = services.clock().now();
    let tokens = blocking(move || services.own_tokens(&caller.principal)).await?;
    Ok(HttpResponse::Ok().json(TokenList {
        tokens: tokens.iter().map(|t| token_view(t, now)).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/session/tokens/", tag = "account", operation_id = "account_create_token",
    summary = "Create a personal API token",
    description = "Answers the token once; it is stored as its digest. Send it as `Authorization: Bearer` to any dialect. Scope `read` allows safe methods only. Needs a session with a recent sign-in or re-authentication, and a level in `tokens.levels`; `expiresInDays` from 1 to `tokens.max_lifetime_days`.",
    request_body(content = NewTokenBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The token, shown once", body = CreatedToken),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn create_token<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<NewTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let scope = TokenScope::parse(&body.scope).ok_or_else(|| {
        ApiError::invalid(vec![accountd_domain::InvalidValue::new(
            "scope",
            accountd_domain::Problem::Format("read or full"),
        )])
    })?;
    let services = state.services.clone();
    let now = services.clock().now();
    let (issued, stored) = blocking(move || {
        services.create_personal_token(&caller.principal, &body.name, scope, body.expires_in_days, &ctx)
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: issued.token,
        view: token_view(&stored, now),
    }))
}

#[utoipa::path(delete, path = "/api/v1/session/tokens/{id}/", tag = "account", operation_id = "account_revoke_token",
    summary = "Revoke one of the caller's API tokens",
    params(("id" = i64, Path, description = "The token's id, from the list")),
    responses(
        (status = 204, description = "Revoked: it stops working at once"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::NotFound,
    ))]
pub(crate) async fn revoke_token<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = numeric_id(&path.into_inner(), "token")?;
    let services = state.services.clone();
    blocking(move || services.revoke_own_token(&caller.principal, id, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/session/credentials/", tag = "account", operation_id = "account_list_credentials",
    summary = "Everything that can sign in as the caller",
    description = "The password, the PIN, sessions, API tokens, the authenticator app, passkeys and the recovery codes left, each with when it was set up and last used, and how to revoke it where that makes sense.",
    responses(
        (status = 200, description = "One list", body = CredentialList),
        problem::Unauthenticated,
    ))]
pub(crate) async fn credentials<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let now = services.clock().now();
    let credentials = blocking(move || services.credentials(&caller.principal)).await?;
    Ok(HttpResponse::Ok().json(credential_list(credentials, now)))
}

#[utoipa::path(delete, path = "/api/v1/session/credentials/", tag = "account", operation_id = "account_revoke_all_but_this_session",
    summary = "Revoke everything but this session",
    description = "Ends every other session of the caller and revokes every API token. The password, PIN and second factors stay.",
    responses(
        (status = 200, description = "What ended", body = RevokedView),
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn revoke_all<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let revoked = blocking(move || services.revoke_all_but_this_session(&caller.principal, &ctx)).await?;
    Ok(HttpResponse::Ok().json(RevokedView {
        sessions: revoked.sessions,
        tokens: revoked.tokens,
    }))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/tokens/", tag = "apio",
    operation_id = "apio_list_user_tokens",
    summary = "A user's API tokens (an administrator within scope)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, description = "Newest first; never the secrets", body = TokenList),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn user_tokens<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let now = services.clock().now();
    let (_, tokens) = blocking(move || services.user_tokens_at(&caller.principal, &member, &ctx)).await?;
    Ok(HttpResponse::Ok().json(TokenList {
        tokens: tokens.iter().map(|t| token_view(t, now)).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/tokens/{id}/", tag = "apio",
    operation_id = "apio_revoke_user_token",
    summary = "Revoke a user's API token (an administrator within scope; audited)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
        ("id" = i64, Path, description = "The token's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn revoke_user_token<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (member, id) = member_and_id(path.into_inner(), "token")?;
    let services = state.services.clone();
    blocking(move || services.revoke_user_token_at(&caller.principal, &member, id, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/sessions/", tag = "apio",
    operation_id = "apio_list_user_sessions",
    summary = "A user's active sessions (an administrator within scope)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, description = "Newest first", body = UserSessionList),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn user_sessions<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let sessions = blocking(move || services.user_sessions_at(&caller.principal, &member, &ctx)).await?;
    Ok(HttpResponse::Ok().json(UserSessionList {
        sessions: sessions.into_iter().map(session_view).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/sessions/{id}/", tag = "apio",
    operation_id = "apio_end_user_session",
    summary = "End a user's session (an administrator within scope; audited)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
        ("id" = i64, Path, description = "The session's id"),
    ),
    responses(
        (status = 204, description = "Ended"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn end_user_session<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (member, id) = member_and_id(path.into_inner(), "session")?;
    let services = state.services.clone();
    blocking(move || services.end_user_session_at(&caller.principal, &member, id, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_does_not_debug_its_secret() {
        let created = CreatedToken {
            token: "tok-secret-123".to_owned(),
            view: TokenView {
                id: 1,
                name: "n".to_owned(),
                scope: "read".to_owned(),
                personal: true,
                created_at: String::new(),
                last_used_at: None,
                expires_at: None,
                expired: false,
            },
        };
        assert!(!format!("{created:?}").contains("tok-secret-123"));
    }

    #[test]
    fn only_what_can_be_revoked_has_a_revoke_action() {
        use accountd_domain::ids::UserKey;
        use accountd_domain::records::ClientInfo;
        use accountd_domain::secret::TokenDigest;
        use accountd_domain::text::Text;
        let at = Timestamp::from_millis(1_700_000_000_000);
        let session = |id: i64| Session {
            id,
            digest: TokenDigest([id as u8; 32]),
            user: UserKey(1),
            auth: accountd_domain::principal::AuthMethod::Session,
            created_at: at,
            last_seen_at: at,
            expires_at: at,
            client: ClientInfo::default(),
            proved_at: at,
            enrollment_only: false,
            password_change_only: false,
        };
        let token = ApiToken {
            id: 7,
            digest: TokenDigest([7; 32]),
            user: UserKey(1),
            name: Text::parse_for("name", "ci").unwrap_or_else(|_| Text::empty()),
            created_at: at,
            expires_at: Some(at),
            last_used_at: None,
            scope: TokenScope::Read,
            personal: true,
        };
        let list = credential_list(
            Credentials {
                password_changed_at: Some(at),
                pin: Some(None),
                sessions: vec![(session(1), true), (session(2), false)],
                tokens: vec![token],
                totp: None,
                passkeys: vec![],
                recovery_codes_left: 3,
            },
            at,
        );
        let revoke: Vec<(String, Option<String>)> = list
            .credentials
            .iter()
            .map(|c| (c.kind.clone(), c.revoke.as_ref().map(|r| r.path.clone())))
            .collect();
        assert_eq!(
            revoke,
            [
                ("password".to_owned(), None),
                ("pin".to_owned(), None),
                ("session".to_owned(), None),
                ("session".to_owned(), Some("/api/v1/session/sessions/2/".to_owned())),
                ("api_token".to_owned(), Some("/api/v1/session/tokens/7/".to_owned())),
                ("recovery_codes".to_owned(), None),
            ]
        );
        assert_eq!(list.credentials[4].scope.as_deref(), Some("read"));
        assert_eq!(list.credentials[5].remaining, Some(3));
    }
}
