//! Brute-force throttling of logins, wrong old passwords/PINs, unverifiable SSO tokens and the
//! account page's candidate checks, over the store's shared counters. Which counters a failure
//! feeds, their keys and their sliding windows are [`accountd_policy::throttle`]'s; the limits are
//! [`crate::config::ThrottleConfig`]'s. A throttled attempt is refused with 429 before any argon2
//! work is spent on it.

use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ports::{Repository, Store};
use accountd_domain::records::ThrottleState;
use accountd_policy::throttle::{Counter, Limit, purge_before};

/// The address counters are kept under when the request has none (the console).
const NO_ADDRESS: &str = "-";

/// The tries one password-reset link gets in the throttling window (each refused password is one).
pub const LINK_ATTEMPTS: u32 = 5;
/// The longest wait that `states` (those of `counters`, in their order; `None`: no failure
/// counted) impose on the next attempt at `now`, if any: the one judgement of the counters,
/// whether just read ([`Services::throttled`]) or remembered with a Basic request's rows.
pub(crate) fn longest_wait(
    counters: &[(Counter<'_>, Limit)],
    states: &[Option<ThrottleState>],
    now: accountd_domain::user::Timestamp,
) -> Option<u64> {
    counters
        .iter()
        .zip(states)
        .filter_map(|((_, limit), state)| state.as_ref().and_then(|s| limit.retry_after(s, now)))
        .max()
}

impl<S: Store> Services<S> {
    fn limit(&self, max: u32) -> Limit {
        Limit {
            max,
            window_seconds: self.config.throttle.window_seconds,
        }
    }

    /// The counters a failure of `account` from the request's address feeds, with their limits.
    pub(crate) fn login_counters<'a>(&self, account: &'a str, ctx: &'a RequestContext) -> [(Counter<'a>, Limit); 3] {
        let cfg = &self.config.throttle;
        let address = ctx.client.address.as_deref().unwrap_or(NO_ADDRESS);
        [
            (
                Counter::AccountFromAddress { account, address },
                self.limit(cfg.max_failures_per_account_address),
            ),
            (Counter::Account(account), self.limit(cfg.max_failures_per_account)),
            (Counter::Address(address), self.limit(cfg.max_failures_per_address)),
        ]
    }

    fn token_counters<'a>(&self, ctx: &'a RequestContext) -> [(Counter<'a>, Limit); 2] {
        let cfg = &self.config.throttle;
        let address = ctx.client.address.as_deref().unwrap_or(NO_ADDRESS);
        [
            (
                Counter::TokenFromAddress(address),
                self.limit(cfg.max_failures_per_account_address),
            ),
            (Counter::Address(address), self.limit(cfg.max_failures_per_address)),
        ]
    }

    /// The longest wait of `counters` that refuses the next attempt at `now`, if one does.
    pub(crate) fn throttled(
        &self,
        repo: &mut dyn Repository,
        counters: &[(Counter<'_>, Limit)],
        now: accountd_domain::user::Timestamp,
    ) -> ServiceResult<Option<u64>> {
        let states = counters
            .iter()
            .map(|(counter, _)| repo.throttle_state(&counter.key()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(longest_wait(counters, &states, now))
    }

    /// 429 with the longest wait of `counters` that refuses the next attempt now.
    fn refuse_if_over(&self, counters: &[(Counter<'_>, Limit)]) -> ServiceResult<()> {
        let now = self.clock.now();
        let retry_after = self.store.read(|repo| self.throttled(repo, counters, now))?;
        match retry_after {
            None => Ok(()),
            Some(retry_after_seconds) => {
                tracing::warn!(retry_after_seconds, "attempt refused by throttling");
                Err(ServiceError::Throttled { retry_after_seconds })
            }
        }
    }

    fn hit(&self, repo: &mut dyn Repository, counters: &[(Counter<'_>, Limit)]) -> ServiceResult<()> {
        let now = self.clock.now();
        for (counter, limit) in counters {
            repo.throttle_hit(&counter.key(), now, limit.window_seconds)?;
        }
        Ok(())
    }

    /// Refuses with 429 when `account` from the request's address, the account from everywhere
    /// (the ceiling) or the address is over its limit.
    pub(crate) fn check_throttle(&self, account: &str, ctx: &RequestContext) -> ServiceResult<()> {
        self.refuse_if_over(&self.login_counters(account, ctx))
    }

    /// Refuses with 429 when `account` is over its own limits (from the request's address, and the
    /// ceiling), leaving the address's limit aside: whether the account itself is throttled.
    pub(crate) fn check_account_throttle(&self, account: &str, ctx: &RequestContext) -> ServiceResult<()> {
        self.refuse_if_over(&self.login_counters(account, ctx)[..2])
    }

    /// Counts one failure of `account` from the request's address (inside the caller's transaction).
    pub(crate) fn count_failure(
        &self,
        repo: &mut dyn Repository,
        account: &str,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        self.hit(repo, &self.login_counters(account, ctx))
    }

    /// After a success: the account's failures (from this address, and the ceiling) start over, as
    /// "consecutive failures" do. The address's own counter stays.
    pub(crate) fn clear_failures(
        &self,
        repo: &mut dyn Repository,
        account: &str,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        for (counter, _) in &self.login_counters(account, ctx)[..2] {
            repo.throttle_clear(&counter.key())?;
        }
        Ok(())
    }

    /// Refuses with 429 when the request's address sent too many unverifiable SSO tokens.
    pub(crate) fn check_token_throttle(&self, ctx: &RequestContext) -> ServiceResult<()> {
        self.refuse_if_over(&self.token_counters(ctx))
    }

    /// Counts one unverifiable SSO token, for the request's address only.
    pub(crate) fn count_token_failure(&self, repo: &mut dyn Repository, ctx: &RequestContext) -> ServiceResult<()> {
        self.hit(repo, &self.token_counters(ctx))
    }

    /// Counts one candidate check of `account`; 429 once the window holds the configured number.
    pub(crate) fn count_check(&self, account: &str) -> ServiceResult<()> {
        self.count_within(Counter::Checks(account), self.config.throttle.max_checks_per_account)
    }

    /// Counts one passkey sign-in begun from the request's address; 429 once the window holds
    /// `throttle.max_ceremonies_per_address`.
    pub(crate) fn count_ceremony(&self, ctx: &RequestContext) -> ServiceResult<()> {
        let address = ctx.client.address.as_deref().unwrap_or(NO_ADDRESS);
        self.count_within(
            Counter::CeremoniesFromAddress(address),
            self.config.throttle.max_ceremonies_per_address,
        )
    }

    /// Counts one export of `account`'s own data; 429 once the window holds
    /// `throttle.max_exports_per_account`.
    pub(crate) fn count_export(&self, account: &str) -> ServiceResult<()> {
        self.count_within(Counter::Exports(account), self.config.throttle.max_exports_per_account)
    }

    /// Counts one password-reset request for `login` from the request's address (429 past
    /// `throttle.max_resets_per_account` or `throttle.max_resets_per_address`).
    pub(crate) fn count_reset_request(&self, login: &str, ctx: &RequestContext) -> ServiceResult<()> {
        self.count_reset_attempt(ctx)?;
        self.count_within(Counter::Resets(login), self.config.throttle.max_resets_per_account)
    }

    /// Counts one verified e-mail change asked by `user` (as many in the window as password
    /// resets per account: each sends a mail to an address of the client's choosing).
    pub(crate) fn count_email_change_request(&self, user: accountd_domain::ids::UserKey) -> ServiceResult<()> {
        self.count_within(
            Counter::Resets(&format!("email-change:{}", user.0)),
            self.config.throttle.max_resets_per_account,
        )
    }

    /// Counts one try of a reset link (by its digest's hex): 429 past [`LINK_ATTEMPTS`] in the window.
    pub(crate) fn count_link_attempt(&self, link: &str) -> ServiceResult<()> {
        self.count_within(Counter::Resets(&format!("link:{link}")), LINK_ATTEMPTS)
    }

    /// Counts one password-reset request or confirmation from the request's address.
    pub(crate) fn count_reset_attempt(&self, ctx: &RequestContext) -> ServiceResult<()> {
        let address = ctx.client.address.as_deref().unwrap_or(NO_ADDRESS);
        self.count_within(
            Counter::ResetsFromAddress(address),
            self.config.throttle.max_resets_per_address,
        )
    }

    /// Refuses with 429 when `counter` is at `max` in the window, else counts one more.
    fn count_within(&self, counter: Counter<'_>, max: u32) -> ServiceResult<()> {
        let counter = [(counter, self.limit(max))];
        self.refuse_if_over(&counter)?;
        self.store.write(|repo| self.hit(repo, &counter))
    }

    /// Deletes the counters that count for nothing any more (two windows old). Returns how many.
    pub fn purge_expired_throttles(&self) -> ServiceResult<u64> {
        let before = purge_before(self.clock.now(), self.config.throttle.window_seconds);
        Ok(self.store.write(|repo| repo.throttle_purge(before))?)
    }

    /// Deletes the audit events older than `audit.retention_seconds` (none when it is 0). Returns
    /// how many.
    ///
    /// In batches of [`AUDIT_PURGE_BATCH`], each its own write: the first purge after an upgrade
    /// (or after retention was shortened) may find millions of rows, and one statement deleting
    /// them all would hold SQLite's write lock, and every request that writes, for as long.
    pub fn purge_old_audit(&self) -> ServiceResult<u64> {
        let retention = self.config.audit.retention_seconds;
        if retention == 0 {
            return Ok(0);
        }
        let before = self
            .clock
            .now()
            .plus_seconds(-i64::try_from(retention).unwrap_or(i64::MAX));
        let mut purged = 0;
        loop {
            let batch = self.store.write(|repo| repo.purge_audit(before, AUDIT_PURGE_BATCH))?;
            purged += batch;
            if batch < u64::from(AUDIT_PURGE_BATCH) {
                return Ok(purged);
            }
        }
    }

    /// The periodic purge: sessions past their timeouts, throttling counters that count for
    /// nothing any more, user claims whose holder crashed before releasing them, and audit events
    /// past their retention.
    pub fn purge_expired(&self) -> ServiceResult<Purged> {
        let now = self.clock.now();
        Ok(Purged {
            sessions: self.purge_expired_sessions()?,
            throttle_counters: self.purge_expired_throttles()?,
            user_claims: self.store.write(|repo| repo.purge_expired_claims(now))?,
            audit_events: self.purge_old_audit()?,
        })
    }
}

/// Audit events deleted by one write of [`Services::purge_old_audit`]: a few milliseconds of
/// SQLite's write lock.
pub const AUDIT_PURGE_BATCH: u32 = 5_000;

/// What [`Services::purge_expired`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub throttle_counters: u64,
    pub user_claims: u64,
    pub audit_events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::user::Timestamp;

    #[test]
    fn the_longest_wait_is_the_largest_of_the_counters_over_their_limit() {
        let now = Timestamp::from_millis(10_000);
        let limit = |max| Limit {
            max,
            window_seconds: 60,
        };
        let counters = [
            (Counter::Account("a"), limit(2)),
            (Counter::Address("x"), limit(100)),
            (Counter::Account("b"), limit(1)),
        ];
        let failures = |n| {
            Some(ThrottleState {
                failures: n,
                previous_failures: 0,
                window_started_at: now,
            })
        };
        assert_eq!(longest_wait(&counters, &[None, None, None], now), None);
        assert_eq!(
            longest_wait(&counters, &[failures(1), failures(5), None], now),
            None,
            "under their limits"
        );
        let one = longest_wait(&counters, &[failures(3), None, None], now);
        assert!(one.is_some());
        let both = longest_wait(&counters, &[failures(3), None, failures(3)], now);
        assert!(both >= one, "the longest of those over their limit");
    }
}
