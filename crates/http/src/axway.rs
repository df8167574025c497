//! The Axway dialect: the API Portal's current user (seed 003). `GET`/`PUT
//! /api/portal/v1.3/currentuser/` read and change the caller as an Axway `User`;
//! `POST …/currentuser/changepassword` changes their password from a form.
//!
//! A `PUT` carries the whole `User` back (clients PUT what they GET): members whose value is the
//! current one are no change; changing a member the caller can't change about themself (`id`,
//! `organizationId`, `loginName`, `role`, `enabled`, `state`, `createdOn`, `type`, `authAttrs`, `dn`)
//! is 403 naming each one, and nothing is changed. How every member maps to the model is in
//! `docs/dialects.md`.

use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::responses as problem;
use crate::error::{ApiError, Collect};
use crate::json::Json;
use crate::secret::Secret;
use crate::{AppState, resource};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name, PhoneNumber, Text};
use accountd_domain::user::{ProfileChange, User};
use accountd_domain::{InvalidValue, Problem as Invalid};
use accountd_service::ServiceError;
use accountd_service::profile::{Actor, read_only_members};

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";
pub const CHANGE_PASSWORD: &str = "/api/portal/v1.3/currentuser/changepassword";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    // The seed's paths, and the same without (or with) the trailing slash, which clients vary on.
    for path in [CURRENT_USER, CURRENT_USER.trim_end_matches('/')] {
        cfg.service(
            resource(path)
                .route(web::get().to(get_current_user::<S>))
                .route(web::put().to(put_current_user::<S>)),
        );
    }
    for path in [CHANGE_PASSWORD.to_owned(), format!("{CHANGE_PASSWORD}/")] {
        cfg.service(resource(&path).route(web::post().to(change_password::<S>)));
    }
}

/// Namespace of the `organizationId`s: UUID v5 of `urn:accountd:organization` in the URL namespace.
fn organization_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:accountd:organization")
}

/// A user's Axway organization: UUID v5 of `tenant:<tenant id>` in `organization_namespace()`, so
/// every user of a tenant shares it and it never changes; System users, who belong to no tenant,
/// share the platform's (`platform`).
pub fn organization_id(role: &Role) -> Uuid {
    let name = match role.tenant() {
        Some(tenant) => format!("tenant:{tenant}"),
        None => "platform".to_owned(),
    };
    Uuid::new_v5(&organization_namespace(), name.as_bytes())
}

/// Axway's role of a user level: end users are `user`, department, group and tenant administrators
/// are organization administrators (`oadmin`), System is the portal's `admin`.
pub fn axway_role(level: UserLevel) -> &'static str {
    match level {
        UserLevel::EndUser => "user",
        UserLevel::DepartmentAdmin | UserLevel::GroupAdmin | UserLevel::TenantAdmin => "oadmin",
        UserLevel::System => "admin",
    }
}

/// Seed 003's `User`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AxwayUser {
    pub id: Uuid,
    #[serde(rename = "organizationId")]
    pub organization_id: Uuid,
    /// The full name, "First Last".
    pub name: String,
    pub description: String,
    #[serde(rename = "loginName")]
    pub login_name: String,
    /// `null` when the user has no address.
    pub email: Option<String>,
    /// The telephony number (APIO `phoneNumber`), which only administrators change.
    pub phone: String,
    pub mobile: String,
    pub role: &'static str,
    pub image: String,
    pub enabled: bool,
    #[serde(rename = "createdOn")]
    pub created_on: i64,
    pub state: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Always `null`: accountd keeps no external authentication attributes.
    #[serde(rename = "authAttrs")]
    pub auth_attrs: Option<serde_json::Value>,
    /// The last name.
    pub surname: String,
    /// Always `null`: accountd users have no LDAP distinguished name.
    pub dn: Option<String>,
}

impl AxwayUser {
    pub fn of(user: &User) -> Self {
        let p = &user.profile;
        Self {
            id: user.uuid,
            organization_id: organization_id(&user.role),
            name: p.full_name(),
            description: p.description.to_string(),
            login_name: user.username.to_string(),
            email: p.email.as_ref().map(ToString::to_string),
            phone: p.phone_number.to_string(),
            mobile: p.mobile.to_string(),
            role: axway_role(user.level()),
            image: p.image.to_string(),
            enabled: user.enabled,
            created_on: user.created_at.as_millis(),
            state: user.state.as_str(),
            kind: user.account_type.as_str(),
            auth_attrs: None,
            surname: p.last_name.to_string(),
            dn: None,
        }
    }
}

/// `PUT` body: seed 003's `User`. Every member is optional; `null` (or absent) keeps a member as it
/// is, except `authAttrs` and `dn`, which must be `null` or absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AxwayUserUpdate {
    pub id: Option<Uuid>,
    #[serde(rename = "organizationId")]
    pub organization_id: Option<Uuid>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "loginName")]
    pub login_name: Option<String>,
    /// `""` removes the address.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub role: Option<String>,
    pub image: Option<String>,
    pub enabled: Option<bool>,
    #[serde(rename = "createdOn")]
    pub created_on: Option<i64>,
    pub state: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "authAttrs")]
    pub auth_attrs: Option<serde_json::Value>,
    pub surname: Option<String>,
    pub dn: Option<serde_json::Value>,
}

impl AxwayUserUpdate {
    /// The members this body would change although the caller can't change them about themself:
    /// those whose value differs from `current`'s.
    pub fn read_only_changes(&self, current: &User) -> Vec<&'static str> {
        let now = AxwayUser::of(current);
        let differs = |given: Option<bool>| given.unwrap_or(false);
        [
            ("id", differs(self.id.map(|v| v != now.id))),
            (
                "organizationId",
                differs(self.organization_id.map(|v| v != now.organization_id)),
            ),
            (
                "loginName",
                differs(self.login_name.as_ref().map(|v| *v != now.login_name)),
            ),
            ("role", differs(self.role.as_ref().map(|v| v != now.role))),
            ("enabled", differs(self.enabled.map(|v| v != now.enabled))),
            ("createdOn", differs(self.created_on.map(|v| v != now.created_on))),
            ("state", differs(self.state.as_ref().map(|v| v != now.state))),
            ("type", differs(self.kind.as_ref().map(|v| v != now.kind))),
            ("authAttrs", self.auth_attrs.is_some()),
            ("dn", self.dn.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect()
    }

    /// The profile change this body asks of `current`: only the members whose value differs, each
    /// through its domain constructor, every invalid one reported at once.
    pub fn into_change(self, current: &User) -> Result<ProfileChange, ApiError> {
        let p = &current.profile;
        let mut invalid = Collect::default();
        let mut change = ProfileChange::default();

        let new_surname = self.surname.filter(|s| s != p.last_name.as_str());
        if let Some(surname) = &new_surname {
            change.last_name = invalid.take(Name::parse_for("surname", surname.trim()));
        }
        if let Some(name) = self.name.filter(|n| *n != p.full_name()) {
            let surname = new_surname.as_deref().unwrap_or(p.last_name.as_str());
            match invalid.take(split_full_name(&name, surname, new_surname.is_some())) {
                Some(NameSplit::First(first)) => change.first_name = invalid.take(Name::parse_for("name", first)),
                Some(NameSplit::FirstAndLast(first, last)) => {
                    change.first_name = invalid.take(Name::parse_for("name", first));
                    change.last_name = invalid.take(Name::parse_for("name", last));
                }
                None => {}
            }
        }
        if let Some(v) = self.description.filter(|v| v != p.description.as_str()) {
            change.description = invalid.take(Text::parse_for("description", v));
        }
        let current_email = p.email.as_ref().map_or("", |e| e.as_str());
        if let Some(v) = self.email.filter(|v| v != current_email) {
            change.email = if v.is_empty() {
                Some(None)
            } else {
                invalid.take(EmailAddress::parse_for("email", v)).map(Some)
            };
        }
        if let Some(v) = self.phone.filter(|v| v != p.phone_number.as_str()) {
            change.phone_number = invalid.take(PhoneNumber::parse_for("phone", v));
        }
        if let Some(v) = self.mobile.filter(|v| v != p.mobile.as_str()) {
            change.mobile = invalid.take(PhoneNumber::parse_for("mobile", v));
        }
        if let Some(v) = self.image.filter(|v| v != p.image.as_str()) {
            change.image = invalid.take(Text::parse_for("image", v));
        }
        invalid.finish()?;
        Ok(change)
    }
}

/// How an Axway full name maps onto first and last name.
#[derive(Debug, PartialEq, Eq)]
enum NameSplit<'a> {
    /// The name ends with the surname: the rest is the first name.
    First(&'a str),
    /// A new full name with the surname unchanged: split at the last space.
    FirstAndLast(&'a str, &'a str),
}

/// `name` is "First Last". When it ends with " `surname`", the rest is the first name. Otherwise,
/// unless the body also changed the surname (which then must end the name), its last word becomes
/// the last name and the words before it the first name.
fn split_full_name<'a>(name: &'a str, surname: &str, surname_changed: bool) -> Result<NameSplit<'a>, InvalidValue> {
    let name = name.trim();
    if let Some(first) = name.strip_suffix(surname).and_then(|rest| rest.strip_suffix(' '))
        && !first.trim().is_empty()
    {
        return Ok(NameSplit::First(first.trim()));
    }
    if surname_changed {
        return Err(InvalidValue::new(
            "name",
            Invalid::Format("the full name, ending with the surname"),
        ));
    }
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) if !first.trim().is_empty() && !last.is_empty() => {
            Ok(NameSplit::FirstAndLast(first.trim(), last))
        }
        _ => Err(InvalidValue::new(
            "name",
            Invalid::Format("a full name: first name and last name"),
        )),
    }
}

/// Axway's name of a profile member, by its seed 001 name (the service names refusals that way).
fn axway_member(apio: &'static str) -> &'static str {
    match apio {
        "phoneNumber" => "phone",
        "emailAddress" => "email",
        "firstName" => "name",
        "lastName" => "surname",
        other => other,
    }
}

#[utoipa::path(get, path = "/api/portal/v1.3/currentuser/", tag = "axway", operation_id = "axway_get_current_user",
    summary = "The caller as an Axway portal User (also without the trailing slash)",
    responses(
        (status = 200, description = "The caller", body = AxwayUser),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_current_user<S: Store>(caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AxwayUser::of(&caller.principal.user)))
}

#[utoipa::path(put, path = "/api/portal/v1.3/currentuser/", tag = "axway", operation_id = "axway_put_current_user",
    summary = "Change the caller's name, email, mobile, description or image (also without the trailing slash)",
    request_body(content = AxwayUserUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated caller", body = AxwayUser),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn put_current_user<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<AxwayUserUpdate>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let body = body.into_inner();
    let mut read_only = body.read_only_changes(&principal.user);
    let change = body.into_change(&principal.user)?;
    if !read_only.is_empty() {
        // Name every refused member at once: the account's, and the profile's by the one rule.
        read_only.extend(read_only_members(
            Actor::Caller(&principal),
            &principal.user,
            &change,
            None,
        ));
        return Err(ServiceError::ReadOnly(read_only.into_iter().map(axway_member).collect()).into());
    }
    let services = state.services.clone();
    let updated =
        blocking(move || services.update_profile(Actor::Caller(&principal), principal.user.key, None, &change, &ctx))
            .await
            .map_err(|err| match err {
                ApiError::Service(ServiceError::ReadOnly(fields)) => {
                    ServiceError::ReadOnly(fields.into_iter().map(axway_member).collect()).into()
                }
                other => other,
            })?;
    Ok(HttpResponse::Ok().json(AxwayUser::of(&updated)))
}

/// The `changepassword` form.
// The passwords are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordForm {
    #[serde(rename = "oldPassword")]
    #[schema(value_type = String, required = true, min_length = 1)]
    old_password: Option<Secret<Password>>,
    #[serde(rename = "newPassword")]
    #[schema(value_type = String, required = true, min_length = 1)]
    new_password: Option<Secret<Password>>,
    /// Seed 003 lists an `id` path parameter, but the path has none: accepted here and ignored.
    #[serde(rename = "id")]
    _id: Option<String>,
}

fn password_field(field: &'static str, value: Option<Secret<Password>>) -> Result<Password, InvalidValue> {
    value.ok_or(InvalidValue::new(field, Invalid::Empty))?.named(field)
}

#[utoipa::path(post, path = "/api/portal/v1.3/currentuser/changepassword", tag = "axway", operation_id = "axway_change_password",
    summary = "Change the caller's password (also with a trailing slash)",
    request_body(content = ChangePasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 204, description = "Changed"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn change_password<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    form: web::Form<ChangePasswordForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let (old, new) = crate::error::both(
        password_field("oldPassword", form.old_password),
        password_field("newPassword", form.new_password),
    )?;
    let services = state.services.clone();
    let principal = caller.principal;
    blocking(move || services.change_password(Actor::Caller(&principal), principal.user.key, Some(&old), &new, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::ids::{GroupId, TenantId, UserId, UserKey, Username};
    use accountd_domain::level::GroupMember;
    use accountd_domain::user::{AccountState, AccountType, Profile, Timestamp, Version};

    fn jbloggs() -> User {
        let mut profile = Profile::named(
            Name::parse_for("f", "New").unwrap(),
            Name::parse_for("l", "User").unwrap(),
        );
        profile.email = Some(EmailAddress::parse_for("e", "jbloggs@acmecorp.com").unwrap());
        profile.phone_number = PhoneNumber::parse_for("p", "+353 (1) 6742000").unwrap();
        User {
            key: UserKey(7),
            uuid: Uuid::new_v4(),
            username: Username::parse("jbloggs").unwrap(),
            role: Role::EndUser {
                member: GroupMember {
                    tenant: TenantId::parse("AcmeCorp").unwrap(),
                    group: GroupId::parse("AcmeGroup").unwrap(),
                    user: UserId::parse("jbloggs").unwrap(),
                },
            },
            profile,
            enabled: true,
            state: AccountState::Approved,
            account_type: AccountType::Internal,
            created_at: Timestamp::from_millis(1_367_337_125_476),
            updated_at: Timestamp::from_millis(1_367_337_125_476),
            version: Version::FIRST,
        }
    }

    fn echo(user: &User) -> AxwayUserUpdate {
        serde_json::from_value(serde_json::to_value(AxwayUser::of(user)).unwrap()).unwrap()
    }

    #[test]
    fn the_get_body_put_back_changes_nothing() {
        let user = jbloggs();
        let body = echo(&user);
        assert!(body.read_only_changes(&user).is_empty());
        assert!(body.into_change(&user).unwrap().is_empty());
    }

    #[test]
    fn read_only_members_are_named_when_changed() {
        let user = jbloggs();
        let mut body = echo(&user);
        body.role = Some("admin".into());
        body.enabled = Some(false);
        body.login_name = Some("other".into());
        body.dn = Some(serde_json::json!("cn=x"));
        assert_eq!(body.read_only_changes(&user), ["loginName", "role", "enabled", "dn"]);
    }

    #[test]
    fn organizations_are_stable_per_tenant() {
        let user = jbloggs();
        assert_eq!(organization_id(&user.role), organization_id(&user.role));
        assert_eq!(organization_id(&user.role).get_version_num(), 5);
        assert_ne!(
            organization_id(&user.role),
            organization_id(&Role::TenantAdmin {
                tenant: TenantId::parse("Other").unwrap()
            })
        );
        assert_eq!(
            organization_id(&user.role),
            organization_id(&Role::TenantAdmin {
                tenant: TenantId::parse("AcmeCorp").unwrap()
            })
        );
        assert_ne!(organization_id(&Role::System), organization_id(&user.role));
    }

    #[test]
    fn full_names_split_on_the_surname() {
        assert_eq!(
            split_full_name("Jane User", "User", false),
            Ok(NameSplit::First("Jane"))
        );
        assert_eq!(
            split_full_name("Mary Ann User", "User", true),
            Ok(NameSplit::First("Mary Ann"))
        );
        assert_eq!(
            split_full_name("Jane Roe", "User", false),
            Ok(NameSplit::FirstAndLast("Jane", "Roe"))
        );
        assert!(split_full_name("Jane Roe", "Smith", true).is_err());
        assert!(split_full_name("Cher", "User", false).is_err());
        assert!(split_full_name("User", "User", false).is_err());
    }

    #[test]
    fn changes_carry_only_what_differs_and_every_invalid_member() {
        let user = jbloggs();
        let mut body = echo(&user);
        body.name = Some("Jane Roe".into());
        body.mobile = Some("+32 2 000".into());
        let change = body.into_change(&user).unwrap();
        assert_eq!(change.first_name.as_ref().map(Name::as_str), Some("Jane"));
        assert_eq!(change.last_name.as_ref().map(Name::as_str), Some("Roe"));
        assert_eq!(change.mobile.as_ref().map(PhoneNumber::as_str), Some("+32 2 000"));
        assert!(change.phone_number.is_none() && change.email.is_none());

        let mut body = echo(&user);
        body.email = Some("not-an-address".into());
        body.mobile = Some("call me".into());
        body.image = Some("a\nb".into());
        let Err(ApiError::Service(accountd_service::ServiceError::Invalid(errors))) = body.into_change(&user) else {
            panic!("expected every invalid member");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "mobile", "image"]);

        let mut body = echo(&user);
        body.email = Some(String::new());
        assert_eq!(body.into_change(&user).unwrap().email, Some(None));
    }

    #[test]
    fn roles() {
        assert_eq!(axway_role(UserLevel::EndUser), "user");
        assert_eq!(axway_role(UserLevel::GroupAdmin), "oadmin");
        assert_eq!(axway_role(UserLevel::System), "admin");
    }

    #[test]
    fn change_password_form_does_not_debug_passwords() {
        // Read as the handler's form is, with serde_urlencoded (here through actix's Query).
        let form = actix_web::web::Query::<ChangePasswordForm>::from_query(
            "oldPassword=Old-Secret-1%21&newPassword=New-Secret-2%21&id=7",
        )
        .unwrap()
        .into_inner();
        let debug = format!("{form:?}");
        assert!(
            !debug.contains("Old-Secret") && !debug.contains("New-Secret"),
            "{debug}"
        );
        let (old, new) = crate::error::both(
            password_field("oldPassword", form.old_password),
            password_field("newPassword", form.new_password),
        )
        .unwrap();
        assert_eq!((old.expose(), new.expose()), ("Old-Secret-1!", "New-Secret-2!"));
        // Missing and empty are both named.
        let form = actix_web::web::Query::<ChangePasswordForm>::from_query("newPassword=")
            .unwrap()
            .into_inner();
        assert_eq!(
            password_field("oldPassword", form.old_password).unwrap_err().field,
            "oldPassword"
        );
        assert_eq!(
            password_field("newPassword", form.new_password).unwrap_err().field,
            "newPassword"
        );
    }
}
