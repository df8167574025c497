//! The self-service account page's use cases: the caller's effective password and PIN policy,
//! checking a candidate against it without storing anything, and the caller's own sessions.
//!
//! A candidate check is an oracle: with the history rule it would tell whether a guess is the
//! current password. So the history rules are checked only when the caller also gives the current
//! secret, verified exactly as at login (throttled, a wrong one counted as a failure and answered
//! 403); without it they are reported as not checked (`passed: None`). Every check also counts
//! against [`crate::config::ThrottleConfig::max_checks_per_account`], so the live feedback cannot be
//! used to spend the server's CPU without bound. Candidates are never logged: nothing here is
//! instrumented with its arguments.

use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::level::GroupMember;
use accountd_domain::ports::{Store, UpstreamError};
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome, Session};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode, SecretHash};
use accountd_domain::user::User;
use accountd_policy::mode::{Authenticator, Operation, dispatch};
use accountd_policy::password;
use accountd_policy::pin::{self, PinContext};
use accountd_policy::violation::{RuleOutcome, Violation, fields};

/// One rule of a policy as the account page shows it: its stable code, the requirement in English,
/// and, for a candidate, whether it passed (`None`: not checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub code: &'static str,
    pub message: String,
    pub passed: Option<bool>,
}

impl From<&RuleOutcome> for Check {
    fn from(outcome: &RuleOutcome) -> Self {
        Self {
            code: outcome.code,
            message: outcome.message.clone(),
            passed: Some(outcome.passed),
        }
    }
}

impl Check {
    fn of(violation: Violation, passed: Option<bool>) -> Self {
        Self {
            code: violation.code,
            message: violation.message,
            passed,
        }
    }
}

/// A candidate judged against every rule: each rule's outcome, and the violations (empty: valid).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub checks: Vec<Check>,
    pub violations: Vec<Violation>,
}

impl Verdict {
    fn of(outcomes: &[RuleOutcome], field: &'static str) -> Self {
        Self {
            checks: outcomes.iter().map(Check::from).collect(),
            violations: outcomes.iter().filter_map(|o| o.violation(field)).collect(),
        }
    }

    /// Whether the candidate breaks no rule that was checked.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }

    /// Adds a rule that needs the stored hashes: checked (and maybe violated) when `broken` is
    /// `Some`, else listed as not checked.
    fn push_stored(&mut self, violation: Violation, broken: Option<bool>) {
        if broken == Some(true) {
            self.violations.push(violation.clone());
        }
        self.checks.push(Check::of(violation, broken.map(|b| !b)));
    }

    /// The rules alone, for a policy listing (`passed` is `None` throughout).
    fn rules_only(mut self) -> Vec<Check> {
        for check in &mut self.checks {
            check.passed = None;
        }
        self.checks
    }
}

/// The caller's password policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub rules: PasswordRules,
    pub checks: Vec<Check>,
}

/// The caller's PIN policy. `member` is `None` for a user who has no PIN (not a group member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPolicy {
    pub member: Option<GroupMember>,
    /// A PIN is set (changing it then needs the old one).
    pub has_pin: bool,
    /// `None` when PINs are not checked locally (`VALIDATE_PINCODE_LOCALLY` off).
    pub rules: Option<PinRules>,
    pub checks: Vec<Check>,
}

/// One of the caller's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSession {
    pub session: Session,
    /// The session the request came with.
    pub current: bool,
}

fn pin_context(user: &User) -> PinContext<'_> {
    PinContext {
        extension: Some(user.profile.extension.as_str()),
        phone_number: Some(user.profile.phone_number.as_str()),
    }
}

impl<S: Store> Services<S> {
    /// The password rules in force for the caller, and the checks the page lists.
    pub fn password_policy(&self, principal: &Principal) -> ServiceResult<PasswordPolicy> {
        let user = &principal.user;
        let rules = self.password_rules_for(user.level())?;
        // The requirements do not depend on the candidate; any will do to list them.
        let placeholder = Password::new("x".to_owned()).map_err(|e| ServiceError::Invalid(vec![e]))?;
        let mut verdict = Verdict::of(
            &password::evaluate_password(&rules, &placeholder, &user.username),
            fields::NEW_PASSWORD,
        );
        verdict.push_stored(password::reused_password(rules.history), None);
        Ok(PasswordPolicy {
            checks: verdict.rules_only(),
            rules,
        })
    }

    /// Judges `candidate` as a new password of the caller, storing nothing. With `current` (verified
    /// as at login), the history rule is checked too.
    pub fn check_password_candidate(
        &self,
        principal: &Principal,
        candidate: &Password,
        current: Option<&Password>,
        ctx: &RequestContext,
    ) -> ServiceResult<Verdict> {
        let user = &principal.user;
        self.count_check(user.username.as_str())?;
        let stored = match current {
            Some(current) => Some(self.verify_current_password(user, current, ctx)?),
            None => None,
        };
        let rules = self.password_rules_for(user.level())?;
        self.password_verdict(user, &rules, stored.as_ref().map(|s| s.as_ref()), candidate)
    }

    /// Every rule `new` breaks as `user`'s next password. With `current` (`Some(hash)` or
    /// `Some(None)` for a user with none), reuse of it and of the history is checked too.
    pub(crate) fn password_verdict(
        &self,
        user: &User,
        rules: &PasswordRules,
        current: Option<Option<&SecretHash>>,
        new: &Password,
    ) -> ServiceResult<Verdict> {
        let mut verdict = Verdict::of(
            &password::evaluate_password(rules, new, &user.username),
            fields::NEW_PASSWORD,
        );
        let reused = match current {
            Some(current) if verdict.is_valid() => Some(self.reuses_password(user, current, rules, new)?),
            _ => None,
        };
        verdict.push_stored(password::reused_password(rules.history), reused);
        Ok(verdict)
    }

    /// Checks `current` as the user's password where the login mode verifies logins (the local
    /// store, or the Application Server in SERVER_LOGIN; never a copy the mode does not trust):
    /// refused while the account is throttled, a wrong one counted as a failure (403). Returns the
    /// local hash to judge reuse against, when the local store is where passwords are checked.
    /// SSO_LOGIN_DEDICATED: the identity provider owns the password, so there is nothing to
    /// prove a current one against (403; an administrator's reset still sets the stored one).
    pub(crate) fn verify_current_password(
        &self,
        user: &User,
        current: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<Option<SecretHash>> {
        let authenticator = dispatch(
            self.config.apio.login_mode,
            Operation::Login,
            self.config.apio.update_profile_to_bs_db_sso,
        )
        .authenticate;
        if authenticator == Authenticator::IdentityProvider {
            return Err(ServiceError::Forbidden(
                "the identity provider manages passwords in SSO_LOGIN_DEDICATED",
            ));
        }
        self.check_throttle(user.username.as_str(), ctx)?;
        let (matches, local) = match authenticator {
            Authenticator::ApplicationServer => match self.upstream.authenticate(&user.username, current) {
                Ok(()) => (true, None),
                Err(UpstreamError::Unauthorized) => (false, None),
                Err(other) => return Err(ServiceError::Upstream(other)),
            },
            _ => {
                let record = self.store.read(|repo| repo.password(user.key))?;
                let matches = match &record {
                    Some(r) => self.hasher.verify(&r.hash, current.expose())?.matches,
                    None => {
                        self.hasher.try_verify_dummy(current.expose())?;
                        false
                    }
                };
                (matches, record.map(|r| r.hash))
            }
        };
        if !matches {
            self.store
                .write(|repo| self.count_failure(repo, user.username.as_str(), ctx))?;
            return Err(ServiceError::WrongSecret("old password"));
        }
        Ok(local)
    }

    /// The PIN rules in force for the caller.
    pub fn pin_policy(&self, principal: &Principal) -> ServiceResult<PinPolicy> {
        let user = &principal.user;
        let Some(member) = user.role.member().cloned() else {
            return Ok(PinPolicy {
                member: None,
                has_pin: false,
                rules: None,
                checks: Vec::new(),
            });
        };
        let has_pin = self
            .store
            .read(|repo| repo.pin(user.key))?
            .is_some_and(|r| r.hash.is_some());
        let rules = self.pin_rules_for(user)?;
        let checks = match &rules {
            Some(rules) => {
                let placeholder = PinCode::parse("0".to_owned()).map_err(|e| ServiceError::Invalid(vec![e]))?;
                self.pin_verdict(user, rules, &placeholder, None)?.rules_only()
            }
            None => Vec::new(),
        };
        Ok(PinPolicy {
            member: Some(member),
            has_pin,
            rules,
            checks,
        })
    }

    /// Judges `candidate` as the caller's new PIN, storing nothing. With `current` (verified as a
    /// PIN change would: throttled, a wrong one counted), reuse and the reversed PIN are checked.
    pub fn check_pin_candidate(
        &self,
        principal: &Principal,
        candidate: &PinCode,
        current: Option<&PinCode>,
        ctx: &RequestContext,
    ) -> ServiceResult<Verdict> {
        let user = &principal.user;
        if user.role.member().is_none() {
            return Err(ServiceError::Forbidden("this account has no PIN code"));
        }
        self.count_check(user.username.as_str())?;
        let stored = self.store.read(|repo| repo.pin(user.key))?.and_then(|r| r.hash);
        let verified = match (current, &stored) {
            (Some(current), Some(hash)) => {
                self.check_old_pin(user, hash, Some(current), ctx)?;
                Some(Some(hash))
            }
            // Without a verified current PIN, reuse is not checked: the history is not an oracle.
            (_, None) | (None, Some(_)) => None,
        };
        match self.pin_rules_for(user)? {
            Some(rules) => self.pin_verdict(user, &rules, candidate, verified),
            None => Ok(Verdict::default()),
        }
    }

    /// Every rule `new` breaks as `user`'s next PIN; with `current` (the stored hash, or
    /// `Some(None)` when there is none) reuse and the reversed current PIN too.
    pub(crate) fn pin_verdict(
        &self,
        user: &User,
        rules: &PinRules,
        new: &PinCode,
        current: Option<Option<&SecretHash>>,
    ) -> ServiceResult<Verdict> {
        let mut verdict = Verdict::of(&pin::evaluate_pin(rules, new, &pin_context(user)), fields::PIN_CODE);
        let checked = current.filter(|_| verdict.is_valid());
        let reused = match checked {
            Some(current) => {
                let history = self.store.read(|repo| repo.pin_history(user.key, rules.history))?;
                Some(self.matches_any(current, &history, new.expose())?)
            }
            None => None,
        };
        verdict.push_stored(pin::reused_pin(rules.history), reused);
        if rules.forbid_reversed_old {
            let reversed = match checked {
                Some(Some(hash)) => Some(self.hasher.verify(hash, pin::reversed(new).expose())?.matches),
                Some(None) => Some(false),
                None => None,
            };
            verdict.push_stored(pin::reversed_old_pin(), reversed);
        }
        Ok(verdict)
    }

    /// The caller's active sessions, newest first, the current one marked. Sessions past their
    /// absolute or idle timeout (which authenticate no more, and which the purge task has not
    /// removed yet) are left out.
    pub fn own_sessions(&self, principal: &Principal) -> ServiceResult<Vec<OwnSession>> {
        Ok(self
            .active_sessions(principal.user.key)?
            .into_iter()
            .map(|session| OwnSession {
                current: principal.session.as_ref() == Some(&session.digest),
                session,
            })
            .collect())
    }

    /// `user`'s sessions that still authenticate (within their absolute and idle timeouts),
    /// newest first.
    pub(crate) fn active_sessions(&self, user: accountd_domain::ids::UserKey) -> ServiceResult<Vec<Session>> {
        let now = self.clock.now();
        let idle_since = now.plus_seconds(-self.config.sessions.idle_timeout_seconds);
        let sessions = self.store.read(|repo| repo.user_sessions(user))?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.expires_at > now && s.last_seen_at > idle_since)
            .collect())
    }

    /// Ends one of the caller's sessions (the current one too, if asked); 404 when the caller has
    /// no session `id`.
    pub fn end_own_session(&self, principal: &Principal, id: i64, ctx: &RequestContext) -> ServiceResult<()> {
        self.end_session_of(principal, principal.user.key, id, ctx)
    }

    /// Ends `user`'s session `id` for `actor` (themself, or an administrator), audited; 404 when
    /// `user` has no such session.
    pub(crate) fn end_session_of(
        &self,
        actor: &Principal,
        user: accountd_domain::ids::UserKey,
        id: i64,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let event = self.audit_event(
            Some(actor),
            Some(user),
            AuditAction::SessionRevoke,
            vec![format!("session:{id}")],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            if !repo.delete_user_session(user, id)? {
                return Err(ServiceError::NotFound("session"));
            }
            self.record(repo, &event)?;
            Ok(())
        })
    }

    /// Ends every session of the caller but the one the request came with; returns how many ended.
    pub fn end_other_sessions(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<u64> {
        let event = self.audit_event(
            Some(principal),
            Some(principal.user.key),
            AuditAction::SessionRevoke,
            vec!["other_sessions".to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            let ended = repo.delete_user_sessions(principal.user.key, principal.session.as_ref())?;
            self.record(repo, &event)?;
            Ok(ended)
        })
    }
}
