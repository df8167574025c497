//! What the SuperOffice and Axway dialects show beside the user record itself: the directory around a
//! user (tenant and group with their numeric keys, the tenant's licences, the user's secondary
//! groups), read in one go, and the user's function rights derived from the access policy.

use crate::{ServiceError, ServiceResult, Services};
use accountd_domain::level::Role;
use accountd_domain::ports::{Repository, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{Group, License, Tenant};
use accountd_domain::user::User;
use accountd_policy::access::{self, Action};

/// The directory facts around one user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directory {
    /// The user's tenant; `None` for System, which belongs to none.
    pub tenant: Option<Tenant>,
    /// The user's group; `None` for System and tenant administrators.
    pub group: Option<Group>,
    /// The licences granted to the tenant, in their stored order.
    pub licenses: Vec<License>,
    /// Numeric keys of the user's secondary groups, ascending.
    pub secondary_groups: Vec<i64>,
}

impl<S: Store> Services<S> {
    /// The tenant, group, licences and secondary groups of `user`, in one read.
    pub fn directory_of(&self, user: &User) -> ServiceResult<Directory> {
        self.read_directory(user, None)
    }

    /// [`Services::directory_of`] on the calling thread's own read connection
    /// ([`accountd_domain::ports::Store::read_here`]): four indexed reads, for a caller on an
    /// async worker when [`Services::reads_here`] (SQLite; DESIGN.md's measured exception),
    /// remembered until the next commit of any process (and for at most a second). What was
    /// remembered under the generation that admitted `principal` answers without a read.
    pub fn directory_of_here(&self, principal: &Principal) -> ServiceResult<Directory> {
        self.read_directory(&principal.user, Some(principal.read_under))
    }

    /// The directory of `user`, read on a pooled connection (`here: None`), or on this thread's
    /// own, remembered, and found without a read when remembered under the generation the caller
    /// was admitted under (`here: Some(read_under)`).
    fn read_directory(&self, user: &User, here: Option<Option<u64>>) -> ServiceResult<Directory> {
        let read = |repo: &mut dyn Repository| {
            let (tenant, licenses) = match user.role.tenant() {
                Some(id) => (repo.tenant(id)?, repo.tenant_licenses(id)?),
                None => (None, Vec::new()),
            };
            let group = match user.role.member() {
                Some(m) => repo.group(&m.tenant, &m.group)?,
                None => None,
            };
            let secondary_groups = repo.secondary_groups(user.key)?;
            Ok::<_, ServiceError>(Directory {
                tenant,
                group,
                licenses,
                secondary_groups,
            })
        };
        if let Some(under) = here {
            // Keyed by the role too: the directory follows from it.
            self.remembered_under(&self.directories, under, (user.key, user.role.clone()), read)
        } else {
            self.store.read(read)
        }
    }
}

/// The administrative scope of a role, as a function right (`scope:group`, …); `None` for end users.
fn scope_right(role: &Role) -> Option<&'static str> {
    match role {
        Role::System => Some("scope:platform"),
        Role::TenantAdmin { .. } => Some("scope:tenant"),
        Role::GroupAdmin { .. } => Some("scope:group"),
        Role::DepartmentAdmin { .. } => Some("scope:department"),
        Role::EndUser { .. } => None,
    }
}

/// The function rights of `user` (SuperOffice `FunctionRights`), sorted ordinally (byte order) so a
/// client can binary-search them:
/// - `own:<action>` for every [`Action`] the access policy allows the user on themself
///   (`own:read`, `own:update_profile`, `own:change_own_password`, `own:change_own_pin`; System also
///   gets the rest);
/// - for administrators, `users:<action>` for every action they may take on users in their scope
///   below their level (`users:read`, `users:update_profile`, `users:reset_password`,
///   `users:reset_pin`, `users:delete`, `users:update_account`), `users:create`, and their scope
///   (`scope:department`, `scope:group`, `scope:tenant`, `scope:platform`).
pub fn function_rights(user: &User) -> Vec<String> {
    let mut rights: Vec<String> = Action::ALL
        .into_iter()
        .filter(|action| access::authorize(user, *action, user).is_allowed())
        .map(|action| format!("own:{}", action.as_str()))
        .collect();
    if user.level().is_admin() {
        rights.extend(
            Action::ALL
                .into_iter()
                .filter(|action| !action.is_own())
                .map(|action| format!("users:{}", action.as_str())),
        );
        rights.push("users:create".to_owned());
    }
    rights.extend(scope_right(&user.role).map(str::to_owned));
    rights.sort_unstable();
    rights
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::ids::DepartmentName;
    use accountd_domain::level::GroupMember;
    use accountd_domain::testing::{self, TestUser};

    fn member(user: &str) -> GroupMember {
        testing::member("T", "G", user)
    }

    fn user(key: i64, role: Role) -> User {
        TestUser::new(key, role).build()
    }

    #[test]
    fn end_users_have_their_own_rights_only() {
        let me = user(1, Role::EndUser { member: member("u1") });
        assert_eq!(
            function_rights(&me),
            [
                "own:change_own_password",
                "own:change_own_pin",
                "own:read",
                "own:update_profile"
            ]
        );
    }

    #[test]
    fn rights_are_sorted_ordinally_and_follow_the_level() {
        let group_admin = user(2, Role::GroupAdmin { member: member("u2") });
        let rights = function_rights(&group_admin);
        let mut sorted = rights.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(rights, sorted);
        assert!(rights.contains(&"scope:group".to_owned()));
        assert!(rights.contains(&"users:reset_password".to_owned()));
        assert!(
            !rights.contains(&"own:delete".to_owned()),
            "nobody but System deletes themself"
        );
        assert!(!rights.iter().any(|r| r == "users:change_own_password"));

        let system = function_rights(&user(3, Role::System));
        assert!(system.contains(&"own:delete".to_owned()));
        assert!(system.contains(&"scope:platform".to_owned()));
        let dept = function_rights(&user(
            4,
            Role::DepartmentAdmin {
                member: member("u4"),
                department: DepartmentName::parse("D").unwrap(),
            },
        ));
        assert!(dept.contains(&"scope:department".to_owned()));
    }

    #[test]
    fn administrator_rights_agree_with_the_access_policy() {
        // A group admin and an end user of their group: every `users:` right the admin is given is
        // one the policy grants on that end user.
        let admin = user(1, Role::GroupAdmin { member: member("a") });
        let target = user(2, Role::EndUser { member: member("t") });
        for right in function_rights(&admin) {
            let Some(action) = right.strip_prefix("users:") else {
                continue;
            };
            if action == "create" {
                assert!(access::may_create(&admin, &target.role, None));
                continue;
            }
            let action = Action::ALL.into_iter().find(|a| a.as_str() == action).unwrap();
            assert!(access::authorize(&admin, action, &target).is_allowed(), "{right}");
        }
    }
}
