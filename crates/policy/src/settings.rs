//! The APIO settings of seed 001, spelled and defaulted exactly as the seed names them, plus
//! accountd's own password floor ([`PasswordBaseline`]) and the local PIN rules
//! ([`default_pin_rules`], [`PinRulesConfig`]).
//!
//! Every struct rejects unknown keys and takes the seed's default for every missing one, so `{}` is
//! a valid configuration and a typo is an error rather than a silently ignored setting. Inside a
//! rule object a missing key takes that setting's own default (a partial `MINIMUM_PASSWORD_RULES`
//! keeps the seed's other minimums; a partial `LOCAL_PASSWORD_RULE` keeps the hardcoded rule's).

pub use crate::mode::LoginMode;
use accountd_domain::rules::{PasswordRules, PinRules};
use serde::{Deserialize, Deserializer, Serialize};

/// The APIO settings that govern logins, validation and propagation (seeds 000 and 001).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApioSettings {
    /// `LOGIN_MODE`: where credentials are checked and changes go. Default `LOCAL_LOGIN_SHARED`.
    #[serde(rename = "LOGIN_MODE")]
    pub login_mode: LoginMode,
    /// `VALIDATE_PASSWORD_LOCALLY`: check passwords against the network element's rules for the
    /// user's level. Default false.
    #[serde(rename = "VALIDATE_PASSWORD_LOCALLY")]
    pub validate_password_locally: bool,
    /// `VALIDATE_PASSWORD_LOCAL_RULE`: when the previous setting is off (or the network element has
    /// no rules), check passwords against [`ApioSettings::local_password_rule`]. Default false.
    #[serde(rename = "VALIDATE_PASSWORD_LOCAL_RULE")]
    pub validate_password_local_rule: bool,
    /// `VALIDATE_PINCODE_LOCALLY`: check PINs against the network element's rules (or the local
    /// defaults). Default true.
    #[serde(rename = "VALIDATE_PINCODE_LOCALLY")]
    pub validate_pincode_locally: bool,
    /// `MINIMUM_PASSWORD_RULES`: minimum rules per level, on top of every other rule. Default: the
    /// seed's example.
    #[serde(rename = "MINIMUM_PASSWORD_RULES")]
    pub minimum_password_rules: MinimumPasswordRules,
    /// `DELETE_USER_DEVICES`: the default of a delete's `delete_devices`. Default true.
    #[serde(rename = "DELETE_USER_DEVICES")]
    pub delete_user_devices: bool,
    /// `UPDATE_PROFILE_TO_BS_DB_SSO`: in `SSO_LOGIN_DEDICATED`, also write changes to the
    /// Application Server. Default false.
    #[serde(rename = "UPDATE_PROFILE_TO_BS_DB_SSO")]
    pub update_profile_to_bs_db_sso: bool,
    /// `REQUIRE_IF_MATCH`: refuse unconditional updates (a PUT without `If-Match`). Default false.
    #[serde(rename = "REQUIRE_IF_MATCH")]
    pub require_if_match: bool,
    /// `LOCAL_PASSWORD_RULE`: the seed's "hardcoded local rule (min 8 chars, at least 1 upper and 1
    /// lower)", which "can be overwritten in project mode": this key is that override. Missing keys
    /// keep the hardcoded rule's values.
    #[serde(
        rename = "LOCAL_PASSWORD_RULE",
        deserialize_with = "deserialize_local_rule",
        default = "LevelPasswordRules::local_rule"
    )]
    pub local_password_rule: LevelPasswordRules,
}

impl Default for ApioSettings {
    fn default() -> Self {
        Self {
            login_mode: LoginMode::LocalLoginShared,
            validate_password_locally: false,
            validate_password_local_rule: false,
            validate_pincode_locally: true,
            minimum_password_rules: MinimumPasswordRules::default(),
            delete_user_devices: true,
            update_profile_to_bs_db_sso: false,
            require_if_match: false,
            local_password_rule: LevelPasswordRules::local_rule(),
        }
    }
}

/// One level's minimum password rules, with seed 001's keys. `Default` (and every missing key) is
/// the seed's `END_USER` example: 1 special, 1 uppercase, 1 lowercase, 1 digit, 8 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LevelPasswordRules {
    /// `PASSWORD_MIN_SPECIAL_CHARACTERS`: characters that are neither letters nor digits.
    #[serde(rename = "PASSWORD_MIN_SPECIAL_CHARACTERS")]
    pub min_special: u16,
    /// `PASSWORD_MIN_UPPERCASE_LETTERS`.
    #[serde(rename = "PASSWORD_MIN_UPPERCASE_LETTERS")]
    pub min_uppercase: u16,
    /// `PASSWORD_MIN_LOWERCASE_LETTERS`.
    #[serde(rename = "PASSWORD_MIN_LOWERCASE_LETTERS")]
    pub min_lowercase: u16,
    /// `PASSWORD_MIN_DIGITS`.
    #[serde(rename = "PASSWORD_MIN_DIGITS")]
    pub min_digits: u16,
    /// `PASSWORD_MIN_LENGTH`, in characters.
    #[serde(rename = "PASSWORD_MIN_LENGTH")]
    pub min_length: u16,
}

impl LevelPasswordRules {
    /// Seed 001's `MINIMUM_PASSWORD_RULES.END_USER` example, its documented default.
    pub const END_USER_DEFAULT: LevelPasswordRules = LevelPasswordRules {
        min_special: 1,
        min_uppercase: 1,
        min_lowercase: 1,
        min_digits: 1,
        min_length: 8,
    };

    /// Seed 001's hardcoded local rule: at least 8 characters, 1 uppercase and 1 lowercase letter.
    pub const LOCAL_RULE_DEFAULT: LevelPasswordRules = LevelPasswordRules {
        min_special: 0,
        min_uppercase: 1,
        min_lowercase: 1,
        min_digits: 0,
        min_length: 8,
    };

    /// [`Self::LOCAL_RULE_DEFAULT`], as a function for serde.
    pub fn local_rule() -> Self {
        Self::LOCAL_RULE_DEFAULT
    }

    /// These minimums as a full rule set: no maximum beyond [`PasswordRules::NONE`]'s, no
    /// prohibitions, no history.
    pub fn to_rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length,
            min_uppercase: self.min_uppercase,
            min_lowercase: self.min_lowercase,
            min_digits: self.min_digits,
            min_special: self.min_special,
            ..PasswordRules::NONE
        }
    }
}

impl Default for LevelPasswordRules {
    fn default() -> Self {
        Self::END_USER_DEFAULT
    }
}

/// `LOCAL_PASSWORD_RULE` as written: any subset of the keys, the rest from the hardcoded rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialLevelRules {
    #[serde(rename = "PASSWORD_MIN_SPECIAL_CHARACTERS")]
    min_special: Option<u16>,
    #[serde(rename = "PASSWORD_MIN_UPPERCASE_LETTERS")]
    min_uppercase: Option<u16>,
    #[serde(rename = "PASSWORD_MIN_LOWERCASE_LETTERS")]
    min_lowercase: Option<u16>,
    #[serde(rename = "PASSWORD_MIN_DIGITS")]
    min_digits: Option<u16>,
    #[serde(rename = "PASSWORD_MIN_LENGTH")]
    min_length: Option<u16>,
}

fn deserialize_local_rule<'de, D: Deserializer<'de>>(deserializer: D) -> Result<LevelPasswordRules, D::Error> {
    let partial = PartialLevelRules::deserialize(deserializer)?;
    let d = LevelPasswordRules::LOCAL_RULE_DEFAULT;
    Ok(LevelPasswordRules {
        min_special: partial.min_special.unwrap_or(d.min_special),
        min_uppercase: partial.min_uppercase.unwrap_or(d.min_uppercase),
        min_lowercase: partial.min_lowercase.unwrap_or(d.min_lowercase),
        min_digits: partial.min_digits.unwrap_or(d.min_digits),
        min_length: partial.min_length.unwrap_or(d.min_length),
    })
}

/// `MINIMUM_PASSWORD_RULES`: seed 001 defines it for `END_USER` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinimumPasswordRules {
    /// `END_USER`: applied to end users (level 0) on top of every other rule, always. Default:
    /// [`LevelPasswordRules::END_USER_DEFAULT`].
    #[serde(rename = "END_USER")]
    pub end_user: LevelPasswordRules,
}

/// accountd's own password floor, applied to every password whatever the APIO settings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct PasswordBaseline {
    /// Shortest password accepted, in characters, whatever the APIO rules say. Default 8 (NIST
    /// SP 800-63B's floor).
    pub min_length: u16,
    /// Longest password accepted, in characters (bounds hashing cost). Default 128.
    pub max_length: u16,
    /// Refuse passwords containing the username (see [`crate::password`]). Default true.
    pub forbid_username: bool,
    /// Earlier passwords remembered and refused, besides the current one. Default 5.
    pub history: u8,
    /// Refuse common and easily guessed passwords (see [`crate::password`]). Default true.
    pub forbid_common: bool,
}

impl Default for PasswordBaseline {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            forbid_username: true,
            history: 5,
            forbid_common: true,
        }
    }
}

impl PasswordBaseline {
    /// The floor as a rule set (no character-class minimums).
    pub fn to_rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length,
            max_length: self.max_length,
            forbid_username: self.forbid_username,
            history: self.history,
            forbid_common: self.forbid_common,
            ..PasswordRules::NONE
        }
    }
}

/// The PIN rules used when `VALIDATE_PINCODE_LOCALLY` is on and the Application Server gives none:
/// BroadWorks' passcode rules with the values operators commonly deploy.
///
/// - `min_length` 4, `max_length` 8: the usual voice-portal passcode range (BroadWorks allows
///   2–15 / 3–30); seed 001's 6-digit example fits.
/// - `max_repeated_digits` `Some(3)`: `1112` passes, `11112` does not (BroadWorks/Webex "maximum
///   repeated digits" 1–6, commonly 3).
/// - `max_ascending_run` / `max_descending_run` `Some(3)`: `123856` passes, `123485` and `432185`
///   do not (BroadWorks "contiguous sequences" 2–5, commonly 3). Seed 001's example PIN `123456` is
///   therefore refused by default, as BroadWorks itself would.
/// - `forbid_repeated_patterns`: `1212`, `123123`, `1111` are refused.
/// - `forbid_user_number`, `forbid_reversed_user_number`: the extension and phone number, forwards
///   or reversed, are refused (see [`crate::pin`]).
/// - `history` 3: the current PIN and the 3 before it can't be reused (BroadWorks allows 1–10).
/// - `forbid_reversed_old`: the current PIN reversed is refused.
/// - `expiry_days` `Some(180)`: the longest BroadWorks expiry, the same as
///   `PinSettings::default()`'s `expirationDays`.
/// - `max_failed_attempts` `Some(3)`: BroadWorks' usual lock-out after 3 wrong PINs.
pub fn default_pin_rules() -> PinRules {
    PinRules {
        min_length: 4,
        max_length: 8,
        max_repeated_digits: Some(3),
        max_ascending_run: Some(3),
        max_descending_run: Some(3),
        forbid_repeated_patterns: true,
        forbid_user_number: true,
        forbid_reversed_user_number: true,
        history: 3,
        forbid_reversed_old: true,
        expiry_days: Some(180),
        max_failed_attempts: Some(3),
    }
}

/// Local PIN rules as configuration: [`PinRules`]' fields in snake_case, unknown keys rejected, each
/// missing key taking [`default_pin_rules`]' value. Convert with `PinRules::from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct PinRulesConfig {
    /// See [`PinRules::min_length`].
    pub min_length: u8,
    /// See [`PinRules::max_length`].
    pub max_length: u8,
    /// See [`PinRules::max_repeated_digits`]; `null` for no limit.
    pub max_repeated_digits: Option<u8>,
    /// See [`PinRules::max_ascending_run`]; `null` for no limit.
    pub max_ascending_run: Option<u8>,
    /// See [`PinRules::max_descending_run`]; `null` for no limit.
    pub max_descending_run: Option<u8>,
    /// See [`PinRules::forbid_repeated_patterns`].
    pub forbid_repeated_patterns: bool,
    /// See [`PinRules::forbid_user_number`].
    pub forbid_user_number: bool,
    /// See [`PinRules::forbid_reversed_user_number`].
    pub forbid_reversed_user_number: bool,
    /// See [`PinRules::history`].
    pub history: u8,
    /// See [`PinRules::forbid_reversed_old`].
    pub forbid_reversed_old: bool,
    /// See [`PinRules::expiry_days`]; `null` for never.
    pub expiry_days: Option<u16>,
    /// See [`PinRules::max_failed_attempts`]; `null` for no limit.
    pub max_failed_attempts: Option<u8>,
}

impl Default for PinRulesConfig {
    fn default() -> Self {
        default_pin_rules().into()
    }
}

impl From<PinRules> for PinRulesConfig {
    fn from(r: PinRules) -> Self {
        Self {
            min_length: r.min_length,
            max_length: r.max_length,
            max_repeated_digits: r.max_repeated_digits,
            max_ascending_run: r.max_ascending_run,
            max_descending_run: r.max_descending_run,
            forbid_repeated_patterns: r.forbid_repeated_patterns,
            forbid_user_number: r.forbid_user_number,
            forbid_reversed_user_number: r.forbid_reversed_user_number,
            history: r.history,
            forbid_reversed_old: r.forbid_reversed_old,
            expiry_days: r.expiry_days,
            max_failed_attempts: r.max_failed_attempts,
        }
    }
}

impl From<PinRulesConfig> for PinRules {
    fn from(c: PinRulesConfig) -> Self {
        Self {
            min_length: c.min_length,
            max_length: c.max_length,
            max_repeated_digits: c.max_repeated_digits,
            max_ascending_run: c.max_ascending_run,
            max_descending_run: c.max_descending_run,
            forbid_repeated_patterns: c.forbid_repeated_patterns,
            forbid_user_number: c.forbid_user_number,
            forbid_reversed_user_number: c.forbid_reversed_user_number,
            history: c.history,
            forbid_reversed_old: c.forbid_reversed_old,
            expiry_days: c.expiry_days,
            max_failed_attempts: c.max_failed_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ApioSettings, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn empty_object_gives_every_seed_default() {
        let s = parse("{}").unwrap();
        assert_eq!(s, ApioSettings::default());
        assert_eq!(s.login_mode, LoginMode::LocalLoginShared);
        assert!(
            !s.validate_password_locally,
            "VALIDATE_PASSWORD_LOCALLY defaults to false"
        );
        assert!(
            !s.validate_password_local_rule,
            "VALIDATE_PASSWORD_LOCAL_RULE defaults to false"
        );
        assert!(s.validate_pincode_locally, "VALIDATE_PINCODE_LOCALLY defaults to true");
        assert!(s.delete_user_devices, "DELETE_USER_DEVICES defaults to True");
        assert!(
            !s.update_profile_to_bs_db_sso,
            "UPDATE_PROFILE_TO_BS_DB_SSO defaults to false"
        );
        assert!(!s.require_if_match);
        assert_eq!(
            s.minimum_password_rules.end_user,
            LevelPasswordRules {
                min_special: 1,
                min_uppercase: 1,
                min_lowercase: 1,
                min_digits: 1,
                min_length: 8
            },
            "MINIMUM_PASSWORD_RULES.END_USER defaults to the seed's example"
        );
        assert_eq!(
            s.local_password_rule,
            LevelPasswordRules {
                min_special: 0,
                min_uppercase: 1,
                min_lowercase: 1,
                min_digits: 0,
                min_length: 8
            },
            "the hardcoded local rule: min 8 chars, 1 upper, 1 lower"
        );
    }

    /// Seed 001's configuration block, verbatim but for the missing commas and the enclosing braces.
    #[test]
    fn seed_example_block() {
        let s = parse(
            r#"{
 "VALIDATE_PASSWORD_LOCALLY": true,
 "VALIDATE_PASSWORD_LOCAL_RULE": true,
 "VALIDATE_PINCODE_LOCALLY": true,
 "MINIMUM_PASSWORD_RULES": {
     "END_USER" : {
         "PASSWORD_MIN_SPECIAL_CHARACTERS": 1,
         "PASSWORD_MIN_UPPERCASE_LETTERS": 1,
         "PASSWORD_MIN_LOWERCASE_LETTERS": 1,
         "PASSWORD_MIN_DIGITS": 1,
         "PASSWORD_MIN_LENGTH": 8
     }
}
}"#,
        )
        .unwrap();
        assert!(s.validate_password_locally);
        assert!(s.validate_password_local_rule);
        assert!(s.validate_pincode_locally);
        assert_eq!(s.minimum_password_rules.end_user, LevelPasswordRules::END_USER_DEFAULT);
        // Everything the block doesn't name keeps its default.
        assert!(s.delete_user_devices);
        assert!(!s.update_profile_to_bs_db_sso);
        assert_eq!(s.login_mode, LoginMode::LocalLoginShared);
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(
            r#"{
 "LOGIN_MODE": "SSO_LOGIN_DEDICATED",
 "VALIDATE_PASSWORD_LOCALLY": true,
 "VALIDATE_PASSWORD_LOCAL_RULE": true,
 "VALIDATE_PINCODE_LOCALLY": false,
 "MINIMUM_PASSWORD_RULES": {"END_USER": {"PASSWORD_MIN_SPECIAL_CHARACTERS": 2, "PASSWORD_MIN_UPPERCASE_LETTERS": 3,
   "PASSWORD_MIN_LOWERCASE_LETTERS": 4, "PASSWORD_MIN_DIGITS": 5, "PASSWORD_MIN_LENGTH": 16}},
 "DELETE_USER_DEVICES": false,
 "UPDATE_PROFILE_TO_BS_DB_SSO": true,
 "REQUIRE_IF_MATCH": true,
 "LOCAL_PASSWORD_RULE": {"PASSWORD_MIN_LENGTH": 12, "PASSWORD_MIN_DIGITS": 2}
}"#,
        )
        .unwrap();
        assert_eq!(s.login_mode, LoginMode::SsoLoginDedicated);
        assert!(s.validate_password_locally && s.validate_password_local_rule);
        assert!(!s.validate_pincode_locally);
        assert_eq!(
            s.minimum_password_rules.end_user,
            LevelPasswordRules {
                min_special: 2,
                min_uppercase: 3,
                min_lowercase: 4,
                min_digits: 5,
                min_length: 16
            }
        );
        assert!(!s.delete_user_devices);
        assert!(s.update_profile_to_bs_db_sso);
        assert!(s.require_if_match);
        assert_eq!(
            s.local_password_rule,
            LevelPasswordRules {
                min_length: 12,
                min_digits: 2,
                ..LevelPasswordRules::LOCAL_RULE_DEFAULT
            }
        );
    }

    #[test]
    fn partial_rule_objects_keep_their_own_defaults() {
        let s = parse(
            r#"{"MINIMUM_PASSWORD_RULES": {"END_USER": {"PASSWORD_MIN_LENGTH": 10}}, "LOCAL_PASSWORD_RULE": {}}"#,
        )
        .unwrap();
        assert_eq!(
            s.minimum_password_rules.end_user,
            LevelPasswordRules {
                min_length: 10,
                ..LevelPasswordRules::END_USER_DEFAULT
            }
        );
        assert_eq!(s.local_password_rule, LevelPasswordRules::LOCAL_RULE_DEFAULT);
        assert_eq!(
            parse(r#"{"MINIMUM_PASSWORD_RULES": {}}"#)
                .unwrap()
                .minimum_password_rules
                .end_user,
            LevelPasswordRules::END_USER_DEFAULT
        );
    }

    #[test]
    fn unknown_or_mistyped_keys_are_rejected() {
        for bad in [
            r#"{"VALIDATE_PASSWORD_LOCALY": true}"#,
            r#"{"validate_password_locally": true}"#,
            r#"{"MINIMUM_PASSWORD_RULES": {"GROUP_ADMIN": {}}}"#,
            r#"{"MINIMUM_PASSWORD_RULES": {"END_USER": {"PASSWORD_MIN_SYMBOLS": 1}}}"#,
            r#"{"LOCAL_PASSWORD_RULE": {"PASSWORD_MAX_LENGTH": 1}}"#,
            r#"{"LOGIN_MODE": "LDAP"}"#,
            r#"{"DELETE_USER_DEVICES": "yes"}"#,
            r#"{"MINIMUM_PASSWORD_RULES": {"END_USER": {"PASSWORD_MIN_LENGTH": -1}}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn settings_round_trip_through_json() {
        let s = ApioSettings {
            login_mode: LoginMode::DjangoOnly,
            local_password_rule: LevelPasswordRules {
                min_digits: 3,
                ..LevelPasswordRules::LOCAL_RULE_DEFAULT
            },
            ..ApioSettings::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"LOGIN_MODE\":\"DJANGO_ONLY\""), "{json}");
        assert_eq!(parse(&json).unwrap(), s);
    }

    #[test]
    fn baseline_defaults_and_keys() {
        let b: PasswordBaseline = serde_json::from_str("{}").unwrap();
        assert_eq!(
            b,
            PasswordBaseline {
                min_length: 8,
                max_length: 128,
                forbid_username: true,
                history: 5,
                forbid_common: true
            }
        );
        let b: PasswordBaseline = serde_json::from_str(r#"{"max_length": 64, "history": 0}"#).unwrap();
        assert_eq!((b.max_length, b.history, b.forbid_common), (64, 0, true));
        assert!(serde_json::from_str::<PasswordBaseline>(r#"{"MAX_LENGTH": 64}"#).is_err());
        let r = PasswordBaseline::default().to_rules();
        assert_eq!((r.min_length, r.max_length, r.history), (8, 128, 5));
        assert!(r.forbid_username && r.forbid_common);
    }

    #[test]
    fn pin_rules_config() {
        let c: PinRulesConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(PinRules::from(c), default_pin_rules());
        let c: PinRulesConfig = serde_json::from_str(r#"{"min_length": 6, "max_repeated_digits": null}"#).unwrap();
        let r = PinRules::from(c);
        assert_eq!((r.min_length, r.max_length, r.max_repeated_digits), (6, 8, None));
        assert!(serde_json::from_str::<PinRulesConfig>(r#"{"minLength": 6}"#).is_err());
    }

    #[test]
    fn level_rules_become_password_rules() {
        let r = LevelPasswordRules::END_USER_DEFAULT.to_rules();
        assert_eq!(
            (
                r.min_length,
                r.min_uppercase,
                r.min_lowercase,
                r.min_digits,
                r.min_special
            ),
            (8, 1, 1, 1, 1)
        );
        assert_eq!(r.max_length, PasswordRules::NONE.max_length);
        assert!(!r.forbid_common && !r.forbid_username);
    }
}
