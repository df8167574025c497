//! Validated identifiers: tenant, group, user, username, department, device, line port and
//! application ids. Each is a string newtype whose only constructor ([`TenantId::parse`], …) refuses
//! empty values, over-long ones, control characters and path separators, so an id can be put in a URL
//! path, a log line or a department path without escaping surprises.

use crate::error::{InvalidValue, Problem};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The checks every identifier shares.
fn check_identifier(field: &'static str, value: &str, max: usize) -> Result<(), InvalidValue> {
    let err = |problem| Err(InvalidValue::new(field, problem));
    if value.trim().is_empty() {
        return err(Problem::Empty);
    }
    if value.chars().count() > max {
        return err(Problem::TooLong { max });
    }
    if value.chars().any(char::is_control) {
        return err(Problem::ControlCharacter);
    }
    if value.contains(['/', '\\']) || value == "." || value == ".." {
        return err(Problem::PathSeparator);
    }
    if value.trim() != value {
        return err(Problem::SurroundingWhitespace);
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr $(, extra = $extra:path)?) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_LEN: usize = $max;
            /// The field name used in errors.
            pub const FIELD: &'static str = $field;

            /// Validates and wraps `value`.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                check_identifier($field, &value, $max)?;
                $($extra($field, &value)?;)?
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

/// A line port is a SIP address of record: `user@host`, one `@`, neither side empty, no white space.
fn check_line_port(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    let shape = Problem::Format("a SIP address of the form user@host without white space");
    match value.split_once('@') {
        Some((user, host))
            if !user.is_empty()
                && !host.is_empty()
                && !host.contains('@')
                && !value.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(InvalidValue::new(field, shape)),
    }
}

/// A login name holds no white space at all (BroadWorks and Django both refuse it).
fn check_no_whitespace(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    if value.chars().any(char::is_whitespace) {
        Err(InvalidValue::new(field, Problem::Format("a name without white space")))
    } else {
        Ok(())
    }
}

identifier!(
    /// A tenant (service provider or enterprise): `Pie`, `ApioSpTest`.
    TenantId, "tenant_id", 30
);
identifier!(
    /// A group inside a tenant: `PieGroup`, `ApioGrpTest`.
    GroupId, "group_id", 30
);
identifier!(
    /// A user inside a group, as the Application Server names it: `foouser`.
    UserId, "user_id", 161
);
identifier!(
    /// The full login name, with its domain if any: `PieGroupAdmin1@sip.netaxis.be`, `jbloggs`.
    /// Compared exactly; case is kept as given.
    Username, "username", 161, extra = check_no_whitespace
);
identifier!(
    /// A department's own name (not its path): `test_department_initial`.
    DepartmentName, "departmentName", 60
);
identifier!(
    /// An access device or trunk group device: `DP_ApioUserTest`.
    DeviceName, "name", 80
);
identifier!(
    /// A line port, unique over the whole platform: `LP_ApioUserTest@sip.netaxis.be`.
    LinePort, "linePort", 161, extra = check_line_port
);
identifier!(
    /// An end-user application id, the key of end-user app data (`_excludedAppIds` of seed 001).
    AppId, "appId", 80
);

/// The database key of a user: what SuperOffice shows as AssociateId and PersonId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserKey(pub i64);

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The address of a user inside the tenant/group tree: the path of seed 001's routes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserPath {
    pub tenant: TenantId,
    pub group: GroupId,
    pub user: UserId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_seed_ids() {
        assert!(TenantId::parse("Pie").is_ok());
        assert!(GroupId::parse("ApioGrpTest").is_ok());
        assert!(Username::parse("PieGroupAdmin1@sip.netaxis.be").is_ok());
        assert!(Username::parse("jbloggs").is_ok());
        assert!(DepartmentName::parse("test_department_initial").is_ok());
        assert!(DeviceName::parse("DP_ApioUserTest").is_ok());
        assert!(LinePort::parse("LP_ApioUserTest@sip.netaxis.be").is_ok());
    }

    #[test]
    fn refuses_each_bad_shape_with_its_problem() {
        let problem = |r: Result<TenantId, InvalidValue>| r.map(|_| ()).unwrap_err().problem;
        assert_eq!(problem(TenantId::parse("")), Problem::Empty);
        assert_eq!(problem(TenantId::parse("   ")), Problem::Empty);
        assert_eq!(problem(TenantId::parse("a".repeat(31))), Problem::TooLong { max: 30 });
        assert_eq!(problem(TenantId::parse("a\nb")), Problem::ControlCharacter);
        assert_eq!(problem(TenantId::parse("a\u{0}")), Problem::ControlCharacter);
        assert_eq!(problem(TenantId::parse("a/b")), Problem::PathSeparator);
        assert_eq!(problem(TenantId::parse("a\\b")), Problem::PathSeparator);
        assert_eq!(problem(TenantId::parse("..")), Problem::PathSeparator);
        assert_eq!(problem(TenantId::parse(" a")), Problem::SurroundingWhitespace);
    }

    #[test]
    fn max_length_counts_characters_not_bytes() {
        assert!(TenantId::parse("é".repeat(30)).is_ok());
        assert!(TenantId::parse("é".repeat(31)).is_err());
    }

    #[test]
    fn errors_name_their_field() {
        let err = GroupId::parse("").map(|_| ()).unwrap_err();
        assert_eq!(err.field, "group_id");
        assert_eq!(err.to_string(), "group_id must not be empty");
    }

    #[test]
    fn usernames_and_line_ports_have_their_own_shape() {
        assert!(Username::parse("john doe").is_err());
        for bad in ["nohost", "@host", "user@", "a@b@c", "a b@c"] {
            assert!(LinePort::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<TenantId>("\"Pie\"").is_ok());
        assert!(serde_json::from_str::<TenantId>("\"a/b\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_accepts_what_it_should_refuse(s in "\\PC*") {
            if let Ok(id) = UserId::parse(s.clone()) {
                proptest::prop_assert!(!id.as_str().contains(['/', '\\']));
                proptest::prop_assert!(!id.as_str().chars().any(char::is_control));
                proptest::prop_assert!(!id.as_str().trim().is_empty());
                proptest::prop_assert!(id.as_str().chars().count() <= UserId::MAX_LEN);
            }
        }
    }

    #[test]
    fn user_keys_display_as_their_number() {
        assert_eq!(UserKey(42).to_string(), "42");
        assert_eq!(format!("{:>4}", UserKey(-7)), "  -7");
    }
}
