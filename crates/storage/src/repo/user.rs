//! [`UserStore`]: users, their role columns, profiles, versions, and the delete of seed 001.
//!
//! A user is read with one query: `users` joined (outer) with its tenant, group, department and
//! administered department ([`user_joins!`], [`user_columns!`]); sessions and API tokens add
//! their own table in front of the same joins, so "session + user" is one query too. The
//! department's path is its materialized `path` column, so no second query is needed.
//!
//! Role ↔ columns: `level` with `tenant_key`, `group_key`, `user_id` and
//! `admin_department_key` exactly as [`Role`] has them (system: none; tenant admin: tenant;
//! group admin and end user: tenant, group, user id; department admin: those and the
//! department). A `CHECK` in the schema refuses any other combination, and reading one answers
//! `Corrupt`.

use super::{Placement, Repo, department_ref, group_keys, lock_user, parse_path, tenant_key};
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{app_data, departments, devices, groups, tenants, user_endpoints, users};
use accountd_domain::endpoint::LineRef;
use accountd_domain::ids::{DepartmentName, GroupId, LinePort, TenantId, UserId, UserKey, Username};
use accountd_domain::level::{GroupMember, Role, UserLevel};
use accountd_domain::ports::{DeleteOptions, DeleteOutcome, Page, PageRequest, StoreError, StoreResult, UserStore};
use accountd_domain::records::PasswordRecord;
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{
    AccountChange, AccountState, AccountType, Department, DepartmentKey, NewUser, Profile, ProfileChange, Timestamp,
    User, Version,
};
use diesel::prelude::*;
use uuid::Uuid;

diesel::alias!(departments as admin_departments: AdminDepartments);

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
pub(super) fn load_user(conn: &mut DbConn, key: UserKey) -> StoreResult<Option<User>> {
    user_joins!(users::table)
        .filter(users::key.eq(key.0))
        .select(user_columns!())
        .first::<UserJoinRow>(conn)
        .optional()
        .store()?
        .map(to_user)
        .transpose()
}

/// The role as columns.
struct RoleColumns<'a> {
    level: i32,
    tenant_key: Option<i64>,
    group_key: Option<i64>,
    user_id: Option<&'a str>,
    admin_department_key: Option<i64>,
}

/// Resolves the ids of a role to keys: `NotFound("tenant")`, `NotFound("group")` or
/// `NotFound("department")` when one doesn't exist. A department admin's department is the group's
/// department of that name, or else the tenant's (enterprise-level) one.
fn role_columns<'a>(conn: &mut DbConn, role: &'a Role) -> StoreResult<RoleColumns<'a>> {
    let level = i32::from(role.level().as_u8());
    let mut columns = RoleColumns {
        level,
        tenant_key: None,
        group_key: None,
        user_id: None,
        admin_department_key: None,
    };
    if let Some(member) = role.member() {
        let (tenant, group) = group_keys(conn, &member.tenant, &member.group)?.ok_or_else(|| {
            if tenant_key(conn, &member.tenant).ok().flatten().is_some() {
                StoreError::NotFound("group")
            } else {
                StoreError::NotFound("tenant")
            }
        })?;
        columns.tenant_key = Some(tenant);
        columns.group_key = Some(group);
        columns.user_id = Some(member.user.as_str());
        if let Some(name) = role.administered_department() {
            let department = match department_ref(conn, tenant, Some(group), name)? {
                Some(d) => d,
                None => department_ref(conn, tenant, None, name)?.ok_or(StoreError::NotFound("department"))?,
            };
            columns.admin_department_key = Some(department.key);
        }
    } else if let Some(tenant) = role.tenant() {
        columns.tenant_key = Some(tenant_key(conn, tenant)?.ok_or(StoreError::NotFound("tenant"))?);
    }
    Ok(columns)
}

/// Resolves the department a user of `placement` is put in: it must be a department of the user's
/// tenant, either enterprise-level or of the user's own group; else `NotFound("department")`.
fn profile_department(
    conn: &mut DbConn,
    tenant: Option<(&TenantId, i64)>,
    group: Option<(&GroupId, i64)>,
    department: &DepartmentKey,
) -> StoreResult<i64> {
    let not_found = StoreError::NotFound("department");
    let Some((_, tenant_key)) = tenant.filter(|(id, _)| **id == department.tenant) else {
        return Err(not_found);
    };
    let group_key = match (&department.group, group) {
        (None, _) => None,
        (Some(wanted), Some((id, key))) if wanted == id => Some(key),
        (Some(_), _) => return Err(not_found),
    };
    department_ref(conn, tenant_key, group_key, &department.name)?
        .map(|d| d.key)
        .ok_or(not_found)
}

impl Placement {
    fn tenant_ref(&self) -> Option<(&TenantId, i64)> {
        self.tenant.as_ref().zip(self.tenant_key)
    }

    fn group_ref(&self) -> Option<(&GroupId, i64)> {
        self.group.as_ref().zip(self.group_key)
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    uuid: String,
    username: &'a str,
    level: i32,
    tenant_key: Option<i64>,
    group_key: Option<i64>,
    user_id: Option<&'a str>,
    admin_department_key: Option<i64>,
    department_key: Option<i64>,
    first_name: &'a str,
    last_name: &'a str,
    cli_first_name: &'a str,
    cli_last_name: &'a str,
    phone_number: &'a str,
    extension: &'a str,
    cli_phone_number: &'a str,
    language: Option<&'a str>,
    email: Option<&'a str>,
    network_class_of_service: &'a str,
    time_zone: Option<&'a str>,
    mobile: &'a str,
    description: &'a str,
    image: &'a str,
    enabled: bool,
    state: &'a str,
    account_type: &'a str,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

/// A partial update of the profile columns: `None` leaves a column alone.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileChangeset<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    cli_first_name: Option<&'a str>,
    cli_last_name: Option<&'a str>,
    phone_number: Option<&'a str>,
    extension: Option<&'a str>,
    cli_phone_number: Option<&'a str>,
    department_key: Option<Option<i64>>,
    language: Option<Option<&'a str>>,
    email: Option<Option<&'a str>>,
    network_class_of_service: Option<&'a str>,
    time_zone: Option<Option<&'a str>>,
    mobile: Option<&'a str>,
    description: Option<&'a str>,
    image: Option<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct AccountChangeset<'a> {
    enabled: Option<bool>,
    state: Option<&'a str>,
}

/// After an update that touched no row of a user known to exist: the version was not `expected`.
fn stale_or_missing(conn: &mut DbConn, key: UserKey) -> StoreError {
    match users::table
        .find(key.0)
        .select(users::key)
        .first::<i64>(conn)
        .optional()
    {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound("user"),
        Err(e) => crate::error::db_error(e),
    }
}

/// A line of a user being deleted.
#[derive(Debug, Queryable)]
struct LineRow {
    device_key: i64,
    line_port: String,
    is_main: bool,
    kind: String,
}

impl UserStore for Repo<'_> {
    fn create_user(&mut self, user: &NewUser, now: Timestamp) -> StoreResult<User> {
        self.atomic(|conn| {
            let role = role_columns(conn, &user.role)?;
            let department_key = match &user.profile.department {
                None => None,
                Some(department) => {
                    let tenant = user.role.tenant().zip(role.tenant_key);
                    let group = user.role.group().zip(role.group_key);
                    Some(profile_department(conn, tenant, group, department)?)
                }
            };
            let p = &user.profile.profile;
            let row = NewUserRow {
                uuid: user.uuid.hyphenated().to_string(),
                username: user.username.as_str(),
                level: role.level,
                tenant_key: role.tenant_key,
                group_key: role.group_key,
                user_id: role.user_id,
                admin_department_key: role.admin_department_key,
                department_key,
                first_name: p.first_name.as_str(),
                last_name: p.last_name.as_str(),
                cli_first_name: p.cli_first_name.as_str(),
                cli_last_name: p.cli_last_name.as_str(),
                phone_number: p.phone_number.as_str(),
                extension: p.extension.as_str(),
                cli_phone_number: p.cli_phone_number.as_str(),
                language: p.language.as_ref().map(Language::as_str),
                email: p.email.as_ref().map(EmailAddress::as_str),
                network_class_of_service: p.network_class_of_service.as_str(),
                time_zone: p.time_zone.as_ref().map(TimeZoneName::as_str),
                mobile: p.mobile.as_str(),
                description: p.description.as_str(),
                image: p.image.as_str(),
                enabled: user.enabled,
                state: user.state.as_str(),
                account_type: user.account_type.as_str(),
                created_at: now.as_millis(),
                updated_at: now.as_millis(),
                version: Version::FIRST.0,
            };
            let key: i64 = diesel::insert_into(users::table)
                .values(&row)
                .returning(users::key)
                .get_result(conn)
                .store_or_missing("tenant")?;
            load_user(conn, UserKey(key))?.ok_or(StoreError::NotFound("user"))
        })
    }

    fn user_by_key(&mut self, key: UserKey) -> StoreResult<Option<User>> {
        load_user(self.conn, key)
    }

    fn user_by_uuid(&mut self, uuid: &Uuid) -> StoreResult<Option<User>> {
        user_joins!(users::table)
            .filter(users::uuid.eq(uuid.hyphenated().to_string()))
            .select(user_columns!())
            .first::<UserJoinRow>(self.conn)
            .optional()
            .store()?
            .map(to_user)
            .transpose()
    }

    fn user_by_username(&mut self, username: &Username) -> StoreResult<Option<User>> {
        user_joins!(users::table)
            .filter(users::username.eq(username.as_str()))
            .select(user_columns!())
            .first::<UserJoinRow>(self.conn)
            .optional()
            .store()?
            .map(to_user)
            .transpose()
    }

    fn user_by_path(&mut self, member: &GroupMember) -> StoreResult<Option<User>> {
        user_joins!(users::table)
            .filter(tenants::tenant_id.eq(member.tenant.as_str()))
            .filter(groups::group_id.eq(member.group.as_str()))
            .filter(users::user_id.eq(member.user.as_str()))
            .select(user_columns!())
            .first::<UserJoinRow>(self.conn)
            .optional()
            .store()?
            .map(to_user)
            .transpose()
    }

    fn user_with_password(&mut self, username: &Username) -> StoreResult<Option<(User, Option<PasswordRecord>)>> {
        use crate::schema::passwords;
        // The password columns come first: diesel can't load a nested tuple of a `SelectBy` in
        // front of more columns.
        type Row = (Option<String>, Option<i64>, Option<bool>, UserJoinRow);
        // On every login and Basic request: on the backend's own connection (prepared once) and
        // without `LIMIT ?` (`username` is unique); see sessions.rs and docs/performance.md.
        let row: Option<Row> = crate::connection::per_backend!(&mut *self.conn, |c| user_joins!(users::table)
            .left_join(passwords::table.on(passwords::user_key.eq(users::key)))
            .filter(users::username.eq(username.as_str()))
            .select((
                passwords::hash.nullable(),
                passwords::changed_at.nullable(),
                passwords::first_login.nullable(),
                user_columns!(),
            ))
            .get_result(c)
            .optional())
        .store()?;
        let Some((hash, changed_at, first_login, user)) = row else {
            return Ok(None);
        };
        let user = to_user(user)?;
        let password = match (hash, changed_at, first_login) {
            (Some(hash), Some(changed_at), Some(first_login)) => Some(super::credentials::to_password(
                user.key,
                hash,
                changed_at,
                first_login,
            )?),
            _ => None,
        };
        Ok(Some((user, password)))
    }

    fn list_group_users(&mut self, tenant: &TenantId, group: &GroupId, page: PageRequest) -> StoreResult<Page<User>> {
        if page.limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        }
        let after = page.after.map_or(i64::MIN, |k| k.0);
        let rows: Vec<UserJoinRow> = user_joins!(users::table)
            .filter(tenants::tenant_id.eq(tenant.as_str()))
            .filter(groups::group_id.eq(group.as_str()))
            .filter(users::key.gt(after))
            .order(users::key.asc())
            .limit(i64::from(page.limit) + 1)
            .select(user_columns!())
            .load(self.conn)
            .store()?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .into_iter()
            .take(page.limit as usize)
            .map(to_user)
            .collect::<StoreResult<Vec<User>>>()?;
        let next_after = if more { items.last().map(|u| u.key) } else { None };
        Ok(Page { items, next_after })
    }

    fn count_users(&mut self) -> StoreResult<u64> {
        let n: i64 = users::table.count().get_result(self.conn).store()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn update_profile(
        &mut self,
        key: UserKey,
        expected: Option<Version>,
        change: &ProfileChange,
        now: Timestamp,
    ) -> StoreResult<User> {
        self.atomic(|conn| {
            let placement = lock_user(conn, key)?;
            let department_key = match &change.department {
                None => None,
                Some(None) => Some(None),
                Some(Some(department)) => Some(Some(profile_department(
                    conn,
                    placement.tenant_ref(),
                    placement.group_ref(),
                    department,
                )?)),
            };
            let changes = ProfileChangeset {
                first_name: change.first_name.as_ref().map(Name::as_str),
                last_name: change.last_name.as_ref().map(Name::as_str),
                cli_first_name: change.cli_first_name.as_ref().map(Text::as_str),
                cli_last_name: change.cli_last_name.as_ref().map(Text::as_str),
                phone_number: change.phone_number.as_ref().map(PhoneNumber::as_str),
                extension: change.extension.as_ref().map(Extension::as_str),
                cli_phone_number: change.cli_phone_number.as_ref().map(PhoneNumber::as_str),
                department_key,
                language: change.language.as_ref().map(|l| l.as_ref().map(Language::as_str)),
                email: change.email.as_ref().map(|e| e.as_ref().map(EmailAddress::as_str)),
                network_class_of_service: change.network_class_of_service.as_ref().map(Text::as_str),
                time_zone: change.time_zone.as_ref().map(|t| t.as_ref().map(TimeZoneName::as_str)),
                mobile: change.mobile.as_ref().map(PhoneNumber::as_str),
                description: change.description.as_ref().map(Text::as_str),
                image: change.image.as_ref().map(Text::as_str),
            };
            let bump = (
                users::version.eq(users::version + 1),
                users::updated_at.eq(now.as_millis()),
            );
            let updated = match expected {
                Some(v) => diesel::update(users::table.filter(users::key.eq(key.0)).filter(users::version.eq(v.0)))
                    .set((changes, bump))
                    .execute(conn),
                None => diesel::update(users::table.filter(users::key.eq(key.0)))
                    .set((changes, bump))
                    .execute(conn),
            }
            .store()?;
            if updated == 0 {
                return Err(stale_or_missing(conn, key));
            }
            load_user(conn, key)?.ok_or(StoreError::NotFound("user"))
        })
    }

    fn update_account(
        &mut self,
        key: UserKey,
        expected: Option<Version>,
        change: &AccountChange,
        now: Timestamp,
    ) -> StoreResult<User> {
        self.atomic(|conn| {
            let changes = AccountChangeset {
                enabled: change.enabled,
                state: change.state.map(AccountState::as_str),
            };
            let bump = (
                users::version.eq(users::version + 1),
                users::updated_at.eq(now.as_millis()),
            );
            let updated = match expected {
                Some(v) => diesel::update(users::table.filter(users::key.eq(key.0)).filter(users::version.eq(v.0)))
                    .set((changes, bump))
                    .execute(conn),
                None => diesel::update(users::table.filter(users::key.eq(key.0)))
                    .set((changes, bump))
                    .execute(conn),
            }
            .store()?;
            if updated == 0 {
                return Err(stale_or_missing(conn, key));
            }
            load_user(conn, key)?.ok_or(StoreError::NotFound("user"))
        })
    }

    fn delete_user(
        &mut self,
        member: &GroupMember,
        expected: Option<Version>,
        options: &DeleteOptions,
    ) -> StoreResult<DeleteOutcome> {
        self.atomic(|conn| delete_user(conn, member, expected, options))
    }
}

/// Seed 001's delete; the rules are in `docs/storage.md` ("Deleting a user").
fn delete_user(
    conn: &mut DbConn,
    member: &GroupMember,
    expected: Option<Version>,
    options: &DeleteOptions,
) -> StoreResult<DeleteOutcome> {
    let found: Option<(i64, i64, Option<i64>)> = users::table
        .inner_join(groups::table.on(users::group_key.eq(groups::key.nullable())))
        .inner_join(tenants::table.on(groups::tenant_key.eq(tenants::key)))
        .filter(tenants::tenant_id.eq(member.tenant.as_str()))
        .filter(groups::group_id.eq(member.group.as_str()))
        .filter(users::user_id.eq(member.user.as_str()))
        .select((users::key, users::version, users::group_key))
        .first(conn)
        .optional()
        .store()?;
    let Some((key, version, Some(group_key))) = found else {
        return Ok(DeleteOutcome::default());
    };
    if expected.is_some_and(|v| v.0 != version) {
        return Err(StoreError::VersionMismatch);
    }
    lock_user(conn, UserKey(key))?;

    let lines: Vec<LineRow> = user_endpoints::table
        .filter(user_endpoints::user_key.eq(key))
        .order(user_endpoints::key.asc())
        .select((
            user_endpoints::device_key,
            user_endpoints::line_port,
            user_endpoints::is_main,
            user_endpoints::kind,
        ))
        .load(conn)
        .store()?;
    let line_ref = |line_port: &str| -> StoreResult<LineRef> {
        Ok(LineRef {
            user_id: member.user.clone(),
            line_port: LinePort::parse(line_port).map_err(|e| corrupt("user_endpoint", key, e))?,
        })
    };
    let mut outcome = DeleteOutcome {
        existed: true,
        ..DeleteOutcome::default()
    };
    let main = lines.iter().find(|l| l.is_main);
    if let Some(main) = main {
        outcome.deleted_main_device = Some(line_ref(&main.line_port)?);
    }
    if options.delete_devices {
        // Owned: every access device the user has a line on. Trunk groups are shared
        // infrastructure and are never deleted with one of their users.
        let mut owned: Vec<i64> = lines
            .iter()
            .filter(|l| l.kind == "access")
            .map(|l| l.device_key)
            .collect();
        owned.sort_unstable();
        owned.dedup();
        if !owned.is_empty() {
            let others: Vec<(Option<String>, String)> = user_endpoints::table
                .inner_join(users::table.on(users::key.eq(user_endpoints::user_key)))
                .filter(user_endpoints::device_key.eq_any(&owned))
                .filter(user_endpoints::user_key.ne(key))
                .select((users::user_id, user_endpoints::line_port))
                .load(conn)
                .store()?;
            for (user_id, line_port) in others {
                let bad = |e: accountd_domain::InvalidValue| corrupt("user_endpoint", key, e);
                let user_id =
                    user_id.ok_or_else(|| corrupt("user_endpoint", key, "a line of a user without user id"))?;
                outcome.detached_additional_users.push(LineRef {
                    user_id: UserId::parse(user_id).map_err(bad)?,
                    line_port: LinePort::parse(line_port).map_err(bad)?,
                });
            }
            let main_device = main.filter(|m| m.kind == "access").map(|m| m.device_key);
            let mut reported = Vec::new();
            for line in lines.iter().filter(|l| !l.is_main && l.kind == "access") {
                if Some(line.device_key) != main_device && !reported.contains(&line.device_key) {
                    reported.push(line.device_key);
                    outcome.deleted_additional_devices.push(line_ref(&line.line_port)?);
                }
            }
            diesel::delete(devices::table.filter(devices::key.eq_any(&owned)))
                .execute(conn)
                .store()?;
        }
        outcome.detached_additional_users.sort();
        outcome.deleted_additional_devices.sort();
    }

    let excluded: Vec<&str> = options.excluded_app_ids.iter().map(|a| a.as_str()).collect();
    diesel::delete(
        app_data::table
            .filter(app_data::group_key.eq(group_key))
            .filter(app_data::user_id.eq(member.user.as_str()))
            .filter(app_data::app_id.ne_all(&excluded)),
    )
    .execute(conn)
    .store()?;
    // Passwords, PINs, histories, sessions, tokens, remaining lines and secondary groups go by
    // cascade.
    diesel::delete(users::table.find(key)).execute(conn).store()?;
    Ok(outcome)
}
