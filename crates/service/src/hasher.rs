//! argon2id off the request path and bounded: at most `permits` hashes run at once (sized to the
//! cores by default), so a burst of logins or password changes neither starves other work nor
//! allocates more than `permits × memory cost`. Each permit carries its argon2 working memory,
//! allocated once and reused, so that bound holds for the process's resident memory too (a fresh
//! allocation per hash fragments glibc's per-thread arenas: docs/performance.md). Callers already
//! run on a blocking thread.
//!
//! **Priority.** On Linux the thread hashes in the lowest scheduling class, `SCHED_IDLE` (through
//! the `thread-priority` crate), while it holds a permit, and goes back to its own policy and
//! niceness afterwards: any other thread that wants a core gets it at once, so password changes
//! and logins use the cores that requests leave idle rather than delaying every GET. Where
//! `SCHED_IDLE` can't be entered and left (a seccomp filter, a process that may not raise its
//! priority back: no `CAP_SYS_NICE` and `RLIMIT_NICE` below 20), found once on a throwaway thread
//! so that none of ours is left low, hashing runs at niceness [`HASHING_NICENESS`], or at normal
//! priority when that can't be undone either; either is logged once.
//!
//! **Bounded waits.** A caller waits at most `hashing.queue_timeout_ms` for a permit, then gets
//! [`HashError::Busy`] (503 with `Retry-After` at the HTTP boundary) with nothing hashed. A thread at
//! `SCHED_IDLE` on a host whose other work keeps every core busy still runs, but with the kernel's
//! smallest weight (3 against 1,024 for a thread at niceness 0: docs/performance.md measures what
//! a hash then takes). So when a caller has waited half of its time, the threads hashing at
//! `SCHED_IDLE` are promoted to [`HASHING_NICENESS`] (`SCHED_OTHER`; each puts its own priority
//! back when its hash ends) and hashing runs at that niceness instead for [`IDLE_PAUSE`]: a host
//! that stays busy slows hashing to its share at niceness 10, and refuses only callers that the
//! permits can't serve even then.

use crate::random::Random;
use accountd_domain::secret::SecretHash;
use accountd_policy::hashing::{self, HashError, HashMemory, HashParams, Verified};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The niceness a thread hashes at where `SCHED_IDLE` is not used (0 is the default, 19 the
/// lowest priority).
pub const HASHING_NICENESS: i32 = 10;

/// How long hashing stays at [`HASHING_NICENESS`] rather than `SCHED_IDLE` after a caller's wait
/// for a permit ran out.
pub const IDLE_PAUSE: Duration = Duration::from_secs(60);

/// The longest `Retry-After` a refusal suggests, in seconds.
const MAX_RETRY_AFTER_SECONDS: u64 = 60;

/// The permits' shared state.
#[derive(Debug)]
struct State {
    free: usize,
    /// Until then hashes run at [`HASHING_NICENESS`], not `SCHED_IDLE` (set when a wait ran out,
    /// or half ran out and the holders were promoted).
    idle_paused_until: Option<Instant>,
    /// The threads hashing at `SCHED_IDLE` now: a caller that has waited half its time promotes
    /// them (a thread leaves this list, under the lock, before it puts its priority back).
    idle_holders: Vec<sched::Holder>,
}

/// A counting semaphore for blocking threads, whose waits are bounded.
#[derive(Debug)]
struct Permits {
    state: Mutex<State>,
    available: Condvar,
    size: usize,
    timeout: Duration,
    waiting: AtomicUsize,
    /// Callers refused because no permit came free in time (a metric).
    refused: AtomicU64,
    /// A moving average of how long a permit is held, in µs: what `Retry-After` is estimated from.
    held_micros: AtomicU64,
    /// The working memory of the permits not in use (at most one per permit, made on first use).
    memory: Mutex<Vec<HashMemory>>,
}

impl Permits {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A permit, within the configured wait; the thread lowered while it holds it when `lower`.
    ///
    /// Half-way through the wait, the threads hashing at `SCHED_IDLE` are promoted to
    /// [`HASHING_NICENESS`] (and hashes started in the next [`IDLE_PAUSE`] don't enter
    /// `SCHED_IDLE`): on a host whose cores stay busy, a `SCHED_IDLE` hash barely runs, and the
    /// callers behind it would all be refused.
    fn acquire(&self, lower: bool) -> Result<PermitGuard<'_>, HashError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let half = self.timeout / 2;
        let (mut state, _) = self
            .available
            .wait_timeout_while(self.state(), half, |state| state.free == 0)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.free == 0 && !state.idle_holders.is_empty() {
            let holders = std::mem::take(&mut state.idle_holders);
            let promoted = holders.into_iter().filter(|&holder| sched::promote(holder)).count();
            state.idle_paused_until = Some(Instant::now() + IDLE_PAUSE);
            tracing::warn!(
                promoted,
                "a hash waited half of hashing.queue_timeout_ms for its turn: the hashes at SCHED_IDLE \
                 now run at niceness {HASHING_NICENESS}, as the next ones will for {} s",
                IDLE_PAUSE.as_secs()
            );
        }
        let (mut state, _) = self
            .available
            .wait_timeout_while(state, self.timeout - half, |state| state.free == 0)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let now = Instant::now();
        let idle = state.idle_paused_until.is_none_or(|until| now >= until);
        if state.free == 0 {
            state.idle_paused_until = Some(now + IDLE_PAUSE);
            drop(state);
            self.refused.fetch_add(1, Ordering::Relaxed);
            if idle && lowering() == Lowering::Idle {
                tracing::warn!(
                    "a hash waited longer than hashing.queue_timeout_ms for its turn: hashing runs at \
                     niceness {HASHING_NICENESS} instead of SCHED_IDLE for the next {} s",
                    IDLE_PAUSE.as_secs()
                );
            }
            return Err(HashError::Busy {
                retry_after_seconds: self.retry_after(),
            });
        }
        state.free -= 1;
        drop(state);
        let priority = if lower {
            LowerPriority::new(idle)
        } else {
            LowerPriority::none()
        };
        let holder = priority.is_idle().then(sched::Holder::this_thread);
        if let Some(holder) = holder {
            self.state().idle_holders.push(holder);
        }
        let memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
            .unwrap_or_default();
        Ok(PermitGuard {
            permits: self,
            memory,
            since: now,
            holder,
            _priority: priority,
        })
    }

    /// When a refused caller may find a permit: the time for those waiting and those hashing to
    /// pass through the permits, at the recent pace, in whole seconds (1 to 60).
    fn retry_after(&self) -> u64 {
        let held = Duration::from_micros(self.held_micros.load(Ordering::Relaxed));
        let ahead = self.waiting.load(Ordering::Relaxed) + self.size;
        let seconds = (held.as_secs_f64() * ahead as f64 / self.size as f64).ceil();
        (seconds as u64).clamp(1, MAX_RETRY_AFTER_SECONDS)
    }
}

/// Set when the process could not put a thread's priority back after hashing: from then on
/// hashing runs at the thread's own priority, so that no blocking thread is left lower than the
/// one it had for the rest of its work.
static CANNOT_RESTORE: AtomicBool = AtomicBool::new(false);

/// How this process can lower a hashing thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lowering {
    /// To `SCHED_IDLE` and back.
    Idle,
    /// To [`HASHING_NICENESS`] and back.
    Niceness,
    /// Not at all (not Linux; or neither can be undone; or the threads are already as low).
    None,
}

/// What this process can do, found once (each attempt on a thread of its own, so that a change
/// that can't be undone leaves none of ours low), and logged.
fn lowering() -> Lowering {
    static FOUND: OnceLock<Lowering> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let found = sched::probe();
        match found {
            Lowering::Idle => tracing::info!("hashing threads run at SCHED_IDLE while they hash"),
            Lowering::Niceness => tracing::warn!(
                "SCHED_IDLE can't be entered and left (seccomp, or no CAP_SYS_NICE and RLIMIT_NICE below \
                 20): hashing threads run at niceness {HASHING_NICENESS} while they hash"
            ),
            Lowering::None if cfg!(target_os = "linux") => tracing::warn!(
                "a thread's priority can't be lowered and raised back (no CAP_SYS_NICE, RLIMIT_NICE \
                 below 20): hashing runs at normal priority"
            ),
            Lowering::None => {}
        }
        found
    })
}

/// Notes that a thread could not be put back, once.
fn cannot_restore() {
    if !CANNOT_RESTORE.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "cannot put a thread's priority back after hashing (CAP_SYS_NICE or RLIMIT_NICE): \
             hashing now runs at normal priority"
        );
    }
}

#[cfg(target_os = "linux")]
mod sched {
    //! The calling thread's scheduling policy (`thread-priority`) and niceness (`rustix`).

    use super::{HASHING_NICENESS, Lowering};
    use rustix::process::{Pid, getpriority_process, setpriority_process};
    use rustix::thread::gettid;
    use thread_priority::{
        NormalThreadSchedulePolicy as Normal, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy as Policy,
        set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
    };

    /// A thread's policy and niceness before hashing.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Previous {
        policy: Policy,
        nice: i32,
    }

    /// The calling thread's policy and niceness, when it is in a normal class that can be
    /// lowered (`SCHED_OTHER`, `SCHED_BATCH`); `None` when already `SCHED_IDLE`, real-time, or
    /// unreadable.
    pub(super) fn current() -> Option<Previous> {
        let policy = thread_schedule_policy().ok()?;
        if !matches!(policy, Policy::Normal(Normal::Other | Normal::Batch)) {
            return None;
        }
        let nice = getpriority_process(None).ok()?;
        Some(Previous { policy, nice })
    }

    /// Whether the calling thread is in `SCHED_IDLE`.
    pub(super) fn is_idle() -> bool {
        thread_schedule_policy() == Ok(Policy::Normal(Normal::Idle))
    }

    /// Moves the calling thread to `SCHED_IDLE`. An error may come after a part of the change.
    pub(super) fn enter_idle() -> Result<(), thread_priority::Error> {
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, Policy::Normal(Normal::Idle))
    }

    /// Puts the calling thread back to `previous`; whether it could.
    pub(super) fn restore(previous: Previous) -> bool {
        // The crate sets a normal policy's niceness from the priority: the value that maps to
        // the previous niceness makes that one call exact.
        let priority = priority_for(previous.policy, previous.nice);
        set_thread_priority_and_policy(thread_native_id(), priority, previous.policy).is_ok()
            && (getpriority_process(None) == Ok(previous.nice) || setpriority_process(None, previous.nice).is_ok())
            && current() == Some(previous)
    }

    /// The calling thread's niceness before it was lowered to [`HASHING_NICENESS`], if it was.
    pub(super) fn lower_niceness() -> Option<i32> {
        getpriority_process(None)
            .ok()
            .filter(|&now| now < HASHING_NICENESS)
            .filter(|_| setpriority_process(None, HASHING_NICENESS).is_ok())
    }

    /// Puts the calling thread's niceness back; whether it could.
    pub(super) fn restore_niceness(previous: i32) -> bool {
        setpriority_process(None, previous).is_ok()
    }

    /// A thread hashing at `SCHED_IDLE`, as another thread can name it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Holder {
        pthread: thread_priority::ThreadId,
        tid: Pid,
    }

    impl Holder {
        pub(super) fn this_thread() -> Self {
            Self {
                pthread: thread_native_id(),
                tid: gettid(),
            }
        }
    }

    /// The crate's priority that maps to `nice` under a normal `policy` (it sets a normal
    /// policy's niceness from the priority).
    fn priority_for(policy: Policy, nice: i32) -> ThreadPriority {
        (0..=*ThreadPriorityValue::MAX)
            .filter_map(|value| ThreadPriorityValue::try_from(value).ok())
            .map(ThreadPriority::Crossplatform)
            .find(|priority| priority.to_posix(policy) == Ok(nice))
            .unwrap_or(ThreadPriority::Min)
    }

    /// Moves `holder`, another thread hashing at `SCHED_IDLE`, to `SCHED_OTHER` at
    /// [`HASHING_NICENESS`]; whether it could. It puts its own policy and niceness back when its
    /// hash ends, as always. (The crate sets the niceness of the *calling* thread: it is given
    /// the caller's own, then checked.)
    pub(super) fn promote(holder: Holder) -> bool {
        let Ok(own) = getpriority_process(None) else {
            return false;
        };
        let other = Policy::Normal(Normal::Other);
        let moved = set_thread_priority_and_policy(holder.pthread, priority_for(other, own), other).is_ok();
        if getpriority_process(None) != Ok(own) {
            let _ = setpriority_process(None, own);
        }
        moved && setpriority_process(Some(holder.tid), HASHING_NICENESS).is_ok()
    }

    /// Runs `attempt` on a thread of its own: false when it can't be run.
    fn on_own_thread(attempt: fn() -> bool) -> bool {
        std::thread::Builder::new()
            .name("accountd-sched-probe".to_owned())
            .spawn(attempt)
            .ok()
            .and_then(|thread| thread.join().ok())
            .unwrap_or(false)
    }

    pub(super) fn probe() -> Lowering {
        let idle = || current().is_some_and(|previous| enter_idle().is_ok() && is_idle() && restore(previous));
        let niceness = || lower_niceness().is_some_and(restore_niceness);
        if on_own_thread(idle) {
            Lowering::Idle
        } else if on_own_thread(niceness) {
            Lowering::Niceness
        } else {
            Lowering::None
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sched {
    use super::Lowering;

    /// No thread hashes at `SCHED_IDLE` here.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Holder;

    impl Holder {
        pub(super) fn this_thread() -> Self {
            Holder
        }
    }

    pub(super) fn promote(_holder: Holder) -> bool {
        false
    }

    pub(super) fn probe() -> Lowering {
        Lowering::None
    }
}

/// How to put a hashing thread back.
#[derive(Debug)]
enum Restore {
    #[cfg(target_os = "linux")]
    Schedule(sched::Previous),
    #[cfg(target_os = "linux")]
    Niceness(i32),
}

/// Lowers the calling thread (to `SCHED_IDLE` or [`HASHING_NICENESS`]) until dropped.
#[derive(Debug)]
struct LowerPriority {
    restore: Option<Restore>,
}

impl LowerPriority {
    fn none() -> Self {
        Self { restore: None }
    }

    /// Whether the thread was moved to `SCHED_IDLE`.
    fn is_idle(&self) -> bool {
        #[cfg(target_os = "linux")]
        return matches!(self.restore, Some(Restore::Schedule(_)));
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// `idle`: `SCHED_IDLE` may be used (else niceness).
    #[cfg(target_os = "linux")]
    fn new(idle: bool) -> Self {
        if CANNOT_RESTORE.load(Ordering::Relaxed) {
            return Self::none();
        }
        let restore = match lowering() {
            Lowering::Idle if idle => sched::current().and_then(|previous| {
                if sched::enter_idle().is_ok() {
                    Some(Restore::Schedule(previous))
                } else {
                    // Refused, perhaps half-way: back as it was.
                    if !sched::restore(previous) {
                        cannot_restore();
                    }
                    None
                }
            }),
            Lowering::Idle | Lowering::Niceness => sched::lower_niceness().map(Restore::Niceness),
            Lowering::None => None,
        };
        Self { restore }
    }

    #[cfg(not(target_os = "linux"))]
    fn new(_idle: bool) -> Self {
        let _ = (lowering(), &CANNOT_RESTORE, cannot_restore as fn());
        Self::none()
    }
}

impl Drop for LowerPriority {
    fn drop(&mut self) {
        let restored = match self.restore.take() {
            None => true,
            #[cfg(target_os = "linux")]
            Some(Restore::Schedule(previous)) => sched::restore(previous),
            #[cfg(target_os = "linux")]
            Some(Restore::Niceness(previous)) => sched::restore_niceness(previous),
        };
        if !restored {
            cannot_restore();
        }
    }
}

struct PermitGuard<'a> {
    permits: &'a Permits,
    memory: HashMemory,
    since: Instant,
    /// This thread, while it hashes at `SCHED_IDLE`.
    holder: Option<sched::Holder>,
    /// Dropped after the fields above: the permit is returned while the thread is still low.
    _priority: LowerPriority,
}

impl std::fmt::Debug for PermitGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermitGuard")
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        let held = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        let average = self.permits.held_micros.load(Ordering::Relaxed);
        let average = if average == 0 {
            held
        } else {
            average - average / 8 + held / 8
        };
        self.permits.held_micros.store(average, Ordering::Relaxed);
        self.permits
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(std::mem::take(&mut self.memory));
        {
            let mut state = self.permits.state();
            if let Some(holder) = self.holder {
                state.idle_holders.retain(|&h| h != holder);
            }
            state.free += 1;
        }
        self.permits.available.notify_one();
    }
}

/// One hashing permit taken by [`Hasher::hold_permit`], given back when dropped.
#[derive(Debug)]
pub struct HeldPermit<'a> {
    _permit: PermitGuard<'a>,
}

/// Hashes and verifies secrets with argon2id under a concurrency bound.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    permits: Arc<Permits>,
    dummy: SecretHash,
    /// Verifications run so far (real and dummy), shared by every clone: a metric, and how tests
    /// prove that a cache spared one.
    verifications: Arc<AtomicU64>,
}

impl Hasher {
    /// `permits`: how many hashes may run at once (at least 1). A caller waits at most
    /// `params.queue_timeout_ms` for one.
    pub fn new(params: HashParams, permits: usize) -> Self {
        let size = permits.max(1);
        Self {
            dummy: hashing::dummy_hash(&params),
            params,
            permits: Arc::new(Permits {
                state: Mutex::new(State {
                    free: size,
                    idle_paused_until: None,
                    idle_holders: Vec::new(),
                }),
                available: Condvar::new(),
                size,
                timeout: Duration::from_millis(params.queue_timeout_ms),
                waiting: AtomicUsize::new(0),
                refused: AtomicU64::new(0),
                held_micros: AtomicU64::new(0),
                memory: Mutex::new(Vec::new()),
            }),
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
        self.permits.size
    }

    /// How many permits are taken now: hashes running (a metric).
    pub fn in_use(&self) -> usize {
        self.permits.size.saturating_sub(self.permits.state().free)
    }

    /// How many callers were refused with [`HashError::Busy`] so far (a metric).
    pub fn refused(&self) -> u64 {
        self.permits.refused.load(Ordering::Relaxed)
    }

    /// How many verifications (real and dummy) this hasher and its clones have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Takes one permit, as a hash would but without lowering the calling thread, until the
    /// result is dropped: what a test holds to fill the queue (or anything that must keep a
    /// hash's share of the cores and memory free).
    pub fn hold_permit(&self) -> Result<HeldPermit<'_>, HashError> {
        self.permits.acquire(false).map(|permit| HeldPermit { _permit: permit })
    }

    pub fn hash(&self, secret: &str, random: &dyn Random) -> Result<SecretHash, HashError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let mut permit = self.permits.acquire(true)?;
        hashing::hash_secret_with(&mut permit.memory, secret, &self.params, &salt)
    }

    pub fn verify(&self, hash: &SecretHash, secret: &str) -> Result<Verified, HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut permit = self.permits.acquire(true)?;
        hashing::verify_secret_with(&mut permit.memory, hash, secret, &self.params)
    }

    /// [`Hasher::verify`] at the calling thread's own priority, not lowered: for the one
    /// verification many requests depend on (the refresh of a hot Basic credential, which a
    /// host kept busy by those very requests would otherwise starve at `SCHED_IDLE`). Still
    /// under the permits and their bounded wait.
    pub fn verify_promptly(&self, hash: &SecretHash, secret: &str) -> Result<Verified, HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut permit = self.permits.acquire(false)?;
        hashing::verify_secret_with(&mut permit.memory, hash, secret, &self.params)
    }

    /// Spends the cost of one verification without a user, so an unknown username answers as
    /// slowly as a wrong password; [`HashError::Busy`] when no permit came free in time, as
    /// [`Hasher::verify`] would answer for a known user (callers should pass it on, so that a
    /// refusal tells nothing about whether the user exists).
    pub fn try_verify_dummy(&self, secret: &str) -> Result<(), HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut permit = self.permits.acquire(true)?;
        let _ = hashing::verify_secret_with(&mut permit.memory, &self.dummy, secret, &self.params);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    const SMALL: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        ..HashParams::DEFAULT
    };

    #[test]
    fn working_memory_is_one_per_permit_and_reused() {
        let hasher = Hasher::new(SMALL, 2);
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
        assert_eq!(hasher.permits.state().free, 2);
        assert_eq!(hasher.refused(), 0);
    }

    /// With every permit held, a hash, a verification and a dummy verification each wait the
    /// queue timeout and are refused, with nothing run; a permit given back within the timeout
    /// serves a waiter.
    #[test]
    fn a_wait_for_a_permit_ends_with_busy_after_the_queue_timeout() {
        let hasher = Hasher::new(
            HashParams {
                queue_timeout_ms: 100,
                ..SMALL
            },
            2,
        );
        let hash = hasher.hash("secret", &OsRandom).unwrap();
        let held = (hasher.hold_permit().unwrap(), hasher.hold_permit().unwrap());
        assert_eq!(hasher.in_use(), 2);
        let verifications = hasher.verifications();
        let started = Instant::now();
        let refused = hasher.verify(&hash, "secret");
        let waited = started.elapsed();
        let Err(HashError::Busy { retry_after_seconds }) = refused else {
            panic!("{refused:?}")
        };
        assert!((1..=MAX_RETRY_AFTER_SECONDS).contains(&retry_after_seconds));
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(matches!(hasher.hash("x", &OsRandom), Err(HashError::Busy { .. })));
        assert!(matches!(hasher.try_verify_dummy("x"), Err(HashError::Busy { .. })));
        assert!(matches!(hasher.hold_permit(), Err(HashError::Busy { .. })));
        assert_eq!(hasher.refused(), 4);
        assert_eq!(hasher.queue_len(), 0);
        assert_eq!(hasher.verifications(), verifications + 2, "counted, not run");

        // Given back within the timeout: the waiter is served.
        let patient = Hasher::new(
            HashParams {
                queue_timeout_ms: 10_000,
                ..SMALL
            },
            1,
        );
        let hash = patient.hash("secret", &OsRandom).unwrap();
        let permit = patient.hold_permit().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| patient.verify(&hash, "secret"));
            while patient.queue_len() == 0 {
                std::thread::yield_now();
            }
            drop(permit);
            assert!(waiter.join().unwrap().unwrap().matches);
        });
        drop(held);
        assert!(hasher.verify(&hash, "secret").is_ok());
        assert_eq!(hasher.permits.state().free, 2);
    }

    /// 0 ms: refused at once when every permit is taken.
    #[test]
    fn a_queue_timeout_of_zero_refuses_at_once() {
        let hasher = Hasher::new(
            HashParams {
                queue_timeout_ms: 0,
                ..SMALL
            },
            1,
        );
        assert!(hasher.hash("x", &OsRandom).is_ok());
        let _held = hasher.hold_permit().unwrap();
        let started = Instant::now();
        assert!(matches!(hasher.hash("x", &OsRandom), Err(HashError::Busy { .. })));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn retry_after_follows_the_queue_at_the_recent_pace() {
        let hasher = Hasher::new(SMALL, 2);
        assert_eq!(hasher.permits.retry_after(), 1, "nothing measured yet");
        hasher.permits.held_micros.store(400_000, Ordering::Relaxed);
        hasher.permits.waiting.store(8, Ordering::Relaxed);
        // (8 waiting + 2 hashing) × 0.4 s / 2 permits.
        assert_eq!(hasher.permits.retry_after(), 2);
        hasher.permits.held_micros.store(30_000_000, Ordering::Relaxed);
        assert_eq!(hasher.permits.retry_after(), MAX_RETRY_AFTER_SECONDS);
    }

    /// The policy and niceness of the calling thread, read back through the crates.
    #[cfg(target_os = "linux")]
    fn schedule() -> (thread_priority::ThreadSchedulePolicy, i32) {
        (
            thread_priority::thread_schedule_policy().unwrap(),
            rustix::process::getpriority_process(None).unwrap(),
        )
    }

    /// Whether this process has CAP_SYS_NICE (bit 23 of `CapEff`), which lets any thread go back
    /// from SCHED_IDLE: then the hasher must use it.
    #[cfg(target_os = "linux")]
    fn has_cap_sys_nice() -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let effective = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap();
        u64::from_str_radix(effective.trim(), 16).unwrap() & (1 << 23) != 0
    }

    /// A thread holds its permit at SCHED_IDLE (or, where that can't be undone here, at
    /// HASHING_NICENESS) and has its own policy and niceness back afterwards; after a refusal,
    /// hashing pauses SCHED_IDLE for niceness. A permit held by `hold_permit` lowers nothing.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_hashes_at_sched_idle_and_gets_its_own_back() {
        use thread_priority::{NormalThreadSchedulePolicy as Normal, ThreadSchedulePolicy as Policy};
        // A thread of its own: the test harness's may be reused by other tests.
        std::thread::spawn(|| {
            let hasher = Hasher::new(
                HashParams {
                    queue_timeout_ms: 10,
                    ..SMALL
                },
                1,
            );
            let before = schedule();
            assert_eq!(before.0, Policy::Normal(Normal::Other));
            if has_cap_sys_nice() {
                assert_eq!(lowering(), Lowering::Idle, "with CAP_SYS_NICE, SCHED_IDLE is used");
            }
            let during = {
                let _permit = hasher.permits.acquire(true).unwrap();
                schedule()
            };
            assert_eq!(schedule(), before, "put back");
            match lowering() {
                Lowering::Idle => assert_eq!(during.0, Policy::Normal(Normal::Idle)),
                Lowering::Niceness => assert_eq!(during, (before.0, HASHING_NICENESS.max(before.1))),
                Lowering::None => {
                    eprintln!("this process can't lower a thread and raise it back: nothing to check");
                    assert_eq!(during, before);
                    return;
                }
            }
            {
                let _held = hasher.hold_permit().unwrap();
                assert_eq!(schedule(), before, "a held permit lowers nothing");
                assert!(matches!(hasher.permits.acquire(true), Err(HashError::Busy { .. })));
            }
            let paused = {
                let _permit = hasher.permits.acquire(true).unwrap();
                schedule()
            };
            assert_eq!(
                paused,
                (before.0, HASHING_NICENESS.max(before.1)),
                "niceness after a refusal"
            );
            assert_eq!(schedule(), before);
            // The pause ends.
            hasher.permits.state().idle_paused_until = Some(Instant::now());
            let _permit = hasher.permits.acquire(true).unwrap();
            assert_eq!(schedule().0, during.0);
        })
        .join()
        .unwrap();
    }

    /// A caller that has waited half of its time promotes the thread hashing at SCHED_IDLE to
    /// SCHED_OTHER at HASHING_NICENESS (what a busy host would otherwise starve); the promoted
    /// thread gets its own priority back when it gives the permit back, and the caller's
    /// niceness is untouched.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_waiter_promotes_a_hash_starved_at_sched_idle() {
        use std::sync::mpsc;
        use thread_priority::{NormalThreadSchedulePolicy as Normal, ThreadSchedulePolicy as Policy};
        if lowering() != Lowering::Idle {
            eprintln!("this process can't use SCHED_IDLE: nothing to promote");
            return;
        }
        let hasher = Hasher::new(
            HashParams {
                queue_timeout_ms: 200,
                ..SMALL
            },
            1,
        );
        let (holding, held) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = {
            let hasher = hasher.clone();
            std::thread::spawn(move || {
                let before = schedule();
                let during = {
                    let _permit = hasher.permits.acquire(true).unwrap();
                    holding.send(schedule()).unwrap();
                    released.recv().unwrap();
                    schedule()
                };
                (before, during, schedule())
            })
        };
        assert_eq!(held.recv().unwrap().0, Policy::Normal(Normal::Idle));
        let own = schedule();
        assert!(matches!(hasher.permits.acquire(true), Err(HashError::Busy { .. })));
        assert_eq!(schedule(), own, "the caller's own priority is untouched");
        release.send(()).unwrap();
        let (before, promoted, after) = holder.join().unwrap();
        assert_eq!(promoted, (Policy::Normal(Normal::Other), HASHING_NICENESS));
        assert_eq!(after, before, "put back");
        assert!(hasher.permits.state().idle_holders.is_empty());
    }

    /// From SCHED_BATCH at niceness 3, a hashing thread comes back to exactly that.
    #[cfg(target_os = "linux")]
    #[test]
    fn another_normal_policy_and_niceness_come_back_too() {
        use thread_priority::{
            NormalThreadSchedulePolicy as Normal, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy as Policy,
            set_thread_priority_and_policy, thread_native_id,
        };
        std::thread::spawn(|| {
            if lowering() == Lowering::None {
                return;
            }
            let batch = Policy::Normal(Normal::Batch);
            let three = (0..=*ThreadPriorityValue::MAX)
                .filter_map(|v| ThreadPriorityValue::try_from(v).ok())
                .map(ThreadPriority::Crossplatform)
                .find(|p| p.to_posix(batch) == Ok(3))
                .unwrap();
            set_thread_priority_and_policy(thread_native_id(), three, batch).unwrap();
            assert_eq!(schedule(), (batch, 3));
            let hasher = Hasher::new(SMALL, 1);
            assert!(hasher.hash("x", &OsRandom).is_ok());
            assert_eq!(schedule(), (batch, 3));
        })
        .join()
        .unwrap();
    }
}
