//! [`GuardedUpstream`]: a decorator around any [`ApplicationServer`] that keeps a dead or slow
//! Application Server from tying up accountd's blocking pool.
//!
//! - **Bounded concurrency**: at most `max_in_flight` calls run at once; one more fails fast with
//!   [`UpstreamError::NotAttempted`] (503 with `Retry-After`) instead of waiting for a thread.
//! - **Circuit breaker**: after `breaker.failure_threshold` consecutive failures
//!   ([`UpstreamError::Unavailable`] or [`UpstreamError::Timeout`]) every call fails fast for
//!   `breaker.cool_down`; then one probe call goes through (half-open): a success closes the breaker,
//!   a failure opens it for another cool-down. An answer of the AS (`Ok`, `Rejected`,
//!   `Unauthorized`) counts as health. `failure_threshold = 0` turns the breaker off.
//!
//! It lives here, beside the adapters, rather than in the service: it is about the link to one
//! external system (what counts as a failure of it, how many calls it may hold), the service only
//! sees one more [`UpstreamError`], and every adapter (HTTP today) gets it by wrapping. Time is the
//! domain's [`Clock`], so the cool-down is tested without sleeping.

use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{ApplicationServer, BreakerState, Clock, UpstreamError, UpstreamGuardState};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::user::{ProfileChange, User};
use serde::{Deserialize, Serialize, Serializer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// `upstream.max_in_flight` and `upstream.breaker.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Most Application Server calls running at once (per process). Default 16.
    pub max_in_flight: u32,
    pub breaker: BreakerConfig,
}

/// `upstream.breaker.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures (unreachable, 5xx, garbage, timeout) that open the breaker; 0: never.
    /// Default 5.
    pub failure_threshold: u32,
    /// How long an open breaker fails fast before letting one probe through. Default 10 s.
    #[serde(deserialize_with = "crate::http::config::duration", serialize_with = "millis")]
    pub cool_down: Duration,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 16,
            breaker: BreakerConfig::default(),
        }
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

#[derive(Debug)]
struct State {
    in_flight: u64,
    consecutive_failures: u32,
    /// `Some(t)`: open until `t` (ms); once past it, half-open.
    open_until: Option<i64>,
    /// A half-open probe is running.
    probing: bool,
}

/// The decorator. Cheap to share behind an `Arc`, like any adapter.
pub struct GuardedUpstream<U> {
    inner: U,
    config: GuardConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    fast_failures: AtomicU64,
}

impl<U> std::fmt::Debug for GuardedUpstream<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedUpstream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a call was admitted as.
enum Admission {
    Normal,
    Probe,
}

impl<U: ApplicationServer> GuardedUpstream<U> {
    pub fn new(inner: U, config: GuardConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            config,
            clock,
            state: Mutex::new(State {
                in_flight: 0,
                consecutive_failures: 0,
                open_until: None,
                probing: false,
            }),
            fast_failures: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse(&self, retry_after_seconds: u64) -> UpstreamError {
        self.fast_failures.fetch_add(1, Ordering::Relaxed);
        UpstreamError::NotAttempted {
            retry_after_seconds: retry_after_seconds.max(1),
        }
    }

    fn admit(&self) -> Result<Admission, UpstreamError> {
        let now = self.clock.now().as_millis();
        let mut state = self.lock();
        let mut admission = Admission::Normal;
        if let Some(until) = state.open_until {
            if now < until {
                let left_ms = u64::try_from(until - now).unwrap_or(0);
                return Err(self.refuse(left_ms.div_ceil(1000)));
            }
            if state.probing {
                return Err(self.refuse(1));
            }
            admission = Admission::Probe;
        }
        if state.in_flight >= u64::from(self.config.max_in_flight) {
            return Err(self.refuse(1));
        }
        state.in_flight += 1;
        if matches!(admission, Admission::Probe) {
            state.probing = true;
        }
        Ok(admission)
    }

    fn settle<T>(&self, admission: &Admission, result: &Result<T, UpstreamError>) {
        let failed = matches!(result, Err(UpstreamError::Unavailable(_) | UpstreamError::Timeout));
        let now = self.clock.now().as_millis();
        let cool_down = i64::try_from(self.config.breaker.cool_down.as_millis()).unwrap_or(i64::MAX);
        let threshold = self.config.breaker.failure_threshold;
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if matches!(admission, Admission::Probe) {
            state.probing = false;
        }
        if !failed {
            state.consecutive_failures = 0;
            state.open_until = None;
            return;
        }
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        let reopen = matches!(admission, Admission::Probe);
        if threshold > 0 && (reopen || state.consecutive_failures >= threshold) {
            state.open_until = Some(now.saturating_add(cool_down));
        }
    }

    fn call<T>(&self, op: impl FnOnce(&U) -> Result<T, UpstreamError>) -> Result<T, UpstreamError> {
        let admission = self.admit()?;
        let result = op(&self.inner);
        self.settle(&admission, &result);
        result
    }

    /// The bounds' state now.
    pub fn state(&self) -> UpstreamGuardState {
        let now = self.clock.now().as_millis();
        let state = self.lock();
        let breaker = match state.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        };
        UpstreamGuardState {
            in_flight: state.in_flight,
            max_in_flight: u64::from(self.config.max_in_flight),
            breaker,
            fast_failures: self.fast_failures.load(Ordering::Relaxed),
        }
    }
}

impl<U: ApplicationServer> ApplicationServer for GuardedUpstream<U> {
    fn authenticate(&self, username: &Username, password: &Password) -> Result<(), UpstreamError> {
        self.call(|u| u.authenticate(username, password))
    }

    fn update_profile(&self, user: &User, change: &ProfileChange) -> Result<(), UpstreamError> {
        self.call(|u| u.update_profile(user, change))
    }

    fn set_password(&self, user: &User, password: &Password) -> Result<(), UpstreamError> {
        self.call(|u| u.set_password(user, password))
    }

    fn set_pin(&self, user: &User, pin: Option<&PinCode>, settings: &PinSettings) -> Result<(), UpstreamError> {
        self.call(|u| u.set_pin(user, pin, settings))
    }

    fn delete_user(&self, user: &User, delete_devices: bool) -> Result<(), UpstreamError> {
        self.call(|u| u.delete_user(user, delete_devices))
    }

    fn password_rules(&self, level: UserLevel) -> Result<Option<PasswordRules>, UpstreamError> {
        self.call(|u| u.password_rules(level))
    }

    fn pin_rules(&self, level: UserLevel) -> Result<Option<PinRules>, UpstreamError> {
        self.call(|u| u.pin_rules(level))
    }

    fn guard_state(&self) -> Option<UpstreamGuardState> {
        Some(self.state())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::InMemoryUpstream;
    use crate::test_support::sample_user;
    use accountd_domain::ports::ManualClock;
    use accountd_domain::user::Timestamp;
    use std::sync::Barrier;

    fn guarded(
        threshold: u32,
        max_in_flight: u32,
    ) -> (GuardedUpstream<InMemoryUpstream>, InMemoryUpstream, Arc<ManualClock>) {
        let inner = InMemoryUpstream::default();
        let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
        let config = GuardConfig {
            max_in_flight,
            breaker: BreakerConfig {
                failure_threshold: threshold,
                cool_down: Duration::from_secs(10),
            },
        };
        (GuardedUpstream::new(inner.clone(), config, clock.clone()), inner, clock)
    }

    fn change(up: &GuardedUpstream<InMemoryUpstream>) -> Result<(), UpstreamError> {
        up.update_profile(&sample_user("alice@example.net"), &ProfileChange::default())
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_fails_fast_then_half_opens() {
        let (up, inner, clock) = guarded(3, 16);
        inner.fail_always(Some(UpstreamError::Timeout));
        for _ in 0..3 {
            assert_eq!(change(&up), Err(UpstreamError::Timeout));
        }
        assert_eq!(up.state().breaker, BreakerState::Open);
        let calls = inner.calls().len();
        assert_eq!(
            change(&up),
            Err(UpstreamError::NotAttempted {
                retry_after_seconds: 10
            })
        );
        assert_eq!(inner.calls().len(), calls, "an open breaker sends nothing");
        clock.advance_seconds(4);
        assert_eq!(change(&up), Err(UpstreamError::NotAttempted { retry_after_seconds: 6 }));
        assert_eq!(up.state().fast_failures, 2);
        clock.advance_seconds(6);
        assert_eq!(up.state().breaker, BreakerState::HalfOpen);
        // The probe fails: open for another cool-down at once.
        assert_eq!(change(&up), Err(UpstreamError::Timeout));
        assert_eq!(up.state().breaker, BreakerState::Open);
        clock.advance_seconds(10);
        inner.fail_always(None);
        assert_eq!(change(&up), Ok(()));
        assert_eq!(up.state().breaker, BreakerState::Closed);
        assert_eq!(change(&up), Ok(()));
    }

    #[test]
    fn answers_of_the_as_are_health_and_reset_the_count() {
        let (up, inner, _clock) = guarded(2, 16);
        inner.fail_next(UpstreamError::Unavailable("down".into()));
        assert!(change(&up).is_err());
        inner.fail_next(UpstreamError::Rejected { details: "no".into() });
        assert!(matches!(change(&up), Err(UpstreamError::Rejected { .. })));
        inner.fail_next(UpstreamError::Unavailable("down".into()));
        assert!(change(&up).is_err());
        assert_eq!(up.state().breaker, BreakerState::Closed, "not two consecutive failures");
        inner.fail_next(UpstreamError::Unavailable("down".into()));
        assert!(change(&up).is_err());
        assert_eq!(up.state().breaker, BreakerState::Open);
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let (up, inner, _clock) = guarded(0, 16);
        inner.fail_always(Some(UpstreamError::Timeout));
        for _ in 0..20 {
            assert_eq!(change(&up), Err(UpstreamError::Timeout));
        }
        assert_eq!(up.state().breaker, BreakerState::Closed);
        assert_eq!(up.state().fast_failures, 0);
    }

    #[test]
    fn calls_past_max_in_flight_fail_fast_and_the_rest_run() {
        let (up, inner, _clock) = guarded(5, 2);
        inner.set_delay(Some(Duration::from_millis(400)));
        let up = Arc::new(up);
        let barrier = Arc::new(Barrier::new(2));
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let up = Arc::clone(&up);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    change(&up)
                })
            })
            .collect();
        // Wait until both hold a slot (no timing assumption beyond "eventually").
        while up.state().in_flight < 2 {
            std::thread::yield_now();
        }
        assert_eq!(change(&up), Err(UpstreamError::NotAttempted { retry_after_seconds: 1 }));
        assert_eq!(up.state().fast_failures, 1);
        for h in holders {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        assert_eq!(up.state().in_flight, 0);
        assert_eq!(change(&up), Ok(()));
    }

    #[test]
    fn the_guard_state_is_reported_through_the_port() {
        let (up, _inner, _clock) = guarded(5, 7);
        let state = ApplicationServer::guard_state(&up).unwrap();
        assert_eq!(state.max_in_flight, 7);
        assert_eq!(state.breaker, BreakerState::Closed);
    }

    #[test]
    fn config_reads_durations_like_the_timeouts_and_refuses_unknown_keys() {
        let c: GuardConfig =
            serde_json::from_value(serde_json::json!({"max_in_flight": 3, "breaker": {"cool_down": "2s"}})).unwrap();
        assert_eq!(c.max_in_flight, 3);
        assert_eq!(c.breaker.cool_down, Duration::from_secs(2));
        assert_eq!(c.breaker.failure_threshold, 5);
        assert!(serde_json::from_value::<GuardConfig>(serde_json::json!({"max_inflight": 3})).is_err());
    }
}
