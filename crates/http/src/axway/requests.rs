//! The request bodies of Axway's current user (seed 003): the profile update (its full name split
//! back into APIO's first and last names) and the password form.

use super::*;
use crate::error::{ApiError, Collect};
use crate::secret::Secret;
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name, PhoneNumber, Text};
use accountd_domain::user::{ProfileChange, User};
use accountd_domain::{InvalidValue, Problem as Invalid};

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

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
pub(crate) enum NameSplit<'a> {
    /// The name ends with the surname: the rest is the first name.
    First(&'a str),
    /// A new full name with the surname unchanged: split at the last space.
    FirstAndLast(&'a str, &'a str),
}

/// `name` is "First Last". When it ends with " `surname`", the rest is the first name. Otherwise,
/// unless the body also changed the surname (which then must end the name), its last word becomes
/// the last name and the words before it the first name.
pub(crate) fn split_full_name<'a>(
    name: &'a str,
    surname: &str,
    surname_changed: bool,
) -> Result<NameSplit<'a>, InvalidValue> {
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
pub(crate) fn axway_member(apio: &'static str) -> &'static str {
    match apio {
        "phoneNumber" => "phone",
        "emailAddress" => "email",
        "firstName" => "name",
        "lastName" => "surname",
        other => other,
    }
}

/// The `changepassword` form.
// The passwords are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordForm {
    #[serde(rename = "oldPassword")]
    #[schema(value_type = String, required = true, min_length = 1)]
    pub(crate) old_password: Option<Secret<Password>>,
    #[serde(rename = "newPassword")]
    #[schema(value_type = String, required = true, min_length = 1)]
    pub(crate) new_password: Option<Secret<Password>>,
    /// Seed 003 lists an `id` path parameter, but the path has none: accepted here and ignored.
    #[serde(rename = "id")]
    pub(crate) _id: Option<String>,
}

pub(crate) fn password_field(field: &'static str, value: Option<Secret<Password>>) -> Result<Password, InvalidValue> {
    value.ok_or(InvalidValue::new(field, Invalid::Empty))?.named(field)
}
