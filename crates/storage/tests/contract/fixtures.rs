//! Builders and shorthands shared by the contract cases.

use accountd_domain::endpoint::{
    AccessDeviceEndpoint, AdditionalEndpoint, Contact, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint,
};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::ports::{Repository, Store, StoreError, StoreResult};
use accountd_domain::records::{Group, NewDepartment, Tenant};
use accountd_domain::testing::TestUser;
use accountd_domain::text::Text;
use accountd_domain::user::{DepartmentKey, NewUser, Timestamp, User};
use accountd_storage::Database;

pub const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

/// `db.write(f)` with the store's own error.
pub fn write<T>(db: &Database, f: impl FnOnce(&mut dyn Repository) -> StoreResult<T>) -> StoreResult<T> {
    db.write(f)
}

/// `db.read(f)` with the store's own error.
pub fn read<T>(db: &Database, f: impl FnOnce(&mut dyn Repository) -> StoreResult<T>) -> StoreResult<T> {
    db.read(f)
}

pub fn tenant_id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

pub fn group_id(s: &str) -> GroupId {
    GroupId::parse(s).unwrap()
}

pub fn text(s: &str) -> Text {
    Text::parse_for("t", s).unwrap()
}

pub fn member(tenant: &str, group: &str, user: &str) -> GroupMember {
    GroupMember {
        tenant: tenant_id(tenant),
        group: group_id(group),
        user: UserId::parse(user).unwrap(),
    }
}

pub fn department_key(tenant: &str, group: Option<&str>, name: &str) -> DepartmentKey {
    DepartmentKey {
        tenant: tenant_id(tenant),
        group: group.map(group_id),
        name: DepartmentName::parse(name).unwrap(),
    }
}

/// A new user with a named profile, approved and enabled (the workspace's test-user builder).
pub fn new_user(username: &str, role: Role) -> NewUser {
    TestUser::new(0, role)
        .username(username)
        .named("John", "Doe")
        .new_user()
}

/// Tenant `Pie` with groups `PieGroup` and `OtherGroup`.
pub fn directory(db: &Database) -> (Tenant, Group, Group) {
    write(db, |r| {
        let t = r.ensure_tenant(&tenant_id("Pie"), &text("Pie Inc"))?;
        let g = r.ensure_group(&t.id, &group_id("PieGroup"), &text("Pie group"))?;
        let o = r.ensure_group(&t.id, &group_id("OtherGroup"), &text("Other group"))?;
        Ok((t, g, o))
    })
    .unwrap()
}

/// An end user of `Pie/PieGroup`.
pub fn end_user(db: &Database, user_id: &str) -> User {
    let role = Role::EndUser {
        member: member("Pie", "PieGroup", user_id),
    };
    write(db, |r| {
        r.create_user(&new_user(&format!("{user_id}@sip.example"), role), T0)
    })
    .unwrap()
}

pub fn ensure_department(
    db: &Database,
    key: DepartmentKey,
    parent: Option<&str>,
) -> StoreResult<accountd_domain::user::Department> {
    write(db, |r| {
        r.ensure_department(&NewDepartment {
            key,
            parent: parent.map(|p| DepartmentName::parse(p).unwrap()),
        })
    })
}

pub fn group_device(name: &str) -> Device {
    Device {
        owner: DeviceOwner::Group {
            tenant: tenant_id("Pie"),
            group: group_id("PieGroup"),
        },
        name: DeviceName::parse(name).unwrap(),
    }
}

pub fn device_ref(name: &str, level: DeviceLevel) -> DeviceRef {
    DeviceRef {
        name: DeviceName::parse(name).unwrap(),
        level,
    }
}

pub fn line(port: &str) -> LinePort {
    LinePort::parse(port).unwrap()
}

/// A main endpoint on group device `device`.
pub fn access(device: &str, port: &str) -> Endpoint {
    Endpoint::AccessDevice(AccessDeviceEndpoint {
        device: device_ref(device, DeviceLevel::Group),
        line_port: line(port),
        line_number: Some(0),
        contacts: vec![Contact::parse("sip:alice@10.0.0.1:5060").unwrap()],
    })
}

pub fn additional(device: &str, port: &str) -> AdditionalEndpoint {
    AdditionalEndpoint {
        device: device_ref(device, DeviceLevel::Group),
        line_port: line(port),
    }
}

/// Asserts `result` failed with exactly `expected`.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(result: StoreResult<T>, expected: StoreError) {
    match result {
        Err(e) => assert_eq!(e, expected),
        Ok(v) => panic!("expected {expected:?}, got Ok({v:?})"),
    }
}
