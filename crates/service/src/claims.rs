//! Per-user claims around Application Server calls (issue 15). No external call runs inside a
//! database transaction: a change that goes to the Application Server decides on short reads,
//! calls the AS, then writes locally in one short transaction. What keeps two changes of one user
//! in the same order on the AS and locally is the user's claim ([`ClaimStore`]), taken and
//! released in transactions of their own around the whole sequence: it lives in the database, so
//! it holds across every instance sharing it (PostgreSQL), and it is per user, so changes to
//! different users never wait on each other. A holder that crashes leaves a claim that expires
//! ([`ClaimConfig::ttl`](crate::config::ClaimConfig)).
//!
//! [`ClaimStore`]: accountd_domain::ports::ClaimStore

use crate::{ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::Store;
use std::time::Duration;

/// First pause between two attempts at a taken claim; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// A held claim on one user, released when dropped (also on an early return or a panic).
#[must_use = "the claim is released when this is dropped"]
pub(crate) struct UserClaim<'a, S: Store> {
    services: &'a Services<S>,
    user: UserKey,
    holder: String,
}

impl<S: Store> std::fmt::Debug for UserClaim<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserClaim")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Drop for UserClaim<'_, S> {
    fn drop(&mut self) {
        let released = self
            .services
            .store
            .write(|repo| repo.release_user_claim(self.user, &self.holder));
        match released {
            Ok(true) => {}
            // It expired and someone else took it: the ordering this claim promised may not
            // have held. Worth a look, not an error for this request.
            Ok(false) => tracing::warn!(user = %self.user, "a user claim had expired before its release"),
            // It expires on its own; until then, changes of this user wait or answer 503.
            Err(err) => tracing::error!(user = %self.user, error = %err, "could not release a user claim"),
        }
    }
}

impl<S: Store> Services<S> {
    /// Claims `user` for this call, waiting (with a short growing backoff) while another holder
    /// has it, at most [`ClaimConfig::wait`](crate::config::ClaimConfig); then
    /// [`ServiceError::UserBusy`]. Each attempt is one short statement of its own.
    pub(crate) fn claim_user(&self, user: UserKey) -> ServiceResult<UserClaim<'_, S>> {
        let wait = self.config.claims.wait;
        let mut waited = Duration::ZERO;
        let mut backoff = FIRST_BACKOFF;
        loop {
            if let Some(claim) = self.try_claim_user(user)? {
                return Ok(claim);
            }
            if waited >= wait {
                tracing::warn!(user = %user, waited_ms = waited.as_millis(), "gave up waiting for a user claim");
                return Err(ServiceError::UserBusy);
            }
            let pause = backoff.min(wait.saturating_sub(waited)).max(Duration::from_millis(1));
            std::thread::sleep(pause);
            waited = waited.saturating_add(pause);
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }

    /// One attempt at `user`'s claim, without waiting: `None` while another holder has it (the
    /// outbox worker then comes back later).
    pub(crate) fn try_claim_user(&self, user: UserKey) -> ServiceResult<Option<UserClaim<'_, S>>> {
        let holder = self.claim_holder();
        let now = self.clock.now();
        let ttl = self.config.claims.ttl;
        let taken = self.store.write(|repo| repo.claim_user(user, &holder, now, ttl))?;
        Ok(taken.then_some(UserClaim {
            services: self,
            user,
            holder,
        }))
    }

    /// [`Services::claim_user`] when `needed` (the login mode sends this change to the
    /// Application Server), else nothing: a local-only change is ordered by its transaction.
    pub(crate) fn claim_user_if(&self, needed: bool, user: UserKey) -> ServiceResult<Option<UserClaim<'_, S>>> {
        if needed {
            self.claim_user(user).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A fresh holder id (128 random bits, hex) from the [`Random`](accountd_domain::ports::Random)
    /// port: one per claim, so a holder never releases a claim it does not hold.
    pub(crate) fn claim_holder(&self) -> String {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceConfig;
    use crate::config::ClaimConfig;
    use crate::hasher::Hasher;
    use crate::random::OsRandom;
    use accountd_domain::ports::{Clock, ManualClock};
    use accountd_domain::user::Timestamp;
    use accountd_policy::hashing::HashParams;
    use accountd_storage::testing::TestDatabase;
    use accountd_upstream::DisabledUpstream;
    use std::sync::Arc;

    #[test]
    fn a_claim_excludes_waits_boundedly_releases_on_drop_and_expires() {
        let db = TestDatabase::sqlite();
        let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_700_000_000_000)));
        let config = ServiceConfig {
            claims: ClaimConfig {
                wait: Duration::from_millis(60),
                ttl: Duration::from_secs(10),
            },
            ..ServiceConfig::default()
        };
        // Two instances on one database.
        let instance = || {
            Services::new(
                db.database().clone(),
                Arc::new(DisabledUpstream),
                clock.clone(),
                Arc::new(OsRandom),
                Hasher::new(HashParams::default(), 1),
                config.clone(),
            )
            .unwrap()
        };
        let (a, b) = (instance(), instance());
        let (alice, bob) = (UserKey(1), UserKey(2));

        let held = a.claim_user(alice).unwrap();
        // Another user is never held up.
        drop(b.claim_user(bob).unwrap());
        // The same user: a bounded wait, then 503's error.
        assert!(matches!(b.claim_user(alice), Err(ServiceError::UserBusy)));
        drop(held);
        drop(b.claim_user(alice).unwrap());

        // A holder that never releases (a crash: forgotten, not dropped) is taken over once its
        // claim expired.
        std::mem::forget(a.claim_user(alice).unwrap());
        assert!(matches!(b.claim_user(alice), Err(ServiceError::UserBusy)));
        clock.advance_seconds(10);
        assert!(clock.now() > Timestamp::from_millis(1_700_000_000_000));
        drop(b.claim_user(alice).unwrap());

        // Only where the AS gets the change.
        assert!(a.claim_user_if(false, alice).unwrap().is_none());
    }
}
