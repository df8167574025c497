//! A fresh database per test, dropped when the test ends (after crates.io's test database):
//! a SQLite file in a temporary directory, or a PostgreSQL schema of its own on a shared server.
//!
//! PostgreSQL is found at `ACCOUNTD_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`. Each test gets a schema `accountd_test_<secs>_<rand>`
//! (its connections select it through `search_path`); the schema is dropped on `Drop`, and
//! schemas left by killed test runs are swept once they are an hour old. When the server can't be
//! reached, [`TestDatabase::postgres_or_skip`] fails the test under `CI=true` and otherwise prints
//! `skipping postgres: <reason>` and lets the test return early.

use crate::{Database, PoolOptions, postgres_url_with_schema};
use accountd_domain::ports::{Clock, SystemClock};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::sync::Once;
use std::time::Duration;

/// Where the PostgreSQL tests connect when `ACCOUNTD_TEST_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Prefix of the schemas the tests create (and the sweep drops).
const SCHEMA_PREFIX: &str = "accountd_test_";

/// Schemas older than this are leftovers of killed runs.
const LEFTOVER_AGE_SECS: i64 = 3600;

/// The PostgreSQL server the tests use.
pub fn postgres_base_url() -> String {
    std::env::var("ACCOUNTD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Whether this run is CI's (`CI=true`), where PostgreSQL tests must run, never skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// What a PostgreSQL test does when the server can't be used: under `CI=true` it fails (CI must
/// run the PostgreSQL half); otherwise it prints `skipping postgres: <reason>` and gets `None`, to
/// return early.
///
/// # Panics
/// Under `CI=true`.
pub fn postgres_unavailable<T>(reason: String) -> Option<T> {
    assert!(!in_ci(), "PostgreSQL is required under CI=true: {reason}");
    println!("skipping postgres: {reason}");
    None
}

/// Pool settings for tests: a few connections, so parallel tests don't exhaust the server.
pub fn test_pool_options() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        ..PoolOptions::default()
    }
}

/// A database that lives as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    database: Database,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres(TestSchema),
}

impl TestDatabase {
    /// A SQLite database in a new temporary directory.
    ///
    /// # Panics
    /// When the directory or the database can't be created (a broken test machine).
    pub fn sqlite() -> TestDatabase {
        Self::sqlite_with(&test_pool_options())
    }

    /// [`TestDatabase::sqlite`] with these pool settings.
    #[allow(clippy::expect_used)] // test support: a machine that can't make a temp file can't test
    pub fn sqlite_with(opts: &PoolOptions) -> TestDatabase {
        let dir = tempfile::Builder::new()
            .prefix("accountd-test-")
            .tempdir()
            .expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let database = Database::open(&url, opts).expect("open a SQLite test database");
        TestDatabase {
            database,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A PostgreSQL database in a new schema, or why the server can't be used.
    pub fn postgres() -> Result<TestDatabase, String> {
        Self::postgres_with(&test_pool_options())
    }

    /// [`TestDatabase::postgres`] with these pool settings.
    pub fn postgres_with(opts: &PoolOptions) -> Result<TestDatabase, String> {
        let schema = TestSchema::create()?;
        let url = schema.url().to_owned();
        let database = Database::open(&url, opts).map_err(|e| format!("open schema {}: {e}", schema.name))?;
        Ok(TestDatabase {
            database,
            url,
            cleanup: Cleanup::Postgres(schema),
        })
    }

    /// A PostgreSQL test database, or `None` after printing `skipping postgres: <reason>`.
    ///
    /// # Panics
    /// Under `CI=true` when PostgreSQL can't be used: CI must run the PostgreSQL half.
    pub fn postgres_or_skip() -> Option<TestDatabase> {
        Self::postgres().map_or_else(postgres_unavailable, Some)
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The URL the database was opened with (a second [`Database::open`] on it shares the data).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => Some(dir.path().join("accountd.db")),
            Cleanup::Postgres(_) => None,
        }
    }

    /// The PostgreSQL schema, for PostgreSQL databases.
    pub fn postgres_schema(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Sqlite(_) => None,
            Cleanup::Postgres(schema) => Some(schema.name()),
        }
    }
}

impl std::ops::Deref for TestDatabase {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.database
    }
}

/// An empty PostgreSQL schema of its own, dropped on `Drop` (what [`TestDatabase::postgres`]
/// stands on; alone, for tests of what happens on a fresh schema, such as concurrent migrations).
#[derive(Debug)]
pub struct TestSchema {
    admin_url: String,
    name: String,
    url: String,
}

impl TestSchema {
    /// Creates `accountd_test_<secs>_<rand>` on the test server (sweeping old leftovers first).
    pub fn create() -> Result<TestSchema, String> {
        let admin_url = with_connect_timeout(&postgres_base_url());
        let mut admin = PgConnection::establish(&admin_url).map_err(|e| format!("{}: {e}", redacted(&admin_url)))?;
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| sweep_leftovers(&mut admin));
        let now = SystemClock.now().as_millis() / 1000;
        let random = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{SCHEMA_PREFIX}{now}_{}", &random[..12]);
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .map_err(|e| format!("create schema {name}: {e}"))?;
        let url = postgres_url_with_schema(&admin_url, &name);
        Ok(TestSchema { admin_url, name, url })
    }

    /// A URL whose connections use this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url).and_then(|mut admin| {
            admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
        });
        if let Err(e) = dropped {
            eprintln!("could not drop test schema {} (swept after an hour): {e}", self.name);
        }
    }
}

/// Drops test schemas older than an hour (left by runs that were killed before `Drop`).
fn sweep_leftovers(admin: &mut PgConnection) {
    #[derive(QueryableByName)]
    struct Schema {
        #[diesel(sql_type = diesel::sql_types::Text)]
        nspname: String,
    }
    let now = SystemClock.now().as_millis() / 1000;
    let pattern = format!("{}%", SCHEMA_PREFIX.replace('_', "\\_"));
    let Ok(schemas) = diesel::sql_query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1")
        .bind::<diesel::sql_types::Text, _>(pattern)
        .load::<Schema>(admin)
    else {
        return;
    };
    for Schema { nspname } in schemas {
        let created = nspname
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|secs| now - secs > LEFTOVER_AGE_SECS) {
            // Another run may sweep the same schema at once: IF EXISTS, and errors are ignored.
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {nspname} CASCADE"));
        }
    }
}

/// `url` with a libpq `connect_timeout`, so an unreachable server fails fast.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let secs = Duration::from_secs(5).as_secs();
    format!("{url}{separator}connect_timeout={secs}")
}

/// `url` without a password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let user = &url[start + 3..at];
            let user = user.split(':').next().unwrap_or_default();
            format!("{}://{user}{}", &url[..start], &url[at..])
        }
        _ => url.to_owned(),
    }
}
