//! Error policy of the storage crate.
//!
//! - Opening a database (bad URL, unreachable server, failed migration) is a [`StorageError`]: the
//!   application reports it at start-up and stops.
//! - Everything a port method does answers with the domain's
//!   [`StoreError`], mapped here from diesel's errors:
//!   unique violations become `Conflict("<field>")` with the field named as the APIs name it
//!   (never the SQL text nor the offending value), foreign-key violations `NotFound("<what>")`,
//!   busy/locked databases and pool time-outs `Unavailable`, undecodable values `Corrupt`, and
//!   anything else `Backend` with the database's text, for logs only.
//!
//! Unique constraints are recognised by name on PostgreSQL and by column list on SQLite (whose
//! messages carry no constraint name); [`UNIQUE_CONSTRAINTS`] is the one table of both, and a
//! schema test checks that it knows every unique index of both databases.

use accountd_domain::ports::StoreError;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// Why a database could not be opened or checked.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is neither `sqlite://…` nor `postgres://…`/`postgresql://…`.
    #[error("unsupported database URL (expected sqlite://PATH or postgres://…): {0}")]
    UnsupportedUrl(String),
    /// No connection could be made (the message never contains the password of the URL).
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The schema is older than this build (readiness: migrations pending).
    #[error("database migrations are pending")]
    PendingMigrations,
    /// A query failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `(PostgreSQL constraint or index name, SQLite columns as its message lists them, field)`.
pub(crate) const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("tenants_tenant_id_key", "tenants.tenant_id", "tenant_id"),
    (
        "groups_tenant_key_group_id_key",
        "groups.tenant_key, groups.group_id",
        "group_id",
    ),
    (
        "departments_group_key_name_key",
        "departments.group_key, departments.name",
        "departmentName",
    ),
    (
        "departments_tenant_key_name_key",
        "departments.tenant_key, departments.name",
        "departmentName",
    ),
    ("users_uuid_key", "users.uuid", "uuid"),
    ("users_username_key", "users.username", "username"),
    (
        "users_group_key_user_id_key",
        "users.group_key, users.user_id",
        "user_id",
    ),
    ("passwords_pkey", "passwords.user_key", "password"),
    ("pincodes_pkey", "pincodes.user_key", "pinCode"),
    (
        "devices_level_owner_key_name_key",
        "devices.level, devices.owner_key, devices.name",
        "device",
    ),
    ("user_endpoints_line_port_key", "user_endpoints.line_port", "linePort"),
    ("user_endpoints_main_key", "user_endpoints.user_key", "mainEndpoint"),
    (
        "app_data_pkey",
        "app_data.group_key, app_data.user_id, app_data.app_id",
        "appId",
    ),
    ("sessions_digest_key", "sessions.digest", "session"),
    ("api_tokens_digest_key", "api_tokens.digest", "token"),
    ("throttle_pkey", "throttle.key", "throttle"),
    (
        "tenant_licenses_pkey",
        "tenant_licenses.tenant_key, tenant_licenses.position",
        "license",
    ),
    (
        "user_secondary_groups_pkey",
        "user_secondary_groups.user_key, user_secondary_groups.group_key",
        "secondaryGroups",
    ),
    ("user_claims_pkey", "user_claims.user_key", "userClaim"),
    ("totp_factors_pkey", "totp_factors.user_key", "totp"),
    (
        "recovery_codes_user_digest_key",
        "recovery_codes.user_key, recovery_codes.digest",
        "recoveryCode",
    ),
    ("login_challenges_pkey", "login_challenges.digest", "challenge"),
    ("passkeys_credential_id_key", "passkeys.credential_id", "passkey"),
    ("webauthn_ceremonies_pkey", "webauthn_ceremonies.digest", "ceremony"),
    (
        "password_change_demands_pkey",
        "password_change_demands.user_key",
        "passwordChangeDemand",
    ),
    ("password_resets_pkey", "password_resets.digest", "resetLink"),
    ("email_changes_pkey", "email_changes.user_key", "emailChange"),
    ("email_changes_digest_key", "email_changes.digest", "emailChangeLink"),
];

/// `(PostgreSQL foreign-key constraint name, what is missing)`. SQLite doesn't say which key
/// failed: port methods check their references first, and name the usual suspect otherwise.
pub(crate) const FOREIGN_KEYS: &[(&str, &str)] = &[
    ("groups_tenant_key_fkey", "tenant"),
    ("departments_tenant_key_fkey", "tenant"),
    ("departments_group_key_fkey", "group"),
    ("departments_parent_key_fkey", "department"),
    ("users_tenant_key_fkey", "tenant"),
    ("users_group_key_fkey", "group"),
    ("users_admin_department_key_fkey", "department"),
    ("users_department_key_fkey", "department"),
    ("devices_tenant_key_fkey", "tenant"),
    ("devices_group_key_fkey", "group"),
    ("user_endpoints_device_key_fkey", "device"),
    ("app_data_group_key_fkey", "group"),
    ("tenant_licenses_tenant_key_fkey", "tenant"),
    ("user_secondary_groups_group_key_fkey", "group"),
];

/// The field a unique violation is about.
fn unique_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if let Some(name) = info.constraint_name()
        && let Some((_, _, field)) = UNIQUE_CONSTRAINTS.iter().find(|(pg, _, _)| *pg == name)
    {
        return field;
    }
    // SQLite: "UNIQUE constraint failed: users.group_key, users.user_id".
    if let Some(columns) = info.message().strip_prefix("UNIQUE constraint failed: ")
        && let Some((_, _, field)) = UNIQUE_CONSTRAINTS.iter().find(|(_, sqlite, _)| *sqlite == columns)
    {
        return field;
    }
    "value"
}

/// What a foreign-key violation says is missing; `default` when the database doesn't tell.
fn missing_reference(info: &dyn DatabaseErrorInformation, default: &'static str) -> &'static str {
    info.constraint_name()
        .and_then(|name| FOREIGN_KEYS.iter().find(|(pg, _)| *pg == name))
        .map_or(default, |(_, what)| what)
}

/// Whether a database message means "busy, try later" (SQLite's locks, PostgreSQL's
/// serialization and deadlock failures, lost connections).
fn is_busy(kind: &DatabaseErrorKind, message: &str) -> bool {
    matches!(
        kind,
        DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ClosedConnection
    ) || message.contains("database is locked")
        || message.contains("database table is locked")
        || message.contains("database is busy")
        || message.contains("deadlock detected")
}

/// Whether a database error says its disk is full: SQLite's `SQLITE_FULL` ("database or disk is
/// full"), PostgreSQL's `disk_full` (53100, "could not extend file …: No space left on device").
fn is_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

/// Maps a diesel error to the domain's. Foreign-key violations name `"record"` unless the
/// database says which reference failed; see [`db_error_for`].
pub(crate) fn db_error(e: DieselError) -> StoreError {
    db_error_for(e, "record")
}

/// Maps a diesel error, naming `missing` in `NotFound` when a foreign key fails and the database
/// (SQLite) doesn't say which.
pub(crate) fn db_error_for(e: DieselError, missing: &'static str) -> StoreError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::Conflict(unique_field(info.as_ref()))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            StoreError::NotFound(missing_reference(info.as_ref(), missing))
        }
        DieselError::DatabaseError(_, info) if is_full(info.message()) => StoreError::Full(info.message().to_owned()),
        DieselError::DatabaseError(kind, info) if is_busy(&kind, info.message()) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        DieselError::DatabaseError(_, info) => StoreError::Backend(info.message().to_owned()),
        DieselError::DeserializationError(e) => StoreError::Corrupt(e.to_string()),
        DieselError::NotFound => StoreError::NotFound(missing),
        DieselError::BrokenTransactionManager => StoreError::Unavailable(e.to_string()),
        other => StoreError::Backend(other.to_string()),
    }
}

/// `QueryResult` → `StoreResult`, naming what a failed foreign key means for the caller.
pub(crate) trait QueryResultExt<T> {
    /// Maps with [`db_error`].
    fn store(self) -> Result<T, StoreError>;
    /// Maps with [`db_error_for`]: a failed reference is `NotFound(missing)`.
    fn store_or_missing(self, missing: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryResultExt<T> for Result<T, DieselError> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(db_error)
    }

    fn store_or_missing(self, missing: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| db_error_for(e, missing))
    }
}

/// A pool that could not hand out a connection in time: the store is unavailable.
pub(crate) fn pool_error(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Stored data that fails a domain constructor.
pub(crate) fn corrupt(table: &str, key: impl std::fmt::Display, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table} {key}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_full_disk_is_full_not_a_backend_error() {
        for message in [
            "database or disk is full",
            "could not extend file \"base/16384/16385\": No space left on device",
        ] {
            assert!(
                matches!(
                    db_error(database_error(DatabaseErrorKind::Unknown, message)),
                    StoreError::Full(_)
                ),
                "{message}"
            );
        }
        assert!(matches!(
            db_error(database_error(DatabaseErrorKind::Unknown, "syntax error")),
            StoreError::Backend(_)
        ));
        assert!(matches!(
            db_error(database_error(DatabaseErrorKind::Unknown, "database is locked")),
            StoreError::Unavailable(_)
        ));
    }
}
