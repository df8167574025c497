//! Why an import refused a record. The texts (`Display`) are the reasons an operator reads in the
//! import's report, after the record's place and kind (`line 9: user: email must be …`); they
//! never quote a password or a hash. docs/import.md shows them.

use super::Kind;
use accountd_domain::level::UserLevel;
use accountd_domain::ports::StoreError;
use accountd_domain::{InvalidValue, Problem};
use accountd_policy::hashing::HashError;

/// Why one record was refused (the others are kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The file's reader could not make a record of it; its text names the column, never the value.
    #[error("{0}")]
    Unreadable(String),
    #[error("kind is required")]
    KindRequired,
    /// Columns filled that a record of this kind does not have.
    #[error("{} not allowed in a {} record", .columns.join(", "), .kind.as_str())]
    StrayColumns { kind: Kind, columns: Vec<String> },
    /// A required column is empty.
    #[error("{0} is required")]
    Required(&'static str),
    /// Values refused by the domain's constructors, every one of them.
    #[error("{}", join(.0))]
    Invalid(Vec<InvalidValue>),
    /// The level and the placement columns disagree ([`accountd_domain::level::Role::from_parts`]'s
    /// problems, the one that says most first).
    #[error("{}", role_reason(*.level, .problems))]
    Role {
        level: UserLevel,
        problems: Vec<InvalidValue>,
    },
    #[error("uuid is not a UUID")]
    NotAUuid,
    #[error("a department can't be its own parent")]
    OwnParent,
    #[error("its parent chain is a cycle")]
    ParentCycle,
    #[error("no such parent department")]
    NoParent,
    #[error("the parent chain is too deep")]
    TooDeep,
    /// A device's level and owner columns disagree.
    #[error("{}", device_owner_reason(*.0))]
    DeviceOwner(accountd_domain::endpoint::DeviceLevel),
    #[error("department needs a user of a tenant")]
    DepartmentWithoutTenant,
    #[error("no such department in the user's group or tenant")]
    NoDepartment,
    #[error("give password or password_hash, not both")]
    PasswordAndHash,
    #[error("password_hash is not a hash")]
    NotAHash,
    /// The second-factor columns are malformed (the reason names the column, never the value).
    #[error("{0}")]
    Factor(&'static str),
    /// A hash of a scheme or cost this server can't verify (the scheme is named, not the value).
    #[error("password_hash: {0}")]
    UnusableHash(HashError),
    #[error("hashing the password failed: {0}")]
    Hashing(HashError),
    #[error("line_number, endpoint and contacts need device and line_port")]
    EndpointPartsWithoutLine,
    #[error("an endpoint needs both device and line_port")]
    EndpointHalf,
    #[error("only users of a group have an endpoint")]
    EndpointWithoutGroup,
    #[error("endpoint must be access or trunk")]
    EndpointKind,
    #[error("a trunk endpoint has no line_number")]
    TrunkLineNumber,
    #[error("device_level needs device and line_port")]
    DeviceLevelWithoutEndpoint,
    #[error("the username exists with another level or place")]
    UsernameElsewhere,
    #[error("the username is given twice")]
    UsernameTwice,
    /// A unique value is taken (`linePort`, `uuid`, …).
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// Something the record refers to does not exist (`tenant`, `device`, …).
    #[error("no such {0}")]
    Missing(&'static str),
    /// Any other store failure for this record.
    #[error(transparent)]
    Store(StoreError),
}

impl From<InvalidValue> for RecordError {
    fn from(err: InvalidValue) -> Self {
        RecordError::Invalid(vec![err])
    }
}

impl From<StoreError> for RecordError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(field) => RecordError::Taken(field),
            StoreError::NotFound(what) => RecordError::Missing(what),
            other => RecordError::Store(other),
        }
    }
}

fn join(values: &[InvalidValue]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The column of a role problem's field.
fn column(field: &str) -> &str {
    match field {
        "administered_department" => "admin_department",
        other => other,
    }
}

/// The order in which role problems are reported: a missing tenant, group, user id or department
/// before a column that does not apply.
pub(super) fn role_problem_rank(problem: &InvalidValue) -> u8 {
    match (&problem.problem, problem.field) {
        (Problem::Empty, "tenant") => 0,
        (Problem::Empty, "group") => 1,
        (Problem::Empty, "user_id") => 2,
        (Problem::Empty, _) => 3,
        (_, "administered_department") => 4,
        (_, "group") => 5,
        (_, "tenant") => 6,
        _ => 7,
    }
}

fn role_reason(level: UserLevel, problems: &[InvalidValue]) -> String {
    let Some(first) = problems.first() else {
        return format!("the columns do not fit level {}", level.as_u8());
    };
    match (&first.problem, first.field, level) {
        (Problem::Empty, "tenant", UserLevel::TenantAdmin) => "tenant is required for level 12".into(),
        (Problem::Empty, "administered_department", _) => "admin_department is required for level 4".into(),
        (Problem::Empty, field, _) => format!("{} is required for this level", column(field)),
        (_, field, _) => format!("{} does not apply to level {}", column(field), level.as_u8()),
    }
}

fn device_owner_reason(level: accountd_domain::endpoint::DeviceLevel) -> &'static str {
    use accountd_domain::endpoint::DeviceLevel;
    match level {
        DeviceLevel::System => "a System device has no tenant nor group",
        DeviceLevel::ServiceProvider => "a ServiceProvider device has a tenant and no group",
        DeviceLevel::Group => "a Group device needs its tenant and group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_problems_read_as_the_columns_say() {
        let empty = |f| InvalidValue::new(f, Problem::Empty);
        let extra = |f| InvalidValue::new(f, Problem::Conflict("not a member of a user of this level"));
        let reason = |level, problems| RecordError::Role { level, problems }.to_string();
        assert_eq!(
            reason(UserLevel::EndUser, vec![empty("group")]),
            "group is required for this level"
        );
        assert_eq!(
            reason(UserLevel::TenantAdmin, vec![empty("tenant")]),
            "tenant is required for level 12"
        );
        assert_eq!(
            reason(UserLevel::DepartmentAdmin, vec![empty("administered_department")]),
            "admin_department is required for level 4"
        );
        assert_eq!(
            reason(UserLevel::EndUser, vec![extra("administered_department")]),
            "admin_department does not apply to level 0"
        );
        assert_eq!(
            RecordError::Invalid(vec![empty("first_name"), empty("last_name")]).to_string(),
            "first_name must not be empty; last_name must not be empty"
        );
        assert_eq!(
            RecordError::from(StoreError::Conflict("linePort")).to_string(),
            "linePort is already taken"
        );
        assert_eq!(
            RecordError::from(StoreError::NotFound("tenant")).to_string(),
            "no such tenant"
        );
    }
}
