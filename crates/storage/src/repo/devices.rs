//! [`DeviceStore`]: devices and the endpoints (lines) that put users on them.
//!
//! A device is named by `(level, owner_key, name)`: `owner_key` is 0 for a system device, the
//! tenant key for a service-provider one and the group key for a group one. An endpoint's
//! [`DeviceRef`] (name and level) is resolved against the user's tenant and group with
//! [`DeviceOwner::resolve`], so only group members have lines.

use super::{Placement, Repo, lock_user};
use crate::connection::{DbConn, per_backend};
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{devices, user_endpoints};
use accountd_domain::endpoint::{
    AccessDeviceEndpoint, AdditionalEndpoint, Contact, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint,
    TrunkEndpoint,
};
use accountd_domain::ids::{DeviceName, LinePort, UserKey};
use accountd_domain::ports::{DeviceStore, StoreError, StoreResult};
use diesel::prelude::*;

const ACCESS: &str = "access";
const TRUNK: &str = "trunk";

/// `(tenant_key, group_key, owner_key)` of a device owner, or `NotFound` naming what's missing.
fn owner_columns(conn: &mut DbConn, owner: &DeviceOwner) -> StoreResult<(Option<i64>, Option<i64>, i64)> {
    match owner {
        DeviceOwner::System => Ok((None, None, 0)),
        DeviceOwner::ServiceProvider { tenant } => {
            let t = super::tenant_key(conn, tenant)?.ok_or(StoreError::NotFound("tenant"))?;
            Ok((Some(t), None, t))
        }
        DeviceOwner::Group { tenant, group } => {
            let (t, g) = super::group_keys(conn, tenant, group)?.ok_or(StoreError::NotFound("group"))?;
            Ok((Some(t), Some(g), g))
        }
    }
}

/// The key of the device `reference` means for the user placed at `placement`.
fn device_key(conn: &mut DbConn, placement: &Placement, reference: &DeviceRef) -> StoreResult<i64> {
    let (Some(tenant), Some(group)) = (&placement.tenant, &placement.group) else {
        // Lines belong to group members only.
        return Err(StoreError::NotFound("group"));
    };
    let owner = DeviceOwner::resolve(reference.level, tenant, group);
    let owner_key = match (&owner, placement.tenant_key, placement.group_key) {
        (DeviceOwner::System, _, _) => 0,
        (DeviceOwner::ServiceProvider { .. }, Some(t), _) => t,
        (DeviceOwner::Group { .. }, _, Some(g)) => g,
        _ => return Err(StoreError::NotFound("device")),
    };
    devices::table
        .filter(devices::level.eq(reference.level.as_str()))
        .filter(devices::owner_key.eq(owner_key))
        .filter(devices::name.eq(reference.name.as_str()))
        .select(devices::key)
        .first(conn)
        .optional()
        .store()?
        .ok_or(StoreError::NotFound("device"))
}

/// An endpoint row with its device's name and level.
#[derive(Debug, Queryable)]
struct LineRow {
    line_port: String,
    kind: String,
    line_number: Option<i32>,
    contacts: String,
    device_name: String,
    device_level: String,
}

fn device_ref(user: UserKey, name: String, level: &str) -> StoreResult<DeviceRef> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("device", user, e);
    Ok(DeviceRef {
        name: DeviceName::parse(name).map_err(bad)?,
        level: DeviceLevel::parse(level).map_err(bad)?,
    })
}

fn to_endpoint(user: UserKey, row: LineRow) -> StoreResult<Endpoint> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("user_endpoint", user, e);
    let device = device_ref(user, row.device_name, &row.device_level)?;
    let line_port = LinePort::parse(row.line_port).map_err(bad)?;
    let contacts: Vec<String> = serde_json::from_str(&row.contacts).map_err(|e| corrupt("user_endpoint", user, e))?;
    let contacts = contacts
        .into_iter()
        .map(Contact::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    match row.kind.as_str() {
        ACCESS => Ok(Endpoint::AccessDevice(AccessDeviceEndpoint {
            device,
            line_port,
            line_number: row
                .line_number
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt("user_endpoint", user, e))?,
            contacts,
        })),
        TRUNK => Ok(Endpoint::Trunk(TrunkEndpoint {
            device,
            line_port,
            contacts,
        })),
        other => Err(corrupt("user_endpoint", user, format!("unknown kind {other:?}"))),
    }
}

fn encode_contacts(contacts: &[Contact]) -> String {
    let contacts: Vec<&str> = contacts.iter().map(Contact::as_str).collect();
    serde_json::to_string(&contacts).unwrap_or_else(|_| "[]".to_owned())
}

impl DeviceStore for Repo<'_> {
    fn ensure_device(&mut self, device: &Device) -> StoreResult<()> {
        self.single(|conn| {
            let (tenant_key, group_key, owner_key) = owner_columns(conn, &device.owner)?;
            per_backend!(&mut *conn, |c| diesel::insert_into(devices::table)
                .values((
                    devices::level.eq(device.owner.level().as_str()),
                    devices::tenant_key.eq(tenant_key),
                    devices::group_key.eq(group_key),
                    devices::owner_key.eq(owner_key),
                    devices::name.eq(device.name.as_str()),
                ))
                .on_conflict((devices::level, devices::owner_key, devices::name))
                .do_nothing()
                .execute(c))
            .store_or_missing("group")
            .map(|_| ())
        })
    }

    fn endpoint(&mut self, user: UserKey) -> StoreResult<Option<Endpoint>> {
        user_endpoints::table
            .inner_join(devices::table.on(devices::key.eq(user_endpoints::device_key)))
            .filter(user_endpoints::user_key.eq(user.0))
            .filter(user_endpoints::is_main.eq(true))
            .select((
                user_endpoints::line_port,
                user_endpoints::kind,
                user_endpoints::line_number,
                user_endpoints::contacts,
                devices::name,
                devices::level,
            ))
            .first::<LineRow>(self.conn)
            .optional()
            .store()?
            .map(|row| to_endpoint(user, row))
            .transpose()
    }

    fn set_endpoint(&mut self, user: UserKey, endpoint: Option<&Endpoint>) -> StoreResult<()> {
        self.atomic(|conn| {
            let placement = lock_user(conn, user)?;
            diesel::delete(
                user_endpoints::table
                    .filter(user_endpoints::user_key.eq(user.0))
                    .filter(user_endpoints::is_main.eq(true)),
            )
            .execute(conn)
            .store()?;
            let Some(endpoint) = endpoint else {
                return Ok(());
            };
            let device = device_key(conn, &placement, endpoint.device())?;
            let (kind, line_number, contacts) = match endpoint {
                Endpoint::AccessDevice(a) => (ACCESS, a.line_number.map(i32::from), &a.contacts),
                Endpoint::Trunk(t) => (TRUNK, None, &t.contacts),
            };
            diesel::insert_into(user_endpoints::table)
                .values((
                    user_endpoints::user_key.eq(user.0),
                    user_endpoints::device_key.eq(device),
                    user_endpoints::line_port.eq(endpoint.line_port().as_str()),
                    user_endpoints::is_main.eq(true),
                    user_endpoints::kind.eq(kind),
                    user_endpoints::line_number.eq(line_number),
                    user_endpoints::contacts.eq(encode_contacts(contacts)),
                ))
                .execute(conn)
                .store_or_missing("device")?;
            Ok(())
        })
    }

    fn additional_endpoints(&mut self, user: UserKey) -> StoreResult<Vec<AdditionalEndpoint>> {
        let rows: Vec<(String, String, String)> = user_endpoints::table
            .inner_join(devices::table.on(devices::key.eq(user_endpoints::device_key)))
            .filter(user_endpoints::user_key.eq(user.0))
            .filter(user_endpoints::is_main.eq(false))
            .order(user_endpoints::key.asc())
            .select((user_endpoints::line_port, devices::name, devices::level))
            .load(self.conn)
            .store()?;
        rows.into_iter()
            .map(|(line_port, name, level)| {
                Ok(AdditionalEndpoint {
                    device: device_ref(user, name, &level)?,
                    line_port: LinePort::parse(line_port).map_err(|e| corrupt("user_endpoint", user, e))?,
                })
            })
            .collect()
    }

    fn add_additional_endpoint(&mut self, user: UserKey, endpoint: &AdditionalEndpoint) -> StoreResult<()> {
        self.atomic(|conn| {
            let placement = lock_user(conn, user)?;
            let device = device_key(conn, &placement, &endpoint.device)?;
            diesel::insert_into(user_endpoints::table)
                .values((
                    user_endpoints::user_key.eq(user.0),
                    user_endpoints::device_key.eq(device),
                    user_endpoints::line_port.eq(endpoint.line_port.as_str()),
                    user_endpoints::is_main.eq(false),
                    user_endpoints::kind.eq(ACCESS),
                    user_endpoints::line_number.eq(None::<i32>),
                    user_endpoints::contacts.eq("[]"),
                ))
                .execute(conn)
                .store_or_missing("device")?;
            Ok(())
        })
    }
}
