//! The import and export use cases (`accountd import FILE`, `accountd export FILE`): tenants,
//! groups, departments, devices and users (with their password hash and main endpoint) in one flat
//! record format, [`Record`] (docs/import.md). Reading and writing files (CSV, JSON) is the
//! binary's; this module owns the format, the conversion to domain values, and the writes.
//!
//! - Import is idempotent: a record whose natural key exists (tenant id; tenant and group id;
//!   department name in its tenant/group; device name at its level and owner; username) is left as
//!   it is and counted `unchanged`. It never modifies an existing record.
//! - Records are applied kind by kind (tenants, groups, departments parents first, devices, users),
//!   whatever their order in the file. A bad record is reported with its place (CSV line, JSON
//!   index) and a [`RecordError`]; the good ones are kept.
//! - Users are written in transactions of [`BATCH`] rows. When one row of a batch fails, the batch
//!   is rolled back and its rows are written one transaction each, so a bad row leaves nothing
//!   behind and the good ones are kept. Each created user gets a `user_create` audit event whose
//!   actor is `import` and whose request id names the run.
//! - A plaintext `password` is hashed with the configured argon2id parameters, on as many threads
//!   as the hasher has permits, and not checked against the password policy (the user gets
//!   `first_login`, so clients ask for a change); a `password_hash` (ours, or Django's `argon2$…` /
//!   `pbkdf2_sha256$…`) is stored as it is and upgraded at the user's next login.
//! - Export writes the same format. It never has a plaintext password: hashes go to
//!   `password_hash`.

mod convert;
mod error;
mod export;
mod record;
mod users;

pub use error::RecordError;
pub use record::{CSV_COLUMNS, Kind, Record};

use crate::{ServiceResult, Services};
use accountd_domain::endpoint::Device;
use accountd_domain::ports::{Store, StoreError};
use convert::{departments_parents_first, device_record, group_record, tenant_record};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Users written per transaction (and read per page by export).
pub const BATCH: usize = 500;

/// How far an import or export is, for whoever shows it (the binary's progress bar). Every method
/// does nothing unless implemented.
pub trait Progress {
    /// The run has this many records in all.
    fn total(&self, _records: u64) {}
    /// This many more records are done.
    fn advance(&self, _records: u64) {}
    /// The run moved on to this stage (`tenants`, `users`, …; empty when done).
    fn stage(&self, _name: &str) {}
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Where a record is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// A CSV record, by the line it starts on (the header is line 1).
    Line(u64),
    /// A JSON record, by its index in the array (from 0).
    Index(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Index(n) => write!(f, "index {n}"),
        }
    }
}

/// A refused record: where, of which kind (when it could be read), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub location: Location,
    pub kind: Option<Kind>,
    pub error: RecordError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(kind) => write!(f, "{}: {}: {}", self.location, kind.as_str(), self.error),
            None => write!(f, "{}: {}", self.location, self.error),
        }
    }
}

/// A record as read, or why the file's reader could not make one of it (its text names the
/// column, never the value).
#[derive(Debug, Clone)]
pub struct Located {
    pub location: Location,
    pub record: Result<Record, String>,
}

/// What an import did, by kind, and every refused record with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: BTreeMap<Kind, u64>,
    pub unchanged: BTreeMap<Kind, u64>,
    /// Refused records, by place in the file.
    pub failed: Vec<Failure>,
}

impl ImportReport {
    pub fn created_total(&self) -> u64 {
        self.created.values().sum()
    }

    pub fn unchanged_total(&self) -> u64 {
        self.unchanged.values().sum()
    }

    /// How many records of `kind` were refused.
    pub fn failed_of(&self, kind: Kind) -> usize {
        self.failed.iter().filter(|f| f.kind == Some(kind)).count()
    }

    fn created(&mut self, kind: Kind) {
        *self.created.entry(kind).or_default() += 1;
    }

    fn unchanged(&mut self, kind: Kind) {
        *self.unchanged.entry(kind).or_default() += 1;
    }

    fn fail(&mut self, location: Location, kind: Option<Kind>, error: RecordError) {
        self.failed.push(Failure { location, kind, error });
    }

    /// Counts a record that was created (`true`), already there (`false`) or refused.
    fn tally(&mut self, location: Location, kind: Kind, result: Result<bool, RecordError>) {
        match result {
            Ok(true) => self.created(kind),
            Ok(false) => self.unchanged(kind),
            Err(error) => self.fail(location, Some(kind), error),
        }
    }
}

impl<S: Store> Services<S> {
    /// Imports `rows`: see the module documentation. Only a store that can't be used at all is an
    /// error; everything else is in the [`ImportReport`].
    pub fn import(&self, rows: Vec<Located>, progress: &dyn Progress) -> ServiceResult<ImportReport> {
        let mut report = ImportReport::default();
        let mut by_kind: BTreeMap<Kind, Vec<(Location, Record)>> = BTreeMap::new();
        for row in rows {
            let checked = row.record.map_err(RecordError::Unreadable).and_then(|record| {
                let kind = record.kind.ok_or(RecordError::KindRequired)?;
                let stray: Vec<String> = record.filled().into_iter().filter(|f| !kind.allows(f)).collect();
                if stray.is_empty() {
                    Ok((kind, record))
                } else {
                    Err(RecordError::StrayColumns { kind, columns: stray })
                }
            });
            match checked {
                Ok((kind, record)) => by_kind.entry(kind).or_default().push((row.location, record)),
                Err(error) => {
                    let kind = match &error {
                        RecordError::StrayColumns { kind, .. } => Some(*kind),
                        _ => None,
                    };
                    report.fail(row.location, kind, error);
                    progress.advance(1);
                }
            }
        }
        let mut take = |kind| by_kind.remove(&kind).unwrap_or_default();
        let (tenants, groups, departments, devices, users) = (
            take(Kind::Tenant),
            take(Kind::Group),
            take(Kind::Department),
            take(Kind::Device),
            take(Kind::User),
        );

        progress.stage("tenants");
        for (location, record) in tenants {
            let result = tenant_record(&record).and_then(|(id, name)| {
                self.store.write(|repo| {
                    if repo.tenant(&id)?.is_some() {
                        return Ok(false);
                    }
                    repo.ensure_tenant(&id, &name)?;
                    Ok(true)
                })
            });
            report.tally(location, Kind::Tenant, result);
            progress.advance(1);
        }

        progress.stage("groups");
        for (location, record) in groups {
            let result = group_record(&record).and_then(|(tenant, id, name)| {
                self.store.write(|repo| {
                    if repo.tenant(&tenant)?.is_none() {
                        return Err(RecordError::Missing("tenant"));
                    }
                    if repo.group(&tenant, &id)?.is_some() {
                        return Ok(false);
                    }
                    repo.ensure_group(&tenant, &id, &name)?;
                    Ok(true)
                })
            });
            report.tally(location, Kind::Group, result);
            progress.advance(1);
        }

        progress.stage("departments");
        for (location, result) in departments_parents_first(departments) {
            let result = result.and_then(|department| {
                self.store
                    .write(|repo| {
                        if repo.department(&department.key)?.is_some() {
                            return Ok(false);
                        }
                        repo.ensure_department(&department)?;
                        Ok(true)
                    })
                    .map_err(|e: StoreError| match e {
                        StoreError::NotFound("department") => RecordError::NoParent,
                        StoreError::Conflict("department") => RecordError::TooDeep,
                        other => other.into(),
                    })
            });
            report.tally(location, Kind::Department, result);
            progress.advance(1);
        }

        progress.stage("devices");
        let mut known_devices: HashSet<Device> = self.store.read(|repo| repo.list_devices())?.into_iter().collect();
        for (location, record) in devices {
            let result = device_record(&record).and_then(|device| {
                if known_devices.contains(&device) {
                    return Ok(false);
                }
                self.store.write(|repo| repo.ensure_device(&device))?;
                known_devices.insert(device);
                Ok(true)
            });
            report.tally(location, Kind::Device, result);
            progress.advance(1);
        }

        progress.stage("users");
        let run = format!("import-{}", convert::new_uuid(self.random.as_ref()));
        for chunk in users.chunks(BATCH) {
            self.import_users(chunk, &run, &mut report)?;
            progress.advance(chunk.len() as u64);
        }
        progress.stage("");
        report.failed.sort_by_key(|f| f.location);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceConfig;
    use crate::hasher::Hasher;
    use accountd_domain::ids::Username;
    use accountd_domain::ports::{Random, SystemClock};
    use accountd_domain::records::AuditAction;
    use accountd_policy::hashing::HashParams;
    use accountd_storage::testing::TestDatabase;
    use accountd_upstream::DisabledUpstream;
    use std::sync::{Arc, Mutex};

    /// The same bytes every time: UUIDs that a test can name.
    struct Sevens;

    impl Random for Sevens {
        fn fill(&self, dest: &mut [u8]) {
            dest.fill(7);
        }
    }

    #[derive(Default)]
    struct Recorded {
        done: Mutex<u64>,
        stages: Mutex<Vec<String>>,
    }

    impl Progress for Recorded {
        fn advance(&self, records: u64) {
            *self.done.lock().unwrap() += records;
        }
        fn stage(&self, name: &str) {
            self.stages.lock().unwrap().push(name.to_owned());
        }
    }

    fn row(index: usize, record: Record) -> Located {
        Located {
            location: Location::Index(index),
            record: Ok(record),
        }
    }

    #[test]
    fn an_import_audits_each_user_as_the_import_run_and_reports_progress() {
        let db = TestDatabase::sqlite();
        let cheap = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            ..HashParams::DEFAULT
        };
        let services = Services::new(
            db.database().clone(),
            Arc::new(DisabledUpstream),
            Arc::new(SystemClock),
            Arc::new(Sevens),
            Hasher::new(cheap, 2),
            ServiceConfig::default(),
        )
        .unwrap();
        let rows = vec![
            row(
                0,
                Record {
                    kind: Some(Kind::User),
                    tenant: Some("T".into()),
                    group: Some("G".into()),
                    username: Some("ann".into()),
                    first_name: Some("Ann".into()),
                    last_name: Some("Lee".into()),
                    password: Some("Initial-Passw0rd!".into()),
                    ..Record::default()
                },
            ),
            row(
                1,
                Record {
                    kind: Some(Kind::Group),
                    tenant: Some("T".into()),
                    group: Some("G".into()),
                    ..Record::default()
                },
            ),
            row(
                2,
                Record {
                    kind: Some(Kind::Tenant),
                    tenant: Some("T".into()),
                    ..Record::default()
                },
            ),
            row(
                3,
                Record {
                    kind: Some(Kind::Tenant),
                    username: Some("stray".into()),
                    ..Record::default()
                },
            ),
            Located {
                location: Location::Index(4),
                record: Err("unknown field `nickname`".into()),
            },
        ];
        let progress = Recorded::default();
        let report = services.import(rows, &progress).unwrap();
        assert_eq!(report.created_total(), 3, "{report:?}");
        let failures: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
        assert_eq!(
            failures,
            [
                "index 3: tenant: username not allowed in a tenant record",
                "index 4: unknown field `nickname`",
            ]
        );
        assert_eq!(*progress.done.lock().unwrap(), 5);
        assert_eq!(
            *progress.stages.lock().unwrap(),
            ["tenants", "groups", "departments", "devices", "users", ""]
        );

        let sevens = uuid::Builder::from_random_bytes([7; 16]).into_uuid();
        let (ann, events) = db
            .database()
            .read(|repo| {
                let ann = repo.user_by_username(&Username::parse("ann").unwrap())?.unwrap();
                let events = repo.recent_audit(Some(ann.key), 10)?;
                Ok::<_, StoreError>((ann, events))
            })
            .unwrap();
        assert_eq!(ann.uuid, sevens, "a new user's UUID comes from the Random port");
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event.action, AuditAction::UserCreate);
        assert_eq!(event.actor, None);
        assert_eq!(event.actor_name.as_deref(), Some("import"));
        assert_eq!(
            event.request_id,
            Some(format!("import-{sevens}")),
            "one request id per run"
        );
    }
}
