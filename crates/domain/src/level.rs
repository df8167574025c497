//! User levels as APIO numbers them (integers on the wire), and the role that places a user in the
//! tenant/group tree. The level is derived from the role, so a level and a placement can never disagree.

use crate::error::{InvalidValue, Problem};
use crate::ids::{DepartmentName, GroupId, TenantId, UserId};
use serde::{Deserialize, Serialize};

/// APIO user levels: 0 end user, 4 department admin, 8 group admin, 12 tenant admin, 16 system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum UserLevel {
    EndUser = 0,
    DepartmentAdmin = 4,
    GroupAdmin = 8,
    TenantAdmin = 12,
    System = 16,
}

impl UserLevel {
    pub const ALL: [UserLevel; 5] = [
        UserLevel::EndUser,
        UserLevel::DepartmentAdmin,
        UserLevel::GroupAdmin,
        UserLevel::TenantAdmin,
        UserLevel::System,
    ];

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(value: u8) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_u8() == value)
            .ok_or(InvalidValue::new(
                "user_level",
                Problem::Format("one of 0, 4, 8, 12, 16"),
            ))
    }

    /// The upper-case name APIO settings use (`END_USER` in `MINIMUM_PASSWORD_RULES`).
    pub fn setting_name(self) -> &'static str {
        match self {
            UserLevel::EndUser => "END_USER",
            UserLevel::DepartmentAdmin => "DEPARTMENT_ADMIN",
            UserLevel::GroupAdmin => "GROUP_ADMIN",
            UserLevel::TenantAdmin => "TENANT_ADMIN",
            UserLevel::System => "SYSTEM",
        }
    }

    pub fn is_admin(self) -> bool {
        self > UserLevel::EndUser
    }
}

impl TryFrom<u8> for UserLevel {
    type Error = InvalidValue;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::from_u8(value)
    }
}

impl From<UserLevel> for u8 {
    fn from(value: UserLevel) -> u8 {
        value.as_u8()
    }
}

/// A user's place in a group: the three ids of seed 001's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupMember {
    pub tenant: TenantId,
    pub group: GroupId,
    pub user: UserId,
}

/// Where a user sits and what they administer. The user level follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Role {
    /// Level 16: the whole platform.
    System,
    /// Level 12: one tenant.
    TenantAdmin { tenant: TenantId },
    /// Level 8: one group.
    GroupAdmin { member: GroupMember },
    /// Level 4: one department of a group, and the departments below it.
    DepartmentAdmin {
        member: GroupMember,
        department: DepartmentName,
    },
    /// Level 0: themself.
    EndUser { member: GroupMember },
}

impl Role {
    pub fn level(&self) -> UserLevel {
        match self {
            Role::System => UserLevel::System,
            Role::TenantAdmin { .. } => UserLevel::TenantAdmin,
            Role::GroupAdmin { .. } => UserLevel::GroupAdmin,
            Role::DepartmentAdmin { .. } => UserLevel::DepartmentAdmin,
            Role::EndUser { .. } => UserLevel::EndUser,
        }
    }

    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Role::System => None,
            Role::TenantAdmin { tenant } => Some(tenant),
            Role::GroupAdmin { member } | Role::DepartmentAdmin { member, .. } | Role::EndUser { member } => {
                Some(&member.tenant)
            }
        }
    }

    pub fn member(&self) -> Option<&GroupMember> {
        match self {
            Role::System | Role::TenantAdmin { .. } => None,
            Role::GroupAdmin { member } | Role::DepartmentAdmin { member, .. } | Role::EndUser { member } => {
                Some(member)
            }
        }
    }

    pub fn group(&self) -> Option<&GroupId> {
        self.member().map(|m| &m.group)
    }

    /// The department a department admin administers.
    pub fn administered_department(&self) -> Option<&DepartmentName> {
        match self {
            Role::DepartmentAdmin { department, .. } => Some(department),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_apio_integers() {
        let wire: Vec<u8> = UserLevel::ALL.iter().map(|l| l.as_u8()).collect();
        assert_eq!(wire, [0, 4, 8, 12, 16]);
        assert_eq!(UserLevel::from_u8(8).unwrap(), UserLevel::GroupAdmin);
        assert!(UserLevel::from_u8(5).is_err());
        assert_eq!(serde_json::to_string(&UserLevel::TenantAdmin).unwrap(), "12");
        assert!(serde_json::from_str::<UserLevel>("3").is_err());
    }

    #[test]
    fn role_gives_level_and_ids() {
        let member = GroupMember {
            tenant: TenantId::parse("Pie").unwrap(),
            group: GroupId::parse("PieGroup").unwrap(),
            user: UserId::parse("u").unwrap(),
        };
        let role = Role::GroupAdmin { member: member.clone() };
        assert_eq!(role.level(), UserLevel::GroupAdmin);
        assert_eq!(role.tenant().map(|t| t.as_str()), Some("Pie"));
        assert_eq!(role.group().map(|g| g.as_str()), Some("PieGroup"));
        assert_eq!(Role::System.tenant(), None);
        assert!(UserLevel::System > UserLevel::TenantAdmin);
    }
}
