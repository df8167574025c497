//! Reading and changing users: profiles, passwords and account creation, under the access scopes and
//! the login mode. A change that the login mode sends to the Application Server too is decided on
//! short reads under the user's claim (the `claims` module), sent to the AS outside any transaction,
//! and written locally only after the AS accepted it, in one short transaction on the version it was
//! decided on; a local failure then puts the AS back (best effort, logged at error level).

use crate::outbox::{DIVERGED_PASSWORD, Realign};
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::level::UserLevel;
use accountd_domain::ports::{Repository, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::rules::PasswordRules;
use accountd_domain::secret::{Password, TokenDigest};
use accountd_domain::text::EmailAddress;
use accountd_domain::user::{NewUser, ProfileChange, User, Version};
use accountd_policy::access::{self, Action, Decision};
use accountd_policy::mode::{Operation, dispatch};
use accountd_policy::password;

/// Who asks for a change: a caller of the API, or the operator at the console (`accountd user …`).
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Caller(&'a Principal),
    Operator,
}

impl<'a> Actor<'a> {
    pub(crate) fn principal(self) -> Option<&'a Principal> {
        match self {
            Actor::Caller(p) => Some(p),
            Actor::Operator => None,
        }
    }
}

/// How a profile change is written, beyond what it changes.
pub(crate) struct ProfileWrite<'a> {
    /// If-Match: only on this version.
    expected: Option<Version>,
    /// The login mode sends profile changes to the Application Server too.
    upstream: bool,
    /// A new address confirmed through its link (by the link's digest).
    link: Option<&'a TokenDigest>,
}

/// The audit event's members of a profile change: its wire names, and `verified_link` when a
/// link confirmed it.
fn wire_names(change: &ProfileChange, write: &ProfileWrite<'_>) -> Vec<String> {
    let mut names: Vec<String> = change.fields().iter().map(|f| f.wire_name().to_owned()).collect();
    if write.link.is_some() {
        names.push("verified_link".to_owned());
    }
    names
}

/// A password change checked and hashed, ready to be stored.
#[derive(Debug, Clone)]
pub(crate) struct PreparedPassword {
    hash: accountd_domain::secret::SecretHash,
    /// The user changes their own (with the old one): it settles a demanded change.
    own: bool,
    first_login: bool,
    keep_history: u8,
    keep_session: Option<accountd_domain::secret::TokenDigest>,
    /// Set through a reset link e-mailed to the user: the audit event says so.
    by_reset_link: bool,
}

impl PreparedPassword {
    /// A new password set through a reset link: the user's own (it settles a demanded change),
    /// not a first login, and no session kept.
    pub(crate) fn by_reset_link(hash: accountd_domain::secret::SecretHash, keep_history: u8) -> Self {
        Self {
            hash,
            own: true,
            first_login: false,
            keep_history,
            keep_session: None,
            by_reset_link: true,
        }
    }
}

/// The members of `change` that `actor` may not change on `current`, by their seed 001 wire names,
/// plus `endpoint` (the endpoint member's wire name) when the change touches the endpoint and the
/// endpoint is not the actor's to change. The one place the access policy's read-only rule
/// ([`access::forbidden_fields`], [`access::endpoint_forbidden`]) is applied; give it a change
/// already stripped of current values ([`ProfileChange::without_current`]).
pub fn read_only_members(
    actor: Actor<'_>,
    current: &User,
    change: &ProfileChange,
    endpoint: Option<&'static str>,
) -> Vec<&'static str> {
    let Some(principal) = actor.principal() else {
        return Vec::new(); // the operator
    };
    let mut refused: Vec<&'static str> = access::forbidden_fields(&principal.user, current, &change.fields())
        .into_iter()
        .map(|f| f.wire_name())
        .collect();
    if let Some(name) = endpoint
        && access::endpoint_forbidden(&principal.user, current)
    {
        refused.push(name);
    }
    refused
}

/// [`ServiceError::ReadOnly`] naming every member of [`read_only_members`], if there is one.
pub(crate) fn refuse_read_only(
    actor: Actor<'_>,
    current: &User,
    change: &ProfileChange,
    endpoint: Option<&'static str>,
) -> ServiceResult<()> {
    let refused = read_only_members(actor, current, change, endpoint);
    if refused.is_empty() {
        Ok(())
    } else {
        tracing::debug!(fields = ?refused, "self-change of read-only members refused");
        Err(ServiceError::ReadOnly(refused))
    }
}

/// 403 when `change` moves `current` to a department outside `actor`'s scope (see
/// [`access::may_move`]); 404 `department` when the destination does not exist. A user's own
/// department is the read-only rule's ([`refuse_read_only`]), not this one's.
pub(crate) fn refuse_move_out_of_scope(
    actor: Actor<'_>,
    current: &User,
    change: &ProfileChange,
    repo: &mut dyn Repository,
) -> ServiceResult<()> {
    let (Some(principal), Some(to)) = (actor.principal(), &change.department) else {
        return Ok(());
    };
    if principal.user.key == current.key {
        return Ok(());
    }
    let destination = match to {
        Some(key) => Some(repo.department(key)?.ok_or(ServiceError::NotFound("department"))?),
        None => None,
    };
    if access::may_move(&principal.user, current, destination.as_ref()) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "the destination department is outside the caller's scope",
        ))
    }
}

pub(crate) fn require(decision: Decision) -> ServiceResult<()> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => Err(ServiceError::Forbidden(reason.as_str())),
    }
}

impl<S: Store> Services<S> {
    pub(crate) fn authorize(&self, actor: Actor<'_>, action: Action, target: &User) -> ServiceResult<()> {
        match actor {
            Actor::Operator => Ok(()),
            Actor::Caller(p) => require(access::authorize(&p.user, action, target)),
        }
    }

    /// Changes the profile of `target`, all or nothing across the local store and (when the login mode
    /// says so) the Application Server. Members sent at their current value are no change; a change
    /// made only of them changes nothing (no new version, no audit event, no Application Server
    /// call) and answers the current user. A user changing themself may change only the fields
    /// [`access::forbidden_fields`] leaves them ([`ServiceError::ReadOnly`] names every other one).
    /// With `expected`, the change applies only to that version.
    #[tracing::instrument(skip_all, fields(target = %target))]
    pub fn update_profile(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        expected: Option<Version>,
        change: &ProfileChange,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        self.update_profile_via(actor, target, expected, change, None, ctx)
    }

    /// [`Services::update_profile`] of a new address confirmed through its link (`digest`): not
    /// held for verification again, and the link is used up with the local write (a refused or
    /// failed change leaves it usable).
    pub(crate) fn update_profile_by_link(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        change: &ProfileChange,
        digest: &TokenDigest,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        self.update_profile_via(actor, target, None, change, Some(digest), ctx)
    }

    fn update_profile_via(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        expected: Option<Version>,
        change: &ProfileChange,
        link: Option<&TokenDigest>,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::ProfileChange,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        let mut fields: Vec<String> = change.fields().iter().map(|f| f.wire_name().to_owned()).collect();
        let write = ProfileWrite {
            expected,
            upstream: how.write_upstream,
            link,
        };
        let result = self.update_profile_inner(actor, target, change, &write, &mut fields, ctx);
        self.audit_refusal(&result, actor, Some(target), AuditAction::ProfileUpdate, fields, ctx);
        result
    }

    /// What [`Services::update_profile`] decides on `current`: the effective change (less current
    /// values) and a new address held for verification, or the refusal.
    fn decide_profile_change(
        &self,
        actor: Actor<'_>,
        current: &User,
        change: &ProfileChange,
        write: &ProfileWrite<'_>,
        repo: &mut dyn Repository,
    ) -> ServiceResult<(ProfileChange, Option<EmailAddress>)> {
        self.authorize(actor, Action::UpdateProfile, current)?;
        let change = change.clone().without_current(&current.profile);
        refuse_read_only(actor, current, &change, None)?;
        refuse_move_out_of_scope(actor, current, &change, repo)?;
        Ok(match write.link {
            Some(_) => (change, None),
            None => self.hold_new_email(actor, current, change),
        })
    }

    fn update_profile_inner(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        change: &ProfileChange,
        write: &ProfileWrite<'_>,
        fields: &mut Vec<String>,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        let (expected, upstream) = (write.expected, write.upstream);
        // Changes of one user that go to the Application Server are ordered by its claim; no
        // transaction is open while the AS is called (issue 15).
        let _claim = self.claim_user_if(upstream, target)?;
        let mut held = None;
        let sent = if upstream {
            let (current, (effective, new_email), linked) = self.store.read(|repo| {
                let current = repo.user_by_key(target)?.ok_or(ServiceError::NotFound("user"))?;
                let decided = self.decide_profile_change(actor, &current, change, write, repo)?;
                let linked = match write.link {
                    Some(digest) => repo.email_change_link(digest, self.clock.now())?.map(|(user, _)| user),
                    None => None,
                };
                Ok::<_, ServiceError>((current, decided, linked))
            })?;
            // Under the claim: the link is still there before the Application Server is told.
            if write.link.is_some() && linked != Some(target) {
                return Err(ServiceError::EmailChangeLinkInvalid);
            }
            *fields = wire_names(&effective, write);
            if expected.is_some_and(|v| v != current.version) {
                return Err(ServiceError::PreconditionFailed);
            }
            self.count_email_change(&current, new_email.as_ref())?;
            held = new_email;
            if effective.is_empty() {
                if held.is_none() {
                    return Ok(current);
                }
                // Only an address to verify: nothing for the Application Server yet.
                None
            } else {
                let armed = self.arm(target, Realign::Profile(effective.fields()))?;
                if let Err(err) = self.upstream.update_profile(&current, &effective) {
                    self.upstream_failed(armed, &err);
                    return Err(err.into());
                }
                Some((current, effective, armed))
            }
        } else {
            if write.link.is_none() {
                // The throttle counts before the transaction, on the address as read now.
                let current = self
                    .store
                    .read(|repo| repo.user_by_key(target))?
                    .ok_or(ServiceError::NotFound("user"))?;
                let (_, new_email) =
                    self.hold_new_email(actor, &current, change.clone().without_current(&current.profile));
                self.count_email_change(&current, new_email.as_ref())?;
            }
            None
        };
        let now = self.clock.now();
        let written = self.store.write(|repo| {
            if let Some(digest) = write.link
                && repo.take_email_change(digest, now)?.map(|(user, _)| user) != Some(target)
            {
                return Err(ServiceError::EmailChangeLinkInvalid);
            }
            let (change, expected, held, current) = match &sent {
                // Exactly what the AS accepted, on the version it was decided on: an interleaved
                // write is a `VersionMismatch`, answered 412 after the AS is realigned.
                Some((before, sent, armed)) => {
                    self.disarm(repo, armed)?;
                    (sent.clone(), Some(before.version), held.clone(), None)
                }
                None => {
                    let current = repo.user_by_key(target)?.ok_or(ServiceError::NotFound("user"))?;
                    let (change, new_email) = self.decide_profile_change(actor, &current, change, write, repo)?;
                    *fields = wire_names(&change, write);
                    if change.is_empty() && new_email.is_none() {
                        return match expected {
                            Some(v) if v != current.version => Err(ServiceError::PreconditionFailed),
                            _ => Ok(current),
                        };
                    }
                    (change, expected, new_email, Some(current))
                }
            };
            let updated = match current {
                // Only an address to verify: the user's row stays as it is.
                Some(current) if change.is_empty() => {
                    if expected.is_some_and(|v| v != current.version) {
                        return Err(ServiceError::PreconditionFailed);
                    }
                    current
                }
                _ => {
                    let updated = repo.update_profile(target, expected, &change, now)?;
                    self.forget_links_if_address_changed(repo, target, &change)?;
                    let event = self.audit_event(
                        actor.principal(),
                        Some(target),
                        AuditAction::ProfileUpdate,
                        fields.clone(),
                        AuditOutcome::Success,
                        ctx,
                    );
                    self.record(repo, &event)?;
                    updated
                }
            };
            if let Some(new) = &held {
                self.ask_email_change(repo, actor, &updated, new, ctx)?;
            }
            Ok(updated)
        });
        if let (Err(err), Some((_, _, armed))) = (&written, sent) {
            self.realign_now(armed, err);
        }
        written
    }

    /// Records a refused or failed change in a transaction of its own (the change's rolled back).
    pub(crate) fn audit_refusal<T>(
        &self,
        result: &ServiceResult<T>,
        actor: Actor<'_>,
        subject: Option<UserKey>,
        action: AuditAction,
        fields: Vec<String>,
        ctx: &RequestContext,
    ) {
        let outcome = match result {
            Ok(_) => return,
            Err(
                ServiceError::Upstream(_)
                | ServiceError::Store(_)
                | ServiceError::Hashing(_)
                | ServiceError::HashingBusy { .. },
            ) => AuditOutcome::Failed,
            Err(_) => AuditOutcome::Denied,
        };
        self.audit_apart(self.audit_event(actor.principal(), subject, action, fields, outcome, ctx));
    }

    /// The password rules in force for a user of `level` (APIO settings, the Application Server's
    /// rules when `VALIDATE_PASSWORD_LOCALLY`, accountd's baseline).
    pub fn password_rules_for(&self, level: UserLevel) -> ServiceResult<PasswordRules> {
        let upstream = if self.config.apio.validate_password_locally {
            self.upstream.password_rules(level)?
        } else {
            None
        };
        Ok(password::effective_password_rules(
            &self.config.apio,
            &self.config.password,
            level,
            upstream.as_ref(),
        ))
    }

    /// Changes a password. A user changing their own must give the right `old` one (a wrong one is
    /// counted by throttling and answered 403); an administrator in scope (or the operator) may set
    /// it without. Every policy violation is reported at once. Ends the user's other sessions.
    #[tracing::instrument(skip_all, fields(target = %target))]
    pub fn change_password(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        old: Option<&Password>,
        new: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let fields = vec!["password".to_owned()];
        let result = self.change_password_inner(actor, target, old, new, ctx);
        self.audit_refusal(&result, actor, Some(target), AuditAction::PasswordChange, fields, ctx);
        result
    }

    fn change_password_inner(
        &self,
        actor: Actor<'_>,
        target: UserKey,
        old: Option<&Password>,
        new: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let upstream = self.password_goes_upstream();
        let _claim = self.claim_user_if(upstream, target)?;
        let user = self
            .store
            .read(|repo| repo.user_by_key(target))?
            .ok_or(ServiceError::NotFound("user"))?;
        let prepared = self.prepare_password(actor, &user, old, new, ctx)?;
        if upstream {
            self.upstream.set_password(&user, new)?;
        }
        let written = self.store.write(|repo| {
            // After the AS accepted: the version decided on, so an interleaved change of the user is
            // detected (as for PINs). A local-only change is ordered by this transaction alone.
            if upstream && repo.user_by_key(target)?.map(|u| u.version) != Some(user.version) {
                return Err(ServiceError::PreconditionFailed);
            }
            self.apply_password(repo, actor, &user, &prepared, ctx)
        });
        if upstream && let Err(err) = &written {
            self.report_upstream_password_divergence(&user, err);
        }
        written?;
        self.forget_basic(user.key);
        Ok(())
    }

    /// Everything a password change needs before its transaction: authorization, the old password
    /// (for one's own; a wrong one is counted by throttling), the policy with every violation, the
    /// history, and the new hash.
    pub(crate) fn prepare_password(
        &self,
        actor: Actor<'_>,
        user: &User,
        old: Option<&Password>,
        new: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<PreparedPassword> {
        let is_self = actor.principal().is_some_and(|p| p.user.key == user.key);
        let current = if is_self {
            self.authorize(actor, Action::ChangeOwnPassword, user)?;
            let old = old.ok_or(ServiceError::Invalid(vec![accountd_domain::InvalidValue::new(
                "oldPassword",
                accountd_domain::Problem::Empty,
            )]))?;
            self.verify_current_password(user, old, ctx)?
        } else {
            self.authorize(actor, Action::ResetPassword, user)?;
            self.store.read(|repo| repo.password(user.key))?.map(|r| r.hash)
        };

        let rules = self.password_rules_for(user.level())?;
        let verdict = self.password_verdict(user, &rules, Some(current.as_ref()), new)?;
        if !verdict.is_valid() {
            return Err(ServiceError::Policy {
                field: "newPassword",
                violations: verdict.violations,
            });
        }
        Ok(PreparedPassword {
            hash: self.hasher.hash(new.expose(), self.random.as_ref())?,
            own: is_self,
            // An administrator (or the operator) sets a password the user must change at next login.
            first_login: !is_self,
            keep_history: rules.history,
            keep_session: if is_self {
                actor.principal().and_then(|p| p.session)
            } else {
                None
            },
            by_reset_link: false,
        })
    }

    /// Whether the login mode sends password changes to the Application Server.
    pub(crate) fn password_goes_upstream(&self) -> bool {
        dispatch(
            self.config.apio.login_mode,
            Operation::PasswordChange,
            self.config.apio.update_profile_to_bs_db_sso,
        )
        .write_upstream
    }

    /// After the Application Server accepted a new password and the local write failed (`err`):
    /// the old password can't be sent back (only its hash is kept), so the divergence is logged at
    /// error level; the user's next password change (or an administrator's reset) aligns both.
    pub(crate) fn report_upstream_password_divergence(&self, user: &User, err: &ServiceError) {
        self.record_divergence(
            user.key,
            DIVERGED_PASSWORD,
            &format!(
                "the local write failed ({err}) after the Application Server accepted a new password: the AS has \
                 the new password, the local store the old one; a password change or reset aligns both"
            ),
        );
    }

    /// Stores a prepared password change inside the caller's transaction: the hash, the end of the
    /// user's other sessions, the end of a demanded change (the user's own change), the audit
    /// event. The Application Server (when the login mode says)
    /// was called before, outside any transaction.
    pub(crate) fn apply_password(
        &self,
        repo: &mut dyn Repository,
        actor: Actor<'_>,
        user: &User,
        prepared: &PreparedPassword,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        // Writes about the user's credentials take turns (a report, a sign-in, a token). The
        // changing session is not required to be still there: its request may have outlived a
        // short idle timeout while hashing, and whoever could make this change (knowing the old
        // password) could sign in and make it anyway.
        repo.lock_account(user.key)?;
        repo.set_password(
            user.key,
            &prepared.hash,
            prepared.first_login,
            prepared.keep_history,
            now,
        )?;
        repo.delete_user_sessions(user.key, prepared.keep_session.as_ref())?;
        // A pending reset link would undo what was just chosen; a pending change of the address
        // may be a thief's, who is being locked out.
        repo.delete_password_resets(user.key)?;
        repo.delete_email_change(user.key)?;
        if prepared.own {
            // "This wasn't me" demanded it: done. An administrator's reset leaves the demand (the
            // administrator knows the new password).
            repo.settle_password_change(user.key)?;
        }
        let mut fields = vec!["password".to_owned()];
        if prepared.by_reset_link {
            fields.push("reset_link".to_owned());
        }
        let event = self.audit_event(
            actor.principal(),
            Some(user.key),
            AuditAction::PasswordChange,
            fields,
            AuditOutcome::Success,
            ctx,
        );
        self.record(repo, &event)?;
        Ok(())
    }

    /// Whether `new` equals the current password or one of the last `rules.history` ones.
    pub(crate) fn reuses_password(
        &self,
        user: &User,
        current: Option<&accountd_domain::secret::SecretHash>,
        rules: &PasswordRules,
        new: &Password,
    ) -> ServiceResult<bool> {
        let history = self.store.read(|repo| repo.password_history(user.key, rules.history))?;
        self.matches_any(current, &history, new.expose())
    }

    /// Whether `secret` is the one behind `current` or any of `history` (stops at the first match).
    pub(crate) fn matches_any(
        &self,
        current: Option<&accountd_domain::secret::SecretHash>,
        history: &[accountd_domain::secret::SecretHash],
        secret: &str,
    ) -> ServiceResult<bool> {
        for hash in current.into_iter().chain(history) {
            if self.hasher.verify(hash, secret)?.matches {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Creates a user with an initial password (which they must change at first login, unless the
    /// operator creates it). The password must meet the policy for the user's level.
    pub fn create_user(
        &self,
        actor: Actor<'_>,
        new: &NewUser,
        initial_password: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<User> {
        if let Actor::Caller(p) = actor
            && !access::may_create(&p.user, &new.role, None)
        {
            return Err(ServiceError::Forbidden("outside the caller's scope"));
        }
        let rules = self.password_rules_for(new.role.level())?;
        let mut violations = password::check_password(&rules, initial_password, &new.username);
        for v in &mut violations {
            v.field = "password";
        }
        if !violations.is_empty() {
            return Err(ServiceError::Policy {
                field: "password",
                violations,
            });
        }
        let hash = self.hasher.hash(initial_password.expose(), self.random.as_ref())?;
        let now = self.clock.now();
        let first_login = matches!(actor, Actor::Caller(_));
        self.store.write(|repo| {
            let user = repo.create_user(new, now)?;
            repo.set_password(user.key, &hash, first_login, rules.history, now)?;
            let event = self.audit_event(
                actor.principal(),
                Some(user.key),
                AuditAction::UserCreate,
                vec![],
                AuditOutcome::Success,
                ctx,
            );
            self.record(repo, &event)?;
            Ok(user)
        })
    }
}
