//! argon2id off the request path and bounded: at most `permits` hashes run at once (sized to the
//! cores by default), so a burst of logins or password changes neither starves other work nor
//! allocates more than `permits × memory cost`. Each permit carries its argon2 working memory,
//! allocated once and reused, so that bound holds for the process's resident memory too (a fresh
//! allocation per hash fragments glibc's per-thread arenas: docs/performance.md). Callers already
//! run on a blocking thread. On Linux that thread hashes at a lower priority (niceness
//! [`HASHING_NICENESS`]): requests waiting for a core go first, so a burst of password changes
//! slows itself down rather than every GET.

use crate::random::Random;
use accountd_domain::secret::SecretHash;
use accountd_policy::hashing::{self, HashError, HashMemory, HashParams, Verified};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A counting semaphore for blocking threads.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    available: Condvar,
    waiting: AtomicUsize,
    /// The working memory of the permits not in use (at most one per permit, made on first use).
    memory: Mutex<Vec<HashMemory>>,
}

impl Permits {
    fn acquire(&self) -> PermitGuard<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *free == 0 {
            free = self
                .available
                .wait(free)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *free -= 1;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        drop(free);
        let priority = LowerPriority::new();
        let memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
            .unwrap_or_default();
        PermitGuard {
            permits: self,
            memory,
            _priority: priority,
        }
    }
}

/// The niceness a thread hashes at (0 is the default, 19 the lowest priority).
pub const HASHING_NICENESS: i32 = 10;

/// Set when the process could not raise a thread's priority back (no `CAP_SYS_NICE`, and
/// `RLIMIT_NICE` too low): from then on hashing runs at the thread's own priority, so that no
/// blocking thread is left at the lower one for the rest of its work.
static CANNOT_RESTORE: AtomicBool = AtomicBool::new(false);

/// Lowers the calling thread's priority to [`HASHING_NICENESS`] until dropped (Linux, where the
/// niceness is per thread; elsewhere nothing).
struct LowerPriority {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    restore: Option<i32>,
}

impl LowerPriority {
    #[cfg(target_os = "linux")]
    fn new() -> Self {
        use rustix::process::{getpriority_process, setpriority_process};
        let restore = (!CANNOT_RESTORE.load(Ordering::Relaxed))
            .then(|| getpriority_process(None).ok())
            .flatten()
            .filter(|&now| now < HASHING_NICENESS)
            .filter(|_| setpriority_process(None, HASHING_NICENESS).is_ok());
        Self { restore }
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Self {
        let _ = &CANNOT_RESTORE;
        Self { restore: None }
    }
}

impl Drop for LowerPriority {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(previous) = self.restore
            && rustix::process::setpriority_process(None, previous).is_err()
            && !CANNOT_RESTORE.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "cannot raise a thread's priority back after hashing (CAP_SYS_NICE or RLIMIT_NICE): \
                 hashing now runs at normal priority"
            );
        }
    }
}

struct PermitGuard<'a> {
    permits: &'a Permits,
    memory: HashMemory,
    /// Dropped after the fields above: the permit is returned while the thread is still low.
    _priority: LowerPriority,
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        self.permits
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(std::mem::take(&mut self.memory));
        let mut free = self
            .permits
            .free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *free += 1;
        self.permits.available.notify_one();
    }
}

/// Hashes and verifies secrets with argon2id under a concurrency bound.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    permits: Arc<Permits>,
    size: usize,
    dummy: SecretHash,
    /// Verifications run so far (real and dummy), shared by every clone: a metric, and how tests
    /// prove that a cache spared one.
    verifications: Arc<AtomicU64>,
}

impl Hasher {
    /// `permits`: how many hashes may run at once (at least 1).
    pub fn new(params: HashParams, permits: usize) -> Self {
        let size = permits.max(1);
        Self {
            dummy: hashing::dummy_hash(&params),
            params,
            permits: Arc::new(Permits {
                free: Mutex::new(size),
                available: Condvar::new(),
                waiting: AtomicUsize::new(0),
                memory: Mutex::new(Vec::new()),
            }),
            size,
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// As many permits as the machine has cores.
    pub fn sized_to_cores(params: HashParams) -> Self {
        Self::new(
            params,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        )
    }

    pub fn params(&self) -> &HashParams {
        &self.params
    }

    /// How many callers wait for a permit now (a metric).
    pub fn queue_len(&self) -> usize {
        self.permits.waiting.load(Ordering::Relaxed)
    }

    pub fn permits(&self) -> usize {
        self.size
    }

    /// How many permits are taken now: hashes running (a metric).
    pub fn in_use(&self) -> usize {
        let free = *self
            .permits
            .free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.size.saturating_sub(free)
    }

    /// How many verifications (real and dummy) this hasher and its clones have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    pub fn hash(&self, secret: &str, random: &dyn Random) -> Result<SecretHash, HashError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let mut permit = self.permits.acquire();
        hashing::hash_secret_with(&mut permit.memory, secret, &self.params, &salt)
    }

    pub fn verify(&self, hash: &SecretHash, secret: &str) -> Result<Verified, HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut permit = self.permits.acquire();
        hashing::verify_secret_with(&mut permit.memory, hash, secret, &self.params)
    }

    /// Spends the cost of one verification without a user, so an unknown username answers as
    /// slowly as a wrong password.
    pub fn verify_dummy(&self, secret: &str) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut permit = self.permits.acquire();
        let _ = hashing::verify_secret_with(&mut permit.memory, &self.dummy, secret, &self.params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn working_memory_is_one_per_permit_and_reused() {
        let params = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = Hasher::new(params, 2);
        let hash = hasher.hash("secret", &OsRandom).unwrap();
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    for _ in 0..5 {
                        assert!(hasher.verify(&hash, "secret").unwrap().matches);
                        assert!(!hasher.verify(&hash, "other").unwrap().matches);
                    }
                });
            }
        });
        let kept = hasher.permits.memory.lock().unwrap();
        assert!((1..=2).contains(&kept.len()), "{} memories for 2 permits", kept.len());
        assert_eq!(*hasher.permits.free.lock().unwrap(), 2);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_hashes_at_lower_priority_and_gets_its_own_back() {
        use rustix::process::getpriority_process;
        let before = getpriority_process(None).unwrap();
        let during = {
            let _low = LowerPriority::new();
            getpriority_process(None).unwrap()
        };
        let after = getpriority_process(None).unwrap();
        assert_eq!(during, HASHING_NICENESS.max(before));
        if !CANNOT_RESTORE.load(Ordering::Relaxed) {
            assert_eq!(after, before);
        }
    }
}
