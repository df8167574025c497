//! The APIO user resource of seed 001: `GET/PUT/DELETE /api/v1/tenants/{t}/groups/{g}/users/{u}/`,
//! its `pincode/`, and what administrators expect beside it: `POST` (create) and `GET` (list, by
//! pages) on `/api/v1/tenants/{t}/groups/{g}/users/`. Bodies follow the seed field for field.

use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::responses as problem;
use crate::error::{ApiError, Collect};
use crate::json::Json;
use crate::secret::Secret;
use crate::{AppState, resource};
use accountd_domain::endpoint::{
    AccessDeviceEndpoint, Contact, DeviceLevel, DeviceRef, Endpoint, LineRef, TrunkEndpoint,
};
use accountd_domain::ids::{AppId, DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId, UserKey, Username};
use accountd_domain::level::GroupMember;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{DeleteOptions, DeleteOutcome, PageRequest, Store};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{DepartmentKey, Profile, ProfileChange, User, Version};
use accountd_domain::{InvalidValue, Problem};
use accountd_service::pincode::PinUpdate;
use accountd_service::users::{NewGroupUser, PasswordChange, UserDetails, UserUpdate};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub const USERS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/";
pub const USER: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/";
/// What the path's ids accept (besides `.` and `..`): no control character, slash or backslash, no
/// surrounding white space. The OpenAPI document gives it to every `*_id` path parameter.
pub const IDENTIFIER: &str = r"^[^\s/\\\x00-\x1f\x7f-\x9f]([^/\\\x00-\x1f\x7f-\x9f]*[^\s/\\\x00-\x1f\x7f-\x9f])?$";

pub const PINCODE: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/";

/// The path of a group member's [`USER`] resource, each id percent-encoded.
pub(crate) fn user_path(member: &GroupMember) -> String {
    format!(
        "/api/v1/tenants/{}/groups/{}/users/{}/",
        segment(member.tenant.as_str()),
        segment(member.group.as_str()),
        segment(member.user.as_str())
    )
}

/// A path segment, percent-encoded but for RFC 3986's unreserved characters and `@`.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(USERS)
            .route(web::get().to(list::<S>))
            .route(web::post().to(create::<S>)),
    )
    .service(
        resource(USER)
            .route(web::get().to(get::<S>))
            .route(web::put().to(put::<S>))
            .route(web::delete().to(delete::<S>)),
    )
    .service(
        resource(PINCODE)
            .route(web::get().to(get_pin::<S>))
            .route(web::put().to(put_pin::<S>)),
    );
}

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

fn device_body(device: &DeviceRef) -> DeviceRefBody {
    DeviceRefBody {
        name: device.name.to_string(),
        level: device.level.as_str().to_owned(),
    }
}

fn contacts(list: &[Contact]) -> Vec<String> {
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

fn device_ref(invalid: &mut Collect, body: DeviceRefBody) -> Option<DeviceRef> {
    let name = invalid.take(DeviceName::parse(body.name));
    let level = invalid.take(DeviceLevel::parse(&body.level));
    Some(DeviceRef {
        name: name?,
        level: level?,
    })
}

fn contact_list(invalid: &mut Collect, list: Vec<String>) -> Vec<Contact> {
    list.into_iter()
        .filter_map(|c| invalid.take(Contact::parse(c)))
        .collect()
}

impl ProfileBody {
    /// The domain change and endpoint change, or every invalid value at once.
    fn into_change(self, invalid: &mut Collect) -> (ProfileChange, Option<Option<Endpoint>>) {
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
    fn into_update(self) -> Result<UserUpdate, ApiError> {
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

fn member_of(path: (String, String, String)) -> Result<GroupMember, ApiError> {
    let mut invalid = Collect::default();
    let tenant = invalid.take(TenantId::parse(path.0));
    let group = invalid.take(GroupId::parse(path.1));
    let user = invalid.take(UserId::parse(path.2));
    invalid.finish()?;
    match (tenant, group, user) {
        (Some(tenant), Some(group), Some(user)) => Ok(GroupMember { tenant, group, user }),
        _ => Err(ApiError::BadRequest {
            details: "Invalid path.".into(),
            errors: vec![],
        }),
    }
}

fn group_of(path: (String, String)) -> Result<(TenantId, GroupId), ApiError> {
    let mut invalid = Collect::default();
    let tenant = invalid.take(TenantId::parse(path.0));
    let group = invalid.take(GroupId::parse(path.1));
    invalid.finish()?;
    tenant.zip(group).ok_or(ApiError::BadRequest {
        details: "Invalid path.".into(),
        errors: vec![],
    })
}

/// `If-Match`: `None` without one or with `*`; a strong `"<version>"` else. Anything else can never
/// match (a weak tag, garbage): 412.
fn if_match(req: &HttpRequest) -> Result<Option<Version>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(|v| Some(Version(v)))
        .ok_or_else(|| {
            ApiError::invalid(vec![InvalidValue::new(
                "If-Match",
                Problem::Format("\"<version>\" (the ETag) or *"),
            )])
        })
}

fn etag(version: Version) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

fn with_user(status: actix_web::http::StatusCode, details: &UserDetails) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(etag(details.user.version))
        .json(UserView::of(details))
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_get_user",
    summary = "A user of a group",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    responses(
        (status = 200, description = "The user; its version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn get<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let details = blocking(move || services.get_user(&caller.principal, &member)).await?;
    Ok(with_user(actix_web::http::StatusCode::OK, &details))
}

#[utoipa::path(put, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_put_user",
    summary = "Change a user's profile, endpoint or password",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"` from the ETag, or `*`; a stale version is 412"),
    ),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated user; its new version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
        problem::PreconditionFailed,
        problem::PreconditionRequired,
    ))]
pub(crate) async fn put<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Json<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let expected = if_match(&req)?;
    let update = body.into_inner().into_update()?;
    let services = state.services.clone();
    let details = blocking(move || services.update_user(&caller.principal, &member, expected, &update, &ctx)).await?;
    Ok(with_user(actix_web::http::StatusCode::OK, &details))
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
fn delete_query(query: &str) -> Result<DeleteBody, ApiError> {
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

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest {
            details: format!("The query string is not valid: {e}."),
            errors: vec![],
        })
}

/// The seed's delete report: `{}` when nothing but the user went; else the three members.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeleteReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    detached_additional_users: Option<Vec<LineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_additional_devices: Option<Vec<LineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_main_device: Option<LineView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LineView {
    user_id: String,
    line_port: String,
}

fn line_view(line: &LineRef) -> LineView {
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

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_delete_user",
    summary = "Delete a user (and, by default, its devices)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"` from the ETag, or `*`; a stale version is 412"),
        ("delete_devices" = Option<bool>, Query, description = "Also delete the user's devices"),
        ("_excludedAppIds" = Option<String>, Query, description = "Comma-separated app ids to keep"),
    ),
    request_body(content = DeleteBody, content_type = "application/json", description = "Optional; the same options may be given in the query string"),
    responses(
        (status = 200, description = "What was deleted or detached besides the user", body = DeleteReport),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::PreconditionFailed,
        problem::UnsupportedMediaType,
    ))]
pub(crate) async fn delete<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::bytes(body, state.config.max_body_bytes)?;
    let member = member_of(path.into_inner())?;
    let from_query = delete_query(req.query_string())?;
    let from_body: DeleteBody = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteBody::default()
    } else {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "A DELETE body must be JSON (Content-Type: application/json).".into(),
            ));
        }
        crate::json::from_object(&body)?
    };
    let mut invalid = Collect::default();
    let excluded: Vec<AppId> = from_body
        .excluded_app_ids
        .into_iter()
        .chain(from_query.excluded_app_ids)
        .flatten()
        .filter_map(|id| invalid.take(AppId::parse(id).map_err(|e| e.renamed("_excludedAppIds"))))
        .collect();
    invalid.finish()?;
    let expected = if_match(&req)?;
    let options = DeleteOptions {
        delete_devices: from_body
            .delete_devices
            .or(from_query.delete_devices)
            .unwrap_or(state.services.config().apio.delete_user_devices),
        excluded_app_ids: excluded,
    };
    let services = state.services.clone();
    let outcome = blocking(move || services.delete_user(&caller.principal, &member, expected, &options, &ctx)).await?;
    Ok(HttpResponse::Ok().json(DeleteReport::from(&outcome)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/", tag = "apio", operation_id = "apio_get_pincode",
    summary = "A user's PIN settings (never the PIN)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    responses(
        (status = 200, description = "The PIN settings", body = PinView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn get_pin<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let settings = blocking(move || services.get_pin(&caller.principal, &member)).await?;
    Ok(HttpResponse::Ok().json(PinView::from(settings)))
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

#[utoipa::path(put, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/", tag = "apio", operation_id = "apio_put_pincode",
    summary = "Change a user's PIN or PIN settings",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    request_body(content = PinBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated PIN settings", body = PinView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn put_pin<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Json<PinBody>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let body = body.into_inner();
    let mut invalid = Collect::default();
    let update = PinUpdate {
        pin: body.pin_code.and_then(|p| invalid.take(p.named("pinCode"))),
        old_pin: body.old_pin_code.and_then(|p| invalid.take(p.named("oldPinCode"))),
        login_disabled: body.login_disabled,
        expiration_days: body.expiration_days,
        does_not_expire: body.does_not_expire,
    };
    if let Some(days) = update.expiration_days {
        invalid.take(PinSettings::new(false, days, false));
    }
    invalid.finish()?;
    let services = state.services.clone();
    let settings = blocking(move || services.update_pin(&caller.principal, &member, &update, &ctx)).await?;
    Ok(HttpResponse::Ok().json(PinView::from(settings)))
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

fn summary(user: &User) -> Option<UserSummary> {
    Some(UserSummary {
        user_id: user.role.member()?.user.to_string(),
        username: user.username.to_string(),
        user_level: user.level().as_u8(),
        first_name: user.profile.first_name.to_string(),
        last_name: user.profile.last_name.to_string(),
        email_address: user.profile.email.as_ref().map(ToString::to_string),
    })
}

pub const MAX_PAGE: u32 = 200;

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/", tag = "apio", operation_id = "apio_list_users",
    summary = "The users of a group, by pages (the next page's link in `Link: rel=next`)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ListQuery,
    ),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn list<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, group) = group_of(path.into_inner())?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(vec![InvalidValue::new(
            "limit",
            Problem::OutOfRange {
                min: 1,
                max: i64::from(MAX_PAGE),
            },
        )]));
    }
    let page = PageRequest {
        after: query.after.map(UserKey),
        limit,
    };
    let services = state.services.clone();
    let listed = blocking(move || services.list_group_users(&caller.principal, &tenant, &group, page)).await?;
    let next = listed.next_after.map(|k| k.0);
    let mut response = HttpResponse::Ok();
    if let Some(next) = next {
        response.insert_header((
            header::LINK,
            format!("<{}?limit={limit}&after={next}>; rel=\"next\"", req.path()),
        ));
    }
    Ok(response.json(UserPage {
        users: listed.items.iter().filter_map(summary).collect(),
        next,
    }))
}

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

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/", tag = "apio", operation_id = "apio_create_user",
    summary = "Create a user in a group",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
    ),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; its URL in Location and version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
    ))]
pub(crate) async fn create<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, group) = group_of(path.into_inner())?;
    let body = body.into_inner();
    let mut invalid = Collect::default();
    let user_id = invalid.take(UserId::parse(body.user_id.clone()));
    let username = invalid.take(Username::parse(body.username.unwrap_or(body.user_id)));
    let password = invalid.take(body.password.named("password"));
    let first = body
        .profile
        .first_name
        .clone()
        .and_then(|v| invalid.take(Name::parse_for("firstName", v)));
    let last = body
        .profile
        .last_name
        .clone()
        .and_then(|v| invalid.take(Name::parse_for("lastName", v)));
    if body.profile.first_name.is_none() {
        invalid.take::<()>(Err(InvalidValue::new("firstName", Problem::Empty)));
    }
    if body.profile.last_name.is_none() {
        invalid.take::<()>(Err(InvalidValue::new("lastName", Problem::Empty)));
    }
    let administered = body
        .administered_department
        .map(|d| invalid.take(DepartmentName::parse(d).map_err(|e| e.renamed("administeredDepartment"))));
    let level = body.user_level.unwrap_or(0);
    let (change, endpoint) = body.profile.into_change(&mut invalid);
    invalid.finish()?;
    let (Some(user_id), Some(username), Some(password), Some(first), Some(last)) =
        (user_id, username, password, first, last)
    else {
        return Err(ApiError::BadRequest {
            details: "Invalid body.".into(),
            errors: vec![],
        });
    };
    let mut profile = Profile::named(first, last);
    change.apply_except_department(&mut profile);
    let request = NewGroupUser {
        member: GroupMember {
            tenant,
            group,
            user: user_id,
        },
        username,
        level,
        administered_department: administered.flatten(),
        profile,
        department: change.department.flatten(),
    };
    let services = state.services.clone();
    let endpoint = endpoint.flatten();
    let details =
        blocking(move || services.create_group_user(&caller.principal, &request, endpoint.as_ref(), &password, &ctx))
            .await?;
    let location = details
        .user
        .role
        .member()
        .map(user_path)
        .unwrap_or_else(|| req.path().to_owned());
    let mut response = with_user(actix_web::http::StatusCode::CREATED, &details);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_service::ServiceError;

    #[test]
    fn both_endpoints_are_refused() {
        let body: UpdateBody = serde_json::from_str(
            r#"{"accessDeviceEndpoint": {"accessDevice": {"name": "D", "level": "Group"}, "linePort": "a@b"},
                "trunkEndpoint": {"trunkGroupDevice": {"name": "T", "level": "Group"}, "linePort": "c@d"}}"#,
        )
        .unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = body.into_update() else {
            panic!("accepted")
        };
        assert_eq!(errors[0].field, "accessDeviceEndpoint");
    }

    #[test]
    fn null_removes_the_endpoint_and_clears_optional_fields() {
        let body: UpdateBody =
            serde_json::from_str(r#"{"accessDeviceEndpoint": null, "language": null, "emailAddress": ""}"#).unwrap();
        let update = body.into_update().unwrap();
        assert_eq!(update.endpoint, Some(None));
        assert_eq!(update.profile.language, Some(None));
        assert_eq!(update.profile.email, Some(None));
        assert_eq!(update.profile.time_zone, None, "absent keeps");
    }

    #[test]
    fn every_invalid_member_is_reported() {
        let body: UpdateBody = serde_json::from_str(
            r#"{"firstName": "", "emailAddress": "nope", "timeZone": "Mars/../x", "oldPassword": "x",
                "department": {"tenantId": "a/b", "departmentName": ""}}"#,
        )
        .unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = body.into_update() else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        for f in [
            "firstName",
            "emailAddress",
            "timeZone",
            "newPassword",
            "department.tenantId",
            "department.departmentName",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn bodies_with_secrets_do_not_debug_them() {
        let update: UpdateBody = serde_json::from_str(
            r#"{"firstName": "Jo", "oldPassword": "Old-Secret-1!", "newPassword": "New-Secret-2!"}"#,
        )
        .unwrap();
        let create: CreateBody = serde_json::from_str(
            r#"{"userId": "newbie", "password": "Fresh-Secret-3!", "firstName": "A", "lastName": "B"}"#,
        )
        .unwrap();
        let pin: PinBody = serde_json::from_str(r#"{"pinCode": "918273", "oldPinCode": "564738"}"#).unwrap();
        let debug = format!("{update:?} {create:?} {pin:?}");
        assert!(debug.contains("Jo") && debug.contains("newbie"), "{debug}");
        for secret in ["Old-Secret", "New-Secret", "Fresh-Secret", "918273", "564738"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        // The values are there, for the conversion.
        let change = update.into_update().unwrap().password.unwrap();
        assert_eq!(change.new.expose(), "New-Secret-2!");
        assert_eq!(change.old.unwrap().expose(), "Old-Secret-1!");
        assert_eq!(create.password.named("password").unwrap().expose(), "Fresh-Secret-3!");
        assert_eq!(pin.pin_code.unwrap().named("pinCode").unwrap().expose(), "918273");
    }

    #[test]
    fn refused_secrets_are_named_by_their_members() {
        let update: UpdateBody = serde_json::from_str(r#"{"oldPassword": "", "newPassword": ""}"#).unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = update.into_update() else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["newPassword", "oldPassword"]);
        let pin: PinBody = serde_json::from_str(r#"{"pinCode": "12a4", "oldPinCode": "x"}"#).unwrap();
        assert_eq!(pin.pin_code.unwrap().named("pinCode").unwrap_err().field, "pinCode");
        assert_eq!(
            pin.old_pin_code.unwrap().named("oldPinCode").unwrap_err().field,
            "oldPinCode"
        );
    }

    #[test]
    fn unknown_members_are_refused() {
        assert!(serde_json::from_str::<UpdateBody>(r#"{"nickname": "x"}"#).is_err());
        assert!(serde_json::from_str::<UpdateBody>(r#"{"firstName": "x", "nickname": "x"}"#).is_err());
        assert!(serde_json::from_str::<CreateBody>(r#"{"userId": "u", "password": "p", "nickname": "x"}"#).is_err());
        assert!(
            serde_json::from_str::<UpdateBody>(r#"{"firstName": "x", "oldPassword": "a", "newPassword": "b"}"#).is_ok()
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("foouser"), "foouser");
        assert_eq!(
            segment("PieGroupAdmin1@sip.netaxis.be"),
            "PieGroupAdmin1@sip.netaxis.be"
        );
        assert_eq!(segment("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(segment("Jane+1%#ü"), "Jane%2B1%25%23%C3%BC");
        let member = GroupMember {
            tenant: TenantId::parse("Pie Corp").unwrap(),
            group: GroupId::parse("G#1").unwrap(),
            user: UserId::parse("jane doe@example.com").unwrap(),
        };
        assert_eq!(
            user_path(&member),
            "/api/v1/tenants/Pie%20Corp/groups/G%231/users/jane%20doe@example.com/"
        );
    }

    #[test]
    fn if_match_parsing() {
        let req = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((header::IF_MATCH, v))
                .to_http_request()
        };
        assert_eq!(if_match(&req("\"7\"")).unwrap(), Some(Version(7)));
        assert_eq!(if_match(&req("*")).unwrap(), None);
        assert!(if_match(&req("W/\"7\"")).is_err());
        assert!(if_match(&req("7")).is_err());
        assert_eq!(
            if_match(&actix_web::test::TestRequest::default().to_http_request()).unwrap(),
            None
        );
    }

    #[test]
    fn delete_query_forms() {
        let q = delete_query("delete_devices=false&_excludedAppIds=a,b&_excludedAppIds=c").unwrap();
        assert_eq!(q.delete_devices, Some(false));
        assert_eq!(q.excluded_app_ids.unwrap(), ["a", "b", "c"]);
        assert!(delete_query("delete_devices=maybe").is_err());
        assert!(delete_query("other=1").is_err());
    }
}
