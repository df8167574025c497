//! Brute-force throttling: which counters a failure feeds, what they are called in the store, and
//! whether a counter refuses the next attempt. Pure: the store keeps the counters, the service
//! counts and asks.
//!
//! - **Counters.** A failed login (or a wrong old password/PIN) counts for the account *from that
//!   address* ([`Counter::AccountFromAddress`]), for the account from anywhere
//!   ([`Counter::Account`], a ceiling far above the first) and for the address
//!   ([`Counter::Address`]). An unverifiable SSO token counts for its address only
//!   ([`Counter::TokenFromAddress`]): the subject it claims is the attacker's choice. So failures
//!   from one address never lock the owner out from another, while the argon2 work an attacker can
//!   force on one account stays bounded by the account-wide ceiling.
//! - **Keys** are `t1:<kind>:<SHA-256 hex>` of the counter's parts: fixed length whatever was
//!   submitted, and in a namespace per kind that no username can reach.
//! - **Sliding windows.** A counter holds the current window's failures and the previous window's;
//!   the previous ones weigh in proportion to how much of the previous window still lies within one
//!   window's length of now. A burst across a window boundary no longer gets twice the limit.

use accountd_domain::records::ThrottleState;
use accountd_domain::user::Timestamp;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// What one failure counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// Failures for `account` (the username as submitted) from one client address.
    AccountFromAddress {
        /// The username as submitted.
        account: &'a str,
        /// The client address.
        address: &'a str,
    },
    /// Failures for `account` from every address: the account-wide ceiling.
    Account(&'a str),
    /// Failures from one client address, whatever the account.
    Address(&'a str),
    /// Unverifiable SSO tokens from one client address.
    TokenFromAddress(&'a str),
    /// Candidate checks of the account page's live policy feedback for `account`.
    Checks(&'a str),
    /// Passkey sign-ins begun from one client address (each stores a ceremony).
    CeremoniesFromAddress(&'a str),
    /// Exports of their own data by `account`.
    Exports(&'a str),
    /// Password-reset links asked for `account` (the name or address as given).
    Resets(&'a str),
    /// Password-reset requests and confirmations from one client address.
    ResetsFromAddress(&'a str),
}

impl Counter<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Counter::AccountFromAddress { .. } => "account-address",
            Counter::Account(_) => "account",
            Counter::Address(_) => "address",
            Counter::TokenFromAddress(_) => "sso-address",
            Counter::Checks(_) => "checks",
            Counter::CeremoniesFromAddress(_) => "ceremonies-address",
            Counter::Exports(_) => "exports",
            Counter::Resets(_) => "resets",
            Counter::ResetsFromAddress(_) => "resets-address",
        }
    }

    /// The counter's key in the store: `t1:<kind>:<64 hex digits>`.
    pub fn key(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(self.kind().as_bytes());
        let parts: &[&str] = match self {
            Counter::AccountFromAddress { account, address } => &[account, address],
            Counter::Account(v)
            | Counter::Address(v)
            | Counter::TokenFromAddress(v)
            | Counter::Checks(v)
            | Counter::CeremoniesFromAddress(v)
            | Counter::Exports(v)
            | Counter::Resets(v)
            | Counter::ResetsFromAddress(v) => &[v],
        };
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        let mut key = format!("t1:{}:", self.kind());
        for byte in digest.finalize() {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}

/// How many failures a counter allows in a window of `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures that refuse the next attempt (weighted over the sliding window).
    pub max: u32,
    /// The window's length.
    pub window_seconds: i64,
}

impl Limit {
    /// Seconds until the counter in `state` allows one more attempt at `now`; `None` when it allows
    /// one now. An attempt is allowed while the weighted count is below `max`.
    pub fn retry_after(&self, state: &ThrottleState, now: Timestamp) -> Option<u64> {
        let w = i128::from(self.window_seconds.max(1)) * 1000;
        let max = i128::from(self.max);
        let start = i128::from(state.window_started_at.as_millis());
        let now_ms = i128::from(now.as_millis());
        let (cur, prev) = (i128::from(state.failures), i128::from(state.previous_failures));
        // weighted(t) * w, for t in the stored window [start, start + w) and the one after it.
        let blocked_in_window = |t: i128| prev * (w - (t - start)) + cur * w >= max * w;
        let blocked_after = |t: i128| cur * (w - (t - start - w)) >= max * w;
        let blocked = |t: i128| {
            if t < start + w {
                blocked_in_window(t)
            } else if t < start + 2 * w {
                blocked_after(t)
            } else {
                false
            }
        };
        if !blocked(now_ms) {
            return None;
        }
        // `weighted` only decreases with time, and nothing is blocked from `start + 2w` on: the
        // first allowed instant by bisection between a blocked `lo` and an allowed `hi` (exact to
        // the millisecond, about 21 steps for a 15-minute window).
        let (mut lo, mut hi) = (now_ms, start + 2 * w);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if blocked(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let t = hi;
        let seconds = (t - now_ms + 999) / 1000;
        Some(u64::try_from(seconds.max(1)).unwrap_or(u64::MAX))
    }

    /// The failures that count at `now`, weighted (for logs and tests).
    pub fn weighted(&self, state: &ThrottleState, now: Timestamp) -> f64 {
        let w = (self.window_seconds.max(1) * 1000) as f64;
        let elapsed = now.as_millis().saturating_sub(state.window_started_at.as_millis()) as f64;
        let (cur, prev) = (f64::from(state.failures), f64::from(state.previous_failures));
        if elapsed < w {
            prev * (1.0 - elapsed / w) + cur
        } else if elapsed < 2.0 * w {
            cur * (1.0 - (elapsed - w) / w)
        } else {
            0.0
        }
    }
}

/// A key whose window started at or before this instant counts for nothing at `now` and may be
/// purged: two windows ago.
pub fn purge_before(now: Timestamp, window_seconds: i64) -> Timestamp {
    now.plus_seconds(window_seconds.saturating_mul(-2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 900;

    fn state(failures: u32, previous: u32, started_s: i64) -> ThrottleState {
        ThrottleState {
            failures,
            previous_failures: previous,
            window_started_at: Timestamp::from_millis(started_s * 1000),
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn keys_are_fixed_length_digests_in_their_own_namespace() {
        let long = "x".repeat(60_000);
        let key = Counter::Account(&long).key();
        assert_eq!(key.len(), "t1:account:".len() + 64);
        assert!(key.starts_with("t1:account:"));
        // A username can't reach another kind's keys, nor another pair's.
        assert_ne!(Counter::Account("sso").key(), Counter::TokenFromAddress("sso").key());
        assert_ne!(Counter::Account("192.0.2.1").key(), Counter::Address("192.0.2.1").key());
        assert_ne!(
            Counter::AccountFromAddress {
                account: "ab",
                address: "c"
            }
            .key(),
            Counter::AccountFromAddress {
                account: "a",
                address: "bc"
            }
            .key()
        );
        assert_eq!(Counter::Checks("bob").key(), Counter::Checks("bob").key());
        let ceremonies = Counter::CeremoniesFromAddress("192.0.2.1").key();
        assert!(ceremonies.starts_with("t1:ceremonies-address:"), "{ceremonies}");
        assert_ne!(ceremonies, Counter::Address("192.0.2.1").key());
    }

    #[test]
    fn a_full_window_refuses_until_enough_of_it_has_slid_away() {
        let limit = Limit {
            max: 10,
            window_seconds: W,
        };
        assert_eq!(limit.retry_after(&state(9, 0, 0), at(10)), None);
        // Ten failures in the window starting at 0: refused until the next window has slid far
        // enough that they weigh less than ten, i.e. at 900 s plus a hair.
        let full = state(10, 0, 0);
        assert_eq!(limit.retry_after(&full, at(10)), Some(891));
        assert_eq!(limit.retry_after(&full, at(901)), None);
        // Ten of the previous window and none of this one: at 0 s into it they weigh 10.
        let previous = state(0, 10, 900);
        assert!(limit.retry_after(&previous, at(900)).is_some());
        assert_eq!(limit.retry_after(&previous, at(991)), None, "weighs 9 after 90 s");
        assert!((limit.weighted(&previous, at(990)) - 9.0).abs() < 1e-9);
        // Two windows later nothing counts.
        assert_eq!(limit.retry_after(&state(1_000, 0, 0), at(1_800)), None);
    }

    #[test]
    fn a_burst_across_the_boundary_gets_the_limit_not_twice_it() {
        let limit = Limit {
            max: 10,
            window_seconds: W,
        };
        // Ten failures just before the boundary (window from 0), then a new window at 900: the
        // previous ten still weigh nearly ten (9.99 a second in), so one more attempt fits and the
        // one after it is refused: eleven across the boundary, not twenty.
        assert_eq!(limit.retry_after(&state(0, 10, 900), at(901)), None);
        assert!(limit.retry_after(&state(1, 10, 900), at(901)).is_some());
        // Halfway through, five more fit (5 x 0.5 + 5 = 10 refuses the sixth... the fifth is the
        // last allowed: 10 * 0.5 + 4 = 9 < 10).
        assert_eq!(limit.retry_after(&state(4, 10, 900), at(1_350)), None);
        assert!(limit.retry_after(&state(5, 10, 900), at(1_350)).is_some());
    }

    #[test]
    fn retry_after_is_exact_to_the_second() {
        let limit = Limit {
            max: 3,
            window_seconds: 60,
        };
        for (cur, prev, now) in [(3, 0, 1), (2, 4, 5), (0, 3, 0), (5, 9, 59), (1, 100, 30)] {
            let s = state(cur, prev, 0);
            let Some(wait) = limit.retry_after(&s, at(now)) else {
                panic!("{cur} {prev} {now} should be refused");
            };
            let wait = wait as i64;
            assert_eq!(
                limit.retry_after(&s, at(now + wait)),
                None,
                "{cur} {prev} {now}: free after {wait}"
            );
            if wait > 1 {
                assert!(
                    limit.retry_after(&s, at(now + wait - 1)).is_some(),
                    "{cur} {prev} {now}: not earlier"
                );
            }
        }
    }

    #[test]
    fn purge_is_two_windows_back() {
        assert_eq!(purge_before(at(2_000), W), at(200));
    }

    proptest::proptest! {
        /// `retry_after` is the first allowed instant, found by scanning every millisecond of
        /// small windows: exact, never early, never late.
        #[test]
        fn retry_after_is_the_first_allowed_millisecond(
            window_seconds in 1i64..4,
            max in 1u32..6,
            failures in 0u32..9,
            previous_failures in 0u32..9,
            elapsed_ms in 0i64..9_000,
        ) {
            let limit = Limit { max, window_seconds };
            // A window that starts at a real time: a sign slip on `start` can't hide behind 0.
            let start = at(1_700_000_000);
            let state = ThrottleState { failures, previous_failures, window_started_at: start };
            let now = Timestamp::from_millis(start.as_millis() + elapsed_ms);
            let allowed = |t: i64| limit.weighted(&state, Timestamp::from_millis(t)) < f64::from(max) - 1e-9;
            let expected = if allowed(now.as_millis()) {
                None
            } else {
                let mut t = now.as_millis();
                while !allowed(t) {
                    t += 1;
                }
                Some(u64::try_from((t - now.as_millis() + 999) / 1000).unwrap().max(1))
            };
            proptest::prop_assert_eq!(limit.retry_after(&state, now), expected);
        }
    }

    #[test]
    fn weighted_slides_the_previous_window_out_then_the_current_one() {
        let limit = Limit {
            max: 10,
            window_seconds: 100,
        };
        let state = ThrottleState {
            failures: 4,
            previous_failures: 8,
            window_started_at: at(0),
        };
        let w = |ms: i64| limit.weighted(&state, Timestamp::from_millis(at(0).as_millis() + ms));
        assert_eq!(w(0), 12.0, "all of the previous window, and the current one");
        assert_eq!(w(25_000), 10.0, "three quarters of 8, plus 4");
        assert_eq!(w(100_000), 4.0, "the previous window gone");
        assert_eq!(w(150_000), 2.0, "half of the current one");
        assert_eq!(w(200_000), 0.0);
        assert_eq!(w(500_000), 0.0);
    }
}
