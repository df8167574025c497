//! What a refused password or PIN reports: one [`Violation`] per broken rule, each with the request
//! field it concerns, a stable machine-readable code (the [`codes`]) and a clear English message
//! naming the number involved. [`RuleOutcome`] is the same rule seen as pass/fail, for live feedback.
//!
//! The codes are a public contract (`errors[].code` on the wire): they never change once published.

use serde::Serialize;

/// The request fields violations are reported against.
pub mod fields {
    /// The new password of a password change or reset (APIO and Axway both spell it so).
    pub const NEW_PASSWORD: &str = "newPassword";
    /// The new PIN of seed 001's pincode resource.
    pub const PIN_CODE: &str = "pinCode";
}

/// The stable violation codes.
pub mod codes {
    /// Fewer characters than the minimum length.
    pub const PASSWORD_TOO_SHORT: &str = "password_too_short";
    /// More characters than the maximum length.
    pub const PASSWORD_TOO_LONG: &str = "password_too_long";
    /// Fewer uppercase letters than required.
    pub const PASSWORD_MIN_UPPERCASE: &str = "password_min_uppercase";
    /// Fewer lowercase letters than required.
    pub const PASSWORD_MIN_LOWERCASE: &str = "password_min_lowercase";
    /// Fewer digits than required.
    pub const PASSWORD_MIN_DIGITS: &str = "password_min_digits";
    /// Fewer special characters (neither letter nor digit) than required.
    pub const PASSWORD_MIN_SPECIAL: &str = "password_min_special";
    /// Contains the username (or its part before `@`).
    pub const PASSWORD_CONTAINS_USERNAME: &str = "password_contains_username";
    /// A commonly used or easily guessed password.
    pub const PASSWORD_COMMON: &str = "password_common";
    /// The current password or one of the remembered earlier ones.
    pub const PASSWORD_REUSED: &str = "password_reused";
    /// Fewer digits than the minimum PIN length.
    pub const PIN_TOO_SHORT: &str = "pin_too_short";
    /// More digits than the maximum PIN length.
    pub const PIN_TOO_LONG: &str = "pin_too_long";
    /// One digit repeated more times in a row than allowed (`1112`).
    pub const PIN_REPEATED_DIGITS: &str = "pin_repeated_digits";
    /// An ascending run of digits longer than allowed (`1234`).
    pub const PIN_ASCENDING_RUN: &str = "pin_ascending_run";
    /// A descending run of digits longer than allowed (`4321`).
    pub const PIN_DESCENDING_RUN: &str = "pin_descending_run";
    /// The PIN is one group of digits repeated (`1212`, `123123`).
    pub const PIN_REPEATED_PATTERN: &str = "pin_repeated_pattern";
    /// Contains the user's extension or phone number.
    pub const PIN_CONTAINS_USER_NUMBER: &str = "pin_contains_user_number";
    /// Contains the user's extension or phone number reversed.
    pub const PIN_CONTAINS_REVERSED_USER_NUMBER: &str = "pin_contains_reversed_user_number";
    /// The current PIN or one of the remembered earlier ones.
    pub const PIN_REUSED: &str = "pin_reused";
    /// The current PIN reversed.
    pub const PIN_REVERSED_OLD: &str = "pin_reversed_old";

    /// Every code, for documentation and tests.
    pub const ALL: [&str; 19] = [
        PASSWORD_TOO_SHORT,
        PASSWORD_TOO_LONG,
        PASSWORD_MIN_UPPERCASE,
        PASSWORD_MIN_LOWERCASE,
        PASSWORD_MIN_DIGITS,
        PASSWORD_MIN_SPECIAL,
        PASSWORD_CONTAINS_USERNAME,
        PASSWORD_COMMON,
        PASSWORD_REUSED,
        PIN_TOO_SHORT,
        PIN_TOO_LONG,
        PIN_REPEATED_DIGITS,
        PIN_ASCENDING_RUN,
        PIN_DESCENDING_RUN,
        PIN_REPEATED_PATTERN,
        PIN_CONTAINS_USER_NUMBER,
        PIN_CONTAINS_REVERSED_USER_NUMBER,
        PIN_REUSED,
        PIN_REVERSED_OLD,
    ];
}

/// One broken rule: the field it concerns, its stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The request field: [`fields::NEW_PASSWORD`] or [`fields::PIN_CODE`].
    pub field: &'static str,
    /// One of [`codes`].
    pub code: &'static str,
    /// Clear English naming the number involved, e.g. "must contain at least 2 digits"; it reads
    /// after the field name and never contains the secret itself.
    pub message: String,
}

impl Violation {
    /// A violation of `code` on `field`.
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

/// One rule evaluated against a candidate, for live feedback in a UI: the rule's code and message
/// (the message states the requirement, so it reads the same whether it passed or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// One of [`codes`].
    pub code: &'static str,
    /// The requirement, e.g. "must contain at least 2 digits".
    pub message: String,
    /// Whether the candidate satisfies the rule.
    pub passed: bool,
}

impl RuleOutcome {
    /// The violation this outcome stands for when it failed; `None` when it passed.
    pub fn violation(&self, field: &'static str) -> Option<Violation> {
        (!self.passed).then(|| Violation::new(field, self.code, self.message.clone()))
    }
}

/// `"1 digit"`, `"2 digits"`: the count and the noun, singular or plural.
pub(crate) fn counted(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in codes::ALL {
            assert!(seen.insert(code), "{code} twice");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
        }
    }

    #[test]
    fn serializes_field_code_message() {
        let v = Violation::new(
            fields::NEW_PASSWORD,
            codes::PASSWORD_MIN_DIGITS,
            "must contain at least 2 digits",
        );
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"field": "newPassword", "code": "password_min_digits", "message": "must contain at least 2 digits"})
        );
        let ok = RuleOutcome {
            code: codes::PIN_TOO_SHORT,
            message: "m".into(),
            passed: true,
        };
        assert_eq!(ok.violation(fields::PIN_CODE), None);
        let failed = RuleOutcome { passed: false, ..ok };
        assert_eq!(failed.violation(fields::PIN_CODE).unwrap().code, codes::PIN_TOO_SHORT);
    }

    #[test]
    fn counted_is_singular_for_one() {
        assert_eq!(counted(1u16, "digit", "digits"), "1 digit");
        assert_eq!(counted(0u16, "digit", "digits"), "0 digits");
        assert_eq!(counted(2u8, "digit", "digits"), "2 digits");
    }
}
