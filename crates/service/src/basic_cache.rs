//! Remembers successful `Authorization: Basic` verifications briefly, so a client that sends Basic on
//! every request costs one argon2 verification per cache period, not one per request.
//!
//! The key is an HMAC (per-process key) of username and password, so the cache holds no password
//! and no unkeyed hash of one. An entry also holds a fingerprint of the stored password hash it was
//! checked against: after a password change the stored hash differs and the entry no longer counts.
//!
//! No stampede (issue 23): concurrent verifications of one credential against one stored hash
//! share one argon2 run ([`BasicCache::verify_once`]: the first verifies, the others wait for its
//! answer), and a hot entry is verified again before it expires ([`Hit::Refresh`]: one request
//! near the end of the entry's life re-verifies while the others keep using it), so a client
//! sending one credential on many connections never waits for 64 verifications at once. While
//! that refresh runs, the entry stays valid past its end by at most one more refresh window (the
//! last sixth of its life): a refresh slowed by a saturated host doesn't let the entry lapse
//! under its users. A failed refresh ([`BasicCache::abandon_refresh`]) lets the next request try.
//! A changed password or a revocation ends the entry at once, grace or not.

use accountd_domain::ids::UserKey;
use accountd_domain::user::Timestamp;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    user: UserKey,
    hash_fingerprint: [u8; 32],
    expires_at: Timestamp,
    /// From then on, one request re-verifies (and renews the entry) while the others use it.
    refresh_at: Timestamp,
    refreshing: bool,
}

impl Entry {
    /// Valid at `now`: before its end, or within the grace of a refresh in flight (one more
    /// refresh window past the end).
    fn valid(&self, now: Timestamp) -> bool {
        let window = self.expires_at.0.saturating_sub(self.refresh_at.0).max(0);
        now < self.expires_at || (self.refreshing && now.0 < self.expires_at.0.saturating_add(window))
    }
}

/// What the cache says of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// Verified and fresh: admit.
    Fresh,
    /// Verified and still valid, but near its end: this caller (one only) verifies it again now.
    Refresh,
    /// Not verified (or no longer): verify.
    Miss,
}

/// One verification in progress, which the other requests with the same credential wait for:
/// its answer (`Some(matches)`), or `None` when it failed (each then verifies on its own).
#[derive(Debug, Default)]
struct Flight {
    outcome: Mutex<Option<Option<bool>>>,
    done: Condvar,
}

/// A flight's key: the credential and the stored hash it is checked against.
type FlightKey = ([u8; 32], [u8; 32]);

#[derive(Debug)]
pub(crate) struct BasicCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    flights: Mutex<HashMap<FlightKey, Arc<Flight>>>,
    capacity: usize,
}

pub(crate) fn credentials_key(secret_key: &[u8; 32], username: &str, password: &str) -> [u8; 32] {
    // HMAC accepts keys of any length: this can't fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret_key) {
        Ok(mac) => mac,
        Err(_) => return Sha256::digest([username, "\0", password].concat()).into(),
    };
    mac.update(username.as_bytes());
    mac.update(&[0]);
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

pub(crate) fn fingerprint(stored_hash: &str) -> [u8; 32] {
    Sha256::digest(stored_hash.as_bytes()).into()
}

impl BasicCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Whether `key` was verified for `user` against the hash with `hash_fingerprint` and is
    /// fresh; near its end, the first caller is told to verify it again ([`Hit::Refresh`]).
    pub(crate) fn hit(&self, key: &[u8; 32], user: UserKey, hash_fingerprint: &[u8; 32], now: Timestamp) -> Hit {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get_mut(key) {
            Some(e) if e.user == user && &e.hash_fingerprint == hash_fingerprint && e.valid(now) => {
                if now >= e.refresh_at && !e.refreshing {
                    e.refreshing = true;
                    Hit::Refresh
                } else {
                    Hit::Fresh
                }
            }
            _ => Hit::Miss,
        }
    }

    /// The refresh taken by [`Hit::Refresh`] failed (no hashing permit in time, say): the next
    /// request takes it, and the grace of a refresh in flight ends.
    pub(crate) fn abandon_refresh(&self, key: &[u8; 32]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(key) {
            e.refreshing = false;
        }
    }

    /// Whether `key` admits without a verification by this caller: fresh and not yet due for its
    /// refresh, or valid while another request refreshes it ([`Hit::Fresh`] without taking the
    /// refresh). What a request answered on an async worker may use (it never verifies there):
    /// once a request has taken the refresh, the others stay on the worker (those that come
    /// between the refresh's start time and its taking leave it, one of them to take it).
    pub(crate) fn fresh(&self, key: &[u8; 32], user: UserKey, hash_fingerprint: &[u8; 32], now: Timestamp) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).is_some_and(|e| {
            e.user == user
                && &e.hash_fingerprint == hash_fingerprint
                && e.valid(now)
                && (now < e.refresh_at || e.refreshing)
        })
    }

    /// Runs `verify` for the credential `key` against the hash `hash_fingerprint`, unless
    /// another thread is running it already: then waits (at most `wait`) for that answer. A
    /// failed or too slow verification leaves each waiter to verify on its own.
    pub(crate) fn verify_once<E>(
        &self,
        key: &[u8; 32],
        hash_fingerprint: &[u8; 32],
        wait: Duration,
        verify: impl FnOnce() -> Result<bool, E>,
    ) -> Result<bool, E> {
        let flight_key = (*key, *hash_fingerprint);
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&flight_key) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let flight = Arc::new(Flight::default());
                    flights.insert(flight_key, flight.clone());
                    (flight, true)
                }
            }
        };
        if leader {
            let result = verify();
            *flight.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(result.as_ref().ok().copied());
            flight.done.notify_all();
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(&flight_key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(&flight_key);
            }
            return result;
        }
        let deadline = Instant::now() + wait;
        let mut outcome = flight.outcome.lock().unwrap_or_else(|p| p.into_inner());
        while outcome.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            outcome = flight
                .done
                .wait_timeout(outcome, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        match *outcome {
            Some(Some(matches)) => Ok(matches),
            _ => {
                drop(outcome);
                verify()
            }
        }
    }

    /// Remembers a verification until `expires_at`; from `refresh_at` on, one request verifies
    /// it again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn remember(
        &self,
        key: [u8; 32],
        user: UserKey,
        hash_fingerprint: [u8; 32],
        expires_at: Timestamp,
        refresh_at: Timestamp,
        now: Timestamp,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.expires_at > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                user,
                hash_fingerprint,
                expires_at,
                refresh_at,
                refreshing: false,
            },
        );
    }

    pub(crate) fn forget_user(&self, user: UserKey) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| e.user != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_fresh_matching_entries() {
        let cache = BasicCache::new(2);
        let k = credentials_key(&[1; 32], "alice", "pw");
        let fp = fingerprint("$argon2id$1");
        let now = Timestamp::from_millis(1000);
        cache.remember(k, UserKey(1), fp, now.plus_seconds(60), now.plus_seconds(50), now);
        assert_eq!(cache.hit(&k, UserKey(1), &fp, now), Hit::Fresh);
        assert!(cache.fresh(&k, UserKey(1), &fp, now));
        assert_eq!(
            cache.hit(&k, UserKey(1), &fingerprint("$argon2id$2"), now),
            Hit::Miss,
            "password changed"
        );
        assert_eq!(
            cache.hit(&k, UserKey(1), &fp, now.plus_seconds(60)),
            Hit::Miss,
            "expired"
        );
        assert_eq!(
            cache.hit(&credentials_key(&[1; 32], "alice", "other"), UserKey(1), &fp, now),
            Hit::Miss
        );
        // Near its end: one caller refreshes (a worker leaves that to the blocking pool), the
        // others keep using it, on a worker too.
        let late = now.plus_seconds(55);
        assert!(!cache.fresh(&k, UserKey(1), &fp, late), "the refresh is not taken yet");
        assert_eq!(cache.hit(&k, UserKey(1), &fp, late), Hit::Refresh);
        assert_eq!(cache.hit(&k, UserKey(1), &fp, late), Hit::Fresh);
        assert!(cache.fresh(&k, UserKey(1), &fp, late), "taken by another request");
        cache.remember(k, UserKey(1), fp, late.plus_seconds(60), late.plus_seconds(50), late);
        assert_eq!(cache.hit(&k, UserKey(1), &fp, late), Hit::Fresh);
        cache.forget_user(UserKey(1));
        assert_eq!(cache.hit(&k, UserKey(1), &fp, now), Hit::Miss);
    }

    #[test]
    fn a_refresh_in_flight_holds_the_entry_one_window_past_its_end() {
        let cache = BasicCache::new(2);
        let k = credentials_key(&[1; 32], "alice", "pw");
        let fp = fingerprint("$argon2id$1");
        let now = Timestamp::from_millis(0);
        // Life 60 s, refresh window 10 s.
        cache.remember(k, UserKey(1), fp, now.plus_seconds(60), now.plus_seconds(50), now);
        let end = now.plus_seconds(60);
        assert_eq!(
            cache.hit(&k, UserKey(1), &fp, end),
            Hit::Miss,
            "no refresh taken: ends on time"
        );
        assert_eq!(cache.hit(&k, UserKey(1), &fp, now.plus_seconds(51)), Hit::Refresh);
        assert_eq!(cache.hit(&k, UserKey(1), &fp, end), Hit::Fresh, "refresh in flight");
        assert_eq!(cache.hit(&k, UserKey(1), &fp, now.plus_seconds(69)), Hit::Fresh);
        assert_eq!(
            cache.hit(&k, UserKey(1), &fp, now.plus_seconds(70)),
            Hit::Miss,
            "grace is bounded"
        );
        assert_eq!(
            cache.hit(&k, UserKey(1), &fingerprint("$argon2id$2"), end),
            Hit::Miss,
            "a changed password ends it, grace or not"
        );
        assert!(
            cache.fresh(&k, UserKey(1), &fp, end),
            "a worker answers as the blocking pool does"
        );
        assert!(!cache.fresh(&k, UserKey(1), &fp, now.plus_seconds(70)));
        // A failed refresh: the grace ends and the next request refreshes.
        cache.abandon_refresh(&k);
        assert!(!cache.fresh(&k, UserKey(1), &fp, end));
        assert_eq!(cache.hit(&k, UserKey(1), &fp, end), Hit::Miss);
        assert_eq!(cache.hit(&k, UserKey(1), &fp, now.plus_seconds(55)), Hit::Refresh);
        cache.forget_user(UserKey(1));
        assert_eq!(
            cache.hit(&k, UserKey(1), &fp, now.plus_seconds(55)),
            Hit::Miss,
            "revoked"
        );
    }

    #[test]
    fn keys_depend_on_the_process_key_and_separate_fields() {
        assert_ne!(credentials_key(&[1; 32], "a", "b"), credentials_key(&[2; 32], "a", "b"));
        assert_ne!(
            credentials_key(&[1; 32], "ab", "c"),
            credentials_key(&[1; 32], "a", "bc")
        );
    }

    #[test]
    fn concurrent_verifications_of_one_credential_share_one() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = Arc::new(BasicCache::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        let k = credentials_key(&[1; 32], "alice", "pw");
        let fp = fingerprint("$argon2id$1");
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                std::thread::spawn(move || {
                    cache.verify_once(&k, &fp, Duration::from_secs(10), || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        Ok::<_, ()>(true)
                    })
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), Ok(true));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one verification for 16 requests");
        // A failed verification leaves each waiter to its own.
        let failed = cache.verify_once(&k, &fp, Duration::from_secs(1), || Err::<bool, _>("busy"));
        assert_eq!(failed, Err("busy"));
        assert_eq!(
            cache.verify_once(&k, &fp, Duration::from_secs(1), || Ok::<_, ()>(false)),
            Ok(false)
        );
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = BasicCache::new(2);
        let now = Timestamp::from_millis(0);
        for i in 0..5u8 {
            cache.remember(
                [i; 32],
                UserKey(1),
                [0; 32],
                now.plus_seconds(60),
                now.plus_seconds(50),
                now,
            );
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
