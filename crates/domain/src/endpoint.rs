//! Devices and the endpoints that tie a user to them. A user's main endpoint is either on an access
//! device or on a trunk group, never both: [`Endpoint`] is an enum, so the exclusion of seed 001
//! holds by construction. Additional endpoints (shared call appearances) put a user on more devices.

use crate::error::{InvalidValue, Problem};
use crate::ids::{DeviceName, GroupId, LinePort, TenantId, UserId};
use serde::{Deserialize, Serialize};

/// The level a device is defined at, as seed 001 spells it (`"level": "Group"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceLevel {
    Group,
    ServiceProvider,
    System,
}

impl DeviceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLevel::Group => "Group",
            DeviceLevel::ServiceProvider => "ServiceProvider",
            DeviceLevel::System => "System",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "Group" => Ok(DeviceLevel::Group),
            "ServiceProvider" => Ok(DeviceLevel::ServiceProvider),
            "System" => Ok(DeviceLevel::System),
            _ => Err(InvalidValue::new(
                "level",
                Problem::Format("one of Group, ServiceProvider, System"),
            )),
        }
    }
}

/// Who owns a device; the device's level follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceOwner {
    System,
    ServiceProvider { tenant: TenantId },
    Group { tenant: TenantId, group: GroupId },
}

impl DeviceOwner {
    pub fn level(&self) -> DeviceLevel {
        match self {
            DeviceOwner::System => DeviceLevel::System,
            DeviceOwner::ServiceProvider { .. } => DeviceLevel::ServiceProvider,
            DeviceOwner::Group { .. } => DeviceLevel::Group,
        }
    }

    /// The owner a device reference at `level` means for a user of `tenant`/`group`.
    pub fn resolve(level: DeviceLevel, tenant: &TenantId, group: &GroupId) -> Self {
        match level {
            DeviceLevel::System => DeviceOwner::System,
            DeviceLevel::ServiceProvider => DeviceOwner::ServiceProvider { tenant: tenant.clone() },
            DeviceLevel::Group => DeviceOwner::Group {
                tenant: tenant.clone(),
                group: group.clone(),
            },
        }
    }
}

/// A device: a phone, an access device, or a trunk group's device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Device {
    pub owner: DeviceOwner,
    pub name: DeviceName,
}

impl Device {
    pub fn reference(&self) -> DeviceRef {
        DeviceRef {
            name: self.name.clone(),
            level: self.owner.level(),
        }
    }
}

/// How an endpoint names its device: `{"name": "DP_ApioUserTest", "level": "Group"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceRef {
    pub name: DeviceName,
    pub level: DeviceLevel,
}

/// A SIP contact registered on an endpoint (`sip:alice@10.0.0.1:5060`): one line, no white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Contact(String);

impl Contact {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        if value.is_empty() {
            return Err(InvalidValue::new("contacts", Problem::Empty));
        }
        if value.len() > Self::MAX_LEN {
            return Err(InvalidValue::new("contacts", Problem::TooLong { max: Self::MAX_LEN }));
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InvalidValue::new(
                "contacts",
                Problem::Format("a SIP URI without white space"),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Contact {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Contact> for String {
    fn from(value: Contact) -> String {
        value.0
    }
}

/// A user's line on an access device (seed 001 `accessDeviceEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDeviceEndpoint {
    pub device: DeviceRef,
    pub line_port: LinePort,
    /// Line (key) number on the device; seed 001 shows `0`.
    pub line_number: Option<u16>,
    pub contacts: Vec<Contact>,
}

/// A user's line on a trunk group (seed 001 `trunkEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkEndpoint {
    /// The trunk group's device.
    pub device: DeviceRef,
    pub line_port: LinePort,
    pub contacts: Vec<Contact>,
}

/// A user's main endpoint: on an access device, or on a trunk group, exclusively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Endpoint {
    AccessDevice(AccessDeviceEndpoint),
    Trunk(TrunkEndpoint),
}

impl Endpoint {
    pub fn line_port(&self) -> &LinePort {
        match self {
            Endpoint::AccessDevice(e) => &e.line_port,
            Endpoint::Trunk(e) => &e.line_port,
        }
    }

    pub fn device(&self) -> &DeviceRef {
        match self {
            Endpoint::AccessDevice(e) => &e.device,
            Endpoint::Trunk(e) => &e.device,
        }
    }

    /// Builds the endpoint from seed 001's two optional members, refusing both at once.
    pub fn from_exclusive(
        access: Option<AccessDeviceEndpoint>,
        trunk: Option<TrunkEndpoint>,
    ) -> Result<Option<Endpoint>, InvalidValue> {
        match (access, trunk) {
            (Some(_), Some(_)) => Err(InvalidValue::new(
                "accessDeviceEndpoint",
                Problem::Conflict("accessDeviceEndpoint and trunkEndpoint are mutually exclusive"),
            )),
            (Some(a), None) => Ok(Some(Endpoint::AccessDevice(a))),
            (None, Some(t)) => Ok(Some(Endpoint::Trunk(t))),
            (None, None) => Ok(None),
        }
    }
}

/// A further device a user has a line on (a shared call appearance), beside the main endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdditionalEndpoint {
    pub device: DeviceRef,
    pub line_port: LinePort,
}

/// `{ "userId": …, "linePort": … }`: one entry of the delete report of seed 001.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineRef {
    pub user_id: UserId,
    pub line_port: LinePort,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> AccessDeviceEndpoint {
        AccessDeviceEndpoint {
            device: DeviceRef {
                name: DeviceName::parse("DP_ApioUserTest").unwrap(),
                level: DeviceLevel::Group,
            },
            line_port: LinePort::parse("LP_ApioUserTest@sip.netaxis.be").unwrap(),
            line_number: Some(0),
            contacts: vec![],
        }
    }

    #[test]
    fn endpoints_are_exclusive() {
        let trunk = TrunkEndpoint {
            device: DeviceRef {
                name: DeviceName::parse("TG").unwrap(),
                level: DeviceLevel::Group,
            },
            line_port: LinePort::parse("tg1@sip.example").unwrap(),
            contacts: vec![],
        };
        assert!(Endpoint::from_exclusive(Some(access()), Some(trunk.clone())).is_err());
        assert!(matches!(
            Endpoint::from_exclusive(Some(access()), None),
            Ok(Some(Endpoint::AccessDevice(_)))
        ));
        assert!(matches!(
            Endpoint::from_exclusive(None, Some(trunk)),
            Ok(Some(Endpoint::Trunk(_)))
        ));
        assert_eq!(Endpoint::from_exclusive(None, None), Ok(None));
    }

    #[test]
    fn device_levels_follow_owners() {
        let t = TenantId::parse("T").unwrap();
        let g = GroupId::parse("G").unwrap();
        for level in [DeviceLevel::Group, DeviceLevel::ServiceProvider, DeviceLevel::System] {
            assert_eq!(DeviceOwner::resolve(level, &t, &g).level(), level);
            assert_eq!(DeviceLevel::parse(level.as_str()), Ok(level));
        }
        assert!(DeviceLevel::parse("group").is_err());
    }

    #[test]
    fn contacts() {
        assert!(Contact::parse("sip:alice@10.0.0.1:5060").is_ok());
        assert!(Contact::parse("sip: alice").is_err());
        assert!(Contact::parse("").is_err());
    }

    #[test]
    fn contacts_are_bounded_and_kept_as_given() {
        let long = format!("sip:{}", "a".repeat(Contact::MAX_LEN - 4));
        let contact = Contact::parse(long.clone()).unwrap();
        assert_eq!(contact.as_str(), long);
        assert_eq!(String::from(contact), long);
        assert_eq!(
            Contact::parse(format!("{long}b")).unwrap_err().problem,
            Problem::TooLong { max: Contact::MAX_LEN }
        );
        assert_eq!(Contact::try_from("sip:x".to_owned()).unwrap().as_str(), "sip:x");
    }
}
