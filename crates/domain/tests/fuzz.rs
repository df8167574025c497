//! Property tests of every constructor that takes client text (issue 16, "fuzzing on stable"): the
//! ids, the profile values, the secrets and the PIN settings. Whatever the input (any Unicode, control
//! characters, invisible ones, tens of thousands of characters), a constructor answers: it never
//! panics, a refusal names the field it was given, and an accepted value is the input unchanged, so
//! parsing it again (or reading it back through serde) gives the same value.
//!
//! 256 cases per property by default; `PROPTEST_CASES=10000 cargo test -p accountd-domain --test
//! fuzz` runs more (the `proptest!` macro reads the variable over the configured count).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd_domain::error::{InvalidValue, Problem};
use accountd_domain::ids::{AppId, DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId, Username};
use accountd_domain::pincode::PinSettings;
use accountd_domain::secret::{Password, PinCode, SecretHash, TokenDigest};
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{AccountState, AccountType};
use proptest::prelude::*;
use proptest::sample::select;

/// Characters near every rule's edges: separators, white space, controls, invisible and bidi
/// characters, non-ASCII letters, the shapes' punctuation.
const EDGES: &[char] = &[
    'a', 'Z', '0', '9', '@', '.', '/', '\\', ' ', '\t', '\n', '\r', '\0', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}',
    '\u{202E}', '\u{200B}', '\u{FEFF}', '\u{2066}', 'é', 'ß', '李', '😀', '+', '-', '(', ')', '_', '"', '[', ']', '。',
    ':', '%', '\u{301}',
];

/// Client text: any Unicode, printable text, strings of edge characters, and very long runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,80}",
        proptest::collection::vec(select(EDGES), 0..300).prop_map(String::from_iter),
        (select(EDGES), 0usize..20_000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        // Values that pass the shape rules, so the accepted path is taken too.
        "[a-z][a-z0-9_.-]{0,20}(@[a-z]{1,8}(\\.[a-z]{2,4}){0,2})?",
        "[+]?[0-9 ()-.]{0,45}",
        select(vec![
            "Europe/Brussels",
            "UTC",
            "Etc/GMT+1",
            "America/Argentina/Buenos_Aires",
            "Mars/Olympus_Mons",
            ".",
            "..",
            "Europe//Brussels",
        ])
        .prop_map(str::to_owned),
    ]
}

/// What every refusal must be: about the field the constructor was given, with a message.
fn check_refusal(err: &InvalidValue, field: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(err.field, field);
    prop_assert!(!err.to_string().is_empty());
    prop_assert!(!err.problem.code().is_empty());
    Ok(())
}

/// An id type: refusals name its field; an accepted value is the input, round-trips through
/// `parse` and serde, and keeps the invariants the module promises.
macro_rules! check_id {
    ($ty:ty, $s:expr) => {{
        let s: &str = $s;
        match <$ty>::parse(s) {
            Ok(id) => {
                prop_assert_eq!(id.as_str(), s);
                prop_assert_eq!(&<$ty>::parse(id.as_str()).unwrap(), &id);
                let json = serde_json::to_string(&id).unwrap();
                prop_assert_eq!(&serde_json::from_str::<$ty>(&json).unwrap(), &id);
                prop_assert!(!s.trim().is_empty() && s.trim() == s);
                prop_assert!(s.chars().count() <= <$ty>::MAX_LEN);
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(!s.contains(['/', '\\']) && s != "." && s != "..");
            }
            Err(err) => {
                check_refusal(&err, <$ty>::FIELD)?;
                // serde refuses exactly what `parse` refuses.
                prop_assert!(serde_json::from_value::<$ty>(serde_json::Value::String(s.to_owned())).is_err());
            }
        }
    }};
}

/// A profile value: refusals name the field; an accepted new value is the input, round-trips,
/// and is readable as a stored value (the stored rules are a subset of the new ones).
macro_rules! check_text {
    ($ty:ty, $field:literal, $s:expr) => {{
        let s: &str = $s;
        match <$ty>::parse_for($field, s) {
            Ok(value) => {
                prop_assert_eq!(value.as_str(), s);
                prop_assert_eq!(&<$ty>::parse_for($field, value.as_str()).unwrap(), &value);
                prop_assert_eq!(&<$ty>::from_stored($field, s).unwrap(), &value);
                let json = serde_json::to_string(&value).unwrap();
                prop_assert_eq!(&serde_json::from_str::<$ty>(&json).unwrap(), &value);
                prop_assert!(s.chars().count() <= <$ty>::MAX_LEN);
            }
            Err(err) => check_refusal(&err, $field)?,
        }
        if let Err(err) = <$ty>::from_stored($field, s) {
            check_refusal(&err, $field)?;
            prop_assert!(<$ty>::parse_for($field, s).is_err(), "stored refuses what new accepts");
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ids_answer_every_string(s in text()) {
        check_id!(TenantId, &s);
        check_id!(GroupId, &s);
        check_id!(UserId, &s);
        check_id!(Username, &s);
        check_id!(DepartmentName, &s);
        check_id!(DeviceName, &s);
        check_id!(LinePort, &s);
        check_id!(AppId, &s);
        if let Ok(name) = Username::parse(s.as_str()) {
            prop_assert!(!name.as_str().chars().any(char::is_whitespace));
        }
        if LinePort::parse(s.as_str()).is_ok() {
            prop_assert_eq!(s.matches('@').count(), 1);
        }
    }

    #[test]
    fn profile_values_answer_every_string(s in text()) {
        check_text!(Text, "description", &s);
        check_text!(Name, "firstName", &s);
        check_text!(EmailAddress, "emailAddress", &s);
        check_text!(PhoneNumber, "phoneNumber", &s);
        check_text!(Extension, "extension", &s);
        check_text!(Language, "language", &s);
        check_text!(TimeZoneName, "timeZone", &s);
        if let Ok(name) = Name::parse_for("firstName", s.as_str()) {
            prop_assert!(!name.as_str().trim().is_empty());
            prop_assert!(!name.as_str().chars().any(char::is_control));
        }
    }

    #[test]
    fn secrets_answer_every_string(s in text()) {
        match PinCode::parse(s.as_str()) {
            Ok(pin) => {
                prop_assert_eq!(pin.expose(), s.as_str());
                prop_assert!((1..=PinCode::MAX_LEN).contains(&s.len()));
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
                // Debug never shows the digits.
                let debug = format!("{:?}", pin);
                prop_assert!(!debug.contains(s.as_str()));
            }
            Err(err) => check_refusal(&err, "pinCode")?,
        }
        match Password::new(s.as_str()) {
            Ok(password) => {
                prop_assert_eq!(password.expose(), s.as_str());
                prop_assert!(!s.is_empty() && s.len() <= Password::MAX_BYTES);
            }
            Err(err) => {
                check_refusal(&err, "password")?;
                prop_assert!(s.is_empty() || s.len() > Password::MAX_BYTES);
            }
        }
        match SecretHash::new(s.as_str()) {
            Ok(hash) => prop_assert_eq!(hash.as_str(), s.as_str()),
            Err(err) => check_refusal(&err, "hash")?,
        }
        let names = [AccountState::parse(&s).map(AccountState::as_str), AccountType::parse(&s).map(AccountType::as_str)];
        for name in names.into_iter().flatten() {
            prop_assert_eq!(name, s.as_str());
        }
    }

    #[test]
    fn digests_take_exactly_32_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        match TokenDigest::from_slice(&bytes) {
            Ok(digest) => prop_assert_eq!(digest.as_bytes().as_slice(), bytes.as_slice()),
            Err(err) => {
                check_refusal(&err, "digest")?;
                prop_assert_ne!(bytes.len(), 32);
            }
        }
    }

    #[test]
    fn pin_settings_take_any_number(
        days in prop_oneof![any::<i64>(), -2i64..40_000],
        login_disabled in any::<bool>(),
        does_not_expire in any::<bool>(),
        changed_at in any::<i64>(),
        now in any::<i64>(),
    ) {
        match PinSettings::new(login_disabled, days, does_not_expire) {
            Ok(settings) => {
                prop_assert_eq!(i64::from(settings.expiration_days()), days);
                let json = serde_json::to_string(&settings).unwrap();
                prop_assert_eq!(serde_json::from_str::<PinSettings>(&json).unwrap(), settings);
                // Any pair of instants answers (no overflow), and a PIN that never expires doesn't.
                let expired = settings.is_expired(changed_at, now);
                prop_assert!(!(does_not_expire && expired));
            }
            Err(err) => {
                check_refusal(&err, "expirationDays")?;
                let out_of_range = matches!(err.problem, Problem::OutOfRange { .. });
                prop_assert!(out_of_range);
                prop_assert!(!(1..=i64::from(PinSettings::MAX_EXPIRATION_DAYS)).contains(&days));
            }
        }
    }
}
