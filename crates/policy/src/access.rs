//! Access scopes: who may read or change whom.
//!
//! - **System** (level 16) may do everything to everyone, themself included.
//! - **Every user** may read and update the self-editable part of their own profile
//!   ([`self_editable`]) and change their own password and PIN (with the old one). Nobody but
//!   System may delete, reset the password or PIN of, or change the account status of themself.
//! - **Administrators** act on another user only when that user is inside their scope
//!   ([`in_scope`]) *and* has a lower level than theirs:
//!   - tenant admin: users of the same tenant;
//!   - group admin: users of the same tenant and group;
//!   - department admin: users of the same tenant and group whose department is the administered
//!     one or below it.
//!
//!   In scope they may read, update every profile field, reset the password and PIN, delete and
//!   change the account status. "Change own password/PIN" (which needs the old secret) is only ever
//!   for oneself; an administrator resets instead.
//!
//! Authentication (an enabled, approved account) is the caller's concern: these functions judge
//! the relation between two users only.

use accountd_domain::ids::{GroupId, TenantId};
use accountd_domain::level::Role;
use accountd_domain::user::{Department, DepartmentKey, ProfileField, User};

/// What an actor wants to do to a target user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the profile.
    Read,
    /// Change profile fields (on oneself, only the [`self_editable`] ones: the service checks the
    /// fields, see [`forbidden_fields`]).
    UpdateProfile,
    /// Change one's own password, proving the old one.
    ChangeOwnPassword,
    /// Set another user's password without the old one (administrator).
    ResetPassword,
    /// Change one's own PIN (with the old one when the dialect asks for it).
    ChangeOwnPin,
    /// Set another user's PIN (administrator).
    ResetPin,
    /// Delete the user.
    Delete,
    /// Change account status: enabled, approval state.
    UpdateAccount,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::UpdateProfile,
        Action::ChangeOwnPassword,
        Action::ResetPassword,
        Action::ChangeOwnPin,
        Action::ResetPin,
        Action::Delete,
        Action::UpdateAccount,
    ];

    /// A stable name for logs and audit events (`change_own_password`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::UpdateProfile => "update_profile",
            Action::ChangeOwnPassword => "change_own_password",
            Action::ResetPassword => "reset_password",
            Action::ChangeOwnPin => "change_own_pin",
            Action::ResetPin => "reset_pin",
            Action::Delete => "delete",
            Action::UpdateAccount => "update_account",
        }
    }

    /// Whether this action is one a user takes on themself only.
    pub fn is_own(self) -> bool {
        matches!(self, Action::ChangeOwnPassword | Action::ChangeOwnPin)
    }

    /// Whether a user may take this action on themself (System excepted: System may do anything).
    fn allowed_on_self(self) -> bool {
        matches!(
            self,
            Action::Read | Action::UpdateProfile | Action::ChangeOwnPassword | Action::ChangeOwnPin
        )
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The target is outside the actor's scope (another tenant, group or department; or the actor
    /// administers nobody).
    OutOfScope,
    /// A "change own" action aimed at someone else.
    NotSelf,
    /// The target is in scope but its level is not below the actor's.
    InsufficientLevel,
    /// An action nobody may take on themself (delete, reset, account status), System excepted.
    SelfNotAllowed,
}

impl DenyReason {
    /// A stable code for logs and problem details.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::OutOfScope => "out_of_scope",
            DenyReason::NotSelf => "not_self",
            DenyReason::InsufficientLevel => "insufficient_level",
            DenyReason::SelfNotAllowed => "self_not_allowed",
        }
    }
}

/// The answer of [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, and why.
    Deny(DenyReason),
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Whether `actor` may take `action` on `target` (see the module documentation for the rules).
///
/// On oneself (same [`User::key`]): System may do anything; anyone else may Read, UpdateProfile
/// (self-editable fields), ChangeOwnPassword and ChangeOwnPin, and gets
/// [`DenyReason::SelfNotAllowed`] for the rest. On someone else: ChangeOwn* is always
/// [`DenyReason::NotSelf`] (System too: it resets instead); System may do the rest; other actors
/// need the target in scope ([`DenyReason::OutOfScope`]) and at a lower level
/// ([`DenyReason::InsufficientLevel`]).
pub fn authorize(actor: &User, action: Action, target: &User) -> Decision {
    let is_system = matches!(actor.role, Role::System);
    if actor.key == target.key {
        return if is_system || action.allowed_on_self() {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::SelfNotAllowed)
        };
    }
    if action.is_own() {
        return Decision::Deny(DenyReason::NotSelf);
    }
    if is_system {
        return Decision::Allow;
    }
    if !scope_contains(&actor.role, &target.role, target.profile.department.as_ref()) {
        return Decision::Deny(DenyReason::OutOfScope);
    }
    if target.level() >= actor.level() {
        return Decision::Deny(DenyReason::InsufficientLevel);
    }
    Decision::Allow
}

/// The profile fields `actor` may not change on `target` among `fields`: for a non-System user
/// changing themself, those that are not [`self_editable`]; for an administrator allowed to
/// [`Action::UpdateProfile`] someone else, none. (Call [`authorize`] first: this says nothing about
/// whether the update as a whole is allowed.)
pub fn forbidden_fields(actor: &User, target: &User, fields: &[ProfileField]) -> Vec<ProfileField> {
    if actor.key == target.key && !matches!(actor.role, Role::System) {
        fields.iter().copied().filter(|f| !self_editable(*f)).collect()
    } else {
        Vec::new()
    }
}

/// Whether `actor` may not change `target`'s main endpoint (line port and device): a user other than
/// System changing themself; the endpoint is the administrators', like the numbers.
pub fn endpoint_forbidden(actor: &User, target: &User) -> bool {
    actor.key == target.key && !matches!(actor.role, Role::System)
}

/// Whether `actor` may list users of, and create users in, `group` of `tenant`: System; a tenant
/// admin of that tenant; a group admin or department admin of that group (a department admin's
/// listing is then filtered with [`in_scope`], and creation checked with [`may_create`]).
pub fn may_manage_group(actor: &Role, tenant: &TenantId, group: &GroupId) -> bool {
    match actor {
        Role::System => true,
        Role::TenantAdmin { tenant: t } => t == tenant,
        Role::GroupAdmin { member } | Role::DepartmentAdmin { member, .. } => {
            &member.tenant == tenant && &member.group == group
        }
        Role::EndUser { .. } => false,
    }
}

/// Whether `target` lies inside `actor`'s administrative scope, levels aside: everyone for System;
/// the tenant's users for a tenant admin; the group's users for a group admin; for a department
/// admin, the group's users whose department is the administered one or below it. An end user
/// administers nobody: their scope is themself.
pub fn in_scope(actor: &User, target: &User) -> bool {
    match actor.role {
        Role::EndUser { .. } => actor.key == target.key,
        _ => scope_contains(&actor.role, &target.role, target.profile.department.as_ref()),
    }
}

/// Whether `actor` could administer a user with `role` in `department` (when creating a user, or
/// moving one): System always; otherwise the role must be inside the actor's scope (as in
/// [`in_scope`]) and of a lower level than the actor's.
pub fn may_create(actor: &User, role: &Role, department: Option<&Department>) -> bool {
    match actor.role {
        Role::System => true,
        _ => role.level() < actor.level() && scope_contains(&actor.role, role, department),
    }
}

/// Whether `actor`, allowed to [`Action::UpdateProfile`] `target`, may move them to department
/// `to` (`None`: out of every department): the destination must lie inside the actor's scope too,
/// so a department admin can't move a user out of their subtree (nor take their department away).
/// System may move anyone anywhere; a user's own department is not theirs to change at all
/// ([`self_editable`]).
pub fn may_move(actor: &User, target: &User, to: Option<&Department>) -> bool {
    // System's scope contains everything: no arm of its own (cargo-mutants showed one redundant).
    scope_contains(&actor.role, &target.role, to)
}

/// Whether a user may change this field of their own profile: names, CLI names, language, time
/// zone, e-mail, mobile, description and image. Numbers, department and class of service are the
/// administrators'.
pub fn self_editable(field: ProfileField) -> bool {
    match field {
        ProfileField::FirstName
        | ProfileField::LastName
        | ProfileField::CliFirstName
        | ProfileField::CliLastName
        | ProfileField::Language
        | ProfileField::TimeZone
        | ProfileField::EmailAddress
        | ProfileField::Mobile
        | ProfileField::Description
        | ProfileField::Image => true,
        ProfileField::PhoneNumber
        | ProfileField::Extension
        | ProfileField::CliPhoneNumber
        | ProfileField::Department
        | ProfileField::NetworkClassOfService => false,
    }
}

/// Whether a user with `role` in `department` is inside the administrative scope of `actor`.
fn scope_contains(actor: &Role, role: &Role, department: Option<&Department>) -> bool {
    match actor {
        Role::System => true,
        Role::TenantAdmin { tenant } => role.tenant() == Some(tenant),
        Role::GroupAdmin { member } => role
            .member()
            .is_some_and(|m| m.tenant == member.tenant && m.group == member.group),
        Role::DepartmentAdmin {
            member,
            department: administered,
        } => {
            let same_group = role
                .member()
                .is_some_and(|m| m.tenant == member.tenant && m.group == member.group);
            let subtree = DepartmentKey {
                tenant: member.tenant.clone(),
                group: Some(member.group.clone()),
                name: administered.clone(),
            };
            same_group && department.is_some_and(|d| d.is_within(&subtree))
        }
        Role::EndUser { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use accountd_domain::ids::DepartmentName;
    use accountd_domain::level::UserLevel;

    use accountd_domain::testing::{TestUser, member};
    use proptest::prelude::*;

    fn tenant(t: &str) -> TenantId {
        TenantId::parse(t).unwrap()
    }

    fn group(g: &str) -> GroupId {
        GroupId::parse(g).unwrap()
    }

    /// The department tree used in every group: D1 ⊃ D2 ⊃ D3, and D4 beside D1.
    fn dept(t: &str, g: &str, name: &str) -> Department {
        let ancestors: &[&str] = match name {
            "D2" => &["D1"],
            "D3" => &["D1", "D2"],
            _ => &[],
        };
        Department::new(
            DepartmentKey {
                tenant: tenant(t),
                group: Some(group(g)),
                name: DepartmentName::parse(name).unwrap(),
            },
            ancestors.iter().map(|a| DepartmentName::parse(*a).unwrap()).collect(),
        )
        .unwrap()
    }

    fn user(key: i64, role: Role, department: Option<Department>) -> User {
        TestUser::new(key, role).department(department).build()
    }

    fn end_user(key: i64, t: &str, g: &str, d: Option<&str>) -> User {
        user(
            key,
            Role::EndUser {
                member: member(t, g, &format!("u{key}")),
            },
            d.map(|d| dept(t, g, d)),
        )
    }

    fn system(key: i64) -> User {
        user(key, Role::System, None)
    }

    fn tenant_admin(key: i64, t: &str) -> User {
        user(key, Role::TenantAdmin { tenant: tenant(t) }, None)
    }

    fn group_admin(key: i64, t: &str, g: &str) -> User {
        user(
            key,
            Role::GroupAdmin {
                member: member(t, g, &format!("u{key}")),
            },
            None,
        )
    }

    fn dept_admin(key: i64, t: &str, g: &str, d: &str) -> User {
        user(
            key,
            Role::DepartmentAdmin {
                member: member(t, g, &format!("u{key}")),
                department: DepartmentName::parse(d).unwrap(),
            },
            Some(dept(t, g, d)),
        )
    }

    const ADMIN_ACTIONS: [Action; 6] = [
        Action::Read,
        Action::UpdateProfile,
        Action::ResetPassword,
        Action::ResetPin,
        Action::Delete,
        Action::UpdateAccount,
    ];

    #[test]
    fn users_act_on_themselves_within_limits() {
        for me in [
            end_user(1, "T1", "G1", None),
            group_admin(1, "T1", "G1"),
            tenant_admin(1, "T1"),
            dept_admin(1, "T1", "G1", "D1"),
        ] {
            for action in [
                Action::Read,
                Action::UpdateProfile,
                Action::ChangeOwnPassword,
                Action::ChangeOwnPin,
            ] {
                assert_eq!(authorize(&me, action, &me), Decision::Allow, "{action:?}");
            }
            for action in [
                Action::Delete,
                Action::ResetPassword,
                Action::ResetPin,
                Action::UpdateAccount,
            ] {
                assert_eq!(
                    authorize(&me, action, &me),
                    Decision::Deny(DenyReason::SelfNotAllowed),
                    "{action:?}"
                );
            }
        }
        let root = system(1);
        for action in Action::ALL {
            assert!(authorize(&root, action, &root).is_allowed(), "{action:?}");
        }
    }

    #[test]
    fn end_users_reach_nobody_else() {
        let me = end_user(1, "T1", "G1", Some("D1"));
        let neighbour = end_user(2, "T1", "G1", Some("D1"));
        for action in Action::ALL {
            let expected = if action.is_own() {
                DenyReason::NotSelf
            } else {
                DenyReason::OutOfScope
            };
            assert_eq!(
                authorize(&me, action, &neighbour),
                Decision::Deny(expected),
                "{action:?}"
            );
        }
        assert!(in_scope(&me, &me));
        assert!(!in_scope(&me, &neighbour));
    }

    #[test]
    fn system_does_everything_to_everyone_but_change_own() {
        let root = system(1);
        for target in [end_user(2, "T1", "G1", None), tenant_admin(3, "T2"), system(4)] {
            for action in ADMIN_ACTIONS {
                assert_eq!(authorize(&root, action, &target), Decision::Allow, "{action:?}");
            }
            assert_eq!(
                authorize(&root, Action::ChangeOwnPassword, &target),
                Decision::Deny(DenyReason::NotSelf)
            );
        }
        assert!(may_manage_group(&Role::System, &tenant("T9"), &group("G9")));
        assert!(may_create(&root, &Role::System, None));
    }

    #[test]
    fn tenant_admins_reach_their_tenant_below_their_level() {
        let admin = tenant_admin(1, "T1");
        for target in [
            end_user(2, "T1", "G1", None),
            group_admin(3, "T1", "G2"),
            dept_admin(4, "T1", "G1", "D3"),
        ] {
            for action in ADMIN_ACTIONS {
                assert_eq!(authorize(&admin, action, &target), Decision::Allow);
            }
            assert_eq!(
                authorize(&admin, Action::ChangeOwnPin, &target),
                Decision::Deny(DenyReason::NotSelf)
            );
        }
        assert_eq!(
            authorize(&admin, Action::Read, &tenant_admin(5, "T1")),
            Decision::Deny(DenyReason::InsufficientLevel)
        );
        assert_eq!(
            authorize(&admin, Action::Read, &end_user(6, "T2", "G1", None)),
            Decision::Deny(DenyReason::OutOfScope)
        );
        assert_eq!(
            authorize(&admin, Action::Read, &system(7)),
            Decision::Deny(DenyReason::OutOfScope)
        );
        assert!(may_manage_group(&admin.role, &tenant("T1"), &group("anything")));
        assert!(!may_manage_group(&admin.role, &tenant("T2"), &group("G1")));
    }

    #[test]
    fn group_admins_reach_their_group_below_their_level() {
        let admin = group_admin(1, "T1", "G1");
        assert!(authorize(&admin, Action::Delete, &end_user(2, "T1", "G1", None)).is_allowed());
        assert!(authorize(&admin, Action::ResetPin, &dept_admin(3, "T1", "G1", "D1")).is_allowed());
        assert_eq!(
            authorize(&admin, Action::Read, &end_user(4, "T1", "G2", None)),
            Decision::Deny(DenyReason::OutOfScope)
        );
        assert_eq!(
            authorize(&admin, Action::Read, &end_user(5, "T2", "G1", None)),
            Decision::Deny(DenyReason::OutOfScope),
            "same group name in another tenant"
        );
        assert_eq!(
            authorize(&admin, Action::Read, &group_admin(6, "T1", "G1")),
            Decision::Deny(DenyReason::InsufficientLevel)
        );
        assert_eq!(
            authorize(&admin, Action::Read, &tenant_admin(7, "T1")),
            Decision::Deny(DenyReason::OutOfScope)
        );
        assert!(may_manage_group(&admin.role, &tenant("T1"), &group("G1")));
        assert!(!may_manage_group(&admin.role, &tenant("T1"), &group("G2")));
        assert!(!may_manage_group(&admin.role, &tenant("T2"), &group("G1")));
    }

    #[test]
    fn department_admins_reach_their_subtree_only() {
        let admin = dept_admin(1, "T1", "G1", "D2");
        assert!(authorize(&admin, Action::UpdateProfile, &end_user(2, "T1", "G1", Some("D2"))).is_allowed());
        assert!(
            authorize(&admin, Action::ResetPassword, &end_user(3, "T1", "G1", Some("D3"))).is_allowed(),
            "below"
        );
        for (target, why) in [
            (end_user(4, "T1", "G1", Some("D1")), "above"),
            (end_user(5, "T1", "G1", Some("D4")), "beside"),
            (end_user(6, "T1", "G1", None), "no department"),
            (end_user(7, "T1", "G2", Some("D2")), "same name, other group"),
            (end_user(8, "T2", "G1", Some("D2")), "same names, other tenant"),
        ] {
            assert_eq!(
                authorize(&admin, Action::Read, &target),
                Decision::Deny(DenyReason::OutOfScope),
                "{why}"
            );
        }
        assert_eq!(
            authorize(&admin, Action::Read, &dept_admin(9, "T1", "G1", "D3")),
            Decision::Deny(DenyReason::InsufficientLevel)
        );
        // Enterprise-level departments (no group) are outside any group department subtree.
        let enterprise = Department::new(
            DepartmentKey {
                tenant: tenant("T1"),
                group: None,
                name: DepartmentName::parse("D2").unwrap(),
            },
            vec![],
        )
        .unwrap();
        let in_enterprise_dept = user(
            10,
            Role::EndUser {
                member: member("T1", "G1", "u10"),
            },
            Some(enterprise),
        );
        assert!(!in_scope(&admin, &in_enterprise_dept));
        assert!(may_manage_group(&admin.role, &tenant("T1"), &group("G1")));
        assert!(!may_manage_group(&admin.role, &tenant("T1"), &group("G2")));
    }

    #[test]
    fn may_create_follows_scope_and_level() {
        let admin = dept_admin(1, "T1", "G1", "D1");
        let end = Role::EndUser {
            member: member("T1", "G1", "new"),
        };
        assert!(may_create(&admin, &end, Some(&dept("T1", "G1", "D3"))));
        assert!(!may_create(&admin, &end, Some(&dept("T1", "G1", "D4"))));
        assert!(!may_create(&admin, &end, None));
        let peer = Role::DepartmentAdmin {
            member: member("T1", "G1", "new"),
            department: DepartmentName::parse("D2").unwrap(),
        };
        assert!(!may_create(&admin, &peer, Some(&dept("T1", "G1", "D2"))), "same level");
        let tenant_admin = tenant_admin(2, "T1");
        assert!(may_create(
            &tenant_admin,
            &Role::GroupAdmin {
                member: member("T1", "G5", "new")
            },
            None
        ));
        assert!(!may_create(
            &tenant_admin,
            &Role::TenantAdmin { tenant: tenant("T1") },
            None
        ));
        assert!(!may_create(
            &tenant_admin,
            &Role::EndUser {
                member: member("T2", "G1", "new")
            },
            None
        ));
        assert!(!may_create(&end_user(3, "T1", "G1", None), &end, None));
    }

    #[test]
    fn self_editable_fields() {
        let editable: Vec<&str> = ProfileField::ALL
            .into_iter()
            .filter(|f| self_editable(*f))
            .map(|f| f.wire_name())
            .collect();
        assert_eq!(
            editable,
            [
                "firstName",
                "lastName",
                "cliFirstName",
                "cliLastName",
                "language",
                "emailAddress",
                "timeZone",
                "mobile",
                "description",
                "image"
            ]
        );
        let me = end_user(1, "T1", "G1", None);
        assert_eq!(
            forbidden_fields(
                &me,
                &me,
                &[
                    ProfileField::FirstName,
                    ProfileField::Extension,
                    ProfileField::Department
                ]
            ),
            [ProfileField::Extension, ProfileField::Department]
        );
        let admin = group_admin(2, "T1", "G1");
        assert!(forbidden_fields(&admin, &me, &ProfileField::ALL).is_empty());
        let root = system(3);
        assert!(forbidden_fields(&root, &root, &ProfileField::ALL).is_empty());
        // The endpoint follows the same rule: the administrators', System's own included.
        assert!(endpoint_forbidden(&me, &me));
        assert!(!endpoint_forbidden(&admin, &me));
        assert!(!endpoint_forbidden(&root, &root));
    }

    #[test]
    fn moves_stay_inside_the_actors_scope() {
        let dadmin = dept_admin(1, "T1", "G1", "D1");
        let user = end_user(2, "T1", "G1", Some("D2"));
        assert!(
            may_move(&dadmin, &user, Some(&dept("T1", "G1", "D3"))),
            "down the subtree"
        );
        assert!(
            may_move(&dadmin, &user, Some(&dept("T1", "G1", "D1"))),
            "to the top of it"
        );
        assert!(!may_move(&dadmin, &user, Some(&dept("T1", "G1", "D4"))), "beside it");
        assert!(!may_move(&dadmin, &user, None), "out of every department");
        assert!(
            !may_move(&dadmin, &user, Some(&dept("T1", "G2", "D1"))),
            "another group's D1"
        );
        let gadmin = group_admin(3, "T1", "G1");
        assert!(may_move(&gadmin, &user, Some(&dept("T1", "G1", "D4"))));
        assert!(may_move(&gadmin, &user, None));
        assert!(may_move(&system(4), &user, Some(&dept("T2", "G9", "D4"))));
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(DenyReason::OutOfScope.as_str(), "out_of_scope");
        assert_eq!(DenyReason::NotSelf.as_str(), "not_self");
        assert_eq!(DenyReason::InsufficientLevel.as_str(), "insufficient_level");
        assert_eq!(DenyReason::SelfNotAllowed.as_str(), "self_not_allowed");
        assert_eq!(Action::ChangeOwnPassword.as_str(), "change_own_password");
    }

    const TENANTS: [&str; 2] = ["T1", "T2"];
    const GROUPS: [&str; 2] = ["G1", "G2"];
    const DEPTS: [&str; 4] = ["D1", "D2", "D3", "D4"];

    /// Any user of the two tenants × two groups × department tree, or a System user.
    fn arb_user(key: i64) -> impl Strategy<Value = User> {
        (
            0usize..5,
            0usize..2,
            0usize..2,
            proptest::option::of(0usize..4),
            0usize..4,
        )
            .prop_map(move |(kind, t, g, d, administered)| {
                let (t, g) = (TENANTS[t], GROUPS[g]);
                let d = d.map(|d| DEPTS[d]);
                match kind {
                    0 => system(key),
                    1 => tenant_admin(key, t),
                    2 => group_admin(key, t, g),
                    3 => {
                        let mut u = dept_admin(key, t, g, DEPTS[administered]);
                        u.profile.department = d.map(|d| dept(t, g, d));
                        u
                    }
                    _ => end_user(key, t, g, d),
                }
            })
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        proptest::sample::select(Action::ALL.to_vec())
    }

    proptest! {
        /// Nobody but System ever acts on a user of another tenant (or on a System user, who has
        /// no tenant), whatever the action; listing and creating follow the same line.
        #[test]
        fn no_access_across_tenants(actor in arb_user(1), target in arb_user(2), action in arb_action(), same_key in any::<bool>()) {
            let target = if same_key { User { key: actor.key, ..target } } else { target };
            let decision = authorize(&actor, action, &target);
            if actor.level() != UserLevel::System && actor.key != target.key && target.role.tenant() != actor.role.tenant() {
                prop_assert_ne!(decision, Decision::Allow);
                prop_assert!(!in_scope(&actor, &target));
                prop_assert!(!may_create(&actor, &target.role, target.profile.department.as_ref()));
            }
            if actor.level() != UserLevel::System {
                for t in TENANTS {
                    for g in GROUPS {
                        if may_manage_group(&actor.role, &tenant(t), &group(g)) {
                            prop_assert_eq!(actor.role.tenant(), Some(&tenant(t)));
                        }
                    }
                }
            }
        }

        /// A department admin never reaches a user outside their department subtree (other than
        /// themself), nor creates one there.
        #[test]
        fn department_admins_stay_in_their_subtree(
            t in 0usize..2, g in 0usize..2, administered in 0usize..4,
            target in arb_user(2), action in arb_action(),
        ) {
            let admin = dept_admin(1, TENANTS[t], GROUPS[g], DEPTS[administered]);
            let Role::DepartmentAdmin { member, department } = &admin.role else { unreachable!() };
            let inside = |role: &Role, d: Option<&Department>| {
                role.member().is_some_and(|m| m.tenant == member.tenant && m.group == member.group)
                    && d.is_some_and(|d| {
                        d.key.tenant == member.tenant
                            && d.key.group.as_ref() == Some(&member.group)
                            && d.path().contains(department)
                    })
            };
            let target_inside = inside(&target.role, target.profile.department.as_ref());
            if authorize(&admin, action, &target).is_allowed() || in_scope(&admin, &target) {
                prop_assert!(target_inside);
                prop_assert!(target.level() < UserLevel::DepartmentAdmin || !authorize(&admin, action, &target).is_allowed());
            }
            if may_create(&admin, &target.role, target.profile.department.as_ref()) {
                prop_assert!(target_inside && target.level() == UserLevel::EndUser);
            }
        }
    }
}
