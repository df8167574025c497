//! Password and PIN rule sets as data. The Application Server hands them out per user level, the
//! configuration holds local ones; `accountd-policy` combines them and checks candidates.

use serde::{Deserialize, Serialize};

/// One set of password rules (a network element's rules for a level, or a local rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRules {
    pub min_length: u16,
    pub max_length: u16,
    pub min_uppercase: u16,
    pub min_lowercase: u16,
    pub min_digits: u16,
    /// Characters that are neither letters nor digits.
    pub min_special: u16,
    /// Refuse a password that contains the login name (or its part before `@`), ignoring case.
    pub forbid_username: bool,
    /// Refuse the current password and this many earlier ones (0: only the current).
    pub history: u8,
    /// Refuse passwords found in a list of commonly used passwords.
    pub forbid_common: bool,
}

impl PasswordRules {
    /// Rules that refuse nothing but what no password may be.
    pub const NONE: PasswordRules = PasswordRules {
        min_length: 1,
        max_length: 1024,
        min_uppercase: 0,
        min_lowercase: 0,
        min_digits: 0,
        min_special: 0,
        forbid_username: false,
        history: 0,
        forbid_common: false,
    };

    /// The strictest combination of two rule sets: the larger minimum, the smaller maximum, and
    /// every prohibition of either.
    pub fn strictest(&self, other: &PasswordRules) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length.max(other.min_length),
            max_length: self.max_length.min(other.max_length),
            min_uppercase: self.min_uppercase.max(other.min_uppercase),
            min_lowercase: self.min_lowercase.max(other.min_lowercase),
            min_digits: self.min_digits.max(other.min_digits),
            min_special: self.min_special.max(other.min_special),
            forbid_username: self.forbid_username || other.forbid_username,
            history: self.history.max(other.history),
            forbid_common: self.forbid_common || other.forbid_common,
        }
    }
}

/// PIN ("passcode") rules after BroadWorks' passcode rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRules {
    pub min_length: u8,
    pub max_length: u8,
    /// Longest run of one repeated digit allowed (`2` refuses `111`); `None`: no limit.
    pub max_repeated_digits: Option<u8>,
    /// Longest ascending run allowed (`3` refuses `1234`); `None`: no limit.
    pub max_ascending_run: Option<u8>,
    /// Longest descending run allowed (`3` refuses `4321`); `None`: no limit.
    pub max_descending_run: Option<u8>,
    /// Refuse a PIN made of one group of digits repeated (`1212`, `123123`).
    pub forbid_repeated_patterns: bool,
    /// Refuse a PIN equal to or containing the user's extension or phone number.
    pub forbid_user_number: bool,
    /// Refuse a PIN equal to or containing the reverse of the extension or phone number.
    pub forbid_reversed_user_number: bool,
    /// Refuse the current PIN and this many earlier ones (BroadWorks: 1 to 10).
    pub history: u8,
    /// Refuse the reverse of the current PIN.
    pub forbid_reversed_old: bool,
    /// Days until a PIN expires (BroadWorks: 15 to 180); `None`: never.
    pub expiry_days: Option<u16>,
    /// Failed attempts before the PIN is locked; `None`: no limit here.
    pub max_failed_attempts: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictest_takes_the_stronger_side_of_each_rule() {
        let a = PasswordRules {
            min_length: 8,
            min_uppercase: 1,
            history: 3,
            ..PasswordRules::NONE
        };
        let b = PasswordRules {
            min_length: 12,
            max_length: 64,
            min_digits: 2,
            forbid_common: true,
            ..PasswordRules::NONE
        };
        let s = a.strictest(&b);
        assert_eq!(
            (s.min_length, s.max_length, s.min_uppercase, s.min_digits, s.history),
            (12, 64, 1, 2, 3)
        );
        assert!(s.forbid_common);
        assert_eq!(s, b.strictest(&a));
    }

    #[test]
    fn strictest_forbids_what_either_side_forbids() {
        let forbids = PasswordRules {
            forbid_username: true,
            forbid_common: true,
            ..PasswordRules::NONE
        };
        for (a, b) in [(&forbids, &PasswordRules::NONE), (&PasswordRules::NONE, &forbids)] {
            let both = a.strictest(b);
            assert!(both.forbid_username && both.forbid_common);
        }
        let neither = PasswordRules::NONE.strictest(&PasswordRules::NONE);
        assert!(!neither.forbid_username && !neither.forbid_common);
    }
}
