//! Passkeys (issue 19; docs/second-factors.md, "Passkeys"): WebAuthn credentials through
//! `webauthn-rs`, the Kanidm project's relying-party crate (docs/research/webauthn-rs.md).
//!
//! - **Registration** from a signed-in session with a recent proof: [`Services::begin_passkey_registration`]
//!   hands out the options for `navigator.credentials.create()` and a ceremony handle;
//!   [`Services::finish_passkey_registration`] checks the authenticator's answer and stores the
//!   credential under the name the user chose. The credential must be discoverable (a resident
//!   key) and verify its user, so it can sign in alone.
//! - **Sign-in with a passkey alone** ([`Services::begin_passkey_sign_in`],
//!   [`Services::finish_passkey_sign_in`]): the authenticator names the user (the WebAuthn user
//!   handle is the user's uuid); the session is the one a password login opens.
//! - **Second factor**: a user with a passkey has a second factor. The password's
//!   `second-factor-required` answer then also carries assertion options for their passkeys, and
//!   the login's second step accepts the assertion. Re-authentication takes one too.
//!
//! Ceremony state never goes to the client: it is stored by the digest of a random handle and
//! taken once (`DELETE … RETURNING`), on whichever instance the second call lands, before
//! `security.challenge_seconds` pass. A signature counter only goes forward: an assertion whose
//! counter is not above the stored one (when either is non-zero) is a cloned authenticator; it is
//! refused, audited (`login` or `reauthenticate`, denied, fields `passkey`, `counter_regressed`)
//! and counted (`accountd_second_factor_checks_total{method="passkey_clone"}`).

use crate::auth::LoginOutcome;
use crate::config::PasskeyConfig;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::error::InvalidValue;
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{Repository, Store, StoreError};
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::{AuditAction, AuditOutcome, Ceremony, NewPasskey, PasskeyRecord};
use accountd_domain::text::Name;
use accountd_domain::user::{Timestamp, User};
use accountd_policy::mode::Authenticator;
use accountd_policy::tokens;
use serde::Serialize;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

/// The method name of a passkey, in a challenge's `methods` and in audit fields.
pub const METHOD_PASSKEY: &str = "passkey";

const REGISTRATION: &str = "registration";
const SIGN_IN: &str = "sign_in";
const REAUTHENTICATION: &str = "reauthentication";

/// Builds the relying party from configuration, refusing what browsers would refuse later: an
/// origin that is not a URL, whose host is not `rp_id` or a subdomain of it, or that is plain
/// `http` on anything but `localhost`.
pub fn relying_party(config: &PasskeyConfig) -> Result<Webauthn, String> {
    let rp_id = config.rp_id.trim();
    if rp_id.is_empty() {
        return Err("passkeys.rp_id is empty".to_owned());
    }
    let mut origins = Vec::with_capacity(config.origins.len());
    for (n, text) in config.origins.iter().enumerate() {
        let origin = Url::parse(text).map_err(|e| format!("passkeys.origins[{n}] ({text}) is not a URL: {e}"))?;
        let Some(host) = origin.domain() else {
            return Err(format!(
                "passkeys.origins[{n}] ({text}) has no domain name (WebAuthn refuses IP addresses)"
            ));
        };
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(format!(
                "passkeys.origins[{n}] ({text}) is not on passkeys.rp_id ({rp_id}) or a subdomain of it"
            ));
        }
        let local = host == "localhost" || host.ends_with(".localhost");
        if origin.scheme() != "https" && !(local && origin.scheme() == "http") {
            return Err(format!(
                "passkeys.origins[{n}] ({text}) must use https (http only on localhost)"
            ));
        }
        origins.push(origin);
    }
    let Some((first, rest)) = origins.split_first() else {
        return Err("passkeys.origins is empty: name where the account page is served from".to_owned());
    };
    let mut builder = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| format!("passkeys: rp_id {rp_id} and origin {first}: {e}"))?
        .rp_name(&config.rp_name)
        .allow_any_port(config.allow_any_port);
    for origin in rest {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|e| format!("passkeys: {e}"))
}

/// What a browser needs to run a ceremony: the handle to send back and the options for
/// `navigator.credentials.create()` / `.get()` (`{"publicKey": …}`, binary members in base64url).
/// Its `Debug` leaves the handle out.
#[derive(Clone)]
pub struct CeremonyOptions {
    pub ceremony: String,
    pub options: serde_json::Value,
}

impl std::fmt::Debug for CeremonyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeremonyOptions")
            .field("ceremony", &"<redacted>")
            .field("options", &self.options)
            .finish()
    }
}

/// A passkey as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

impl From<&PasskeyRecord> for PasskeyInfo {
    fn from(record: &PasskeyRecord) -> Self {
        let p = &record.passkey;
        PasskeyInfo {
            id: record.id,
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
        }
    }
}

/// The counter and backup flags of a credential, from its serialisation (`Passkey` has no
/// getters for them; `{"cred":{"counter":…,"backup_eligible":…,"backup_state":…}}`). A
/// serialisation without them is refused rather than read as zero: a change of webauthn-rs's
/// format must not switch the counter check off unnoticed.
fn flags_of(passkey: &Passkey) -> ServiceResult<(u32, bool, bool)> {
    let value = serde_json::to_value(passkey).map_err(corrupt)?;
    let cred = &value["cred"];
    let counter = cred["counter"]
        .as_u64()
        .and_then(|c| u32::try_from(c).ok())
        .ok_or_else(|| corrupt("a credential without its counter"))?;
    let flag = |name: &str| {
        cred[name]
            .as_bool()
            .ok_or_else(|| corrupt(format!("a credential without {name}")))
    };
    Ok((counter, flag("backup_eligible")?, flag("backup_state")?))
}

fn corrupt(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(StoreError::Corrupt(format!("passkey: {err}")))
}

fn refused(err: &WebauthnError) -> ServiceError {
    tracing::debug!(error = %err, "passkey answer refused");
    ServiceError::PasskeyRefused
}

/// The stored credential of `record`.
fn passkey_of(record: &PasskeyRecord) -> ServiceResult<Passkey> {
    serde_json::from_str(&record.passkey.credential).map_err(corrupt)
}

/// A passkey as `accountd export` writes it: its name, times and the credential (public key,
/// counter, flags; nothing secret).
pub(crate) fn exported(record: &PasskeyRecord) -> serde_json::Value {
    let credential = serde_json::from_str::<serde_json::Value>(&record.passkey.credential).unwrap_or_default();
    serde_json::json!({
        "name": record.passkey.name,
        "created_at": record.passkey.created_at.as_millis(),
        "last_used_at": record.passkey.last_used_at.map(Timestamp::as_millis),
        "credential": credential,
    })
}

/// The passkeys of an export's `passkeys` (a JSON list of [`exported`] values), for a user still
/// to be created (their key is set when stored).
pub(crate) fn imported(text: &str) -> Result<Vec<NewPasskey>, &'static str> {
    const SHAPE: &str = "passkeys is not a JSON list of exported passkeys (name, created_at, last_used_at, credential)";
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Exported {
        name: String,
        created_at: i64,
        last_used_at: Option<i64>,
        credential: serde_json::Value,
    }
    let list: Vec<Exported> = serde_json::from_str(text).map_err(|_| SHAPE)?;
    list.into_iter()
        .map(|p| {
            let name = Name::parse_for("name", p.name).map_err(|_| "a passkey's name is empty or not one line")?;
            let passkey: Passkey = serde_json::from_value(p.credential).map_err(|_| SHAPE)?;
            let (counter, backup_eligible, backup_state) = flags_of(&passkey).map_err(|_| SHAPE)?;
            Ok(NewPasskey {
                user: UserKey(0),
                credential_id: passkey.cred_id().to_vec(),
                name: name.as_str().to_owned(),
                credential: serde_json::to_string(&passkey).map_err(|_| SHAPE)?,
                counter,
                backup_eligible,
                backup_state,
                created_at: Timestamp::from_millis(p.created_at),
                last_used_at: p.last_used_at.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Whether the assertion's counter moves forward from the stored one (WebAuthn §7.2 step 22:
/// only checked when either is non-zero; synced passkeys keep 0).
fn counter_moves_forward(stored: u32, presented: u32) -> bool {
    (stored == 0 && presented == 0) || presented > stored
}

impl<S: Store> Services<S> {
    /// Gives the service its passkeys' relying party. Without one, every passkey route is refused.
    pub fn set_relying_party(&mut self, relying_party: Webauthn) {
        self.relying_party = Some(std::sync::Arc::new(relying_party));
    }

    fn relying_party(&self) -> ServiceResult<&Webauthn> {
        self.relying_party
            .as_deref()
            .ok_or(ServiceError::Forbidden("passkeys are not configured on this server"))
    }

    /// The caller's passkeys, oldest first.
    pub fn passkeys(&self, principal: &Principal) -> ServiceResult<Vec<PasskeyInfo>> {
        let records = self.store.read(|repo| repo.user_passkeys(principal.user.key))?;
        Ok(records.iter().map(PasskeyInfo::from).collect())
    }

    /// Whether `user` has a passkey (for [`Services::has_second_factor`]).
    pub(crate) fn has_passkey(&self, repo: &mut dyn Repository, user: UserKey) -> ServiceResult<bool> {
        Ok(!repo.user_passkeys(user)?.is_empty())
    }

    /// Stores a ceremony's state and hands out its handle.
    fn begin_ceremony(
        &self,
        kind: &str,
        user: Option<UserKey>,
        state: &impl Serialize,
        options: &impl Serialize,
    ) -> ServiceResult<CeremonyOptions> {
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let ceremony = Ceremony {
            digest: tokens::token_digest(&secret),
            kind: kind.to_owned(),
            user,
            state: serde_json::to_string(state).map_err(corrupt)?,
            expires_at: self.clock.now().plus_seconds(self.config.security.challenge_seconds),
        };
        self.store.write(|repo| repo.put_ceremony(&ceremony))?;
        Ok(CeremonyOptions {
            ceremony: tokens::encode_token(&secret),
            options: serde_json::to_value(options).map_err(corrupt)?,
        })
    }

    /// Takes the ceremony of `kind` behind `handle`: `None` when there is none (never begun,
    /// finished already, expired, or of another kind).
    fn take_ceremony<T: DeserializeOwned>(
        &self,
        handle: &str,
        kind: &str,
    ) -> ServiceResult<Option<(Option<UserKey>, T)>> {
        let Some(digest) = tokens::decode_token(handle).map(|b| tokens::token_digest(&b)) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(ceremony) = self.store.write(|repo| repo.take_ceremony(&digest, kind, now))? else {
            return Ok(None);
        };
        let state = serde_json::from_str(&ceremony.state).map_err(corrupt)?;
        Ok(Some((ceremony.user, state)))
    }

    /// `POST /api/v1/session/second_factors/passkeys/options/`: begins registering a passkey.
    /// Needs a session with a recent proof, like any new factor.
    pub fn begin_passkey_registration(&self, principal: &Principal) -> ServiceResult<CeremonyOptions> {
        self.require_session(principal)?;
        self.require_recent_proof(principal)?;
        let rp = self.relying_party()?;
        let user = &principal.user;
        let existing = self.store.read(|repo| repo.user_passkeys(user.key))?;
        let exclude = existing
            .iter()
            .map(|p| p.passkey.credential_id.clone().into())
            .collect();
        let display = format!(
            "{} {}",
            user.profile.first_name.as_str(),
            user.profile.last_name.as_str()
        );
        let (mut options, state) = rp
            .start_passkey_registration(user.uuid, user.username.as_str(), display.trim(), Some(exclude))
            .map_err(|e| ServiceError::Hashing(format!("starting a passkey registration: {e}")))?;
        // A passkey signs in alone, so it must be discoverable (webauthn-rs asks for
        // "discouraged" by default; it does not check residency when finishing).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.require_resident_key = true;
            selection.resident_key = Some(ResidentKeyRequirement::Required);
        }
        self.begin_ceremony(REGISTRATION, Some(user.key), &state, &options)
    }

    /// `POST /api/v1/session/second_factors/passkeys/`: the authenticator's answer to
    /// [`Services::begin_passkey_registration`], and the passkey's name. Lifts an enrollment-only
    /// session, as a confirmed authenticator app does.
    pub fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony: &str,
        name: &str,
        credential: serde_json::Value,
        ctx: &RequestContext,
    ) -> ServiceResult<PasskeyInfo> {
        let session = self.require_session(principal)?;
        let rp = self.relying_party()?;
        let user = &principal.user;
        let name = Name::parse_for("name", name.trim()).map_err(|e| ServiceError::Invalid(vec![e]))?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| ServiceError::Invalid(vec![InvalidValue::new("credential", credential_shape())]))?;
        let state: PasskeyRegistration = match self.take_ceremony(ceremony, REGISTRATION)? {
            Some((Some(owner), state)) if owner == user.key => state,
            _ => return Err(ServiceError::NotFound("passkey ceremony")),
        };
        let passkey = match rp.finish_passkey_registration(&credential, &state) {
            Ok(passkey) => passkey,
            Err(err) => {
                let event = self.audit_event(
                    Some(principal),
                    Some(user.key),
                    AuditAction::FactorEnroll,
                    vec![METHOD_PASSKEY.to_owned()],
                    AuditOutcome::Denied,
                    ctx,
                );
                self.audit_apart(event);
                return Err(refused(&err));
            }
        };
        let (counter, backup_eligible, backup_state) = flags_of(&passkey)?;
        let now = self.clock.now();
        let new = NewPasskey {
            user: user.key,
            credential_id: passkey.cred_id().to_vec(),
            name: name.as_str().to_owned(),
            credential: serde_json::to_string(&passkey).map_err(corrupt)?,
            counter,
            backup_eligible,
            backup_state,
            created_at: now,
            last_used_at: None,
        };
        let event = self.audit_event(
            Some(principal),
            Some(user.key),
            AuditAction::FactorEnroll,
            vec![METHOD_PASSKEY.to_owned(), "confirmed".to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        let stored = self.store.write(|repo| {
            self.require_live_session(repo, principal)?;
            // A credential id registered to anyone already is `Conflict("passkey")` (unique).
            let stored = repo.add_passkey(&new)?;
            repo.prove_session(&session, now, false)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(stored)
        })?;
        self.factor_counters.count(METHOD_PASSKEY, true);
        Ok(PasskeyInfo::from(&stored))
    }

    /// `DELETE /api/v1/session/second_factors/passkeys/{id}/`: removes one passkey (recent proof
    /// needed). When it was the user's last factor, the recovery codes go with it.
    pub fn remove_passkey(&self, principal: &Principal, id: i64, ctx: &RequestContext) -> ServiceResult<()> {
        let key = principal.user.key;
        self.remove_factor(principal, METHOD_PASSKEY, "passkey", ctx, |repo| {
            Ok(repo.delete_passkey(key, id)?)
        })
    }

    /// `POST /api/v1/login/passkey/options/`: begins a sign-in with a passkey alone (the browser
    /// lets the user pick one of theirs for this site).
    pub fn begin_passkey_sign_in(&self, ctx: &RequestContext) -> ServiceResult<CeremonyOptions> {
        self.refuse_passkey_sign_in_mode()?;
        self.check_token_throttle(ctx)?;
        let rp = self.relying_party()?;
        // Nobody is known yet and each call stores a ceremony: bounded per address.
        self.count_ceremony(ctx)?;
        let (mut options, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| ServiceError::Hashing(format!("starting a passkey sign-in: {e}")))?;
        // webauthn-rs asks for conditional mediation (autofill); the account page has a button.
        options.mediation = None;
        self.begin_ceremony(SIGN_IN, None, &state, &options)
    }

    /// `POST /api/v1/login/passkey/`: the authenticator's answer to
    /// [`Services::begin_passkey_sign_in`]. Opens the same session a password login does; a
    /// passkey proves possession and (verified by the authenticator) the user, so no second
    /// factor is asked. Refused like a wrong password (401 `bad-credentials`).
    pub fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: serde_json::Value,
        ctx: &RequestContext,
    ) -> ServiceResult<LoginOutcome> {
        self.refuse_passkey_sign_in_mode()?;
        self.check_token_throttle(ctx)?;
        let rp = self.relying_party()?;
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
            return Err(ServiceError::Invalid(vec![InvalidValue::new(
                "credential",
                credential_shape(),
            )]));
        };
        let Some((_, state)) = self.take_ceremony::<DiscoverableAuthentication>(ceremony, SIGN_IN)? else {
            return Err(self.failed_token(ctx));
        };
        // The authenticator names the user (its user handle is their uuid) and the credential.
        let Ok((uuid, credential_id)) = rp.identify_discoverable_authentication(&credential) else {
            return Err(self.failed_token(ctx));
        };
        let found = self.store.read(|repo| {
            let Some(record) = repo.passkey_by_credential(credential_id)? else {
                return Ok::<_, ServiceError>(None);
            };
            let user = repo.user_by_key(record.passkey.user)?;
            let password = repo.password(record.passkey.user)?;
            Ok(user.map(|u| (record, u, password)))
        })?;
        let Some((record, user, password)) = found.filter(|(_, user, _)| user.uuid == uuid) else {
            return Err(self.failed_token(ctx));
        };
        let username = user.username.to_string();
        self.check_throttle(&username, ctx)?;
        if !user.may_sign_in() {
            return Err(self.failed_passkey(&user, None, AuditAction::Login, false, ctx));
        }
        let stored = passkey_of(&record)?;
        let result = rp.finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&stored)]);
        match self.record_passkey_use(&record, stored, result)? {
            PasskeyCheck::Accepted => {
                self.factor_counters.count(METHOD_PASSKEY, true);
                let proved_with = vec![METHOD_PASSKEY.to_owned()];
                self.open_session(user, password, AuthMethod::Session, ctx, proved_with)
            }
            PasskeyCheck::Refused => Err(self.failed_passkey(&user, None, AuditAction::Login, false, ctx)),
            PasskeyCheck::CounterRegressed => Err(self.failed_passkey(&user, None, AuditAction::Login, true, ctx)),
        }
    }

    /// Passkey sign-in is for the modes where accountd, or the Application Server, knows the
    /// user's password; with SSO_LOGIN_DEDICATED every sign-in comes from the identity provider.
    fn refuse_passkey_sign_in_mode(&self) -> ServiceResult<()> {
        if self.config.apio.login_mode.authenticator() == Authenticator::IdentityProvider {
            return Err(ServiceError::Forbidden(
                "in SSO_LOGIN_DEDICATED users sign in through the identity provider",
            ));
        }
        Ok(())
    }

    /// Assertion options for `user`'s passkeys (the second step of a login, re-authentication),
    /// as `(serialised state, options)`; `None` when they have none.
    pub(crate) fn passkey_assertion(&self, user: UserKey) -> ServiceResult<Option<(String, serde_json::Value)>> {
        let Some(rp) = self.relying_party.as_deref() else {
            return Ok(None);
        };
        let records = self.store.read(|repo| repo.user_passkeys(user))?;
        if records.is_empty() {
            // webauthn-rs would make an empty list a discoverable request: any passkey.
            return Ok(None);
        }
        let passkeys = records.iter().map(passkey_of).collect::<ServiceResult<Vec<_>>>()?;
        let (options, state) = rp
            .start_passkey_authentication(&passkeys)
            .map_err(|e| ServiceError::Hashing(format!("starting a passkey assertion: {e}")))?;
        Ok(Some((
            serde_json::to_string(&state).map_err(corrupt)?,
            serde_json::to_value(&options).map_err(corrupt)?,
        )))
    }

    /// `POST /api/v1/session/reauthenticate/options/`: assertion options for the caller's
    /// passkeys, to re-authenticate with one.
    pub fn begin_passkey_reauthentication(&self, principal: &Principal) -> ServiceResult<CeremonyOptions> {
        self.require_session(principal)?;
        let rp = self.relying_party()?;
        let records = self.store.read(|repo| repo.user_passkeys(principal.user.key))?;
        if records.is_empty() {
            return Err(ServiceError::NotFound("passkey"));
        }
        let passkeys = records.iter().map(passkey_of).collect::<ServiceResult<Vec<_>>>()?;
        let (options, state) = rp
            .start_passkey_authentication(&passkeys)
            .map_err(|e| ServiceError::Hashing(format!("starting a passkey assertion: {e}")))?;
        self.begin_ceremony(REAUTHENTICATION, Some(principal.user.key), &state, &options)
    }

    /// Checks an assertion of one of `user`'s passkeys against `state` (serialised
    /// `PasskeyAuthentication`), recording its use when accepted. `Ok(None)` when the answer is not
    /// even a credential.
    pub(crate) fn verify_passkey(
        &self,
        user: &User,
        state: Option<&str>,
        credential: &serde_json::Value,
        ceremony: Option<&str>,
    ) -> ServiceResult<PasskeyCheck> {
        let state: PasskeyAuthentication = match (state, ceremony) {
            (Some(state), _) => serde_json::from_str(state).map_err(corrupt)?,
            (None, Some(handle)) => match self.take_ceremony(handle, REAUTHENTICATION)? {
                Some((Some(owner), state)) if owner == user.key => state,
                _ => return Ok(PasskeyCheck::Refused),
            },
            (None, None) => return Ok(PasskeyCheck::Refused),
        };
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential.clone()) else {
            return Ok(PasskeyCheck::Refused);
        };
        let rp = self.relying_party()?;
        let found = self
            .store
            .read(|repo| repo.passkey_by_credential(credential.get_credential_id()))?;
        let Some(record) = found.filter(|r| r.passkey.user == user.key) else {
            return Ok(PasskeyCheck::Refused);
        };
        let stored = passkey_of(&record)?;
        let result = rp.finish_passkey_authentication(&credential, &state);
        self.record_passkey_use(&record, stored, result)
    }

    /// Judges a finished assertion of `record` and records an accepted one: new counter, backup
    /// state, last use. The counter is compared with the stored one, read just now (the ceremony's
    /// copy may be older), and written only if nobody moved it meanwhile.
    fn record_passkey_use(
        &self,
        record: &PasskeyRecord,
        mut stored: Passkey,
        result: Result<AuthenticationResult, WebauthnError>,
    ) -> ServiceResult<PasskeyCheck> {
        let result = match result {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => return Ok(PasskeyCheck::CounterRegressed),
            Err(err) => {
                tracing::debug!(error = %err, "passkey assertion refused");
                return Ok(PasskeyCheck::Refused);
            }
        };
        if result.cred_id().as_slice() != record.passkey.credential_id.as_slice() {
            return Ok(PasskeyCheck::Refused);
        }
        if !counter_moves_forward(record.passkey.counter, result.counter()) {
            return Ok(PasskeyCheck::CounterRegressed);
        }
        stored.update_credential(&result);
        let (counter, backup_eligible, backup_state) = flags_of(&stored)?;
        let updated = NewPasskey {
            credential: serde_json::to_string(&stored).map_err(corrupt)?,
            counter,
            backup_eligible,
            backup_state,
            ..record.passkey.clone()
        };
        let now = self.clock.now();
        let used = self
            .store
            .write(|repo| repo.use_passkey(record.id, record.passkey.counter, &updated, now))?;
        Ok(if used {
            PasskeyCheck::Accepted
        } else {
            PasskeyCheck::Refused
        })
    }

    /// Counts and audits a refused passkey of `user` (a cloned one is logged as a warning too);
    /// answers the one generic refusal.
    pub(crate) fn failed_passkey(
        &self,
        user: &User,
        principal: Option<&Principal>,
        action: AuditAction,
        counter_regressed: bool,
        ctx: &RequestContext,
    ) -> ServiceError {
        let mut fields = vec![METHOD_PASSKEY.to_owned()];
        if counter_regressed {
            tracing::warn!(
                user = %user.uuid,
                request_id = ctx.request_id.as_deref().unwrap_or(""),
                "passkey refused: its signature counter went backwards (a cloned authenticator?)"
            );
            fields.push("counter_regressed".to_owned());
            self.factor_counters.count("passkey_clone", false);
        }
        self.factor_counters.count(METHOD_PASSKEY, false);
        let mut event = self.audit_event(principal, Some(user.key), action, fields, AuditOutcome::Denied, ctx);
        if principal.is_none() {
            event.actor_name = Some(user.username.to_string());
        }
        let username = user.username.to_string();
        let recorded = self.store.write(|repo| {
            self.count_failure(repo, &username, ctx)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        });
        recorded.err().unwrap_or(match action {
            AuditAction::Login => ServiceError::BadCredentials,
            _ => ServiceError::WrongSecret("passkey"),
        })
    }
}

/// How a passkey's assertion (or any factor's proof) was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasskeyCheck {
    Accepted,
    /// Not valid (signature, challenge, origin, user verification, unknown credential), or lost
    /// a race with another use.
    Refused,
    /// The counter did not go forward: a cloned authenticator.
    CounterRegressed,
}

fn credential_shape() -> accountd_domain::error::Problem {
    accountd_domain::error::Problem::Format("a PublicKeyCredential as JSON, binary members in base64url")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rp_id: &str, origins: &[&str]) -> PasskeyConfig {
        PasskeyConfig {
            rp_id: rp_id.to_owned(),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..PasskeyConfig::default()
        }
    }

    #[test]
    fn consistent_relying_parties_are_built() {
        assert!(relying_party(&PasskeyConfig::default()).is_ok());
        assert!(
            relying_party(&config(
                "example.com",
                &["https://accounts.example.com", "https://example.com"]
            ))
            .is_ok()
        );
    }

    #[test]
    fn inconsistent_relying_parties_are_refused_with_the_reason() {
        let cases = [
            (
                config("example.com", &["https://accounts.other.com"]),
                "not on passkeys.rp_id",
            ),
            (
                config("example.com", &["https://example.com", "https://myexample.com"]),
                "origins[1]",
            ),
            (
                config("example.com", &["http://accounts.example.com"]),
                "must use https",
            ),
            (config("example.com", &[]), "passkeys.origins is empty"),
            (config("example.com", &["not a url"]), "is not a URL"),
            (config("127.0.0.1", &["https://127.0.0.1"]), "no domain name"),
            (config(" ", &["https://example.com"]), "rp_id is empty"),
        ];
        for (config, reason) in cases {
            let err = relying_party(&config).err().unwrap_or_default();
            assert!(err.contains(reason), "{config:?}: {err}");
        }
    }

    #[test]
    fn ceremony_handles_are_not_debugged() {
        let options = CeremonyOptions {
            ceremony: "handle-secret".to_owned(),
            options: serde_json::json!({"publicKey": {}}),
        };
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("handle-secret") && shown.contains("publicKey"),
            "{shown}"
        );
    }

    #[test]
    fn counters_only_move_forward() {
        assert!(counter_moves_forward(0, 0), "no counter kept");
        assert!(counter_moves_forward(0, 1));
        assert!(counter_moves_forward(4, 5));
        assert!(!counter_moves_forward(5, 5));
        assert!(!counter_moves_forward(5, 4));
        assert!(!counter_moves_forward(5, 0), "a counter that stops");
    }
}
