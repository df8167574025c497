//! accountd's storage: every port of `accountd_domain::ports` on diesel 2.3 and r2d2, for SQLite
//! (the embedded default) and PostgreSQL from one binary.
//!
//! - [`Database`]: open by URL (`sqlite://PATH`, `postgres://…`), embedded migrations applied at
//!   open, [`Database::ping`] for readiness, and the domain's
//!   [`Store`](accountd_domain::ports::Store): `read` on a pooled connection, `write` in one
//!   transaction (`BEGIN IMMEDIATE` on SQLite) that commits only when the closure returns `Ok`.
//! - [`PoolOptions`], [`Backend`], [`StorageError`] (opening), and
//!   [`StoreError`](accountd_domain::ports::StoreError) for everything the ports do.
//! - `testing` (feature `testing`): a fresh database per test (SQLite temp file or PostgreSQL schema), dropped on
//!   `Drop`, for this crate's contract tests and any crate that tests against a real store.
//!
//! Modules: `connection` (the one connection type over both backends, the pool, transactions),
//! `database`, `error` (the error policy), `schema` (diesel tables), `repo` (the ports), `bulk`
//! (the benchmarks' bulk copy on PostgreSQL).
//! The schema, its cascades and the delete semantics are documented in `docs/storage.md`.

mod bulk;
mod connection;
mod database;
mod error;
mod repo;
mod schema;
#[cfg(test)]
mod schema_check;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use connection::Backend;
pub use database::{Database, PoolOptions, postgres_url_with_schema, sqlite_file};
pub use error::StorageError;
