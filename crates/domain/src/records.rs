//! What the stores keep beside users: tenants and groups with their numeric keys, licences,
//! credentials, PIN records, sessions, API tokens, throttling counters, app data and audit events.

use crate::ids::{AppId, DepartmentName, GroupId, TenantId, UserKey};
use crate::pincode::PinSettings;
use crate::principal::AuthMethod;
use crate::secret::{SecretHash, TokenDigest};
use crate::text::Text;
use crate::user::{DepartmentKey, Timestamp};
use serde::{Deserialize, Serialize};

/// A tenant with its numeric key (SuperOffice ContactId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub key: i64,
    pub id: TenantId,
    pub name: Text,
}

/// A group with its numeric key (SuperOffice GroupId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: i64,
    pub tenant: TenantId,
    pub id: GroupId,
    pub name: Text,
}

/// A department to create under an optional parent of the same tenant (and group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDepartment {
    pub key: DepartmentKey,
    pub parent: Option<DepartmentName>,
}

/// A licence granted to a tenant (SuperOffice `Licenses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    pub module_id: i64,
    pub name: Text,
    pub description: Text,
    pub owner_name: Text,
    pub owner_description: Text,
    pub version: Text,
    pub license_type: Text,
    pub license_number: i64,
    pub extra_flags: i64,
    pub extra_info: Text,
    pub sort_order: i64,
    pub hidden: bool,
    pub unrestricted: bool,
    pub expires_at: Option<Timestamp>,
}

/// A user's stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub hash: SecretHash,
    pub changed_at: Timestamp,
    /// Set until the user has logged in once (or when an administrator set the password).
    pub first_login: bool,
}

/// A user's stored PIN and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRecord {
    /// `None` while settings exist but no PIN was set.
    pub hash: Option<SecretHash>,
    pub settings: PinSettings,
    pub changed_at: Option<Timestamp>,
    pub failed_attempts: u32,
}

/// Who a session or token was handed to, as far as the request showed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A session to create. The store keeps only the digest of the session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub digest: TokenDigest,
    pub user: UserKey,
    pub auth: AuthMethod,
    pub created_at: Timestamp,
    /// Absolute end, whatever the activity.
    pub expires_at: Timestamp,
    pub client: ClientInfo,
    /// When the session last proved a password or factor (its creation, for a login).
    pub proved_at: Timestamp,
    /// May only read its own account and enroll a second factor (`mfa.required_levels`).
    pub enrollment_only: bool,
    /// May only change its user's password (and read who they are, and sign out): the user
    /// reported an event as not theirs ("this wasn't me") and has not changed it since.
    pub password_change_only: bool,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public handle (for listing and ending one session); not a secret.
    pub id: i64,
    pub digest: TokenDigest,
    pub user: UserKey,
    pub auth: AuthMethod,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub client: ClientInfo,
    pub proved_at: Timestamp,
    pub enrollment_only: bool,
    pub password_change_only: bool,
}

/// A secret sealed with an AEAD under a configured key (`key_id`): the nonce and the ciphertext
/// with its tag, as the key ring wrote them. Not readable without the key; its `Debug` shows the
/// key id only all the same.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("bytes", &"<sealed>")
            .finish()
    }
}

/// A verified change of a user's e-mail address, waiting for its link to be followed
/// (`email.verify_changes`): the new address and the link's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEmailChange {
    pub email: crate::text::EmailAddress,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A user's TOTP authenticator as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user: UserKey,
    /// The shared secret, sealed with the user's key as associated data.
    pub sealed: SealedSecret,
    pub created_at: Timestamp,
    /// `None` until the user proved the authenticator with a first code; an unconfirmed one is
    /// not a factor (login ignores it).
    pub confirmed_at: Option<Timestamp>,
    /// The last 30-second step a code was accepted for: that code and earlier ones are refused.
    pub last_step: Option<i64>,
}

/// A passkey (WebAuthn credential, issue 19) to store for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    pub user: UserKey,
    /// The credential id the authenticator chose (unique across every account).
    pub credential_id: Vec<u8>,
    /// The name the user gave it ("Laptop", "Phone").
    pub name: String,
    /// The relying-party library's serialisation of the credential: public key, algorithm,
    /// counter and flags. Nothing secret (the private key never leaves the authenticator).
    pub credential: String,
    /// The signature counter last seen (0: the authenticator keeps none, as synced passkeys).
    pub counter: u32,
    /// BE: the credential may be backed up (synced between devices).
    pub backup_eligible: bool,
    /// BS: it is backed up now.
    pub backup_state: bool,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A stored passkey: [`NewPasskey`] with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: i64,
    pub passkey: NewPasskey,
}

/// The state of a WebAuthn ceremony between its two calls (registration, sign-in,
/// re-authentication), kept by the digest of the handle given to the client: any instance
/// finishes what another began, once, before `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub digest: TokenDigest,
    /// What it is for (`registration`, `sign_in`, `reauthentication`): a handle of one kind
    /// doesn't finish another.
    pub kind: String,
    /// The user it was begun for (`None`: a sign-in, where the authenticator names the user).
    pub user: Option<UserKey>,
    /// The relying-party library's state (the challenge, the allowed credentials).
    pub state: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The second step of a login, handed out after the password; the store keeps its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    pub digest: TokenDigest,
    pub user: UserKey,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong codes given with it so far.
    pub failures: u32,
    /// When the user has passkeys: the state of the WebAuthn assertion offered with it.
    pub passkey_state: Option<String>,
}

/// An API token to create; the store keeps the digest only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub digest: TokenDigest,
    pub user: UserKey,
    pub name: Text,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub scope: TokenScope,
    /// Created by its user from their session (else by the operator).
    pub personal: bool,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// Safe methods only (GET, HEAD, OPTIONS): read the account, change nothing.
    Read,
    /// Everything its user may do.
    Full,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Full => "full",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "read" => Some(TokenScope::Read),
            "full" => Some(TokenScope::Full),
            _ => None,
        }
    }
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub digest: TokenDigest,
    pub user: UserKey,
    pub name: Text,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub scope: TokenScope,
    pub personal: bool,
}

/// The failure counters of one throttling key (a digest, see `accountd_policy::throttle`) in a
/// sliding window: the current window's failures, and those of the window before it, which weigh
/// less as the current window goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: u32,
    pub previous_failures: u32,
    pub window_started_at: Timestamp,
}

/// End-user application data, kept per application id (seed 001's EndUserAppData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppData {
    pub app: AppId,
    /// A JSON document, as the application stored it.
    pub data: String,
}

/// What happened, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Login,
    Logout,
    UserCreate,
    ProfileUpdate,
    AccountUpdate,
    PasswordChange,
    PinChange,
    UserDelete,
    SessionRevoke,
    TokenCreate,
    TokenRevoke,
    /// A TOTP authenticator enrolled (started, or confirmed: the fields say which).
    FactorEnroll,
    /// A second factor removed by its user.
    FactorRemove,
    /// A session proved its password or factor again (re-authentication).
    Reauthenticate,
    /// A new set of recovery codes.
    RecoveryCodesRegenerate,
    /// An administrator (or the operator) removed every factor of a user.
    FactorReset,
    /// The user downloaded their own data (issue 21).
    DataExport,
    /// Failed sign-ins under the user's name reached a throttling limit: further attempts wait
    /// (recorded once, when the limit is reached).
    AccountThrottled,
    /// An administrator read a user's tokens, sessions or timeline (only refusals are recorded).
    AccountRead,
    /// The user reported an event of their timeline as not theirs ("this wasn't me"): every
    /// session and token ended, and a password change demanded where accountd checks passwords.
    CompromiseReport,
    /// A password-reset link was sent (issue 22).
    PasswordResetRequest,
    /// A verified change of the user's e-mail address was asked: a link went to the new address
    /// (issue 22, `email.verify_changes`).
    EmailChangeRequest,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::Logout => "logout",
            AuditAction::UserCreate => "user_create",
            AuditAction::ProfileUpdate => "profile_update",
            AuditAction::AccountUpdate => "account_update",
            AuditAction::PasswordChange => "password_change",
            AuditAction::PinChange => "pin_change",
            AuditAction::UserDelete => "user_delete",
            AuditAction::SessionRevoke => "session_revoke",
            AuditAction::TokenCreate => "token_create",
            AuditAction::TokenRevoke => "token_revoke",
            AuditAction::FactorEnroll => "factor_enroll",
            AuditAction::FactorRemove => "factor_remove",
            AuditAction::Reauthenticate => "reauthenticate",
            AuditAction::RecoveryCodesRegenerate => "recovery_codes_regenerate",
            AuditAction::FactorReset => "factor_reset",
            AuditAction::DataExport => "data_export",
            AuditAction::AccountThrottled => "account_throttled",
            AuditAction::AccountRead => "account_read",
            AuditAction::CompromiseReport => "compromise_report",
            AuditAction::PasswordResetRequest => "password_reset_request",
            AuditAction::EmailChangeRequest => "email_change_request",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        use AuditAction::*;
        [
            Login,
            Logout,
            UserCreate,
            ProfileUpdate,
            AccountUpdate,
            PasswordChange,
            PinChange,
            UserDelete,
            SessionRevoke,
            TokenCreate,
            TokenRevoke,
            FactorEnroll,
            FactorRemove,
            Reauthenticate,
            RecoveryCodesRegenerate,
            FactorReset,
            DataExport,
            AccountThrottled,
            AccountRead,
            CompromiseReport,
            PasswordResetRequest,
            EmailChangeRequest,
        ]
        .into_iter()
        .find(|a| a.as_str() == value)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    /// Refused: not allowed, wrong secret, throttled, invalid.
    Denied,
    /// Could not be done: the Application Server or the store failed.
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failed]
            .into_iter()
            .find(|o| o.as_str() == value)
    }
}

/// One audit event: who did what to whom, which fields, how it ended. Never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: Option<UserKey>,
    /// The actor's login name as given (also for failed logins of unknown users).
    pub actor_name: Option<String>,
    pub subject: Option<UserKey>,
    pub action: AuditAction,
    /// Wire names of the fields touched (`firstName`, `password`): names, never values.
    pub fields: Vec<String>,
    pub outcome: AuditOutcome,
    pub request_id: Option<String>,
    /// Where the request came from and with what (issue 21's timeline shows them to the user).
    pub client: ClientInfo,
    /// The acting user's level when they acted.
    pub actor_level: Option<crate::level::UserLevel>,
}

/// A stored audit event with its id (the timeline's cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_names_round_trip() {
        use AuditAction::*;
        for a in [
            Login,
            Logout,
            UserCreate,
            ProfileUpdate,
            AccountUpdate,
            PasswordChange,
            PinChange,
            UserDelete,
            SessionRevoke,
            TokenCreate,
            TokenRevoke,
        ] {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        for o in [AuditOutcome::Success, AuditOutcome::Denied, AuditOutcome::Failed] {
            assert_eq!(AuditOutcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn a_sealed_secret_debugs_its_key_id_only() {
        let sealed = SealedSecret {
            key_id: "k7".to_owned(),
            bytes: vec![0xde, 0xad],
        };
        assert_eq!(
            format!("{sealed:?}"),
            r#"SealedSecret { key_id: "k7", bytes: "<sealed>" }"#
        );
    }
}
