//! [`InventoryStore`]: whole-table listings for operators' tools (`accountd export`). Each reads a
//! whole table (users a page at a time, by key); nothing on a request path calls them.

use super::Repo;
use super::directory::{to_department, to_group, to_tenant};
use super::user::{to_user, user_columns, user_joins};
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{departments, devices, groups, tenants, users};
use accountd_domain::endpoint::{Device, DeviceLevel, DeviceOwner};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, TenantId};
use accountd_domain::ports::{InventoryStore, Page, PageRequest, StoreResult};
use accountd_domain::records::{Group, Tenant};
use accountd_domain::user::{Department, DepartmentKey, User};
use diesel::prelude::*;

impl InventoryStore for Repo<'_> {
    fn list_tenants(&mut self) -> StoreResult<Vec<Tenant>> {
        tenants::table
            .order(tenants::key.asc())
            .select((tenants::key, tenants::tenant_id, tenants::name))
            .load::<(i64, String, String)>(self.conn)
            .store()?
            .into_iter()
            .map(|(key, id, name)| to_tenant(key, id, name))
            .collect()
    }

    fn list_groups(&mut self) -> StoreResult<Vec<Group>> {
        groups::table
            .inner_join(tenants::table.on(tenants::key.eq(groups::tenant_key)))
            .order(groups::key.asc())
            .select((groups::key, tenants::tenant_id, groups::group_id, groups::name))
            .load::<(i64, String, String, String)>(self.conn)
            .store()?
            .into_iter()
            .map(|(key, tenant, id, name)| to_group(key, tenant, id, name))
            .collect()
    }

    fn list_departments(&mut self) -> StoreResult<Vec<Department>> {
        type Row = (i64, String, Option<String>, String, String);
        let rows: Vec<Row> = departments::table
            .inner_join(tenants::table.on(tenants::key.eq(departments::tenant_key)))
            .left_join(groups::table.on(departments::group_key.eq(groups::key.nullable())))
            .order(departments::key.asc())
            .select((
                departments::key,
                tenants::tenant_id,
                groups::group_id.nullable(),
                departments::name,
                departments::path,
            ))
            .load(self.conn)
            .store()?;
        let mut list = rows
            .into_iter()
            .map(|(key, tenant, group, name, path)| {
                let bad = |e: accountd_domain::InvalidValue| corrupt("department", key, e);
                let department_key = DepartmentKey {
                    tenant: TenantId::parse(tenant).map_err(bad)?,
                    group: group.map(GroupId::parse).transpose().map_err(bad)?,
                    name: DepartmentName::parse(name).map_err(bad)?,
                };
                to_department(department_key, key, &path)
            })
            .collect::<StoreResult<Vec<Department>>>()?;
        // A parent's path is a prefix of its children's: shorter paths first.
        list.sort_by_key(|d| d.path().len());
        Ok(list)
    }

    fn list_devices(&mut self) -> StoreResult<Vec<Device>> {
        type Row = (i64, String, Option<String>, Option<String>, String);
        let rows: Vec<Row> = devices::table
            .left_join(tenants::table.on(devices::tenant_key.eq(tenants::key.nullable())))
            .left_join(groups::table.on(devices::group_key.eq(groups::key.nullable())))
            .order(devices::key.asc())
            .select((
                devices::key,
                devices::level,
                tenants::tenant_id.nullable(),
                groups::group_id.nullable(),
                devices::name,
            ))
            .load(self.conn)
            .store()?;
        rows.into_iter()
            .map(|(key, level, tenant, group, name)| {
                let bad = |e: accountd_domain::InvalidValue| corrupt("device", key, e);
                let tenant = tenant.map(TenantId::parse).transpose().map_err(bad)?;
                let group = group.map(GroupId::parse).transpose().map_err(bad)?;
                let owner = match (DeviceLevel::parse(&level).map_err(bad)?, tenant, group) {
                    (DeviceLevel::System, _, _) => DeviceOwner::System,
                    (DeviceLevel::ServiceProvider, Some(tenant), _) => DeviceOwner::ServiceProvider { tenant },
                    (DeviceLevel::Group, Some(tenant), Some(group)) => DeviceOwner::Group { tenant, group },
                    _ => return Err(corrupt("device", key, "owner columns do not match the level")),
                };
                Ok(Device {
                    owner,
                    name: DeviceName::parse(name).map_err(bad)?,
                })
            })
            .collect()
    }

    fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<User>> {
        if page.limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        }
        let after = page.after.map_or(i64::MIN, |k| k.0);
        let rows = user_joins!(users::table)
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
}
