//! [`DirectoryStore`]: tenants, groups, departments (with their materialized paths), tenant
//! licences and users' secondary groups.
//!
//! The `ensure_*` methods insert with `ON CONFLICT DO NOTHING` and read back, so two instances
//! creating the same tenant at once both succeed with the same row.

use super::{Repo, department_by_key, department_ref, encode_path, group_keys, lock_user, parse_path, tenant_key};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{departments, groups, tenant_licenses, tenants, user_secondary_groups};
use accountd_domain::ids::{GroupId, TenantId, UserKey};
use accountd_domain::ports::{DirectoryStore, StoreError, StoreResult};
use accountd_domain::records::{Group, License, NewDepartment, Tenant};
use accountd_domain::text::Text;
use accountd_domain::user::{Department, DepartmentKey, Timestamp};
use diesel::prelude::*;

pub(super) fn to_tenant(key: i64, id: String, name: String) -> StoreResult<Tenant> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("tenant", key, e);
    Ok(Tenant {
        key,
        id: TenantId::parse(id).map_err(bad)?,
        name: Text::from_stored("name", name).map_err(bad)?,
    })
}

pub(super) fn to_group(key: i64, tenant: String, id: String, name: String) -> StoreResult<Group> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("group", key, e);
    Ok(Group {
        key,
        tenant: TenantId::parse(tenant).map_err(bad)?,
        id: GroupId::parse(id).map_err(bad)?,
        name: Text::from_stored("name", name).map_err(bad)?,
    })
}

/// A department by key from its stored path.
pub(super) fn to_department(key: DepartmentKey, row_key: i64, path: &str) -> StoreResult<Department> {
    let mut names = parse_path(row_key, path)?;
    if names.pop().as_ref() != Some(&key.name) {
        return Err(corrupt("department", row_key, "path does not end with the name"));
    }
    Department::new(key, names).map_err(|e| corrupt("department", row_key, e))
}

/// The `tenant_licenses` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_licenses)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct LicenseRow {
    tenant_key: i64,
    position: i32,
    module_id: i64,
    name: String,
    description: String,
    owner_name: String,
    owner_description: String,
    version: String,
    license_type: String,
    license_number: i64,
    extra_flags: i64,
    extra_info: String,
    sort_order: i64,
    hidden: bool,
    unrestricted: bool,
    expires_at: Option<i64>,
}

fn to_license(row: LicenseRow) -> StoreResult<License> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("tenant_license", row.tenant_key, e);
    Ok(License {
        module_id: row.module_id,
        name: Text::from_stored("Name", row.name).map_err(bad)?,
        description: Text::from_stored("Description", row.description).map_err(bad)?,
        owner_name: Text::from_stored("OwnerName", row.owner_name).map_err(bad)?,
        owner_description: Text::from_stored("OwnerDescription", row.owner_description).map_err(bad)?,
        version: Text::from_stored("Version", row.version).map_err(bad)?,
        license_type: Text::from_stored("LicenseType", row.license_type).map_err(bad)?,
        license_number: row.license_number,
        extra_flags: row.extra_flags,
        extra_info: Text::from_stored("ExtraInfo", row.extra_info).map_err(bad)?,
        sort_order: row.sort_order,
        hidden: row.hidden,
        unrestricted: row.unrestricted,
        expires_at: row.expires_at.map(Timestamp::from_millis),
    })
}

fn license_row(tenant_key: i64, position: i32, l: &License) -> LicenseRow {
    LicenseRow {
        tenant_key,
        position,
        module_id: l.module_id,
        name: l.name.as_str().to_owned(),
        description: l.description.as_str().to_owned(),
        owner_name: l.owner_name.as_str().to_owned(),
        owner_description: l.owner_description.as_str().to_owned(),
        version: l.version.as_str().to_owned(),
        license_type: l.license_type.as_str().to_owned(),
        license_number: l.license_number,
        extra_flags: l.extra_flags,
        extra_info: l.extra_info.as_str().to_owned(),
        sort_order: l.sort_order,
        hidden: l.hidden,
        unrestricted: l.unrestricted,
        expires_at: l.expires_at.map(Timestamp::as_millis),
    }
}

impl DirectoryStore for Repo<'_> {
    fn ensure_tenant(&mut self, id: &TenantId, name: &Text) -> StoreResult<Tenant> {
        self.single(|conn| {
            per_backend!(&mut *conn, |c| diesel::insert_into(tenants::table)
                .values((tenants::tenant_id.eq(id.as_str()), tenants::name.eq(name.as_str())))
                .on_conflict(tenants::tenant_id)
                .do_nothing()
                .execute(c))
            .store()
        })?;
        self.tenant(id)?.ok_or(StoreError::NotFound("tenant"))
    }

    fn tenant(&mut self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        // On every SuperOffice currentPrincipal: on the backend's own connection (prepared once)
        // and without `LIMIT ?` (`tenant_id` is unique); see sessions.rs.
        per_backend!(&mut *self.conn, |c| tenants::table
            .filter(tenants::tenant_id.eq(id.as_str()))
            .select((tenants::key, tenants::tenant_id, tenants::name))
            .get_result::<(i64, String, String)>(c)
            .optional())
        .store()?
        .map(|(key, id, name)| to_tenant(key, id, name))
        .transpose()
    }

    fn ensure_group(&mut self, tenant: &TenantId, id: &GroupId, name: &Text) -> StoreResult<Group> {
        self.single(|conn| {
            let tenant_key = tenant_key(conn, tenant)?.ok_or(StoreError::NotFound("tenant"))?;
            per_backend!(&mut *conn, |c| diesel::insert_into(groups::table)
                .values((
                    groups::tenant_key.eq(tenant_key),
                    groups::group_id.eq(id.as_str()),
                    groups::name.eq(name.as_str()),
                ))
                .on_conflict((groups::tenant_key, groups::group_id))
                .do_nothing()
                .execute(c))
            .store_or_missing("tenant")
        })?;
        self.group(tenant, id)?.ok_or(StoreError::NotFound("group"))
    }

    fn group(&mut self, tenant: &TenantId, id: &GroupId) -> StoreResult<Option<Group>> {
        // On every SuperOffice currentPrincipal: as `tenant` ((tenant, group_id) is unique).
        per_backend!(&mut *self.conn, |c| groups::table
            .inner_join(tenants::table.on(tenants::key.eq(groups::tenant_key)))
            .filter(tenants::tenant_id.eq(tenant.as_str()))
            .filter(groups::group_id.eq(id.as_str()))
            .select((groups::key, tenants::tenant_id, groups::group_id, groups::name))
            .get_result::<(i64, String, String, String)>(c)
            .optional())
        .store()?
        .map(|(key, tenant, id, name)| to_group(key, tenant, id, name))
        .transpose()
    }

    fn ensure_department(&mut self, department: &NewDepartment) -> StoreResult<Department> {
        let key = &department.key;
        self.atomic(|conn| {
            let tenant = tenant_key(conn, &key.tenant)?.ok_or(StoreError::NotFound("tenant"))?;
            let group = match &key.group {
                Some(g) => Some(
                    group_keys(conn, &key.tenant, g)?
                        .ok_or(StoreError::NotFound("group"))?
                        .1,
                ),
                None => None,
            };
            if let Some(existing) = department_ref(conn, tenant, group, &key.name)? {
                return to_department(key.clone(), existing.key, &existing.path);
            }
            let (parent_key, mut path) = match &department.parent {
                None => (None, Vec::new()),
                Some(parent) => {
                    let parent =
                        department_ref(conn, tenant, group, parent)?.ok_or(StoreError::NotFound("department"))?;
                    (Some(parent.key), parse_path(parent.key, &parent.path)?)
                }
            };
            // Refuse what `Department::new` would refuse on reading: too deep, or a cycle.
            Department::new(key.clone(), path.clone()).map_err(|_| StoreError::Conflict("department"))?;
            path.push(key.name.clone());
            per_backend!(&mut *conn, |c| diesel::insert_into(departments::table)
                .values((
                    departments::tenant_key.eq(tenant),
                    departments::group_key.eq(group),
                    departments::parent_key.eq(parent_key),
                    departments::name.eq(key.name.as_str()),
                    departments::path.eq(encode_path(&path)),
                ))
                .on_conflict_do_nothing()
                .execute(c))
            .store_or_missing("department")?;
            let created = department_ref(conn, tenant, group, &key.name)?.ok_or(StoreError::NotFound("department"))?;
            to_department(key.clone(), created.key, &created.path)
        })
    }

    fn department(&mut self, key: &DepartmentKey) -> StoreResult<Option<Department>> {
        department_by_key(self.conn, key)?
            .map(|d| to_department(key.clone(), d.key, &d.path))
            .transpose()
    }

    fn tenant_licenses(&mut self, tenant: &TenantId) -> StoreResult<Vec<License>> {
        // On every SuperOffice currentPrincipal: on the backend's own connection, prepared once.
        per_backend!(&mut *self.conn, |c| tenant_licenses::table
            .inner_join(tenants::table.on(tenants::key.eq(tenant_licenses::tenant_key)))
            .filter(tenants::tenant_id.eq(tenant.as_str()))
            .order(tenant_licenses::position.asc())
            .select(LicenseRow::as_select())
            .load(c))
        .store()?
        .into_iter()
        .map(to_license)
        .collect()
    }

    fn set_tenant_licenses(&mut self, tenant: &TenantId, licenses: &[License]) -> StoreResult<()> {
        self.atomic(|conn| {
            let tenant_key = tenant_key(conn, tenant)?.ok_or(StoreError::NotFound("tenant"))?;
            diesel::delete(tenant_licenses::table.filter(tenant_licenses::tenant_key.eq(tenant_key)))
                .execute(conn)
                .store()?;
            let rows = licenses
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let position = i32::try_from(i).map_err(|_| StoreError::Conflict("license"))?;
                    Ok(license_row(tenant_key, position, l))
                })
                .collect::<StoreResult<Vec<LicenseRow>>>()?;
            if !rows.is_empty() {
                // A multi-row insert is built per backend (`MultiBackend` can't).
                per_backend!(&mut *conn, |c| diesel::insert_into(tenant_licenses::table)
                    .values(&rows)
                    .execute(c))
                .store_or_missing("tenant")?;
            }
            Ok(())
        })
    }

    fn secondary_groups(&mut self, user: UserKey) -> StoreResult<Vec<i64>> {
        // On every SuperOffice currentPrincipal: on the backend's own connection, prepared once.
        per_backend!(&mut *self.conn, |c| user_secondary_groups::table
            .filter(user_secondary_groups::user_key.eq(user.0))
            .order(user_secondary_groups::group_key.asc())
            .select(user_secondary_groups::group_key)
            .load(c))
        .store()
    }

    fn set_secondary_groups(&mut self, user: UserKey, groups: &[i64]) -> StoreResult<()> {
        let mut groups = groups.to_vec();
        groups.sort_unstable();
        groups.dedup();
        self.atomic(|conn| {
            lock_user(conn, user)?;
            diesel::delete(user_secondary_groups::table.filter(user_secondary_groups::user_key.eq(user.0)))
                .execute(conn)
                .store()?;
            let rows: Vec<_> = groups
                .iter()
                .map(|g| {
                    (
                        user_secondary_groups::user_key.eq(user.0),
                        user_secondary_groups::group_key.eq(*g),
                    )
                })
                .collect();
            if !rows.is_empty() {
                per_backend!(&mut *conn, |c| diesel::insert_into(user_secondary_groups::table)
                    .values(&rows)
                    .execute(c))
                .store_or_missing("group")?;
            }
            Ok(())
        })
    }
}
