//! Remembers successful `Authorization: Basic` verifications briefly, so a client that sends Basic on
//! every request costs one argon2 verification per cache period, not one per request.
//!
//! The key is an HMAC (per-process key) of username and password, so the cache holds no password
//! and no unkeyed hash of one. An entry also holds a fingerprint of the stored password hash it was
//! checked against: after a password change the stored hash differs and the entry no longer counts.

use accountd_domain::ids::UserKey;
use accountd_domain::user::Timestamp;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
struct Entry {
    user: UserKey,
    hash_fingerprint: [u8; 32],
    expires_at: Timestamp,
}

#[derive(Debug)]
pub(crate) struct BasicCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
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
            capacity,
        }
    }

    /// Whether `key` was verified for `user` against the hash with `hash_fingerprint`, and is fresh.
    pub(crate) fn hit(&self, key: &[u8; 32], user: UserKey, hash_fingerprint: &[u8; 32], now: Timestamp) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .is_some_and(|e| e.user == user && &e.hash_fingerprint == hash_fingerprint && e.expires_at > now)
    }

    pub(crate) fn remember(
        &self,
        key: [u8; 32],
        user: UserKey,
        hash_fingerprint: [u8; 32],
        expires_at: Timestamp,
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
        cache.remember(k, UserKey(1), fp, now.plus_seconds(60), now);
        assert!(cache.hit(&k, UserKey(1), &fp, now));
        assert!(
            !cache.hit(&k, UserKey(1), &fingerprint("$argon2id$2"), now),
            "password changed"
        );
        assert!(!cache.hit(&k, UserKey(1), &fp, now.plus_seconds(60)), "expired");
        assert!(!cache.hit(&credentials_key(&[1; 32], "alice", "other"), UserKey(1), &fp, now));
        cache.forget_user(UserKey(1));
        assert!(!cache.hit(&k, UserKey(1), &fp, now));
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
    fn capacity_is_bounded() {
        let cache = BasicCache::new(2);
        let now = Timestamp::from_millis(0);
        for i in 0..5u8 {
            cache.remember([i; 32], UserKey(1), [0; 32], now.plus_seconds(60), now);
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
