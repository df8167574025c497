//! Seed 001's PIN code resource. The PIN is stored only as an argon2id hash and never returned; its
//! settings (`loginDisabled`, `expirationDays`, `doesNotExpire`) are. A user changing their own PIN
//! gives the old one (when one is set), like passwords; administrators in scope set it without, and
//! only they change the settings. New PINs are checked by the PIN rules when
//! `VALIDATE_PINCODE_LOCALLY` is on (the Application Server's rules for the level, else accountd's).

use crate::outbox::{DIVERGED_PIN, Realign};
use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::level::GroupMember;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::Store;
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::rules::PinRules;
use accountd_domain::secret::{PinCode, SecretHash};
use accountd_domain::user::User;
use accountd_domain::{InvalidValue, Problem};
use accountd_policy::access::Action;
use accountd_policy::mode::{Operation, dispatch};
use accountd_policy::pin;
use accountd_policy::settings::default_pin_rules;

/// Seed 001's pincode PUT.
#[derive(Debug, Clone, Default)]
pub struct PinUpdate {
    pub pin: Option<PinCode>,
    pub old_pin: Option<PinCode>,
    pub login_disabled: Option<bool>,
    pub expiration_days: Option<i64>,
    pub does_not_expire: Option<bool>,
}

impl PinUpdate {
    fn fields(&self) -> Vec<String> {
        [
            ("pinCode", self.pin.is_some()),
            ("loginDisabled", self.login_disabled.is_some()),
            ("expirationDays", self.expiration_days.is_some()),
            ("doesNotExpire", self.does_not_expire.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

impl<S: Store> Services<S> {
    /// The PIN rules for `user` (`None` when `VALIDATE_PINCODE_LOCALLY` is off).
    pub fn pin_rules_for(&self, user: &User) -> ServiceResult<Option<PinRules>> {
        let upstream = if self.config.apio.validate_pincode_locally {
            self.upstream.pin_rules(user.level())?
        } else {
            None
        };
        Ok(pin::effective_pin_rules(&self.config.apio, upstream.as_ref()))
    }

    /// `GET …/pincode/`: the settings (defaults when none were ever set).
    pub fn get_pin(&self, actor: &Principal, member: &GroupMember) -> ServiceResult<PinSettings> {
        let user = self.addressed_user(actor, member, Action::Read)?;
        Ok(self
            .store
            .read(|repo| repo.pin(user.key))?
            .map(|r| r.settings)
            .unwrap_or_default())
    }

    /// `PUT …/pincode/`.
    #[tracing::instrument(skip_all, fields(user = %member.user))]
    pub fn update_pin(
        &self,
        actor: &Principal,
        member: &GroupMember,
        update: &PinUpdate,
        ctx: &RequestContext,
    ) -> ServiceResult<PinSettings> {
        let mut subject = None;
        let result = self.update_pin_inner(actor, member, update, ctx, &mut subject);
        self.audit_refusal(
            &result,
            Actor::Caller(actor),
            subject,
            AuditAction::PinChange,
            update.fields(),
            ctx,
        );
        result
    }

    fn update_pin_inner(
        &self,
        actor: &Principal,
        member: &GroupMember,
        update: &PinUpdate,
        ctx: &RequestContext,
        subject: &mut Option<accountd_domain::ids::UserKey>,
    ) -> ServiceResult<PinSettings> {
        let is_self = actor.user.role.member() == Some(member);
        let action = if is_self {
            Action::ChangeOwnPin
        } else {
            Action::ResetPin
        };
        let addressed = self.addressed_user(actor, member, action)?;
        *subject = Some(addressed.key);
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::PinChange,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        // Changes of one user that go to the Application Server are ordered by its claim; no
        // transaction is open while the AS is called (issue 15).
        let _claim = self.claim_user_if(how.write_upstream, addressed.key)?;
        let user = if how.write_upstream {
            // Read again under the claim: the version the change is decided on.
            self.addressed_user(actor, member, action)?
        } else {
            addressed
        };
        let current = self.store.read(|repo| repo.pin(user.key))?;
        let current_settings = current.as_ref().map(|r| r.settings).unwrap_or_default();
        let current_hash = current.as_ref().and_then(|r| r.hash.clone());

        let settings = PinSettings::new(
            update.login_disabled.unwrap_or(current_settings.login_disabled),
            update
                .expiration_days
                .unwrap_or(i64::from(current_settings.expiration_days())),
            update.does_not_expire.unwrap_or(current_settings.does_not_expire),
        )?;
        if is_self && settings != current_settings && !matches!(actor.user.role, accountd_domain::level::Role::System) {
            return Err(ServiceError::Forbidden("only an administrator changes PIN settings"));
        }

        if is_self && let Some(hash) = &current_hash {
            self.check_old_pin(&user, hash, update.old_pin.as_ref(), ctx)?;
        }

        let rules = self.pin_rules_for(&user)?;
        let new_hash = match &update.pin {
            Some(new) => {
                if let Some(rules) = &rules {
                    self.check_new_pin(&user, rules, new, current_hash.as_ref())?;
                }
                Some(self.hasher.hash(new.expose(), self.random.as_ref())?)
            }
            None => None,
        };
        let keep_history = rules.as_ref().map_or(default_pin_rules().history, |r| r.history);
        let armed = if how.write_upstream {
            let armed = self.arm(user.key, Realign::PinSettings)?;
            if let Err(err) = self.upstream.set_pin(&user, update.pin.as_ref(), &settings) {
                self.upstream_failed(armed, &err);
                return Err(err.into());
            }
            Some(armed)
        } else {
            None
        };
        let now = self.clock.now();
        let written = self.store.write(|repo| {
            // What was decided on: an interleaved change of the user or of the PIN is detected.
            let still = repo.user_by_key(user.key)?.map(|u| u.version) == Some(user.version)
                && repo.pin(user.key)?.map(|r| (r.settings, r.hash))
                    == current.as_ref().map(|r| (r.settings, r.hash.clone()));
            if how.write_upstream && !still {
                return Err(ServiceError::PreconditionFailed);
            }
            if let Some(armed) = &armed {
                self.disarm(repo, armed)?;
            }
            repo.set_pin(user.key, new_hash.as_ref(), &settings, keep_history, now)?;
            let event = self.audit_event(
                Some(actor),
                Some(user.key),
                AuditAction::PinChange,
                update.fields(),
                AuditOutcome::Success,
                ctx,
            );
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        });
        if let (Err(err), Some(armed)) = (&written, armed) {
            // The settings go back on the AS; a changed PIN can't (only its hash is kept).
            self.realign_now(armed, err);
            if update.pin.is_some() {
                self.record_divergence(
                    user.key,
                    DIVERGED_PIN,
                    &format!(
                        "the local write failed ({err}) after the Application Server accepted a new PIN: the AS has \
                         the new PIN, the local store the old one; a PIN change or reset aligns both"
                    ),
                );
            }
        }
        written?;
        Ok(settings)
    }

    /// The old PIN, required to change one's own: a wrong one counts for throttling and for the PIN's
    /// failure count, and answers 403.
    pub(crate) fn check_old_pin(
        &self,
        user: &User,
        hash: &SecretHash,
        old: Option<&PinCode>,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let old = old.ok_or(ServiceError::Invalid(vec![InvalidValue::new(
            "oldPinCode",
            Problem::Empty,
        )]))?;
        self.check_throttle(user.username.as_str(), ctx)?;
        if self.hasher.verify(hash, old.expose())?.matches {
            return Ok(());
        }
        self.store.write(|repo| {
            self.count_failure(repo, user.username.as_str(), ctx)?;
            repo.record_pin_failure(user.key)?;
            Ok::<_, ServiceError>(())
        })?;
        Err(ServiceError::WrongSecret("old PIN"))
    }

    /// Every rule the new PIN breaks, including reuse of recent PINs and the reverse of the current.
    fn check_new_pin(
        &self,
        user: &User,
        rules: &PinRules,
        new: &PinCode,
        current: Option<&SecretHash>,
    ) -> ServiceResult<()> {
        let verdict = self.pin_verdict(user, rules, new, Some(current))?;
        if verdict.is_valid() {
            Ok(())
        } else {
            Err(ServiceError::Policy {
                field: "pinCode",
                violations: verdict.violations,
            })
        }
    }
}
