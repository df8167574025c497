//! The representation of SuperOffice's current principal (seed 002): the carriers, their role
//! texts and dates, in JSON and in XML.

use super::*;
use accountd_domain::level::UserLevel;
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::License;
use accountd_domain::user::Timestamp;
use accountd_service::dialects::{Directory, function_rights};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The name, type and description of the role of a user level.
pub(crate) struct RoleText {
    pub(crate) id: i64,
    pub(crate) name: &'static str,
    pub(crate) user_type: &'static str,
    pub(crate) role_type: &'static str,
    pub(crate) description: &'static str,
}

pub(crate) fn role_text(level: UserLevel, language: Language) -> RoleText {
    use Language::{English as En, Swedish as Sv};
    let (name, description) = match (level, language) {
        (UserLevel::EndUser, En) => ("End user", "Manages their own profile, password and PIN."),
        (UserLevel::EndUser, Sv) => ("End user", "Hanterar sin egen profil, sitt lösenord och sin PIN-kod."),
        (UserLevel::DepartmentAdmin, En) => (
            "Department administrator",
            "Administers the users of a department and of the departments below it.",
        ),
        (UserLevel::DepartmentAdmin, Sv) => (
            "Department administrator",
            "Administrerar användarna i en avdelning och i avdelningarna under den.",
        ),
        (UserLevel::GroupAdmin, En) => ("Group administrator", "Administers the users of a group."),
        (UserLevel::GroupAdmin, Sv) => ("Group administrator", "Administrerar användarna i en grupp."),
        (UserLevel::TenantAdmin, En) => ("Tenant administrator", "Administers the users of a tenant."),
        (UserLevel::TenantAdmin, Sv) => ("Tenant administrator", "Administrerar användarna i en organisation."),
        (UserLevel::System, En) => ("System administrator", "Administers the whole platform."),
        (UserLevel::System, Sv) => ("System administrator", "Administrerar hela plattformen."),
    };
    let (user_type, role_type) = match level {
        UserLevel::System => ("SystemAssociate", "SystemUser"),
        _ => ("InternalAssociate", "Employee"),
    };
    RoleText {
        id: i64::from(level.as_u8()),
        name,
        user_type,
        role_type,
        description,
    }
}

/// What SuperOffice shows for a date that is not set (.NET's `DateTime.MinValue`).
pub const NO_DATE: &str = "0001-01-01T00:00:00";

/// ISO 8601 with seven fractional digits and the zone's offset, as .NET writes a `DateTimeOffset`:
/// `2005-02-09T02:30:53.1786436+01:00`.
pub fn so_date_time(time: Timestamp, zone: Tz) -> String {
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(time.as_millis()) else {
        return NO_DATE.to_owned();
    };
    let local = utc.with_timezone(&zone);
    format!(
        "{}.{:07}{}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        local.timestamp_subsec_nanos() / 100,
        local.format("%:z")
    )
}

// ---------------------------------------------------------------------------------------------
// The carrier

/// One entry of `FieldProperties` (never filled: accountd keeps no field rights on licences).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct FieldProperty {
    #[serde(rename = "FieldRight")]
    pub field_right: Option<String>,
    #[serde(rename = "FieldType")]
    pub field_type: String,
    #[serde(rename = "FieldLength")]
    pub field_length: i64,
}

/// A licence of the caller's tenant, as seed 002's `Licenses` items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseCarrier {
    #[serde(rename = "OwnerId")]
    pub owner_id: i64,
    #[serde(rename = "OwnerName")]
    pub owner_name: String,
    #[serde(rename = "OwnerDescription")]
    pub owner_description: String,
    #[serde(rename = "ModuleId")]
    pub module_id: i64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "LicenseType")]
    pub license_type: String,
    #[serde(rename = "ExtraFlags")]
    pub extra_flags: i64,
    #[serde(rename = "ExtraInfo")]
    pub extra_info: String,
    #[serde(rename = "SortOrder")]
    pub sort_order: i64,
    #[serde(rename = "LicenseNumber")]
    pub license_number: i64,
    #[serde(rename = "IsHidden")]
    pub is_hidden: bool,
    #[serde(rename = "IsUnrestricted")]
    pub is_unrestricted: bool,
    #[serde(rename = "ExpiryDate")]
    pub expiry_date: String,
    #[serde(rename = "TableRight")]
    pub table_right: Option<String>,
    #[serde(rename = "FieldProperties")]
    pub field_properties: BTreeMap<String, FieldProperty>,
}

impl LicenseCarrier {
    pub(crate) fn of(license: &License, zone: Tz) -> Self {
        Self {
            owner_id: 0,
            owner_name: license.owner_name.to_string(),
            owner_description: license.owner_description.to_string(),
            module_id: license.module_id,
            name: license.name.to_string(),
            description: license.description.to_string(),
            version: license.version.to_string(),
            license_type: license.license_type.to_string(),
            extra_flags: license.extra_flags,
            extra_info: license.extra_info.to_string(),
            sort_order: license.sort_order,
            license_number: license.license_number,
            is_hidden: license.hidden,
            is_unrestricted: license.unrestricted,
            expiry_date: license
                .expires_at
                .map_or_else(|| NO_DATE.to_owned(), |t| so_date_time(t, zone)),
            table_right: None,
            field_properties: BTreeMap::new(),
        }
    }
}

/// How this request authenticated, as seed 002's `ProvidedCredentials` items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialCarrier {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(rename = "SearchName")]
    pub search_name: String,
    #[serde(rename = "DisplayName")]
    pub display_name: String,
    #[serde(rename = "CredentialId")]
    pub credential_id: i64,
}

/// The credential type SuperOffice clients see for an authentication method.
pub fn credential_type(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Basic => "Password",
        AuthMethod::SoTicket => "Ticket",
        AuthMethod::Session => "Session",
        AuthMethod::ApiToken => "ApiToken",
        AuthMethod::Sso => "SingleSignOn",
    }
}

/// Seed 002's `SoPrincipalCarrier`, every member in the seed's order and spelling.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SoPrincipalCarrier {
    #[serde(rename = "UserType")]
    pub user_type: &'static str,
    #[serde(rename = "Associate")]
    pub associate: String,
    #[serde(rename = "AssociateId")]
    pub associate_id: i64,
    #[serde(rename = "IsPerson")]
    pub is_person: bool,
    #[serde(rename = "PersonId")]
    pub person_id: i64,
    #[serde(rename = "CountryId")]
    pub country_id: i64,
    #[serde(rename = "HomeCountryId")]
    pub home_country_id: i64,
    #[serde(rename = "ContactId")]
    pub contact_id: i64,
    #[serde(rename = "GroupId")]
    pub group_id: i64,
    #[serde(rename = "BusinessId")]
    pub business_id: i64,
    #[serde(rename = "CategoryId")]
    pub category_id: i64,
    #[serde(rename = "ContactOwner")]
    pub contact_owner: i64,
    #[serde(rename = "RoleId")]
    pub role_id: i64,
    #[serde(rename = "RoleName")]
    pub role_name: &'static str,
    #[serde(rename = "RoleDescription")]
    pub role_description: &'static str,
    #[serde(rename = "RoleType")]
    pub role_type: &'static str,
    #[serde(rename = "Licenses")]
    pub licenses: Vec<LicenseCarrier>,
    #[serde(rename = "FullName")]
    pub full_name: String,
    #[serde(rename = "EMailAddress")]
    pub email_address: String,
    #[serde(rename = "FunctionRights")]
    pub function_rights: Vec<String>,
    #[serde(rename = "EjUserId")]
    pub ej_user_id: i64,
    #[serde(rename = "EjAccessLevel")]
    pub ej_access_level: i64,
    #[serde(rename = "EjUserStatus")]
    pub ej_user_status: String,
    #[serde(rename = "ProvidedCredentials")]
    pub provided_credentials: Vec<CredentialCarrier>,
    #[serde(rename = "SecondaryGroups")]
    pub secondary_groups: Vec<i64>,
    #[serde(rename = "DatabaseContextIdentifier")]
    pub database_context_identifier: String,
    #[serde(rename = "UserName")]
    pub user_name: String,
}

impl SoPrincipalCarrier {
    /// The caller of this request, its directory, in `language` and `zone`.
    pub fn of(
        principal: &Principal,
        directory: &Directory,
        config: &SuperOfficeConfig,
        language: Language,
        zone: Tz,
    ) -> Self {
        let user = &principal.user;
        let role = role_text(user.level(), language);
        let key = user.key.0;
        Self {
            user_type: role.user_type,
            associate: user.username.to_string(),
            associate_id: key,
            is_person: true,
            person_id: key,
            country_id: 0,
            home_country_id: 0,
            contact_id: directory.tenant.as_ref().map_or(0, |t| t.key),
            group_id: directory.group.as_ref().map_or(0, |g| g.key),
            business_id: 0,
            category_id: 0,
            contact_owner: 0,
            role_id: role.id,
            role_name: role.name,
            role_description: role.description,
            role_type: role.role_type,
            licenses: directory.licenses.iter().map(|l| LicenseCarrier::of(l, zone)).collect(),
            full_name: user.profile.full_name(),
            email_address: user.profile.email.as_ref().map(ToString::to_string).unwrap_or_default(),
            function_rights: function_rights(user),
            ej_user_id: 0,
            ej_access_level: 0,
            ej_user_status: String::new(),
            provided_credentials: vec![CredentialCarrier {
                kind: credential_type(principal.auth),
                search_name: user.username.to_string(),
                display_name: user.profile.full_name(),
                credential_id: key,
            }],
            secondary_groups: directory.secondary_groups.clone(),
            database_context_identifier: config.database_context_identifier.clone(),
            user_name: user.username.to_string(),
        }
    }

    /// The same members as XML elements under `<SoPrincipalCarrier>`; array items are
    /// `<LicenseInfo>`, `<string>`, `<CredentialInfo>` and `<int>`, `null` is `i:nil="true"`.
    pub fn to_xml(&self) -> String {
        let mut x = Xml::default();
        x.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        x.raw("<SoPrincipalCarrier xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">");
        x.text("UserType", self.user_type);
        x.text("Associate", &self.associate);
        x.num("AssociateId", self.associate_id);
        x.flag("IsPerson", self.is_person);
        x.num("PersonId", self.person_id);
        x.num("CountryId", self.country_id);
        x.num("HomeCountryId", self.home_country_id);
        x.num("ContactId", self.contact_id);
        x.num("GroupId", self.group_id);
        x.num("BusinessId", self.business_id);
        x.num("CategoryId", self.category_id);
        x.num("ContactOwner", self.contact_owner);
        x.num("RoleId", self.role_id);
        x.text("RoleName", self.role_name);
        x.text("RoleDescription", self.role_description);
        x.text("RoleType", self.role_type);
        x.raw("<Licenses>");
        for l in &self.licenses {
            x.raw("<LicenseInfo>");
            x.num("OwnerId", l.owner_id);
            x.text("OwnerName", &l.owner_name);
            x.text("OwnerDescription", &l.owner_description);
            x.num("ModuleId", l.module_id);
            x.text("Name", &l.name);
            x.text("Description", &l.description);
            x.text("Version", &l.version);
            x.text("LicenseType", &l.license_type);
            x.num("ExtraFlags", l.extra_flags);
            x.text("ExtraInfo", &l.extra_info);
            x.num("SortOrder", l.sort_order);
            x.num("LicenseNumber", l.license_number);
            x.flag("IsHidden", l.is_hidden);
            x.flag("IsUnrestricted", l.is_unrestricted);
            x.text("ExpiryDate", &l.expiry_date);
            x.optional("TableRight", l.table_right.as_deref());
            x.raw("<FieldProperties>");
            for (name, p) in &l.field_properties {
                x.raw("<FieldProperty>");
                x.text("Key", name);
                x.optional("FieldRight", p.field_right.as_deref());
                x.text("FieldType", &p.field_type);
                x.num("FieldLength", p.field_length);
                x.raw("</FieldProperty>");
            }
            x.raw("</FieldProperties>");
            x.raw("</LicenseInfo>");
        }
        x.raw("</Licenses>");
        x.text("FullName", &self.full_name);
        x.text("EMailAddress", &self.email_address);
        x.raw("<FunctionRights>");
        for right in &self.function_rights {
            x.text("string", right);
        }
        x.raw("</FunctionRights>");
        x.num("EjUserId", self.ej_user_id);
        x.num("EjAccessLevel", self.ej_access_level);
        x.text("EjUserStatus", &self.ej_user_status);
        x.raw("<ProvidedCredentials>");
        for c in &self.provided_credentials {
            x.raw("<CredentialInfo>");
            x.text("Type", c.kind);
            x.text("SearchName", &c.search_name);
            x.text("DisplayName", &c.display_name);
            x.num("CredentialId", c.credential_id);
            x.raw("</CredentialInfo>");
        }
        x.raw("</ProvidedCredentials>");
        x.raw("<SecondaryGroups>");
        for g in &self.secondary_groups {
            x.num("int", *g);
        }
        x.raw("</SecondaryGroups>");
        x.text("DatabaseContextIdentifier", &self.database_context_identifier);
        x.text("UserName", &self.user_name);
        x.raw("</SoPrincipalCarrier>");
        x.0
    }
}
