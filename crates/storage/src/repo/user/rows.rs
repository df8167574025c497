//! The `users` row and the joins that make a [`User`] of it in one query, shared by every port
//! that reads users (sessions and API tokens put their own table in front).

use super::parse_path;
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::users;
use accountd_domain::ids::{DepartmentName, GroupId, TenantId, UserId, UserKey, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::ports::StoreResult;
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{AccountState, AccountType, Department, DepartmentKey, Profile, Timestamp, User, Version};
use diesel::prelude::*;
use uuid::Uuid;

/// The `users` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct UserRow {
    key: i64,
    uuid: String,
    username: String,
    level: i32,
    tenant_key: Option<i64>,
    group_key: Option<i64>,
    user_id: Option<String>,
    admin_department_key: Option<i64>,
    department_key: Option<i64>,
    first_name: String,
    last_name: String,
    cli_first_name: String,
    cli_last_name: String,
    phone_number: String,
    extension: String,
    cli_phone_number: String,
    language: Option<String>,
    email: Option<String>,
    network_class_of_service: String,
    time_zone: Option<String>,
    mobile: String,
    description: String,
    image: String,
    enabled: bool,
    state: String,
    account_type: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

/// A user row with what its joins bring: tenant id, group id, the department's tenant key, group
/// key, name and path, and the administered department's name.
pub(crate) type UserJoinRow = (
    UserRow,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `$source` (a query whose tables include `users`) outer-joined with what a [`User`] needs.
macro_rules! user_joins {
    ($source:expr) => {
        $source
            .left_join(
                $crate::schema::tenants::table
                    .on($crate::schema::users::tenant_key.eq($crate::schema::tenants::key.nullable())),
            )
            .left_join(
                $crate::schema::groups::table
                    .on($crate::schema::users::group_key.eq($crate::schema::groups::key.nullable())),
            )
            .left_join(
                $crate::schema::departments::table
                    .on($crate::schema::users::department_key.eq($crate::schema::departments::key.nullable())),
            )
            .left_join(
                $crate::repo::user::admin_departments.on($crate::schema::users::admin_department_key.eq(
                    $crate::repo::user::admin_departments
                        .field($crate::schema::departments::key)
                        .nullable(),
                )),
            )
    };
}
pub(crate) use user_joins;

/// The select clause of a [`UserJoinRow`], over [`user_joins!`].
macro_rules! user_columns {
    () => {
        (
            <$crate::repo::user::UserRow as diesel::SelectableHelper<_>>::as_select(),
            $crate::schema::tenants::tenant_id.nullable(),
            $crate::schema::groups::group_id.nullable(),
            $crate::schema::departments::tenant_key.nullable(),
            $crate::schema::departments::group_key.nullable(),
            $crate::schema::departments::name.nullable(),
            $crate::schema::departments::path.nullable(),
            $crate::repo::user::admin_departments
                .field($crate::schema::departments::name)
                .nullable(),
        )
    };
}
pub(crate) use user_columns;

/// Builds the domain user from its joined row, through the domain's constructors.
pub(crate) fn to_user(row: UserJoinRow) -> StoreResult<User> {
    let (u, tenant_id, group_id, dept_tenant_key, dept_group_key, dept_name, dept_path, admin_dept_name) = row;
    let key = u.key;
    let bad = |e: accountd_domain::InvalidValue| corrupt("user", key, e);
    let tenant = tenant_id.map(TenantId::parse).transpose().map_err(bad)?;
    let group = group_id.map(GroupId::parse).transpose().map_err(bad)?;
    let user_id = u.user_id.clone().map(UserId::parse).transpose().map_err(bad)?;
    let level = u8::try_from(u.level)
        .map_err(|_| corrupt("user", key, "level out of range"))
        .and_then(|l| UserLevel::from_u8(l).map_err(bad))?;
    let admin_department = admin_dept_name.map(DepartmentName::parse).transpose().map_err(bad)?;
    if u.admin_department_key.is_some() != admin_department.is_some() {
        return Err(corrupt("user", key, "administered department missing"));
    }
    let role = Role::from_parts(level, tenant.clone(), group.clone(), user_id, admin_department)
        .map_err(|_| corrupt("user", key, "role columns disagree with the level"))?;

    let department = match u.department_key {
        None => None,
        Some(dept_key) => {
            let (Some(name), Some(path), Some(dept_tenant)) = (dept_name, dept_path, dept_tenant_key) else {
                return Err(corrupt("user", key, "department missing"));
            };
            let Some(tenant) = tenant.clone().filter(|_| Some(dept_tenant) == u.tenant_key) else {
                return Err(corrupt("user", key, "department of another tenant"));
            };
            let group = match dept_group_key {
                None => None,
                Some(g) if Some(g) == u.group_key => group.clone(),
                Some(_) => return Err(corrupt("user", key, "department of another group")),
            };
            let name = DepartmentName::parse(name).map_err(bad)?;
            let mut names = parse_path(dept_key, &path)?;
            if names.pop().as_ref() != Some(&name) {
                return Err(corrupt("department", dept_key, "path does not end with the name"));
            }
            let department_key = DepartmentKey { tenant, group, name };
            Some(Department::new(department_key, names).map_err(|e| corrupt("department", dept_key, e))?)
        }
    };

    let profile = Profile {
        first_name: Name::from_stored("firstName", u.first_name).map_err(bad)?,
        last_name: Name::from_stored("lastName", u.last_name).map_err(bad)?,
        cli_first_name: Text::from_stored("cliFirstName", u.cli_first_name).map_err(bad)?,
        cli_last_name: Text::from_stored("cliLastName", u.cli_last_name).map_err(bad)?,
        phone_number: PhoneNumber::parse_for("phoneNumber", u.phone_number).map_err(bad)?,
        extension: Extension::parse_for("extension", u.extension).map_err(bad)?,
        cli_phone_number: PhoneNumber::parse_for("cliPhoneNumber", u.cli_phone_number).map_err(bad)?,
        department,
        language: u
            .language
            .map(|v| Language::from_stored("language", v))
            .transpose()
            .map_err(bad)?,
        email: u
            .email
            .map(|v| EmailAddress::from_stored("emailAddress", v))
            .transpose()
            .map_err(bad)?,
        network_class_of_service: Text::from_stored("networkClassOfService", u.network_class_of_service)
            .map_err(bad)?,
        time_zone: u
            .time_zone
            .map(|v| TimeZoneName::from_stored("timeZone", v))
            .transpose()
            .map_err(bad)?,
        mobile: PhoneNumber::parse_for("mobile", u.mobile).map_err(bad)?,
        description: Text::from_stored("description", u.description).map_err(bad)?,
        image: Text::from_stored("image", u.image).map_err(bad)?,
    };
    Ok(User {
        key: UserKey(key),
        uuid: Uuid::parse_str(&u.uuid).map_err(|e| corrupt("user", key, e))?,
        username: Username::parse(u.username).map_err(bad)?,
        role,
        profile,
        enabled: u.enabled,
        state: AccountState::parse(&u.state).map_err(bad)?,
        account_type: AccountType::parse(&u.account_type).map_err(bad)?,
        created_at: Timestamp::from_millis(u.created_at),
        updated_at: Timestamp::from_millis(u.updated_at),
        version: Version(u.version),
    })
}

/// One user by key, through the joins.
pub(crate) fn load_user(conn: &mut DbConn, key: UserKey) -> StoreResult<Option<User>> {
    user_joins!(users::table)
        .filter(users::key.eq(key.0))
        .select(user_columns!())
        .first::<UserJoinRow>(conn)
        .optional()
        .store()?
        .map(to_user)
        .transpose()
}
