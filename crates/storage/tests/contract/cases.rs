//! The contract cases: each takes a fresh database of either backend and checks one part of the
//! ports' documented behaviour.

use crate::fixtures::*;
use accountd_domain::endpoint::{DeviceLevel, DeviceOwner, Endpoint, LineRef, TrunkEndpoint};
use accountd_domain::ids::{AppId, DepartmentName, DeviceName, UserId, UserKey, Username};
use accountd_domain::level::Role;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{DeleteOptions, NewOutboxMessage, PageRequest, Store, StoreError};
use accountd_domain::principal::AuthMethod;
use accountd_domain::records::{
    AppData, AuditAction, AuditEvent, AuditOutcome, Ceremony, ClientInfo, License, LoginChallenge, NewApiToken,
    NewPasskey, NewSession, SealedSecret, ThrottleState, TokenScope, TotpFactor,
};
use accountd_domain::secret::{SecretHash, TokenDigest};
use accountd_domain::text::{EmailAddress, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{AccountChange, AccountState, ProfileChange, Timestamp, Version};
use accountd_storage::Database;
use accountd_storage::testing::TestDatabase;
use uuid::Uuid;

fn hash(n: u32) -> SecretHash {
    SecretHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${n}")).unwrap()
}

fn digest(n: u8) -> TokenDigest {
    TokenDigest([n; 32])
}

pub fn tenants_and_groups(db: &TestDatabase) {
    let (t, g, o) = directory(db);
    assert_eq!(t.id.as_str(), "Pie");
    assert_eq!(t.name.as_str(), "Pie Inc");
    assert_ne!(g.key, o.key);
    // ensure_* returns the existing rows, whatever name is given the second time.
    let (t2, g2) = write(db, |r| {
        let t2 = r.ensure_tenant(&tenant_id("Pie"), &text("ignored"))?;
        let g2 = r.ensure_group(&t2.id, &group_id("PieGroup"), &text("ignored"))?;
        Ok((t2, g2))
    })
    .unwrap();
    assert_eq!((t2, g2.clone()), (t.clone(), g.clone()));
    assert_eq!(read(db, |r| r.tenant(&tenant_id("Pie"))).unwrap(), Some(t));
    assert_eq!(read(db, |r| r.tenant(&tenant_id("Nope"))).unwrap(), None);
    assert_eq!(
        read(db, |r| r.group(&tenant_id("Pie"), &group_id("PieGroup"))).unwrap(),
        Some(g)
    );
    assert_eq!(
        read(db, |r| r.group(&tenant_id("Pie"), &group_id("Nope"))).unwrap(),
        None
    );
    assert_err(
        write(db, |r| r.ensure_group(&tenant_id("Nope"), &group_id("G"), &text("g"))),
        StoreError::NotFound("tenant"),
    );
    // The same group id under another tenant is another group.
    let other = write(db, |r| {
        let t = r.ensure_tenant(&tenant_id("Other"), &text(""))?;
        r.ensure_group(&t.id, &group_id("PieGroup"), &text(""))
    })
    .unwrap();
    assert_ne!(other.key, g2.key);
}

pub fn departments_have_paths(db: &TestDatabase) {
    directory(db);
    let root = ensure_department(db, department_key("Pie", Some("PieGroup"), "parent_1"), None).unwrap();
    assert_eq!(root.full_path_name(), "parent_1");
    let child = ensure_department(db, department_key("Pie", Some("PieGroup"), "initial"), Some("parent_1")).unwrap();
    assert_eq!(child.full_path_name(), "parent_1 \\ initial");
    let leaf = ensure_department(db, department_key("Pie", Some("PieGroup"), "leaf"), Some("initial")).unwrap();
    let names: Vec<&str> = leaf.path().iter().map(DepartmentName::as_str).collect();
    assert_eq!(names, ["parent_1", "initial", "leaf"]);
    // Existing: returned as stored.
    assert_eq!(
        ensure_department(db, department_key("Pie", Some("PieGroup"), "leaf"), None).unwrap(),
        leaf
    );
    assert_eq!(read(db, |r| r.department(&leaf.key)).unwrap(), Some(leaf.clone()));
    // An enterprise department of the same name is another department.
    let enterprise = ensure_department(db, department_key("Pie", None, "leaf"), None).unwrap();
    assert_eq!(enterprise.full_path_name(), "leaf");
    assert_eq!(
        read(db, |r| r.department(&department_key("Pie", None, "leaf"))).unwrap(),
        Some(enterprise)
    );
    // Parents come from the same tenant and group.
    assert_err(
        ensure_department(db, department_key("Pie", Some("OtherGroup"), "x"), Some("parent_1")),
        StoreError::NotFound("department"),
    );
    assert_err(
        ensure_department(db, department_key("Pie", Some("Nope"), "x"), None),
        StoreError::NotFound("group"),
    );
    assert_err(
        ensure_department(db, department_key("Nope", None, "x"), None),
        StoreError::NotFound("tenant"),
    );
    assert_eq!(
        read(db, |r| r.department(&department_key("Pie", Some("OtherGroup"), "leaf"))).unwrap(),
        None
    );
}

fn license(n: i64) -> License {
    License {
        module_id: n,
        name: text(&format!("module {n}")),
        description: text("d"),
        owner_name: text("o"),
        owner_description: text(""),
        version: text("1.0"),
        license_type: text("SatelliteLicense"),
        license_number: 900 + n,
        extra_flags: 0,
        extra_info: text(""),
        sort_order: n,
        hidden: n % 2 == 0,
        unrestricted: true,
        expires_at: (n == 2).then_some(T0),
    }
}

pub fn licenses_replace_in_order(db: &TestDatabase) {
    directory(db);
    let pie = tenant_id("Pie");
    assert!(read(db, |r| r.tenant_licenses(&pie)).unwrap().is_empty());
    let first = vec![license(3), license(1), license(2)];
    write(db, |r| r.set_tenant_licenses(&pie, &first)).unwrap();
    assert_eq!(read(db, |r| r.tenant_licenses(&pie)).unwrap(), first);
    let second = vec![license(7)];
    write(db, |r| r.set_tenant_licenses(&pie, &second)).unwrap();
    assert_eq!(read(db, |r| r.tenant_licenses(&pie)).unwrap(), second);
    write(db, |r| r.set_tenant_licenses(&pie, &[])).unwrap();
    assert!(read(db, |r| r.tenant_licenses(&pie)).unwrap().is_empty());
    assert_err(
        write(db, |r| r.set_tenant_licenses(&tenant_id("Nope"), &second)),
        StoreError::NotFound("tenant"),
    );
}

pub fn secondary_groups_replace_sorted(db: &TestDatabase) {
    let (_, g, o) = directory(db);
    let u = end_user(db, "u1");
    assert!(read(db, |r| r.secondary_groups(u.key)).unwrap().is_empty());
    write(db, |r| r.set_secondary_groups(u.key, &[o.key, g.key, o.key])).unwrap();
    let mut expected = vec![g.key, o.key];
    expected.sort_unstable();
    assert_eq!(read(db, |r| r.secondary_groups(u.key)).unwrap(), expected);
    write(db, |r| r.set_secondary_groups(u.key, &[o.key])).unwrap();
    assert_eq!(read(db, |r| r.secondary_groups(u.key)).unwrap(), vec![o.key]);
    assert_err(
        write(db, |r| r.set_secondary_groups(u.key, &[987_654])),
        StoreError::NotFound("group"),
    );
    assert_eq!(
        read(db, |r| r.secondary_groups(u.key)).unwrap(),
        vec![o.key],
        "a failed set changes nothing"
    );
    assert_err(
        write(db, |r| r.set_secondary_groups(UserKey(987_654), &[g.key])),
        StoreError::NotFound("user"),
    );
}

pub fn users_by_key_uuid_username_and_path(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    assert_eq!(u.version, Version::FIRST);
    assert_eq!((u.created_at, u.updated_at), (T0, T0));
    assert_eq!(u.username.as_str(), "u1@sip.example");
    assert_eq!(read(db, |r| r.user_by_key(u.key)).unwrap(), Some(u.clone()));
    assert_eq!(read(db, |r| r.user_by_uuid(&u.uuid)).unwrap(), Some(u.clone()));
    assert_eq!(read(db, |r| r.user_by_username(&u.username)).unwrap(), Some(u.clone()));
    assert_eq!(
        read(db, |r| r.user_by_path(&member("Pie", "PieGroup", "u1"))).unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        read(db, |r| r.user_with_password(&u.username)).unwrap(),
        Some((u.clone(), None))
    );
    assert_eq!(read(db, |r| r.user_by_key(UserKey(u.key.0 + 1000))).unwrap(), None);
    assert_eq!(read(db, |r| r.user_by_uuid(&Uuid::new_v4())).unwrap(), None);
    assert_eq!(
        read(db, |r| r.user_by_username(&Username::parse("nobody").unwrap())).unwrap(),
        None
    );
    assert_eq!(
        read(db, |r| r.user_by_path(&member("Pie", "OtherGroup", "u1"))).unwrap(),
        None
    );
    assert_eq!(
        read(db, |r| r.user_with_password(&Username::parse("nobody").unwrap())).unwrap(),
        None
    );
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 1);
}

pub fn every_role_round_trips(db: &TestDatabase) {
    directory(db);
    ensure_department(db, department_key("Pie", Some("PieGroup"), "sales"), None).unwrap();
    ensure_department(db, department_key("Pie", None, "hq"), None).unwrap();
    let roles = [
        Role::System,
        Role::TenantAdmin {
            tenant: tenant_id("Pie"),
        },
        Role::GroupAdmin {
            member: member("Pie", "PieGroup", "ga"),
        },
        Role::DepartmentAdmin {
            member: member("Pie", "PieGroup", "da"),
            department: DepartmentName::parse("sales").unwrap(),
        },
        Role::DepartmentAdmin {
            member: member("Pie", "PieGroup", "da2"),
            department: DepartmentName::parse("hq").unwrap(),
        },
        Role::EndUser {
            member: member("Pie", "OtherGroup", "eu"),
        },
    ];
    for (i, role) in roles.into_iter().enumerate() {
        let new = new_user(&format!("user{i}"), role.clone());
        let created = write(db, |r| r.create_user(&new, T0)).unwrap();
        assert_eq!(created.role, role);
        assert_eq!(created.uuid, new.uuid);
        assert_eq!(read(db, |r| r.user_by_key(created.key)).unwrap().unwrap().role, role);
    }
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 6);
}

pub fn create_user_conflicts_name_the_field(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let role = |id: &str| Role::EndUser {
        member: member("Pie", "PieGroup", id),
    };
    assert_err(
        write(db, |r| r.create_user(&new_user(u.username.as_str(), role("u2")), T0)),
        StoreError::Conflict("username"),
    );
    assert_err(
        write(db, |r| r.create_user(&new_user("fresh", role("u1")), T0)),
        StoreError::Conflict("user_id"),
    );
    let mut same_uuid = new_user("fresh", role("u3"));
    same_uuid.uuid = u.uuid;
    assert_err(
        write(db, |r| r.create_user(&same_uuid, T0)),
        StoreError::Conflict("uuid"),
    );
    // The same user id in another group is another user.
    let other = Role::EndUser {
        member: member("Pie", "OtherGroup", "u1"),
    };
    write(db, |r| r.create_user(&new_user("other-u1", other), T0)).unwrap();
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 2);
}

pub fn create_user_references_must_exist(db: &TestDatabase) {
    directory(db);
    let cases = [
        (
            Role::TenantAdmin {
                tenant: tenant_id("Nope"),
            },
            StoreError::NotFound("tenant"),
        ),
        (
            Role::EndUser {
                member: member("Nope", "PieGroup", "u"),
            },
            StoreError::NotFound("tenant"),
        ),
        (
            Role::EndUser {
                member: member("Pie", "Nope", "u"),
            },
            StoreError::NotFound("group"),
        ),
        (
            Role::DepartmentAdmin {
                member: member("Pie", "PieGroup", "u"),
                department: DepartmentName::parse("nope").unwrap(),
            },
            StoreError::NotFound("department"),
        ),
    ];
    for (role, expected) in cases {
        assert_err(write(db, |r| r.create_user(&new_user("x", role), T0)), expected);
    }
    let mut with_department = new_user(
        "x",
        Role::EndUser {
            member: member("Pie", "PieGroup", "u"),
        },
    );
    with_department.profile.department = Some(department_key("Pie", Some("PieGroup"), "nope"));
    assert_err(
        write(db, |r| r.create_user(&with_department, T0)),
        StoreError::NotFound("department"),
    );
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 0);
}

pub fn user_departments_resolve_within_the_user_tree(db: &TestDatabase) {
    directory(db);
    ensure_department(db, department_key("Pie", Some("PieGroup"), "parent"), None).unwrap();
    ensure_department(db, department_key("Pie", Some("PieGroup"), "initial"), Some("parent")).unwrap();
    ensure_department(db, department_key("Pie", Some("OtherGroup"), "foreign"), None).unwrap();
    ensure_department(db, department_key("Pie", None, "hq"), None).unwrap();
    let role = Role::EndUser {
        member: member("Pie", "PieGroup", "u1"),
    };
    let mut new = new_user("u1", role.clone());
    new.profile.department = Some(department_key("Pie", Some("PieGroup"), "initial"));
    let u = write(db, |r| r.create_user(&new, T0)).unwrap();
    let department = u.profile.department.clone().unwrap();
    assert_eq!(department.full_path_name(), "parent \\ initial");
    assert_eq!(department.key, department_key("Pie", Some("PieGroup"), "initial"));
    // An enterprise department of the user's tenant is fine.
    let change = ProfileChange {
        department: Some(Some(department_key("Pie", None, "hq"))),
        ..ProfileChange::default()
    };
    let u = write(db, |r| r.update_profile(u.key, None, &change, T0)).unwrap();
    assert_eq!(u.profile.department.unwrap().key, department_key("Pie", None, "hq"));
    // Another group's department is not within the user's reach.
    let change = ProfileChange {
        department: Some(Some(department_key("Pie", Some("OtherGroup"), "foreign"))),
        ..ProfileChange::default()
    };
    assert_err(
        write(db, |r| r.update_profile(u.key, None, &change, T0)),
        StoreError::NotFound("department"),
    );
    // Clearing.
    let change = ProfileChange {
        department: Some(None),
        ..ProfileChange::default()
    };
    let u = write(db, |r| r.update_profile(u.key, None, &change, T0)).unwrap();
    assert_eq!(u.profile.department, None);
}

pub fn list_group_users_pages_by_key(db: &TestDatabase) {
    directory(db);
    let users: Vec<_> = (0..5).map(|i| end_user(db, &format!("u{i}"))).collect();
    write(db, |r| {
        r.create_user(
            &new_user(
                "elsewhere",
                Role::EndUser {
                    member: member("Pie", "OtherGroup", "x"),
                },
            ),
            T0,
        )
    })
    .unwrap();
    let (pie, group) = (tenant_id("Pie"), group_id("PieGroup"));
    let page = |after, limit| read(db, |r| r.list_group_users(&pie, &group, PageRequest { after, limit })).unwrap();
    let first = page(None, 2);
    assert_eq!(first.items, users[..2].to_vec());
    assert_eq!(first.next_after, Some(users[1].key));
    let second = page(first.next_after, 2);
    assert_eq!(second.items, users[2..4].to_vec());
    let last = page(second.next_after, 2);
    assert_eq!(last.items, users[4..].to_vec());
    assert_eq!(last.next_after, None);
    assert_eq!(page(None, 5).next_after, None, "no next page when it would be empty");
    assert!(page(None, 0).items.is_empty());
    let none = read(db, |r| {
        r.list_group_users(&pie, &group_id("Nope"), PageRequest { after: None, limit: 10 })
    })
    .unwrap();
    assert!(none.items.is_empty());
}

pub fn update_profile_sets_clears_and_versions(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let later = Timestamp::from_millis(T0.as_millis() + 5000);
    let change = ProfileChange {
        first_name: Some(Name::parse_for("firstName", "Test First Name").unwrap()),
        last_name: Some(Name::parse_for("lastName", "Test Last Name").unwrap()),
        cli_first_name: Some(Text::parse_for("cliFirstName", "CLI First").unwrap()),
        cli_last_name: Some(Text::parse_for("cliLastName", "CLI Last").unwrap()),
        phone_number: Some(PhoneNumber::parse_for("phoneNumber", "+32 2 123 45 67").unwrap()),
        extension: Some(accountd_domain::text::Extension::parse_for("extension", "4000").unwrap()),
        cli_phone_number: Some(PhoneNumber::parse_for("cliPhoneNumber", "123").unwrap()),
        department: None,
        language: Some(Some(Language::parse_for("language", "English").unwrap())),
        email: Some(Some(
            EmailAddress::parse_for("emailAddress", "testemail@netaxis.be").unwrap(),
        )),
        network_class_of_service: Some(Text::parse_for("networkClassOfService", "9").unwrap()),
        time_zone: Some(Some(TimeZoneName::parse_for("timeZone", "Europe/Brussels").unwrap())),
        mobile: Some(PhoneNumber::parse_for("mobile", "+353 (89) 6742087").unwrap()),
        description: Some(Text::parse_for("description", "Created by admin").unwrap()),
        image: Some(Text::parse_for("image", "resources/photo.jpg").unwrap()),
    };
    let updated = write(db, |r| r.update_profile(u.key, None, &change, later)).unwrap();
    let mut expected = u.profile.clone();
    change.apply_except_department(&mut expected);
    assert_eq!(updated.profile, expected);
    assert_eq!(updated.version, Version(2));
    assert_eq!((updated.created_at, updated.updated_at), (T0, later));
    assert_eq!(read(db, |r| r.user_by_key(u.key)).unwrap(), Some(updated.clone()));

    // Only the given fields change; `Some(None)` clears.
    let clear = ProfileChange {
        email: Some(None),
        time_zone: Some(None),
        ..ProfileChange::default()
    };
    let cleared = write(db, |r| r.update_profile(u.key, None, &clear, later)).unwrap();
    assert_eq!(cleared.profile.email, None);
    assert_eq!(cleared.profile.time_zone, None);
    assert_eq!(cleared.profile.language, expected.language);
    assert_eq!(cleared.profile.first_name, expected.first_name);
    assert_eq!(cleared.version, Version(3));
    // An empty change still counts as a change.
    let same = write(db, |r| r.update_profile(u.key, None, &ProfileChange::default(), later)).unwrap();
    assert_eq!(same.version, Version(4));
    assert_err(
        write(db, |r| r.update_profile(UserKey(u.key.0 + 99), None, &clear, later)),
        StoreError::NotFound("user"),
    );
}

pub fn update_profile_checks_expected_version(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let change = ProfileChange {
        first_name: Some(Name::parse_for("firstName", "Jane").unwrap()),
        ..ProfileChange::default()
    };
    let v2 = write(db, |r| r.update_profile(u.key, Some(Version(1)), &change, T0)).unwrap();
    assert_eq!(v2.version, Version(2));
    assert_err(
        write(db, |r| r.update_profile(u.key, Some(Version(1)), &change, T0)),
        StoreError::VersionMismatch,
    );
    assert_err(
        write(db, |r| {
            r.update_account(u.key, Some(Version(1)), &AccountChange::default(), T0)
        }),
        StoreError::VersionMismatch,
    );
    assert_err(
        write(db, |r| {
            r.update_profile(UserKey(u.key.0 + 99), Some(Version(1)), &change, T0)
        }),
        StoreError::NotFound("user"),
    );
    assert_eq!(read(db, |r| r.user_by_key(u.key)).unwrap().unwrap().version, Version(2));
}

pub fn update_account_changes_status(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let change = AccountChange {
        enabled: Some(false),
        state: Some(AccountState::Pending),
    };
    let later = Timestamp::from_millis(T0.as_millis() + 1);
    let updated = write(db, |r| r.update_account(u.key, Some(u.version), &change, later)).unwrap();
    assert!(!updated.enabled);
    assert_eq!(updated.state, AccountState::Pending);
    assert_eq!(updated.version, Version(2));
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.profile, u.profile);
    let only_enabled = AccountChange {
        enabled: Some(true),
        state: None,
    };
    let updated = write(db, |r| r.update_account(u.key, None, &only_enabled, later)).unwrap();
    assert!(updated.enabled);
    assert_eq!(updated.state, AccountState::Pending);
    assert_err(
        write(db, |r| r.update_account(UserKey(-1), None, &only_enabled, later)),
        StoreError::NotFound("user"),
    );
}

pub fn passwords_and_history(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    assert_eq!(read(db, |r| r.password(u.key)).unwrap(), None);
    assert!(read(db, |r| r.password_history(u.key, 10)).unwrap().is_empty());
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    write(db, |r| r.set_password(u.key, &hash(1), true, 3, at(1))).unwrap();
    let p = read(db, |r| r.password(u.key)).unwrap().unwrap();
    assert_eq!((p.hash.clone(), p.changed_at, p.first_login), (hash(1), at(1), true));
    assert!(
        read(db, |r| r.password_history(u.key, 10)).unwrap().is_empty(),
        "a first password has no history"
    );
    for n in 2..=6 {
        write(db, |r| r.set_password(u.key, &hash(n), false, 3, at(i64::from(n)))).unwrap();
    }
    // Current 6; history newest first, trimmed to 3.
    assert_eq!(read(db, |r| r.password(u.key)).unwrap().unwrap().hash, hash(6));
    assert_eq!(
        read(db, |r| r.password_history(u.key, 10)).unwrap(),
        vec![hash(5), hash(4), hash(3)]
    );
    assert_eq!(
        read(db, |r| r.password_history(u.key, 2)).unwrap(),
        vec![hash(5), hash(4)]
    );
    // Keeping fewer trims at once.
    write(db, |r| r.set_password(u.key, &hash(7), false, 1, at(7))).unwrap();
    assert_eq!(read(db, |r| r.password_history(u.key, 10)).unwrap(), vec![hash(6)]);
    write(db, |r| r.set_password(u.key, &hash(8), true, 0, at(8))).unwrap();
    assert!(read(db, |r| r.password_history(u.key, 10)).unwrap().is_empty());

    // Rehash: same history, time and flag.
    write(db, |r| r.set_password(u.key, &hash(9), true, 5, at(9))).unwrap();
    write(db, |r| r.rehash_password(u.key, &hash(99))).unwrap();
    let p = read(db, |r| r.password(u.key)).unwrap().unwrap();
    assert_eq!((p.hash, p.changed_at, p.first_login), (hash(99), at(9), true));
    assert_eq!(read(db, |r| r.password_history(u.key, 10)).unwrap(), vec![hash(8)]);
    write(db, |r| r.clear_first_login(u.key)).unwrap();
    let (user, password) = read(db, |r| r.user_with_password(&u.username)).unwrap().unwrap();
    assert_eq!(user, u);
    assert!(!password.unwrap().first_login);

    let other = end_user(db, "u2");
    assert_err(
        write(db, |r| r.rehash_password(other.key, &hash(1))),
        StoreError::NotFound("password"),
    );
    write(db, |r| r.clear_first_login(other.key)).unwrap();
    assert_err(
        write(db, |r| r.set_password(UserKey(-5), &hash(1), true, 3, at(1))),
        StoreError::NotFound("user"),
    );
}

pub fn pins_history_and_failures(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    assert_eq!(read(db, |r| r.pin(u.key)).unwrap(), None);
    assert_err(
        write(db, |r| r.record_pin_failure(u.key)),
        StoreError::NotFound("pinCode"),
    );
    let settings = PinSettings::new(true, 3600, false).unwrap();
    // Settings without a PIN.
    write(db, |r| r.set_pin(u.key, None, &settings, 3, T0)).unwrap();
    let pin = read(db, |r| r.pin(u.key)).unwrap().unwrap();
    assert_eq!(
        (pin.hash, pin.settings, pin.changed_at, pin.failed_attempts),
        (None, settings, None, 0)
    );
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    write(db, |r| r.set_pin(u.key, Some(&hash(1)), &settings, 3, at(1))).unwrap();
    assert!(read(db, |r| r.pin_history(u.key, 10)).unwrap().is_empty());
    assert_eq!(write(db, |r| r.record_pin_failure(u.key)).unwrap(), 1);
    assert_eq!(write(db, |r| r.record_pin_failure(u.key)).unwrap(), 2);
    // Settings only: PIN, time and failures stay.
    let relaxed = PinSettings::new(false, 30, true).unwrap();
    write(db, |r| r.set_pin(u.key, None, &relaxed, 3, at(2))).unwrap();
    let pin = read(db, |r| r.pin(u.key)).unwrap().unwrap();
    assert_eq!(
        (pin.hash, pin.settings, pin.changed_at, pin.failed_attempts),
        (Some(hash(1)), relaxed, Some(at(1)), 2)
    );
    // A new PIN: the old one joins the history, failures reset.
    for n in 2..=5 {
        write(db, |r| r.set_pin(u.key, Some(&hash(n)), &relaxed, 2, at(i64::from(n)))).unwrap();
    }
    let pin = read(db, |r| r.pin(u.key)).unwrap().unwrap();
    assert_eq!(
        (pin.hash, pin.changed_at, pin.failed_attempts),
        (Some(hash(5)), Some(at(5)), 0)
    );
    assert_eq!(read(db, |r| r.pin_history(u.key, 10)).unwrap(), vec![hash(4), hash(3)]);
    assert_eq!(read(db, |r| r.pin_history(u.key, 1)).unwrap(), vec![hash(4)]);
    assert_err(
        write(db, |r| r.set_pin(UserKey(-5), None, &relaxed, 2, T0)),
        StoreError::NotFound("user"),
    );
}

pub fn devices_and_endpoints(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    write(db, |r| {
        r.ensure_device(&group_device("DP_1"))?;
        r.ensure_device(&group_device("DP_1"))?; // idempotent
        r.ensure_device(&group_device("DP_2"))?;
        r.ensure_device(&accountd_domain::endpoint::Device {
            owner: DeviceOwner::System,
            name: DeviceName::parse("TG_1").unwrap(),
        })
    })
    .unwrap();
    assert_err(
        write(db, |r| {
            r.ensure_device(&accountd_domain::endpoint::Device {
                owner: DeviceOwner::ServiceProvider {
                    tenant: tenant_id("Nope"),
                },
                name: DeviceName::parse("x").unwrap(),
            })
        }),
        StoreError::NotFound("tenant"),
    );
    assert_eq!(read(db, |r| r.endpoint(u.key)).unwrap(), None);
    let main = access("DP_1", "LP_1@sip.example");
    write(db, |r| r.set_endpoint(u.key, Some(&main))).unwrap();
    assert_eq!(read(db, |r| r.endpoint(u.key)).unwrap(), Some(main.clone()));
    // Replacing, with a trunk on a system-level device.
    let trunk = Endpoint::Trunk(TrunkEndpoint {
        device: device_ref("TG_1", DeviceLevel::System),
        line_port: line("tg1@sip.example"),
        contacts: vec![],
    });
    write(db, |r| r.set_endpoint(u.key, Some(&trunk))).unwrap();
    assert_eq!(read(db, |r| r.endpoint(u.key)).unwrap(), Some(trunk));
    write(db, |r| r.set_endpoint(u.key, Some(&main))).unwrap();
    assert_eq!(read(db, |r| r.endpoint(u.key)).unwrap(), Some(main.clone()));
    // Additional lines, in the order added.
    write(db, |r| {
        r.add_additional_endpoint(u.key, &additional("DP_2", "LP_1b@sip.example"))?;
        r.add_additional_endpoint(u.key, &additional("DP_1", "LP_1c@sip.example"))
    })
    .unwrap();
    assert_eq!(
        read(db, |r| r.additional_endpoints(u.key)).unwrap(),
        vec![
            additional("DP_2", "LP_1b@sip.example"),
            additional("DP_1", "LP_1c@sip.example")
        ]
    );
    // Missing devices, and users outside any group.
    assert_err(
        write(db, |r| r.set_endpoint(u.key, Some(&access("DP_9", "LP_9@x")))),
        StoreError::NotFound("device"),
    );
    assert_err(
        write(db, |r| r.add_additional_endpoint(u.key, &additional("DP_9", "LP_9@x"))),
        StoreError::NotFound("device"),
    );
    assert_eq!(
        read(db, |r| r.endpoint(u.key)).unwrap(),
        Some(main),
        "a failed set keeps the old endpoint"
    );
    let admin = write(db, |r| {
        r.create_user(
            &new_user(
                "admin",
                Role::TenantAdmin {
                    tenant: tenant_id("Pie"),
                },
            ),
            T0,
        )
    })
    .unwrap();
    assert_err(
        write(db, |r| r.set_endpoint(admin.key, Some(&access("DP_1", "LP_a@x")))),
        StoreError::NotFound("group"),
    );
    assert_err(
        write(db, |r| r.set_endpoint(UserKey(-3), None)),
        StoreError::NotFound("user"),
    );
    // Removing the main endpoint keeps the additional ones.
    write(db, |r| r.set_endpoint(u.key, None)).unwrap();
    assert_eq!(read(db, |r| r.endpoint(u.key)).unwrap(), None);
    assert_eq!(read(db, |r| r.additional_endpoints(u.key)).unwrap().len(), 2);
}

pub fn line_ports_are_unique(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    write(db, |r| r.ensure_device(&group_device("DP_1"))).unwrap();
    write(db, |r| r.set_endpoint(a.key, Some(&access("DP_1", "LP_a@x")))).unwrap();
    assert_err(
        write(db, |r| r.set_endpoint(b.key, Some(&access("DP_1", "LP_a@x")))),
        StoreError::Conflict("linePort"),
    );
    assert_err(
        write(db, |r| r.add_additional_endpoint(b.key, &additional("DP_1", "LP_a@x"))),
        StoreError::Conflict("linePort"),
    );
    assert_err(
        write(db, |r| r.add_additional_endpoint(a.key, &additional("DP_1", "LP_a@x"))),
        StoreError::Conflict("linePort"),
    );
    // Re-setting one's own endpoint with the same line port is fine.
    write(db, |r| r.set_endpoint(a.key, Some(&access("DP_1", "LP_a@x")))).unwrap();
    assert_eq!(read(db, |r| r.endpoint(b.key)).unwrap(), None);
}

fn line_ref(user: &str, port: &str) -> LineRef {
    LineRef {
        user_id: UserId::parse(user).unwrap(),
        line_port: line(port),
    }
}

fn delete_opts(delete_devices: bool) -> DeleteOptions {
    DeleteOptions {
        delete_devices,
        excluded_app_ids: vec![],
    }
}

pub fn delete_with_devices_unlinks_other_users(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let c = end_user(db, "c");
    write(db, |r| {
        for d in ["DP_main", "DP_extra", "DP_b", "DP_c"] {
            r.ensure_device(&group_device(d))?;
        }
        // a: main on DP_main (two lines there), additional on DP_extra.
        r.set_endpoint(a.key, Some(&access("DP_main", "a1@x")))?;
        r.add_additional_endpoint(a.key, &additional("DP_main", "a2@x"))?;
        r.add_additional_endpoint(a.key, &additional("DP_extra", "a3@x"))?;
        // b: main on DP_b, additional (shared) on DP_main.
        r.set_endpoint(b.key, Some(&access("DP_b", "b1@x")))?;
        r.add_additional_endpoint(b.key, &additional("DP_main", "b2@x"))?;
        // c: main on DP_extra (a's additional device); DP_c stays untouched.
        r.set_endpoint(c.key, Some(&access("DP_extra", "c1@x")))
    })
    .unwrap();
    let outcome = write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), Some(a.version), &delete_opts(true))
    })
    .unwrap();
    assert!(outcome.existed);
    assert_eq!(outcome.deleted_main_device, Some(line_ref("a", "a1@x")));
    assert_eq!(outcome.deleted_additional_devices, vec![line_ref("a", "a3@x")]);
    assert_eq!(
        outcome.detached_additional_users,
        vec![line_ref("b", "b2@x"), line_ref("c", "c1@x")]
    );
    assert_eq!(read(db, |r| r.user_by_key(a.key)).unwrap(), None);
    // b keeps its own device, loses the shared line; c loses its main line.
    assert_eq!(read(db, |r| r.endpoint(b.key)).unwrap(), Some(access("DP_b", "b1@x")));
    assert!(read(db, |r| r.additional_endpoints(b.key)).unwrap().is_empty());
    assert_eq!(read(db, |r| r.endpoint(c.key)).unwrap(), None);
    // The devices are gone, the line ports free.
    assert_err(
        write(db, |r| r.set_endpoint(c.key, Some(&access("DP_main", "a1@x")))),
        StoreError::NotFound("device"),
    );
    assert_err(
        write(db, |r| r.set_endpoint(c.key, Some(&access("DP_extra", "a1@x")))),
        StoreError::NotFound("device"),
    );
    write(db, |r| r.set_endpoint(c.key, Some(&access("DP_c", "a1@x")))).unwrap();
}

pub fn delete_without_devices_keeps_devices(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    write(db, |r| {
        r.ensure_device(&group_device("DP_main"))?;
        r.ensure_device(&group_device("DP_extra"))?;
        r.set_endpoint(a.key, Some(&access("DP_main", "a1@x")))?;
        r.add_additional_endpoint(a.key, &additional("DP_extra", "a2@x"))?;
        r.add_additional_endpoint(b.key, &additional("DP_main", "b2@x"))
    })
    .unwrap();
    let outcome = write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), None, &delete_opts(false))
    })
    .unwrap();
    assert!(outcome.existed);
    // The main line is reported as unlinked; nothing else.
    assert_eq!(outcome.deleted_main_device, Some(line_ref("a", "a1@x")));
    assert!(outcome.deleted_additional_devices.is_empty());
    assert!(outcome.detached_additional_users.is_empty());
    assert_eq!(
        read(db, |r| r.additional_endpoints(b.key)).unwrap(),
        vec![additional("DP_main", "b2@x")]
    );
    // The devices are still there, and a's line ports are free again.
    write(db, |r| r.set_endpoint(b.key, Some(&access("DP_extra", "a1@x")))).unwrap();
    write(db, |r| r.add_additional_endpoint(b.key, &additional("DP_main", "a2@x"))).unwrap();
}

pub fn delete_keeps_trunk_devices(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let trunk = |port: &str| {
        Endpoint::Trunk(TrunkEndpoint {
            device: device_ref("TG", DeviceLevel::Group),
            line_port: line(port),
            contacts: vec![],
        })
    };
    write(db, |r| {
        r.ensure_device(&group_device("TG"))?;
        r.set_endpoint(a.key, Some(&trunk("a@tg")))?;
        r.set_endpoint(b.key, Some(&trunk("b@tg")))
    })
    .unwrap();
    let outcome = write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), None, &delete_opts(true))
    })
    .unwrap();
    assert_eq!(outcome.deleted_main_device, Some(line_ref("a", "a@tg")));
    assert!(outcome.detached_additional_users.is_empty());
    assert_eq!(read(db, |r| r.endpoint(b.key)).unwrap(), Some(trunk("b@tg")));
}

pub fn delete_keeps_excluded_app_data(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let data = |app: &str, body: &str| AppData {
        app: AppId::parse(app).unwrap(),
        data: body.to_owned(),
    };
    write(db, |r| {
        r.put_app_data(a.key, &data("keep", r#"{"k":1}"#))?;
        r.put_app_data(a.key, &data("drop", r#"{"d":1}"#))?;
        r.put_app_data(a.key, &data("also-keep", "[]"))
    })
    .unwrap();
    let options = DeleteOptions {
        delete_devices: true,
        excluded_app_ids: vec![AppId::parse("keep").unwrap(), AppId::parse("also-keep").unwrap()],
    };
    write(db, |r| r.delete_user(&member("Pie", "PieGroup", "a"), None, &options)).unwrap();
    // A user created again at the same place finds the kept data.
    let again = end_user(db, "a");
    assert_eq!(
        read(db, |r| r.app_data(again.key)).unwrap(),
        vec![data("also-keep", "[]"), data("keep", r#"{"k":1}"#)]
    );
    // Without exclusions everything goes.
    write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), None, &DeleteOptions::default())
    })
    .unwrap();
    let third = end_user(db, "a");
    assert!(read(db, |r| r.app_data(third.key)).unwrap().is_empty());
}

pub fn delete_missing_or_stale(db: &TestDatabase) {
    directory(db);
    let missing = write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "ghost"), None, &delete_opts(true))
    })
    .unwrap();
    assert!(!missing.existed);
    assert_eq!(missing, accountd_domain::ports::DeleteOutcome::default());
    let missing = write(db, |r| {
        r.delete_user(&member("Nope", "Nope", "ghost"), Some(Version(3)), &delete_opts(true))
    })
    .unwrap();
    assert!(!missing.existed);
    let a = end_user(db, "a");
    assert_err(
        write(db, |r| {
            r.delete_user(&member("Pie", "PieGroup", "a"), Some(Version(7)), &delete_opts(true))
        }),
        StoreError::VersionMismatch,
    );
    assert!(read(db, |r| r.user_by_key(a.key)).unwrap().is_some());
    // Another group's user of the same id is not this one.
    let gone = write(db, |r| {
        r.delete_user(&member("Pie", "OtherGroup", "a"), None, &delete_opts(true))
    })
    .unwrap();
    assert!(!gone.existed);
    let done = write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), Some(a.version), &delete_opts(true))
    })
    .unwrap();
    assert!(done.existed);
    assert_eq!(done.deleted_main_device, None);
}

pub fn delete_cascades_credentials_sessions_and_tokens(db: &TestDatabase) {
    let (_, g, _) = directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    write(db, |r| {
        r.set_password(a.key, &hash(1), false, 3, T0)?;
        r.set_password(a.key, &hash(2), false, 3, T0)?;
        r.set_pin(a.key, Some(&hash(3)), &PinSettings::default(), 3, T0)?;
        r.set_pin(a.key, Some(&hash(4)), &PinSettings::default(), 3, T0)?;
        r.create_session(&new_session(1, a.key))?;
        r.create_session(&new_session(2, b.key))?;
        r.create_api_token(&new_token(3, a.key))?;
        r.set_secondary_groups(a.key, &[g.key])?;
        r.record_audit(&audit(Some(a.key), AuditAction::Login))
    })
    .unwrap();
    write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "a"), None, &delete_opts(true))
    })
    .unwrap();
    assert_eq!(read(db, |r| r.password(a.key)).unwrap(), None);
    assert!(read(db, |r| r.password_history(a.key, 10)).unwrap().is_empty());
    assert_eq!(read(db, |r| r.pin(a.key)).unwrap(), None);
    assert!(read(db, |r| r.pin_history(a.key, 10)).unwrap().is_empty());
    assert_eq!(read(db, |r| r.session_with_user(&digest(1))).unwrap(), None);
    assert!(read(db, |r| r.session_with_user(&digest(2))).unwrap().is_some());
    assert_eq!(read(db, |r| r.api_token_with_user(&digest(3))).unwrap(), None);
    assert!(read(db, |r| r.secondary_groups(a.key)).unwrap().is_empty());
    // The audit log outlives the user.
    assert_eq!(read(db, |r| r.recent_audit(Some(a.key), 10)).unwrap().len(), 1);
}

pub fn app_data_per_group_member(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let data = |app: &str, body: &str| AppData {
        app: AppId::parse(app).unwrap(),
        data: body.to_owned(),
    };
    write(db, |r| {
        r.put_app_data(a.key, &data("z-app", "1"))?;
        r.put_app_data(a.key, &data("a-app", "2"))?;
        r.put_app_data(a.key, &data("z-app", "3"))?; // replaces
        r.put_app_data(b.key, &data("a-app", "b's"))
    })
    .unwrap();
    assert_eq!(
        read(db, |r| r.app_data(a.key)).unwrap(),
        vec![data("a-app", "2"), data("z-app", "3")]
    );
    assert_eq!(read(db, |r| r.app_data(b.key)).unwrap(), vec![data("a-app", "b's")]);
    let admin = write(db, |r| r.create_user(&new_user("admin", Role::System), T0)).unwrap();
    assert_err(
        write(db, |r| r.put_app_data(admin.key, &data("x", "1"))),
        StoreError::NotFound("user"),
    );
    assert!(read(db, |r| r.app_data(admin.key)).unwrap().is_empty());
    assert_err(
        write(db, |r| r.put_app_data(UserKey(-1), &data("x", "1"))),
        StoreError::NotFound("user"),
    );
}

fn new_session(n: u8, user: UserKey) -> NewSession {
    NewSession {
        digest: digest(n),
        user,
        auth: AuthMethod::Session,
        created_at: Timestamp::from_millis(T0.as_millis() + i64::from(n)),
        expires_at: Timestamp::from_millis(T0.as_millis() + 3_600_000),
        client: ClientInfo {
            address: Some("192.0.2.1".to_owned()),
            user_agent: Some(format!("agent {n}")),
        },
        proved_at: Timestamp::from_millis(T0.as_millis() + i64::from(n)),
        enrollment_only: false,
        password_change_only: false,
    }
}

fn new_token(n: u8, user: UserKey) -> NewApiToken {
    NewApiToken {
        digest: digest(n),
        user,
        name: text(&format!("token {n}")),
        created_at: Timestamp::from_millis(T0.as_millis() + i64::from(n)),
        expires_at: n
            .is_multiple_of(2)
            .then_some(Timestamp::from_millis(T0.as_millis() + 86_400_000)),
        scope: if n.is_multiple_of(2) {
            TokenScope::Read
        } else {
            TokenScope::Full
        },
        personal: n.is_multiple_of(2),
    }
}

fn audit(subject: Option<UserKey>, action: AuditAction) -> AuditEvent {
    AuditEvent {
        at: T0,
        actor: subject,
        actor_name: Some("someone".to_owned()),
        subject,
        action,
        fields: vec!["firstName".to_owned(), "password".to_owned()],
        outcome: AuditOutcome::Success,
        request_id: Some("req-1".to_owned()),
        client: ClientInfo {
            address: Some("192.0.2.7".to_owned()),
            user_agent: Some("Agent/1.0".to_owned()),
        },
        actor_level: Some(accountd_domain::level::UserLevel::GroupAdmin),
    }
}

pub fn sessions_lifecycle(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let s1 = write(db, |r| r.create_session(&new_session(1, a.key))).unwrap();
    assert_eq!(s1.digest, digest(1));
    assert_eq!(s1.user, a.key);
    assert_eq!(s1.auth, AuthMethod::Session);
    assert_eq!(s1.last_seen_at, s1.created_at);
    assert_eq!(s1.client.user_agent.as_deref(), Some("agent 1"));
    let (session, user) = read(db, |r| r.session_with_user(&digest(1))).unwrap().unwrap();
    assert_eq!((session, user), (s1.clone(), a.clone()));
    assert_eq!(read(db, |r| r.session_with_user(&digest(9))).unwrap(), None);
    assert_err(
        write(db, |r| r.create_session(&new_session(1, b.key))),
        StoreError::Conflict("session"),
    );
    assert_err(
        write(db, |r| r.create_session(&new_session(7, UserKey(-1)))),
        StoreError::NotFound("user"),
    );

    let later = Timestamp::from_millis(T0.as_millis() + 60_000);
    write(db, |r| r.touch_session(&digest(1), later)).unwrap();
    assert_eq!(
        read(db, |r| r.session_with_user(&digest(1)))
            .unwrap()
            .unwrap()
            .0
            .last_seen_at,
        later
    );

    write(db, |r| {
        r.create_session(&new_session(2, a.key))?;
        r.create_session(&new_session(3, a.key))?;
        r.create_session(&new_session(4, b.key))
    })
    .unwrap();
    let mine: Vec<TokenDigest> = read(db, |r| r.user_sessions(a.key))
        .unwrap()
        .into_iter()
        .map(|s| s.digest)
        .collect();
    assert_eq!(mine, vec![digest(3), digest(2), digest(1)], "newest first");
    // Ending one by handle: only the owner's.
    let s2 = read(db, |r| r.user_sessions(a.key)).unwrap()[1].clone();
    assert!(!write(db, |r| r.delete_user_session(b.key, s2.id)).unwrap());
    assert!(write(db, |r| r.delete_user_session(a.key, s2.id)).unwrap());
    // Every other session of a, keeping the current one.
    assert_eq!(
        write(db, |r| r.delete_user_sessions(a.key, Some(&digest(1)))).unwrap(),
        1
    );
    assert_eq!(
        read(db, |r| r.user_sessions(a.key)).unwrap(),
        vec![read(db, |r| r.session_with_user(&digest(1))).unwrap().unwrap().0]
    );
    assert!(write(db, |r| r.delete_session(&digest(1))).unwrap());
    assert!(!write(db, |r| r.delete_session(&digest(1))).unwrap());
    assert_eq!(write(db, |r| r.delete_user_sessions(b.key, None)).unwrap(), 1);

    // Purge: expired, or idle since before the cut-off.
    write(db, |r| {
        r.create_session(&new_session(5, a.key))?; // expires T0+1h, last seen T0+5
        let mut fresh = new_session(6, a.key);
        fresh.expires_at = Timestamp::from_millis(T0.as_millis() + 7_200_000);
        r.create_session(&fresh)?;
        r.touch_session(&digest(6), Timestamp::from_millis(T0.as_millis() + 3_000_000))
    })
    .unwrap();
    let now = Timestamp::from_millis(T0.as_millis() + 3_700_000);
    assert_eq!(
        write(db, |r| r.purge_sessions(now, Timestamp::from_millis(T0.as_millis()))).unwrap(),
        1
    );
    assert_eq!(read(db, |r| r.user_sessions(a.key)).unwrap().len(), 1);
    assert_eq!(
        write(db, |r| r.purge_sessions(now, now)).unwrap(),
        1,
        "idle since before `idle_before`"
    );
    assert!(read(db, |r| r.user_sessions(a.key)).unwrap().is_empty());
}

pub fn api_tokens_lifecycle(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let t1 = write(db, |r| r.create_api_token(&new_token(1, a.key))).unwrap();
    let t2 = write(db, |r| r.create_api_token(&new_token(2, a.key))).unwrap();
    assert_eq!(
        (t1.name.as_str(), t1.expires_at, t1.last_used_at),
        ("token 1", None, None)
    );
    assert!(t2.expires_at.is_some());
    assert_eq!((t1.scope, t1.personal), (TokenScope::Full, false));
    assert_eq!((t2.scope, t2.personal), (TokenScope::Read, true));
    assert_err(
        write(db, |r| r.create_api_token(&new_token(1, b.key))),
        StoreError::Conflict("token"),
    );
    assert_err(
        write(db, |r| r.create_api_token(&new_token(9, UserKey(-1)))),
        StoreError::NotFound("user"),
    );
    assert_eq!(
        read(db, |r| r.api_token_with_user(&digest(1))).unwrap(),
        Some((t1.clone(), a.clone()))
    );
    assert_eq!(read(db, |r| r.api_token_with_user(&digest(8))).unwrap(), None);
    write(db, |r| r.touch_api_token(t1.id, T0)).unwrap();
    let listed = read(db, |r| r.user_api_tokens(a.key)).unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![t2.id, t1.id],
        "newest first"
    );
    assert_eq!(listed[1].last_used_at, Some(T0));
    assert!(
        !write(db, |r| r.revoke_api_token(b.key, t1.id)).unwrap(),
        "only the owner revokes"
    );
    assert!(write(db, |r| r.revoke_api_token(a.key, t1.id)).unwrap());
    assert!(!write(db, |r| r.revoke_api_token(a.key, t1.id)).unwrap());
    assert_eq!(read(db, |r| r.user_api_tokens(a.key)).unwrap(), vec![t2]);
    let t3 = write(db, |r| r.create_api_token(&new_token(3, b.key))).unwrap();
    write(db, |r| r.create_api_token(&new_token(4, a.key))).unwrap();
    assert_eq!(write(db, |r| r.revoke_user_api_tokens(a.key)).unwrap(), 2);
    assert_eq!(read(db, |r| r.user_api_tokens(a.key)).unwrap(), vec![]);
    assert_eq!(read(db, |r| r.user_api_tokens(b.key)).unwrap(), vec![t3], "only theirs");
}

pub fn throttle_windows(db: &TestDatabase) {
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    assert_eq!(read(db, |r| r.throttle_state("account:1")).unwrap(), None);
    let hit = |s| write(db, |r| r.throttle_hit("account:1", at(s), 60)).unwrap();
    let state = |s: &ThrottleState| (s.failures, s.previous_failures, s.window_started_at);
    assert_eq!(state(&hit(0)), (1, 0, at(0)));
    assert_eq!(state(&hit(30)), (2, 0, at(0)));
    assert_eq!(state(&hit(59)), (3, 0, at(0)));
    // 60 seconds after the window started, the next one starts where it ended, and the three
    // become the previous window's.
    let rolled = hit(61);
    assert_eq!(state(&rolled), (1, 3, at(60)));
    assert_eq!(read(db, |r| r.throttle_state("account:1")).unwrap(), Some(rolled));
    assert_eq!(state(&hit(119)), (2, 3, at(60)));
    // A whole window without failures: nothing of the old ones is left.
    assert_eq!(state(&hit(250)), (1, 0, at(250)));
    // Keys are independent.
    assert_eq!(
        write(db, |r| r.throttle_hit("address:192.0.2.1", at(251), 60))
            .unwrap()
            .failures,
        1
    );
    write(db, |r| r.throttle_clear("account:1")).unwrap();
    assert_eq!(read(db, |r| r.throttle_state("account:1")).unwrap(), None);
    write(db, |r| r.throttle_clear("account:1")).unwrap();
    assert_eq!(
        read(db, |r| r.throttle_state("address:192.0.2.1"))
            .unwrap()
            .unwrap()
            .failures,
        1
    );
    // The purge deletes keys whose window started at or before its bound, and only those.
    write(db, |r| r.throttle_hit("old", at(0), 60)).unwrap();
    assert_eq!(write(db, |r| r.throttle_purge(at(100))).unwrap(), 1);
    assert_eq!(read(db, |r| r.throttle_state("old")).unwrap(), None);
    assert!(read(db, |r| r.throttle_state("address:192.0.2.1")).unwrap().is_some());
}

pub fn user_claims_exclude_and_expire(db: &TestDatabase) {
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    let ttl = std::time::Duration::from_secs(10);
    let (a, b) = (UserKey(1), UserKey(2));
    // A free user is claimed; another holder waits while the claim lives.
    assert!(write(db, |r| r.claim_user(a, "h1", at(0), ttl)).unwrap());
    assert!(!write(db, |r| r.claim_user(a, "h2", at(5), ttl)).unwrap());
    // Claims of different users are independent (also outside a write transaction).
    assert!(read(db, |r| r.claim_user(b, "h2", at(5), ttl)).unwrap());
    // The holder may renew its own claim.
    assert!(write(db, |r| r.claim_user(a, "h1", at(6), ttl)).unwrap());
    assert!(!write(db, |r| r.claim_user(a, "h2", at(15), ttl)).unwrap());
    // Only the holder releases; then anyone may claim.
    assert!(!write(db, |r| r.release_user_claim(a, "h2")).unwrap());
    assert!(write(db, |r| r.release_user_claim(a, "h1")).unwrap());
    assert!(!write(db, |r| r.release_user_claim(a, "h1")).unwrap());
    assert!(write(db, |r| r.claim_user(a, "h2", at(16), ttl)).unwrap());
    // A crashed holder's claim expires (at `now + ttl`, inclusive) and is taken over; the old
    // holder's late release then changes nothing.
    assert!(!write(db, |r| r.claim_user(a, "h3", at(25), ttl)).unwrap());
    assert!(write(db, |r| r.claim_user(a, "h3", at(26), ttl)).unwrap());
    assert!(!write(db, |r| r.release_user_claim(a, "h2")).unwrap());
    assert!(!write(db, |r| r.claim_user(a, "h2", at(27), ttl)).unwrap());
    // Inside a larger write transaction, a refused claim leaves the transaction usable.
    let (refused, then) = write(db, |r| {
        let refused = r.claim_user(a, "h4", at(28), ttl)?;
        let then = r.claim_user(UserKey(3), "h4", at(28), ttl)?;
        Ok((refused, then))
    })
    .unwrap();
    assert!(!refused && then);
    // The purge deletes the expired claims only (b's, to 15, and 4's, to 10); a's (h3's, to 36) and
    // user 3's (to 38) live on.
    assert!(write(db, |r| r.claim_user(UserKey(4), "h5", at(0), ttl)).unwrap());
    assert_eq!(write(db, |r| r.purge_expired_claims(at(30))).unwrap(), 2);
    assert!(
        !write(db, |r| r.claim_user(a, "h6", at(30), ttl)).unwrap(),
        "a's claim is still live"
    );
    assert!(
        write(db, |r| r.claim_user(UserKey(4), "h6", at(30), ttl)).unwrap(),
        "4's was purged"
    );
}

/// Many threads race for one user's claim at the same instant: exactly one wins.
pub fn user_claims_race_has_one_winner(db: &TestDatabase) {
    let ttl = std::time::Duration::from_secs(10);
    let database: &Database = db;
    let wins = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let wins = &wins;
            s.spawn(move || {
                let holder = format!("racer{t}");
                if write(database, |r| r.claim_user(UserKey(7), &holder, T0, ttl)).unwrap() {
                    wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(wins.into_inner(), 1);
}

fn outbox_message(topic: &str, user: Option<i64>, not_before: Timestamp) -> NewOutboxMessage {
    NewOutboxMessage {
        topic: topic.to_owned(),
        user: user.map(UserKey),
        payload: format!("{{\"n\":{}}}", not_before.as_millis()),
        not_before,
    }
}

/// The outbox: due messages are leased oldest first, one user's in order, a live lease excludes;
/// retries put back with attempts and error; stats and divergences.
pub fn outbox_leases_in_order_retries_and_records_divergences(db: &TestDatabase) {
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    let (u1, u2) = (Some(1), Some(2));
    let first = write(db, |r| r.enqueue_outbox(&outbox_message("t", u1, at(0)), at(0))).unwrap();
    let second = write(db, |r| r.enqueue_outbox(&outbox_message("t", u1, at(0)), at(0))).unwrap();
    let other = write(db, |r| r.enqueue_outbox(&outbox_message("t", u2, at(0)), at(0))).unwrap();
    let later = write(db, |r| r.enqueue_outbox(&outbox_message("t", None, at(60)), at(0))).unwrap();
    assert!(first < second && second < other && other < later);
    let stats = read(db, |r| r.outbox_stats()).unwrap();
    assert_eq!(
        (stats.depth, stats.oldest_created_at, stats.divergences),
        (4, Some(at(0)), 0)
    );

    // User 1's second message waits for its first; the not-yet-due one stays.
    let leased = write(db, |r| r.lease_outbox(at(1), "w1", at(11), 10)).unwrap();
    let ids: Vec<i64> = leased.iter().map(|m| m.id).collect();
    assert_eq!(ids, [first, other]);
    assert_eq!(leased[0].user, Some(UserKey(1)));
    assert_eq!(leased[0].topic, "t");
    assert_eq!(leased[0].attempts, 0);
    // A live lease excludes another lessee; user 1's second message still waits.
    assert!(
        write(db, |r| r.lease_outbox(at(2), "w2", at(12), 10))
            .unwrap()
            .is_empty()
    );
    // A failed attempt: put back with its count and error, due later.
    write(db, |r| r.retry_outbox(first, 1, at(5), Some("the AS was down"))).unwrap();
    let stored = read(db, |r| r.outbox_message(first)).unwrap().unwrap();
    assert_eq!((stored.attempts, stored.not_before), (1, at(5)));
    assert_eq!(stored.last_error.as_deref(), Some("the AS was down"));
    assert!(
        write(db, |r| r.lease_outbox(at(3), "w2", at(13), 10))
            .unwrap()
            .is_empty()
    );
    // Due again; the expired lease of `other` (to 11) is taken over at 12.
    let leased = write(db, |r| r.lease_outbox(at(12), "w2", at(22), 10)).unwrap();
    assert_eq!(leased.iter().map(|m| m.id).collect::<Vec<_>>(), [first, other]);
    // Delivered: deleted; user 1's next one comes up.
    assert!(write(db, |r| r.remove_outbox(first)).unwrap());
    assert!(!write(db, |r| r.remove_outbox(first)).unwrap());
    assert!(write(db, |r| r.remove_outbox(other)).unwrap());
    let leased = write(db, |r| r.lease_outbox(at(60), "w3", at(70), 1)).unwrap();
    assert_eq!(
        leased.iter().map(|m| m.id).collect::<Vec<_>>(),
        [second],
        "the limit holds"
    );
    assert_eq!(read(db, |r| r.outbox_stats()).unwrap().oldest_created_at, Some(at(0)));

    // An error text is bounded.
    write(db, |r| r.retry_outbox(second, 2, at(60), Some(&"x".repeat(10_000)))).unwrap();
    let stored = read(db, |r| r.outbox_message(second)).unwrap().unwrap();
    assert_eq!(stored.last_error.map(|e| e.len()), Some(500));

    // Divergences: recorded, counted, listed oldest first, resolved once.
    let d1 = write(db, |r| {
        r.record_divergence(Some(UserKey(1)), "upstream.password", "diverged", at(1))
    })
    .unwrap();
    let d2 = write(db, |r| r.record_divergence(None, "mail", "gave up", at(2))).unwrap();
    assert_eq!(read(db, |r| r.outbox_stats()).unwrap().divergences, 2);
    let listed = read(db, |r| r.divergences()).unwrap();
    assert_eq!(listed.iter().map(|d| d.id).collect::<Vec<_>>(), [d1, d2]);
    assert_eq!(listed[0].user, Some(UserKey(1)));
    assert_eq!(
        (listed[0].topic.as_str(), listed[0].detail.as_str()),
        ("upstream.password", "diverged")
    );
    assert_eq!(listed[1].recorded_at, at(2));
    assert!(write(db, |r| r.resolve_divergence(d1)).unwrap());
    assert!(!write(db, |r| r.resolve_divergence(d1)).unwrap());
    assert_eq!(read(db, |r| r.outbox_stats()).unwrap().divergences, 1);

    // Written inside a transaction that rolls back, a message is not there.
    let rolled_back: Result<(), CallerError> = db.write(|r| {
        r.enqueue_outbox(&outbox_message("t", None, at(0)), at(0))?;
        Err(CallerError::Upstream)
    });
    assert!(rolled_back.is_err());
    assert_eq!(read(db, |r| r.outbox_stats()).unwrap().depth, 2);
}

/// Many lessees at the same instant: every due message is leased exactly once.
pub fn outbox_leases_are_disjoint(db: &TestDatabase) {
    let database: &Database = db;
    for n in 0..40 {
        write(db, |r| r.enqueue_outbox(&outbox_message("t", Some(n), T0), T0)).unwrap();
    }
    let leased = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..6 {
            let leased = &leased;
            s.spawn(move || {
                let holder = format!("worker{t}");
                loop {
                    let got = write(database, |r| r.lease_outbox(T0, &holder, T0.plus_seconds(60), 3)).unwrap();
                    if got.is_empty() {
                        return;
                    }
                    leased.lock().unwrap().extend(got.into_iter().map(|m| m.id));
                }
            });
        }
    });
    let mut ids = leased.into_inner().unwrap();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((total, ids.len()), (40, 40), "each message leased once");
}

pub fn audit_newest_first(db: &TestDatabase) {
    let events = [
        audit(Some(UserKey(1)), AuditAction::Login),
        audit(Some(UserKey(2)), AuditAction::PasswordChange),
        audit(Some(UserKey(1)), AuditAction::ProfileUpdate),
        AuditEvent {
            actor: None,
            actor_name: Some("unknown@x".to_owned()),
            subject: None,
            fields: vec![],
            outcome: AuditOutcome::Denied,
            request_id: None,
            ..audit(None, AuditAction::Login)
        },
    ];
    for e in &events {
        write(db, |r| r.record_audit(e)).unwrap();
    }
    assert_eq!(
        read(db, |r| r.recent_audit(Some(UserKey(1)), 10)).unwrap(),
        vec![events[2].clone(), events[0].clone()]
    );
    assert_eq!(
        read(db, |r| r.recent_audit(Some(UserKey(1)), 1)).unwrap(),
        vec![events[2].clone()]
    );
    let all = read(db, |r| r.recent_audit(None, 10)).unwrap();
    assert_eq!(all, events.iter().rev().cloned().collect::<Vec<_>>());
    assert!(read(db, |r| r.recent_audit(Some(UserKey(3)), 10)).unwrap().is_empty());

    // Pages of one subject by cursor, newest first; the client comes back as recorded, its
    // User-Agent cut to 256 characters.
    let first = read(db, |r| r.audit_page(UserKey(1), None, 1)).unwrap();
    assert_eq!(first.iter().map(|r| &r.event).collect::<Vec<_>>(), [&events[2]]);
    let rest = read(db, |r| r.audit_page(UserKey(1), Some(first[0].id), 10)).unwrap();
    assert_eq!(rest.iter().map(|r| &r.event).collect::<Vec<_>>(), [&events[0]]);
    assert!(
        read(db, |r| r.audit_page(UserKey(1), Some(rest[0].id), 10))
            .unwrap()
            .is_empty()
    );
    let long = AuditEvent {
        client: ClientInfo {
            address: Some("x".repeat(5_000)),
            user_agent: Some("é".repeat(300)),
        },
        actor_level: None,
        ..audit(Some(UserKey(5)), AuditAction::Login)
    };
    write(db, |r| r.record_audit(&long)).unwrap();
    let stored = read(db, |r| r.audit_page(UserKey(5), None, 1)).unwrap();
    assert_eq!(stored[0].event.client.user_agent, Some("é".repeat(256)));
    assert_eq!(stored[0].event.client.address, Some("x".repeat(64)));
    assert_eq!(stored[0].event.actor_level, None);
}

pub fn audit_purge_deletes_only_the_old_oldest_first_in_batches(db: &TestDatabase) {
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    // Recorded out of order: the purge goes by `at`, not by id.
    let events: Vec<AuditEvent> = [5, 1, 30, 3, 2, 40, 4]
        .into_iter()
        .map(|s| AuditEvent {
            at: at(s),
            ..audit(Some(UserKey(s)), AuditAction::Login)
        })
        .collect();
    for e in &events {
        write(db, |r| r.record_audit(e)).unwrap();
    }
    let left = |db: &TestDatabase| -> Vec<i64> {
        let mut s: Vec<i64> = read(db, |r| r.recent_audit(None, 100))
            .unwrap()
            .into_iter()
            .map(|e| (e.at.as_millis() - T0.as_millis()) / 1000)
            .collect();
        s.sort_unstable();
        s
    };
    // A batch of 2 of the five before 10 s: the two oldest.
    assert_eq!(write(db, |r| r.purge_audit(at(10), 2)).unwrap(), 2);
    assert_eq!(left(db), vec![3, 4, 5, 30, 40]);
    // The rest of them; an event at the bound itself stays.
    assert_eq!(write(db, |r| r.purge_audit(at(30), 100)).unwrap(), 3);
    assert_eq!(left(db), vec![30, 40]);
    assert_eq!(write(db, |r| r.purge_audit(at(30), 100)).unwrap(), 0);
    assert_eq!(write(db, |r| r.purge_audit(at(0), 100)).unwrap(), 0);
    // What stays reads back whole.
    assert_eq!(
        read(db, |r| r.recent_audit(Some(UserKey(40)), 10)).unwrap(),
        vec![events[5].clone()]
    );
}

/// An error of the caller's own, as a service's would be.
#[derive(Debug, PartialEq)]
enum CallerError {
    Store(StoreError),
    Upstream,
}

impl From<StoreError> for CallerError {
    fn from(e: StoreError) -> Self {
        CallerError::Store(e)
    }
}

pub fn write_rolls_back_on_err(db: &TestDatabase) {
    directory(db);
    let result: Result<(), CallerError> = db.write(|r| {
        let u = r.create_user(
            &new_user(
                "rolled-back",
                Role::EndUser {
                    member: member("Pie", "PieGroup", "rb"),
                },
            ),
            T0,
        )?;
        r.set_password(u.key, &hash(1), true, 3, T0)?;
        r.create_session(&new_session(1, u.key))?;
        r.throttle_hit("k", T0, 60)?;
        r.record_audit(&audit(Some(u.key), AuditAction::UserCreate))?;
        Err(CallerError::Upstream)
    });
    assert_eq!(result, Err(CallerError::Upstream));
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 0);
    assert_eq!(read(db, |r| r.session_with_user(&digest(1))).unwrap(), None);
    assert_eq!(read(db, |r| r.throttle_state("k")).unwrap(), None);
    assert!(read(db, |r| r.recent_audit(None, 10)).unwrap().is_empty());
    // A store error is the caller's too.
    let result: Result<(), CallerError> = db.write(|r| {
        r.ensure_tenant(&tenant_id("Temp"), &text(""))?;
        r.ensure_group(&tenant_id("Nope"), &group_id("G"), &text(""))?;
        Ok(())
    });
    assert_eq!(result, Err(CallerError::Store(StoreError::NotFound("tenant"))));
    assert_eq!(read(db, |r| r.tenant(&tenant_id("Temp"))).unwrap(), None);
}

pub fn failed_statement_keeps_write_usable(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    // Inside one transaction: a conflict, handled by the caller, then more writes that commit.
    let (b, c) = write(db, |r| {
        let taken = r.create_user(&new_user(a.username.as_str(), Role::System), T0);
        assert_eq!(taken, Err(StoreError::Conflict("username")));
        let b = r.create_user(
            &new_user(
                "b",
                Role::EndUser {
                    member: member("Pie", "PieGroup", "b"),
                },
            ),
            T0,
        )?;
        r.ensure_device(&group_device("DP"))?;
        r.set_endpoint(b.key, Some(&access("DP", "b@x")))?;
        assert_eq!(
            r.set_endpoint(a.key, Some(&access("DP", "b@x"))),
            Err(StoreError::Conflict("linePort"))
        );
        assert_eq!(
            r.set_password(UserKey(-1), &hash(1), true, 1, T0),
            Err(StoreError::NotFound("user"))
        );
        let c = r.create_user(&new_user("c", Role::System), T0)?;
        Ok((b, c))
    })
    .unwrap();
    assert_eq!(read(db, |r| r.count_users()).unwrap(), 3);
    assert_eq!(read(db, |r| r.user_by_key(b.key)).unwrap(), Some(b.clone()));
    assert_eq!(read(db, |r| r.user_by_key(c.key)).unwrap(), Some(c));
    assert_eq!(read(db, |r| r.endpoint(b.key)).unwrap(), Some(access("DP", "b@x")));
}

pub fn reads_may_write_single_statements(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    // `read` has no transaction; each port method is still atomic on its own.
    read(db, |r| {
        r.create_session(&new_session(1, a.key))?;
        r.touch_session(&digest(1), T0)?;
        r.set_password(a.key, &hash(1), false, 2, T0)?;
        r.set_password(a.key, &hash(2), false, 2, T0)?;
        r.throttle_hit("x", T0, 10)?;
        assert_eq!(
            r.create_session(&new_session(1, a.key)),
            Err(StoreError::Conflict("session"))
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(read(db, |r| r.password_history(a.key, 5)).unwrap(), vec![hash(1)]);
    assert!(read(db, |r| r.session_with_user(&digest(1))).unwrap().is_some());
}

pub fn corrupt_rows_are_reported(db: &TestDatabase) {
    directory(db);
    let a = end_user(db, "a");
    let b = end_user(db, "b");
    let c = end_user(db, "c");
    db.execute_raw(&format!(
        "UPDATE users SET username = 'has space' WHERE key = {}",
        a.key
    ))
    .unwrap();
    db.execute_raw(&format!(
        "UPDATE users SET email = 'not-an-email' WHERE key = {}",
        b.key
    ))
    .unwrap();
    db.execute_raw(&format!("UPDATE users SET state = 'banned' WHERE key = {}", c.key))
        .unwrap();
    for key in [a.key, b.key, c.key] {
        match read(db, |r| r.user_by_key(key)) {
            Err(StoreError::Corrupt(_)) => {}
            other => panic!("expected Corrupt for user {key}, got {other:?}"),
        }
    }
    // A broken department path.
    ensure_department(db, department_key("Pie", Some("PieGroup"), "d"), None).unwrap();
    db.execute_raw("UPDATE departments SET path = 'not json'").unwrap();
    assert!(matches!(
        read(db, |r| r.department(&department_key("Pie", Some("PieGroup"), "d"))),
        Err(StoreError::Corrupt(_))
    ));
    // PIN settings out of range, and a bad hash.
    let d = end_user(db, "d");
    write(db, |r| r.set_pin(d.key, Some(&hash(1)), &PinSettings::default(), 1, T0)).unwrap();
    db.execute_raw("UPDATE pincodes SET expiration_days = 0").unwrap();
    assert!(matches!(read(db, |r| r.pin(d.key)), Err(StoreError::Corrupt(_))));
    write(db, |r| r.set_password(d.key, &hash(1), false, 1, T0)).unwrap();
    db.execute_raw("UPDATE passwords SET hash = ''").unwrap();
    assert!(matches!(read(db, |r| r.password(d.key)), Err(StoreError::Corrupt(_))));
    // Other rows are unaffected.
    assert!(read(db, |r| r.user_by_key(d.key)).unwrap().is_some());
}

pub fn tenant_delete_cascades(db: &TestDatabase) {
    let (t, _, _) = directory(db);
    ensure_department(db, department_key("Pie", Some("PieGroup"), "sales"), None).unwrap();
    ensure_department(db, department_key("Pie", None, "hq"), None).unwrap();
    let admin = write(db, |r| {
        r.create_user(
            &new_user(
                "da",
                Role::DepartmentAdmin {
                    member: member("Pie", "PieGroup", "da"),
                    department: DepartmentName::parse("hq").unwrap(),
                },
            ),
            T0,
        )
    })
    .unwrap();
    let a = end_user(db, "a");
    let system = write(db, |r| r.create_user(&new_user("root", Role::System), T0)).unwrap();
    write(db, |r| {
        r.ensure_device(&group_device("DP"))?;
        r.set_endpoint(a.key, Some(&access("DP", "a@x")))?;
        r.set_password(a.key, &hash(1), true, 1, T0)?;
        r.create_session(&new_session(1, admin.key))?;
        r.set_tenant_licenses(&t.id, &[license(1)])?;
        r.put_app_data(
            a.key,
            &AppData {
                app: AppId::parse("app").unwrap(),
                data: "{}".to_owned(),
            },
        )
    })
    .unwrap();
    db.execute_raw(&format!("DELETE FROM tenants WHERE key = {}", t.key))
        .unwrap();
    assert_eq!(
        read(db, |r| r.count_users()).unwrap(),
        1,
        "only the system user is left"
    );
    assert!(read(db, |r| r.user_by_key(system.key)).unwrap().is_some());
    assert_eq!(read(db, |r| r.group(&t.id, &group_id("PieGroup"))).unwrap(), None);
    assert_eq!(
        read(db, |r| r.department(&department_key("Pie", None, "hq"))).unwrap(),
        None
    );
    assert_eq!(read(db, |r| r.session_with_user(&digest(1))).unwrap(), None);
    assert!(read(db, |r| r.tenant_licenses(&t.id)).unwrap().is_empty());
    // Re-created, the tenant starts empty: no device, no app data left behind.
    directory(db);
    let again = end_user(db, "a");
    assert_err(
        write(db, |r| r.set_endpoint(again.key, Some(&access("DP", "a@x")))),
        StoreError::NotFound("device"),
    );
    assert!(read(db, |r| r.app_data(again.key)).unwrap().is_empty());
}

pub fn ping_reports_pending_migrations(db: &TestDatabase) {
    db.ping().unwrap();
    db.execute_raw("DELETE FROM __diesel_schema_migrations").unwrap();
    assert!(matches!(
        db.ping(),
        Err(accountd_storage::StorageError::PendingMigrations)
    ));
}

pub fn pool_timeout_is_unavailable(db: &TestDatabase) {
    // A second database on the same data, with one connection and a short wait for it.
    let opts = accountd_storage::PoolOptions {
        max_size: 1,
        connection_timeout: std::time::Duration::from_millis(200),
        ..accountd_storage::PoolOptions::default()
    };
    let small = Database::open(db.url(), &opts).unwrap();
    let result = small.read(|_outer| read(&small, |r| r.count_users()));
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
    // The connection is back in the pool afterwards.
    assert_eq!(read(&small, |r| r.count_users()).unwrap(), 0);
}

/// Second factors (issue 18): a TOTP step is accepted once and only forward (the replay rule
/// lives in the conditional write), recovery codes are used once and replaced as a set, login
/// challenges count failures and expire, sessions record their proof, and everything goes with
/// the user.
pub fn second_factors_are_used_once_and_go_with_the_user(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    assert_eq!(read(db, |r| r.totp_factor(u.key)).unwrap(), None);
    assert!(
        !write(db, |r| r.use_totp_step(u.key, 5, at(0))).unwrap(),
        "no authenticator"
    );

    let factor = TotpFactor {
        user: u.key,
        sealed: SealedSecret {
            key_id: "k1".to_owned(),
            bytes: vec![1, 2, 3],
        },
        created_at: at(0),
        confirmed_at: None,
        last_step: None,
    };
    write(db, |r| r.put_totp_factor(&factor)).unwrap();
    assert_eq!(read(db, |r| r.totp_factor(u.key)).unwrap().as_ref(), Some(&factor));
    // The first code confirms it; the same step again, or an earlier one, is refused.
    assert!(write(db, |r| r.use_totp_step(u.key, 100, at(1))).unwrap());
    assert!(!write(db, |r| r.use_totp_step(u.key, 100, at(2))).unwrap());
    assert!(!write(db, |r| r.use_totp_step(u.key, 99, at(2))).unwrap());
    assert!(write(db, |r| r.use_totp_step(u.key, 101, at(3))).unwrap());
    let stored = read(db, |r| r.totp_factor(u.key)).unwrap().unwrap();
    assert_eq!((stored.confirmed_at, stored.last_step), (Some(at(1)), Some(101)));
    // A new enrollment replaces it, unconfirmed.
    write(db, |r| {
        r.put_totp_factor(&TotpFactor {
            created_at: at(4),
            ..factor.clone()
        })
    })
    .unwrap();
    let replaced = read(db, |r| r.totp_factor(u.key)).unwrap().unwrap();
    assert_eq!((replaced.confirmed_at, replaced.last_step), (None, None));

    // Recovery codes: a set, each used once, replaced whole.
    let codes: Vec<TokenDigest> = (1..=10).map(digest).collect();
    write(db, |r| r.replace_recovery_codes(u.key, &codes, at(5))).unwrap();
    assert_eq!(read(db, |r| r.recovery_codes_left(u.key)).unwrap(), 10);
    assert!(write(db, |r| r.use_recovery_code(u.key, &digest(3))).unwrap());
    assert!(!write(db, |r| r.use_recovery_code(u.key, &digest(3))).unwrap());
    assert_eq!(read(db, |r| r.recovery_codes_left(u.key)).unwrap(), 9);
    write(db, |r| {
        r.replace_recovery_codes(u.key, &[digest(20), digest(21)], at(6))
    })
    .unwrap();
    assert!(
        !write(db, |r| r.use_recovery_code(u.key, &digest(4))).unwrap(),
        "the old set died"
    );
    assert_eq!(read(db, |r| r.recovery_codes_left(u.key)).unwrap(), 2);
    assert_eq!(
        read(db, |r| r.recovery_code_digests(u.key)).unwrap(),
        [digest(20), digest(21)]
    );

    // Login challenges.
    let challenge = LoginChallenge {
        digest: digest(40),
        user: u.key,
        created_at: at(0),
        expires_at: at(300),
        failures: 0,
        passkey_state: Some(r#"{"challenge":"x"}"#.to_owned()),
    };
    write(db, |r| r.create_login_challenge(&challenge)).unwrap();
    assert_eq!(
        read(db, |r| r.login_challenge(&digest(40))).unwrap().as_ref(),
        Some(&challenge)
    );
    assert_eq!(write(db, |r| r.count_challenge_failure(&digest(40))).unwrap(), 1);
    assert_eq!(write(db, |r| r.count_challenge_failure(&digest(40))).unwrap(), 2);
    assert_eq!(write(db, |r| r.count_challenge_failure(&digest(41))).unwrap(), 0);
    assert_eq!(write(db, |r| r.purge_login_challenges(at(300))).unwrap(), 0);
    assert_eq!(write(db, |r| r.purge_login_challenges(at(301))).unwrap(), 1);
    assert!(!write(db, |r| r.delete_login_challenge(&digest(40))).unwrap());
    write(db, |r| {
        r.create_login_challenge(&LoginChallenge {
            digest: digest(42),
            ..challenge.clone()
        })
    })
    .unwrap();
    assert!(write(db, |r| r.delete_login_challenge(&digest(42))).unwrap());

    // Sessions record their last proof.
    let session = write(db, |r| r.create_session(&new_session(50, u.key))).unwrap();
    assert!(!session.enrollment_only);
    assert!(write(db, |r| r.prove_session(&digest(50), at(60), true)).unwrap());
    let (proved, _) = read(db, |r| r.session_with_user(&digest(50))).unwrap().unwrap();
    assert_eq!((proved.proved_at, proved.enrollment_only), (at(60), true));
    assert!(!write(db, |r| r.prove_session(&digest(51), at(60), false)).unwrap());

    // Everything goes with the user.
    write(db, |r| {
        r.create_login_challenge(&LoginChallenge {
            digest: digest(43),
            ..challenge.clone()
        })
    })
    .unwrap();
    let path = u.role.member().cloned().unwrap();
    write(db, |r| r.delete_user(&path, None, &DeleteOptions::default())).unwrap();
    assert_eq!(read(db, |r| r.totp_factor(u.key)).unwrap(), None);
    assert_eq!(read(db, |r| r.recovery_codes_left(u.key)).unwrap(), 0);
    assert_eq!(read(db, |r| r.login_challenge(&digest(43))).unwrap(), None);
    assert!(!write(db, |r| r.delete_totp_factor(u.key)).unwrap());
}

pub fn password_reset_links_are_taken_once_before_expiry(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let other = end_user(db, "u2");
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    write(db, |r| r.create_password_reset(&digest(70), u.key, at(0), at(60))).unwrap();
    write(db, |r| r.create_password_reset(&digest(71), u.key, at(0), at(60))).unwrap();
    write(db, |r| r.create_password_reset(&digest(72), other.key, at(0), at(10))).unwrap();
    assert_err(
        write(db, |r| r.create_password_reset(&digest(73), UserKey(-1), at(0), at(60))),
        StoreError::NotFound("user"),
    );
    // Read without using it; only before it expires.
    assert_eq!(
        read(db, |r| r.password_reset_user(&digest(70), at(59))).unwrap(),
        Some(u.key)
    );
    assert_eq!(read(db, |r| r.password_reset_user(&digest(70), at(60))).unwrap(), None);
    assert_eq!(read(db, |r| r.password_reset_user(&digest(99), at(1))).unwrap(), None);
    // Taken once.
    assert_eq!(
        write(db, |r| r.take_password_reset(&digest(70), at(1))).unwrap(),
        Some(u.key)
    );
    assert_eq!(write(db, |r| r.take_password_reset(&digest(70), at(1))).unwrap(), None);
    assert_eq!(
        write(db, |r| r.take_password_reset(&digest(72), at(10))).unwrap(),
        None,
        "expired"
    );
    // The user's other links go at once; the purge takes the expired ones.
    assert_eq!(write(db, |r| r.delete_password_resets(u.key)).unwrap(), 1);
    assert_eq!(write(db, |r| r.purge_password_resets(at(11))).unwrap(), 1);
    // Found by e-mail address, exactly.
    let by_email = read(db, |r| r.users_by_email("nobody@example.com", 5)).unwrap();
    assert!(by_email.is_empty());
}

pub fn email_changes_wait_one_per_user_and_are_taken_once(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let other = end_user(db, "u2");
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    let change = |address: &str, expires: i64| accountd_domain::records::PendingEmailChange {
        email: EmailAddress::parse_for("emailAddress", address).unwrap(),
        created_at: at(0),
        expires_at: at(expires),
    };
    write(db, |r| {
        r.put_email_change(u.key, &digest(80), &change("a@example.org", 60))
    })
    .unwrap();
    // A newer change replaces the pending one, and its link.
    write(db, |r| {
        r.put_email_change(u.key, &digest(81), &change("b@example.org", 60))
    })
    .unwrap();
    write(db, |r| {
        r.put_email_change(other.key, &digest(82), &change("c@example.org", 10))
    })
    .unwrap();
    assert_err(
        write(db, |r| {
            r.put_email_change(UserKey(-1), &digest(83), &change("d@example.org", 60))
        }),
        StoreError::NotFound("user"),
    );
    assert_eq!(read(db, |r| r.email_change_link(&digest(80), at(1))).unwrap(), None);
    assert_eq!(
        read(db, |r| r.email_change(u.key, at(59))).unwrap(),
        Some(change("b@example.org", 60))
    );
    assert_eq!(read(db, |r| r.email_change(u.key, at(60))).unwrap(), None, "expired");
    let b = EmailAddress::parse_for("emailAddress", "b@example.org").unwrap();
    assert_eq!(
        read(db, |r| r.email_change_link(&digest(81), at(1))).unwrap(),
        Some((u.key, b.clone()))
    );
    // Taken once, before it expires.
    assert_eq!(
        write(db, |r| r.take_email_change(&digest(81), at(1))).unwrap(),
        Some((u.key, b))
    );
    assert_eq!(write(db, |r| r.take_email_change(&digest(81), at(1))).unwrap(), None);
    assert_eq!(
        write(db, |r| r.take_email_change(&digest(82), at(10))).unwrap(),
        None,
        "expired"
    );
    assert!(!write(db, |r| r.delete_email_change(u.key)).unwrap());
    write(db, |r| {
        r.put_email_change(u.key, &digest(84), &change("e@example.org", 60))
    })
    .unwrap();
    assert!(write(db, |r| r.delete_email_change(u.key)).unwrap());
    assert_eq!(write(db, |r| r.purge_email_changes(at(11))).unwrap(), 1);
    assert_eq!(read(db, |r| r.email_change(other.key, at(1))).unwrap(), None);
}

pub fn password_change_demands_hold_sessions_until_settled(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let other = end_user(db, "u2");
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    assert!(!read(db, |r| r.password_change_demanded(u.key)).unwrap());
    write(db, |r| r.demand_password_change(u.key, at(1))).unwrap();
    // A second demand changes nothing (and is no error).
    write(db, |r| r.demand_password_change(u.key, at(2))).unwrap();
    assert!(read(db, |r| r.password_change_demanded(u.key)).unwrap());
    assert!(!read(db, |r| r.password_change_demanded(other.key)).unwrap());
    assert_err(
        write(db, |r| r.demand_password_change(UserKey(-1), at(1))),
        StoreError::NotFound("user"),
    );

    // Sessions keep whether they are held; settling lifts the user's, and only theirs.
    let held = NewSession {
        password_change_only: true,
        ..new_session(60, u.key)
    };
    assert!(write(db, |r| r.create_session(&held)).unwrap().password_change_only);
    write(db, |r| {
        r.create_session(&NewSession {
            password_change_only: true,
            ..new_session(61, other.key)
        })
    })
    .unwrap();
    assert!(write(db, |r| r.settle_password_change(u.key)).unwrap());
    assert!(!read(db, |r| r.password_change_demanded(u.key)).unwrap());
    let (lifted, _) = read(db, |r| r.session_with_user(&digest(60))).unwrap().unwrap();
    assert!(!lifted.password_change_only);
    let (still, _) = read(db, |r| r.session_with_user(&digest(61))).unwrap().unwrap();
    assert!(still.password_change_only);
    assert!(!write(db, |r| r.settle_password_change(u.key)).unwrap());

    // The demand goes with the user.
    write(db, |r| r.demand_password_change(other.key, at(3))).unwrap();
    write(db, |r| {
        r.delete_user(&member("Pie", "PieGroup", "u2"), None, &delete_opts(true))
    })
    .unwrap();
    assert!(!read(db, |r| r.password_change_demanded(other.key)).unwrap());
}

pub fn passkeys_move_forward_and_ceremonies_are_taken_once(db: &TestDatabase) {
    directory(db);
    let u = end_user(db, "u1");
    let other = end_user(db, "u2");
    let at = |s: i64| Timestamp::from_millis(T0.as_millis() + s * 1000);
    let new = NewPasskey {
        user: u.key,
        credential_id: vec![1, 2, 3],
        name: "Laptop".to_owned(),
        credential: r#"{"cred":{"counter":3}}"#.to_owned(),
        counter: 3,
        backup_eligible: true,
        backup_state: false,
        created_at: at(0),
        last_used_at: None,
    };
    let stored = write(db, |r| r.add_passkey(&new)).unwrap();
    assert_eq!(stored.passkey, new);
    // A credential signs in one account.
    let again = write(db, |r| {
        r.add_passkey(&NewPasskey {
            user: other.key,
            ..new.clone()
        })
    });
    assert!(matches!(again, Err(StoreError::Conflict("passkey"))), "{again:?}");
    let second = write(db, |r| {
        r.add_passkey(&NewPasskey {
            credential_id: vec![9],
            name: "Phone".to_owned(),
            ..new.clone()
        })
    })
    .unwrap();
    let mine = read(db, |r| r.user_passkeys(u.key)).unwrap();
    assert_eq!(
        mine.iter().map(|p| p.passkey.name.as_str()).collect::<Vec<_>>(),
        ["Laptop", "Phone"]
    );
    assert_eq!(read(db, |r| r.user_passkeys(other.key)).unwrap(), vec![]);
    assert_eq!(
        read(db, |r| r.passkey_by_credential(&[1, 2, 3])).unwrap(),
        Some(stored.clone())
    );
    assert_eq!(read(db, |r| r.passkey_by_credential(&[7])).unwrap(), None);

    // A use moves the counter on only from the value seen.
    let used = NewPasskey {
        credential: r#"{"cred":{"counter":4}}"#.to_owned(),
        counter: 4,
        backup_state: true,
        ..new.clone()
    };
    assert!(write(db, |r| r.use_passkey(stored.id, 3, &used, at(10))).unwrap());
    assert!(
        !write(db, |r| r.use_passkey(stored.id, 3, &used, at(11))).unwrap(),
        "a second use from the same counter loses"
    );
    let after = read(db, |r| r.passkey_by_credential(&[1, 2, 3])).unwrap().unwrap();
    assert_eq!(
        (
            after.passkey.counter,
            after.passkey.backup_state,
            after.passkey.last_used_at
        ),
        (4, true, Some(at(10)))
    );
    assert_eq!(after.passkey.credential, used.credential);

    assert!(
        !write(db, |r| r.delete_passkey(other.key, stored.id)).unwrap(),
        "not theirs"
    );
    assert!(write(db, |r| r.delete_passkey(u.key, stored.id)).unwrap());
    assert!(!write(db, |r| r.delete_passkey(u.key, stored.id)).unwrap());

    // Ceremonies: taken once, by kind, before they expire.
    let ceremony = Ceremony {
        digest: digest(60),
        kind: "registration".to_owned(),
        user: Some(u.key),
        state: r#"{"rs":1}"#.to_owned(),
        expires_at: at(300),
    };
    write(db, |r| r.put_ceremony(&ceremony)).unwrap();
    assert_eq!(
        write(db, |r| r.take_ceremony(&digest(60), "sign_in", at(1))).unwrap(),
        None
    );
    assert_eq!(
        write(db, |r| r.take_ceremony(&digest(60), "registration", at(1))).unwrap(),
        Some(ceremony.clone())
    );
    assert_eq!(
        write(db, |r| r.take_ceremony(&digest(60), "registration", at(1))).unwrap(),
        None
    );
    let anonymous = Ceremony {
        digest: digest(61),
        user: None,
        kind: "sign_in".to_owned(),
        ..ceremony.clone()
    };
    write(db, |r| r.put_ceremony(&anonymous)).unwrap();
    assert_eq!(
        write(db, |r| r.take_ceremony(&digest(61), "sign_in", at(300))).unwrap(),
        None,
        "expired"
    );
    write(db, |r| {
        r.put_ceremony(&Ceremony {
            digest: digest(62),
            ..ceremony.clone()
        })
    })
    .unwrap();
    assert_eq!(write(db, |r| r.purge_ceremonies(at(301))).unwrap(), 2);

    // Everything goes with the user.
    write(db, |r| {
        r.put_ceremony(&Ceremony {
            digest: digest(63),
            ..ceremony.clone()
        })
    })
    .unwrap();
    let path = u.role.member().cloned().unwrap();
    write(db, |r| r.delete_user(&path, None, &DeleteOptions::default())).unwrap();
    assert_eq!(read(db, |r| r.passkey_by_credential(&[9])).unwrap(), None);
    assert_eq!(
        write(db, |r| r.take_ceremony(&digest(63), "registration", at(1))).unwrap(),
        None
    );
    assert_eq!(write(db, |r| r.delete_passkeys(u.key)).unwrap(), 0);
    let _ = second;
}
