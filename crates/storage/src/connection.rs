//! One connection type for both backends, the pool that hands it out, and the transactions.
//!
//! # Why `#[derive(diesel::MultiConnection)]`
//!
//! [`DbConn`] is an enum of a [`SqliteConnection`] and a [`PgConnection`] with diesel's
//! `MultiConnection` derive, as Vaultwarden does. Every query is written once against `DbConn`
//! and compiled once; the generated `MultiBackend` builds each statement for the backend the
//! connection is at run time (placeholders, quoting, `RETURNING`, `LIMIT`). The alternative, an
//! enum of two pools and a macro expanding each query for both connection types, compiles every
//! query twice and makes each query function generic or macro-bound, for no gain here.
//!
//! The derive covers the SQL both backends share. The few statements it can't build (upserts
//! with `ON CONFLICT`, `SELECT … FOR UPDATE`, `RETURNING` a `Selectable`, multi-row inserts,
//! PRAGMAs, migrations) go through [`per_backend!`], which still has each statement written
//! once: the macro expands the same expression for each inner connection type.
//!
//! # Transactions
//!
//! [`write_transaction`] is `BEGIN IMMEDIATE` on SQLite (the write lock is taken up front, waiting
//! up to `busy_timeout`, so a transaction never fails half-way with "database is locked" when it
//! upgrades from reading to writing) and a plain `BEGIN` (read committed) on PostgreSQL, where
//! the repository locks a user's row (`SELECT … FOR UPDATE`) before changing what hangs off it.
//! Inside a write transaction, each writing port method runs in a [`savepoint`], so a failed
//! method (a unique violation, say) leaves the transaction usable, as it is on SQLite, where
//! PostgreSQL would otherwise refuse every later statement.

use crate::database::PoolOptions;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use std::time::Duration;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Expands one expression for each inner connection: `per_backend!(conn, |c| query.execute(c))`
/// compiles `query.execute(c)` with `c: &mut SqliteConnection` and with `c: &mut PgConnection`.
/// For the statements `MultiBackend` can't build (see the module doc).
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::DbConn::Sqlite($c) => $body,
            $crate::connection::DbConn::Postgres($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// Which database a [`crate::Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Opens connections of the configured backend (and only that one: diesel's generic manager would
/// try each backend in turn, and SQLite accepts any string as a file name).
#[derive(Debug)]
pub(crate) struct Manager {
    pub backend: Backend,
    /// A SQLite file path, or a PostgreSQL connection URL.
    pub target: String,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        let conn = match self.backend {
            Backend::Sqlite => SqliteConnection::establish(&self.target).map(DbConn::Sqlite),
            Backend::Postgres => PgConnection::establish(&self.target).map(DbConn::Postgres),
        };
        conn.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // A connection left inside a transaction (a panic in a closure) is broken too.
        std::thread::panicking() || conn.is_broken()
    }
}

/// Sets the SQLite pragmas on every pooled connection: busy timeout first (the others may need
/// to wait for a lock), WAL, foreign keys, and `synchronous=FULL` so a commit is on disk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas {
    pub busy_timeout: Duration,
}

impl SqlitePragmas {
    pub fn apply(&self, conn: &mut DbConn) -> QueryResult<()> {
        if let DbConn::Sqlite(c) = conn {
            let ms = self.busy_timeout.as_millis().min(i32::MAX as u128);
            c.batch_execute(&format!("PRAGMA busy_timeout = {ms};"))?;
            // Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is
            // locked" at once instead of calling the busy handler when another connection holds one
            // (several processes opening a new database together): retry within the busy timeout.
            let deadline = std::time::Instant::now() + self.busy_timeout;
            loop {
                match c.batch_execute("PRAGMA journal_mode = WAL;") {
                    Ok(()) => break,
                    Err(diesel::result::Error::DatabaseError(_, info))
                        if (info.message().contains("locked") || info.message().contains("busy"))
                            && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(other) => return Err(other),
                }
            }
            c.batch_execute("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        }
        Ok(())
    }
}

impl r2d2::CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool.
pub(crate) fn build_pool(manager: Manager, opts: &PoolOptions) -> Result<r2d2::Pool<Manager>, r2d2::Error> {
    let pragmas = SqlitePragmas {
        busy_timeout: opts.sqlite_busy_timeout,
    };
    // r2d2 runs `SELECT 1` on every checkout by default: a PostgreSQL connection may have been cut,
    // but a SQLite file connection can't be, so on SQLite that would be a second statement (and
    // WAL read lock) on every request for nothing (docs/performance.md).
    let test_on_check_out = manager.backend == Backend::Postgres;
    r2d2::Pool::builder()
        .max_size(opts.max_size.max(1))
        .test_on_check_out(test_on_check_out)
        .min_idle(Some(0))
        .connection_timeout(opts.connection_timeout)
        .connection_customizer(Box::new(pragmas))
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(manager)
}

/// Runs `f` in a top-level write transaction: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL.
/// Commits when `f` returns `Ok`, rolls back otherwise. Errors of the transaction statements
/// themselves become `E` through `from_db`. The connection must not be in a transaction.
pub(crate) fn write_transaction<T, E>(
    conn: &mut DbConn,
    from_db: impl Fn(diesel::result::Error) -> E,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    per_backend!(&mut *conn, |c| c.begin_write()).map_err(&from_db)?;
    finish(conn, from_db, f)
}

/// Runs `f` in a savepoint of the open transaction.
pub(crate) fn savepoint<T, E>(
    conn: &mut DbConn,
    from_db: impl Fn(diesel::result::Error) -> E,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    // diesel's transaction manager makes this a `SAVEPOINT` at depth > 0.
    <DbConn as Connection>::TransactionManager::begin_transaction(conn).map_err(&from_db)?;
    finish(conn, from_db, f)
}

/// The `BEGIN` statement of a top-level write transaction, per backend.
trait BeginWrite {
    fn begin_write(&mut self) -> QueryResult<()>;
}

impl BeginWrite for SqliteConnection {
    fn begin_write(&mut self) -> QueryResult<()> {
        AnsiTransactionManager::begin_transaction_sql(self, "BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgConnection {
    fn begin_write(&mut self) -> QueryResult<()> {
        AnsiTransactionManager::begin_transaction_sql(self, "BEGIN")
    }
}

/// Commits or rolls back the transaction (or savepoint) `f` runs in.
fn finish<T, E>(
    conn: &mut DbConn,
    from_db: impl Fn(diesel::result::Error) -> E,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    type Tm = <DbConn as Connection>::TransactionManager;
    match f(&mut *conn) {
        // On a failed commit diesel rolls back itself (or marks the connection broken, and the
        // pool drops it).
        Ok(value) => Tm::commit_transaction(conn).map(|()| value).map_err(from_db),
        Err(e) => {
            // A failed rollback marks the connection broken; the pool drops it.
            let _ = Tm::rollback_transaction(conn);
            Err(e)
        }
    }
}
