//! Second factors (issue 18; docs/second-factors.md): enrolling, confirming and removing a TOTP
//! authenticator, recovery codes, the second step of a login, re-authentication for sensitive
//! changes, and an administrator's reset.
//!
//! A user has a second factor once a TOTP authenticator is confirmed (recovery codes come with
//! it and stand in for it). Such a user's password alone opens no session: [`Services::login`]
//! answers [`ServiceError::SecondFactorRequired`] with a challenge, and
//! [`Services::login_second_factor`] takes the challenge and a code. HTTP Basic can't carry the
//! second step and is refused for them ([`ServiceError::BasicWithSecondFactor`]); API tokens keep
//! working. A user without a factor sees none of this.

use crate::passkeys::PasskeyCheck;
use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{Repository, Store};
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::{AuditAction, AuditOutcome, LoginChallenge, TotpFactor};
use accountd_domain::secret::{Password, TokenDigest};
use accountd_domain::user::{Timestamp, User};
use accountd_policy::access::Action;
use accountd_policy::factors::{
    self, KEY_BYTES, KeyRing, NONCE_BYTES, RECOVERY_CODE_BYTES, RECOVERY_CODES, TOTP_SECRET_BYTES, TotpSecret,
};
use accountd_policy::tokens;
use base64::Engine;

/// The methods a user with a factor may finish a login with, as the challenge lists them.
pub const METHOD_TOTP: &str = "totp";
pub const METHOD_RECOVERY_CODE: &str = "recovery_code";

/// The challenge of a login's second step: the secret to send back with a code, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactorChallenge {
    pub challenge: String,
    pub methods: Vec<&'static str>,
    pub expires_at: Timestamp,
    /// With `passkey` among the methods: the options for `navigator.credentials.get()`.
    pub passkey_options: Option<serde_json::Value>,
}

impl std::fmt::Debug for SecondFactorChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorChallenge")
            .field("challenge", &"<redacted>")
            .field("methods", &self.methods)
            .field("expires_at", &self.expires_at)
            .field("passkey_options", &self.passkey_options.is_some())
            .finish()
    }
}

/// What proves the second factor (or, to re-authenticate, the password). Its `Debug` names the
/// kind only.
pub enum Proof<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
    Password(&'a Password),
    /// A passkey's assertion (`PublicKeyCredential` JSON). At a login's second step it answers
    /// the challenge's options; to re-authenticate, the ceremony of
    /// [`Services::begin_passkey_reauthentication`].
    Passkey {
        ceremony: Option<&'a str>,
        credential: &'a serde_json::Value,
    },
}

impl std::fmt::Debug for Proof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proof({}, <redacted>)", self.field())
    }
}

impl Proof<'_> {
    fn field(&self) -> &'static str {
        match self {
            Proof::Totp(_) => METHOD_TOTP,
            Proof::RecoveryCode(_) => METHOD_RECOVERY_CODE,
            Proof::Password(_) => "password",
            Proof::Passkey { .. } => crate::passkeys::METHOD_PASSKEY,
        }
    }
}

/// A TOTP enrollment begun: what the authenticator app needs. `secret` is shown once.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI, for the QR code.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment(<redacted>)")
    }
}

/// A new set of recovery codes, shown once.
#[derive(Clone)]
pub struct RecoveryCodes(pub Vec<String>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} codes, <redacted>)", self.0.len())
    }
}

/// A user's second factors, as their account page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorStatus {
    /// `None`: no authenticator; `Some(false)`: enrollment begun, not confirmed.
    pub totp_confirmed: Option<bool>,
    pub totp_confirmed_at: Option<Timestamp>,
    pub recovery_codes_left: u32,
    /// How many passkeys the user has.
    pub passkeys: u32,
    /// Whether the session must enroll a factor before anything else.
    pub enrollment_required: bool,
}

/// Parses configured keys (`id:base64-of-32-bytes`, oldest first) into a ring.
pub fn parse_keys(keys: &[String]) -> Result<KeyRing, String> {
    let mut ring = Vec::with_capacity(keys.len());
    for (n, entry) in keys.iter().enumerate() {
        let (id, encoded) = entry
            .split_once(':')
            .ok_or_else(|| format!("security.keys[{n}] is not `id:base64-key`"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| format!("security.keys[{n}] ({id}): the key is not base64"))?;
        let key = <[u8; KEY_BYTES]>::try_from(bytes.as_slice())
            .map_err(|_| format!("security.keys[{n}] ({id}): the key is not {KEY_BYTES} bytes"))?;
        ring.push((id.to_owned(), key));
    }
    KeyRing::new(ring).map_err(|e| e.to_string())
}

impl<S: Store> Services<S> {
    /// Gives the service the keys that seal TOTP secrets. Without a ring, enrolling is refused.
    pub fn set_key_ring(&mut self, ring: KeyRing) {
        self.key_ring = Some(ring);
    }

    fn key_ring(&self) -> ServiceResult<&KeyRing> {
        self.key_ring.as_ref().ok_or(ServiceError::Forbidden(
            "second factors are not configured on this server",
        ))
    }

    /// Whether `user` has a second factor (a confirmed TOTP authenticator, or a passkey).
    pub(crate) fn has_second_factor(&self, repo: &mut dyn Repository, user: UserKey) -> ServiceResult<bool> {
        Ok(self.has_confirmed_totp(repo, user)? || self.has_passkey(repo, user)?)
    }

    fn has_confirmed_totp(&self, repo: &mut dyn Repository, user: UserKey) -> ServiceResult<bool> {
        Ok(repo.totp_factor(user)?.is_some_and(|f| f.confirmed_at.is_some()))
    }

    /// Whether a user of this level must enroll a factor (`mfa.required_levels`).
    pub(crate) fn factor_required(&self, user: &User) -> bool {
        self.config.mfa.required_levels.contains(&user.role.level())
    }

    /// Hands out the challenge of a login's second step for `user`.
    pub(crate) fn second_factor_challenge(&self, user: &User) -> ServiceResult<ServiceError> {
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let now = self.clock.now();
        let passkey = self.passkey_assertion(user.key)?;
        let (passkey_state, passkey_options) = passkey.unzip();
        let challenge = LoginChallenge {
            digest: tokens::token_digest(&secret),
            user: user.key,
            created_at: now,
            expires_at: now.plus_seconds(self.config.security.challenge_seconds),
            failures: 0,
            passkey_state,
        };
        // Expired challenges go with the periodic purge (`purge_expired_sessions`), not here.
        let (totp, left) = self.store.write(|repo| {
            repo.create_login_challenge(&challenge)?;
            Ok::<_, ServiceError>((
                self.has_confirmed_totp(repo, user.key)?,
                repo.recovery_codes_left(user.key)?,
            ))
        })?;
        let mut methods = Vec::with_capacity(3);
        if totp {
            methods.push(METHOD_TOTP);
        }
        if passkey_options.is_some() {
            methods.push(crate::passkeys::METHOD_PASSKEY);
        }
        if left > 0 {
            methods.push(METHOD_RECOVERY_CODE);
        }
        Ok(ServiceError::SecondFactorRequired(SecondFactorChallenge {
            challenge: tokens::encode_token(&secret),
            methods,
            expires_at: challenge.expires_at,
            passkey_options,
        }))
    }

    /// The second step of `POST /api/v1/login/`: the challenge of the first and a TOTP or
    /// recovery code. Opens the session exactly as a login without a factor does. A wrong code is
    /// counted like a wrong password (per user and address); after
    /// `security.challenge_max_failures` the challenge dies and the password must be given again.
    #[tracing::instrument(skip_all)]
    pub fn login_second_factor(
        &self,
        challenge: &str,
        proof: &Proof<'_>,
        ctx: &RequestContext,
    ) -> ServiceResult<crate::auth::LoginOutcome> {
        if matches!(proof, Proof::Password(_)) {
            return Err(ServiceError::BadCredentials);
        }
        let digest = tokens::decode_token(challenge)
            .map(|b| tokens::token_digest(&b))
            .ok_or(ServiceError::BadCredentials)?;
        let now = self.clock.now();
        let Some(found) = self.store.read(|repo| repo.login_challenge(&digest))? else {
            return Err(ServiceError::BadCredentials);
        };
        let (user, record) = self
            .store
            .read(|repo| {
                let user = repo.user_by_key(found.user)?;
                let record = repo.password(found.user)?;
                Ok::<_, ServiceError>(user.map(|u| (u, record)))
            })?
            .ok_or(ServiceError::BadCredentials)?;
        let username = user.username.to_string();
        self.check_throttle(&username, ctx)?;
        if now >= found.expires_at || !user.may_sign_in() {
            self.store.write(|repo| repo.delete_login_challenge(&digest))?;
            return Err(ServiceError::BadCredentials);
        }
        let verdict = self.verify_factor(&user, proof, found.passkey_state.as_deref())?;
        if verdict == PasskeyCheck::CounterRegressed {
            return Err(self.failed_passkey(&user, None, AuditAction::Login, true, ctx));
        }
        if verdict == PasskeyCheck::Accepted {
            // Single use: whoever deletes it first opens the session.
            if !self.store.write(|repo| repo.delete_login_challenge(&digest))? {
                return Err(ServiceError::BadCredentials);
            }
            return self.open_session(user, record, AuthMethod::Session, ctx, vec![proof.field().to_owned()]);
        }
        let event = self.failed_login_event(&username, ctx);
        let max = self.config.security.challenge_max_failures;
        let recorded = self.store.write(|repo| {
            self.count_failure(repo, &username, ctx)?;
            let mut event = event;
            event.subject = Some(user.key);
            event.fields = vec![proof.field().to_owned()];
            self.record(repo, &event)?;
            if repo.count_challenge_failure(&digest)? >= max {
                repo.delete_login_challenge(&digest)?;
            }
            Ok::<_, ServiceError>(())
        });
        self.factor_counters.count(proof.field(), false);
        Err(recorded.err().unwrap_or(ServiceError::BadCredentials))
    }

    /// Checks a TOTP or recovery code, passkey or password of `user`, using it up when right (a
    /// TOTP step or a recovery code is accepted once, a passkey's counter moves on).
    /// `login_passkey_state`: the passkey assertion the login's challenge offered.
    fn verify_factor(
        &self,
        user: &User,
        proof: &Proof<'_>,
        login_passkey_state: Option<&str>,
    ) -> ServiceResult<PasskeyCheck> {
        let ok = match proof {
            Proof::Passkey { ceremony, credential } => {
                match self.verify_passkey(user, login_passkey_state, credential, *ceremony)? {
                    PasskeyCheck::Accepted => true,
                    PasskeyCheck::Refused => false,
                    PasskeyCheck::CounterRegressed => return Ok(PasskeyCheck::CounterRegressed),
                }
            }
            Proof::Totp(code) => {
                let Some(factor) = self.store.read(|repo| repo.totp_factor(user.key))? else {
                    return Ok(PasskeyCheck::Refused);
                };
                if factor.confirmed_at.is_none() {
                    return Ok(PasskeyCheck::Refused);
                }
                self.use_totp_code(&factor, user, code)?
            }
            Proof::RecoveryCode(code) => match factors::parse_recovery_code(code) {
                Some(bytes) => {
                    let digest = factors::recovery_code_digest(&bytes);
                    self.store.write(|repo| repo.use_recovery_code(user.key, &digest))?
                }
                None => false,
            },
            Proof::Password(password) => {
                let record = self.store.read(|repo| repo.password(user.key))?;
                match record {
                    Some(record) => self.hasher.verify(&record.hash, password.expose())?.matches,
                    None => {
                        self.hasher.try_verify_dummy(password.expose())?;
                        false
                    }
                }
            }
        };
        if ok {
            self.factor_counters.count(proof.field(), true);
            Ok(PasskeyCheck::Accepted)
        } else {
            Ok(PasskeyCheck::Refused)
        }
    }

    /// Whether `code` is right for `user`'s authenticator `factor` now, using its step up when it
    /// is (the store accepts a step only after the last one used: no replay).
    fn use_totp_code(&self, factor: &TotpFactor, user: &User, code: &str) -> ServiceResult<bool> {
        let now = self.clock.now();
        let secret = self.open_secret(factor, user)?;
        match secret.matching_step(code, now.as_millis().div_euclid(1000)) {
            Some(step) => Ok(self.store.write(|repo| repo.use_totp_step(user.key, step, now))?),
            None => Ok(false),
        }
    }

    /// Opens `user`'s sealed TOTP secret. The associated data is the user's uuid, which an export
    /// and import keep (the numeric key changes).
    fn open_secret(&self, factor: &TotpFactor, user: &User) -> ServiceResult<TotpSecret> {
        let bytes = self
            .key_ring()?
            .open(&factor.sealed, user.uuid.as_bytes())
            .map_err(|e| ServiceError::Store(accountd_domain::ports::StoreError::Corrupt(e.to_string())))?;
        TotpSecret::from_bytes(&bytes).ok_or_else(|| {
            ServiceError::Store(accountd_domain::ports::StoreError::Corrupt(
                "a TOTP secret of an unusable length".into(),
            ))
        })
    }

    /// Refuses a sensitive change unless the caller proved a password or factor recently
    /// (`security.reauth_max_age_seconds`). A session that must enroll passes for enrollment: it
    /// proved its password to get there.
    pub(crate) fn require_recent_proof(&self, principal: &Principal) -> ServiceResult<()> {
        let max_age = self.config.security.reauth_max_age_seconds;
        match principal.proved_at {
            Some(at) if self.clock.now().seconds_since(at) <= max_age => Ok(()),
            _ => Err(ServiceError::ReauthenticationRequired),
        }
    }

    /// Refuses anything but enrolling to a session that must enroll a factor first.
    pub fn refuse_if_enrollment_only(&self, principal: &Principal) -> ServiceResult<()> {
        if principal.enrollment_only {
            Err(ServiceError::EnrollmentRequired)
        } else {
            Ok(())
        }
    }

    /// `POST /api/v1/session/reauthenticate/`: the session proves its password, a TOTP code or a
    /// recovery code again. Throttled like a login.
    pub fn reauthenticate(&self, principal: &Principal, proof: &Proof<'_>, ctx: &RequestContext) -> ServiceResult<()> {
        let Some(digest) = principal.session else {
            return Err(ServiceError::Forbidden("only a session re-authenticates"));
        };
        let username = principal.user.username.to_string();
        self.check_throttle(&username, ctx)?;
        let has_factor = self
            .store
            .read(|repo| self.has_second_factor(repo, principal.user.key))?;
        // A user with a factor re-proves with it; the password alone would make it a one-factor
        // account again for sensitive changes.
        let allowed = !has_factor || !matches!(proof, Proof::Password(_));
        let verdict = match allowed {
            true => self.verify_factor(&principal.user, proof, None)?,
            false => PasskeyCheck::Refused,
        };
        if verdict == PasskeyCheck::CounterRegressed {
            return Err(self.failed_passkey(&principal.user, Some(principal), AuditAction::Reauthenticate, true, ctx));
        }
        let ok = verdict == PasskeyCheck::Accepted;
        let outcome = if ok {
            AuditOutcome::Success
        } else {
            AuditOutcome::Denied
        };
        let event = self.audit_event(
            Some(principal),
            Some(principal.user.key),
            AuditAction::Reauthenticate,
            vec![proof.field().to_owned()],
            outcome,
            ctx,
        );
        let now = self.clock.now();
        self.store.write(|repo| {
            if ok {
                repo.prove_session(&digest, now, principal.enrollment_only)?;
            } else {
                self.count_failure(repo, &username, ctx)?;
            }
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })?;
        if ok {
            Ok(())
        } else if has_factor && matches!(proof, Proof::Password(_)) {
            Err(ServiceError::Forbidden(
                "a user with a second factor re-authenticates with it",
            ))
        } else {
            Err(ServiceError::WrongSecret(proof.field()))
        }
    }

    /// The caller's factors.
    pub fn factor_status(&self, principal: &Principal) -> ServiceResult<FactorStatus> {
        let key = principal.user.key;
        let (factor, left, passkeys) = self.store.read(|repo| {
            Ok::<_, ServiceError>((
                repo.totp_factor(key)?,
                repo.recovery_codes_left(key)?,
                repo.user_passkeys(key)?.len(),
            ))
        })?;
        Ok(FactorStatus {
            totp_confirmed: factor.as_ref().map(|f| f.confirmed_at.is_some()),
            totp_confirmed_at: factor.and_then(|f| f.confirmed_at),
            recovery_codes_left: left,
            passkeys: u32::try_from(passkeys).unwrap_or(u32::MAX),
            enrollment_required: principal.enrollment_only,
        })
    }

    /// `POST /api/v1/session/second_factors/totp/`: begins enrolling an authenticator (a new secret, unconfirmed
    /// until [`Services::confirm_totp`]). Refused while one is confirmed: remove it first.
    pub fn enroll_totp(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<TotpEnrollment> {
        self.require_session(principal)?;
        self.require_recent_proof(principal)?;
        let ring = self.key_ring()?;
        let user = &principal.user;
        // A passkey is no reason to refuse: a user may have both.
        if self.store.read(|repo| self.has_confirmed_totp(repo, user.key))? {
            return Err(ServiceError::Conflict("TOTP authenticator"));
        }
        let mut bytes = [0u8; TOTP_SECRET_BYTES];
        self.random.fill(&mut bytes);
        let secret = TotpSecret::new(bytes);
        bytes.fill(0);
        let mut nonce = [0u8; NONCE_BYTES];
        self.random.fill(&mut nonce);
        let now = self.clock.now();
        let sealed = ring
            .seal(secret.expose(), user.uuid.as_bytes(), nonce)
            .map_err(|e| ServiceError::Hashing(e.to_string()))?;
        let factor = TotpFactor {
            user: user.key,
            sealed,
            created_at: now,
            confirmed_at: None,
            last_step: None,
        };
        let event = self.audit_event(
            Some(principal),
            Some(user.key),
            AuditAction::FactorEnroll,
            vec!["totp".to_owned(), "begun".to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            repo.put_totp_factor(&factor)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })?;
        Ok(TotpEnrollment {
            secret: secret.base32(),
            otpauth_uri: secret.otpauth_uri(&self.config.security.totp_issuer, user.username.as_str()),
        })
    }

    /// `PUT /api/v1/session/second_factors/totp/` with the app's first code: confirms the authenticator, lifts an
    /// enrollment-only session, and answers the first set of recovery codes (shown once). A wrong
    /// code is throttled like a password.
    pub fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> ServiceResult<RecoveryCodes> {
        let digest = self.require_session(principal)?;
        let user = &principal.user;
        let username = user.username.to_string();
        self.check_throttle(&username, ctx)?;
        let factor = self
            .store
            .read(|repo| repo.totp_factor(user.key))?
            .filter(|f| f.confirmed_at.is_none())
            .ok_or(ServiceError::NotFound("TOTP enrollment"))?;
        let now = self.clock.now();
        if !self.use_totp_code(&factor, user, code)? {
            let event = self.audit_event(
                Some(principal),
                Some(user.key),
                AuditAction::FactorEnroll,
                vec!["totp".to_owned()],
                AuditOutcome::Denied,
                ctx,
            );
            self.store.write(|repo| {
                self.count_failure(repo, &username, ctx)?;
                self.record(repo, &event)?;
                Ok::<_, ServiceError>(())
            })?;
            self.factor_counters.count(METHOD_TOTP, false);
            return Err(ServiceError::WrongSecret("TOTP code"));
        }
        let (codes, digests) = self.new_recovery_codes();
        let event = self.audit_event(
            Some(principal),
            Some(user.key),
            AuditAction::FactorEnroll,
            vec!["totp".to_owned(), "confirmed".to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            self.require_live_session(repo, principal)?;
            repo.replace_recovery_codes(user.key, &digests, now)?;
            repo.prove_session(&digest, now, false)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })?;
        self.factor_counters.count(METHOD_TOTP, true);
        Ok(codes)
    }

    /// `DELETE /api/v1/session/second_factors/totp/`: removes the authenticator (and, when it was
    /// the last factor, the recovery codes). Needs a recent proof.
    pub fn remove_totp(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<()> {
        let key = principal.user.key;
        self.remove_factor(principal, METHOD_TOTP, "TOTP authenticator", ctx, |repo| {
            Ok(repo.delete_totp_factor(key)?)
        })
    }

    /// Removes one of the caller's factors (recent proof needed): `delete` deletes it and says
    /// whether there was one (else `NotFound(what)`). The recovery codes stand in for every
    /// factor: they go with the last one. Audited as `factor_remove` with `method`.
    pub(crate) fn remove_factor(
        &self,
        principal: &Principal,
        method: &'static str,
        what: &'static str,
        ctx: &RequestContext,
        delete: impl FnOnce(&mut dyn Repository) -> ServiceResult<bool>,
    ) -> ServiceResult<()> {
        self.require_session(principal)?;
        self.require_recent_proof(principal)?;
        let key = principal.user.key;
        let event = self.audit_event(
            Some(principal),
            Some(key),
            AuditAction::FactorRemove,
            vec![method.to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            if !delete(repo)? {
                return Err(ServiceError::NotFound(what));
            }
            if !self.has_second_factor(repo, key)? {
                repo.delete_recovery_codes(key)?;
            }
            self.record(repo, &event)?;
            Ok(())
        })
    }

    /// `POST /api/v1/session/second_factors/recovery_codes/`: a new set (the old one dies), shown once. Needs a
    /// confirmed authenticator and a recent proof.
    pub fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> ServiceResult<RecoveryCodes> {
        self.require_session(principal)?;
        self.require_recent_proof(principal)?;
        let key = principal.user.key;
        let (codes, digests) = self.new_recovery_codes();
        let now = self.clock.now();
        let event = self.audit_event(
            Some(principal),
            Some(key),
            AuditAction::RecoveryCodesRegenerate,
            vec![],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            if !self.has_second_factor(repo, key)? {
                return Err(ServiceError::NotFound("second factor"));
            }
            repo.replace_recovery_codes(key, &digests, now)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })?;
        Ok(codes)
    }

    /// Removes every factor of `target` and ends their sessions: an administrator of a higher
    /// level in scope (`DELETE /api/v1/tenants/{t}/groups/{g}/users/{u}/second_factors/`), or the
    /// operator (`accountd user reset-factors`). Returns whether there was anything to remove.
    pub fn reset_second_factors(&self, actor: Actor<'_>, target: &User, ctx: &RequestContext) -> ServiceResult<bool> {
        let result = self.reset_second_factors_inner(actor, target, ctx);
        self.audit_refusal(&result, actor, Some(target.key), AuditAction::FactorReset, vec![], ctx);
        result
    }

    /// [`Services::reset_second_factors`] of the user at `member`'s path, by `actor`.
    pub fn reset_second_factors_at(
        &self,
        actor: &Principal,
        member: &accountd_domain::level::GroupMember,
        ctx: &RequestContext,
    ) -> ServiceResult<bool> {
        // 403 outside the caller's scope whether or not the user exists (docs/apio-users.md).
        self.require_group_scope(actor, member)?;
        let target = self
            .store
            .read(|repo| repo.user_by_path(member))?
            .ok_or(ServiceError::NotFound("user"))?;
        self.reset_second_factors(Actor::Caller(actor), &target, ctx)
    }

    fn reset_second_factors_inner(&self, actor: Actor<'_>, target: &User, ctx: &RequestContext) -> ServiceResult<bool> {
        if let Actor::Caller(principal) = actor {
            self.refuse_if_enrollment_only(principal)?;
            if principal.user.role.level() <= target.role.level() {
                return Err(ServiceError::Forbidden(
                    "only an administrator of a higher level resets a user's second factors",
                ));
            }
        }
        self.authorize(actor, Action::ResetPassword, target)?;
        let event = match actor {
            Actor::Caller(p) => self.audit_event(
                Some(p),
                Some(target.key),
                AuditAction::FactorReset,
                vec![],
                AuditOutcome::Success,
                ctx,
            ),
            Actor::Operator => self.tool_audit_event(
                "operator",
                Some(target.key),
                AuditAction::FactorReset,
                vec![],
                AuditOutcome::Success,
                ctx,
            ),
        };
        self.store.write(|repo| {
            let had = repo.delete_totp_factor(target.key)?;
            let passkeys = repo.delete_passkeys(target.key)?;
            let codes = repo.delete_recovery_codes(target.key)?;
            repo.delete_user_sessions(target.key, None)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(had || passkeys > 0 || codes > 0)
        })
    }

    pub(crate) fn require_session(&self, principal: &Principal) -> ServiceResult<TokenDigest> {
        principal.session.ok_or(ServiceError::Forbidden(
            "second factors are managed from a signed-in session",
        ))
    }

    fn new_recovery_codes(&self) -> (RecoveryCodes, Vec<TokenDigest>) {
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut digests = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let mut bytes = [0u8; RECOVERY_CODE_BYTES];
            self.random.fill(&mut bytes);
            codes.push(factors::format_recovery_code(&bytes));
            digests.push(factors::recovery_code_digest(&bytes));
        }
        (RecoveryCodes(codes), digests)
    }
}

/// Second-factor checks by method and outcome, for `/metrics`.
#[derive(Debug, Default)]
pub struct FactorCounters {
    counts: std::sync::Mutex<std::collections::BTreeMap<(&'static str, bool), u64>>,
}

impl FactorCounters {
    pub(crate) fn count(&self, method: &'static str, ok: bool) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((method, ok)).or_default() += 1;
        }
    }

    /// `(method, accepted, count)` for every pair seen.
    pub fn snapshot(&self) -> Vec<(&'static str, bool, u64)> {
        self.counts
            .lock()
            .map(|c| c.iter().map(|((m, ok), n)| (*m, *ok, *n)).collect())
            .unwrap_or_default()
    }
}
