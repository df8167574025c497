//! Remembers, for at most [`LIFETIME`], what a hot read found (a session and its user, a Basic
//! credential's rows, a user's directory), so that a client sending the same credentials many
//! times a second costs one read per second rather than one per request (issue 23,
//! docs/performance.md).
//!
//! An entry counts only while the store's write generation ([`Store::generation`]) is the one it
//! was read under: any write through this process's store (a logout, a password change, "end this
//! session", a profile change, a disabled account, a touch…) ends every entry at once, so every
//! revocation holds at once on the instance that made it. Another instance's writes are seen
//! within [`LIFETIME`], or at once by [`Services::remembered_here`] where the store reads here
//! (SQLite: a read here moves the generation on when it sees another connection's commit). A
//! store that keeps no generation gets no caching.
//!
//! [`Store::generation`]: accountd_domain::ports::Store::generation

use crate::{ServiceResult, Services};
use accountd_domain::ports::{Repository, Store};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest an entry is used: how stale another instance's change may be seen here.
pub(crate) const LIFETIME: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Entry<V> {
    value: V,
    generation: u64,
    read_at: Instant,
}

/// Values of `V` by key, each counting under the generation it was read under, for [`LIFETIME`].
#[derive(Debug)]
pub(crate) struct Remembered<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Remembered<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value remembered for `key`, when read under `generation` less than [`LIFETIME`] ago.
    pub(crate) fn get(&self, key: &K, generation: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.generation == generation && e.read_at.elapsed() < LIFETIME)
            .map(|e| e.value.clone())
    }

    /// Remembers what was read under `generation` (taken *before* the read, so that a write
    /// landing meanwhile makes the entry stale at once).
    pub(crate) fn put(&self, key: K, value: V, generation: u64, read_at: Instant) {
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
            key,
            Entry {
                value,
                generation,
                read_at,
            },
        );
    }
}

impl<S: Store> Services<S> {
    /// `read` on the calling thread's own connection ([`Store::read_here`]), or what it found for
    /// `key` under the store's generation (less than [`LIFETIME`] ago) when nothing has been
    /// committed since, by this process or, where the store [reads here](Store::reads_here), any
    /// other: then the value is as fresh as a read would be, and a changed password, a revoked
    /// factor or a new throttle counts at once, on every instance sharing the file. Also returns
    /// the generation as of which the value is current (where the store reads here), for the
    /// request's further reads ([`Services::remembered_under`]).
    pub(crate) fn remembered_here<K, V>(
        &self,
        cache: &Remembered<K, V>,
        key: K,
        read: impl FnOnce(&mut dyn Repository) -> ServiceResult<V>,
    ) -> ServiceResult<(V, Option<u64>)>
    where
        K: Eq + Hash,
        V: Clone,
    {
        // Taken before the read (whose snapshot is at least as new): what is remembered under it
        // holds every commit it counts.
        let before = self.store.generation();
        let read_at = Instant::now();
        let exact = self.store.reads_here();
        // Taken after the store has counted the commits of other connections.
        let current = || self.store.generation().filter(|_| exact);
        let (value, read_now, current) = self.store.read_here_unless_known(
            || {
                let current = current();
                current
                    .and_then(|g| cache.get(&key, g))
                    .map(|value| (value, false, current))
            },
            |repo| Ok::<_, crate::ServiceError>((read(repo)?, true, current())),
        )?;
        if exact
            && read_now
            && let Some(generation) = before
        {
            cache.put(key, value.clone(), generation, read_at);
        }
        Ok((value, current))
    }

    /// [`Services::remembered_here`] for a request whose caller was admitted by rows current as of
    /// generation `under` ([`accountd_domain::principal::Principal::read_under`]): what was
    /// remembered under it answers without a read, as fresh as the admission.
    pub(crate) fn remembered_under<K, V>(
        &self,
        cache: &Remembered<K, V>,
        under: Option<u64>,
        key: K,
        read: impl FnOnce(&mut dyn Repository) -> ServiceResult<V>,
    ) -> ServiceResult<V>
    where
        K: Eq + Hash,
        V: Clone,
    {
        if self.store.reads_here()
            && let Some(value) = under.and_then(|g| cache.get(&key, g))
        {
            return Ok(value);
        }
        Ok(self.remembered_here(cache, key, read)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_under_its_generation_for_its_lifetime_only() {
        let cache = Remembered::new(2);
        cache.put(7u8, "seven", 3, Instant::now());
        assert_eq!(cache.get(&7, 3), Some("seven"));
        assert!(cache.get(&7, 4).is_none(), "a write since");
        assert!(cache.get(&8, 3).is_none());
        let old = Instant::now().checked_sub(LIFETIME).unwrap();
        cache.put(7, "seven", 3, old);
        assert!(cache.get(&7, 3).is_none(), "older than its lifetime");
    }

    #[test]
    fn capacity_is_bounded_and_zero_keeps_nothing() {
        let cache = Remembered::new(2);
        for i in 0..5u8 {
            cache.put(i, (), 1, Instant::now());
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
        let none = Remembered::new(0);
        none.put(1u8, (), 1, Instant::now());
        assert!(none.get(&1, 1).is_none());
    }
}
