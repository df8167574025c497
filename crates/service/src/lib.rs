//! accountd's use cases: login and sessions, reading and changing the caller's profile, password and
//! PIN changes, under the login mode, the access scopes and the password/PIN policy; and the
//! operator's import and export ([`import`]).
//!
//! Everything here is synchronous and runs on a blocking thread: the store and the Application
//! Server are ports ([`accountd_domain::ports`]), the clock and randomness are parameters, argon2 is
//! bounded by [`hasher::Hasher`]. A change that goes to both the local store and the Application
//! Server calls the Application Server outside any store transaction, under the user's claim
//! (the `claims` module), and is written locally afterwards in one short transaction.

pub mod auth;
mod basic_cache;
pub mod bench;
mod claims;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod dialects;
pub mod email_change;
pub mod error;
pub mod factors;
pub mod hasher;
pub mod import;
mod links;
pub mod messages;
pub mod notify;
pub mod operator;
pub mod outbox;
pub mod passkeys;
pub mod pincode;
pub mod profile;
pub mod random;
mod remembered;
pub mod reset;
pub mod selfservice;
pub mod sso;
pub mod throttle;
pub mod timeline;
pub mod users;

pub use config::ServiceConfig;
pub use error::{ServiceError, ServiceResult};

use accountd_domain::ids::UserKey;
use accountd_domain::ports::{ApplicationServer, Clock, Random, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome, ClientInfo};
use basic_cache::BasicCache;
use hasher::Hasher;
use remembered::Remembered;
use std::sync::Arc;

/// The most session lookups remembered at once, and likewise Basic credentials' rows and users'
/// directories (each for at most a second: those in use in one second; a user is about 1 KiB, a
/// directory with a few licences about as much: 30 MiB at worst for the three).
const REMEMBERED_ENTRIES: usize = 10_000;

/// What a request brings beside its body: for audit events and throttling.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub client: ClientInfo,
}

/// The use cases over one store, one Application Server, a clock and a source of randomness.
pub struct Services<S: Store> {
    store: S,
    upstream: Arc<dyn ApplicationServer>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    hasher: Hasher,
    config: ServiceConfig,
    basic_cache: BasicCache,
    /// Recent session lookups (at most a second old, and none past a write): `remembered`.
    session_cache: Remembered<[u8; 32], (auth::SessionFacts, accountd_domain::user::User)>,
    /// Recent reads of Basic requests' rows, by username and client address (none past a commit
    /// of any process where the store reads here): `remembered`.
    basic_reads: Remembered<(String, String), auth::BasicRows>,
    /// Recent reads of users' directories (SuperOffice, Axway), likewise.
    directories: Remembered<(accountd_domain::ids::UserKey, accountd_domain::level::Role), dialects::Directory>,
    sso: Option<sso::SsoVerifier>,
    /// Key of the Basic-auth cache; per process (the cache is too). XSRF tokens use none of it:
    /// every instance must agree on them (see `auth::XSRF_KEY`).
    secret_key: [u8; 32],
    /// Who delivers each outbox topic ([`outbox`]).
    outbox_handlers: Vec<Arc<dyn outbox::OutboxHandler<S>>>,
    outbox_counters: outbox::OutboxCounters,
    /// The keys that seal TOTP secrets ([`factors`]); set by the binary.
    key_ring: Option<accountd_policy::factors::KeyRing>,
    factor_counters: factors::FactorCounters,
    /// Passkeys' relying party ([`passkeys`]); set by the binary.
    relying_party: Option<Arc<webauthn_rs::prelude::Webauthn>>,
    /// "This wasn't me" reports this instance took ([`timeline`]), for `/metrics`.
    compromise_reports: std::sync::atomic::AtomicU64,
    /// Where webhook notifications are posted ([`notify`]); set by the binary.
    webhook_client: Option<Arc<dyn accountd_domain::ports::WebhookClient>>,
    /// Where notification e-mail goes ([`notify`]); set by the binary when SMTP is configured.
    mailer: Option<Arc<dyn accountd_domain::ports::Mailer>>,
}

impl<S: Store> std::fmt::Debug for Services<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Services<S> {
    pub fn new(
        store: S,
        upstream: Arc<dyn ApplicationServer>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        hasher: Hasher,
        config: ServiceConfig,
    ) -> Result<Self, sso::SsoError> {
        let mut secret_key = [0u8; 32];
        random.fill(&mut secret_key);
        let basic_cache = BasicCache::new(config.basic_auth.cache_entries);
        let sso = sso::SsoVerifier::from_config(&config.sso)?;
        Ok(Self {
            store,
            upstream,
            clock,
            random,
            hasher,
            config,
            basic_cache,
            session_cache: Remembered::new(REMEMBERED_ENTRIES),
            basic_reads: Remembered::new(REMEMBERED_ENTRIES),
            directories: Remembered::new(REMEMBERED_ENTRIES),
            sso,
            secret_key,
            outbox_handlers: outbox::builtin_handlers(),
            outbox_counters: outbox::OutboxCounters::default(),
            key_ring: None,
            factor_counters: factors::FactorCounters::default(),
            relying_party: None,
            compromise_reports: std::sync::atomic::AtomicU64::new(0),
            webhook_client: None,
            mailer: None,
        })
    }

    /// Second-factor checks by method and outcome (`/metrics`).
    pub fn factor_counts(&self) -> Vec<(&'static str, bool, u64)> {
        self.factor_counters.snapshot()
    }

    /// "This wasn't me" reports this instance took since it started (`/metrics`).
    pub fn compromise_reports(&self) -> u64 {
        self.compromise_reports.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A fresh random (version 4) UUID from the service's [`Random`] port, for a new user.
    pub fn new_uuid(&self) -> uuid::Uuid {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Whether the store can serve requests (for `/readyz`): reachable, migrations applied.
    pub fn check_ready(&self) -> ServiceResult<()> {
        self.store.check_ready().map_err(ServiceError::Store)
    }

    /// The Application Server guard's state (in-flight calls, breaker), when the adapter has one.
    pub fn upstream_guard_state(&self) -> Option<accountd_domain::ports::UpstreamGuardState> {
        self.upstream.guard_state()
    }

    /// The store's connection pool use, when it has one (for `/metrics`).
    pub fn pool_use(&self) -> Option<accountd_domain::ports::PoolUse> {
        self.store.pool_use()
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Forgets the user's remembered Basic verifications (after a password change or a delete).
    pub(crate) fn forget_basic(&self, user: UserKey) {
        self.basic_cache.forget_user(user);
    }

    /// Records an audit event in a transaction of its own (for refusals and failures, whose own
    /// transaction rolled back). Failing to record is logged, not raised.
    fn audit_apart(&self, event: AuditEvent) {
        if let Err(err) = self.store.write(|repo| self.record(repo, &event)) {
            tracing::error!(error = %err, action = event.action.as_str(), "could not record an audit event");
        }
    }

    fn audit_event(
        &self,
        actor: Option<&Principal>,
        subject: Option<UserKey>,
        action: AuditAction,
        fields: Vec<String>,
        outcome: AuditOutcome,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent {
            at: self.clock.now(),
            actor: actor.map(|p| p.user.key),
            actor_name: actor.map(|p| p.user.username.to_string()),
            subject,
            action,
            fields,
            outcome,
            request_id: ctx.request_id.clone(),
            client: ctx.client.clone(),
            actor_level: actor.map(|p| p.user.level()),
        }
    }

    /// [`Services::audit_event`] for an operator's tool that acts without a principal: the tool's
    /// name (`import`) is the actor's name.
    fn tool_audit_event(
        &self,
        tool: &str,
        subject: Option<UserKey>,
        action: AuditAction,
        fields: Vec<String>,
        outcome: AuditOutcome,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent {
            actor_name: Some(tool.to_owned()),
            ..self.audit_event(None, subject, action, fields, outcome, ctx)
        }
    }
}
