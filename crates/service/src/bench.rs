//! The benchmarks' bulk path (`accountd bench populate`, driven by `cargo xtask bench`): makes sure
//! the generated end users `bench-0000001` … `bench-{N:07}` exist (tenant `BenchTenant`, 1,000
//! users per group `BenchGroup0000` …), every one with the demo password.
//!
//! The first is created through [`Services::create_user`] like any user (domain constructors,
//! password policy, one argon2 hash); the others are copies of its row and password hash made by
//! the store's [`Store::bulk_copy_user`] (SQLite and PostgreSQL alike), with only the username, user id, UUID and group
//! changed, to names that pass the same constructors. A million users take seconds, not a million
//! hashes. The last one is read back through the store, which maps rows through the domain
//! constructors, so an invalid row fails the command. Not audited user by user: it is a benchmark
//! fixture, not a change anyone made.

use crate::demo::DEMO_PASSWORD;
use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::{GroupId, TenantId, UserId, UserKey, Username};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::ports::{BulkCopy, Store};
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name, Text};
use accountd_domain::user::{NewProfile, NewUser, Profile};
use accountd_domain::{InvalidValue, Problem};

/// The tenant of the generated users.
pub const BENCH_TENANT: &str = "BenchTenant";
/// Generated users per group.
pub const USERS_PER_GROUP: u64 = 1_000;
/// The most users `populate` makes (the names have seven digits).
pub const MAX_USERS: u64 = 9_999_999;
const PREFIX: &str = "bench-";
const GROUP_PREFIX: &str = "BenchGroup";

/// `bench-0000042`: the username and the user id of generated user 42.
pub fn username(index: u64) -> String {
    format!("{PREFIX}{index:07}")
}

fn group_name(index: u64) -> String {
    format!("{GROUP_PREFIX}{:04}", (index - 1) / USERS_PER_GROUP)
}

impl<S: Store> Services<S> {
    /// Makes sure generated users 1..=`users` exist; returns how many were added.
    pub fn populate_bench_users(&self, users: u64) -> ServiceResult<u64> {
        if !(1..=MAX_USERS).contains(&users) {
            return Err(ServiceError::Invalid(vec![InvalidValue::new(
                "users",
                Problem::OutOfRange {
                    min: 1,
                    max: MAX_USERS as i64,
                },
            )]));
        }
        // Every name the bulk copy makes has the shape of the last one; prove it is valid.
        Username::parse(username(users))?;
        UserId::parse(username(users))?;
        GroupId::parse(group_name(users))?;

        let tenant = TenantId::parse(BENCH_TENANT)?;
        let groups = (users - 1) / USERS_PER_GROUP + 1;
        self.store.write(|repo| {
            repo.ensure_tenant(&tenant, &Text::parse_for("name", "Bench tenant")?)?;
            for g in 0..groups {
                let name = format!("{GROUP_PREFIX}{g:04}");
                repo.ensure_group(&tenant, &GroupId::parse(name.clone())?, &Text::parse_for("name", name)?)?;
            }
            Ok::<_, ServiceError>(())
        })?;

        let existing = self.existing_bench_users(users)?;
        let template = if existing == 0 {
            self.create_first_bench_user()?
        } else {
            self.find_user(&Username::parse(username(1))?)?
                .ok_or(ServiceError::NotFound("user"))?
                .key
        };
        let first = existing.max(1) + 1;
        if first <= users {
            let copy = BulkCopy {
                first,
                last: users,
                prefix: PREFIX,
                group_prefix: GROUP_PREFIX,
                per_group: USERS_PER_GROUP,
            };
            self.store.bulk_copy_user(template, &copy)?;
        }
        let last = self
            .find_user(&Username::parse(username(users))?)?
            .ok_or(ServiceError::NotFound("user"))?;
        if last.username.as_str() != username(users) {
            return Err(ServiceError::NotFound("user"));
        }
        Ok(users.saturating_sub(existing))
    }

    /// How many of `bench-0000001` … `bench-{limit}` exist: they are made in order, so a binary
    /// search on existence finds the count in ~log2(limit) lookups.
    fn existing_bench_users(&self, limit: u64) -> ServiceResult<u64> {
        let exists =
            |index: u64| -> ServiceResult<bool> { Ok(self.find_user(&Username::parse(username(index))?)?.is_some()) };
        let (mut low, mut high) = (0u64, limit); // low exists (or is 0); the answer is in low..=high
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if exists(mid)? {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        Ok(low)
    }

    /// Creates `bench-0000001` through the use case, as the operator would.
    fn create_first_bench_user(&self) -> ServiceResult<UserKey> {
        let name = username(1);
        let mut profile = Profile::named(
            Name::parse_for("first_name", "Bench")?,
            Name::parse_for("last_name", "User")?,
        );
        profile.email = Some(EmailAddress::parse_for("emailAddress", "bench@example.com")?);
        let role = Role::EndUser {
            member: GroupMember {
                tenant: TenantId::parse(BENCH_TENANT)?,
                group: GroupId::parse(group_name(1))?,
                user: UserId::parse(name.clone())?,
            },
        };
        let user = NewUser::new(
            self.new_uuid(),
            Username::parse(name)?,
            role,
            NewProfile {
                profile,
                department: None,
            },
        );
        let created = self.create_user(
            Actor::Operator,
            &user,
            &Password::new(DEMO_PASSWORD)?,
            &RequestContext::default(),
        )?;
        Ok(created.key)
    }
}
