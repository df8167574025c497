//! The representations of the APIO user resource (seed 001): a user, its PIN settings, a
//! delete's report, a page of users.

use accountd_domain::endpoint::{Contact, DeviceRef, Endpoint, LineRef};
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::DeleteOutcome;
use accountd_domain::user::User;
use accountd_service::users::UserDetails;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Representations

/// Seed 001's `department`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentView {
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub department_name: String,
    pub full_path_name: String,
}

/// `{"name": …, "level": …}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRefBody {
    pub name: String,
    pub level: String,
}

/// Seed 001's `accessDeviceEndpoint`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDeviceEndpointView {
    pub access_device: DeviceRefBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<u16>,
    pub contacts: Vec<String>,
    pub line_port: String,
}

/// `trunkEndpoint`: the trunk group's device, the line port and contacts.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrunkEndpointView {
    pub trunk_group_device: DeviceRefBody,
    pub line_port: String,
    pub contacts: Vec<String>,
}

/// Seed 001's user, field for field and in its order. Unset endpoints are absent.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub last_name: String,
    pub first_name: String,
    pub cli_last_name: String,
    pub cli_first_name: String,
    pub phone_number: String,
    pub extension: String,
    pub cli_phone_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    pub network_class_of_service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_device_endpoint: Option<AccessDeviceEndpointView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trunk_endpoint: Option<TrunkEndpointView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

pub(crate) fn device_body(device: &DeviceRef) -> DeviceRefBody {
    DeviceRefBody {
        name: device.name.to_string(),
        level: device.level.as_str().to_owned(),
    }
}

pub(crate) fn contacts(list: &[Contact]) -> Vec<String> {
    list.iter().map(|c| c.as_str().to_owned()).collect()
}

impl UserView {
    pub fn of(details: &UserDetails) -> Self {
        let p = &details.user.profile;
        let (access, trunk) = match &details.endpoint {
            Some(Endpoint::AccessDevice(e)) => (
                Some(AccessDeviceEndpointView {
                    access_device: device_body(&e.device),
                    line_number: e.line_number,
                    contacts: contacts(&e.contacts),
                    line_port: e.line_port.to_string(),
                }),
                None,
            ),
            Some(Endpoint::Trunk(e)) => (
                None,
                Some(TrunkEndpointView {
                    trunk_group_device: device_body(&e.device),
                    line_port: e.line_port.to_string(),
                    contacts: contacts(&e.contacts),
                }),
            ),
            None => (None, None),
        };
        UserView {
            last_name: p.last_name.to_string(),
            first_name: p.first_name.to_string(),
            cli_last_name: p.cli_last_name.to_string(),
            cli_first_name: p.cli_first_name.to_string(),
            phone_number: p.phone_number.to_string(),
            extension: p.extension.to_string(),
            cli_phone_number: p.cli_phone_number.to_string(),
            department: p.department.as_ref().map(|d| DepartmentView {
                tenant_id: d.key.tenant.to_string(),
                group_id: d.key.group.as_ref().map(ToString::to_string),
                department_name: d.key.name.to_string(),
                full_path_name: d.full_path_name(),
            }),
            language: p.language.as_ref().map(ToString::to_string),
            email_address: p.email.as_ref().map(ToString::to_string),
            network_class_of_service: p.network_class_of_service.to_string(),
            access_device_endpoint: access,
            trunk_endpoint: trunk,
            time_zone: p.time_zone.as_ref().map(ToString::to_string),
        }
    }
}

/// Seed 001's pincode resource. The PIN itself is never returned (the seed allows its absence).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinView {
    pub login_disabled: bool,
    pub expiration_days: u16,
    pub does_not_expire: bool,
}

impl From<PinSettings> for PinView {
    fn from(s: PinSettings) -> Self {
        PinView {
            login_disabled: s.login_disabled,
            expiration_days: s.expiration_days(),
            does_not_expire: s.does_not_expire,
        }
    }
}

/// The seed's delete report: `{}` when nothing but the user went; else the three members.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeleteReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detached_additional_users: Option<Vec<LineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deleted_additional_devices: Option<Vec<LineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deleted_main_device: Option<LineView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LineView {
    pub(crate) user_id: String,
    pub(crate) line_port: String,
}

pub(crate) fn line_view(line: &LineRef) -> LineView {
    LineView {
        user_id: line.user_id.to_string(),
        line_port: line.line_port.to_string(),
    }
}

impl From<&DeleteOutcome> for DeleteReport {
    fn from(outcome: &DeleteOutcome) -> Self {
        let anything = !outcome.detached_additional_users.is_empty()
            || !outcome.deleted_additional_devices.is_empty()
            || outcome.deleted_main_device.is_some();
        if !anything {
            return DeleteReport {
                detached_additional_users: None,
                deleted_additional_devices: None,
                deleted_main_device: None,
            };
        }
        DeleteReport {
            detached_additional_users: Some(outcome.detached_additional_users.iter().map(line_view).collect()),
            deleted_additional_devices: Some(outcome.deleted_additional_devices.iter().map(line_view).collect()),
            deleted_main_device: outcome.deleted_main_device.as_ref().map(line_view),
        }
    }
}

/// One listed user.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub user_id: String,
    pub username: String,
    pub user_level: u8,
    pub first_name: String,
    pub last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
}

/// A page of a group's users; `next` is the `after` of the following page, `null` on the last.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub next: Option<i64>,
}

pub(crate) fn summary(user: &User) -> Option<UserSummary> {
    Some(UserSummary {
        user_id: user.role.member()?.user.to_string(),
        username: user.username.to_string(),
        user_level: user.level().as_u8(),
        first_name: user.profile.first_name.to_string(),
        last_name: user.profile.last_name.to_string(),
        email_address: user.profile.email.as_ref().map(ToString::to_string),
    })
}
