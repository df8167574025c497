//! `accountd import FILE` and `accountd export FILE` on the binary's side: the file [`Format`]
//! (CSV or JSON, by extension), reading files into the service's records and writing records to
//! files, the progress bar, and the report's summary. The use cases themselves (the record format,
//! its conversion to domain values, the writes, auditing) are `accountd_service::import`'s
//! (docs/import.md).

use accountd_service::import::{CSV_COLUMNS, ImportReport, Kind, Located, Location, Progress, Record};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

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
        if !CSV_COLUMNS.contains(&column) {
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
/// readable by its owner only (see `create_private`).
pub fn write_file(path: &Path, format: Format, records: &[Record]) -> Result<()> {
    let file = create_private(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    match format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(CSV_COLUMNS)?;
            for record in records {
                let value = serde_json::to_value(record)?;
                let row: Vec<String> = CSV_COLUMNS
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

/// A progress bar on standard error, hidden when that is not a terminal: the import's and
/// export's [`Progress`].
#[derive(Debug)]
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar for `len` records (set later by an export, which learns it from the store).
    pub fn new(len: u64) -> Self {
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
        Self(bar)
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn total(&self, records: u64) {
        self.0.set_length(records);
    }

    fn advance(&self, records: u64) {
        self.0.inc(records);
    }

    fn stage(&self, name: &str) {
        self.0.set_message(name.to_owned());
    }
}

/// One line per kind and a total: `users:       2 created, 0 unchanged, 1 failed`.
pub fn summary(report: &ImportReport) -> String {
    let mut lines = Vec::new();
    for kind in Kind::ALL {
        let created = report.created.get(&kind).copied().unwrap_or(0);
        let unchanged = report.unchanged.get(&kind).copied().unwrap_or(0);
        let failed = report.failed_of(kind);
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
        report.created_total(),
        report.unchanged_total(),
        report.failed.len()
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Issue 16, fuzzing: any text as a CSV import, any JSON as a JSON import, and whatever
    /// records they give through the whole import (on SQLite): no panic, every record that
    /// can't be used reported at its place, never a failure of the whole run but for a file that
    /// can't be read at all.
    mod fuzz {
        use super::*;
        use accountd_domain::ports::ManualClock;
        use accountd_domain::user::Timestamp;
        use accountd_policy::hashing::HashParams;
        use accountd_service::hasher::Hasher;
        use accountd_service::import::Silent;
        use accountd_service::random::OsRandom;
        use accountd_service::{ServiceConfig, Services};
        use accountd_storage::testing::TestDatabase;
        use accountd_upstream::DisabledUpstream;
        use proptest::prelude::*;
        use proptest::sample::select;
        use std::sync::Arc;

        /// A cell: real-looking values, CSV's special characters, any text.
        fn cell() -> impl Strategy<Value = String> {
            prop_oneof![
                select(vec![
                    "tenant",
                    "group",
                    "department",
                    "device",
                    "user",
                    "Pie",
                    "PieGroup",
                    "4",
                    "0",
                    "true",
                    "x@y.z",
                    "Initial-Passw0rd!",
                    "Europe/Brussels",
                    "approved",
                    "trunk",
                    "-1",
                    "99999999999",
                ])
                .prop_map(str::to_owned),
                "[,\"\n\r a-z0-9]{0,12}",
                any::<String>(),
            ]
        }

        fn csv_text() -> impl Strategy<Value = String> {
            let columns = prop::collection::vec(
                prop_oneof![9 => select(CSV_COLUMNS.to_vec()).prop_map(str::to_owned), 1 => "[a-z]{1,8}"],
                1..8,
            );
            (
                columns,
                prop::collection::vec(prop::collection::vec(cell(), 0..9), 0..6),
            )
                .prop_map(|(columns, rows)| {
                    let mut text = columns.join(",");
                    for row in rows {
                        text.push('\n');
                        text.push_str(&row.join(","));
                    }
                    text
                })
        }

        fn member_value() -> impl Strategy<Value = serde_json::Value> {
            prop_oneof![
                cell().prop_map(serde_json::Value::String),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<bool>().prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
                Just(serde_json::json!([1, "a"])),
                Just(serde_json::json!({"nested": true})),
            ]
        }

        fn json_records() -> impl Strategy<Value = serde_json::Value> {
            let member = prop_oneof![9 => select(CSV_COLUMNS.to_vec()).prop_map(str::to_owned), 1 => "[a-z]{1,8}"];
            let record = prop::collection::btree_map(member, member_value(), 0..10)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()));
            prop_oneof![
                8 => prop::collection::vec(record, 0..6).prop_map(serde_json::Value::Array),
                1 => member_value(),
            ]
        }

        fn import(rows: Vec<Located>) -> ImportReport {
            let db = TestDatabase::sqlite();
            let services = Services::new(
                db.database().clone(),
                Arc::new(DisabledUpstream),
                Arc::new(ManualClock::at(Timestamp::from_millis(1_700_000_000_000))),
                Arc::new(OsRandom),
                Hasher::new(
                    HashParams {
                        memory_kib: 64,
                        iterations: 1,
                        parallelism: 1,
                        ..HashParams::DEFAULT
                    },
                    2,
                ),
                ServiceConfig::default(),
            )
            .unwrap();
            services.import(rows, &Silent).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            #[test]
            fn any_csv_text_imports_without_a_panic(text in csv_text()) {
                if let Ok(rows) = read_csv(text.as_bytes()) {
                    let records = rows.len();
                    let report = import(rows);
                    prop_assert!(report.created_total() + report.unchanged_total() <= records as u64);
                }
            }

            #[test]
            fn any_json_imports_without_a_panic(value in json_records()) {
                let text = serde_json::to_vec(&value).unwrap();
                match read_json(text.as_slice()) {
                    Ok(rows) => {
                        prop_assert!(value.is_array());
                        let records = rows.len();
                        let report = import(rows);
                        prop_assert!(report.created_total() + report.unchanged_total() <= records as u64);
                    }
                    Err(err) => prop_assert!(!value.is_array() || err.to_string().contains("JSON array"), "{err}"),
                }
            }
        }
    }
}
