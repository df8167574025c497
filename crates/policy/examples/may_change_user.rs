//! Ask whether an actor may read or change a user, and why not when they may not.
//!
//! ```text
//! cargo run -p accountd-policy --example may_change_user
//! ```
//!
//! One tenant `Pie` with group `PieGroup`, whose departments nest `Sales` ⊃ `Sales-North`, and
//! `Support` beside them. The users: System; Pie's tenant admin; PieGroup's group admin; the
//! department admin of `Sales`; end user `jbloggs` in `Sales-North`; end user `asmith` in
//! `Support`. Every answer printed is asserted, so `cargo xtask ci` runs this example as a check.
//!
//! `authorize` judges the relation between two users only: that the actor signed in with an
//! enabled, approved account is the caller's concern.

use accountd_domain::ids::{DepartmentName, GroupId, TenantId, UserId, UserKey, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::text::Name;
use accountd_domain::user::{
    AccountState, AccountType, Department, DepartmentKey, Profile, ProfileField, Timestamp, User, Version,
};
use accountd_policy::access::{Action, Decision, DenyReason, authorize, forbidden_fields};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let system = user(1, "root", UserLevel::System, None)?;
    let tenant_admin = user(2, "pie-admin", UserLevel::TenantAdmin, None)?;
    let group_admin = user(3, "piegroup-admin", UserLevel::GroupAdmin, None)?;
    let sales_admin = user(4, "sales-admin", UserLevel::DepartmentAdmin, Some("Sales"))?;
    let mut jbloggs = user(5, "jbloggs", UserLevel::EndUser, None)?;
    jbloggs.profile.department = Some(department("Sales-North", &["Sales"])?);
    let mut asmith = user(6, "asmith", UserLevel::EndUser, None)?;
    asmith.profile.department = Some(department("Support", &[])?);

    use Action::*;
    use Decision::{Allow, Deny};
    use DenyReason::*;
    let questions = [
        // Administrators act on users inside their scope and below their level.
        (&tenant_admin, UpdateProfile, &jbloggs, Allow),
        (&group_admin, ResetPassword, &jbloggs, Allow),
        (&sales_admin, ResetPin, &jbloggs, Allow),
        (&sales_admin, UpdateProfile, &asmith, Deny(OutOfScope)),
        (&group_admin, Delete, &tenant_admin, Deny(OutOfScope)),
        (
            &sales_admin,
            UpdateProfile,
            &sales_admin_peer()?,
            Deny(InsufficientLevel),
        ),
        // "Change own" needs the old secret: only ever for oneself; an administrator resets.
        (&group_admin, ChangeOwnPassword, &jbloggs, Deny(NotSelf)),
        (&system, ChangeOwnPin, &jbloggs, Deny(NotSelf)),
        // On oneself: read, update the self-editable fields, change one's own secrets; no more.
        (&jbloggs, UpdateProfile, &jbloggs, Allow),
        (&jbloggs, ChangeOwnPassword, &jbloggs, Allow),
        (&jbloggs, Delete, &jbloggs, Deny(SelfNotAllowed)),
        (&group_admin, ResetPassword, &group_admin, Deny(SelfNotAllowed)),
        (&system, Delete, &system, Allow),
        // An end user administers nobody.
        (&jbloggs, Read, &asmith, Deny(OutOfScope)),
    ];
    for (actor, action, target, expected) in questions {
        let decision = authorize(actor, action, target);
        let answer = match decision {
            Allow => "allowed".to_owned(),
            Deny(reason) => format!("denied ({})", reason.as_str()),
        };
        println!(
            "{:<15} {:<20} {:<15} {answer}",
            actor.username.as_str(),
            action.as_str(),
            target.username.as_str()
        );
        assert_eq!(decision, expected, "{} {action:?} {}", actor.username, target.username);
    }

    // An allowed self-update still covers the self-editable fields only: the service refuses the
    // rest as read-only. An administrator in scope may change every field.
    let fields = [
        ProfileField::EmailAddress,
        ProfileField::PhoneNumber,
        ProfileField::Department,
    ];
    let refused = forbidden_fields(&jbloggs, &jbloggs, &fields);
    println!();
    println!("jbloggs updating their own {fields:?}: refused {refused:?}");
    assert_eq!(refused, [ProfileField::PhoneNumber, ProfileField::Department]);
    assert!(forbidden_fields(&group_admin, &jbloggs, &fields).is_empty());
    Ok(())
}

/// A user of `Pie`/`PieGroup` at `level`; `administers` is a department admin's department.
/// Built through the domain's public constructors on purpose (the workspace's tests use
/// `accountd_domain::testing::TestUser` instead): this is how an embedder makes one.
fn user(key: i64, username: &str, level: UserLevel, administers: Option<&str>) -> Result<User> {
    let (tenant, group, user_id) = match level {
        UserLevel::System => (None, None, None),
        UserLevel::TenantAdmin => (Some(TenantId::parse("Pie")?), None, None),
        _ => (
            Some(TenantId::parse("Pie")?),
            Some(GroupId::parse("PieGroup")?),
            Some(UserId::parse(username)?),
        ),
    };
    let administered = administers.map(DepartmentName::parse).transpose()?;
    // One constructor for every placement: a level and ids that disagree are refused here, each
    // problem named.
    let role =
        Role::from_parts(level, tenant, group, user_id, administered).map_err(|problems| format!("{problems:?}"))?;
    Ok(User {
        key: UserKey(key),
        uuid: uuid::Uuid::nil(),
        username: Username::parse(username)?,
        role,
        profile: Profile::named(
            Name::parse_for("firstName", "Jo")?,
            Name::parse_for("lastName", username)?,
        ),
        enabled: true,
        state: AccountState::Approved,
        account_type: AccountType::Internal,
        created_at: Timestamp::from_millis(0),
        updated_at: Timestamp::from_millis(0),
        version: Version::FIRST,
    })
}

/// Another administrator of the same department: in scope, but not below the actor's level.
fn sales_admin_peer() -> Result<User> {
    let mut peer = user(7, "sales-admin-2", UserLevel::DepartmentAdmin, Some("Sales"))?;
    peer.profile.department = Some(department("Sales", &[])?);
    Ok(peer)
}

/// A department of `Pie`/`PieGroup`, below `ancestors` (root first).
fn department(name: &str, ancestors: &[&str]) -> Result<Department> {
    let key = DepartmentKey {
        tenant: TenantId::parse("Pie")?,
        group: Some(GroupId::parse("PieGroup")?),
        name: DepartmentName::parse(name)?,
    };
    let ancestors = ancestors
        .iter()
        .copied()
        .map(DepartmentName::parse)
        .collect::<std::result::Result<_, _>>()?;
    Ok(Department::new(key, ancestors)?)
}
