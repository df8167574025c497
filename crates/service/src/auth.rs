//! Authentication: password login under the login mode, sessions (idle and absolute timeouts),
//! HTTP Basic with a verification cache, API tokens, logout, and brute-force throttling.

use crate::basic_cache::{Hit, credentials_key, fingerprint};
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::Username;
use accountd_domain::ports::{Store, UpstreamError};
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::{AuditAction, AuditOutcome, NewApiToken, NewSession, PasswordRecord};
use accountd_domain::secret::{Password, TokenDigest};
use accountd_domain::text::Text;
use accountd_domain::user::{Timestamp, User};
use accountd_policy::mode::{Authenticator, Operation, dispatch};
use accountd_policy::tokens;

/// How long a Basic request waits for another's verification of the same credential before it
/// verifies on its own.
const FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A successful login. Its `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct LoginOutcome {
    pub user: User,
    /// Seed 000's `is_first_login`: the password was set by an administrator (or at creation) and
    /// the user has not changed it yet.
    pub is_first_login: bool,
    /// The new session id, for the `sessionid` cookie. A secret: never log it.
    pub session_token: String,
    /// The XSRF token bound to this session, for the `XSRF-TOKEN` cookie.
    pub xsrf_token: String,
    pub expires_at: Timestamp,
    /// The session may only enroll a second factor (`mfa.required_levels`); the login answer
    /// says so.
    pub enrollment_only: bool,
    /// The user reported an event as not theirs: the session may only change the password until
    /// it is changed; the login answer says so.
    pub password_change_required: bool,
}

/// A new API token; `token` is shown once and never stored (nor printed by `Debug`).
#[derive(Clone)]
pub struct IssuedToken {
    pub id: i64,
    pub token: String,
}

impl std::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOutcome")
            .field("user", &self.user.key)
            .field("is_first_login", &self.is_first_login)
            .field("session_token", &"<redacted>")
            .field("xsrf_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("enrollment_only", &self.enrollment_only)
            .field("password_change_required", &self.password_change_required)
            .finish()
    }
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The HMAC key of XSRF tokens: a fixed domain-separation label, not a server secret, so every
/// instance (and every restart) derives the same token from a session id. The token's strength is
/// the session id's: 256 random bits the client keeps in an HttpOnly cookie and the store keeps
/// only the SHA-256 of, so neither script nor a database reader can compute the token.
const XSRF_KEY: &[u8] = b"accountd XSRF token v1";

/// What a session lookup needs of a session row (remembered with its user: `remembered`).
#[derive(Debug, Clone)]
pub(crate) struct SessionFacts {
    pub(crate) last_seen_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) proved_at: Timestamp,
    pub(crate) enrollment_only: bool,
    pub(crate) password_change_only: bool,
}

/// What a Basic request's one read finds, remembered (`basic_reads`) by username and client
/// address: the three throttle counters (judged against the clock on every request), the user,
/// the fingerprint of their password hash (never the hash), and whether a second factor or a
/// demanded password change holds them. `None` for no such user or no local password.
pub(crate) type BasicRows = Option<BasicRow>;

#[derive(Debug, Clone)]
pub(crate) struct BasicRow {
    throttle: [Option<accountd_domain::records::ThrottleState>; 3],
    user: User,
    fingerprint: [u8; 32],
    has_factor: bool,
    demanded: bool,
}

/// What a session lookup found.
enum SessionLookup {
    /// A live session; `touch` when its activity is due to be recorded. Boxed: a principal is
    /// large beside a digest, and the box is one small allocation per request.
    Valid { principal: Box<Principal>, touch: bool },
    /// Past its absolute or idle end, or its user may no longer sign in: to be deleted.
    Ended(accountd_domain::secret::TokenDigest),
}

impl<S: Store> Services<S> {
    /// The XSRF token that belongs to a session token (`None` for a malformed token).
    pub fn xsrf_token_for(&self, session_token: &str) -> Option<String> {
        tokens::decode_token(session_token).map(|bytes| tokens::xsrf_token(&bytes, XSRF_KEY))
    }

    /// Checks a password for `username` where the login mode says, at the same cost whether or not
    /// the user exists. A refusal after a local verification takes at least
    /// `throttle.failure_floor_ms`: a wrong password for a user still on an imported PBKDF2 hash
    /// (several times argon2's cost) answers no later than one for anybody else, so the timing does
    /// not tell who is on a legacy hash. Returns the user and their local password record.
    fn verify_credentials(
        &self,
        username: &str,
        password: &Password,
        basic: bool,
    ) -> ServiceResult<(User, Option<PasswordRecord>)> {
        let started = std::time::Instant::now();
        let result = self.verify_credentials_unpadded(username, password, basic);
        if matches!(result, Err(ServiceError::BadCredentials)) && !self.upstream_authenticates() {
            let floor = std::time::Duration::from_millis(self.config.throttle.failure_floor_ms);
            if let Some(rest) = floor.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        result
    }

    /// Whether a demanded password change holds a caller who signed in with `auth`: not with an
    /// identity provider's token, nor in SSO_LOGIN_DEDICATED at all (the provider keeps the
    /// password there; "this wasn't me" ends sessions and tokens only).
    pub(crate) fn password_demands_apply(&self, auth: AuthMethod) -> bool {
        auth != AuthMethod::Sso && self.config.apio.login_mode.authenticator() != Authenticator::IdentityProvider
    }

    fn upstream_authenticates(&self) -> bool {
        self.config.apio.login_mode.authenticator() == Authenticator::ApplicationServer
    }

    fn verify_credentials_unpadded(
        &self,
        username: &str,
        password: &Password,
        basic: bool,
    ) -> ServiceResult<(User, Option<PasswordRecord>)> {
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::Login,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        let Ok(name) = Username::parse(username) else {
            // No such user can exist; spend the same time anyway.
            self.hasher.try_verify_dummy(password.expose())?;
            return Err(ServiceError::BadCredentials);
        };
        let found = self.store.read(|repo| repo.user_with_password(&name))?;
        let now = self.clock.now();
        match how.authenticate {
            Authenticator::Local => {
                let Some((user, Some(record))) = found else {
                    self.hasher.try_verify_dummy(password.expose())?;
                    return Err(ServiceError::BadCredentials);
                };
                if basic && self.config.basic_auth.cache_seconds > 0 {
                    let key = credentials_key(&self.secret_key, username, password.expose());
                    let fp = fingerprint(record.hash.as_str());
                    let matches = match self.basic_cache.hit(&key, user.key, &fp, now) {
                        Hit::Fresh => return self.admit(user, Some(record)),
                        // Near the entry's end: verified again by this request alone, while the
                        // others keep using it, so a hot credential never expires under load. At
                        // normal priority: at SCHED_IDLE, the load of those others would starve it.
                        Hit::Refresh => match self.hasher.verify_promptly(&record.hash, password.expose()) {
                            Ok(verified) => verified.matches,
                            Err(err) => {
                                self.basic_cache.abandon_refresh(&key);
                                return Err(err.into());
                            }
                        },
                        // Concurrent requests with this credential share one verification.
                        Hit::Miss => self.basic_cache.verify_once(&key, &fp, FLIGHT_WAIT, || {
                            self.hasher.verify(&record.hash, password.expose()).map(|v| v.matches)
                        })?,
                    };
                    if !matches {
                        return Err(ServiceError::BadCredentials);
                    }
                    let (expires, refresh) = self.basic_cache_times(now);
                    self.basic_cache.remember(key, user.key, fp, expires, refresh, now);
                    return self.admit(user, Some(record));
                }
                let verified = self.hasher.verify(&record.hash, password.expose())?;
                if !verified.matches {
                    return Err(ServiceError::BadCredentials);
                }
                if verified.needs_rehash && user.may_sign_in() {
                    self.upgrade_hash(&user, password);
                }
                self.admit(user, Some(record))
            }
            Authenticator::ApplicationServer => {
                match self.upstream.authenticate(&name, password) {
                    Ok(()) => {}
                    Err(UpstreamError::Unauthorized) => return Err(ServiceError::BadCredentials),
                    Err(other) => return Err(ServiceError::Upstream(other)),
                }
                match found {
                    Some((user, record)) => self.admit(user, record),
                    None => Err(ServiceError::BadCredentials),
                }
            }
            Authenticator::IdentityProvider => {
                // SSO_LOGIN_DEDICATED: users prove who they are with the identity provider's token.
                self.hasher.try_verify_dummy(password.expose())?;
                Err(ServiceError::BadCredentials)
            }
        }
    }

    fn admit(&self, user: User, record: Option<PasswordRecord>) -> ServiceResult<(User, Option<PasswordRecord>)> {
        if user.may_sign_in() {
            Ok((user, record))
        } else {
            Err(ServiceError::BadCredentials)
        }
    }

    /// Re-hashes a correct password whose stored hash uses older parameters or another algorithm.
    fn upgrade_hash(&self, user: &User, password: &Password) {
        let result = self
            .hasher
            .hash(password.expose(), self.random.as_ref())
            .map_err(ServiceError::from)
            .and_then(|hash| {
                self.store
                    .write(|repo| repo.rehash_password(user.key, &hash).map_err(ServiceError::from))
            });
        if let Err(err) = result {
            tracing::warn!(error = %err, user = %user.key, "could not upgrade a password hash");
        }
    }

    /// `POST /api/v1/login/`: checks the credentials where the login mode says and opens a session.
    #[tracing::instrument(skip_all)]
    pub fn login(&self, username: &str, password: &Password, ctx: &RequestContext) -> ServiceResult<LoginOutcome> {
        self.check_throttle(username, ctx)?;
        match self.verify_credentials(username, password, false) {
            Ok((user, record)) => {
                if self.store.read(|repo| self.has_second_factor(repo, user.key))? {
                    return Err(self.second_factor_challenge(&user)?);
                }
                self.open_session(user, record, AuthMethod::Session, ctx, vec![])
            }
            Err(ServiceError::BadCredentials) => Err(self.failed_login(username, ctx)),
            Err(other) => Err(other),
        }
    }

    /// Opens a session for `user`, who proved what `proved_with` names (audited; nothing beyond the
    /// password). A user who must have a factor and has none gets an enrollment-only session.
    pub(crate) fn open_session(
        &self,
        user: User,
        record: Option<PasswordRecord>,
        auth: AuthMethod,
        ctx: &RequestContext,
        proved_with: Vec<String>,
    ) -> ServiceResult<LoginOutcome> {
        let enrollment_only =
            self.factor_required(&user) && !self.store.read(|repo| self.has_second_factor(repo, user.key))?;
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let now = self.clock.now();
        let expires_at = now.plus_seconds(self.config.sessions.absolute_timeout_seconds);
        let mut session = NewSession {
            digest: tokens::token_digest(&secret),
            user: user.key,
            auth,
            created_at: now,
            expires_at,
            client: ctx.client.clone(),
            proved_at: now,
            enrollment_only,
            password_change_only: false,
        };
        let principal = Principal {
            user: user.clone(),
            auth,
            session: Some(session.digest),
            proved_at: Some(now),
            enrollment_only,
            read_only: false,
            password_change_only: false,
            read_under: None,
        };
        let event = self.audit_event(
            Some(&principal),
            Some(user.key),
            AuditAction::Login,
            proved_with,
            AuditOutcome::Success,
            ctx,
        );
        // Read in the transaction that creates the session: a report taken meanwhile either ends
        // this session or holds it to the password change.
        let demands_apply = self.password_demands_apply(auth);
        let password_change_only = self.store.write(|repo| {
            repo.lock_account(user.key)?;
            self.clear_failures(repo, user.username.as_str(), ctx)?;
            session.password_change_only = demands_apply && repo.password_change_demanded(user.key)?;
            repo.create_session(&session)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(session.password_change_only)
        })?;
        tracing::info!(user = %user.key, session = %session.digest.log_label(), "login");
        Ok(LoginOutcome {
            is_first_login: record.is_some_and(|r| r.first_login),
            session_token: tokens::encode_token(&secret),
            xsrf_token: tokens::xsrf_token(&secret, XSRF_KEY),
            expires_at,
            enrollment_only,
            password_change_required: password_change_only,
            user,
        })
    }

    /// The caller behind a session token (`sessionid` cookie, or `SoTicket`). Ends the session when it
    /// is past its idle or absolute timeout.
    pub fn authenticate_session(&self, token: &str, method: AuthMethod) -> ServiceResult<Principal> {
        match self.look_up_session(token, method, false)? {
            SessionLookup::Ended(digest) => {
                self.store.write(|repo| repo.delete_session(&digest))?;
                Err(ServiceError::Unauthenticated)
            }
            SessionLookup::Valid { principal, touch } => {
                if let (true, Some(digest)) = (touch, &principal.session)
                    && let Err(err) = self.store.write(|repo| repo.touch_session(digest, self.clock.now()))
                {
                    tracing::warn!(error = %err, "could not record session activity");
                }
                Ok(*principal)
            }
        }
    }

    /// Whether the store answers the hot reads of a request on the calling thread (SQLite): then
    /// [`Services::authenticate_session_here`] and [`Services::authenticate_basic_here`] may run
    /// on an async worker.
    pub fn reads_here(&self) -> bool {
        self.store.reads_here()
    }

    /// [`Services::authenticate_session`] on the calling thread's own read connection
    /// ([`accountd_domain::ports::Store::read_here`]), when nothing must be written: `None` when
    /// the session is due to be touched or has ended (then [`Services::authenticate_session`],
    /// off the worker, does it). One indexed read; an unknown session is refused here.
    pub fn authenticate_session_here(&self, token: &str, method: AuthMethod) -> Option<ServiceResult<Principal>> {
        match self.look_up_session(token, method, true) {
            Ok(SessionLookup::Valid {
                principal,
                touch: false,
            }) => Some(Ok(*principal)),
            Ok(_) => None,
            Err(err) => Some(Err(err)),
        }
    }

    /// The session of `token` and its user: remembered from a lookup less than a second ago with
    /// no write since (`remembered`), else read (on this thread when `here`).
    fn look_up_session(&self, token: &str, method: AuthMethod, here: bool) -> ServiceResult<SessionLookup> {
        let bytes = tokens::decode_token(token).ok_or(ServiceError::Unauthenticated)?;
        let digest = tokens::token_digest(&bytes);
        // Taken before the read: a write landing meanwhile makes what is read stale at once.
        let generation = self.store.generation();
        let remembered = generation.and_then(|g| self.session_cache.get(digest.as_bytes(), g));
        let (session, user) = match remembered {
            Some(found) => found,
            None => {
                let read_at = std::time::Instant::now();
                let read = |repo: &mut dyn accountd_domain::ports::Repository| repo.session_with_user(&digest);
                let found = if here {
                    self.store.read_here(read)?
                } else {
                    self.store.read(read)?
                };
                let (session, user) = found.ok_or(ServiceError::Unauthenticated)?;
                let facts = SessionFacts {
                    last_seen_at: session.last_seen_at,
                    expires_at: session.expires_at,
                    proved_at: session.proved_at,
                    enrollment_only: session.enrollment_only,
                    password_change_only: session.password_change_only,
                };
                if let Some(generation) = generation {
                    self.session_cache
                        .put(*digest.as_bytes(), (facts.clone(), user.clone()), generation, read_at);
                }
                (facts, user)
            }
        };
        let now = self.clock.now();
        let idle_end = session
            .last_seen_at
            .plus_seconds(self.config.sessions.idle_timeout_seconds);
        if now >= session.expires_at || now >= idle_end || !user.may_sign_in() {
            return Ok(SessionLookup::Ended(digest));
        }
        let touch = now.seconds_since(session.last_seen_at) >= self.config.sessions.touch_interval_seconds;
        Ok(SessionLookup::Valid {
            principal: Box::new(Principal {
                user,
                auth: method,
                session: Some(digest),
                proved_at: Some(session.proved_at),
                enrollment_only: session.enrollment_only,
                read_only: false,
                password_change_only: session.password_change_only,
                // Not the generation the lookup was remembered under: that counted no other
                // process's commits, and the directory must be as fresh as a read.
                read_under: None,
            }),
            touch,
        })
    }

    /// Deletes sessions past their absolute or idle timeout (abandoned ones are never presented
    /// again, so they would stay otherwise). Returns how many went.
    pub fn purge_expired_sessions(&self) -> ServiceResult<u64> {
        let now = self.clock.now();
        let idle_before = now.plus_seconds(-self.config.sessions.idle_timeout_seconds);
        Ok(self.store.write(|repo| {
            // Expired second-step challenges, WebAuthn ceremonies, password-reset links and
            // e-mail change links go with the expired sessions.
            repo.purge_login_challenges(now)?;
            repo.purge_ceremonies(now)?;
            repo.purge_password_resets(now)?;
            repo.purge_email_changes(now)?;
            repo.purge_sessions(now, idle_before)
        })?)
    }

    /// The caller behind `Authorization: Basic`: a login attempt on every request, throttled like
    /// one, but verified by argon2 only once per cache period.
    pub fn authenticate_basic(
        &self,
        username: &str,
        password: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<Principal> {
        self.check_throttle(username, ctx)?;
        match self.verify_credentials(username, password, true) {
            Ok((user, _)) => {
                let demands_apply = self.password_demands_apply(AuthMethod::Basic);
                let (has_factor, password_change_only) = self.store.read(|repo| {
                    let has_factor = self.has_second_factor(repo, user.key)?;
                    let demanded = demands_apply && repo.password_change_demanded(user.key)?;
                    Ok::<_, ServiceError>((has_factor, demanded))
                })?;
                if has_factor {
                    return Err(ServiceError::BasicWithSecondFactor);
                }
                Ok(self.basic_principal(user, password_change_only, self.clock.now(), None))
            }
            Err(ServiceError::BadCredentials) => Err(self.failed_login(username, ctx)),
            Err(other) => Err(other),
        }
    }

    /// When a verification remembered at `now` expires, and when it is refreshed (its last sixth,
    /// at least a second).
    fn basic_cache_times(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let life = self.config.basic_auth.cache_seconds;
        let expires = now.plus_seconds(life);
        (expires, expires.plus_seconds(-(life / 6).max(1)))
    }

    /// [`Services::authenticate_basic`] on the calling thread's own read connection
    /// ([`accountd_domain::ports::Store::read_here`]) for the common case only: a local password
    /// whose verification is remembered and fresh. One read gives the throttle state, the user,
    /// the password, the second factor and a demanded change. `None` for anything else (a miss,
    /// a refresh due, a refusal, a failure, another login mode): [`Services::authenticate_basic`]
    /// answers it off the worker, where argon2 and failure padding run.
    pub fn authenticate_basic_here(
        &self,
        username: &str,
        password: &Password,
        ctx: &RequestContext,
    ) -> Option<ServiceResult<Principal>> {
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::Login,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        if how.authenticate != Authenticator::Local || self.config.basic_auth.cache_seconds <= 0 {
            return None;
        }
        let name = Username::parse(username).ok()?;
        let counters = self.login_counters(username, ctx);
        let demands_apply = self.password_demands_apply(AuthMethod::Basic);
        let address = ctx.client.address.clone().unwrap_or_default();
        let now = self.clock.now();
        let key = credentials_key(&self.secret_key, username, password.expose());
        // Whether the rows admit this credential here: the only rows worth remembering.
        let admits = |row: &BasicRows| {
            row.as_ref().is_some_and(|row| {
                crate::throttle::longest_wait(&counters, &row.throttle, now).is_none()
                    && !row.has_factor
                    && row.user.may_sign_in()
                    && self.basic_cache.fresh(&key, row.user.key, &row.fingerprint, now)
            })
        };
        let read = self.remembered_here(
            &self.basic_reads,
            (username.to_owned(), address),
            |repo| {
                let mut throttle = [None; 3];
                for ((counter, _), state) in counters.iter().zip(&mut throttle) {
                    *state = repo.throttle_state(&counter.key())?;
                }
                let Some((user, Some(record))) = repo.user_with_password(&name)? else {
                    return Ok(None);
                };
                let has_factor = self.has_second_factor(repo, user.key)?;
                let demanded = demands_apply && repo.password_change_demanded(user.key)?;
                Ok(Some(BasicRow {
                    throttle,
                    fingerprint: fingerprint(record.hash.as_str()),
                    user,
                    has_factor,
                    demanded,
                }))
            },
            admits,
        );
        let Ok((rows, read_under)) = read else {
            return None;
        };
        if !admits(&rows) {
            return None;
        }
        let row = rows?;
        Some(Ok(self.basic_principal(row.user, row.demanded, now, read_under)))
    }

    /// The principal of a Basic request by a user without a second factor: one who must have one
    /// may only enroll, as in a session; one who reported an event as not theirs may only change
    /// their password, as in a session.
    fn basic_principal(
        &self,
        user: User,
        password_change_only: bool,
        now: Timestamp,
        read_under: Option<u64>,
    ) -> Principal {
        Principal {
            enrollment_only: self.factor_required(&user),
            read_only: false,
            password_change_only,
            user,
            auth: AuthMethod::Basic,
            session: None,
            proved_at: Some(now),
            read_under,
        }
    }

    /// The user an identity-provider token vouches for, when the login mode authenticates with the
    /// identity provider (SSO_LOGIN_DEDICATED) and a key is configured.
    fn sso_user(&self, token: &str) -> ServiceResult<User> {
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::Login,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        let verifier = match (&self.sso, how.authenticate) {
            (Some(v), Authenticator::IdentityProvider) => v,
            _ => return Err(ServiceError::Unauthenticated),
        };
        let username = verifier.verify(token, self.clock.now()).map_err(|err| {
            tracing::info!(error = %err, "SSO token refused");
            ServiceError::BadCredentials
        })?;
        let user = self
            .store
            .read(|repo| repo.user_by_username(&username))?
            .ok_or(ServiceError::BadCredentials)?;
        self.admit(user, None).map(|(user, _)| user)
    }

    /// `POST /api/v1/login/` with an identity-provider token (SSO_LOGIN_DEDICATED): opens a session.
    pub fn login_sso(&self, token: &str, ctx: &RequestContext) -> ServiceResult<LoginOutcome> {
        self.check_token_throttle(ctx)?;
        match self.sso_user(token) {
            // The identity provider owns the factors of its users (docs/second-factors.md).
            Ok(user) => self.open_session(user, None, AuthMethod::Sso, ctx, vec!["sso".to_owned()]),
            Err(ServiceError::BadCredentials | ServiceError::Unauthenticated) => Err(self.failed_token(ctx)),
            Err(other) => Err(other),
        }
    }

    /// The caller behind `Authorization: Bearer`: an identity-provider JWT in SSO_LOGIN_DEDICATED
    /// mode, else an API token.
    pub fn authenticate_bearer(&self, token: &str) -> ServiceResult<Principal> {
        if self.sso.is_some() && crate::sso::SsoVerifier::looks_like_jwt(token) {
            let user = self.sso_user(token).map_err(|_| ServiceError::Unauthenticated)?;
            return Ok(Principal {
                user,
                auth: AuthMethod::Sso,
                session: None,
                proved_at: None,
                enrollment_only: false,
                read_only: false,
                password_change_only: false,
                read_under: None,
            });
        }
        self.authenticate_api_token(token)
    }

    /// The caller behind `Authorization: Bearer <API token>`.
    pub fn authenticate_api_token(&self, token: &str) -> ServiceResult<Principal> {
        let bytes = tokens::decode_token(token).ok_or(ServiceError::Unauthenticated)?;
        let digest = tokens::token_digest(&bytes);
        let (api_token, user) = self
            .store
            .read(|repo| repo.api_token_with_user(&digest))?
            .ok_or(ServiceError::Unauthenticated)?;
        let now = self.clock.now();
        if api_token.expires_at.is_some_and(|end| now >= end) || !user.may_sign_in() {
            return Err(ServiceError::Unauthenticated);
        }
        let stale = api_token
            .last_used_at
            .is_none_or(|t| now.seconds_since(t) >= self.config.sessions.touch_interval_seconds);
        if stale && let Err(err) = self.store.write(|repo| repo.touch_api_token(api_token.id, now)) {
            tracing::warn!(error = %err, "could not record API token use");
        }
        Ok(Principal {
            user,
            auth: AuthMethod::ApiToken,
            session: None,
            proved_at: None,
            enrollment_only: false,
            read_only: api_token.scope == accountd_domain::records::TokenScope::Read,
            password_change_only: false,
            read_under: None,
        })
    }

    /// `POST /api/v1/logout/`: ends the caller's session (a no-op for other authentication methods).
    pub fn logout(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<()> {
        let event = self.audit_event(
            Some(principal),
            Some(principal.user.key),
            AuditAction::Logout,
            vec![],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            if let Some(digest) = &principal.session {
                repo.delete_session(digest)?;
            }
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })
    }

    /// Issues an API token for `user` (the `accountd token create` command).
    pub fn create_api_token(
        &self,
        user: &Username,
        name: &str,
        lifetime_seconds: Option<i64>,
        ctx: &RequestContext,
    ) -> ServiceResult<IssuedToken> {
        let name = Text::parse_for("name", name)?;
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let now = self.clock.now();
        let digest: TokenDigest = tokens::token_digest(&secret);
        let stored = self.store.write(|repo| {
            let owner = repo.user_by_username(user)?.ok_or(ServiceError::NotFound("user"))?;
            let token = repo.create_api_token(&NewApiToken {
                scope: accountd_domain::records::TokenScope::Full,
                personal: false,
                digest,
                user: owner.key,
                name,
                created_at: now,
                expires_at: lifetime_seconds.map(|s| now.plus_seconds(s)),
            })?;
            let event = self.audit_event(
                None,
                Some(owner.key),
                AuditAction::TokenCreate,
                vec![],
                AuditOutcome::Success,
                ctx,
            );
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(token)
        })?;
        Ok(IssuedToken {
            id: stored.id,
            token: tokens::encode_token(&secret),
        })
    }

    /// Counts a failed login for throttling and audits it; answers the one generic refusal (or the
    /// store's error, if that failed).
    fn failed_login(&self, username: &str, ctx: &RequestContext) -> ServiceError {
        let mut event = self.failed_login_event(username, ctx);
        let recorded = self.store.write(|repo| {
            self.count_failure(repo, username, ctx)?;
            // The user's own timeline shows the failures against their name (issue 21).
            if let Ok(name) = Username::parse(username) {
                event.subject = repo.user_by_username(&name)?.map(|u| u.key);
            }
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(event.subject)
        });
        match recorded {
            Ok(subject) => {
                // This failure made the next attempt wait: the user's timeline says so, once
                // (later attempts are refused before they count).
                if let (Some(subject), Err(ServiceError::Throttled { retry_after_seconds })) =
                    (subject, self.check_account_throttle(username, ctx))
                {
                    let mut event = self.failed_login_event(username, ctx);
                    event.subject = Some(subject);
                    // Not an actor: whoever tried is in the `login` events before it.
                    event.actor_name = None;
                    event.action = AuditAction::AccountThrottled;
                    event.fields = vec![format!("retry_after:{retry_after_seconds}")];
                    self.audit_apart(event);
                }
                ServiceError::BadCredentials
            }
            Err(err) => err,
        }
    }

    /// Like [`Self::failed_login`] for an unverifiable SSO token: counted for the client address
    /// only (the subject it claims is the sender's choice), audited without a name.
    pub(crate) fn failed_token(&self, ctx: &RequestContext) -> ServiceError {
        let mut event = self.failed_login_event("", ctx);
        event.actor_name = None;
        let recorded = self.store.write(|repo| {
            self.count_token_failure(repo, ctx)?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        });
        recorded.err().unwrap_or(ServiceError::BadCredentials)
    }

    pub(crate) fn failed_login_event(
        &self,
        username: &str,
        ctx: &RequestContext,
    ) -> accountd_domain::records::AuditEvent {
        accountd_domain::records::AuditEvent {
            at: self.clock.now(),
            actor: None,
            // The name as given, cut short: it is not a secret but may be anything.
            actor_name: Some(username.chars().take(161).collect()),
            subject: None,
            action: AuditAction::Login,
            fields: vec![],
            outcome: AuditOutcome::Denied,
            request_id: ctx.request_id.clone(),
            client: ctx.client.clone(),
            actor_level: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceConfig;
    use crate::hasher::Hasher;
    use crate::random::OsRandom;
    use accountd_domain::ports::SystemClock;
    use accountd_policy::hashing::HashParams;
    use accountd_storage::testing::TestDatabase;
    use accountd_upstream::DisabledUpstream;
    use std::sync::Arc;

    #[test]
    fn outcomes_and_issued_tokens_print_no_token() {
        let token = IssuedToken {
            id: 7,
            token: "secret-api-token".into(),
        };
        assert!(!format!("{token:?}").contains("secret-api-token"));
    }

    /// Services over `db` with the default configuration and no Application Server.
    fn services(db: &TestDatabase) -> Services<accountd_storage::Database> {
        Services::new(
            db.database().clone(),
            Arc::new(DisabledUpstream),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            Hasher::new(HashParams::default(), 1),
            ServiceConfig::default(),
        )
        .unwrap()
    }

    #[test]
    fn every_instance_derives_the_same_xsrf_token_for_a_session() {
        let db = TestDatabase::sqlite();
        let (a, b) = (services(&db), services(&db));
        let session = tokens::encode_token(&[9; 32]);
        let token = a.xsrf_token_for(&session).unwrap();
        assert_eq!(b.xsrf_token_for(&session).as_deref(), Some(token.as_str()));
        assert_ne!(
            a.xsrf_token_for(&tokens::encode_token(&[8; 32])),
            Some(token),
            "bound to the session"
        );
        assert_eq!(a.xsrf_token_for("not a session id"), None);
    }

    /// A Basic request's rows are remembered only when they admit it: a caller trying names and
    /// passwords can't fill the map and push out everyone else's rows (each such request reads).
    #[test]
    fn rows_of_an_unauthenticated_basic_request_are_not_remembered() {
        let db = TestDatabase::sqlite();
        let services = services(&db);
        assert!(services.reads_here());
        let ctx = RequestContext::default();
        let password = Password::new("Guess-Passw0rd!").unwrap();
        for i in 0..20 {
            let answer = services.authenticate_basic_here(&format!("nobody-{i}"), &password, &ctx);
            assert!(answer.is_none(), "left to the blocking pool, which refuses it");
        }
        assert_eq!(services.basic_reads.len(), 0);
    }
}
