//! The ports: what the core needs from the outside world, as narrow synchronous traits.
//!
//! Storage ports take `&mut self` and are implemented on one connection or transaction; they are
//! combined into [`Repository`], and a [`Store`] hands one out for a read or for an all-or-nothing
//! write. The Application Server, the clock and randomness are ports of their own. Everything is
//! synchronous: the HTTP layer runs use cases on a blocking pool.

use crate::endpoint::{AdditionalEndpoint, Device, Endpoint, LineRef};
use crate::ids::{AppId, GroupId, TenantId, UserKey, Username};
use crate::level::{GroupMember, UserLevel};
use crate::pincode::PinSettings;
use crate::records::{
    ApiToken, AppData, AuditEvent, AuditRecord, Ceremony, Group, License, LoginChallenge, NewApiToken, NewDepartment,
    NewPasskey, NewSession, PasskeyRecord, PasswordRecord, PinRecord, Session, Tenant, ThrottleState, TotpFactor,
};
use crate::rules::{PasswordRules, PinRules};
use crate::secret::{Password, PinCode, SecretHash, TokenDigest};
use crate::text::Text;
use crate::user::{AccountChange, Department, DepartmentKey, NewUser, ProfileChange, Timestamp, User, Version};
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record the operation needs is not there.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A unique value is taken already; names the field (`username`, `linePort`, …).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The record changed since the version the caller read (optimistic concurrency).
    #[error("the record changed since it was read")]
    VersionMismatch,
    /// The database can't be reached or is busy beyond its timeout.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The database's disk (or quota) is full: the write was not made. Reads still work, and
    /// writes work again once space is freed.
    #[error("the store is full: {0}")]
    Full(String),
    /// Stored data fails the domain's invariants (written by something else, or corrupted).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database error. The text is for logs, never for clients.
    #[error("store error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Generated users `first..=last` of [`Store::bulk_copy_user`] (benchmarks only): user `x` gets the
/// username and user id `{prefix}{x:07}`, the group `{group_prefix}{(x - 1) / per_group:04}` of the
/// template's tenant (which must exist), and a UUID derived from `x`; everything else, the password
/// hash included, is the template's. The caller proves the names valid through the domain's
/// constructors first (the last one has the longest shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkCopy {
    pub first: u64,
    pub last: u64,
    pub prefix: &'static str,
    pub group_prefix: &'static str,
    pub per_group: u64,
}

/// A page of a listing ordered by user key: `after` is the last key of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<UserKey>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next_after: Option<UserKey>,
}

/// Seed 001 DELETE's options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOptions {
    /// Delete the devices the user owns (unlinking others from them).
    pub delete_devices: bool,
    /// Keep these applications' end-user data.
    pub excluded_app_ids: Vec<AppId>,
}

/// Seed 001 DELETE's report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    /// Whether there was a user to delete (deleting a missing user is not an error).
    pub existed: bool,
    pub detached_additional_users: Vec<LineRef>,
    pub deleted_additional_devices: Vec<LineRef>,
    pub deleted_main_device: Option<LineRef>,
}

/// Tenants, groups, departments, licences and secondary groups.
pub trait DirectoryStore {
    /// Creates the tenant unless it exists; returns it either way.
    fn ensure_tenant(&mut self, id: &TenantId, name: &Text) -> StoreResult<Tenant>;
    fn tenant(&mut self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    /// Creates the group unless it exists; the tenant must exist.
    fn ensure_group(&mut self, tenant: &TenantId, id: &GroupId, name: &Text) -> StoreResult<Group>;
    fn group(&mut self, tenant: &TenantId, id: &GroupId) -> StoreResult<Option<Group>>;
    /// Creates the department unless it exists (the parent must exist); returns it with its path.
    fn ensure_department(&mut self, department: &NewDepartment) -> StoreResult<Department>;
    fn department(&mut self, key: &DepartmentKey) -> StoreResult<Option<Department>>;
    fn tenant_licenses(&mut self, tenant: &TenantId) -> StoreResult<Vec<License>>;
    fn set_tenant_licenses(&mut self, tenant: &TenantId, licenses: &[License]) -> StoreResult<()>;
    /// Group keys of the user's secondary groups, ascending.
    fn secondary_groups(&mut self, user: UserKey) -> StoreResult<Vec<i64>>;
    fn set_secondary_groups(&mut self, user: UserKey, groups: &[i64]) -> StoreResult<()>;
}

/// Users and their profiles.
pub trait UserStore {
    /// Stores a new user at version 1. `Conflict("username")`, `Conflict("user_id")`, `Conflict("uuid")`
    /// when taken; `NotFound` when its tenant, group or department doesn't exist.
    fn create_user(&mut self, user: &NewUser, now: Timestamp) -> StoreResult<User>;
    fn user_by_key(&mut self, key: UserKey) -> StoreResult<Option<User>>;
    fn user_by_uuid(&mut self, uuid: &Uuid) -> StoreResult<Option<User>>;
    fn user_by_username(&mut self, username: &Username) -> StoreResult<Option<User>>;
    /// The users whose e-mail address is exactly `email`, at most `limit`, oldest first.
    fn users_by_email(&mut self, email: &str, limit: u32) -> StoreResult<Vec<User>>;
    fn user_by_path(&mut self, member: &GroupMember) -> StoreResult<Option<User>>;
    /// The user and their password in one query (the login path).
    fn user_with_password(&mut self, username: &Username) -> StoreResult<Option<(User, Option<PasswordRecord>)>>;
    /// Users of one group, by key.
    fn list_group_users(&mut self, tenant: &TenantId, group: &GroupId, page: PageRequest) -> StoreResult<Page<User>>;
    fn count_users(&mut self) -> StoreResult<u64>;
    /// Applies `change` and increments the version. With `expected`, fails with `VersionMismatch`
    /// unless the stored version is that one.
    fn update_profile(
        &mut self,
        key: UserKey,
        expected: Option<Version>,
        change: &ProfileChange,
        now: Timestamp,
    ) -> StoreResult<User>;
    /// Changes enabled/state and increments the version, like [`UserStore::update_profile`].
    fn update_account(
        &mut self,
        key: UserKey,
        expected: Option<Version>,
        change: &AccountChange,
        now: Timestamp,
    ) -> StoreResult<User>;
    /// Deletes the user, their credentials, PIN, sessions, tokens, endpoints and app data (but the
    /// excluded applications'), and with `delete_devices` the devices they own. With `expected`,
    /// `VersionMismatch` unless the stored version is that one.
    fn delete_user(
        &mut self,
        member: &GroupMember,
        expected: Option<Version>,
        options: &DeleteOptions,
    ) -> StoreResult<DeleteOutcome>;
}

/// Passwords and their history.
pub trait CredentialStore {
    fn password(&mut self, user: UserKey) -> StoreResult<Option<PasswordRecord>>;
    /// Replaces the password; the previous one joins the history, which keeps at most `keep_history`
    /// entries (newest first).
    fn set_password(
        &mut self,
        user: UserKey,
        hash: &SecretHash,
        first_login: bool,
        keep_history: u8,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Replaces the stored hash of the same password (an upgrade of parameters): history, change
    /// time and first-login flag stay as they are.
    fn rehash_password(&mut self, user: UserKey, hash: &SecretHash) -> StoreResult<()>;
    /// Earlier passwords, newest first, at most `limit`; the current one is not among them.
    fn password_history(&mut self, user: UserKey, limit: u8) -> StoreResult<Vec<SecretHash>>;
    fn clear_first_login(&mut self, user: UserKey) -> StoreResult<()>;
}

/// PIN codes, their settings and history.
pub trait PinStore {
    fn pin(&mut self, user: UserKey) -> StoreResult<Option<PinRecord>>;
    /// Sets the PIN (when `hash` is given; the previous one joins the history, kept to
    /// `keep_history` entries) and the settings. Resets the failure count when the PIN changes.
    fn set_pin(
        &mut self,
        user: UserKey,
        hash: Option<&SecretHash>,
        settings: &PinSettings,
        keep_history: u8,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Earlier PINs, newest first, at most `limit`; the current one is not among them.
    fn pin_history(&mut self, user: UserKey, limit: u8) -> StoreResult<Vec<SecretHash>>;
    /// Counts a failed PIN check; returns the new count.
    fn record_pin_failure(&mut self, user: UserKey) -> StoreResult<u32>;
}

/// Devices and endpoints.
pub trait DeviceStore {
    /// Creates the device unless it exists. `NotFound` when its tenant or group doesn't.
    fn ensure_device(&mut self, device: &Device) -> StoreResult<()>;
    /// The user's main endpoint.
    fn endpoint(&mut self, user: UserKey) -> StoreResult<Option<Endpoint>>;
    /// Replaces (or with `None` removes) the user's main endpoint. The device must exist
    /// (`NotFound("device")`); the line port must be free (`Conflict("linePort")`).
    fn set_endpoint(&mut self, user: UserKey, endpoint: Option<&Endpoint>) -> StoreResult<()>;
    fn additional_endpoints(&mut self, user: UserKey) -> StoreResult<Vec<AdditionalEndpoint>>;
    fn add_additional_endpoint(&mut self, user: UserKey, endpoint: &AdditionalEndpoint) -> StoreResult<()>;
}

/// End-user application data.
pub trait AppDataStore {
    fn put_app_data(&mut self, user: UserKey, data: &AppData) -> StoreResult<()>;
    /// The user's app data, by application id.
    fn app_data(&mut self, user: UserKey) -> StoreResult<Vec<AppData>>;
}

/// Login sessions (by digest of the session id).
pub trait SessionStore {
    fn create_session(&mut self, session: &NewSession) -> StoreResult<Session>;
    /// The session and its user in one query (the path of every authenticated request).
    fn session_with_user(&mut self, digest: &TokenDigest) -> StoreResult<Option<(Session, User)>>;
    fn touch_session(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<()>;
    /// Ends one session; `false` when there was none.
    fn delete_session(&mut self, digest: &TokenDigest) -> StoreResult<bool>;
    /// Ends the user's session with public handle `id`; `false` when the user has none such.
    fn delete_user_session(&mut self, user: UserKey, id: i64) -> StoreResult<bool>;
    /// Ends every session of the user but `except`; returns how many ended.
    fn delete_user_sessions(&mut self, user: UserKey, except: Option<&TokenDigest>) -> StoreResult<u64>;
    /// The user's sessions, newest first.
    fn user_sessions(&mut self, user: UserKey) -> StoreResult<Vec<Session>>;
    /// Deletes sessions whose absolute end is before `now`, or idle since before `idle_before`.
    fn purge_sessions(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<u64>;
    /// Takes the user's row lock until the transaction ends (PostgreSQL `SELECT … FOR UPDATE`;
    /// SQLite serializes writers already), so writes about one user's credentials take turns;
    /// `NotFound("user")` when there is none.
    fn lock_account(&mut self, user: UserKey) -> StoreResult<()>;
    /// Stores a password-reset link (by its token's digest) for `user`, usable until `expires_at`.
    fn create_password_reset(
        &mut self,
        digest: &TokenDigest,
        user: UserKey,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The user of an unexpired reset link, without using it.
    fn password_reset_user(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<Option<UserKey>>;
    /// Uses up an unexpired reset link (one `DELETE … RETURNING`: once, across instances); its
    /// user, or `None` when it is unknown, used or expired.
    fn take_password_reset(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<Option<UserKey>>;
    /// Every reset link of the user goes (after a successful reset); how many.
    fn delete_password_resets(&mut self, user: UserKey) -> StoreResult<u64>;
    /// Deletes the links that expired before `now`; how many.
    fn purge_password_resets(&mut self, now: Timestamp) -> StoreResult<u64>;
    /// Stores the user's pending e-mail change (the new address, its link by the token's digest),
    /// replacing the one there was.
    fn put_email_change(
        &mut self,
        user: UserKey,
        digest: &TokenDigest,
        change: &crate::records::PendingEmailChange,
    ) -> StoreResult<()>;
    /// The user's unexpired pending e-mail change.
    fn email_change(
        &mut self,
        user: UserKey,
        now: Timestamp,
    ) -> StoreResult<Option<crate::records::PendingEmailChange>>;
    /// The user and new address of an unexpired e-mail change link, without using it.
    fn email_change_link(
        &mut self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<Option<(UserKey, crate::text::EmailAddress)>>;
    /// Uses up an unexpired e-mail change link (one `DELETE … RETURNING`: once, across
    /// instances): its user and new address, or `None` when it is unknown, used or expired.
    fn take_email_change(
        &mut self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<Option<(UserKey, crate::text::EmailAddress)>>;
    /// The user's pending e-mail change goes (cancelled, or ended by a security event); whether
    /// there was one.
    fn delete_email_change(&mut self, user: UserKey) -> StoreResult<bool>;
    /// Deletes the e-mail changes whose link expired before `now`; how many.
    fn purge_email_changes(&mut self, now: Timestamp) -> StoreResult<u64>;
    /// Records that the user must change their password before anything else ("this wasn't me");
    /// a demand already there keeps its time.
    fn demand_password_change(&mut self, user: UserKey, at: Timestamp) -> StoreResult<()>;
    /// Whether the user must change their password before anything else.
    fn password_change_demanded(&mut self, user: UserKey) -> StoreResult<bool>;
    /// The user changed their password: the demand goes, and their sessions are no longer held to
    /// changing it. `false` when there was no demand.
    fn settle_password_change(&mut self, user: UserKey) -> StoreResult<bool>;
}

/// Second factors (issue 18): TOTP authenticators, recovery codes, login challenges, and the
/// sessions' proof times.
pub trait FactorStore {
    fn totp_factor(&mut self, user: UserKey) -> StoreResult<Option<TotpFactor>>;
    /// Stores `factor` (unconfirmed) in place of the user's authenticator, if any.
    fn put_totp_factor(&mut self, factor: &TotpFactor) -> StoreResult<()>;
    /// Records `step` as used on the user's authenticator, and confirms it at `now` when it was
    /// not: `false` (nothing changed) when there is no authenticator or `step` is not after its
    /// last used one. One conditional write, so a code is accepted once across every instance.
    fn use_totp_step(&mut self, user: UserKey, step: i64, now: Timestamp) -> StoreResult<bool>;
    /// `false` when the user had no authenticator.
    fn delete_totp_factor(&mut self, user: UserKey) -> StoreResult<bool>;
    /// Replaces the user's recovery codes with these digests (the old set dies).
    fn replace_recovery_codes(&mut self, user: UserKey, digests: &[TokenDigest], now: Timestamp) -> StoreResult<()>;
    /// Uses up one recovery code: `false` when the user has no unused code with this digest.
    fn use_recovery_code(&mut self, user: UserKey, digest: &TokenDigest) -> StoreResult<bool>;
    fn recovery_codes_left(&mut self, user: UserKey) -> StoreResult<u32>;
    /// The digests of the user's unused recovery codes (for the export, the documented backup).
    fn recovery_code_digests(&mut self, user: UserKey) -> StoreResult<Vec<TokenDigest>>;
    /// Deletes the user's recovery codes; returns how many went.
    fn delete_recovery_codes(&mut self, user: UserKey) -> StoreResult<u64>;
    fn create_login_challenge(&mut self, challenge: &LoginChallenge) -> StoreResult<()>;
    fn login_challenge(&mut self, digest: &TokenDigest) -> StoreResult<Option<LoginChallenge>>;
    /// Counts a wrong code given with the challenge; returns the failures so far (0: no challenge).
    fn count_challenge_failure(&mut self, digest: &TokenDigest) -> StoreResult<u32>;
    /// `false` when there was none (used already, or expired and purged).
    fn delete_login_challenge(&mut self, digest: &TokenDigest) -> StoreResult<bool>;
    /// Deletes the challenges that expired before `now`; returns how many went.
    fn purge_login_challenges(&mut self, now: Timestamp) -> StoreResult<u64>;
    /// Records that the session proved a password or factor at `now`, and sets whether it may only
    /// enroll a factor. `false` when there is no such session.
    fn prove_session(&mut self, digest: &TokenDigest, now: Timestamp, enrollment_only: bool) -> StoreResult<bool>;
}

/// Passkeys (issue 19): WebAuthn credentials and the state of ceremonies between their two calls.
pub trait PasskeyStore {
    /// The user's passkeys, oldest first.
    fn user_passkeys(&mut self, user: UserKey) -> StoreResult<Vec<PasskeyRecord>>;
    /// The passkey with this credential id, whoever's it is.
    fn passkey_by_credential(&mut self, credential_id: &[u8]) -> StoreResult<Option<PasskeyRecord>>;
    /// `Conflict("passkey")` when the credential id is registered already (to anyone).
    fn add_passkey(&mut self, passkey: &NewPasskey) -> StoreResult<PasskeyRecord>;
    /// Records a use: the new serialised credential, counter and backup state, and `now` as last
    /// used, only while the stored counter is still `seen_counter`. `false` when it moved (another
    /// instance accepted an assertion meanwhile) or the passkey is gone: one conditional write,
    /// so a counter only goes forward.
    fn use_passkey(&mut self, id: i64, seen_counter: u32, updated: &NewPasskey, now: Timestamp) -> StoreResult<bool>;
    /// `false` when the user has no such passkey.
    fn delete_passkey(&mut self, user: UserKey, id: i64) -> StoreResult<bool>;
    /// Deletes every passkey of the user; returns how many went.
    fn delete_passkeys(&mut self, user: UserKey) -> StoreResult<u64>;
    fn put_ceremony(&mut self, ceremony: &Ceremony) -> StoreResult<()>;
    /// Takes (deletes and returns) the ceremony of `kind` with this digest if it has not expired
    /// at `now`: one statement, so only one caller, on any instance, gets it.
    fn take_ceremony(&mut self, digest: &TokenDigest, kind: &str, now: Timestamp) -> StoreResult<Option<Ceremony>>;
    /// Deletes the ceremonies that expired before `now`; returns how many went.
    fn purge_ceremonies(&mut self, now: Timestamp) -> StoreResult<u64>;
}

/// API tokens for `Authorization: Bearer`.
pub trait ApiTokenStore {
    fn create_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiToken>;
    /// The token and its user in one query.
    fn api_token_with_user(&mut self, digest: &TokenDigest) -> StoreResult<Option<(ApiToken, User)>>;
    fn touch_api_token(&mut self, id: i64, now: Timestamp) -> StoreResult<()>;
    fn user_api_tokens(&mut self, user: UserKey) -> StoreResult<Vec<ApiToken>>;
    /// `false` when the user has no such token.
    fn revoke_api_token(&mut self, user: UserKey, id: i64) -> StoreResult<bool>;
    /// Revokes every token of the user; returns how many went.
    fn revoke_user_api_tokens(&mut self, user: UserKey) -> StoreResult<u64>;
}

/// Failure counters for throttling, shared by every instance on the same database.
pub trait ThrottleStore {
    /// Counts one failure under `key`, atomically. Windows are `window_seconds` long and follow one
    /// another from the key's first failure: when the stored window has ended, its count becomes
    /// the previous window's (or nothing, when a whole window passed without failures) and a new
    /// window starts where it ended.
    fn throttle_hit(&mut self, key: &str, now: Timestamp, window_seconds: i64) -> StoreResult<ThrottleState>;
    fn throttle_state(&mut self, key: &str) -> StoreResult<Option<ThrottleState>>;
    fn throttle_clear(&mut self, key: &str) -> StoreResult<()>;
    /// Deletes the keys whose window started at or before `before` (two windows ago: nothing of
    /// them counts any more). Returns how many went.
    fn throttle_purge(&mut self, before: Timestamp) -> StoreResult<u64>;
}

/// Short-lived per-user claims (issue 15): a change that goes to the Application Server holds its
/// user's claim around the call, in transactions of their own, so changes to one user stay ordered
/// across every instance on the database while changes to different users never wait on each other.
pub trait ClaimStore {
    /// Claims `user` for `holder` until `now + ttl`, atomically: `true` when there was no claim, or
    /// the stored one had expired (its holder crashed) or was `holder`'s own (renewed); `false`
    /// while another holder's claim is live.
    fn claim_user(
        &mut self,
        user: UserKey,
        holder: &str,
        now: Timestamp,
        ttl: std::time::Duration,
    ) -> StoreResult<bool>;
    /// Releases `holder`'s claim on `user`; `false` when it held none (it expired and was taken
    /// over, or was released already).
    fn release_user_claim(&mut self, user: UserKey, holder: &str) -> StoreResult<bool>;
    /// Deletes the claims that expired at or before `now` (their holders crashed before releasing
    /// them). Returns how many went.
    fn purge_expired_claims(&mut self, now: Timestamp) -> StoreResult<u64>;
}

/// A message in the durable outbox (issue 15): work for another system (the Application Server
/// today, notifications later) that a worker delivers after the fact, at least once. What it
/// carries is the `topic`'s business: the outbox is generic over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    /// Who delivers it (a handler registered for this topic).
    pub topic: String,
    /// The user it is about: messages of one user are delivered in id order, under the user's
    /// claim ([`ClaimStore`]).
    pub user: Option<UserKey>,
    /// The topic's own data (JSON). Never a secret: rows are readable by operators.
    pub payload: String,
    pub created_at: Timestamp,
    /// Not delivered before this time (armed messages, backoff after a failed attempt).
    pub not_before: Timestamp,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The last attempt's failure, for operators.
    pub last_error: Option<String>,
}

/// A message to add to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    pub topic: String,
    pub user: Option<UserKey>,
    pub payload: String,
    pub not_before: Timestamp,
}

/// The outbox's size, for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Messages not delivered yet (due or not).
    pub depth: u64,
    /// When the oldest of them was written.
    pub oldest_created_at: Option<Timestamp>,
    /// Recorded divergences no operator has resolved yet.
    pub divergences: u64,
}

/// A divergence between the local store and another system that accountd could not repair: the
/// operator's to look at and resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub id: i64,
    pub user: Option<UserKey>,
    /// What diverged (an outbox topic, or what the use case was doing).
    pub topic: String,
    /// What happened, for operators (no secret).
    pub detail: String,
    pub recorded_at: Timestamp,
}

/// The durable outbox and the divergence record (issue 15), shared by every instance on the
/// database.
pub trait OutboxStore {
    /// Adds a message; returns its id. Inside the change's transaction, it is written with it.
    fn enqueue_outbox(&mut self, message: &NewOutboxMessage, now: Timestamp) -> StoreResult<i64>;
    /// Deletes a message (delivered, or no longer needed); `false` when it was not there.
    fn remove_outbox(&mut self, id: i64) -> StoreResult<bool>;
    /// One message, when it is still there.
    fn outbox_message(&mut self, id: i64) -> StoreResult<Option<OutboxMessage>>;
    /// Leases up to `limit` due messages to `holder` until `lease_until`, earliest due first: due
    /// (`not_before <= now`), not under a live lease, and the first message of their user still
    /// in the outbox (so one user's messages go in order). Several instances leasing at once get
    /// disjoint messages (PostgreSQL skips rows another lease statement has locked).
    fn lease_outbox(
        &mut self,
        now: Timestamp,
        holder: &str,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Puts a message back for a later attempt: its lease ends, `attempts` and `last_error` are
    /// stored, and it is not due before `not_before`.
    fn retry_outbox(&mut self, id: i64, attempts: u32, not_before: Timestamp, error: Option<&str>) -> StoreResult<()>;
    /// Depth, oldest message, open divergences.
    fn outbox_stats(&mut self) -> StoreResult<OutboxStats>;
    /// Records a divergence; returns its id.
    fn record_divergence(
        &mut self,
        user: Option<UserKey>,
        topic: &str,
        detail: &str,
        now: Timestamp,
    ) -> StoreResult<i64>;
    /// Every open divergence, oldest first.
    fn divergences(&mut self) -> StoreResult<Vec<Divergence>>;
    /// Marks a divergence resolved (deletes it); `false` when there was none with this id.
    fn resolve_divergence(&mut self, id: i64) -> StoreResult<bool>;
}

/// Whole-database listings, for operators' tools (`accountd export`), not for request paths: each
/// reads a whole table (users a page at a time).
pub trait InventoryStore {
    /// Every tenant, by key.
    fn list_tenants(&mut self) -> StoreResult<Vec<Tenant>>;
    /// Every group, by key.
    fn list_groups(&mut self) -> StoreResult<Vec<Group>>;
    /// Every department, parents before their children.
    fn list_departments(&mut self) -> StoreResult<Vec<Department>>;
    /// Every device, by key.
    fn list_devices(&mut self) -> StoreResult<Vec<Device>>;
    /// Every user (in a group or not), by key.
    fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<User>>;
}

/// The audit log: append, read back, and forget what is past its retention.
pub trait AuditLog {
    fn record_audit(&mut self, event: &AuditEvent) -> StoreResult<()>;
    /// The newest events about `subject` (or all, with `None`), newest first.
    fn recent_audit(&mut self, subject: Option<UserKey>, limit: u32) -> StoreResult<Vec<AuditEvent>>;
    /// One page of the events about `subject`, newest first: at most `limit`, with ids below
    /// `before` when given (the previous page's last id).
    fn audit_page(&mut self, subject: UserKey, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes at most `batch` of the events that happened before `before`, oldest first; returns
    /// how many went. Bounded so that the first purge of a years-old log does not hold SQLite's
    /// single write lock (or one long PostgreSQL transaction) for the whole deletion: the caller
    /// repeats until fewer than `batch` went.
    fn purge_audit(&mut self, before: Timestamp, batch: u32) -> StoreResult<u64>;
}

/// Every storage port on one connection or transaction.
pub trait Repository:
    DirectoryStore
    + UserStore
    + CredentialStore
    + PinStore
    + DeviceStore
    + AppDataStore
    + SessionStore
    + ApiTokenStore
    + ThrottleStore
    + AuditLog
    + InventoryStore
    + ClaimStore
    + OutboxStore
    + FactorStore
    + PasskeyStore
{
}

impl<T> Repository for T where
    T: DirectoryStore
        + UserStore
        + CredentialStore
        + PinStore
        + DeviceStore
        + AppDataStore
        + SessionStore
        + ApiTokenStore
        + ThrottleStore
        + AuditLog
        + InventoryStore
        + ClaimStore
        + OutboxStore
        + FactorStore
        + PasskeyStore
{
}

/// A database: hands out a [`Repository`] for reads, or inside a transaction for writes.
pub trait Store: Send + Sync + 'static {
    /// Runs `f` on a pooled connection, outside any explicit transaction.
    fn read<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>;

    /// A counter that changes after every write through this store in this process (`None`: not
    /// kept, and nothing read may be remembered) and, where [`Store::reads_here`], whenever a read
    /// here finds that another connection (another process's included) has committed since its
    /// connection last looked. What was read under one generation may be remembered until the
    /// generation changes: a cache keyed by it sees this process's writes at once, other
    /// processes' within the cache's own lifetime, or at once when it is looked up from inside a
    /// read here ([`Store::read_here_unless_known`]).
    ///
    /// The rule for such a cache: remember a value under a generation taken before the read that
    /// found it started (so every commit that generation counts is in the read's snapshot); find
    /// it, from inside a later read here, under the generation taken after that read's count.
    /// A value found so holds every commit made before the later read started. The service
    /// crate's `Services::remembered_here` follows it.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// Whether [`Store::read_here`] answers on the calling thread without a network round trip
    /// (an embedded database such as SQLite, read in microseconds): then the hot reads of a
    /// request may run on an async worker (DESIGN.md's measured exception). `false` by default,
    /// and for PostgreSQL: its reads stay off the workers.
    fn reads_here(&self) -> bool {
        false
    }

    /// Runs `f`, which only reads, on the calling thread's own connection where
    /// [`Store::reads_here`] (no pool checkout, no hand-off to a blocking thread); elsewhere as
    /// [`Store::read`]. Where it runs here, `f`'s statements share one read transaction: they
    /// see one snapshot, the latest committed when the first of them ran. For a request's hot
    /// indexed reads only (a session lookup, a Basic credential's rows, a user's directory).
    fn read_here<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.read(f)
    }

    /// [`Store::read_here`] for a read whose answer may be known already (remembered): where
    /// [`Store::reads_here`], first counts other connections' commits in the generation, as a
    /// read here does, then asks `known`, which may look at [`Store::generation`]; only when it
    /// answers `None` does `f` run, in one read transaction. Elsewhere `known`, then `f` as
    /// [`Store::read_here`]. The check alone costs one statement and no transaction of ours.
    fn read_here_unless_known<T, E>(
        &self,
        known: impl FnOnce() -> Option<T>,
        f: impl FnOnce(&mut dyn Repository) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match known() {
            Some(value) => Ok(value),
            None => self.read_here(f),
        }
    }

    /// Runs `f` in one write transaction (SQLite: `BEGIN IMMEDIATE`). It commits only when `f`
    /// returns `Ok`; an `Err` (from the store, or from anything `f` decided) rolls every write of
    /// `f` back. Keep `f` short and free of external calls (the Application Server): the write lock
    /// is held for as long as it runs (issue 15).
    fn write<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>;

    /// Readiness: the store can be reached and its schema is the one this build expects
    /// (`/readyz`). `Unavailable` with the reason otherwise. Blocking, like every store call.
    /// The benchmarks' bulk path: writes the generated users of `copy` as copies of the user
    /// `template` (its row and password hash), far faster than creating each through the use case.
    /// Stores without one answer `Backend`. Not for application code.
    fn bulk_copy_user(&self, template: crate::ids::UserKey, copy: &BulkCopy) -> StoreResult<()> {
        let _ = (template, copy);
        Err(StoreError::Backend("this store has no bulk copy".into()))
    }

    fn check_ready(&self) -> StoreResult<()> {
        Ok(())
    }

    /// How the store's connection pool is used now (a metric), when it has one. Never blocks.
    fn pool_use(&self) -> Option<PoolUse> {
        None
    }
}

/// A connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUse {
    /// Connections open (idle or lent out).
    pub connections: u32,
    /// Open connections nobody is using.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max_size: u32,
}

/// Why the Application Server refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No Application Server is configured, yet the operation needs one.
    #[error("no Application Server is configured")]
    Disabled,
    /// The credentials were refused.
    #[error("the Application Server refused the credentials")]
    Unauthorized,
    /// The Application Server refused the change; `details` is its reason, safe to show.
    #[error("the Application Server refused the change: {details}")]
    Rejected { details: String },
    /// It answered, but not as the contract says, or could not be reached. Text for logs only.
    #[error("the Application Server failed: {0}")]
    Unavailable(String),
    /// It did not answer in time.
    #[error("the Application Server did not answer in time")]
    Timeout,
    /// The call was not made, so nothing was sent: too many calls are in flight, or the circuit
    /// breaker is open after repeated failures. The client may retry after this many seconds.
    #[error("the Application Server was not called (overloaded or failing); retry in {retry_after_seconds} s")]
    NotAttempted { retry_after_seconds: u64 },
}

/// The state of a circuit breaker in front of the Application Server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast ([`UpstreamError::NotAttempted`]) until the cool-down ends.
    Open,
    /// The cool-down ended: one probe call goes through, the others fail fast.
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 open, 2 half-open (the Prometheus gauge).
    pub fn code(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

/// What a guarded Application Server adapter reports about its bounds (metrics, readiness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamGuardState {
    /// Calls running now.
    pub in_flight: u64,
    /// The most calls that may run at once.
    pub max_in_flight: u64,
    pub breaker: BreakerState,
    /// Calls refused without being made since start (in-flight bound or breaker).
    pub fast_failures: u64,
}

/// Why an outbound notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// It may work later (unreachable, timed out, a 5xx, 408 or 429 answer): retried.
    #[error("{0}")]
    Transient(String),
    /// It will not work as it is (another 4xx answer, a refused address): given up.
    #[error("{0}")]
    Permanent(String),
}

/// Outbound HTTP for webhooks (issue 22, docs/notifications.md): one POST, answered 2xx or not.
/// The service builds and signs the body; the adapter only carries it.
pub trait WebhookClient: Send + Sync + 'static {
    fn post(&self, url: &str, headers: &[(String, String)], body: &str) -> Result<(), NotifyError>;
}

/// One e-mail to send: plain text and HTML alternatives of the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The notification's stable id: the `Message-ID` is built from it, so a message sent twice
    /// (at least once delivery) is recognisably the same.
    pub id: String,
}

/// Outbound e-mail (issue 22): the SMTP adapter sends what the service wrote.
pub trait Mailer: Send + Sync + 'static {
    fn send(&self, mail: &Mail) -> Result<(), NotifyError>;
}

/// The Application Server (the telephony network element, "BS DB" in the seeds).
pub trait ApplicationServer: Send + Sync + 'static {
    /// Checks a password (SERVER_LOGIN).
    fn authenticate(&self, username: &Username, password: &Password) -> Result<(), UpstreamError>;
    fn update_profile(&self, user: &User, change: &ProfileChange) -> Result<(), UpstreamError>;
    fn set_password(&self, user: &User, password: &Password) -> Result<(), UpstreamError>;
    fn set_pin(&self, user: &User, pin: Option<&PinCode>, settings: &PinSettings) -> Result<(), UpstreamError>;
    fn delete_user(&self, user: &User, delete_devices: bool) -> Result<(), UpstreamError>;
    /// The network element's password rules for a level (`VALIDATE_PASSWORD_LOCALLY`); `None` when
    /// it has none.
    fn password_rules(&self, level: UserLevel) -> Result<Option<PasswordRules>, UpstreamError>;
    /// The network element's PIN rules for a level (`VALIDATE_PINCODE_LOCALLY`).
    fn pin_rules(&self, level: UserLevel) -> Result<Option<PinRules>, UpstreamError>;
    /// The bounds' state of an adapter that has them (in-flight calls, circuit breaker).
    fn guard_state(&self) -> Option<UpstreamGuardState> {
        None
    }
}

/// The time, as a parameter of the core.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_millis(ms)
    }
}

/// A clock that moves only when told to (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(time: Timestamp) -> Self {
        Self(AtomicI64::new(time.as_millis()))
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    pub fn set(&self, time: Timestamp) {
        self.0.store(time.as_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Randomness, as a parameter of the core (session ids, salts, generated passwords).
pub trait Random: Send + Sync + 'static {
    fn fill(&self, dest: &mut [u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_when_told() {
        let c = ManualClock::at(Timestamp::from_millis(1000));
        assert_eq!(c.now(), Timestamp::from_millis(1000));
        c.advance_seconds(2);
        assert_eq!(c.now(), Timestamp::from_millis(3000));
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > Timestamp::from_millis(1_577_836_800_000));
    }

    /// A store with no database behind it: only what the trait's defaults answer.
    struct Nowhere;

    impl Store for Nowhere {
        fn read<T, E>(&self, _: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
        where
            E: From<StoreError>,
        {
            Err(StoreError::Unavailable("nowhere".into()).into())
        }

        fn write<T, E>(&self, _: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
        where
            E: From<StoreError>,
        {
            Err(StoreError::Unavailable("nowhere".into()).into())
        }
    }

    #[test]
    fn a_store_without_a_pool_or_bulk_copy_says_so() {
        assert_eq!(Nowhere.pool_use(), None);
        assert_eq!(Nowhere.check_ready(), Ok(()));
        let copy = BulkCopy {
            first: 1,
            last: 2,
            prefix: "u",
            group_prefix: "g",
            per_group: 1,
        };
        assert!(matches!(
            Nowhere.bulk_copy_user(crate::ids::UserKey(1), &copy),
            Err(StoreError::Backend(_))
        ));
    }

    #[test]
    fn breaker_states_have_their_gauge_codes_and_names() {
        let states = [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen];
        let codes: Vec<i64> = states.iter().map(|s| s.code()).collect();
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        assert_eq!(codes, [0, 1, 2]);
        assert_eq!(names, ["closed", "open", "half-open"]);
    }

    #[test]
    fn manual_clock_is_set_to_any_time() {
        let c = ManualClock::at(Timestamp::from_millis(1000));
        c.set(Timestamp::from_millis(500));
        assert_eq!(c.now(), Timestamp::from_millis(500));
    }
}
