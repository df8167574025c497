//! The representation of Axway's current user (seed 003), and the organization and role it shows.

use accountd_domain::level::{Role, UserLevel};
use accountd_domain::user::User;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Namespace of the `organizationId`s: UUID v5 of `urn:accountd:organization` in the URL namespace.
pub(crate) fn organization_namespace() -> Uuid {
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
