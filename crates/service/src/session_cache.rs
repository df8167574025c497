//! Remembers, for at most [`LIFETIME`], what a session lookup read (the session's times and
//! flags, and its user), so that a client sending the same session cookie many times a second
//! costs one read per second rather than one per request (issue 23, docs/performance.md).
//!
//! An entry counts only while the store's write generation ([`Store::generation`]) is the one it
//! was read under: any write through this process's store (a logout, a password change, "end this
//! session", a profile change, a disabled account, a touch…) ends every entry at once, so every
//! revocation holds at once on the instance that made it. Another instance's writes are seen
//! within [`LIFETIME`]. A store that keeps no generation gets no caching. The expiry and idle
//! checks still run on every request, against the remembered times and the service's clock.
//!
//! [`Store::generation`]: accountd_domain::ports::Store::generation

use accountd_domain::secret::TokenDigest;
use accountd_domain::user::{Timestamp, User};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest an entry is used: how stale another instance's change may be seen here.
pub(crate) const LIFETIME: Duration = Duration::from_secs(1);

/// What a session lookup needs of a session row.
#[derive(Debug, Clone)]
pub(crate) struct SessionFacts {
    pub(crate) last_seen_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) proved_at: Timestamp,
    pub(crate) enrollment_only: bool,
    pub(crate) password_change_only: bool,
}

#[derive(Debug)]
struct Entry {
    facts: SessionFacts,
    user: User,
    generation: u64,
    read_at: Instant,
}

#[derive(Debug)]
pub(crate) struct SessionCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

impl SessionCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The facts and user remembered for `digest`, when read under `generation` less than
    /// [`LIFETIME`] ago.
    pub(crate) fn get(&self, digest: &TokenDigest, generation: u64) -> Option<(SessionFacts, User)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(digest.as_bytes())
            .filter(|e| e.generation == generation && e.read_at.elapsed() < LIFETIME)
            .map(|e| (e.facts.clone(), e.user.clone()))
    }

    /// Remembers what was read under `generation` (taken *before* the read, so that a write
    /// landing meanwhile makes the entry stale at once).
    pub(crate) fn put(&self, digest: &TokenDigest, facts: SessionFacts, user: User, generation: u64, read_at: Instant) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.generation == generation && e.read_at.elapsed() < LIFETIME);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            *digest.as_bytes(),
            Entry {
                facts,
                user,
                generation,
                read_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::testing::TestUser;

    fn sample_user() -> User {
        TestUser::end_user(1, "T", "G").build()
    }

    fn token(byte: u8) -> TokenDigest {
        TokenDigest::from_slice(&[byte; 32]).unwrap()
    }

    fn facts() -> SessionFacts {
        SessionFacts {
            last_seen_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(1_000_000),
            proved_at: Timestamp::from_millis(0),
            enrollment_only: false,
            password_change_only: false,
        }
    }

    #[test]
    fn an_entry_counts_under_its_generation_for_its_lifetime_only() {
        let cache = SessionCache::new(2);
        let digest = token(7);
        cache.put(&digest, facts(), sample_user(), 3, Instant::now());
        assert!(cache.get(&digest, 3).is_some());
        assert!(cache.get(&digest, 4).is_none(), "a write since");
        assert!(cache.get(&token(8), 3).is_none());
        let old = Instant::now().checked_sub(LIFETIME).unwrap();
        cache.put(&digest, facts(), sample_user(), 3, old);
        assert!(cache.get(&digest, 3).is_none(), "older than its lifetime");
    }

    #[test]
    fn capacity_is_bounded_and_zero_keeps_nothing() {
        let cache = SessionCache::new(2);
        for i in 0..5u8 {
            cache.put(&token(i), facts(), sample_user(), 1, Instant::now());
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
        let none = SessionCache::new(0);
        let digest = token(1);
        none.put(&digest, facts(), sample_user(), 1, Instant::now());
        assert!(none.get(&digest, 1).is_none());
    }
}
