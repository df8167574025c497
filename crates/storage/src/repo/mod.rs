//! [`Repo`]: every storage port of the domain on one pooled connection, inside a write
//! transaction or not. One submodule per port; this one holds what they share: the transaction
//! helpers, the look-ups from domain ids to keys, and the row lock.
//!
//! Rows become domain values only through the domain's constructors (`TenantId::parse`,
//! `Text::from_stored`, `Department::new`, `PinSettings::new`, …): stored data that fails them is
//! reported as `StoreError::Corrupt`, never a panic. Names and text are read with `from_stored`,
//! which leaves out the rules for new values only (no invisible character), so a row stored
//! before such a rule stays readable.

mod app_data;
mod audit;
mod claims;
mod credentials;
mod devices;
mod directory;
mod factors;
mod inventory;
mod outbox;
mod passkeys;
mod pins;
mod sessions;
mod throttle;
mod tokens;
mod user;

use crate::connection::{self, DbConn};
use crate::error::{QueryResultExt, corrupt, db_error};
use crate::schema::{departments, groups, tenants, users};
use accountd_domain::ids::{DepartmentName, GroupId, TenantId, UserId, UserKey};
use accountd_domain::ports::{StoreError, StoreResult};
use accountd_domain::user::DepartmentKey;
use diesel::prelude::*;

/// The storage ports on one connection. `in_transaction` says whether the [`crate::Database`]
/// opened a write transaction around it.
pub(crate) struct Repo<'c> {
    conn: &'c mut DbConn,
    in_transaction: bool,
    /// Set by every writing method ([`Repo::atomic`], [`Repo::single`]): a read that wrote
    /// counts as a write for [`accountd_domain::ports::Store::generation`].
    pub(crate) wrote: bool,
}

impl<'c> Repo<'c> {
    pub(crate) fn new(conn: &'c mut DbConn, in_transaction: bool) -> Self {
        Self {
            conn,
            in_transaction,
            wrote: false,
        }
    }

    /// Runs a method of several statements atomically: in a savepoint inside the write
    /// transaction, else in a write transaction of its own (`BEGIN IMMEDIATE` on SQLite).
    fn atomic<T>(&mut self, f: impl FnOnce(&mut DbConn) -> StoreResult<T>) -> StoreResult<T> {
        self.wrote = true;
        if self.in_transaction {
            connection::savepoint(self.conn, db_error, f)
        } else {
            connection::write_transaction(self.conn, db_error, f)
        }
    }

    /// Runs a single writing statement: in a savepoint inside the write transaction (so that its
    /// failure, a unique violation say, leaves the transaction usable on PostgreSQL too), else as
    /// is (one statement is atomic on its own).
    fn single<T>(&mut self, f: impl FnOnce(&mut DbConn) -> StoreResult<T>) -> StoreResult<T> {
        self.wrote = true;
        if self.in_transaction {
            connection::savepoint(self.conn, db_error, f)
        } else {
            f(self.conn)
        }
    }
}

impl std::fmt::Debug for Repo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("in_transaction", &self.in_transaction)
            .finish()
    }
}

/// The key of tenant `id`, if it exists.
fn tenant_key(conn: &mut DbConn, id: &TenantId) -> StoreResult<Option<i64>> {
    tenants::table
        .filter(tenants::tenant_id.eq(id.as_str()))
        .select(tenants::key)
        .first(conn)
        .optional()
        .store()
}

/// The keys of tenant `tenant` and its group `id`, if both exist.
fn group_keys(conn: &mut DbConn, tenant: &TenantId, id: &GroupId) -> StoreResult<Option<(i64, i64)>> {
    groups::table
        .inner_join(tenants::table.on(tenants::key.eq(groups::tenant_key)))
        .filter(tenants::tenant_id.eq(tenant.as_str()))
        .filter(groups::group_id.eq(id.as_str()))
        .select((tenants::key, groups::key))
        .first(conn)
        .optional()
        .store()
}

/// A department row's key and materialized path.
#[derive(Debug, Queryable)]
struct DepartmentRef {
    key: i64,
    path: String,
}

/// Looks a department up by its tenant key, group key (`None`: enterprise level) and name.
fn department_ref(
    conn: &mut DbConn,
    tenant_key: i64,
    group_key: Option<i64>,
    name: &DepartmentName,
) -> StoreResult<Option<DepartmentRef>> {
    let query = departments::table
        .filter(departments::name.eq(name.as_str()))
        .select((departments::key, departments::path));
    match group_key {
        Some(g) => query
            .filter(departments::group_key.eq(g))
            .first(conn)
            .optional()
            .store(),
        None => query
            .filter(departments::tenant_key.eq(tenant_key))
            .filter(departments::group_key.is_null())
            .first(conn)
            .optional()
            .store(),
    }
}

/// Resolves a [`DepartmentKey`] to the department's key and path.
fn department_by_key(conn: &mut DbConn, key: &DepartmentKey) -> StoreResult<Option<DepartmentRef>> {
    let Some(tenant) = tenant_key(conn, &key.tenant)? else {
        return Ok(None);
    };
    let group = match &key.group {
        Some(g) => match group_keys(conn, &key.tenant, g)? {
            Some((_, group)) => Some(group),
            None => return Ok(None),
        },
        None => None,
    };
    department_ref(conn, tenant, group, &key.name)
}

/// The stored path (a JSON array of names) as department names, root first.
fn parse_path(key: i64, path: &str) -> StoreResult<Vec<DepartmentName>> {
    let names: Vec<String> = serde_json::from_str(path).map_err(|e| corrupt("department", key, e))?;
    names
        .into_iter()
        .map(|n| DepartmentName::parse(n).map_err(|e| corrupt("department", key, e)))
        .collect()
}

/// Encodes a path for the `path` column.
fn encode_path(names: &[DepartmentName]) -> String {
    let names: Vec<&str> = names.iter().map(DepartmentName::as_str).collect();
    // Serializing a list of strings can't fail.
    serde_json::to_string(&names).unwrap_or_default()
}

/// What placing a user in the tree needs: keys and ids of their tenant and group.
#[derive(Debug, Clone)]
struct Placement {
    tenant_key: Option<i64>,
    group_key: Option<i64>,
    tenant: Option<TenantId>,
    group: Option<GroupId>,
    user_id: Option<UserId>,
}

/// The user's placement, or `NotFound("user")`. On PostgreSQL the row is locked
/// (`SELECT … FOR UPDATE`) until the transaction ends, so writers of one user take turns; SQLite's
/// `BEGIN IMMEDIATE` has serialized them already.
fn lock_user(conn: &mut DbConn, key: UserKey) -> StoreResult<Placement> {
    if let DbConn::Postgres(c) = conn {
        // `FOR UPDATE` can't apply to the nullable side of the outer joins below: lock first.
        let locked: Option<i64> = users::table
            .filter(users::key.eq(key.0))
            .select(users::key)
            .for_update()
            .first(c)
            .optional()
            .store()?;
        if locked.is_none() {
            return Err(StoreError::NotFound("user"));
        }
    }
    type Row = (Option<i64>, Option<i64>, Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = users::table
        .left_join(tenants::table.on(users::tenant_key.eq(tenants::key.nullable())))
        .left_join(groups::table.on(users::group_key.eq(groups::key.nullable())))
        .filter(users::key.eq(key.0))
        .select((
            users::tenant_key,
            users::group_key,
            tenants::tenant_id.nullable(),
            groups::group_id.nullable(),
            users::user_id,
        ))
        .first(conn)
        .optional()
        .store()?;
    let (tenant_key, group_key, tenant, group, user_id) = row.ok_or(StoreError::NotFound("user"))?;
    let bad = |e| corrupt("user", key, e);
    Ok(Placement {
        tenant_key,
        group_key,
        tenant: tenant.map(TenantId::parse).transpose().map_err(bad)?,
        group: group.map(GroupId::parse).transpose().map_err(bad)?,
        user_id: user_id.map(UserId::parse).transpose().map_err(bad)?,
    })
}

/// A count of rows from the database as the `u64` the ports answer with.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
