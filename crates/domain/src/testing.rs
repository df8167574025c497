//! The workspace's one test-user builder (feature `testing`, for dev-dependencies only; see
//! docs/decisions.md): every crate's tests build their users here, so a new field of [`User`] is
//! added once and every test keeps compiling with a sensible default.
//!
//! [`TestUser::new`] starts from an enabled, approved, internal account named `user{key}`
//! ("Jo Bloggs", nil uuid, created at the epoch, first version); each method changes one thing.
//! [`TestUser::new_user`] gives the same account as a [`NewUser`] to create in a store.
//!
//! Panics on an invalid literal: these are fixed test values, and a typo should fail the test.
#![allow(clippy::expect_used)]

use crate::ids::{GroupId, TenantId, UserId, UserKey, Username};
use crate::level::{GroupMember, Role};
use crate::text::{EmailAddress, Name};
use crate::user::{AccountState, AccountType, Department, NewProfile, NewUser, Profile, Timestamp, User, Version};
use uuid::Uuid;

/// `tenant`/`group`/`user` as a group member (for the roles of end users and group admins).
pub fn member(tenant: &str, group: &str, user: &str) -> GroupMember {
    GroupMember {
        tenant: TenantId::parse(tenant).expect("a valid test tenant id"),
        group: GroupId::parse(group).expect("a valid test group id"),
        user: UserId::parse(user).expect("a valid test user id"),
    }
}

/// A test user, built one change at a time; [`TestUser::build`] gives the [`User`].
#[derive(Debug, Clone)]
pub struct TestUser(User);

impl TestUser {
    /// User `key` with `role`, named `user{key}`, "Jo Bloggs", enabled and approved.
    pub fn new(key: i64, role: Role) -> Self {
        Self(User {
            key: UserKey(key),
            uuid: Uuid::nil(),
            username: Username::parse(format!("user{key}")).expect("a valid test username"),
            role,
            profile: Profile::named(name("firstName", "Jo"), name("lastName", "Bloggs")),
            enabled: true,
            state: AccountState::Approved,
            account_type: AccountType::Internal,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            version: Version::FIRST,
        })
    }

    /// An end user of `tenant`/`group` whose user id is `u{key}`.
    pub fn end_user(key: i64, tenant: &str, group: &str) -> Self {
        Self::new(
            key,
            Role::EndUser {
                member: member(tenant, group, &format!("u{key}")),
            },
        )
    }

    pub fn username(mut self, username: &str) -> Self {
        self.0.username = Username::parse(username).expect("a valid test username");
        self
    }

    pub fn uuid(mut self, uuid: Uuid) -> Self {
        self.0.uuid = uuid;
        self
    }

    pub fn named(mut self, first: &str, last: &str) -> Self {
        self.0.profile.first_name = name("firstName", first);
        self.0.profile.last_name = name("lastName", last);
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.0.profile.email = Some(EmailAddress::parse_for("email", email).expect("a valid test e-mail"));
        self
    }

    pub fn department(mut self, department: Option<Department>) -> Self {
        self.0.profile.department = department;
        self
    }

    /// Any other profile change, for the fields without a method of their own.
    pub fn profile(mut self, change: impl FnOnce(&mut Profile)) -> Self {
        change(&mut self.0.profile);
        self
    }

    /// Created and last updated at `millis` since the epoch.
    pub fn at(mut self, millis: i64) -> Self {
        self.0.created_at = Timestamp::from_millis(millis);
        self.0.updated_at = Timestamp::from_millis(millis);
        self
    }

    pub fn build(self) -> User {
        self.0
    }

    /// The same account to create in a store (with a fresh uuid when it has the nil one); a
    /// department is dropped, as a store names it by key (set `profile.department` for one).
    pub fn new_user(self) -> NewUser {
        let user = self.0;
        let uuid = if user.uuid.is_nil() { Uuid::new_v4() } else { user.uuid };
        let mut profile = user.profile;
        profile.department = None;
        NewUser {
            uuid,
            username: user.username,
            role: user.role,
            profile: NewProfile {
                profile,
                department: None,
            },
            enabled: user.enabled,
            state: user.state,
            account_type: user.account_type,
        }
    }
}

fn name(field: &'static str, value: &str) -> Name {
    Name::parse_for(field, value).expect("a valid test name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_changes() {
        let user = TestUser::end_user(3, "Pie", "PieGroup")
            .username("jo@example.com")
            .named("Jane", "Doe")
            .at(1_000)
            .build();
        assert_eq!(user.key, UserKey(3));
        assert_eq!(user.username.as_str(), "jo@example.com");
        assert_eq!(user.profile.first_name.as_str(), "Jane");
        assert_eq!(user.created_at, Timestamp::from_millis(1_000));
        assert!(user.may_sign_in());
        let Role::EndUser { member } = &user.role else {
            panic!("an end user: {:?}", user.role)
        };
        assert_eq!(member.user.as_str(), "u3");

        let new = TestUser::new(4, Role::System).new_user();
        assert!(!new.uuid.is_nil());
        assert_eq!(new.username.as_str(), "user4");
    }
}
