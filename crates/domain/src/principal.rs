//! Who is calling: the authenticated user, and how they authenticated. The `ids` of seed 000 are a
//! projection of it ("only ids relevant for the type of user are returned").

use crate::ids::{GroupId, TenantId, UserId};
use crate::level::Role;
use crate::secret::TokenDigest;
use crate::user::{Timestamp, User};
use serde::{Deserialize, Serialize};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMethod {
    /// The `sessionid` cookie (with the XSRF token on unsafe methods).
    Session,
    /// A session id presented as `Authorization: SoTicket …` (SuperOffice).
    SoTicket,
    /// `Authorization: Basic`.
    Basic,
    /// `Authorization: Bearer` with an API token.
    ApiToken,
    /// A signed token from an external identity provider (SSO_LOGIN_DEDICATED).
    Sso,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Session => "session",
            AuthMethod::SoTicket => "soticket",
            AuthMethod::Basic => "basic",
            AuthMethod::ApiToken => "api_token",
            AuthMethod::Sso => "sso",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Session, Self::SoTicket, Self::Basic, Self::ApiToken, Self::Sso]
            .into_iter()
            .find(|m| m.as_str() == value)
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub auth: AuthMethod,
    /// The session the request came with, if any (kept when the user's other sessions are ended).
    pub session: Option<TokenDigest>,
    /// When this caller last proved a password or second factor: the session's last proof, the
    /// request itself for HTTP Basic, `None` for API and identity-provider tokens (which prove
    /// neither). Sensitive changes need a recent one (`security.reauth_max_age_seconds`).
    pub proved_at: Option<Timestamp>,
    /// A session of a user who must enroll a second factor (`mfa.required_levels`) and has none
    /// yet: it may read its own account and enroll, nothing else.
    pub enrollment_only: bool,
    /// An API token of scope `read`: safe methods only (the HTTP layer refuses the others).
    pub read_only: bool,
    /// The user reported an event as not theirs and has not changed their password since: this
    /// session (or HTTP Basic caller) may only change it, read who it is, and sign out.
    pub password_change_only: bool,
    /// The store generation ([`crate::ports::Store::generation`]) as of which the rows that
    /// admitted this caller were current, where known: the request's further hot reads (the
    /// user's directory) may answer from what was remembered under it, as fresh as the
    /// authentication itself. `None`: unknown, read afresh.
    pub read_under: Option<u64>,
}

impl Principal {
    pub fn ids(&self) -> Ids {
        Ids::of(&self.user.role)
    }
}

/// Seed 000's `ids`: the ids a client needs to build further URLs, only those the level has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ids {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

impl Ids {
    /// System: none. Tenant admin: tenant. Group and department admins: tenant and group.
    /// End user: tenant, group and user.
    pub fn of(role: &Role) -> Ids {
        match role {
            Role::System => Ids::default(),
            Role::TenantAdmin { tenant } => Ids {
                tenant_id: Some(tenant.clone()),
                ..Ids::default()
            },
            Role::GroupAdmin { member } | Role::DepartmentAdmin { member, .. } => Ids {
                tenant_id: Some(member.tenant.clone()),
                group_id: Some(member.group.clone()),
                user_id: None,
            },
            Role::EndUser { member } => Ids {
                tenant_id: Some(member.tenant.clone()),
                group_id: Some(member.group.clone()),
                user_id: Some(member.user.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DepartmentName;
    use crate::level::GroupMember;

    fn member() -> GroupMember {
        GroupMember {
            tenant: TenantId::parse("Pie").unwrap(),
            group: GroupId::parse("PieGroup").unwrap(),
            user: UserId::parse("u1").unwrap(),
        }
    }

    #[test]
    fn ids_follow_the_level() {
        let json = |role: Role| serde_json::to_string(&Ids::of(&role)).unwrap();
        assert_eq!(json(Role::System), "{}");
        assert_eq!(
            json(Role::TenantAdmin {
                tenant: TenantId::parse("Pie").unwrap()
            }),
            r#"{"tenant_id":"Pie"}"#
        );
        assert_eq!(
            json(Role::GroupAdmin { member: member() }),
            r#"{"tenant_id":"Pie","group_id":"PieGroup"}"#
        );
        assert_eq!(
            json(Role::DepartmentAdmin {
                member: member(),
                department: DepartmentName::parse("d").unwrap()
            }),
            r#"{"tenant_id":"Pie","group_id":"PieGroup"}"#
        );
        assert_eq!(
            json(Role::EndUser { member: member() }),
            r#"{"tenant_id":"Pie","group_id":"PieGroup","user_id":"u1"}"#
        );
    }

    #[test]
    fn auth_methods_round_trip() {
        for m in [
            AuthMethod::Session,
            AuthMethod::SoTicket,
            AuthMethod::Basic,
            AuthMethod::ApiToken,
            AuthMethod::Sso,
        ] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn a_principal_has_the_ids_of_its_role() {
        let mut user = crate::testing::TestUser::new(1, Role::EndUser { member: member() }).build();
        let principal = Principal {
            user: user.clone(),
            auth: AuthMethod::Session,
            session: None,
            proved_at: None,
            enrollment_only: false,
            password_change_only: false,
            read_only: false,
            read_under: None,
        };
        assert_eq!(principal.ids(), Ids::of(&user.role));
        assert_eq!(principal.ids().user_id.map(|u| u.to_string()), Some("u1".to_owned()));
        user.role = Role::System;
        assert_eq!(Principal { user, ..principal }.ids(), Ids::default());
    }
}
