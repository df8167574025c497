//! The PostgreSQL rows' database: a schema of its own on the server of `--postgres URL`
//! (`accountd_bench_<secs>_<pid>`, accountd's connections select it through `search_path` as the
//! storage tests' schemas do), dropped on `Drop`; schemas left by killed runs are swept once they
//! are an hour old. Made and dropped with `psql`, so the xtask needs no database driver.

use anyhow::{Context, Result, bail, ensure};
use std::process::Command;

/// Where the PostgreSQL rows run unless `--postgres URL` says otherwise: the server of the storage
/// tests (`ACCOUNTD_TEST_POSTGRES_URL`, by default the local one).
pub(super) fn default_url() -> String {
    std::env::var("ACCOUNTD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

const PREFIX: &str = "accountd_bench_";
const LEFTOVER_AGE_SECS: u64 = 3600;

/// A schema of the bench's own, dropped on `Drop`.
pub(super) struct Schema {
    base: String,
    name: String,
    /// The server's version, for the report.
    pub(super) version: String,
}

impl Schema {
    /// Creates a new schema on the server at `base` (after sweeping old leftovers).
    pub(super) fn create(base: &str) -> Result<Self> {
        // The server's clock names the schema and dates the leftovers.
        let answer = psql(
            base,
            "SELECT current_setting('server_version') || '|' || extract(epoch FROM now())::bigint",
        )
        .with_context(|| {
            format!(
                "reaching PostgreSQL at {} for the PostgreSQL rows (give another with --postgres URL, \
                 or skip them with --no-postgres)",
                redacted(base)
            )
        })?;
        let (version, now) = answer
            .rsplit_once('|')
            .and_then(|(version, now)| Some((version.to_owned(), now.parse::<u64>().ok()?)))
            .with_context(|| format!("unexpected answer from PostgreSQL: {answer}"))?;
        sweep(base, now);
        let name = format!("{PREFIX}{now}_{}", std::process::id());
        psql(base, &format!("CREATE SCHEMA {name}"))?;
        Ok(Self {
            base: base.to_owned(),
            name,
            version,
        })
    }

    /// The URL whose connections use this schema (as `accountd_storage::postgres_url_with_schema`).
    pub(super) fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-csearch_path%3D{}", self.base, self.name)
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = psql(&self.base, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            eprintln!("could not drop schema {} (swept after an hour): {e:#}", self.name);
        }
    }
}

/// Drops the bench schemas older than an hour; another run's young schema is left alone.
fn sweep(base: &str, now: u64) {
    let pattern = format!("{}%", PREFIX.replace('_', "\\_"));
    let Ok(names) = psql(
        base,
        &format!("SELECT nspname FROM pg_namespace WHERE nspname LIKE '{pattern}'"),
    ) else {
        return;
    };
    for name in names.lines().map(str::trim) {
        if leftover(name, now) {
            let _ = psql(base, &format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
        }
    }
}

/// Whether `name` is a bench schema made more than an hour before `now`.
fn leftover(name: &str, now: u64) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok())
        .is_some_and(|secs| now.saturating_sub(secs) > LEFTOVER_AGE_SECS)
}

/// Runs one statement with `psql` (unaligned, tuples only, 5 s to connect); its output, trimmed.
fn psql(url: &str, sql: &str) -> Result<String> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("psql is missing (apt-get install postgresql-client)")
        }
        Err(e) => return Err(e).context("running psql"),
    };
    ensure!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `url` without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let user = url[start + 3..at].split(':').next().unwrap_or_default();
            format!("{}://{user}{}", &url[..start], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bench_schemas_older_than_an_hour_are_leftovers() {
        assert!(leftover("accountd_bench_1000_42", 1000 + 3601));
        assert!(!leftover("accountd_bench_1000_42", 1000 + 60));
        assert!(!leftover("accountd_test_1000_abc", 1000 + 3601));
        assert!(!leftover("accountd_bench_x_42", 1000 + 3601));
    }

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(redacted("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
    }
}
