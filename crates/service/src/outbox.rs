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
//! A change that goes to the AS *arms* a realignment before the call ([`Services::arm`]): a
//! message, in a short transaction of its own, saying "set these fields of this user on the AS to
//! their local values", not due before the user's claim would expire. Then:
//!
//! - the local write commits: the same transaction deletes the message ([`Services::disarm`]);
//!   nothing is sent.
//! - the AS refused, or was not called (breaker open, too many calls): the AS did not change, the
//!   message is deleted ([`Services::upstream_failed`]).
//! - the AS timed out or failed in a way that does not say whether it applied the change: the
//!   message is made due; the worker realigns the AS once the request has released the claim.
//! - the local write failed after the AS accepted: the request realigns at once, under its claim
//!   ([`Services::realign_now`]); if that fails too, the message stays for the worker.
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
    vec![Arc::new(RealignProfile), Arc::new(RealignPinSettings)]
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
