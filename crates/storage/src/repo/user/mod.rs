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
use crate::error::QueryResultExt;
use crate::schema::{departments, groups, tenants, users};
use accountd_domain::ids::{GroupId, TenantId, UserKey, Username};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::ports::{DeleteOptions, DeleteOutcome, Page, PageRequest, StoreError, StoreResult, UserStore};
use accountd_domain::records::PasswordRecord;
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{
    AccountChange, AccountState, DepartmentKey, NewUser, ProfileChange, Timestamp, User, Version,
};
use diesel::prelude::*;
use uuid::Uuid;

diesel::alias!(departments as admin_departments: AdminDepartments);

mod delete;
mod rows;

use delete::delete_user;
pub(crate) use rows::UserRow;
pub(super) use rows::load_user;
pub(crate) use rows::{UserJoinRow, to_user, user_columns, user_joins};

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

    fn users_by_email(&mut self, email: &str, limit: u32) -> StoreResult<Vec<User>> {
        user_joins!(users::table)
            .filter(users::email.eq(email))
            .order(users::key.asc())
            .limit(i64::from(limit))
            .select(user_columns!())
            .load::<UserJoinRow>(self.conn)
            .store()?
            .into_iter()
            .map(to_user)
            .collect()
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
