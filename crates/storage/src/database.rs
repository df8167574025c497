//! [`Database`]: the pool, opening by URL, the embedded migrations, readiness, and the domain's
//! [`Store`] on top.
//!
//! Migrations are applied at open, under a lock, so several processes can start on one fresh
//! database at once: SQLite runs them in one `BEGIN IMMEDIATE` transaction (the second process
//! waits, then finds nothing pending); PostgreSQL takes a transaction-scoped advisory lock keyed
//! by the current schema, so processes on other schemas of the same database don't wait.

use crate::connection::{self, Backend, DbConn, Manager, SqlitePragmas, per_backend};
use crate::error::{StorageError, db_error, pool_error};
use crate::repo::Repo;
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{BulkCopy, PoolUse, Repository, Store, StoreError};
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a caller waits for a free connection before the store is `Unavailable`.
    pub connection_timeout: Duration,
    /// How long a SQLite statement waits for a lock held by another connection or process
    /// (`PRAGMA busy_timeout`) before the store is `Unavailable`.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(10),
        }
    }
}

/// A database of either backend: cheap to clone (the pool is shared), safe to use from many
/// threads. Implements the domain's [`Store`].
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// Tells this database's connections in [`HERE`] apart from other databases' (tests open many).
    id: u64,
    /// What a thread's own read connection is opened with (SQLite: the file and its pragmas).
    here: Arc<(Manager, SqlitePragmas)>,
    /// SQLite: this process's writers queue here before `BEGIN IMMEDIATE` (see [`WriteGate`]).
    writers: Arc<WriteGate>,
    /// Bumped after every write through this database or a clone of it
    /// ([`Store::generation`]).
    generation: Arc<std::sync::atomic::AtomicU64>,
}

/// SQLite lets one connection write at a time, and a connection that finds the write lock taken
/// sleeps in its busy handler (1, 2, 5, 10, … 100 ms) and tries again: with a few concurrent
/// writers one can lose that race for a second (p99 of `PUT user_login_info` under 8 writers was
/// ~1 s, docs/performance.md). The writers of this process therefore take turns here first, woken
/// as soon as the previous one ends, and find the lock free. Writers of other processes on the
/// same file still meet the busy timeout. A writer that has waited `timeout` goes on regardless,
/// as it would without the gate (so a mistaken nested write fails with "busy", never hangs).
#[derive(Debug, Default)]
struct WriteGate {
    busy: Mutex<bool>,
    released: Condvar,
}

impl WriteGate {
    fn enter(&self, timeout: Duration) -> WriteTurn<'_> {
        let deadline = Instant::now() + timeout;
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return WriteTurn { gate: None };
            }
            busy = self
                .released
                .wait_timeout(busy, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *busy = true;
        WriteTurn { gate: Some(self) }
    }
}

/// A writer's turn: ends on drop.
struct WriteTurn<'a> {
    gate: Option<&'a WriteGate>,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        if let Some(gate) = self.gate {
            *gate.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
            gate.released.notify_one();
        }
    }
}

/// The ids of [`Database::id`].
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
/// The most databases a thread keeps its own read connection to (one in production; tests open
/// many): the oldest goes first.
const HERE_MAX: usize = 4;

thread_local! {
    /// This thread's own SQLite read connections, by database: the hot reads of a request run on
    /// the async worker that serves it, without a pool checkout or a hand-off to the blocking
    /// pool (`Store::read_here`; docs/performance.md). Closed when the thread ends.
    static HERE: std::cell::RefCell<Vec<Here>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A thread's own read connection to one database ([`HERE`]).
struct Here {
    /// The [`Database::id`] it belongs to.
    database: u64,
    conn: DbConn,
    /// SQLite's `PRAGMA data_version` when this connection last read: it changes when another
    /// connection (this process's pool, another process) has committed since. `None` before the
    /// first read.
    seen: Option<i64>,
}

/// SQLite's count of other connections' commits (`PRAGMA data_version`), as `conn` sees it now.
/// Raw SQL, parsed on every call, but a pragma parses quickly; its table-valued function, a query
/// diesel would keep prepared, is re-prepared by SQLite at every step (three times the cost).
fn data_version(conn: &mut DbConn) -> Result<i64, diesel::result::Error> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        data_version: i64,
    }
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query("PRAGMA data_version")
            .get_result::<Version>(c)
            .map(|v| v.data_version),
        // Not called: PostgreSQL reads no connection of a thread's own.
        DbConn::Postgres(_) => Ok(0),
    }
}

impl Database {
    /// Marks a write: what was read before it may be stale ([`Store::generation`]).
    fn bump(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A new read connection of this thread's own, with the pool's pragmas.
    fn open_here(&self) -> Result<DbConn, StoreError> {
        let (manager, pragmas) = &*self.here;
        let mut conn = r2d2::ManageConnection::connect(manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        pragmas.apply(&mut conn).map_err(db_error)?;
        Ok(conn)
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        let state = self.pool.state();
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

impl Database {
    /// Opens `url` and applies the pending migrations.
    ///
    /// - `sqlite://PATH` (also `sqlite:PATH`): a file, created when missing. `sqlite:///abs/path`
    ///   is absolute, `sqlite://rel/path` relative to the working directory.
    /// - `postgres://…` or `postgresql://…`: a libpq URL. Its `options` parameter can set the
    ///   schema (`?options=-csearch_path%3Dmyschema`); see [`postgres_url_with_schema`].
    ///
    /// A new SQLite file is created readable and writable by its owner only (see
    /// `create_private_sqlite_file`).
    pub fn open(url: &str, opts: &PoolOptions) -> Result<Database, StorageError> {
        let (backend, target) = parse_url(url)?;
        if backend == Backend::Sqlite {
            create_private_sqlite_file(&target)?;
        }
        let manager = Manager {
            backend,
            target: target.clone(),
        };
        let here = Arc::new((
            Manager { backend, target },
            SqlitePragmas {
                busy_timeout: opts.sqlite_busy_timeout,
            },
        ));
        // One connection first, outside the pool: it reports a bad URL or an unreachable server
        // as such, and applies the migrations before anyone uses the schema.
        let mut first = r2d2::ManageConnection::connect(&manager).map_err(|e| StorageError::Connect(e.to_string()))?;
        SqlitePragmas {
            busy_timeout: opts.sqlite_busy_timeout,
        }
        .apply(&mut first)
        .map_err(|e| StorageError::Connect(e.to_string()))?;
        run_migrations(&mut first)?;
        drop(first);
        let pool = connection::build_pool(manager, opts).map_err(|e| StorageError::Connect(e.to_string()))?;
        Ok(Database {
            pool,
            backend,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            here,
            writers: Arc::new(WriteGate::default()),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Readiness: a connection can be had, answers, and no migration is pending.
    pub fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.connection()?;
        conn.ping().map_err(|e| StorageError::Store(db_error(e)))?;
        let pending = per_backend!(&mut *conn, |c| pending(c))?;
        if pending {
            Err(StorageError::PendingMigrations)
        } else {
            Ok(())
        }
    }

    /// How the pool is used now: open connections, idle ones, the most it opens (a metric).
    pub fn pool_state(&self) -> PoolUse {
        let state = self.pool.state();
        PoolUse {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }

    /// A pooled connection, or `Unavailable` after the pool's connection timeout.
    pub(crate) fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(pool_error)
    }

    /// The database's own consistency check: on SQLite `PRAGMA integrity_check` (pages, indexes,
    /// constraints) and `PRAGMA foreign_key_check`; PostgreSQL checks both on every write, so it
    /// answers whether a connection can be had. Returns the problems found (empty: consistent).
    /// For the reliability suite and operators after a crash, not for request paths: it reads the
    /// whole database.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text)]
            line: String,
        }
        let mut conn = self.connection()?;
        match &mut *conn {
            DbConn::Sqlite(c) => {
                let mut problems: Vec<String> =
                    diesel::sql_query("SELECT integrity_check AS line FROM pragma_integrity_check")
                        .load::<Line>(c)
                        .map_err(db_error)?
                        .into_iter()
                        .map(|l| l.line)
                        .filter(|l| l != "ok")
                        .collect();
                let violations = diesel::sql_query(
                    "SELECT \"table\" || ' row ' || COALESCE(rowid, 0) || ' → ' || parent AS line FROM pragma_foreign_key_check",
                )
                .load::<Line>(c)
                .map_err(db_error)?;
                problems.extend(violations.into_iter().map(|l| format!("foreign key: {}", l.line)));
                Ok(problems)
            }
            DbConn::Postgres(c) => {
                diesel::sql_query("SELECT 'ok' AS line")
                    .load::<Line>(c)
                    .map_err(db_error)?;
                Ok(Vec::new())
            }
        }
    }

    /// Runs raw SQL on a pooled connection: for tests and operators' tools that need to reach
    /// under the ports (introspection, fault injection). Not for application code.
    pub fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        conn.batch_execute(sql).map_err(db_error)
    }
}

/// Whether `c` has migrations of its backend not applied yet.
fn pending<C>(c: &mut C) -> Result<bool, StorageError>
where
    C: MigrationsOf,
{
    c.has_pending().map_err(|e| StorageError::Migration(e.to_string()))
}

/// The embedded migrations of a connection's backend.
trait MigrationsOf {
    fn has_pending(&mut self) -> diesel::migration::Result<bool>;
    fn run_pending(&mut self) -> diesel::migration::Result<()>;
}

impl MigrationsOf for diesel::SqliteConnection {
    fn has_pending(&mut self) -> diesel::migration::Result<bool> {
        self.has_pending_migration(SQLITE_MIGRATIONS)
    }

    fn run_pending(&mut self) -> diesel::migration::Result<()> {
        self.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ())
    }
}

impl MigrationsOf for diesel::PgConnection {
    fn has_pending(&mut self) -> diesel::migration::Result<bool> {
        self.has_pending_migration(POSTGRES_MIGRATIONS)
    }

    fn run_pending(&mut self) -> diesel::migration::Result<()> {
        self.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ())
    }
}

/// Applies the pending migrations under the lock described in the module doc.
fn run_migrations(conn: &mut DbConn) -> Result<(), StorageError> {
    let migration_error = |e: diesel::result::Error| StorageError::Migration(e.to_string());
    connection::write_transaction(conn, migration_error, |conn| {
        if let DbConn::Postgres(c) = conn {
            c.batch_execute(
                "SELECT pg_advisory_xact_lock(hashtext('accountd.migrations'), \
                 hashtext(coalesce(current_schema(), '')))",
            )
            .map_err(|e| StorageError::Migration(e.to_string()))?;
        }
        per_backend!(conn, |c| c.run_pending()).map_err(|e| StorageError::Migration(e.to_string()))
    })
}

/// Creates the SQLite file at `path`, empty, with mode 0600 when it does not exist yet, before
/// SQLite opens it: SQLite would create it 0644 (less the umask), readable by every local user,
/// and the file holds password hashes. SQLite gives the `-wal` and `-shm` files it creates beside
/// a database the database file's mode, so they are 0600 too. An existing file keeps its mode
/// (the operator's choice; docs/security.md asks for 0600). A `file:` URI is left to SQLite.
fn create_private_sqlite_file(path: &str) -> Result<(), StorageError> {
    if path.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StorageError::Connect(format!("creating the SQLite file {path}: {e}"))),
    }
}

/// `sqlite://…`, `postgres://…` → the backend and what its connection takes.
fn parse_url(url: &str) -> Result<(Backend, String), StorageError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    match sqlite_file(url) {
        Some(path) => Ok((Backend::Sqlite, path.to_owned())),
        None => Err(StorageError::UnsupportedUrl(redact(url))),
    }
}

/// The database file of an SQLite URL (`sqlite://path` or `sqlite:path`); `None` for any other
/// URL, an empty path or an in-memory database (which accountd does not open).
pub fn sqlite_file(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|path| !path.is_empty() && !path.starts_with(":memory:"))
}

/// The URL without anything between `://` and `@` (user and password).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}://…{}", &url[..start], &url[at..]),
        _ => url.to_owned(),
    }
}

/// `base` with its schema set to `schema` through libpq's `options` parameter
/// (`search_path`), e.g. for a schema per test or per tenant of a shared server.
pub fn postgres_url_with_schema(base: &str, schema: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-csearch_path%3D{schema}")
}

impl Store for Database {
    fn read<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.connection()?;
        let mut repo = Repo::new(&mut conn, false);
        let result = f(&mut repo);
        if repo.wrote {
            self.bump();
        }
        result
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation.load(std::sync::atomic::Ordering::Acquire))
    }

    fn reads_here(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    fn read_here<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.read_here_unless_known(|| None, f)
    }

    fn read_here_unless_known<T, E>(
        &self,
        known: impl FnOnce() -> Option<T>,
        f: impl FnOnce(&mut dyn Repository) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.backend != Backend::Sqlite {
            return match known() {
                Some(value) => Ok(value),
                None => self.read(f),
            };
        }
        HERE.with(|cell| {
            // A read inside a read (not expected) takes a pooled connection.
            // Without counting other connections' commits: `known` is not asked.
            let Ok(mut conns) = cell.try_borrow_mut() else {
                return self.read(f);
            };
            type Tm = <DbConn as diesel::Connection>::TransactionManager;
            let mut found = conns.iter().position(|here| here.database == self.id);
            if let Some(index) = found
                && !matches!(
                    Tm::transaction_manager_status_mut(&mut conns[index].conn).transaction_depth(),
                    Ok(None)
                )
            {
                // Left in a transaction (a panic inside `f`) or broken: a new one instead.
                conns.remove(index);
                found = None;
            }
            let index = match found {
                Some(index) => index,
                None => {
                    // Can't open one (too many files?): the pool, which reports its own errors.
                    let Ok(conn) = self.open_here() else {
                        drop(conns);
                        return self.read(f);
                    };
                    if conns.len() >= HERE_MAX {
                        conns.remove(0);
                    }
                    conns.push(Here {
                        database: self.id,
                        conn,
                        seen: None,
                    });
                    conns.len() - 1
                }
            };
            let here = &mut conns[index];
            // Another connection's commit since this one last looked (another process's
            // included) moves the generation on before `known` or `f` looks at it
            // (`Store::generation`). On its own (autocommit): a remembered answer needs no
            // transaction of ours.
            let version = data_version(&mut here.conn).ok();
            if version.is_none() || version != here.seen {
                here.seen = version;
                self.bump();
            }
            // A connection that can't say (broken?) is replaced after this read: otherwise it
            // would move the generation on at every read, and nothing would stay remembered.
            let broken = version.is_none();
            if let Some(value) = known() {
                if broken {
                    conns.remove(index);
                }
                return Ok(value);
            }
            // One read transaction for every statement of `f`: one WAL read lock and one
            // snapshot, rather than one per statement (each took the shared-memory lock, which
            // the workers of the process contend for: a third of a Basic request's CPU).
            Tm::begin_transaction(&mut here.conn).map_err(|e| E::from(db_error(e)))?;
            let mut repo = Repo::new(&mut here.conn, false);
            let result = f(&mut repo);
            let wrote = repo.wrote;
            if broken
                || (Tm::commit_transaction(&mut here.conn).is_err()
                    && Tm::rollback_transaction(&mut here.conn).is_err())
            {
                conns.remove(index);
            }
            if wrote {
                self.bump();
            }
            result
        })
    }

    fn write<T, E>(&self, f: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        // The turn first, then the connection: a writer waiting for its turn holds no connection.
        let _turn = (self.backend == Backend::Sqlite).then(|| self.writers.enter(self.pool.connection_timeout()));
        let mut conn = self.connection()?;
        let result = connection::write_transaction(
            &mut conn,
            |e| E::from(db_error(e)),
            |conn| {
                let mut repo = Repo::new(conn, true);
                f(&mut repo)
            },
        );
        // After the commit (or the rollback): a reader that saw the old generation may have read
        // the old rows, and its cache entry must not outlive this write.
        self.bump();
        result
    }

    fn check_ready(&self) -> Result<(), StoreError> {
        self.ping().map_err(|e| match e {
            StorageError::Store(err) => err,
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    fn pool_use(&self) -> Option<PoolUse> {
        Some(self.pool_state())
    }

    /// SQLite: one `INSERT … SELECT` over a recursive sequence per 100,000 users, in its own
    /// `BEGIN IMMEDIATE` transaction (a million users in seconds). PostgreSQL: `crate::bulk`.
    fn bulk_copy_user(&self, template: UserKey, copy: &BulkCopy) -> Result<(), StoreError> {
        const BATCH: u64 = 100_000;
        let plain = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !plain(copy.prefix) || !plain(copy.group_prefix) || copy.per_group == 0 {
            return Err(StoreError::Backend("bulk copy names must be plain".into()));
        }
        if self.backend == Backend::Postgres {
            return crate::bulk::copy_users_postgres(self, template, copy);
        }
        let _turn = self.writers.enter(self.pool.connection_timeout());
        let mut next = copy.first;
        while next <= copy.last {
            let last = (next + BATCH - 1).min(copy.last);
            self.execute_raw(&bulk_copy_sql(template.0, next, last, copy))?;
            next = last + 1;
        }
        Ok(())
    }
}

/// One transaction copying user `template` (its row and its password) to generated users
/// `first..=last` of `copy`. Only the username, user id, UUID and group differ from the template.
fn bulk_copy_sql(template: i64, first: u64, last: u64, copy: &BulkCopy) -> String {
    let BulkCopy {
        prefix,
        group_prefix,
        per_group,
        ..
    } = copy;
    format!(
        "BEGIN IMMEDIATE;
         WITH RECURSIVE seq(x) AS (SELECT {first} UNION ALL SELECT x + 1 FROM seq WHERE x < {last})
         INSERT INTO users (uuid, username, level, tenant_key, group_key, user_id, admin_department_key,
             department_key, first_name, last_name, cli_first_name, cli_last_name, phone_number, extension,
             cli_phone_number, language, email, network_class_of_service, time_zone, mobile, description,
             image, enabled, state, account_type, created_at, updated_at, version)
         SELECT printf('b3c00000-0000-4000-8000-%012x', x), printf('{prefix}%07d', x), t.level, t.tenant_key,
             g.key, printf('{prefix}%07d', x), t.admin_department_key, t.department_key, t.first_name,
             t.last_name, t.cli_first_name, t.cli_last_name, t.phone_number, t.extension, t.cli_phone_number,
             t.language, t.email, t.network_class_of_service, t.time_zone, t.mobile, t.description, t.image,
             t.enabled, t.state, t.account_type, t.created_at, t.updated_at, t.version
         FROM seq
         JOIN users t ON t.key = {template}
         JOIN groups g ON g.tenant_key = t.tenant_key AND g.group_id = printf('{group_prefix}%04d', (x - 1) / {per_group});
         INSERT INTO passwords (user_key, hash, changed_at, first_login)
         SELECT u.key, p.hash, p.changed_at, p.first_login
         FROM users u JOIN passwords p ON p.user_key = {template}
         WHERE u.username BETWEEN printf('{prefix}%07d', {first}) AND printf('{prefix}%07d', {last});
         COMMIT;"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn writers_take_turns_and_a_stuck_turn_times_out() {
        let gate = Arc::new(WriteGate::default());
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let turn = gate.enter(Duration::from_secs(10));
                        assert!(turn.gate.is_some());
                        assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        let held = gate.enter(Duration::from_secs(1));
        let started = Instant::now();
        let late = gate.enter(Duration::from_millis(50));
        assert!(late.gate.is_none(), "went on without a turn");
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(held);
        assert!(gate.enter(Duration::ZERO).gate.is_some());
    }

    /// The database holds password hashes: its file, and the WAL and shared-memory files SQLite
    /// creates beside it, are the owner's only, whatever the umask.
    #[cfg(unix)]
    #[test]
    fn a_new_sqlite_database_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accountd.db");
        let db = Database::open(&format!("sqlite://{}", path.display()), &PoolOptions::default()).unwrap();
        // A write through the pool, with the first connection still open, keeps -wal and -shm.
        db.execute_raw("CREATE TABLE mode_probe (x INTEGER); INSERT INTO mode_probe VALUES (1);")
            .unwrap();
        let mut conn = db.connection().unwrap();
        conn.batch_execute("SELECT * FROM mode_probe").unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }

    /// `read_here` keeps one connection per thread and database, and each read sees what was
    /// committed just before, by this process's pool or by another process's (instance's).
    #[test]
    fn a_thread_reads_here_what_was_just_committed() {
        use accountd_domain::user::Timestamp;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let one = Database::open(&url, &PoolOptions::default()).unwrap();
        let other = Database::open(&url, &PoolOptions::default()).unwrap();
        assert!(one.reads_here());
        let hits = |db: &Database| db.read_here(|r| r.throttle_state("k")).unwrap().map(|s| s.failures);
        assert_eq!(hits(&one), None);
        let now = Timestamp::from_millis(1_000);
        one.write(|r| r.throttle_hit("k", now, 60)).unwrap();
        assert_eq!(hits(&one), Some(1), "this instance's write");
        other.write(|r| r.throttle_hit("k", now, 60)).unwrap();
        assert_eq!(hits(&one), Some(2), "another instance's write");
        assert_eq!(hits(&other), Some(2));
        // A read inside a read still works (on a pooled connection).
        let nested = one.read_here(|_| Ok::<_, StoreError>(hits(&one))).unwrap();
        assert_eq!(nested, Some(2));
        HERE.with(|conns| assert_eq!(conns.borrow().len(), 2, "one connection per database"));
    }

    /// Another connection's commit (another process's: here another `Database` on the file, whose
    /// writes don't move this one's counter) moves the generation on at the next read here,
    /// before the read's own code runs; without one, reads here leave it alone.
    #[test]
    fn a_read_here_counts_other_connections_commits_in_the_generation() {
        use accountd_domain::user::Timestamp;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let one = Database::open(&url, &PoolOptions::default()).unwrap();
        let other = Database::open(&url, &PoolOptions::default()).unwrap();
        let inside = |db: &Database| db.read_here(|_| Ok::<_, StoreError>(db.generation())).unwrap();
        let settled = inside(&one);
        assert_eq!(inside(&one), settled, "no commit: no change");
        assert_eq!(one.generation(), settled);
        other
            .write(|r| r.throttle_hit("k", Timestamp::from_millis(1_000), 60))
            .unwrap();
        assert_eq!(one.generation(), settled, "not yet seen");
        let seen = inside(&one);
        assert!(seen > settled, "seen by the next read here, before its code ran");
        assert_eq!(inside(&one), seen, "and counted once");
        // Likewise before a remembered answer is asked for, and then nothing else is read.
        other
            .write(|r| r.throttle_hit("k", Timestamp::from_millis(1_000), 60))
            .unwrap();
        let known = one
            .read_here_unless_known(
                || Some(one.generation()),
                |_| -> Result<_, StoreError> { unreachable!() },
            )
            .unwrap();
        assert!(known > seen, "counted before `known` was asked");
        let read = one
            .read_here_unless_known(|| None, |_| Ok::<_, StoreError>(one.generation()))
            .unwrap();
        assert_eq!(read, known, "no commit since");
        // A read inside a read falls back to the pool and counts nothing: `known` is not asked.
        let nested = one
            .read_here(|_| one.read_here_unless_known(|| Some("remembered"), |_| Ok::<_, StoreError>("read")))
            .unwrap();
        assert_eq!(nested, "read");
    }

    /// The statements of one `read_here` share a snapshot; the next one sees what was committed
    /// meanwhile, also after a panic inside a read (whose connection is replaced, not reused in
    /// its stale transaction).
    #[test]
    fn a_read_here_is_one_snapshot_and_a_panic_leaves_none_behind() {
        use accountd_domain::user::Timestamp;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let db = Database::open(&url, &PoolOptions::default()).unwrap();
        let now = Timestamp::from_millis(1_000);
        let failures = |r: &mut dyn Repository| r.throttle_state("k").map(|s| s.map(|s| s.failures));
        db.write(|r| r.throttle_hit("k", now, 60)).unwrap();
        let (first, second) = db
            .read_here(|r| {
                let first = failures(r)?;
                // Another connection commits between the two statements.
                db.write(|w| w.throttle_hit("k", now, 60))?;
                Ok::<_, StoreError>((first, failures(r)?))
            })
            .unwrap();
        assert_eq!((first, second), (Some(1), Some(1)), "one snapshot");
        assert_eq!(
            db.read_here(failures).unwrap(),
            Some(2),
            "the next read sees the commit"
        );
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.read_here(|r| {
                failures(r)?;
                panic!("inside a read");
                #[allow(unreachable_code)]
                Ok::<_, StoreError>(())
            })
        }));
        assert!(panicked.is_err());
        db.write(|r| r.throttle_hit("k", now, 60)).unwrap();
        assert_eq!(
            db.read_here(failures).unwrap(),
            Some(3),
            "no stale snapshot after a panic"
        );
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            parse_url("sqlite:///var/lib/a.db").unwrap(),
            (Backend::Sqlite, "/var/lib/a.db".into())
        );
        assert_eq!(
            parse_url("sqlite://data/a.db").unwrap(),
            (Backend::Sqlite, "data/a.db".into())
        );
        assert_eq!(parse_url("sqlite:a.db").unwrap(), (Backend::Sqlite, "a.db".into()));
        assert_eq!(parse_url("postgres://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(parse_url("postgresql://u@h/db").unwrap().0, Backend::Postgres);
        assert!(parse_url("mysql://u@h/db").is_err());
        assert!(parse_url("sqlite://").is_err());
        assert!(parse_url("sqlite::memory:").is_err());
    }

    #[test]
    fn refused_urls_hide_credentials() {
        let err = parse_url("mysql://user:secret@host/db").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("@host/db"), "{err}");
    }

    #[test]
    fn schema_goes_into_the_options_parameter() {
        assert_eq!(
            postgres_url_with_schema("postgres://p@h/test", "t_1"),
            "postgres://p@h/test?options=-csearch_path%3Dt_1"
        );
        assert_eq!(
            postgres_url_with_schema("postgres://p@h/test?sslmode=disable", "t_1"),
            "postgres://p@h/test?sslmode=disable&options=-csearch_path%3Dt_1"
        );
    }
}
