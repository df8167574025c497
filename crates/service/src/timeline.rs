//! The user's own security timeline and data export (issue 21; docs/timeline.md).
//!
//! The timeline is the audit log seen from its subject: sign-ins (refused ones too, with the
//! address and browser they came from and the factor used), changes of the password, PIN and
//! profile (which members, never values), sessions ended, factors and tokens added or removed, an
//! administrator's changes (who, at which level). Newest first, a page at a time, the cursor being
//! the last event's id. It lives as long as the audit log (`audit.retention_seconds`).

use crate::credentials::Credentials;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::level::{GroupMember, UserLevel};
use accountd_domain::ports::Store;
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome, AuditRecord};
use accountd_domain::user::User;

/// Events per page when the caller does not say; and the most a page holds.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
/// The most events an export carries (the newest).
pub const EXPORT_EVENTS: u32 = 10_000;

/// Who acted, when it was not the user themself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// Their login name (the operator's tool's name when it was one).
    pub name: String,
    /// Their level, when they are a user still known.
    pub level: Option<UserLevel>,
}

/// One event of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    pub record: AuditRecord,
    /// `None`: the user themself (or, for a refused sign-in, whoever tried their name).
    pub by: Option<Acting>,
}

/// A page of a timeline, and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePage {
    pub events: Vec<TimelineEvent>,
    /// Give it as `before` for the next (older) page; `None`: this was the last.
    pub next: Option<i64>,
}

/// Everything accountd keeps about the caller, but secrets and hashes.
#[derive(Debug, Clone)]
pub struct OwnData {
    pub user: User,
    pub credentials: Credentials,
    /// Every API token, expired ones too.
    pub tokens: Vec<accountd_domain::records::ApiToken>,
    pub events: Vec<TimelineEvent>,
}

/// What "this wasn't me" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// Every session of the user, the reporting one too.
    pub sessions_ended: u64,
    pub tokens_revoked: u64,
    /// The next sign-in may only change the password (not in SSO_LOGIN_DEDICATED, where the
    /// identity provider keeps it).
    pub password_change_required: bool,
}

impl<S: Store> Services<S> {
    /// `POST /api/v1/session/events/{id}/report/`: "this wasn't me" on an event of the caller's
    /// timeline. Ends every session of the user (the caller's too) and every API token, and
    /// demands a password change at the next sign-in, in one transaction; audited, logged and
    /// counted. From a signed-in session only; 404 for an event not in the caller's timeline.
    pub fn report_event(&self, principal: &Principal, event: i64, ctx: &RequestContext) -> ServiceResult<Reported> {
        crate::credentials::require_token_session(principal)?;
        let user = principal.user.key;
        // The newest event older than `event + 1`: the event itself, when it is the user's.
        let found = self
            .store
            .read(|repo| repo.audit_page(user, event.checked_add(1), 1))?
            .into_iter()
            .next()
            .is_some_and(|r| r.id == event);
        if !found {
            return Err(ServiceError::NotFound("event"));
        }
        let demand = self.password_demands_apply(principal.auth);
        let record = self.audit_event(
            Some(principal),
            Some(user),
            AuditAction::CompromiseReport,
            vec![format!("event:{event}")],
            AuditOutcome::Success,
            ctx,
        );
        let now = self.clock.now();
        let (sessions_ended, tokens_revoked) = self.store.write(|repo| {
            // Under the user's lock, taken first: a sign-in, token or password change of this user
            // committing meanwhile comes wholly before the report (and is ended by it) or wholly
            // after (and sees it).
            let (sessions, tokens) = crate::credentials::end_credentials(repo, user, None)?;
            if demand {
                repo.demand_password_change(user, now)?;
            }
            self.record(repo, &record)?;
            Ok::<_, ServiceError>((sessions, tokens))
        })?;
        self.compromise_reports
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(
            user = %user,
            event,
            sessions_ended,
            tokens_revoked,
            password_change_required = demand,
            "an event was reported as not the user's: every session and token ended"
        );
        Ok(Reported {
            sessions_ended,
            tokens_revoked,
            password_change_required: demand,
        })
    }

    /// `GET /api/v1/session/events/`: the caller's timeline, a page at a time.
    pub fn own_events(
        &self,
        principal: &Principal,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> ServiceResult<TimelinePage> {
        self.timeline(principal.user.key, before, limit)
    }

    /// `GET /api/v1/tenants/{t}/groups/{g}/users/{u}/events/`: a user's timeline, for an
    /// administrator within scope (the rule of their tokens and sessions).
    pub fn user_events_at(
        &self,
        actor: &Principal,
        member: &GroupMember,
        before: Option<i64>,
        limit: Option<u32>,
        ctx: &RequestContext,
    ) -> ServiceResult<TimelinePage> {
        let target = self.administered(actor, member, AuditAction::AccountRead, ctx)?;
        self.timeline(target.key, before, limit)
    }

    fn timeline(&self, subject: UserKey, before: Option<i64>, limit: Option<u32>) -> ServiceResult<TimelinePage> {
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let mut records = self
            .store
            .read(|repo| repo.audit_page(subject, before, limit.saturating_add(1)))?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let next = if more { records.last().map(|r| r.id) } else { None };
        Ok(TimelinePage {
            events: self.with_actors(subject, records)?,
            next,
        })
    }

    /// Names who acted on `subject` in `records`, when it was someone else.
    fn with_actors(&self, subject: UserKey, records: Vec<AuditRecord>) -> ServiceResult<Vec<TimelineEvent>> {
        let mut levels: std::collections::HashMap<UserKey, Option<UserLevel>> = std::collections::HashMap::new();
        let mut events = Vec::with_capacity(records.len());
        for record in records {
            let e = &record.event;
            let by = match (e.actor, &e.actor_name) {
                (Some(actor), name) if actor != subject => {
                    // The level at the time; events before it was recorded: today's.
                    let level = match (e.actor_level, levels.get(&actor)) {
                        (Some(level), _) => Some(level),
                        (None, Some(level)) => *level,
                        (None, None) => {
                            let level = self.store.read(|repo| repo.user_by_key(actor))?.map(|u| u.level());
                            levels.insert(actor, level);
                            level
                        }
                    };
                    Some(Acting {
                        name: name.clone().unwrap_or_default(),
                        level,
                    })
                }
                (Some(_), _) => None,
                // Sign-in attempts and their throttling: the user's own (or whoever tried their name).
                (None, _)
                    if matches!(
                        e.action,
                        AuditAction::Login | AuditAction::AccountThrottled | AuditAction::PasswordResetRequest
                    ) =>
                {
                    None
                }
                // Without a user: the operator (`accountd user …`, `token create`) or its tools
                // (`import`).
                (None, name) => Some(Acting {
                    name: name.clone().unwrap_or_else(|| "operator".to_owned()),
                    level: None,
                }),
            };
            events.push(TimelineEvent { record, by });
        }
        Ok(events)
    }

    /// `GET /api/v1/session/export/`: the caller's own data. Counted per account
    /// (`throttle.max_exports_per_account` in the window, then 429) and audited.
    pub fn export_own_data(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<OwnData> {
        let username = principal.user.username.to_string();
        self.count_export(&username)?;
        let credentials = self.credentials(principal)?;
        let tokens = self.own_tokens(principal)?;
        let page = self.timeline_all(principal.user.key)?;
        let event = self.audit_event(
            Some(principal),
            Some(principal.user.key),
            AuditAction::DataExport,
            vec![],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| self.record(repo, &event))?;
        Ok(OwnData {
            user: principal.user.clone(),
            credentials,
            tokens,
            events: page,
        })
    }

    fn timeline_all(&self, subject: UserKey) -> ServiceResult<Vec<TimelineEvent>> {
        let mut events = Vec::new();
        let mut before = None;
        while events.len() < EXPORT_EVENTS as usize {
            let page = self.timeline(subject, before, Some(MAX_PAGE))?;
            events.extend(page.events);
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        events.truncate(EXPORT_EVENTS as usize);
        Ok(events)
    }
}
