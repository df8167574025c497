//! Importing users, a batch at a time: existing usernames are left alone, plaintext passwords are
//! hashed on the hasher's permits, and each batch is written in one transaction (row by row when
//! one of its rows fails).

use super::convert::{Credential, PreparedUser, user_record};
use super::{ImportReport, Kind, Location, Record, RecordError};
use crate::hasher::Hasher;
use crate::random::Random;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::DepartmentName;
use accountd_domain::level::Role;
use accountd_domain::ports::{Repository, Store, StoreError};
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::secret::{Password, SecretHash};
use accountd_domain::user::{DepartmentKey, User};
use accountd_policy::hashing::HashError;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The actor name of the import's audit events.
const ACTOR: &str = "import";

/// Why the write of one user failed.
enum WriteError {
    /// The user's department is neither in their group nor at their tenant's level.
    NoDepartment,
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(err: StoreError) -> Self {
        WriteError::Store(err)
    }
}

impl WriteError {
    fn into_record_error(self) -> RecordError {
        match self {
            WriteError::NoDepartment | WriteError::Store(StoreError::NotFound("department")) => {
                RecordError::NoDepartment
            }
            WriteError::Store(err) => err.into(),
        }
    }
}

impl<S: Store> Services<S> {
    /// Imports one batch of user records; `run` is the run's request id for audit events.
    pub(super) fn import_users(
        &self,
        chunk: &[(Location, Record)],
        run: &str,
        report: &mut ImportReport,
    ) -> ServiceResult<()> {
        let mut prepared = Vec::with_capacity(chunk.len());
        for (location, record) in chunk {
            match user_record(*location, record, self.random.as_ref()) {
                Ok(user) => prepared.push(user),
                Err(error) => report.fail(*location, Some(Kind::User), error),
            }
        }
        // Existing usernames are unchanged (or refused when they are someone else placed elsewhere).
        let existing: Vec<Option<User>> = self.store.read(|repo| {
            prepared
                .iter()
                .map(|p| repo.user_by_username(&p.user.username))
                .collect()
        })?;
        let mut fresh = Vec::with_capacity(prepared.len());
        let mut seen = HashSet::new();
        for (user, found) in prepared.into_iter().zip(existing) {
            match found {
                Some(existing) if existing.role == user.user.role => report.unchanged(Kind::User),
                Some(_) => report.fail(user.location, Some(Kind::User), RecordError::UsernameElsewhere),
                None if !seen.insert(user.user.username.clone()) => {
                    report.fail(user.location, Some(Kind::User), RecordError::UsernameTwice)
                }
                None => fresh.push(user),
            }
        }
        let mut failed = hash_passwords(&self.hasher, self.random.as_ref(), &mut fresh);
        // Highest index first, so that each removal leaves the lower indices in place.
        failed.sort_by(|(a, _), (b, _)| b.cmp(a));
        for (i, err) in failed {
            let user = fresh.remove(i);
            report.fail(user.location, Some(Kind::User), RecordError::Hashing(err));
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let history = self.config.password.history;
        let now = self.clock.now();
        let ctx = RequestContext {
            request_id: Some(run.to_owned()),
            ..RequestContext::default()
        };
        let write_one = |repo: &mut dyn Repository, user: &PreparedUser| -> Result<(), WriteError> {
            let mut new = user.user.clone();
            if let Some(name) = &user.department {
                new.profile.department = Some(resolve_department(repo, &new.role, name)?);
            }
            let created = repo.create_user(&new, now)?;
            if let Credential::Hash(hash) = &user.credential {
                repo.set_password(created.key, hash, user.first_login, history, now)?;
            }
            if let Some(endpoint) = &user.endpoint {
                repo.set_endpoint(created.key, Some(endpoint))?;
            }
            if let Some((sealed, last_step)) = &user.totp {
                repo.put_totp_factor(&accountd_domain::records::TotpFactor {
                    user: created.key,
                    sealed: sealed.clone(),
                    created_at: now,
                    confirmed_at: Some(now),
                    last_step: *last_step,
                })?;
            }
            for passkey in &user.passkeys {
                repo.add_passkey(&accountd_domain::records::NewPasskey {
                    user: created.key,
                    ..passkey.clone()
                })?;
            }
            if !user.recovery_codes.is_empty() {
                repo.replace_recovery_codes(created.key, &user.recovery_codes, now)?;
            }
            let event = self.tool_audit_event(
                ACTOR,
                Some(created.key),
                AuditAction::UserCreate,
                vec![],
                AuditOutcome::Success,
                &ctx,
            );
            Ok(self.record(repo, &event)?)
        };
        // The whole batch in one transaction; on any failure, row by row.
        let batch = self.store.write(|repo| {
            for user in &fresh {
                write_one(repo, user)?;
            }
            Ok::<_, WriteError>(())
        });
        match batch {
            Ok(()) => {
                for _ in &fresh {
                    report.created(Kind::User);
                }
            }
            // The store can't be used at all: the import stops.
            Err(WriteError::Store(err @ StoreError::Unavailable(_))) => return Err(ServiceError::Store(err)),
            Err(_) => {
                for user in &fresh {
                    match self.store.write(|repo| write_one(repo, user)) {
                        Ok(()) => report.created(Kind::User),
                        Err(WriteError::Store(err @ StoreError::Unavailable(_))) => {
                            return Err(ServiceError::Store(err));
                        }
                        Err(err) => report.fail(user.location, Some(Kind::User), err.into_record_error()),
                    }
                }
            }
        }
        Ok(())
    }
}

/// The department `name` of a user with `role`: their group's department of that name, else their
/// tenant's tenant-level one.
fn resolve_department(
    repo: &mut dyn Repository,
    role: &Role,
    name: &DepartmentName,
) -> Result<DepartmentKey, WriteError> {
    let tenant = role.tenant().ok_or(WriteError::NoDepartment)?;
    if let Some(group) = role.group() {
        let key = DepartmentKey {
            tenant: tenant.clone(),
            group: Some(group.clone()),
            name: name.clone(),
        };
        if repo.department(&key)?.is_some() {
            return Ok(key);
        }
    }
    let key = DepartmentKey {
        tenant: tenant.clone(),
        group: None,
        name: name.clone(),
    };
    if repo.department(&key)?.is_some() {
        Ok(key)
    } else {
        Err(WriteError::NoDepartment)
    }
}

/// Hashes the plaintext passwords of `users` on as many threads as `hasher` has permits; returns
/// the index of each user whose password could not be hashed, with why.
fn hash_passwords(hasher: &Hasher, random: &dyn Random, users: &mut [PreparedUser]) -> Vec<(usize, HashError)> {
    let jobs: Vec<(usize, Password)> = users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| match &u.credential {
            Credential::Plain(p) => Some((i, p.clone())),
            _ => None,
        })
        .collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Result<SecretHash, HashError>)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..hasher.permits().min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, password)) = jobs.get(n) else { break };
                    let hashed = hasher.hash(password.expose(), random);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push((*i, hashed));
                }
            });
        }
    });
    let mut failures = Vec::new();
    for (i, hashed) in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match hashed {
            Ok(hash) => users[i].credential = Credential::Hash(hash),
            Err(err) => failures.push((i, err)),
        }
    }
    failures
}
