//! The SuperOffice dialect: `GET /api/v1/User/currentPrincipal` (seed 002), the caller as a
//! `SoPrincipalCarrier`, in JSON or XML by `Accept`, its role description and error texts in the
//! language of `SO-Language`/`Accept-Language`, its date-times in the zone of `SO-TimeZone`.
//!
//! Every field's source is in `docs/dialects.md`. Field names and casing are the seed's exactly.

use crate::auth::Caller;
use crate::context::blocking;
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::negotiate::{self, Choice};
use crate::{AppState, resource};
use accountd_domain::level::UserLevel;
use accountd_domain::ports::Store;
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::License;
use accountd_domain::user::Timestamp;
use accountd_service::dialects::{Directory, function_rights};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use utoipa::ToSchema;

/// The seed's path. SuperOffice's routes ignore case, so the two literal segments match in any case;
/// a trailing slash is accepted too.
pub const CURRENT_PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const CURRENT_PRINCIPAL_PATTERN: &str = "/api/v1/{user:(?i:user)}/{principal:(?i:currentprincipal)}";

pub const SO_LANGUAGE: HeaderName = HeaderName::from_static("so-language");
pub const SO_TIME_ZONE: HeaderName = HeaderName::from_static("so-timezone");

/// Settings of the SuperOffice dialect (`[http.superoffice]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuperOfficeConfig {
    /// `DatabaseContextIdentifier` of every principal: the name of this installation's database
    /// context, as SuperOffice clients see it.
    pub database_context_identifier: String,
}

impl Default for SuperOfficeConfig {
    fn default() -> Self {
        Self {
            database_context_identifier: "accountd".into(),
        }
    }
}

/// The methods of the route: ASP.NET answers HEAD wherever it answers GET.
const ALLOWED: &str = "GET, HEAD";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    // ASP.NET's routes also match with a trailing slash. HEAD runs the GET handler: actix sends its
    // headers (Content-Length included) and no body.
    for pattern in [
        CURRENT_PRINCIPAL_PATTERN.to_owned(),
        format!("{CURRENT_PRINCIPAL_PATTERN}/"),
    ] {
        cfg.service(
            resource(&pattern)
                .route(web::get().to(current_principal::<S>))
                .route(web::head().to(current_principal::<S>))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Languages

/// The languages this dialect speaks (role descriptions, error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Swedish,
}

impl Language {
    /// ISO 639-1 codes, in order of preference when a client accepts any (`*`).
    const SUPPORTED: [&'static str; 2] = ["en", "sv"];

    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Swedish => "sv",
        }
    }

    fn from_code(code: &str) -> Self {
        if code == "sv" {
            Language::Swedish
        } else {
            Language::English
        }
    }

    /// `SO-Language` when present (it overrides `Accept-Language`), else `Accept-Language` with its
    /// q-values; English when neither names a language we speak.
    pub fn of(req: &HttpRequest) -> Self {
        let header = |name: &HeaderName| {
            let values: Vec<&str> = req
                .headers()
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let chosen = match header(&SO_LANGUAGE) {
            Some(so) => negotiate::choose_language(&so, &Self::SUPPORTED),
            None => header(&header::ACCEPT_LANGUAGE)
                .and_then(|accept| negotiate::choose_language(&accept, &Self::SUPPORTED)),
        };
        chosen.map_or(Language::English, Self::from_code)
    }
}

/// The name, type and description of the role of a user level.
struct RoleText {
    id: i64,
    name: &'static str,
    user_type: &'static str,
    role_type: &'static str,
    description: &'static str,
}

fn role_text(level: UserLevel, language: Language) -> RoleText {
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

// ---------------------------------------------------------------------------------------------
// Errors in the caller's language

/// `err` as problem+json, its `detail`/`details` in `language` where the error table has the text,
/// with the headers `ApiError` adds (`WWW-Authenticate` with this dialect's `SOTicket` scheme too,
/// `Retry-After`) and `Content-Language`.
fn localized_error(err: &ApiError, language: Language) -> HttpResponse {
    let mut response = err.superoffice_error_response(language == Language::Swedish);
    response
        .headers_mut()
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    response
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut response = localized_error(
        &ApiError::NoRoute {
            status: StatusCode::METHOD_NOT_ALLOWED,
        },
        Language::of(&req),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(ALLOWED));
    response
}

// ---------------------------------------------------------------------------------------------
// Time zones and date-times

/// The zone of `SO-TimeZone`: an IANA name (`Europe/Stockholm`, `CET`, `UTC`) or a Windows zone id
/// (`W. Europe Standard Time`, what .NET clients send), mapped to IANA by CLDR's world-wide
/// default. UTC when absent, and when the code is neither: the read does not fail over a display
/// preference, and every date-time carries its offset (`+00:00`), so the client sees which zone
/// was applied (docs/dialects.md).
fn time_zone(req: &HttpRequest) -> Tz {
    let name = req
        .headers()
        .get(&SO_TIME_ZONE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Tz::UTC;
    }
    if let Ok(zone) = name.parse::<Tz>() {
        return zone;
    }
    match localzone::win_zone_to_iana(name, Some("001")).and_then(|iana| iana.parse::<Tz>().ok()) {
        Some(zone) => zone,
        None => {
            tracing::info!(zone = %name.chars().take(64).collect::<String>(), "unknown SO-TimeZone: dates in UTC");
            Tz::UTC
        }
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
    fn of(license: &License, zone: Tz) -> Self {
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

/// A tiny XML writer: element names are ours (constants), text is escaped.
#[derive(Default)]
struct Xml(String);

impl Xml {
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn text(&mut self, name: &str, value: &str) {
        let _ = write!(self.0, "<{name}>");
        escape_into(&mut self.0, value);
        let _ = write!(self.0, "</{name}>");
    }

    fn num(&mut self, name: &str, value: i64) {
        let _ = write!(self.0, "<{name}>{value}</{name}>");
    }

    fn flag(&mut self, name: &str, value: bool) {
        let _ = write!(self.0, "<{name}>{value}</{name}>");
    }

    fn optional(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.text(name, v),
            None => {
                let _ = write!(self.0, "<{name} i:nil=\"true\"/>");
            }
        }
    }
}

/// Escapes the five XML specials, and replaces characters XML 1.0 can't carry with U+FFFD.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Negotiation and the handler

/// Media types we answer with, in order of preference for a wildcard.
const OFFERED: [&str; 6] = [
    "application/json",
    "text/json",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/xml",
    "text/xml",
];
/// What an `Accept` we can't satisfy gets, unless it refused that explicitly.
const FALLBACKS: [&str; 2] = ["application/json", "application/xml"];

fn is_xml(media: &str) -> bool {
    media.ends_with("/xml")
}

/// The media type to answer with, by `Accept` (q-values honoured); JSON when nothing fits, 406 when
/// the client refused both JSON and XML.
fn representation(req: &HttpRequest) -> Result<&'static str, ApiError> {
    // A header actix can't read at all (not visible ASCII) counts as absent, as no `Accept` does.
    let accept = <header::Accept as header::Header>::parse(req).unwrap_or_else(|_| header::Accept(vec![]));
    let ranges = negotiate::parse_accept(&accept);
    match negotiate::choose(&ranges, &OFFERED, &FALLBACKS) {
        Choice::Preferred(media) | Choice::Fallback(media) => Ok(media),
        Choice::NotAcceptable => Err(ApiError::NotAcceptable),
    }
}

#[utoipa::path(get, path = "/api/v1/User/currentPrincipal", tag = "superoffice", operation_id = "superoffice_current_principal",
    summary = "The caller as a SuperOffice SoPrincipalCarrier (JSON or XML by Accept; path segments match in any case)",
    params(
        ("SO-Language" = Option<String>, Header, description = "Language of texts (`en`, `sv`); overrides Accept-Language"),
        ("SO-TimeZone" = Option<String>, Header, description = "Time zone of dates: an IANA name or a Windows zone id; UTC when absent or unknown"),
        ("Accept-Language" = Option<String>, Header, description = "Language of texts, with q-values"),
    ),
    responses(
        (status = 200, description = "The caller's principal", content(
            (SoPrincipalCarrier = "application/json"),
            (SoPrincipalCarrier = "text/json"),
            (String = "application/xml"),
            (String = "text/xml"),
        )),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotAcceptable,
    ))]
pub(crate) async fn current_principal<S: Store>(
    req: HttpRequest,
    state: web::Data<AppState<S>>,
    caller: Result<Caller<S>, ApiError>,
) -> HttpResponse {
    let language = Language::of(&req);
    match answer(&req, &state, caller, language).await {
        Ok(response) => response,
        Err(err) => localized_error(&err, language),
    }
}

async fn answer<S: Store>(
    req: &HttpRequest,
    state: &web::Data<AppState<S>>,
    caller: Result<Caller<S>, ApiError>,
    language: Language,
) -> Result<HttpResponse, ApiError> {
    let principal = caller?.principal;
    let media = representation(req)?;
    let zone = time_zone(req);
    let services = state.services.clone();
    let user = principal.user.clone();
    let directory = blocking(move || services.directory_of(&user)).await?;
    let carrier = SoPrincipalCarrier::of(&principal, &directory, &state.config.superoffice, language, zone);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, format!("{media}; charset=utf-8")))
        .insert_header((header::CONTENT_LANGUAGE, language.code()))
        .insert_header((header::VARY, "Accept, Accept-Language, SO-Language, SO-TimeZone"));
    Ok(if is_xml(media) {
        response.body(carrier.to_xml())
    } else {
        // Keeps the negotiated Content-Type.
        response.json(&carrier)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::text::Text;
    use accountd_service::ServiceError;
    use actix_web::test::TestRequest;

    fn text(s: &str) -> Text {
        Text::parse_for("t", s).unwrap()
    }

    #[test]
    fn date_times_have_seven_digits_and_the_zone_offset() {
        // 2005-02-09T01:30:53.178Z
        let t = Timestamp::from_millis(1_107_912_653_178);
        assert_eq!(so_date_time(t, Tz::UTC), "2005-02-09T01:30:53.1780000+00:00");
        assert_eq!(
            so_date_time(t, Tz::Europe__Stockholm),
            "2005-02-09T02:30:53.1780000+01:00"
        );
        // Summer time.
        let july = Timestamp::from_millis(1_120_000_000_000);
        assert!(so_date_time(july, Tz::Europe__Stockholm).ends_with("+02:00"));
        assert_eq!(so_date_time(Timestamp::from_millis(i64::MAX), Tz::UTC), NO_DATE);
    }

    #[test]
    fn languages_prefer_so_language() {
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "sv"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::Swedish);
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "sv"))
            .insert_header(("SO-Language", "en"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::English);
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "de, sv;q=0.5"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::Swedish);
        assert_eq!(
            Language::of(&TestRequest::default().to_http_request()),
            Language::English
        );
    }

    #[test]
    fn zones_are_iana_names_or_windows_ids_else_utc() {
        let zone = |value: &str| {
            time_zone(
                &TestRequest::default()
                    .insert_header(("SO-TimeZone", value))
                    .to_http_request(),
            )
        };
        assert_eq!(zone("Europe/Stockholm"), Tz::Europe__Stockholm);
        assert_eq!(zone("CET"), Tz::CET);
        assert_eq!(zone("W. Europe Standard Time"), Tz::Europe__Berlin);
        assert_eq!(zone("Eastern Standard Time"), Tz::America__New_York);
        assert_eq!(zone("Tokyo Standard Time"), Tz::Asia__Tokyo);
        assert_eq!(zone("Mars/Olympus"), Tz::UTC);
        assert_eq!(zone(""), Tz::UTC);
        assert_eq!(time_zone(&TestRequest::default().to_http_request()), Tz::UTC);
    }

    #[test]
    fn xml_escapes_text() {
        let mut out = String::new();
        escape_into(&mut out, "a<b>&\"c'\u{1}");
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}");
    }

    #[test]
    fn licences_without_expiry_show_no_date() {
        let license = License {
            module_id: 1,
            name: text("CRM"),
            description: text("d"),
            owner_name: text("o"),
            owner_description: text("od"),
            version: text("1"),
            license_type: text("SiteLicense"),
            license_number: 1,
            extra_flags: 0,
            extra_info: text(""),
            sort_order: 1,
            hidden: false,
            unrestricted: true,
            expires_at: None,
        };
        let carrier = LicenseCarrier::of(&license, Tz::UTC);
        assert_eq!(carrier.expiry_date, NO_DATE);
        let json = serde_json::to_value(&carrier).unwrap();
        assert!(json["TableRight"].is_null());
        assert_eq!(json["FieldProperties"], serde_json::json!({}));
    }

    #[test]
    fn swedish_errors_keep_status_and_headers() {
        let err = ApiError::Service(ServiceError::Unauthenticated);
        let response = localized_error(&err, Language::Swedish);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(response.headers().get(header::CONTENT_LANGUAGE).unwrap(), "sv");
    }
}
