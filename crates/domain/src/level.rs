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
    /// The role of `level` placed by the given ids: the one constructor every reader of a level and
    /// a placement goes through (HTTP bodies, the CLI, import files, stored rows).
    ///
    /// System has no tenant, group, user id or department; a tenant admin a tenant only; group
    /// admins and end users a tenant, group and user id; department admins those and the
    /// department they administer. A missing id is [`Problem::Empty`] and one that the level
    /// can't have [`Problem::Conflict`], each named: `tenant`, `group`, `user_id`,
    /// `administered_department`. Every problem is reported at once.
    pub fn from_parts(
        level: UserLevel,
        tenant: Option<TenantId>,
        group: Option<GroupId>,
        user: Option<UserId>,
        administered: Option<DepartmentName>,
    ) -> Result<Role, Vec<InvalidValue>> {
        use UserLevel as L;
        let present = [
            tenant.is_some(),
            group.is_some(),
            user.is_some(),
            administered.is_some(),
        ];
        match (level, tenant, group, user, administered) {
            (L::System, None, None, None, None) => Ok(Role::System),
            (L::TenantAdmin, Some(tenant), None, None, None) => Ok(Role::TenantAdmin { tenant }),
            (L::GroupAdmin, Some(tenant), Some(group), Some(user), None) => Ok(Role::GroupAdmin {
                member: GroupMember { tenant, group, user },
            }),
            (L::EndUser, Some(tenant), Some(group), Some(user), None) => Ok(Role::EndUser {
                member: GroupMember { tenant, group, user },
            }),
            (L::DepartmentAdmin, Some(tenant), Some(group), Some(user), Some(department)) => {
                Ok(Role::DepartmentAdmin {
                    member: GroupMember { tenant, group, user },
                    department,
                })
            }
            _ => {
                // (tenant, group, user id, department) that the level needs.
                let wanted = match level {
                    L::System => [false; 4],
                    L::TenantAdmin => [true, false, false, false],
                    L::GroupAdmin | L::EndUser => [true, true, true, false],
                    L::DepartmentAdmin => [true; 4],
                };
                let names = ["tenant", "group", "user_id", "administered_department"];
                Err(names
                    .into_iter()
                    .zip(present.into_iter().zip(wanted))
                    .filter_map(|(field, (present, wanted))| match (present, wanted) {
                        (false, true) => Some(InvalidValue::new(field, Problem::Empty)),
                        (true, false) => Some(InvalidValue::new(
                            field,
                            Problem::Conflict("not a member of a user of this level"),
                        )),
                        _ => None,
                    })
                    .collect())
            }
        }
    }

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
    fn roles_are_built_from_their_parts() {
        let t = || Some(TenantId::parse("Pie").unwrap());
        let g = || Some(GroupId::parse("PieGroup").unwrap());
        let u = || Some(UserId::parse("u").unwrap());
        let d = || Some(DepartmentName::parse("Sales").unwrap());
        assert_eq!(
            Role::from_parts(UserLevel::System, None, None, None, None),
            Ok(Role::System)
        );
        assert_eq!(
            Role::from_parts(UserLevel::TenantAdmin, t(), None, None, None).map(|r| r.level()),
            Ok(UserLevel::TenantAdmin)
        );
        for level in [UserLevel::GroupAdmin, UserLevel::EndUser] {
            let role = Role::from_parts(level, t(), g(), u(), None).unwrap();
            assert_eq!(role.level(), level);
            assert_eq!(role.member().map(|m| m.user.as_str()), Some("u"));
        }
        let admin = Role::from_parts(UserLevel::DepartmentAdmin, t(), g(), u(), d()).unwrap();
        assert_eq!(admin.administered_department().map(|d| d.as_str()), Some("Sales"));

        let fields = |r: Result<Role, Vec<InvalidValue>>| -> Vec<(&'static str, &'static str)> {
            r.unwrap_err().iter().map(|e| (e.field, e.problem.code())).collect()
        };
        assert_eq!(
            fields(Role::from_parts(UserLevel::DepartmentAdmin, t(), None, u(), None)),
            [("group", "empty"), ("administered_department", "empty")]
        );
        assert_eq!(
            fields(Role::from_parts(UserLevel::System, t(), None, None, d())),
            [("tenant", "conflict"), ("administered_department", "conflict")]
        );
        assert_eq!(
            fields(Role::from_parts(UserLevel::TenantAdmin, t(), g(), u(), None)),
            [("group", "conflict"), ("user_id", "conflict")]
        );
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

    #[test]
    fn setting_names_and_admins() {
        let names: Vec<&str> = UserLevel::ALL.iter().map(|l| l.setting_name()).collect();
        assert_eq!(
            names,
            ["END_USER", "DEPARTMENT_ADMIN", "GROUP_ADMIN", "TENANT_ADMIN", "SYSTEM"]
        );
        let admins: Vec<bool> = UserLevel::ALL.iter().map(|l| l.is_admin()).collect();
        assert_eq!(admins, [false, true, true, true, true]);
    }
}
