//! Personal API tokens and every credential in one list (issue 20; docs/account-page.md,
//! "Credentials").
//!
//! - **Personal tokens**: a user creates tokens from a signed-in session with a recent proof
//!   (name, scope `read` or `full`, a lifetime up to `tokens.max_lifetime_days`), if their level is
//!   in `tokens.levels`. The token is shown once and stored as its digest; it works as
//!   `Authorization: Bearer` on every dialect, like the operator's tokens. A `read` token is
//!   refused on unsafe methods by the HTTP layer ([`crate::ServiceError::ReadOnlyToken`]).
//! - **Credentials**: what can sign in as the user, and when each was last used: the password,
//!   the PIN, sessions, API tokens (personal and the operator's), the authenticator app, passkeys
//!   and the recovery codes left. "Everything but this session" ends every other session and
//!   revokes every token.
//! - **Administrators** within scope (the access rule of an account change) list and revoke a
//!   user's tokens and sessions; audited.

use crate::auth::IssuedToken;
use crate::passkeys::PasskeyInfo;
use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::level::GroupMember;
use accountd_domain::ports::{Repository, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{ApiToken, AuditAction, AuditOutcome, NewApiToken, Session, TokenScope};
use accountd_domain::text::Text;
use accountd_domain::user::{Timestamp, User};
use accountd_policy::access::Action;

use accountd_policy::tokens;

/// Everything that can sign in as a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// When the password was last set (`None`: the user has none here, e.g. SSO or an
    /// Application Server that keeps it).
    pub password_changed_at: Option<Timestamp>,
    /// `None`: no PIN; `Some(changed_at)` otherwise.
    pub pin: Option<Option<Timestamp>>,
    /// Active sessions, newest first, with the one the request came with.
    pub sessions: Vec<(Session, bool)>,
    /// API tokens that still sign in, newest first (expired ones are in the token list only).
    pub tokens: Vec<ApiToken>,
    /// When the authenticator app was confirmed and when its last code was used (`None`: none).
    pub totp: Option<(Timestamp, Option<Timestamp>)>,
    pub passkeys: Vec<PasskeyInfo>,
    pub recovery_codes_left: u32,
}

/// What "everything but this session" ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    pub sessions: u64,
    pub tokens: u64,
}

impl<S: Store> Services<S> {
    /// `POST /api/v1/session/tokens/`: a new personal token, shown once. Needs a session with a
    /// recent proof and a level in `tokens.levels`; `lifetime_days` from 1 to
    /// `tokens.max_lifetime_days`.
    pub fn create_personal_token(
        &self,
        principal: &Principal,
        name: &str,
        scope: TokenScope,
        lifetime_days: u32,
        ctx: &RequestContext,
    ) -> ServiceResult<(IssuedToken, ApiToken)> {
        let result = self.create_personal_token_inner(principal, name, scope, lifetime_days, ctx);
        self.audit_refusal(
            &result,
            Actor::Caller(principal),
            Some(principal.user.key),
            AuditAction::TokenCreate,
            vec![format!("scope:{}", scope.as_str())],
            ctx,
        );
        result
    }

    fn create_personal_token_inner(
        &self,
        principal: &Principal,
        name: &str,
        scope: TokenScope,
        lifetime_days: u32,
        ctx: &RequestContext,
    ) -> ServiceResult<(IssuedToken, ApiToken)> {
        require_token_session(principal)?;
        if !self.config.tokens.levels.contains(&principal.user.role.level()) {
            return Err(ServiceError::Forbidden(
                "users of this level may not create API tokens (tokens.levels)",
            ));
        }
        let max = self.config.tokens.max_lifetime_days;
        if lifetime_days == 0 || lifetime_days > max {
            return Err(ServiceError::Invalid(vec![accountd_domain::InvalidValue::new(
                "expiresInDays",
                accountd_domain::Problem::OutOfRange {
                    min: 1,
                    max: i64::from(max),
                },
            )]));
        }
        let name = Text::parse_for("name", name.trim())?;
        if name.is_empty() {
            return Err(ServiceError::Invalid(vec![accountd_domain::InvalidValue::new(
                "name",
                accountd_domain::Problem::Empty,
            )]));
        }
        self.require_recent_proof(principal)?;
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let now = self.clock.now();
        let new = NewApiToken {
            digest: tokens::token_digest(&secret),
            user: principal.user.key,
            name,
            created_at: now,
            expires_at: Some(now.plus_seconds(i64::from(lifetime_days) * 86_400)),
            scope,
            personal: true,
        };
        let stored = self.store.write(|repo| {
            self.require_live_session(repo, principal)?;
            let stored = repo.create_api_token(&new)?;
            let event = self.audit_event(
                Some(principal),
                Some(principal.user.key),
                AuditAction::TokenCreate,
                vec![format!("token:{}", stored.id), format!("scope:{}", scope.as_str())],
                AuditOutcome::Success,
                ctx,
            );
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(stored)
        })?;
        let issued = IssuedToken {
            id: stored.id,
            token: tokens::encode_token(&secret),
        };
        Ok((issued, stored))
    }

    /// The caller's API tokens (theirs and the operator's for them), newest first.
    pub fn own_tokens(&self, principal: &Principal) -> ServiceResult<Vec<ApiToken>> {
        Ok(self.store.read(|repo| repo.user_api_tokens(principal.user.key))?)
    }

    /// `DELETE /api/v1/session/tokens/{id}/`: revokes one of the caller's tokens (it stops working
    /// at once).
    pub fn revoke_own_token(&self, principal: &Principal, id: i64, ctx: &RequestContext) -> ServiceResult<()> {
        self.revoke_token_of(principal, &principal.user, id, ctx)
    }

    /// `GET /api/v1/session/credentials/`: everything that can sign in as the caller.
    pub fn credentials(&self, principal: &Principal) -> ServiceResult<Credentials> {
        let key = principal.user.key;
        let sessions = self
            .own_sessions(principal)?
            .into_iter()
            .map(|s| (s.session, s.current))
            .collect();
        let passkeys = self.passkeys(principal)?;
        let now = self.clock.now();
        let (password, pin, mut tokens, totp, left) = self.store.read(|repo| {
            Ok::<_, ServiceError>((
                repo.password(key)?,
                repo.pin(key)?,
                repo.user_api_tokens(key)?,
                repo.totp_factor(key)?,
                repo.recovery_codes_left(key)?,
            ))
        })?;
        tokens.retain(|t| t.expires_at.is_none_or(|end| now < end));
        let step_ms = i64::try_from(accountd_policy::factors::TOTP_STEP_SECONDS * 1000).unwrap_or(i64::MAX);
        let totp = totp.and_then(|f| {
            f.confirmed_at.map(|at| {
                (
                    at,
                    f.last_step
                        .map(|step| Timestamp::from_millis(step.saturating_mul(step_ms))),
                )
            })
        });
        Ok(Credentials {
            password_changed_at: password.map(|p| p.changed_at),
            pin: pin.filter(|p| p.hash.is_some()).map(|p| p.changed_at),
            sessions,
            tokens,
            totp,
            passkeys,
            recovery_codes_left: left,
        })
    }

    /// Inside a write that gives the caller something lasting (a token, a factor, a new password):
    /// takes the user's lock and requires the caller's session to be still there. A report ("this
    /// wasn't me") or "revoke everything" that committed meanwhile ended it, and is not outrun:
    /// 401, nothing written.
    pub(crate) fn require_live_session(&self, repo: &mut dyn Repository, principal: &Principal) -> ServiceResult<()> {
        repo.lock_account(principal.user.key)?;
        if let Some(digest) = &principal.session
            && repo.session_with_user(digest)?.is_none()
        {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(())
    }

    /// `DELETE /api/v1/session/credentials/`: ends every session of the caller but this one and
    /// revokes every API token. Passwords, PINs and factors stay: they sign in only with the user.
    pub fn revoke_all_but_this_session(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<Revoked> {
        require_token_session(principal)?;
        let key = principal.user.key;
        self.store.write(|repo| {
            let (sessions, tokens) = end_credentials(repo, key, principal.session.as_ref())?;
            for (action, what, count) in [
                (AuditAction::SessionRevoke, "other_sessions", sessions),
                (AuditAction::TokenRevoke, "all_tokens", tokens),
            ] {
                let event = self.audit_event(
                    Some(principal),
                    Some(key),
                    action,
                    vec![what.to_owned(), format!("count:{count}")],
                    AuditOutcome::Success,
                    ctx,
                );
                self.record(repo, &event)?;
            }
            Ok(Revoked { sessions, tokens })
        })
    }

    /// `GET /api/v1/tenants/{t}/groups/{g}/users/{u}/tokens/`: a user's API tokens, for an
    /// administrator within scope.
    pub fn user_tokens_at(
        &self,
        actor: &Principal,
        member: &GroupMember,
        ctx: &RequestContext,
    ) -> ServiceResult<(User, Vec<ApiToken>)> {
        let target = self.administered(actor, member, AuditAction::AccountRead, ctx)?;
        let tokens = self.store.read(|repo| repo.user_api_tokens(target.key))?;
        Ok((target, tokens))
    }

    /// `DELETE /api/v1/tenants/{t}/groups/{g}/users/{u}/tokens/{id}/`: revokes a user's token.
    pub fn revoke_user_token_at(
        &self,
        actor: &Principal,
        member: &GroupMember,
        id: i64,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let target = self.administered(actor, member, AuditAction::TokenRevoke, ctx)?;
        self.revoke_token_of(actor, &target, id, ctx)
    }

    /// `GET /api/v1/tenants/{t}/groups/{g}/users/{u}/sessions/`: a user's active sessions.
    pub fn user_sessions_at(
        &self,
        actor: &Principal,
        member: &GroupMember,
        ctx: &RequestContext,
    ) -> ServiceResult<Vec<Session>> {
        let target = self.administered(actor, member, AuditAction::AccountRead, ctx)?;
        self.active_sessions(target.key)
    }

    /// `DELETE /api/v1/tenants/{t}/groups/{g}/users/{u}/sessions/{id}/`: ends a user's session.
    pub fn end_user_session_at(
        &self,
        actor: &Principal,
        member: &GroupMember,
        id: i64,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let target = self.administered(actor, member, AuditAction::SessionRevoke, ctx)?;
        self.end_session_of(actor, target.key, id, ctx)
    }

    /// The user at `member`, if `actor` may manage their account (the rule of enabling or
    /// disabling it): 403 outside the caller's scope whether or not the user exists, then 404, then
    /// 403 for a user in scope the caller may not act on (docs/apio-users.md, "Access"). Refusals
    /// are audited under `action` (what the route lists or revokes).
    pub(crate) fn administered(
        &self,
        actor: &Principal,
        member: &GroupMember,
        action: AuditAction,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        self.refuse_if_enrollment_only(actor)?;
        let found = self.addressed_user(actor, member, Action::UpdateAccount);
        if let Err(ServiceError::Forbidden(_)) = &found {
            // A caller outside the user's scope probed a path: the audit log has it, the user's
            // timeline does not (it would name someone of another tenant to them).
            let in_scope = self.require_group_scope(actor, member).is_ok();
            let subject = match in_scope {
                true => self.store.read(|repo| repo.user_by_path(member)).ok().flatten(),
                false => None,
            };
            self.audit_refusal(
                &found,
                Actor::Caller(actor),
                subject.map(|u| u.key),
                action,
                vec![],
                ctx,
            );
        }
        found
    }

    /// Revokes `target`'s token `id` for `actor` (themself, or an administrator), audited.
    fn revoke_token_of(&self, actor: &Principal, target: &User, id: i64, ctx: &RequestContext) -> ServiceResult<()> {
        let event = self.audit_event(
            Some(actor),
            Some(target.key),
            AuditAction::TokenRevoke,
            vec![format!("token:{id}")],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            if !repo.revoke_api_token(target.key, id)? {
                return Err(ServiceError::NotFound("token"));
            }
            self.record(repo, &event)?;
            Ok(())
        })
    }
}

/// Under the user's lock, ends every session of `user` but `except` and revokes every API token:
/// how many of each. "Revoke everything" and "this wasn't me" (which keeps no session).
pub(crate) fn end_credentials(
    repo: &mut dyn Repository,
    user: accountd_domain::ids::UserKey,
    except: Option<&accountd_domain::secret::TokenDigest>,
) -> ServiceResult<(u64, u64)> {
    repo.lock_account(user)?;
    let sessions = repo.delete_user_sessions(user, except)?;
    let tokens = repo.revoke_user_api_tokens(user)?;
    // A reset link asked by whoever is being locked out would let them back in, and an address
    // change they asked would hand them the account's mail.
    repo.delete_password_resets(user)?;
    repo.delete_email_change(user)?;
    Ok((sessions, tokens))
}

/// Tokens are made, and everything revoked at once (or reported: "this wasn't me"), from a
/// signed-in session only: an API token can't mint another, nor take its user's sessions away.
pub(crate) fn require_token_session(principal: &Principal) -> ServiceResult<()> {
    match principal.session {
        Some(_) => Ok(()),
        None => Err(ServiceError::Forbidden(
            "API tokens are created, and everything revoked at once, from a signed-in session",
        )),
    }
}
