//! `accountd import FILE` and `accountd export FILE`: tenants, groups, departments, devices and
//! users (with their password hash and main endpoint) in one flat record format, as CSV or JSON
//! (docs/import.md).
//!
//! - Import is idempotent: a record whose natural key exists (tenant id; tenant and group id;
//!   department name in its tenant/group; device name at its level and owner; username) is left as
//!   it is and counted `unchanged`. It never modifies an existing record.
//! - Records are applied kind by kind (tenants, groups, departments parents first, devices, users),
//!   whatever their order in the file. A bad record is reported with its place (CSV line, JSON
//!   index) and reason; the good ones are kept.
//! - Users are written in transactions of [`BATCH`] rows. When one row of a batch fails, the batch
//!   is rolled back and its rows are written one transaction each, so a bad row leaves nothing
//!   behind and the good ones are kept.
//! - A plaintext `password` is hashed with the configured argon2id parameters, on as many threads
//!   as the hasher has permits, and not checked against the password policy (the user gets
//!   `first_login`, so clients ask for a change); a `password_hash` (ours, or Django's `argon2$…` /
//!   `pbkdf2_sha256$…`) is stored as it is and upgraded at the user's next login.
//! - Export writes the same format. It never has a plaintext password: hashes go to
//!   `password_hash`.

use accountd_domain::InvalidValue;
use accountd_domain::endpoint::{
    AccessDeviceEndpoint, Contact, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint, TrunkEndpoint,
};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId, Username};
use accountd_domain::level::{GroupMember, Role, UserLevel};
use accountd_domain::ports::{PageRequest, Repository, Store, StoreError};
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome, NewDepartment};
use accountd_domain::secret::{Password, SecretHash};
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{AccountState, AccountType, DepartmentKey, NewProfile, NewUser, Profile, User};
use accountd_policy::hashing;
use accountd_service::Services;
use accountd_service::hasher::Hasher;
use accountd_service::random::OsRandom;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Users written per transaction.
pub const BATCH: usize = 500;

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `explicit`, else the file's extension (`.csv`, `.json`).
    pub fn of(path: &Path, explicit: Option<Format>) -> Result<Format> {
        if let Some(format) = explicit {
            return Ok(format);
        }
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            _ => bail!(
                "cannot tell the format of {} from its extension: name it .csv or .json, or pass --format",
                path.display()
            ),
        }
    }
}

/// What a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tenant,
    Group,
    Department,
    Device,
    User,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Tenant, Kind::Group, Kind::Department, Kind::Device, Kind::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Group => "group",
            Kind::Department => "department",
            Kind::Device => "device",
            Kind::User => "user",
        }
    }

    /// The columns a record of this kind may fill (besides `kind`).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Tenant => &["tenant", "name"],
            Kind::Group => &["tenant", "group", "name"],
            Kind::Department => &["tenant", "group", "name", "parent"],
            Kind::Device => &["tenant", "group", "name", "device_level"],
            Kind::User => &USER_COLUMNS,
        }
    }
}

const USER_COLUMNS: [&str; 34] = [
    "tenant",
    "group",
    "username",
    "level",
    "user_id",
    "uuid",
    "first_name",
    "last_name",
    "email",
    "cli_first_name",
    "cli_last_name",
    "phone_number",
    "extension",
    "cli_phone_number",
    "language",
    "time_zone",
    "mobile",
    "description",
    "image",
    "network_class_of_service",
    "department",
    "admin_department",
    "enabled",
    "state",
    "account_type",
    "password",
    "password_hash",
    "first_login",
    "device",
    "device_level",
    "line_port",
    "line_number",
    "endpoint",
    "contacts",
];

/// One record of an import or export file: a flat row whose `kind` says which columns apply
/// (docs/import.md lists them). CSV has one column per field; JSON an array of objects with the
/// same member names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_class_of_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_login: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_number: Option<u16>,
    /// `access` (the default) or `trunk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// SIP contacts of the endpoint, separated by spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<String>,
}

/// The CSV header, in the order export writes it: every field of [`Record`].
pub const CSV_COLUMNS: [&str; 37] = [
    "kind",
    "tenant",
    "group",
    "name",
    "parent",
    "username",
    "level",
    "user_id",
    "uuid",
    "first_name",
    "last_name",
    "email",
    "cli_first_name",
    "cli_last_name",
    "phone_number",
    "extension",
    "cli_phone_number",
    "language",
    "time_zone",
    "mobile",
    "description",
    "image",
    "network_class_of_service",
    "department",
    "admin_department",
    "enabled",
    "state",
    "account_type",
    "password",
    "password_hash",
    "first_login",
    "device",
    "device_level",
    "line_port",
    "line_number",
    "endpoint",
    "contacts",
];

fn csv_columns() -> &'static [&'static str] {
    &CSV_COLUMNS
}

impl Record {
    /// The names of the fields this record fills (but `kind`), empty text counting as unset.
    fn filled(&self) -> Vec<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .filter(|(k, v)| k != "kind" && !v.is_null() && v.as_str() != Some(""))
                .map(|(k, _)| k)
                .collect(),
            _ => Vec::new(),
        }
    }
}

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

/// A record as read, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Located {
    pub location: Location,
    pub record: Result<Record, String>,
}

/// Reads every record of `path`. A record that can't be read is kept as an error at its place; a
/// file that can't be read at all (missing, not CSV/JSON, unknown column) is an error.
pub fn read_file(path: &Path, format: Format) -> Result<Vec<Located>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    match format {
        Format::Csv => read_csv(std::io::BufReader::new(file)),
        Format::Json => read_json(std::io::BufReader::new(file)),
    }
    .with_context(|| format!("reading {}", path.display()))
}

fn read_csv(reader: impl std::io::Read) -> Result<Vec<Located>> {
    let mut csv = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
    let headers = csv.headers().context("reading the CSV header")?.clone();
    for column in &headers {
        if !csv_columns().contains(&column) {
            bail!("unknown column {column:?} in the CSV header (docs/import.md lists the columns)");
        }
    }
    if !headers.iter().any(|h| h == "kind") {
        bail!("the CSV header has no \"kind\" column");
    }
    let mut out = Vec::new();
    for (i, row) in csv.records().enumerate() {
        match row {
            Ok(row) => {
                let line = row.position().map_or(i as u64 + 2, csv::Position::line);
                let record = row
                    .deserialize::<Record>(Some(&headers))
                    .map_err(|e| csv_error_text(&e));
                out.push(Located {
                    location: Location::Line(line),
                    record,
                });
            }
            Err(err) => {
                let line = err.position().map_or(i as u64 + 2, csv::Position::line);
                out.push(Located {
                    location: Location::Line(line),
                    record: Err(csv_error_text(&err)),
                });
            }
        }
    }
    Ok(out)
}

/// A CSV error without its position (the caller reports that) nor the offending value (it may be a
/// password).
fn csv_error_text(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("column {}: {}", field + 1, deserialize_kind(err.kind())),
            None => deserialize_kind(err.kind()),
        },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        _ => "unreadable record".into(),
    }
}

fn deserialize_kind(kind: &csv::DeserializeErrorKind) -> String {
    match kind {
        csv::DeserializeErrorKind::ParseBool(_) => "expected true or false".into(),
        csv::DeserializeErrorKind::ParseInt(_) => "expected a whole number in range".into(),
        csv::DeserializeErrorKind::Message(m) if m.starts_with("unknown variant") => {
            "kind must be one of tenant, group, department, device, user".into()
        }
        other => format!("{other}"),
    }
}

fn read_json(reader: impl std::io::Read) -> Result<Vec<Located>> {
    let values: Vec<serde_json::Value> =
        serde_json::from_reader(reader).context("the file must be a JSON array of objects")?;
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, value)| Located {
            location: Location::Index(i),
            // serde_json names the member but not its value.
            record: serde_json::from_value::<Record>(value).map_err(|e| e.to_string()),
        })
        .collect())
}

/// Writes `records` to `path` in `format`. The records carry password hashes, so the file is
/// readable by its owner only (see [`create_private`]).
pub fn write_file(path: &Path, format: Format, records: &[Record]) -> Result<()> {
    let file = create_private(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    match format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(csv_columns())?;
            for record in records {
                let value = serde_json::to_value(record)?;
                let row: Vec<String> = csv_columns()
                    .iter()
                    .map(|column| match value.get(*column) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                csv.write_record(&row)?;
            }
            csv.flush()?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, records)?;
            use std::io::Write as _;
            out.write_all(b"\n")?;
        }
    }
    use std::io::Write as _;
    out.flush().with_context(|| format!("writing {}", path.display()))
}

/// Opens `path` for writing, truncated: a new file is created with mode 0600, and an existing
/// regular file that the group or others may read is narrowed to 0600 before anything is written
/// to it. Anything else (a pipe, `/dev/stdout`) is written as it is.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        let metadata = file.metadata()?;
        if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// What an import did, by kind, and every refused record with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: BTreeMap<Kind, u64>,
    pub unchanged: BTreeMap<Kind, u64>,
    pub failed: Vec<Failure>,
}

/// A refused record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub location: Location,
    pub kind: Option<Kind>,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(kind) => write!(f, "{}: {}: {}", self.location, kind.as_str(), self.reason),
            None => write!(f, "{}: {}", self.location, self.reason),
        }
    }
}

impl Report {
    pub fn created_total(&self) -> u64 {
        self.created.values().sum()
    }

    pub fn unchanged_total(&self) -> u64 {
        self.unchanged.values().sum()
    }

    /// One line per kind and a total: `users: 2 created, 0 unchanged, 1 failed`.
    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for kind in Kind::ALL {
            let created = self.created.get(&kind).copied().unwrap_or(0);
            let unchanged = self.unchanged.get(&kind).copied().unwrap_or(0);
            let failed = self.failed.iter().filter(|f| f.kind == Some(kind)).count();
            if created + unchanged > 0 || failed > 0 {
                lines.push(format!(
                    "{:<12} {created} created, {unchanged} unchanged, {failed} failed",
                    format!("{}s:", kind.as_str())
                ));
            }
        }
        lines.push(format!(
            "{:<12} {} created, {} unchanged, {} failed",
            "total:",
            self.created_total(),
            self.unchanged_total(),
            self.failed.len()
        ));
        lines.join("\n")
    }

    fn created(&mut self, kind: Kind) {
        *self.created.entry(kind).or_default() += 1;
    }

    fn unchanged(&mut self, kind: Kind) {
        *self.unchanged.entry(kind).or_default() += 1;
    }

    fn fail(&mut self, location: Location, kind: Option<Kind>, reason: impl Into<String>) {
        self.failed.push(Failure {
            location,
            kind,
            reason: reason.into(),
        });
    }
}

/// A progress bar on standard error, hidden when that is not a terminal.
pub fn progress_bar(len: u64) -> ProgressBar {
    let terminal = std::io::stderr().is_terminal();
    let target = if terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if terminal {
        // Keeps the spinner and rate alive while a batch hashes passwords.
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

// ---------------------------------------------------------------------------------------------
// Import

/// Text of a field: `None` when unset or empty.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn required<'a>(value: &'a Option<String>, column: &str) -> Result<&'a str, String> {
    text(value).ok_or_else(|| format!("{column} is required"))
}

fn invalid(err: InvalidValue) -> String {
    err.to_string()
}

fn store_reason(err: &StoreError) -> String {
    match err {
        StoreError::Conflict(field) => format!("{field} is already taken"),
        StoreError::NotFound(what) => format!("no such {what}"),
        other => other.to_string(),
    }
}

/// Imports `rows`: see the module documentation. Only a store that can't be written at all is an
/// error; everything else is in the [`Report`].
pub fn import<S: Store>(services: &Services<S>, rows: Vec<Located>, progress: &ProgressBar) -> Result<Report> {
    let mut report = Report::default();
    let mut by_kind: BTreeMap<Kind, Vec<(Location, Record)>> = BTreeMap::new();
    for row in rows {
        match row.record {
            Err(reason) => {
                report.fail(row.location, None, reason);
                progress.inc(1);
            }
            Ok(record) => match record.kind {
                None => {
                    report.fail(row.location, None, "kind is required");
                    progress.inc(1);
                }
                Some(kind) => {
                    let stray: Vec<String> = record
                        .filled()
                        .into_iter()
                        .filter(|f| !kind.columns().contains(&f.as_str()))
                        .collect();
                    if stray.is_empty() {
                        by_kind.entry(kind).or_default().push((row.location, record));
                    } else {
                        report.fail(
                            row.location,
                            Some(kind),
                            format!("{} not allowed in a {} record", stray.join(", "), kind.as_str()),
                        );
                        progress.inc(1);
                    }
                }
            },
        }
    }
    let store = services.store();
    let mut take = |kind| by_kind.remove(&kind).unwrap_or_default();
    let tenants = take(Kind::Tenant);
    let groups = take(Kind::Group);
    let departments = take(Kind::Department);
    let devices = take(Kind::Device);
    let users = take(Kind::User);

    progress.set_message("tenants");
    for (location, record) in tenants {
        let result = tenant_record(&record).and_then(|(id, name)| {
            store
                .write(|repo| {
                    if repo.tenant(&id)?.is_some() {
                        return Ok(false);
                    }
                    repo.ensure_tenant(&id, &name)?;
                    Ok(true)
                })
                .map_err(|e: StoreError| store_reason(&e))
        });
        tally(&mut report, location, Kind::Tenant, result);
        progress.inc(1);
    }

    progress.set_message("groups");
    for (location, record) in groups {
        let result = group_record(&record).and_then(|(tenant, id, name)| {
            store
                .write(|repo| {
                    if repo.tenant(&tenant)?.is_none() {
                        return Err(StoreError::NotFound("tenant"));
                    }
                    if repo.group(&tenant, &id)?.is_some() {
                        return Ok(false);
                    }
                    repo.ensure_group(&tenant, &id, &name)?;
                    Ok(true)
                })
                .map_err(|e| store_reason(&e))
        });
        tally(&mut report, location, Kind::Group, result);
        progress.inc(1);
    }

    progress.set_message("departments");
    for (location, result) in departments_parents_first(departments) {
        let result = result.and_then(|department| {
            store
                .write(|repo| {
                    if repo.department(&department.key)?.is_some() {
                        return Ok(false);
                    }
                    repo.ensure_department(&department)?;
                    Ok(true)
                })
                .map_err(|e| match e {
                    StoreError::NotFound("department") => "no such parent department".to_owned(),
                    StoreError::Conflict("department") => "the parent chain is too deep".to_owned(),
                    other => store_reason(&other),
                })
        });
        tally(&mut report, location, Kind::Department, result);
        progress.inc(1);
    }

    progress.set_message("devices");
    let mut known_devices: HashSet<Device> = store.read(|repo| repo.list_devices())?.into_iter().collect();
    for (location, record) in devices {
        let result = device_record(&record).and_then(|device| {
            if known_devices.contains(&device) {
                return Ok(false);
            }
            store
                .write(|repo| repo.ensure_device(&device))
                .map_err(|e| store_reason(&e))?;
            known_devices.insert(device);
            Ok(true)
        });
        tally(&mut report, location, Kind::Device, result);
        progress.inc(1);
    }

    progress.set_message("users");
    let run = format!("import-{}", uuid::Uuid::new_v4());
    for chunk in users.chunks(BATCH) {
        import_users(services, chunk, &run, &mut report)?;
        progress.inc(chunk.len() as u64);
    }
    progress.set_message("");
    report.failed.sort_by_key(|f| f.location);
    Ok(report)
}

fn tally(report: &mut Report, location: Location, kind: Kind, result: Result<bool, String>) {
    match result {
        Ok(true) => report.created(kind),
        Ok(false) => report.unchanged(kind),
        Err(reason) => report.fail(location, Some(kind), reason),
    }
}

fn tenant_record(record: &Record) -> Result<(TenantId, Text), String> {
    let id = TenantId::parse(required(&record.tenant, "tenant")?).map_err(invalid)?;
    let name = Text::parse_for("name", text(&record.name).unwrap_or(id.as_str())).map_err(invalid)?;
    Ok((id, name))
}

fn group_record(record: &Record) -> Result<(TenantId, GroupId, Text), String> {
    let tenant = TenantId::parse(required(&record.tenant, "tenant")?).map_err(invalid)?;
    let id = GroupId::parse(required(&record.group, "group")?).map_err(invalid)?;
    let name = Text::parse_for("name", text(&record.name).unwrap_or(id.as_str())).map_err(invalid)?;
    Ok((tenant, id, name))
}

fn department_record(record: &Record) -> Result<NewDepartment, String> {
    let tenant = TenantId::parse(required(&record.tenant, "tenant")?).map_err(invalid)?;
    let group = text(&record.group).map(GroupId::parse).transpose().map_err(invalid)?;
    let name = DepartmentName::parse(required(&record.name, "name")?).map_err(invalid)?;
    let parent = text(&record.parent)
        .map(DepartmentName::parse)
        .transpose()
        .map_err(invalid)?;
    if parent.as_ref() == Some(&name) {
        return Err("a department can't be its own parent".into());
    }
    Ok(NewDepartment {
        key: DepartmentKey { tenant, group, name },
        parent,
    })
}

/// Departments ordered so that a parent given in the same file comes before its children (a cycle
/// is refused), each with its place.
fn departments_parents_first(rows: Vec<(Location, Record)>) -> Vec<(Location, Result<NewDepartment, String>)> {
    let parsed: Vec<(Location, Result<NewDepartment, String>)> =
        rows.into_iter().map(|(l, r)| (l, department_record(&r))).collect();
    let index: HashMap<DepartmentKey, usize> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, (_, d))| d.as_ref().ok().map(|d| (d.key.clone(), i)))
        .collect();
    // Depth within the file: 0 when the parent is not in the file (it may be in the database).
    let depth = |start: usize| -> Option<usize> {
        let mut depth = 0;
        let mut at = start;
        loop {
            let Ok(d) = &parsed[at].1 else { return Some(depth) };
            let Some(parent) = &d.parent else { return Some(depth) };
            let parent_key = DepartmentKey {
                name: parent.clone(),
                ..d.key.clone()
            };
            match index.get(&parent_key) {
                None => return Some(depth),
                Some(&p) => {
                    depth += 1;
                    at = p;
                    if depth > parsed.len() {
                        return None;
                    }
                }
            }
        }
    };
    let mut ordered: Vec<(usize, Location, Result<NewDepartment, String>)> = parsed
        .iter()
        .enumerate()
        .map(|(i, (location, d))| match depth(i) {
            Some(depth) => (depth, *location, d.clone()),
            None => (0, *location, Err("its parent chain is a cycle".into())),
        })
        .collect();
    ordered.sort_by_key(|(depth, location, _)| (*depth, *location));
    ordered.into_iter().map(|(_, l, d)| (l, d)).collect()
}

fn device_level(value: &str) -> Result<DeviceLevel, String> {
    DeviceLevel::parse(value).map_err(|_| "device_level must be one of Group, ServiceProvider, System".to_owned())
}

fn device_record(record: &Record) -> Result<Device, String> {
    let name = DeviceName::parse(required(&record.name, "name")?).map_err(invalid)?;
    let tenant = text(&record.tenant).map(TenantId::parse).transpose().map_err(invalid)?;
    let group = text(&record.group).map(GroupId::parse).transpose().map_err(invalid)?;
    let level = match text(&record.device_level) {
        Some(level) => device_level(level)?,
        None if group.is_some() => DeviceLevel::Group,
        None if tenant.is_some() => DeviceLevel::ServiceProvider,
        None => DeviceLevel::System,
    };
    let owner = match (level, tenant, group) {
        (DeviceLevel::System, None, None) => DeviceOwner::System,
        (DeviceLevel::ServiceProvider, Some(tenant), None) => DeviceOwner::ServiceProvider { tenant },
        (DeviceLevel::Group, Some(tenant), Some(group)) => DeviceOwner::Group { tenant, group },
        (DeviceLevel::System, _, _) => return Err("a System device has no tenant nor group".into()),
        (DeviceLevel::ServiceProvider, _, _) => {
            return Err("a ServiceProvider device has a tenant and no group".into());
        }
        (DeviceLevel::Group, _, _) => return Err("a Group device needs its tenant and group".into()),
    };
    Ok(Device { owner, name })
}

/// A user's credential as the file gives it.
enum Credential {
    None,
    Plain(Password),
    Hash(SecretHash),
}

/// A user record checked and turned into domain values, ready to be written.
struct PreparedUser {
    location: Location,
    user: NewUser,
    /// The department's name, resolved in the user's group, else at tenant level.
    department: Option<DepartmentName>,
    credential: Credential,
    first_login: bool,
    endpoint: Option<Endpoint>,
}

fn user_record(location: Location, record: &Record) -> Result<PreparedUser, String> {
    let username = Username::parse(required(&record.username, "username")?).map_err(invalid)?;
    let level = UserLevel::from_u8(record.level.unwrap_or(0)).map_err(invalid)?;
    let tenant = text(&record.tenant).map(TenantId::parse).transpose().map_err(invalid)?;
    let group = text(&record.group).map(GroupId::parse).transpose().map_err(invalid)?;
    let member = || -> Result<GroupMember, String> {
        Ok(GroupMember {
            tenant: tenant.clone().ok_or("tenant is required for this level")?,
            group: group.clone().ok_or("group is required for this level")?,
            user: UserId::parse(text(&record.user_id).unwrap_or(username.as_str())).map_err(invalid)?,
        })
    };
    let admin_department = text(&record.admin_department)
        .map(DepartmentName::parse)
        .transpose()
        .map_err(invalid)?;
    let role = match level {
        UserLevel::System => Role::System,
        UserLevel::TenantAdmin => Role::TenantAdmin {
            tenant: tenant.clone().ok_or("tenant is required for level 12")?,
        },
        UserLevel::GroupAdmin => Role::GroupAdmin { member: member()? },
        UserLevel::DepartmentAdmin => Role::DepartmentAdmin {
            member: member()?,
            department: admin_department
                .clone()
                .ok_or("admin_department is required for level 4")?,
        },
        UserLevel::EndUser => Role::EndUser { member: member()? },
    };
    let extra = |present: bool, what: &str| {
        if present {
            Err(format!("{what} does not apply to level {}", level.as_u8()))
        } else {
            Ok(())
        }
    };
    extra(
        admin_department.is_some() && level != UserLevel::DepartmentAdmin,
        "admin_department",
    )?;
    extra(group.is_some() && role.member().is_none(), "group")?;
    extra(tenant.is_some() && role.tenant().is_none(), "tenant")?;
    extra(text(&record.user_id).is_some() && role.member().is_none(), "user_id")?;

    let mut problems: Vec<String> = Vec::new();
    let mut note = |r: Result<(), InvalidValue>| {
        if let Err(e) = r {
            problems.push(e.to_string());
        }
    };
    let first_name = Name::parse_for("first_name", text(&record.first_name).unwrap_or_default());
    let last_name = Name::parse_for("last_name", text(&record.last_name).unwrap_or_default());
    let (first_name, last_name) = match (first_name, last_name) {
        (Ok(f), Ok(l)) => (f, l),
        (f, l) => {
            let mut reasons = Vec::new();
            if let Err(e) = f {
                reasons.push(e.to_string());
            }
            if let Err(e) = l {
                reasons.push(e.to_string());
            }
            return Err(reasons.join("; "));
        }
    };
    let mut profile = Profile::named(first_name, last_name);
    macro_rules! field {
        ($target:expr, $ty:ty, $column:literal, $value:expr) => {
            if let Some(v) = text($value) {
                match <$ty>::parse_for($column, v) {
                    Ok(v) => $target = v,
                    Err(e) => note(Err(e)),
                }
            }
        };
    }
    macro_rules! optional {
        ($target:expr, $ty:ty, $column:literal, $value:expr) => {
            if let Some(v) = text($value) {
                match <$ty>::parse_for($column, v) {
                    Ok(v) => $target = Some(v),
                    Err(e) => note(Err(e)),
                }
            }
        };
    }
    field!(profile.cli_first_name, Text, "cli_first_name", &record.cli_first_name);
    field!(profile.cli_last_name, Text, "cli_last_name", &record.cli_last_name);
    field!(profile.phone_number, PhoneNumber, "phone_number", &record.phone_number);
    field!(profile.extension, Extension, "extension", &record.extension);
    field!(
        profile.cli_phone_number,
        PhoneNumber,
        "cli_phone_number",
        &record.cli_phone_number
    );
    field!(
        profile.network_class_of_service,
        Text,
        "network_class_of_service",
        &record.network_class_of_service
    );
    field!(profile.mobile, PhoneNumber, "mobile", &record.mobile);
    field!(profile.description, Text, "description", &record.description);
    field!(profile.image, Text, "image", &record.image);
    optional!(profile.email, EmailAddress, "email", &record.email);
    optional!(profile.language, Language, "language", &record.language);
    optional!(profile.time_zone, TimeZoneName, "time_zone", &record.time_zone);
    let state = text(&record.state).map(AccountState::parse).transpose();
    let account_type = text(&record.account_type).map(AccountType::parse).transpose();
    let uuid = text(&record.uuid)
        .map(|u| uuid::Uuid::parse_str(u).map_err(|_| "uuid is not a UUID".to_owned()))
        .transpose();
    let department = text(&record.department).map(DepartmentName::parse).transpose();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let department = department.map_err(invalid)?;
    if department.is_some() && role.tenant().is_none() {
        return Err("department needs a user of a tenant".into());
    }

    let credential = match (text(&record.password), text(&record.password_hash)) {
        (Some(_), Some(_)) => return Err("give password or password_hash, not both".into()),
        (Some(plain), None) => Credential::Plain(Password::new(plain).map_err(invalid)?),
        (None, Some(hash)) => {
            let hash = SecretHash::new(hash).map_err(|_| "password_hash is not a hash".to_owned())?;
            // Only the scheme is named: the value is a secret.
            hashing::check_stored_hash(&hash).map_err(|e| format!("password_hash: {e}"))?;
            Credential::Hash(hash)
        }
        (None, None) => Credential::None,
    };
    let first_login = record.first_login.unwrap_or(matches!(credential, Credential::Plain(_)));

    let endpoint = match (text(&record.device), text(&record.line_port)) {
        (None, None) => {
            if record.line_number.is_some() || text(&record.endpoint).is_some() || text(&record.contacts).is_some() {
                return Err("line_number, endpoint and contacts need device and line_port".into());
            }
            None
        }
        (Some(device), Some(line_port)) => {
            if role.member().is_none() {
                return Err("only users of a group have an endpoint".into());
            }
            let device = DeviceRef {
                name: DeviceName::parse(device).map_err(invalid)?,
                level: text(&record.device_level).map_or(Ok(DeviceLevel::Group), device_level)?,
            };
            let line_port = LinePort::parse(line_port).map_err(invalid)?;
            let contacts = text(&record.contacts)
                .unwrap_or_default()
                .split_whitespace()
                .map(Contact::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            Some(match text(&record.endpoint).unwrap_or("access") {
                "access" => Endpoint::AccessDevice(AccessDeviceEndpoint {
                    device,
                    line_port,
                    line_number: record.line_number,
                    contacts,
                }),
                "trunk" => {
                    if record.line_number.is_some() {
                        return Err("a trunk endpoint has no line_number".into());
                    }
                    Endpoint::Trunk(TrunkEndpoint {
                        device,
                        line_port,
                        contacts,
                    })
                }
                _ => return Err("endpoint must be access or trunk".into()),
            })
        }
        _ => return Err("an endpoint needs both device and line_port".into()),
    };
    if endpoint.is_none() && text(&record.device_level).is_some() {
        return Err("device_level needs device and line_port".into());
    }

    Ok(PreparedUser {
        location,
        user: NewUser {
            uuid: uuid?.unwrap_or_else(uuid::Uuid::new_v4),
            username,
            role,
            profile: NewProfile {
                profile,
                department: None,
            },
            enabled: record.enabled.unwrap_or(true),
            state: state.map_err(invalid)?.unwrap_or(AccountState::Approved),
            account_type: account_type.map_err(invalid)?.unwrap_or(AccountType::Internal),
        },
        department,
        credential,
        first_login,
        endpoint,
    })
}

/// Hashes the plaintext passwords of `users` on as many threads as `hasher` has permits.
fn hash_passwords(hasher: &Hasher, users: &mut [PreparedUser]) -> Vec<(usize, String)> {
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
    let done = Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..hasher.permits().min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, password)) = jobs.get(n) else { break };
                    let hashed = hasher.hash(password.expose(), &OsRandom);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push((*i, hashed));
                }
            });
        }
    });
    let mut failures = Vec::new();
    for (i, hashed) in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match hashed {
            Ok(hash) => users[i].credential = Credential::Hash(hash),
            Err(err) => failures.push((i, format!("hashing the password failed: {err}"))),
        }
    }
    failures
}

/// Imports one batch of user records.
fn import_users<S: Store>(
    services: &Services<S>,
    chunk: &[(Location, Record)],
    run: &str,
    report: &mut Report,
) -> Result<()> {
    let store = services.store();
    let mut prepared = Vec::with_capacity(chunk.len());
    for (location, record) in chunk {
        match user_record(*location, record) {
            Ok(user) => prepared.push(user),
            Err(reason) => report.fail(*location, Some(Kind::User), reason),
        }
    }
    // Existing usernames are unchanged (or refused when they are someone else placed elsewhere).
    let existing: Vec<Option<User>> = store.read(|repo| {
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
            Some(_) => report.fail(
                user.location,
                Some(Kind::User),
                "the username exists with another level or place",
            ),
            None if !seen.insert(user.user.username.clone()) => {
                report.fail(user.location, Some(Kind::User), "the username is given twice")
            }
            None => fresh.push(user),
        }
    }
    for (i, reason) in hash_passwords(services.hasher(), &mut fresh).into_iter().rev() {
        let user = fresh.remove(i);
        report.fail(user.location, Some(Kind::User), reason);
    }
    if fresh.is_empty() {
        return Ok(());
    }
    let history = services.config().password.history;
    let now = services.clock().now();
    let write_one = |repo: &mut dyn Repository, user: &PreparedUser| -> Result<(), StoreError> {
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
        repo.record_audit(&AuditEvent {
            at: now,
            actor: None,
            actor_name: Some("import".into()),
            subject: Some(created.key),
            action: AuditAction::UserCreate,
            fields: vec![],
            outcome: AuditOutcome::Success,
            request_id: Some(run.to_owned()),
        })
    };
    // The whole batch in one transaction; on any failure, row by row.
    #[derive(Debug)]
    enum BatchError {
        Row(StoreError),
        Store(StoreError),
    }
    impl From<StoreError> for BatchError {
        fn from(err: StoreError) -> Self {
            BatchError::Store(err)
        }
    }
    let batch = store.write(|repo| {
        for user in &fresh {
            write_one(repo, user).map_err(BatchError::Row)?;
        }
        Ok::<_, BatchError>(())
    });
    match batch {
        Ok(()) => {
            for _ in &fresh {
                report.created(Kind::User);
            }
        }
        Err(
            BatchError::Store(err @ StoreError::Unavailable(_)) | BatchError::Row(err @ StoreError::Unavailable(_)),
        ) => {
            return Err(err.into());
        }
        Err(_) => {
            for user in &fresh {
                match store.write(|repo| write_one(repo, user)) {
                    Ok(()) => report.created(Kind::User),
                    Err(StoreError::NotFound("department")) => report.fail(
                        user.location,
                        Some(Kind::User),
                        "no such department in the user's group or tenant",
                    ),
                    Err(err @ StoreError::Unavailable(_)) => return Err(err.into()),
                    Err(err) => report.fail(user.location, Some(Kind::User), store_reason(&err)),
                }
            }
        }
    }
    Ok(())
}

/// The department `name` of a user with `role`: their group's department of that name, else their
/// tenant's tenant-level one.
fn resolve_department(
    repo: &mut dyn Repository,
    role: &Role,
    name: &DepartmentName,
) -> Result<DepartmentKey, StoreError> {
    let tenant = role.tenant().ok_or(StoreError::NotFound("department"))?;
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
        Err(StoreError::NotFound("department"))
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// Every tenant, group, department, device and user of the store, as records (users with their
/// password hash, never a password).
pub fn export<S: Store>(services: &Services<S>, progress: &ProgressBar) -> Result<Vec<Record>> {
    let store = services.store();
    let mut records = Vec::new();
    let (tenants, groups, departments, devices) = store.read(|repo| {
        Ok::<_, StoreError>((
            repo.list_tenants()?,
            repo.list_groups()?,
            repo.list_departments()?,
            repo.list_devices()?,
        ))
    })?;
    let users_total = store.read(|repo| repo.count_users())?;
    progress.set_length((tenants.len() + groups.len() + departments.len() + devices.len()) as u64 + users_total);
    for tenant in tenants {
        records.push(Record {
            kind: Some(Kind::Tenant),
            tenant: Some(tenant.id.as_str().to_owned()),
            name: Some(tenant.name.as_str().to_owned()),
            ..Record::default()
        });
    }
    for group in groups {
        records.push(Record {
            kind: Some(Kind::Group),
            tenant: Some(group.tenant.as_str().to_owned()),
            group: Some(group.id.as_str().to_owned()),
            name: Some(group.name.as_str().to_owned()),
            ..Record::default()
        });
    }
    for department in departments {
        let path = department.path();
        let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
        records.push(Record {
            kind: Some(Kind::Department),
            tenant: Some(department.key.tenant.as_str().to_owned()),
            group: department.key.group.as_ref().map(|g| g.as_str().to_owned()),
            name: Some(department.key.name.as_str().to_owned()),
            parent: parent.map(|p| p.as_str().to_owned()),
            ..Record::default()
        });
    }
    for device in devices {
        let (tenant, group) = match &device.owner {
            DeviceOwner::System => (None, None),
            DeviceOwner::ServiceProvider { tenant } => (Some(tenant.as_str().to_owned()), None),
            DeviceOwner::Group { tenant, group } => (Some(tenant.as_str().to_owned()), Some(group.as_str().to_owned())),
        };
        records.push(Record {
            kind: Some(Kind::Device),
            tenant,
            group,
            name: Some(device.name.as_str().to_owned()),
            device_level: Some(device.owner.level().as_str().to_owned()),
            ..Record::default()
        });
    }
    progress.set_position(records.len() as u64);
    let mut after = None;
    loop {
        let page = store.read(|repo| {
            repo.list_users(PageRequest {
                after,
                limit: BATCH as u32,
            })
        })?;
        let details = store.read(|repo| {
            page.items
                .iter()
                .map(|u| Ok((repo.password(u.key)?, repo.endpoint(u.key)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })?;
        for (user, (password, endpoint)) in page.items.iter().zip(details) {
            records.push(user_export(user, password.as_ref(), endpoint.as_ref()));
        }
        progress.inc(page.items.len() as u64);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(records)
}

fn owned(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn user_export(
    user: &User,
    password: Option<&accountd_domain::records::PasswordRecord>,
    endpoint: Option<&Endpoint>,
) -> Record {
    let p = &user.profile;
    let member = user.role.member();
    let (device, device_level, line_port, line_number, kind, contacts) = match endpoint {
        None => (None, None, None, None, None, None),
        Some(e) => {
            let (line_number, kind, contacts) = match e {
                Endpoint::AccessDevice(a) => (a.line_number, "access", &a.contacts),
                Endpoint::Trunk(t) => (None, "trunk", &t.contacts),
            };
            let contacts: Vec<&str> = contacts.iter().map(Contact::as_str).collect();
            (
                Some(e.device().name.as_str().to_owned()),
                Some(e.device().level.as_str().to_owned()),
                Some(e.line_port().as_str().to_owned()),
                line_number,
                Some(kind.to_owned()),
                owned(&contacts.join(" ")),
            )
        }
    };
    Record {
        kind: Some(Kind::User),
        tenant: user.role.tenant().map(|t| t.as_str().to_owned()),
        group: user.role.group().map(|g| g.as_str().to_owned()),
        username: Some(user.username.as_str().to_owned()),
        level: Some(user.level().as_u8()),
        user_id: member.map(|m| m.user.as_str().to_owned()),
        uuid: Some(user.uuid.to_string()),
        first_name: Some(p.first_name.as_str().to_owned()),
        last_name: Some(p.last_name.as_str().to_owned()),
        email: p.email.as_ref().map(|e| e.as_str().to_owned()),
        cli_first_name: owned(p.cli_first_name.as_str()),
        cli_last_name: owned(p.cli_last_name.as_str()),
        phone_number: owned(p.phone_number.as_str()),
        extension: owned(p.extension.as_str()),
        cli_phone_number: owned(p.cli_phone_number.as_str()),
        language: p.language.as_ref().map(|l| l.as_str().to_owned()),
        time_zone: p.time_zone.as_ref().map(|t| t.as_str().to_owned()),
        mobile: owned(p.mobile.as_str()),
        description: owned(p.description.as_str()),
        image: owned(p.image.as_str()),
        network_class_of_service: owned(p.network_class_of_service.as_str()),
        department: p.department.as_ref().map(|d| d.key.name.as_str().to_owned()),
        admin_department: user.role.administered_department().map(|d| d.as_str().to_owned()),
        enabled: Some(user.enabled),
        state: Some(user.state.as_str().to_owned()),
        account_type: Some(user.account_type.as_str().to_owned()),
        password: None,
        password_hash: password.map(|r| r.hash.as_str().to_owned()),
        first_login: password.map(|r| r.first_login),
        device,
        device_level,
        line_port,
        line_number,
        endpoint: kind,
        contacts,
        ..Record::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_are_exactly_the_record_fields() {
        let mut every = serde_json::Map::new();
        for column in CSV_COLUMNS {
            let value = match column {
                "kind" => serde_json::json!("user"),
                "level" | "line_number" => serde_json::json!(1),
                "enabled" | "first_login" => serde_json::json!(true),
                _ => serde_json::json!("x"),
            };
            every.insert(column.to_owned(), value);
        }
        let record: Record = serde_json::from_value(serde_json::Value::Object(every)).unwrap();
        let back = serde_json::to_value(&record).unwrap();
        let mut fields: Vec<&str> = back.as_object().unwrap().keys().map(String::as_str).collect();
        let mut columns = CSV_COLUMNS.to_vec();
        fields.sort_unstable();
        columns.sort_unstable();
        assert_eq!(fields, columns);
        assert!(serde_json::from_value::<Record>(serde_json::json!({"nickname": "x"})).is_err());
        for kind in Kind::ALL {
            for column in kind.columns() {
                assert!(CSV_COLUMNS.contains(column), "{column}");
            }
        }
    }

    #[test]
    fn formats_come_from_the_extension_or_the_flag() {
        assert_eq!(Format::of(Path::new("a.CSV"), None).unwrap(), Format::Csv);
        assert_eq!(Format::of(Path::new("a.json"), None).unwrap(), Format::Json);
        assert_eq!(
            Format::of(Path::new("a.txt"), Some(Format::Json)).unwrap(),
            Format::Json
        );
        assert!(Format::of(Path::new("a.txt"), None).is_err());
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_and_errors_hide_values() {
        let data = "kind,tenant,name,level,username\n\
                    tenant,T1,First,,\n\
                    \"tenant\",\"T2\",\"multi\nline\",,\n\
                    user,,,eight,secret-looking-value\n\
                    bogus,T3,,,\n";
        let rows = read_csv(data.as_bytes()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].location, Location::Line(2));
        assert_eq!(rows[1].location, Location::Line(3));
        assert_eq!(rows[2].location, Location::Line(5));
        let err = rows[2].record.clone().unwrap_err();
        assert!(err.contains("whole number"), "{err}");
        assert!(!err.contains("eight"), "{err}");
        assert!(rows[3].record.clone().unwrap_err().contains("kind must be one of"));
        assert!(read_csv("kind,nickname\n".as_bytes()).is_err(), "unknown column");
    }

    #[test]
    fn departments_come_parents_first_and_cycles_are_refused() {
        let dept = |name: &str, parent: Option<&str>| Record {
            kind: Some(Kind::Department),
            tenant: Some("T".into()),
            group: Some("G".into()),
            name: Some(name.into()),
            parent: parent.map(str::to_owned),
            ..Record::default()
        };
        let rows = vec![
            (Location::Index(0), dept("leaf", Some("mid"))),
            (Location::Index(1), dept("mid", Some("root"))),
            (Location::Index(2), dept("root", None)),
            (Location::Index(3), dept("a", Some("b"))),
            (Location::Index(4), dept("b", Some("a"))),
        ];
        let ordered = departments_parents_first(rows);
        let names: Vec<String> = ordered
            .iter()
            .filter_map(|(_, d)| d.as_ref().ok().map(|d| d.key.name.as_str().to_owned()))
            .collect();
        assert_eq!(names, ["root", "mid", "leaf"]);
        assert_eq!(ordered.iter().filter(|(_, d)| d.is_err()).count(), 2, "a and b");
    }

    #[test]
    fn user_records_are_checked_whole() {
        let mut record = Record {
            kind: Some(Kind::User),
            username: Some("ann".into()),
            level: Some(8),
            tenant: Some("T".into()),
            group: Some("G".into()),
            first_name: Some("Ann".into()),
            last_name: Some("Lee".into()),
            email: Some("not an address".into()),
            extension: Some("12a".into()),
            ..Record::default()
        };
        let err = user_record(Location::Index(0), &record).err().unwrap();
        assert!(err.contains("email") && err.contains("extension"), "{err}");
        record.email = None;
        record.extension = None;
        record.password = Some("plain".into());
        record.password_hash = Some("pbkdf2_sha256$1$s$x".into());
        assert!(
            user_record(Location::Index(0), &record)
                .err()
                .unwrap()
                .contains("not both")
        );
        record.password = None;
        let err = user_record(Location::Index(0), &record).err().unwrap();
        assert!(
            err.starts_with("password_hash:") && !err.contains("pbkdf2_sha256$1$s$x"),
            "{err}"
        );
        record.password_hash = None;
        record.level = Some(16);
        assert!(
            user_record(Location::Index(0), &record)
                .err()
                .unwrap()
                .contains("does not apply")
        );
        record.level = Some(8);
        record.password = Some("Initial-Passw0rd!".into());
        let ok = user_record(Location::Index(0), &record).unwrap();
        assert!(ok.first_login, "a given plaintext password is to be changed");
        assert_eq!(ok.user.role.level(), UserLevel::GroupAdmin);
    }
}
