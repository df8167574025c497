//! argon2id off the request path and bounded: at most `permits` hashes run at once (sized to the
//! cores by default), so a burst of logins or password changes neither starves other work nor
//! allocates more than `permits × memory cost`. Callers already run on a blocking thread.

use crate::random::Random;
use accountd_domain::secret::SecretHash;
use accountd_policy::hashing::{self, HashError, HashParams, Verified};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A counting semaphore for blocking threads.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    available: Condvar,
    waiting: AtomicUsize,
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
        PermitGuard { permits: self }
    }
}

struct PermitGuard<'a> {
    permits: &'a Permits,
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
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
            }),
            size,
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

    pub fn hash(&self, secret: &str, random: &dyn Random) -> Result<SecretHash, HashError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let _permit = self.permits.acquire();
        hashing::hash_secret(secret, &self.params, &salt)
    }

    pub fn verify(&self, hash: &SecretHash, secret: &str) -> Result<Verified, HashError> {
        let _permit = self.permits.acquire();
        hashing::verify_secret(hash, secret, &self.params)
    }

    /// Spends the cost of one verification without a user, so an unknown username answers as
    /// slowly as a wrong password.
    pub fn verify_dummy(&self, secret: &str) {
        let _permit = self.permits.acquire();
        let _ = hashing::verify_secret(&self.dummy, secret, &self.params);
    }
}
