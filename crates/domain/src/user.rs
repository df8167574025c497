//! The one user model behind the three API dialects: identity (numeric key, UUID, username, role),
//! the profile of seed 001 plus the Axway extras, account status, and the version used for ETags.

use crate::error::{InvalidValue, Problem};
use crate::ids::{DepartmentName, GroupId, TenantId, UserKey, Username};
use crate::level::{Role, UserLevel};
use crate::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A point in time: milliseconds since the Unix epoch, UTC (Axway's `createdOn` is exactly this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// `self + seconds`, saturating.
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// `self + duration`, saturating.
    pub fn plus(self, duration: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Whole seconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn seconds_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0) / 1000
    }
}

/// Incremented on every change of a user; the strong ETag of the user's representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub i64);

impl Version {
    pub const FIRST: Version = Version(1);

    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Approval state of an account (Axway `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    Approved,
    Pending,
    Rejected,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Approved => "approved",
            AccountState::Pending => "pending",
            AccountState::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "approved" => Ok(AccountState::Approved),
            "pending" => Ok(AccountState::Pending),
            "rejected" => Ok(AccountState::Rejected),
            _ => Err(InvalidValue::new(
                "state",
                Problem::Format("one of approved, pending, rejected"),
            )),
        }
    }
}

/// Where an account comes from (Axway `type`): managed here, or by an external identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    Internal,
    External,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Internal => "internal",
            AccountType::External => "external",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "internal" => Ok(AccountType::Internal),
            "external" => Ok(AccountType::External),
            _ => Err(InvalidValue::new("type", Problem::Format("one of internal, external"))),
        }
    }
}

/// Names a department: the tenant it belongs to, the group if it is a group department (an
/// enterprise-level one has none), and its own name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DepartmentKey {
    pub tenant: TenantId,
    pub group: Option<GroupId>,
    pub name: DepartmentName,
}

/// A department with the path from its root ancestor down to itself, as read from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub key: DepartmentKey,
    /// Names from the root ancestor to this department; never empty, ends with `key.name`.
    path: Vec<DepartmentName>,
}

impl Department {
    /// Separator of `fullPathName` levels, exactly as seed 001 shows it.
    pub const PATH_SEPARATOR: &'static str = " \\ ";
    /// Deepest department nesting accepted (a cycle in stored data stops here, not in a loop).
    pub const MAX_DEPTH: usize = 32;

    /// `ancestors` from the root down to the parent, without the department itself.
    pub fn new(key: DepartmentKey, mut ancestors: Vec<DepartmentName>) -> Result<Self, InvalidValue> {
        if ancestors.len() >= Self::MAX_DEPTH {
            return Err(InvalidValue::new(
                "department",
                Problem::OutOfRange {
                    min: 1,
                    max: Self::MAX_DEPTH as i64,
                },
            ));
        }
        if ancestors.contains(&key.name) {
            return Err(InvalidValue::new(
                "department",
                Problem::Conflict("a department can't be its own ancestor"),
            ));
        }
        ancestors.push(key.name.clone());
        Ok(Self { key, path: ancestors })
    }

    pub fn path(&self) -> &[DepartmentName] {
        &self.path
    }

    /// `test_department_parent_1 \ test_department_initial`.
    pub fn full_path_name(&self) -> String {
        let names: Vec<&str> = self.path.iter().map(DepartmentName::as_str).collect();
        names.join(Self::PATH_SEPARATOR)
    }

    /// Whether this department is `other` or lies below it (same tenant, and same group when
    /// `other` is a group department).
    pub fn is_within(&self, other: &DepartmentKey) -> bool {
        self.key.tenant == other.tenant
            && (other.group.is_none() || self.key.group == other.group)
            && self.path.contains(&other.name)
    }
}

/// The profile fields of seed 001, plus `mobile`, `description` and `image` for the Axway view.
/// Optional text that APIO shows as `""` when unset is kept as possibly-empty text here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub first_name: Name,
    pub last_name: Name,
    pub cli_first_name: Text,
    pub cli_last_name: Text,
    pub phone_number: PhoneNumber,
    pub extension: Extension,
    pub cli_phone_number: PhoneNumber,
    pub department: Option<Department>,
    pub language: Option<Language>,
    pub email: Option<EmailAddress>,
    pub network_class_of_service: Text,
    pub time_zone: Option<TimeZoneName>,
    pub mobile: PhoneNumber,
    pub description: Text,
    pub image: Text,
}

impl Profile {
    /// A profile with just the two names set and everything else empty.
    pub fn named(first_name: Name, last_name: Name) -> Self {
        Self {
            cli_first_name: Text::empty(),
            cli_last_name: Text::empty(),
            phone_number: PhoneNumber::empty(),
            extension: Extension::empty(),
            cli_phone_number: PhoneNumber::empty(),
            department: None,
            language: None,
            email: None,
            network_class_of_service: Text::empty(),
            time_zone: None,
            mobile: PhoneNumber::empty(),
            description: Text::empty(),
            image: Text::empty(),
            first_name,
            last_name,
        }
    }

    /// "First Last", as SuperOffice's FullName and Axway's `name` show it.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// One stored user, as every dialect projects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Database key (SuperOffice AssociateId/PersonId).
    pub key: UserKey,
    /// Stable public id (Axway `id`).
    pub uuid: Uuid,
    pub username: Username,
    pub role: Role,
    pub profile: Profile,
    pub enabled: bool,
    pub state: AccountState,
    pub account_type: AccountType,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: Version,
}

impl User {
    pub fn level(&self) -> UserLevel {
        self.role.level()
    }

    /// Whether this account may sign in at all (enabled and approved).
    pub fn may_sign_in(&self) -> bool {
        self.enabled && self.state == AccountState::Approved
    }
}

/// A user to create; the store assigns key, timestamps and the first version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub uuid: Uuid,
    pub username: Username,
    pub role: Role,
    pub profile: NewProfile,
    pub enabled: bool,
    pub state: AccountState,
    pub account_type: AccountType,
}

impl NewUser {
    /// A new account as every creator makes it (the API, the operator, import, demo data): enabled,
    /// approved and managed here. Its parts are validated domain values already.
    pub fn new(uuid: Uuid, username: Username, role: Role, profile: NewProfile) -> Self {
        Self {
            uuid,
            username,
            role,
            profile,
            enabled: true,
            state: AccountState::Approved,
            account_type: AccountType::Internal,
        }
    }
}

/// A profile to store: like [`Profile`], with the department named rather than resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProfile {
    pub profile: Profile,
    pub department: Option<DepartmentKey>,
}

/// The profile fields, as the APIO wire names them (used in audit events and access rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProfileField {
    FirstName,
    LastName,
    CliFirstName,
    CliLastName,
    PhoneNumber,
    Extension,
    CliPhoneNumber,
    Department,
    Language,
    EmailAddress,
    NetworkClassOfService,
    TimeZone,
    Mobile,
    Description,
    Image,
}

impl ProfileField {
    pub const ALL: [ProfileField; 15] = [
        ProfileField::FirstName,
        ProfileField::LastName,
        ProfileField::CliFirstName,
        ProfileField::CliLastName,
        ProfileField::PhoneNumber,
        ProfileField::Extension,
        ProfileField::CliPhoneNumber,
        ProfileField::Department,
        ProfileField::Language,
        ProfileField::EmailAddress,
        ProfileField::NetworkClassOfService,
        ProfileField::TimeZone,
        ProfileField::Mobile,
        ProfileField::Description,
        ProfileField::Image,
    ];

    /// The field of a [`ProfileField::wire_name`].
    pub fn from_wire_name(name: &str) -> Option<ProfileField> {
        ProfileField::ALL.into_iter().find(|f| f.wire_name() == name)
    }

    pub fn wire_name(self) -> &'static str {
        match self {
            ProfileField::FirstName => "firstName",
            ProfileField::LastName => "lastName",
            ProfileField::CliFirstName => "cliFirstName",
            ProfileField::CliLastName => "cliLastName",
            ProfileField::PhoneNumber => "phoneNumber",
            ProfileField::Extension => "extension",
            ProfileField::CliPhoneNumber => "cliPhoneNumber",
            ProfileField::Department => "department",
            ProfileField::Language => "language",
            ProfileField::EmailAddress => "emailAddress",
            ProfileField::NetworkClassOfService => "networkClassOfService",
            ProfileField::TimeZone => "timeZone",
            ProfileField::Mobile => "mobile",
            ProfileField::Description => "description",
            ProfileField::Image => "image",
        }
    }
}

/// A partial profile update: `None` keeps a field; `Some` sets it. For optional fields the inner
/// `None` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub first_name: Option<Name>,
    pub last_name: Option<Name>,
    pub cli_first_name: Option<Text>,
    pub cli_last_name: Option<Text>,
    pub phone_number: Option<PhoneNumber>,
    pub extension: Option<Extension>,
    pub cli_phone_number: Option<PhoneNumber>,
    pub department: Option<Option<DepartmentKey>>,
    pub language: Option<Option<Language>>,
    pub email: Option<Option<EmailAddress>>,
    pub network_class_of_service: Option<Text>,
    pub time_zone: Option<Option<TimeZoneName>>,
    pub mobile: Option<PhoneNumber>,
    pub description: Option<Text>,
    pub image: Option<Text>,
}

impl ProfileChange {
    /// The fields this change sets, in [`ProfileField::ALL`] order.
    pub fn fields(&self) -> Vec<ProfileField> {
        use ProfileField as F;
        let set = [
            (F::FirstName, self.first_name.is_some()),
            (F::LastName, self.last_name.is_some()),
            (F::CliFirstName, self.cli_first_name.is_some()),
            (F::CliLastName, self.cli_last_name.is_some()),
            (F::PhoneNumber, self.phone_number.is_some()),
            (F::Extension, self.extension.is_some()),
            (F::CliPhoneNumber, self.cli_phone_number.is_some()),
            (F::Department, self.department.is_some()),
            (F::Language, self.language.is_some()),
            (F::EmailAddress, self.email.is_some()),
            (F::NetworkClassOfService, self.network_class_of_service.is_some()),
            (F::TimeZone, self.time_zone.is_some()),
            (F::Mobile, self.mobile.is_some()),
            (F::Description, self.description.is_some()),
            (F::Image, self.image.is_some()),
        ];
        set.into_iter().filter_map(|(f, on)| on.then_some(f)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }

    /// Applies every field but the department (which the store resolves to a path) to `profile`.
    pub fn apply_except_department(&self, profile: &mut Profile) {
        fn put<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        put(&mut profile.first_name, &self.first_name);
        put(&mut profile.last_name, &self.last_name);
        put(&mut profile.cli_first_name, &self.cli_first_name);
        put(&mut profile.cli_last_name, &self.cli_last_name);
        put(&mut profile.phone_number, &self.phone_number);
        put(&mut profile.extension, &self.extension);
        put(&mut profile.cli_phone_number, &self.cli_phone_number);
        put(&mut profile.language, &self.language);
        put(&mut profile.email, &self.email);
        put(&mut profile.network_class_of_service, &self.network_class_of_service);
        put(&mut profile.time_zone, &self.time_zone);
        put(&mut profile.mobile, &self.mobile);
        put(&mut profile.description, &self.description);
        put(&mut profile.image, &self.image);
    }

    /// This change less every member sent at its current value in `current`: what would really
    /// change. Clients PUT back what they GET, so a member at its current value is no change (and
    /// never a refusal); a change made only of current values is empty.
    pub fn without_current(mut self, current: &Profile) -> ProfileChange {
        fn keep<T: PartialEq>(value: &mut Option<T>, current: &T) {
            if value.as_ref() == Some(current) {
                *value = None;
            }
        }
        keep(&mut self.first_name, &current.first_name);
        keep(&mut self.last_name, &current.last_name);
        keep(&mut self.cli_first_name, &current.cli_first_name);
        keep(&mut self.cli_last_name, &current.cli_last_name);
        keep(&mut self.phone_number, &current.phone_number);
        keep(&mut self.extension, &current.extension);
        keep(&mut self.cli_phone_number, &current.cli_phone_number);
        keep(
            &mut self.department,
            &current.department.as_ref().map(|d| d.key.clone()),
        );
        keep(&mut self.language, &current.language);
        keep(&mut self.email, &current.email);
        keep(&mut self.network_class_of_service, &current.network_class_of_service);
        keep(&mut self.time_zone, &current.time_zone);
        keep(&mut self.mobile, &current.mobile);
        keep(&mut self.description, &current.description);
        keep(&mut self.image, &current.image);
        self
    }
}

impl ProfileChange {
    /// The change that puts back `before`'s values of every field this change sets: what undoes
    /// it on a system that applied it (the Application Server, when the local write failed after
    /// it accepted; issue 15).
    pub fn reverting(&self, before: &Profile) -> ProfileChange {
        ProfileChange::current_values(before, &self.fields())
    }

    /// The change that sets `fields` to their values in `profile`: what aligns a system that may
    /// hold other values of these fields (the Application Server, after a change it accepted was
    /// not written locally; issue 15) with `profile`.
    pub fn current_values(profile: &Profile, fields: &[ProfileField]) -> ProfileChange {
        use ProfileField as F;
        let mut change = ProfileChange::default();
        for field in fields {
            match field {
                F::FirstName => change.first_name = Some(profile.first_name.clone()),
                F::LastName => change.last_name = Some(profile.last_name.clone()),
                F::CliFirstName => change.cli_first_name = Some(profile.cli_first_name.clone()),
                F::CliLastName => change.cli_last_name = Some(profile.cli_last_name.clone()),
                F::PhoneNumber => change.phone_number = Some(profile.phone_number.clone()),
                F::Extension => change.extension = Some(profile.extension.clone()),
                F::CliPhoneNumber => change.cli_phone_number = Some(profile.cli_phone_number.clone()),
                F::Department => change.department = Some(profile.department.as_ref().map(|d| d.key.clone())),
                F::Language => change.language = Some(profile.language.clone()),
                F::EmailAddress => change.email = Some(profile.email.clone()),
                F::NetworkClassOfService => {
                    change.network_class_of_service = Some(profile.network_class_of_service.clone());
                }
                F::TimeZone => change.time_zone = Some(profile.time_zone.clone()),
                F::Mobile => change.mobile = Some(profile.mobile.clone()),
                F::Description => change.description = Some(profile.description.clone()),
                F::Image => change.image = Some(profile.image.clone()),
            }
        }
        change
    }
}

/// A change of account status, which only administrators make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub enabled: Option<bool>,
    pub state: Option<AccountState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(tenant: &str, group: Option<&str>, name: &str, ancestors: &[&str]) -> Department {
        Department::new(
            DepartmentKey {
                tenant: TenantId::parse(tenant).unwrap(),
                group: group.map(|g| GroupId::parse(g).unwrap()),
                name: DepartmentName::parse(name).unwrap(),
            },
            ancestors.iter().map(|a| DepartmentName::parse(*a).unwrap()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn full_path_name_is_the_seed_shape() {
        let d = dept(
            "ApioSpTest",
            Some("ApioGrpTest"),
            "test_department_initial",
            &["test_department_parent_1"],
        );
        assert_eq!(
            d.full_path_name(),
            "test_department_parent_1 \\ test_department_initial"
        );
        let root = dept("ApioSpTest", None, "top", &[]);
        assert_eq!(root.full_path_name(), "top");
    }

    #[test]
    fn departments_refuse_cycles_and_depth() {
        let key = DepartmentKey {
            tenant: TenantId::parse("t").unwrap(),
            group: None,
            name: DepartmentName::parse("a").unwrap(),
        };
        assert!(Department::new(key.clone(), vec![DepartmentName::parse("a").unwrap()]).is_err());
        let deep = (0..32)
            .map(|i| DepartmentName::parse(format!("d{i}")).unwrap())
            .collect();
        assert!(Department::new(key, deep).is_err());
    }

    #[test]
    fn within_follows_the_path() {
        let d = dept("T", Some("G"), "leaf", &["root", "mid"]);
        let key = |g: Option<&str>, n: &str| DepartmentKey {
            tenant: TenantId::parse("T").unwrap(),
            group: g.map(|g| GroupId::parse(g).unwrap()),
            name: DepartmentName::parse(n).unwrap(),
        };
        assert!(d.is_within(&key(Some("G"), "mid")));
        assert!(d.is_within(&key(Some("G"), "leaf")));
        assert!(d.is_within(&key(None, "root")));
        assert!(!d.is_within(&key(Some("Other"), "mid")));
        assert!(!d.is_within(&key(Some("G"), "elsewhere")));
    }

    #[test]
    fn named_profile_is_empty_but_for_names() {
        let p = Profile::named(
            Name::parse_for("f", "John").unwrap(),
            Name::parse_for("l", "Doe").unwrap(),
        );
        assert_eq!(p.full_name(), "John Doe");
        assert_eq!(p.phone_number.as_str(), "");
        assert!(p.email.is_none());
    }

    #[test]
    fn change_lists_and_applies_its_fields() {
        let mut p = Profile::named(
            Name::parse_for("f", "John").unwrap(),
            Name::parse_for("l", "Doe").unwrap(),
        );
        let change = ProfileChange {
            first_name: Some(Name::parse_for("f", "Test First Name").unwrap()),
            email: Some(Some(EmailAddress::parse_for("e", "testemail@netaxis.be").unwrap())),
            ..ProfileChange::default()
        };
        assert_eq!(
            change.fields(),
            vec![ProfileField::FirstName, ProfileField::EmailAddress]
        );
        change.apply_except_department(&mut p);
        assert_eq!(p.first_name.as_str(), "Test First Name");
        assert_eq!(p.last_name.as_str(), "Doe");
        assert_eq!(p.email.as_ref().map(|e| e.as_str()), Some("testemail@netaxis.be"));
        assert!(ProfileChange::default().is_empty());
    }

    #[test]
    fn members_at_their_current_value_are_no_change() {
        let mut p = Profile::named(
            Name::parse_for("f", "John").unwrap(),
            Name::parse_for("l", "Doe").unwrap(),
        );
        p.department = Some(dept("T", Some("G"), "leaf", &["root"]));
        p.phone_number = PhoneNumber::parse_for("phoneNumber", "+3221234567").unwrap();
        let same_department = DepartmentKey {
            tenant: TenantId::parse("T").unwrap(),
            group: Some(GroupId::parse("G").unwrap()),
            name: DepartmentName::parse("leaf").unwrap(),
        };
        let round_trip = ProfileChange {
            first_name: Some(p.first_name.clone()),
            phone_number: Some(p.phone_number.clone()),
            department: Some(Some(same_department.clone())),
            email: Some(None),
            network_class_of_service: Some(Text::empty()),
            ..ProfileChange::default()
        };
        assert!(round_trip.clone().without_current(&p).is_empty());

        let real = ProfileChange {
            last_name: Some(Name::parse_for("l", "Smith").unwrap()),
            department: Some(None),
            ..round_trip
        };
        assert_eq!(
            real.without_current(&p).fields(),
            vec![ProfileField::LastName, ProfileField::Department]
        );
    }

    #[test]
    fn reverting_puts_back_exactly_the_changed_members() {
        let mut before = Profile::named(
            Name::parse_for("f", "John").unwrap(),
            Name::parse_for("l", "Doe").unwrap(),
        );
        before.department = Some(dept("T", Some("G"), "leaf", &["root"]));
        let change = ProfileChange {
            first_name: Some(Name::parse_for("f", "Jane").unwrap()),
            department: Some(None),
            email: Some(Some(
                EmailAddress::parse_for("emailAddress", "jane@example.com").unwrap(),
            )),
            ..ProfileChange::default()
        };
        let revert = change.reverting(&before);
        assert_eq!(revert.fields(), change.fields());
        assert_eq!(revert.first_name, Some(before.first_name.clone()));
        assert_eq!(revert.department, Some(Some(before.department.clone().unwrap().key)));
        assert_eq!(revert.email, Some(None));
        let mut after = before.clone();
        change.apply_except_department(&mut after);
        revert.apply_except_department(&mut after);
        assert_eq!(after, before);
    }

    #[test]
    fn current_values_cover_every_field_and_wire_names_round_trip() {
        let profile = Profile::named(
            Name::parse_for("f", "John").unwrap(),
            Name::parse_for("l", "Doe").unwrap(),
        );
        let all = ProfileChange::current_values(&profile, &ProfileField::ALL);
        assert_eq!(all.fields(), ProfileField::ALL.to_vec());
        assert!(ProfileChange::current_values(&profile, &[]).is_empty());
        for field in ProfileField::ALL {
            assert_eq!(ProfileField::from_wire_name(field.wire_name()), Some(field));
        }
        assert_eq!(ProfileField::from_wire_name("password"), None);
    }

    #[test]
    fn timestamps() {
        let t = Timestamp::from_millis(1_367_337_125_476);
        assert_eq!(t.plus_seconds(60).seconds_since(t), 60);
    }

    #[test]
    fn versions_count_up_and_display_as_numbers() {
        assert_eq!(Version::FIRST.next(), Version(2));
        assert_eq!(Version(41).next().next(), Version(43));
        assert_eq!(Version(7).to_string(), "7");
    }

    #[test]
    fn account_states_and_types_round_trip_their_names() {
        for state in [AccountState::Approved, AccountState::Pending, AccountState::Rejected] {
            assert_eq!(AccountState::parse(state.as_str()), Ok(state));
        }
        let names: Vec<&str> = [AccountState::Approved, AccountState::Pending, AccountState::Rejected]
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(names, ["approved", "pending", "rejected"]);
        assert!(AccountState::parse("Approved").is_err());
        for kind in [AccountType::Internal, AccountType::External] {
            assert_eq!(AccountType::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(
            (AccountType::Internal.as_str(), AccountType::External.as_str()),
            ("internal", "external")
        );
        assert!(AccountType::parse("").is_err());
    }

    #[test]
    fn only_enabled_approved_accounts_sign_in() {
        let role = crate::level::Role::System;
        for (enabled, state, may) in [
            (true, AccountState::Approved, true),
            (false, AccountState::Approved, false),
            (true, AccountState::Pending, false),
            (true, AccountState::Rejected, false),
            (false, AccountState::Pending, false),
        ] {
            let mut user = crate::testing::TestUser::new(1, role.clone()).build();
            user.enabled = enabled;
            user.state = state;
            assert_eq!(user.may_sign_in(), may, "{enabled} {state:?}");
        }
    }

    #[test]
    fn a_department_path_ends_with_its_own_name() {
        let key = DepartmentKey {
            tenant: TenantId::parse("T").unwrap(),
            group: None,
            name: DepartmentName::parse("child").unwrap(),
        };
        let department = Department::new(key, vec![DepartmentName::parse("parent").unwrap()]).unwrap();
        let path: Vec<&str> = department.path().iter().map(DepartmentName::as_str).collect();
        assert_eq!(path, ["parent", "child"]);
    }

    #[test]
    fn a_change_with_a_field_is_not_empty() {
        assert!(ProfileChange::default().is_empty());
        let change = ProfileChange {
            image: Some(Text::parse_for("image", "x").unwrap()),
            ..ProfileChange::default()
        };
        assert!(!change.is_empty());
    }
}
