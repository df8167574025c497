//! The durable outbox (issue 15): work that must reach another system after the fact, delivered
//! at least once by a worker in every instance, with exponential backoff, surviving restarts.
//!
//! # Generic over what it delivers
//!
//! A message has a topic and a JSON payload; an [`OutboxHandler`] registered for the topic
//! delivers it ([`Services::register_outbox_handler`]). The Application Server realignments
//! below are the first two topics; notifications (issue 22) add theirs the same way.
//!
//! # Realignments: when the local write fails after the Application Server accepted
//!
//! A change that goes to the AS *arms* a realignment before the call (`Services::arm`): a
//! message, in a short transaction of its own, saying "set these fields of this user on the AS to
//! their local values", not due before the user's claim would expire. Then:
//!
//! - the local write commits: the same transaction deletes the message (`Services::disarm`);
//!   nothing is sent.
//! - the AS refused, or was not called (breaker open, too many calls): the AS did not change, the
//!   message is deleted (`Services::upstream_failed`).
//! - the AS timed out or failed in a way that does not say whether it applied the change: the
//!   message is made due; the worker realigns the AS once the request has released the claim.
//! - the local write failed after the AS accepted: the request realigns at once, under its claim
//!   (`Services::realign_now`); if that fails too, the message stays for the worker.
//! - the process died anywhere in between: the message is there after the restart, due when the
//!   claim would have expired.
//!
//! A realignment sends the *local* values when it is delivered, not values remembered from
//! before: whatever happened meanwhile, it makes the AS agree with the local store, so sending it
//! once more (at least once) or late does no harm. The worker delivers a user's messages under
//! the user's claim, so no change of that user is half-way through its AS call at that moment.
//!
//! # Divergences
//!
//! What can't be realigned is recorded as a divergence for an operator (`/readyz` detail,
//! `accountd_divergences` in `/metrics`, `accountd divergences`): a message given up after
//! `outbox.max_attempts` failed attempts or refused by the AS for good, a new password the AS
//! accepted when the local write failed (only the hash is kept, it can't be sent back), a delete
//! the AS made when the local one failed (the user can't be recreated there).

use crate::{ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{
    Divergence, NewOutboxMessage, OutboxMessage, OutboxStats, Repository, Store, UpstreamError,
};
use accountd_domain::user::{ProfileChange, ProfileField, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// It may work later (the other system is down or slow): retried with backoff.
    Retry(String),
    /// It will never work (refused for good, or the payload is unreadable): recorded as a
    /// divergence and dropped.
    GiveUp(String),
}

/// Delivers the messages of one topic.
pub trait OutboxHandler<S: Store>: Send + Sync {
    fn topic(&self) -> &'static str;
    /// Delivers `message`; it may be delivered again (after a crash between delivery and
    /// deletion), so a delivery must be safe to repeat.
    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError>;
}

/// In-process counters since start, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct OutboxCounters {
    delivered: AtomicU64,
    failures: AtomicU64,
    given_up: AtomicU64,
}

/// The outbox seen by an operator: what is stored (shared by every instance) and what this
/// instance did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Messages not delivered yet.
    pub depth: u64,
    /// Age of the oldest of them, seconds.
    pub oldest_age_seconds: u64,
    /// Open divergences.
    pub divergences: u64,
    pub delivered_total: u64,
    pub failures_total: u64,
    pub given_up_total: u64,
}

/// What one look at the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxRun {
    pub leased: usize,
    pub delivered: usize,
    pub retried: usize,
    pub given_up: usize,
    /// Put back untouched: the user was claimed by a change under way, or no handler here knows
    /// the topic (an instance of a newer version wrote it).
    pub postponed: usize,
}

/// Topic of [`RealignProfile`].
pub const REALIGN_PROFILE: &str = "upstream.realign-profile";
/// Topic of [`RealignPinSettings`].
pub const REALIGN_PIN_SETTINGS: &str = "upstream.realign-pin-settings";
/// Divergence topics of what can't be realigned.
pub const DIVERGED_PASSWORD: &str = "upstream.password";
pub const DIVERGED_DELETE: &str = "upstream.delete";
pub const DIVERGED_PIN: &str = "upstream.pin";

/// What an armed realignment puts back on the Application Server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Realign {
    /// These profile fields, to their local values.
    Profile(Vec<ProfileField>),
    /// The PIN settings (not the PIN: only its hash is kept).
    PinSettings,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProfilePayload {
    fields: Vec<String>,
}

impl Realign {
    fn message(&self, user: UserKey, not_before: Timestamp) -> NewOutboxMessage {
        let (topic, payload) = match self {
            Realign::Profile(fields) => {
                let payload = ProfilePayload {
                    fields: fields.iter().map(|f| f.wire_name().to_owned()).collect(),
                };
                (REALIGN_PROFILE, serde_json::to_string(&payload).unwrap_or_default())
            }
            Realign::PinSettings => (REALIGN_PIN_SETTINGS, "{}".to_owned()),
        };
        NewOutboxMessage {
            topic: topic.to_owned(),
            user: Some(user),
            payload,
            not_before,
        }
    }
}

/// A realignment armed before an Application Server call; see the module doc for its ends.
#[derive(Debug)]
#[must_use = "an armed realignment is disarmed, settled or realigned"]
pub(crate) struct Armed {
    id: i64,
    user: UserKey,
}

/// Whether a failed call leaves the AS unchanged for sure: it refused, or was not called.
fn unchanged_after(err: &UpstreamError) -> bool {
    match err {
        UpstreamError::Disabled
        | UpstreamError::Unauthorized
        | UpstreamError::Rejected { .. }
        | UpstreamError::NotAttempted { .. } => true,
        UpstreamError::Unavailable(_) | UpstreamError::Timeout => false,
    }
}

/// A realignment's call failed: refusals are for good, the rest may pass.
fn delivery_error(err: UpstreamError) -> DeliveryError {
    if matches!(
        err,
        UpstreamError::Disabled | UpstreamError::Unauthorized | UpstreamError::Rejected { .. }
    ) {
        DeliveryError::GiveUp(err.to_string())
    } else {
        DeliveryError::Retry(err.to_string())
    }
}

/// Loads the message's user for a realignment; `None` when it is gone locally (nothing to align).
fn realigned_user<S: Store>(
    services: &Services<S>,
    message: &OutboxMessage,
) -> Result<Option<accountd_domain::user::User>, DeliveryError> {
    let user = message
        .user
        .ok_or_else(|| DeliveryError::GiveUp("a realignment names no user".into()))?;
    services
        .store
        .read(|repo| repo.user_by_key(user))
        .map_err(|e| DeliveryError::Retry(e.to_string()))
}

/// Sets the message's profile fields on the Application Server to their local values.
#[derive(Debug)]
pub struct RealignProfile;

impl<S: Store> OutboxHandler<S> for RealignProfile {
    fn topic(&self) -> &'static str {
        REALIGN_PROFILE
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let payload: ProfilePayload =
            serde_json::from_str(&message.payload).map_err(|e| DeliveryError::GiveUp(format!("payload: {e}")))?;
        let fields = payload
            .fields
            .iter()
            .map(|name| {
                ProfileField::from_wire_name(name).ok_or_else(|| DeliveryError::GiveUp(format!("field {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(user) = realigned_user(services, message)? else {
            return Ok(());
        };
        let change = ProfileChange::current_values(&user.profile, &fields);
        services.upstream.update_profile(&user, &change).map_err(delivery_error)
    }
}

/// Sets the user's PIN settings on the Application Server to their local values.
#[derive(Debug)]
pub struct RealignPinSettings;

impl<S: Store> OutboxHandler<S> for RealignPinSettings {
    fn topic(&self) -> &'static str {
        REALIGN_PIN_SETTINGS
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let Some(user) = realigned_user(services, message)? else {
            return Ok(());
        };
        let settings = services
            .store
            .read(|repo| repo.pin(user.key))
            .map_err(|e| DeliveryError::Retry(e.to_string()))?
            .map(|r| r.settings)
            .unwrap_or_default();
        services
            .upstream
            .set_pin(&user, None, &settings)
            .map_err(delivery_error)
    }
}

/// The handlers every [`Services`] starts with.
pub(crate) fn builtin_handlers<S: Store>() -> Vec<Arc<dyn OutboxHandler<S>>> {
    vec![
        Arc::new(RealignProfile),
        Arc::new(RealignPinSettings),
        Arc::new(crate::notify::NotifyWebhook),
        Arc::new(crate::notify::NotifyEmail),
        Arc::new(crate::reset::NotifyReset),
        Arc::new(crate::email_change::NotifyEmailChange),
    ]
}

impl<S: Store> Services<S> {
    /// Adds the handler of a topic (a later one for the same topic replaces it).
    pub fn register_outbox_handler(&mut self, handler: Arc<dyn OutboxHandler<S>>) {
        self.outbox_handlers.retain(|h| h.topic() != handler.topic());
        self.outbox_handlers.push(handler);
    }

    /// Adds `message` to the outbox inside the caller's transaction: it is stored if and only if
    /// the transaction commits. Due at `message.not_before`.
    pub fn enqueue(&self, repo: &mut dyn Repository, message: &NewOutboxMessage) -> ServiceResult<i64> {
        Ok(repo.enqueue_outbox(message, self.clock.now())?)
    }

    /// Arms a realignment of `user` before an Application Server call, in a short transaction of
    /// its own; due only when the caller's claim would have expired (it died).
    pub(crate) fn arm(&self, user: UserKey, realign: Realign) -> ServiceResult<Armed> {
        let now = self.clock.now();
        let message = realign.message(user, now.plus(self.config.claims.ttl));
        let id = self.store.write(|repo| repo.enqueue_outbox(&message, now))?;
        Ok(Armed { id, user })
    }

    /// Inside the local write's transaction: the change is stored, so the realignment goes with
    /// it (both or neither).
    pub(crate) fn disarm(&self, repo: &mut dyn Repository, armed: &Armed) -> ServiceResult<()> {
        repo.remove_outbox(armed.id)?;
        Ok(())
    }

    /// The Application Server call failed with `err`: when the AS is unchanged for sure, the
    /// realignment goes; else it is due now, for the worker once the caller's claim is released.
    pub(crate) fn upstream_failed(&self, armed: Armed, err: &UpstreamError) {
        let settled = if unchanged_after(err) {
            self.store.write(|repo| repo.remove_outbox(armed.id).map(|_| ()))
        } else {
            tracing::warn!(
                user = %armed.user, error = %err,
                "the Application Server may or may not have applied a change; it will be realigned with the local store"
            );
            let now = self.clock.now();
            self.store
                .write(|repo| repo.retry_outbox(armed.id, 0, now, Some(&err.to_string())))
        };
        if let Err(store_err) = settled {
            // The message stays armed: it is realigned when the claim would have expired.
            tracing::warn!(user = %armed.user, error = %store_err, "could not settle an armed realignment");
        }
    }

    /// The local write failed (`err`) after the Application Server accepted: realigns the AS now,
    /// under the caller's claim. When that fails, the message stays for the worker.
    pub(crate) fn realign_now(&self, armed: Armed, err: &ServiceError) {
        let message = match self.store.read(|repo| repo.outbox_message(armed.id)) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(store_err) => {
                tracing::error!(
                    user = %armed.user, error = %err, store_error = %store_err,
                    "the local write failed after the Application Server accepted; the realignment stays armed"
                );
                return;
            }
        };
        let outcome = self.settle(&message, self.dispatch(&message));
        tracing::error!(
            user = %armed.user, topic = %message.topic, error = %err, realigned = outcome == Settled::Delivered,
            "the local write failed after the Application Server accepted a change"
        );
    }

    /// Records a divergence an operator must resolve, in a transaction of its own; logged at
    /// error level whether or not it could be stored.
    pub(crate) fn record_divergence(&self, user: UserKey, topic: &str, detail: &str) {
        let now = self.clock.now();
        let stored = self
            .store
            .write(|repo| repo.record_divergence(Some(user), topic, detail, now));
        tracing::error!(
            user = %user, topic, detail, recorded = stored.is_ok(),
            store_error = stored.err().map(|e| e.to_string()),
            "the local store and the Application Server diverge"
        );
    }

    /// One look at the outbox: leases the due messages, delivers each under its user's claim,
    /// and deletes, reschedules or gives up on it. The outbox worker calls this in a loop.
    pub fn run_outbox_once(&self) -> ServiceResult<OutboxRun> {
        let now = self.clock.now();
        let holder = self.claim_holder();
        // A delivery is one Application Server call: the claim's lifetime outlives it.
        let lease_until = now.plus(self.config.claims.ttl);
        let leased = self
            .store
            .write(|repo| repo.lease_outbox(now, &holder, lease_until, self.config.outbox.batch))?;
        let mut run = OutboxRun {
            leased: leased.len(),
            ..OutboxRun::default()
        };
        for message in leased {
            let claim = match message.user {
                Some(user) => match self.try_claim_user(user)? {
                    Some(claim) => Some(claim),
                    None => {
                        self.postpone(&message, "the user is claimed by a change under way");
                        run.postponed += 1;
                        continue;
                    }
                },
                None => None,
            };
            match self.settle(&message, self.dispatch(&message)) {
                Settled::Delivered => run.delivered += 1,
                Settled::Retried => run.retried += 1,
                Settled::GivenUp => run.given_up += 1,
                Settled::Postponed => run.postponed += 1,
            }
            drop(claim);
        }
        Ok(run)
    }

    /// The outbox's state for `/readyz` and `/metrics`.
    pub fn outbox_status(&self) -> ServiceResult<OutboxStatus> {
        let stats: OutboxStats = self.store.read(|repo| repo.outbox_stats())?;
        let now = self.clock.now();
        Ok(OutboxStatus {
            depth: stats.depth,
            oldest_age_seconds: stats
                .oldest_created_at
                .map_or(0, |t| u64::try_from(now.seconds_since(t)).unwrap_or(0)),
            divergences: stats.divergences,
            delivered_total: self.outbox_counters.delivered.load(Ordering::Relaxed),
            failures_total: self.outbox_counters.failures.load(Ordering::Relaxed),
            given_up_total: self.outbox_counters.given_up.load(Ordering::Relaxed),
        })
    }

    /// Every open divergence, oldest first (`accountd divergences`).
    pub fn divergences(&self) -> ServiceResult<Vec<Divergence>> {
        Ok(self.store.read(|repo| repo.divergences())?)
    }

    /// Resolves (deletes) a divergence an operator has dealt with; `false` when there was none.
    pub fn resolve_divergence(&self, id: i64) -> ServiceResult<bool> {
        Ok(self.store.write(|repo| repo.resolve_divergence(id))?)
    }

    /// The handler's verdict on `message`; `None` when no handler knows its topic.
    fn dispatch(&self, message: &OutboxMessage) -> Option<Result<(), DeliveryError>> {
        let handler = self.outbox_handlers.iter().find(|h| h.topic() == message.topic)?;
        Some(handler.deliver(self, message))
    }

    /// Deletes, reschedules or gives up on `message` after a delivery attempt.
    fn settle(&self, message: &OutboxMessage, verdict: Option<Result<(), DeliveryError>>) -> Settled {
        let counters = &self.outbox_counters;
        let settled = match verdict {
            None => {
                self.postpone(message, "no handler for this topic on this instance");
                return Settled::Postponed;
            }
            Some(Ok(())) => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                self.store
                    .write(|repo| repo.remove_outbox(message.id).map(|_| Settled::Delivered))
                    .map_err(ServiceError::from)
            }
            Some(Err(DeliveryError::Retry(error)))
                if message.attempts.saturating_add(1) < self.config.outbox.max_attempts =>
            {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                let attempts = message.attempts.saturating_add(1);
                let next = self.clock.now().plus(self.retry_delay(attempts));
                tracing::warn!(id = message.id, topic = %message.topic, attempts, error = %error, "an outbox delivery failed; retrying later");
                self.store
                    .write(|repo| {
                        repo.retry_outbox(message.id, attempts, next, Some(&error))
                            .map(|()| Settled::Retried)
                    })
                    .map_err(ServiceError::from)
            }
            Some(Err(DeliveryError::Retry(error) | DeliveryError::GiveUp(error))) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                counters.given_up.fetch_add(1, Ordering::Relaxed);
                let now = self.clock.now();
                let detail = format!(
                    "outbox message {} given up after {} attempt(s): {error}",
                    message.id,
                    message.attempts.saturating_add(1)
                );
                tracing::error!(id = message.id, topic = %message.topic, user = ?message.user, %detail, "an outbox message was given up");
                self.store.write(|repo| {
                    repo.record_divergence(message.user, &message.topic, &detail, now)?;
                    repo.remove_outbox(message.id)?;
                    Ok::<_, ServiceError>(Settled::GivenUp)
                })
            }
        };
        settled.unwrap_or_else(|err| {
            // The lease runs out and the message is delivered again: at least once.
            tracing::warn!(id = message.id, error = %err, "could not settle an outbox message");
            Settled::Retried
        })
    }

    /// Puts `message` back untouched (no attempt counted), due after one poll interval.
    fn postpone(&self, message: &OutboxMessage, why: &str) {
        let next = self
            .clock
            .now()
            .plus(Duration::from_millis(self.config.outbox.poll_interval_ms));
        let put_back = self
            .store
            .write(|repo| repo.retry_outbox(message.id, message.attempts, next, Some(why)));
        if let Err(err) = put_back {
            tracing::warn!(id = message.id, error = %err, "could not put an outbox message back");
        }
    }

    /// The pause after the `attempts`-th failure: the first delay doubled each time, capped,
    /// plus up to 10 % jitter so instances don't retry in step.
    fn retry_delay(&self, attempts: u32) -> Duration {
        let config = &self.config.outbox;
        let first = Duration::from_millis(config.first_retry_delay_ms);
        let cap = Duration::from_secs(config.max_retry_delay_seconds);
        let doubled = first.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(31)));
        let base = doubled.min(cap);
        let mut byte = [0u8; 1];
        self.random.fill(&mut byte);
        base.saturating_add(base.mul_f64(f64::from(byte[0]) / 255.0 / 10.0))
    }
}

/// How [`Services::settle`] left a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Delivered,
    Retried,
    GivenUp,
    Postponed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestContext;
    use crate::ServiceConfig;
    use crate::hasher::Hasher;
    use crate::profile::Actor;
    use crate::random::OsRandom;
    use accountd_domain::ids::Username;
    use accountd_domain::ports::{ApplicationServer, Clock, ManualClock};
    use accountd_domain::text::Name;
    use accountd_policy::hashing::HashParams;
    use accountd_policy::mode::LoginMode;
    use accountd_storage::Database;
    use accountd_storage::testing::TestDatabase;
    use accountd_upstream::memory::InMemoryUpstream;

    const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);
    /// Demo data hashes every demo password: the smallest argon2 parameters keep that quick.
    const FAST: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        ..HashParams::DEFAULT
    };

    fn config() -> ServiceConfig {
        let mut config = ServiceConfig::default();
        config.apio.login_mode = LoginMode::LocalLoginDedicated;
        config.hashing = FAST;
        config
    }

    /// One instance of the service on `db`, with the AS `upstream` and `clock`.
    fn instance(db: &Database, upstream: &Arc<InMemoryUpstream>, clock: &Arc<ManualClock>) -> Services<Database> {
        Services::new(
            db.clone(),
            upstream.clone(),
            clock.clone(),
            Arc::new(OsRandom),
            Hasher::new(FAST, 2),
            config(),
        )
        .unwrap()
    }

    fn rename(first_name: &str) -> ProfileChange {
        ProfileChange {
            first_name: Some(Name::parse_for("firstName", first_name).unwrap()),
            ..ProfileChange::default()
        }
    }

    fn user(services: &Services<Database>) -> accountd_domain::user::User {
        services
            .find_user(&Username::parse("foouser").unwrap())
            .unwrap()
            .unwrap()
    }

    fn on_the_as(upstream: &InMemoryUpstream) -> Option<String> {
        upstream
            .profile_changes_of("foouser")
            .iter()
            .rev()
            .find_map(|c| c.first_name.as_ref().map(ToString::to_string))
    }

    #[test]
    fn retry_delays_double_up_to_their_cap_with_bounded_jitter() {
        let db = TestDatabase::sqlite();
        let upstream = Arc::new(InMemoryUpstream::new());
        let services = instance(&db, &upstream, &Arc::new(ManualClock::at(T0)));
        let delays: Vec<Duration> = (1..=12).map(|n| services.retry_delay(n)).collect();
        for (n, delay) in delays.iter().enumerate() {
            let base = Duration::from_secs(1u64 << n).min(Duration::from_secs(600));
            assert!(
                *delay >= base && *delay <= base.mul_f64(1.1),
                "attempt {}: {delay:?}",
                n + 1
            );
        }
        assert!(services.retry_delay(u32::MAX) <= Duration::from_secs(660));
    }

    /// An instance dies after the AS accepted and before its local write: its armed realignment is
    /// in the database; another instance (or the same after a restart) delivers it once the dead
    /// one's claim would have expired, with the local values.
    fn a_crash_after_the_application_server_accepted_is_realigned_after_restart(db: &TestDatabase) {
        let upstream = Arc::new(InMemoryUpstream::new());
        let clock = Arc::new(ManualClock::at(T0));
        let dying = instance(db, &upstream, &clock);
        dying.load_demo_data().unwrap();
        let foo = user(&dying);
        let claim = dying.claim_user(foo.key).unwrap();
        let armed = dying
            .arm(foo.key, Realign::Profile(vec![ProfileField::FirstName]))
            .unwrap();
        upstream.update_profile(&foo, &rename("Crashed")).unwrap();
        // The crash: nothing is released, disarmed or written.
        std::mem::forget(claim);
        let _never_disarmed = armed;
        drop(dying);
        assert_eq!(on_the_as(&upstream).as_deref(), Some("Crashed"));

        let restarted = instance(db, &upstream, &clock);
        assert_eq!(restarted.outbox_status().unwrap().depth, 1);
        // Not due while the claim could still be live.
        assert_eq!(restarted.run_outbox_once().unwrap(), OutboxRun::default());
        clock.advance_seconds(i64::try_from(config().claims.ttl.as_secs()).unwrap());
        let run = restarted.run_outbox_once().unwrap();
        assert_eq!((run.leased, run.delivered), (1, 1));
        assert_eq!(on_the_as(&upstream), Some(foo.profile.first_name.to_string()));
        let status = restarted.outbox_status().unwrap();
        assert_eq!((status.depth, status.delivered_total, status.divergences), (0, 1, 0));
    }

    #[test]
    fn a_crash_after_the_application_server_accepted_is_realigned_after_restart_on_sqlite() {
        a_crash_after_the_application_server_accepted_is_realigned_after_restart(&TestDatabase::sqlite());
    }

    #[test]
    fn a_crash_after_the_application_server_accepted_is_realigned_after_restart_on_postgres() {
        if let Some(db) = TestDatabase::postgres_or_skip() {
            a_crash_after_the_application_server_accepted_is_realigned_after_restart(&db);
        }
    }

    /// A realignment the AS keeps refusing for a while is retried with backoff; one it refuses for
    /// good, or past `max_attempts`, becomes a divergence.
    #[test]
    fn failing_deliveries_back_off_then_become_divergences() {
        let db = TestDatabase::sqlite();
        let upstream = Arc::new(InMemoryUpstream::new());
        let clock = Arc::new(ManualClock::at(T0));
        let mut services = instance(&db, &upstream, &clock);
        services.config.outbox.max_attempts = 3;
        services.load_demo_data().unwrap();
        let foo = user(&services);
        let enqueue = |topic: &str| {
            let message = NewOutboxMessage {
                topic: topic.to_owned(),
                user: Some(foo.key),
                payload: r#"{"fields":["firstName"]}"#.to_owned(),
                not_before: clock.now(),
            };
            services.store.write(|repo| services.enqueue(repo, &message)).unwrap()
        };
        let id = enqueue(REALIGN_PROFILE);
        upstream.fail_always(Some(UpstreamError::Timeout));
        let run = services.run_outbox_once().unwrap();
        assert_eq!((run.leased, run.retried), (1, 1));
        let stored = services.store.read(|repo| repo.outbox_message(id)).unwrap().unwrap();
        assert_eq!(stored.attempts, 1);
        assert!(stored.not_before >= clock.now().plus_seconds(1));
        assert!(stored.last_error.unwrap().contains("did not answer in time"));
        // Backing off: nothing due yet.
        assert_eq!(services.run_outbox_once().unwrap().leased, 0);
        clock.advance_seconds(2);
        assert_eq!(services.run_outbox_once().unwrap().retried, 1);
        clock.advance_seconds(3);
        // The third failed attempt is the last.
        assert_eq!(services.run_outbox_once().unwrap().given_up, 1);
        let status = services.outbox_status().unwrap();
        assert_eq!(
            (
                status.depth,
                status.divergences,
                status.failures_total,
                status.given_up_total
            ),
            (0, 1, 3, 1)
        );

        // Refused for good at the first attempt.
        upstream.fail_always(Some(UpstreamError::Rejected {
            details: "no such field".into(),
        }));
        enqueue(REALIGN_PROFILE);
        assert_eq!(services.run_outbox_once().unwrap().given_up, 1);
        let divergences = services.divergences().unwrap();
        assert_eq!(divergences.len(), 2);
        assert_eq!(divergences[1].topic, REALIGN_PROFILE);
        assert_eq!(divergences[1].user, Some(foo.key));
        assert!(
            divergences[1].detail.contains("no such field"),
            "{}",
            divergences[1].detail
        );
        assert!(services.resolve_divergence(divergences[0].id).unwrap());
        assert_eq!(services.outbox_status().unwrap().divergences, 1);

        // A topic no handler here knows (a newer instance's) is put back untouched.
        upstream.fail_always(None);
        let unknown = enqueue("mail.password-changed");
        assert_eq!(services.run_outbox_once().unwrap().postponed, 1);
        let stored = services
            .store
            .read(|repo| repo.outbox_message(unknown))
            .unwrap()
            .unwrap();
        assert_eq!(stored.attempts, 0);
    }

    /// The worker does not deliver a user's message while a change of that user holds the claim.
    #[test]
    fn a_message_waits_for_its_users_claim() {
        let db = TestDatabase::sqlite();
        let upstream = Arc::new(InMemoryUpstream::new());
        let clock = Arc::new(ManualClock::at(T0));
        let services = instance(&db, &upstream, &clock);
        services.load_demo_data().unwrap();
        let foo = user(&services);
        let claim = services.claim_user(foo.key).unwrap();
        let message = Realign::PinSettings.message(foo.key, clock.now());
        services.store.write(|repo| services.enqueue(repo, &message)).unwrap();
        assert_eq!(services.run_outbox_once().unwrap().postponed, 1);
        assert!(upstream.calls().is_empty());
        drop(claim);
        clock.advance_seconds(2);
        assert_eq!(services.run_outbox_once().unwrap().delivered, 1);
        assert!(upstream.pin_settings_of("foouser").is_some());
    }

    /// Issue 15: two instances on one PostgreSQL database change one user at the same time, round
    /// after round; the AS and the local store end each round with the same value, and an ETag
    /// conflict is still refused.
    #[test]
    fn two_instances_change_one_user_in_the_same_order_on_the_application_server_and_locally() {
        let Some(db) = TestDatabase::postgres_or_skip() else {
            return;
        };
        let upstream = Arc::new(InMemoryUpstream::new());
        let clock = Arc::new(ManualClock::at(T0));
        let (a, b) = (instance(&db, &upstream, &clock), instance(&db, &upstream, &clock));
        a.load_demo_data().unwrap();
        let key = user(&a).key;
        upstream.set_delay(Some(Duration::from_millis(20)));
        let ctx = RequestContext::default();
        for round in 0..8 {
            std::thread::scope(|s| {
                let one = s.spawn(|| a.update_profile(Actor::Operator, key, None, &rename(&format!("A{round}")), &ctx));
                let two = s.spawn(|| b.update_profile(Actor::Operator, key, None, &rename(&format!("B{round}")), &ctx));
                one.join().unwrap().unwrap();
                two.join().unwrap().unwrap();
            });
            let local = user(&a).profile.first_name.to_string();
            assert_eq!(on_the_as(&upstream), Some(local.clone()), "round {round}");
        }
        // Both send the version they read: one wins, the other is refused (412) without an AS call.
        let version = user(&a).version;
        let calls = upstream.calls().len();
        let (one, two) = std::thread::scope(|s| {
            let one = s.spawn(|| a.update_profile(Actor::Operator, key, Some(version), &rename("Etag A"), &ctx));
            let two = s.spawn(|| b.update_profile(Actor::Operator, key, Some(version), &rename("Etag B"), &ctx));
            (one.join().unwrap(), two.join().unwrap())
        });
        assert_eq!(
            [&one, &two]
                .iter()
                .filter(|r| matches!(r, Err(ServiceError::PreconditionFailed)))
                .count(),
            1,
            "{one:?} {two:?}"
        );
        assert_eq!(upstream.calls().len(), calls + 1);
        assert_eq!(on_the_as(&upstream), Some(user(&a).profile.first_name.to_string()));
        assert_eq!(
            a.outbox_status().unwrap().depth,
            0,
            "every armed realignment was disarmed"
        );
    }
}
