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

    /// How many values are remembered, current or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
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
    /// `key` less than [`LIFETIME`] ago when nothing has been committed since, by any connection of
    /// any process: only where the store [reads here](Store::reads_here), whose read here counts
    /// other connections' commits in the generation first. Then the value is as fresh as a read
    /// would be, and a changed password, a revoked factor or a new throttle counts at once, on
    /// every instance sharing the file. A value read now is remembered when `keep` says so (an
    /// unauthenticated caller's rows are not: they would only push out everyone else's).
    ///
    /// Also returns the generation the value is current as of (`None` where nothing was
    /// counted: another store, or a read that fell back to the pool), for the request's further
    /// reads ([`Services::remembered_under`]).
    pub(crate) fn remembered_here<K, V>(
        &self,
        cache: &Remembered<K, V>,
        key: K,
        read: impl FnOnce(&mut dyn Repository) -> ServiceResult<V>,
        keep: impl FnOnce(&V) -> bool,
    ) -> ServiceResult<(V, Option<u64>)>
    where
        K: Eq + Hash,
        V: Clone,
    {
        let read_at = Instant::now();
        let exact = self.store.reads_here();
        // The generation once the store has counted other connections' commits, before any read
        // of ours starts: every commit it counts is in what was remembered under it, and in the
        // snapshot of a read that starts after it.
        let counted = std::cell::Cell::new(None);
        let (value, read_now) = self.store.read_here_unless_known(
            || {
                let generation = self.store.generation().filter(|_| exact);
                counted.set(generation);
                generation.and_then(|g| cache.get(&key, g)).map(|value| (value, false))
            },
            |repo| Ok::<_, crate::ServiceError>((read(repo)?, true)),
        )?;
        let counted = counted.get();
        if read_now
            && let Some(generation) = counted
            && keep(&value)
        {
            cache.put(key, value.clone(), generation, read_at);
        }
        Ok((value, counted))
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
        Ok(self.remembered_here(cache, key, read, |_| true)?.0)
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
