//! The request bodies of the APIO user resource (seed 001), and how each becomes the service's
//! types with every invalid member named.

use super::*;
use crate::error::{ApiError, Collect};
use crate::secret::Secret;
use accountd_domain::endpoint::{AccessDeviceEndpoint, Contact, DeviceLevel, DeviceRef, Endpoint, TrunkEndpoint};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, LinePort, TenantId};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{DepartmentKey, ProfileChange};
use accountd_domain::{InvalidValue, Problem};
use accountd_service::users::{PasswordChange, UserUpdate};
use actix_web::web;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Input

/// `null` and absent differ: `Some(None)` is an explicit `null` (clear), `None` absent (keep).
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DepartmentBody {
    pub tenant_id: String,
    #[serde(default)]
    pub group_id: Option<String>,
    pub department_name: String,
    /// Derived from the parents: accepted (clients send back what they read) and ignored.
    #[serde(default)]
    pub full_path_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessDeviceEndpointBody {
    pub access_device: DeviceRefBody,
    pub line_port: String,
    #[serde(default)]
    pub line_number: Option<u16>,
    #[serde(default)]
    pub contacts: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrunkEndpointBody {
    pub trunk_group_device: DeviceRefBody,
    pub line_port: String,
    #[serde(default)]
    pub contacts: Vec<String>,
}

/// The profile members of seed 001, shared by PUT and POST. `null` (or `""`) clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileBody {
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub cli_last_name: Option<String>,
    pub cli_first_name: Option<String>,
    pub phone_number: Option<String>,
    pub extension: Option<String>,
    pub cli_phone_number: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub department: Option<Option<DepartmentBody>>,
    #[serde(default, deserialize_with = "nullable")]
    pub language: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: Option<Option<String>>,
    pub network_class_of_service: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub time_zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub access_device_endpoint: Option<Option<AccessDeviceEndpointBody>>,
    #[serde(default, deserialize_with = "nullable")]
    pub trunk_endpoint: Option<Option<TrunkEndpointBody>>,
}

/// Seed 001's PUT: the profile members, and `oldPassword`/`newPassword`.
// The passwords are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateBody {
    #[serde(flatten)]
    pub profile: ProfileBody,
    pub old_password: Option<Secret<Password>>,
    pub new_password: Option<Secret<Password>>,
}

/// An optional member: absent keeps (`None`), `null` or `""` clears (`Some(None)`), anything else
/// is parsed.
pub(crate) fn clearable<T>(
    invalid: &mut Collect,
    value: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<T, InvalidValue>,
) -> Option<Option<T>> {
    match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) if v.is_empty() => Some(None),
        Some(Some(v)) => invalid.take(parse(v)).map(Some),
    }
}

pub(crate) fn device_ref(invalid: &mut Collect, body: DeviceRefBody) -> Option<DeviceRef> {
    let name = invalid.take(DeviceName::parse(body.name));
    let level = invalid.take(DeviceLevel::parse(&body.level));
    Some(DeviceRef {
        name: name?,
        level: level?,
    })
}

pub(crate) fn contact_list(invalid: &mut Collect, list: Vec<String>) -> Vec<Contact> {
    list.into_iter()
        .filter_map(|c| invalid.take(Contact::parse(c)))
        .collect()
}

impl ProfileBody {
    /// The domain change and endpoint change, or every invalid value at once.
    pub(crate) fn into_change(self, invalid: &mut Collect) -> (ProfileChange, Option<Option<Endpoint>>) {
        let department = self.department.map(|d| {
            d.and_then(|d| {
                let tenant = invalid.take(TenantId::parse(d.tenant_id).map_err(|e| e.renamed("department.tenantId")));
                let group = d
                    .group_id
                    .map(|g| invalid.take(GroupId::parse(g).map_err(|e| e.renamed("department.groupId"))));
                let name = invalid
                    .take(DepartmentName::parse(d.department_name).map_err(|e| e.renamed("department.departmentName")));
                Some(DepartmentKey {
                    tenant: tenant?,
                    group: match group {
                        Some(g) => Some(g?),
                        None => None,
                    },
                    name: name?,
                })
            })
        });
        let access = self.access_device_endpoint.map(|a| {
            a.and_then(|a| {
                let device = device_ref(invalid, a.access_device);
                let line_port = invalid.take(LinePort::parse(a.line_port));
                let contacts = contact_list(invalid, a.contacts);
                Some(AccessDeviceEndpoint {
                    device: device?,
                    line_port: line_port?,
                    line_number: a.line_number,
                    contacts,
                })
            })
        });
        let trunk = self.trunk_endpoint.map(|t| {
            t.and_then(|t| {
                let device = device_ref(invalid, t.trunk_group_device);
                let line_port = invalid.take(LinePort::parse(t.line_port));
                let contacts = contact_list(invalid, t.contacts);
                Some(TrunkEndpoint {
                    device: device?,
                    line_port: line_port?,
                    contacts,
                })
            })
        });
        let endpoint = match (access, trunk) {
            (Some(Some(_)), Some(Some(_))) => {
                invalid.take::<()>(Endpoint::from_exclusive(None, None).and(Err(InvalidValue::new(
                    "accessDeviceEndpoint",
                    Problem::Conflict("accessDeviceEndpoint and trunkEndpoint are mutually exclusive"),
                ))));
                None
            }
            (Some(Some(a)), _) => Some(Some(Endpoint::AccessDevice(a))),
            (_, Some(Some(t))) => Some(Some(Endpoint::Trunk(t))),
            (Some(None), _) | (_, Some(None)) => Some(None),
            (None, None) => None,
        };
        let change = ProfileChange {
            first_name: self
                .first_name
                .and_then(|v| invalid.take(Name::parse_for("firstName", v))),
            last_name: self
                .last_name
                .and_then(|v| invalid.take(Name::parse_for("lastName", v))),
            cli_first_name: self
                .cli_first_name
                .and_then(|v| invalid.take(Text::parse_for("cliFirstName", v))),
            cli_last_name: self
                .cli_last_name
                .and_then(|v| invalid.take(Text::parse_for("cliLastName", v))),
            phone_number: self
                .phone_number
                .and_then(|v| invalid.take(PhoneNumber::parse_for("phoneNumber", v))),
            extension: self
                .extension
                .and_then(|v| invalid.take(Extension::parse_for("extension", v))),
            cli_phone_number: self
                .cli_phone_number
                .and_then(|v| invalid.take(PhoneNumber::parse_for("cliPhoneNumber", v))),
            department,
            language: clearable(invalid, self.language, |v| Language::parse_for("language", v)),
            email: clearable(invalid, self.email_address, |v| {
                EmailAddress::parse_for("emailAddress", v)
            }),
            network_class_of_service: self
                .network_class_of_service
                .and_then(|v| invalid.take(Text::parse_for("networkClassOfService", v))),
            time_zone: clearable(invalid, self.time_zone, |v| TimeZoneName::parse_for("timeZone", v)),
            mobile: None,
            description: None,
            image: None,
        };
        (change, endpoint)
    }
}

impl UpdateBody {
    pub(crate) fn into_update(self) -> Result<UserUpdate, ApiError> {
        let mut invalid = Collect::default();
        let (profile, endpoint) = self.profile.into_change(&mut invalid);
        let password = match (self.old_password, self.new_password) {
            (old, Some(new)) => {
                let new = invalid.take(new.named("newPassword"));
                let old = old.and_then(|o| invalid.take(o.named("oldPassword")));
                new.map(|new| PasswordChange { old, new })
            }
            (Some(_), None) => {
                invalid.take::<()>(Err(InvalidValue::new("newPassword", Problem::Empty)));
                None
            }
            (None, None) => None,
        };
        invalid.finish()?;
        Ok(UserUpdate {
            profile,
            endpoint,
            password,
        })
    }
}

/// DELETE options from a JSON body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    pub delete_devices: Option<bool>,
    #[serde(rename = "_excludedAppIds")]
    pub excluded_app_ids: Option<Vec<String>>,
}

/// DELETE options from the query string: `delete_devices=true|false`, `_excludedAppIds=a,b` (or
/// repeated). Unknown parameters are refused.
pub(crate) fn delete_query(query: &str) -> Result<DeleteBody, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
    let mut body = DeleteBody::default();
    for (key, value) in pairs {
        match key.as_str() {
            "delete_devices" => {
                body.delete_devices = Some(match value.as_str() {
                    "true" | "True" | "1" => true,
                    "false" | "False" | "0" => false,
                    _ => {
                        return Err(ApiError::invalid(vec![InvalidValue::new(
                            "delete_devices",
                            Problem::Format("true or false"),
                        )]));
                    }
                })
            }
            "_excludedAppIds" => body
                .excluded_app_ids
                .get_or_insert_with(Vec::new)
                .extend(value.split(',').filter(|v| !v.is_empty()).map(str::to_owned)),
            other => {
                return Err(ApiError::BadRequest {
                    details: format!("Unknown query parameter {other:?}."),
                    errors: vec![],
                });
            }
        }
    }
    Ok(body)
}

pub(crate) fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest {
            details: format!("The query string is not valid: {e}."),
            errors: vec![],
        })
}

/// Seed 001's pincode PUT.
// The PINs are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PinBody {
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,64}$")]
    pub pin_code: Option<Secret<PinCode>>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,64}$")]
    pub old_pin_code: Option<Secret<PinCode>>,
    pub login_disabled: Option<bool>,
    pub expiration_days: Option<i64>,
    pub does_not_expire: Option<bool>,
}

/// `GET …/users/` query: a page size and the cursor of the previous page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Users per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<i64>,
}

pub const MAX_PAGE: u32 = 200;

/// `POST …/users/`: a new user of this group.
// The password is a `Secret`: `Debug` doesn't show it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    pub user_id: String,
    /// The login name; the user id when absent.
    pub username: Option<String>,
    pub password: Secret<Password>,
    /// 0 (end user, the default), 4 (department admin) or 8 (group admin).
    pub user_level: Option<u8>,
    /// The department a department admin administers.
    pub administered_department: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileBody,
}
