//! Password quality: which rules apply to a user ([`effective_password_rules`]) and checking a
//! candidate against them ([`check_password`], [`evaluate_password`]). Reuse of earlier passwords
//! needs their hashes, so the service checks it with [`crate::hashing`] and reports it with
//! [`reused_password`].
//!
//! How each rule counts:
//! - length: Unicode scalar values (`char`s), not bytes;
//! - uppercase / lowercase: `char::is_uppercase` / `char::is_lowercase` (Unicode);
//! - digits: `char::is_numeric` (Unicode);
//! - special: anything that is not `char::is_alphanumeric` (punctuation, symbols, spaces);
//! - username: see [`contains_username`];
//! - common: see [`is_common_password`].

use crate::settings::{ApioSettings, PasswordBaseline};
pub use crate::violation::{RuleOutcome, Violation};
use crate::violation::{codes, counted, fields};
use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::rules::PasswordRules;
use accountd_domain::secret::Password;

/// The rules a new password of a user at `level` must satisfy.
///
/// The result is the [`PasswordRules::strictest`] combination of:
/// 1. the `baseline`, always (accountd's own floor: maximum length, username, history, common);
/// 2. the network element's rules for the level (`upstream`) when `VALIDATE_PASSWORD_LOCALLY` is on
///    and the Application Server gave rules; otherwise, when `VALIDATE_PASSWORD_LOCAL_RULE` is on,
///    the local rule (`LOCAL_PASSWORD_RULE`, by default the seed's hardcoded 8 characters with 1
///    uppercase and 1 lowercase letter); otherwise nothing more;
/// 3. for [`UserLevel::EndUser`] only, `MINIMUM_PASSWORD_RULES.END_USER`, always, on top of all the
///    above (seed 001: "on top of the ones of the network element").
///
/// `upstream` is ignored unless `VALIDATE_PASSWORD_LOCALLY` is on.
pub fn effective_password_rules(
    settings: &ApioSettings,
    baseline: &PasswordBaseline,
    level: UserLevel,
    upstream: Option<&PasswordRules>,
) -> PasswordRules {
    let mut rules = baseline.to_rules();
    match upstream {
        Some(network_element) if settings.validate_password_locally => {
            rules = rules.strictest(network_element);
        }
        _ if settings.validate_password_local_rule => {
            rules = rules.strictest(&settings.local_password_rule.to_rules());
        }
        _ => {}
    }
    if level == UserLevel::EndUser {
        rules = rules.strictest(&settings.minimum_password_rules.end_user.to_rules());
    }
    rules
}

/// Every rule `candidate` breaks, all at once, in the order of [`evaluate_password`]. History is
/// not checked here (see [`reused_password`]).
pub fn check_password(rules: &PasswordRules, candidate: &Password, username: &Username) -> Vec<Violation> {
    evaluate_password(rules, candidate, username)
        .iter()
        .filter_map(|outcome| outcome.violation(fields::NEW_PASSWORD))
        .collect()
}

/// The violation for a password equal to the current one or one of the `history` earlier ones.
pub fn reused_password(history: u8) -> Violation {
    let message = if history == 0 {
        "must differ from the current password".to_owned()
    } else {
        format!(
            "must differ from the current password and the {}",
            counted(history, "previous one", "previous ones")
        )
    };
    Violation::new(fields::NEW_PASSWORD, codes::PASSWORD_REUSED, message)
}

/// Each rule that applies, passed or not, for live feedback. Length rules always apply (minimum
/// and maximum); a character-class minimum applies when it is above 0; the username and common
/// rules when enabled. History is not included (it needs the stored hashes).
pub fn evaluate_password(rules: &PasswordRules, candidate: &Password, username: &Username) -> Vec<RuleOutcome> {
    let text = candidate.expose();
    let counts = CharCounts::of(text);
    let mut out = Vec::new();
    let mut rule = |code: &'static str, message: String, passed: bool| out.push(RuleOutcome { code, message, passed });

    rule(
        codes::PASSWORD_TOO_SHORT,
        format!(
            "must be at least {} long",
            counted(rules.min_length, "character", "characters")
        ),
        counts.chars >= usize::from(rules.min_length),
    );
    rule(
        codes::PASSWORD_TOO_LONG,
        format!(
            "must be at most {} long",
            counted(rules.max_length, "character", "characters")
        ),
        counts.chars <= usize::from(rules.max_length),
    );
    let minimums = [
        (
            codes::PASSWORD_MIN_UPPERCASE,
            rules.min_uppercase,
            counts.uppercase,
            "uppercase letter",
            "uppercase letters",
        ),
        (
            codes::PASSWORD_MIN_LOWERCASE,
            rules.min_lowercase,
            counts.lowercase,
            "lowercase letter",
            "lowercase letters",
        ),
        (
            codes::PASSWORD_MIN_DIGITS,
            rules.min_digits,
            counts.digits,
            "digit",
            "digits",
        ),
        (
            codes::PASSWORD_MIN_SPECIAL,
            rules.min_special,
            counts.special,
            "special character (neither a letter nor a digit)",
            "special characters (neither letters nor digits)",
        ),
    ];
    for (code, min, have, singular, plural) in minimums {
        if min > 0 {
            rule(
                code,
                format!("must contain at least {}", counted(min, singular, plural)),
                have >= usize::from(min),
            );
        }
    }
    if rules.forbid_username {
        rule(
            codes::PASSWORD_CONTAINS_USERNAME,
            "must not contain the username".to_owned(),
            !contains_username(text, username),
        );
    }
    if rules.forbid_common {
        rule(
            codes::PASSWORD_COMMON,
            "must not be a commonly used or easily guessed password".to_owned(),
            !is_common_password(text),
        );
    }
    out
}

/// Character classes of a candidate, counted per `char`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CharCounts {
    chars: usize,
    uppercase: usize,
    lowercase: usize,
    digits: usize,
    special: usize,
}

impl CharCounts {
    fn of(text: &str) -> Self {
        text.chars().fold(Self::default(), |mut c, ch| {
            c.chars += 1;
            c.uppercase += usize::from(ch.is_uppercase());
            c.lowercase += usize::from(ch.is_lowercase());
            c.digits += usize::from(ch.is_numeric());
            c.special += usize::from(!ch.is_alphanumeric());
            c
        })
    }
}

/// Shortest username (or part before `@`) that [`contains_username`] looks for, in characters:
/// shorter ones would refuse passwords by coincidence ("al" in "Royal-Palm-42").
pub const MIN_USERNAME_CHARS: usize = 3;

/// Whether `password` contains, ignoring case (Unicode lowercase of both), the full username or
/// its part before the first `@`; each is only looked for when it has at least
/// [`MIN_USERNAME_CHARS`] characters.
pub fn contains_username(password: &str, username: &Username) -> bool {
    let haystack = password.to_lowercase();
    let full = username.as_str();
    let local = full.split_once('@').map(|(local, _)| local);
    [Some(full), local]
        .into_iter()
        .flatten()
        .filter(|name| name.chars().count() >= MIN_USERNAME_CHARS)
        .any(|name| haystack.contains(&name.to_lowercase()))
}

/// Whether `password` is common or easily guessed, judged by zxcvbn (its first 100 characters, no
/// user inputs). It is when either holds:
///
/// 1. zxcvbn's score is 0 or 1: fewer than 10^6 estimated guesses. This catches dictionary words and
///    listed passwords with the usual decorations (`Password1!`, `Qwerty123!`, `Welcome1!`),
///    keyboard walks, repeats, sequences and dates. (Score 0 alone would let `Password1!` through:
///    zxcvbn gives it score 1.)
/// 2. Once leading and trailing characters that are neither letters nor digits are trimmed, what
///    is left is exactly one match of zxcvbn's "passwords" dictionary spanning all of it. zxcvbn
///    matches case-insensitively and also finds the word with l33t substitutions undone
///    (`P@ssw0rd`) or reversed, so those count too. This refuses listed passwords that mixed case
///    alone pushes past score 1.
///
/// `Demo-Passw0rd!` is not common: score 3, and it is a brute-forced `Demo-` plus a l33t
/// `password` plus `!`, not one dictionary match.
pub fn is_common_password(password: &str) -> bool {
    let entropy = zxcvbn::zxcvbn(password, &[]);
    if u8::from(entropy.score()) <= 1 {
        return true;
    }
    let core = password.trim_matches(|c: char| !c.is_alphanumeric());
    if core.is_empty() || core.chars().count() > 100 {
        return false;
    }
    let core_entropy = if core.len() == password.len() {
        entropy
    } else {
        zxcvbn::zxcvbn(core, &[])
    };
    match core_entropy.sequence() {
        [only] => only.i == 0 && only.j + 1 == core.chars().count() && is_passwords_dictionary_match(only),
        _ => false,
    }
}

/// Whether a zxcvbn match is in its "passwords" dictionary. zxcvbn doesn't export its dictionary
/// type by name, so this compares with the default `DictionaryPattern`'s dictionary, which is the
/// passwords one (a test pins that down).
fn is_passwords_dictionary_match(m: &zxcvbn::Match) -> bool {
    use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};
    match &m.pattern {
        MatchPattern::Dictionary(d) => d.dictionary_name == DictionaryPattern::default().dictionary_name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LevelPasswordRules;
    use proptest::prelude::*;

    fn pw(s: &str) -> Password {
        Password::new(s).unwrap()
    }

    fn user(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    fn codes_of(v: &[Violation]) -> Vec<&'static str> {
        v.iter().map(|v| v.code).collect()
    }

    fn default_end_user_rules() -> PasswordRules {
        effective_password_rules(
            &ApioSettings::default(),
            &PasswordBaseline::default(),
            UserLevel::EndUser,
            None,
        )
    }

    #[test]
    fn demo_password_passes_the_default_rules_for_every_level() {
        for level in UserLevel::ALL {
            let rules = effective_password_rules(&ApioSettings::default(), &PasswordBaseline::default(), level, None);
            assert_eq!(
                check_password(&rules, &pw("Demo-Passw0rd!"), &user("jbloggs")),
                vec![],
                "{level:?}"
            );
        }
        let all_on = ApioSettings {
            validate_password_locally: true,
            validate_password_local_rule: true,
            ..ApioSettings::default()
        };
        let rules = effective_password_rules(&all_on, &PasswordBaseline::default(), UserLevel::EndUser, None);
        assert!(check_password(&rules, &pw("Demo-Passw0rd!"), &user("PieGroupAdmin1@sip.netaxis.be")).is_empty());
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in [
            "password",
            "Password1!",
            "qwerty123",
            "letmein",
            "P@ssw0rd",
            "Qwerty123!",
            "Welcome1!",
            "123456",
        ] {
            assert!(is_common_password(common), "{common} not common");
        }
        for fine in [
            "Demo-Passw0rd!",
            "correct horse battery staple",
            "Zq8#mW2p-Lk4",
            "Tr0ub4dor&3",
        ] {
            assert!(!is_common_password(fine), "{fine} common");
        }
        let rules = PasswordRules {
            forbid_common: true,
            ..PasswordRules::NONE
        };
        let v = check_password(&rules, &pw("letmein"), &user("x"));
        assert_eq!(codes_of(&v), [codes::PASSWORD_COMMON]);
        assert_eq!(v[0].field, "newPassword");
        assert!(check_password(&PasswordRules::NONE, &pw("letmein"), &user("x")).is_empty());
    }

    #[test]
    fn a_listed_password_in_odd_case_is_refused_by_the_dictionary_rule() {
        // Rule 2 alone: score above 1 yet one "passwords" dictionary match once trimmed.
        let candidate = "~MaRiNeRs~";
        assert!(
            u8::from(zxcvbn::zxcvbn(candidate, &[]).score()) >= 2,
            "pick another example"
        );
        assert!(is_common_password(candidate));
        // The dictionary type comparison really names the passwords dictionary.
        let e = zxcvbn::zxcvbn("letmein", &[]);
        assert!(is_passwords_dictionary_match(&e.sequence()[0]));
        let e = zxcvbn::zxcvbn("battery", &[]);
        assert!(!is_passwords_dictionary_match(&e.sequence()[0]));
    }

    #[test]
    fn each_rule_passes_and_fails() {
        let name = user("someone");
        let cases: [(PasswordRules, &str, &str, &'static str); 8] = [
            (
                PasswordRules {
                    min_length: 8,
                    ..PasswordRules::NONE
                },
                "abcdefgh",
                "abcdefg",
                codes::PASSWORD_TOO_SHORT,
            ),
            (
                PasswordRules {
                    max_length: 8,
                    ..PasswordRules::NONE
                },
                "abcdefgh",
                "abcdefghi",
                codes::PASSWORD_TOO_LONG,
            ),
            (
                PasswordRules {
                    min_uppercase: 2,
                    ..PasswordRules::NONE
                },
                "AbC",
                "Abc",
                codes::PASSWORD_MIN_UPPERCASE,
            ),
            (
                PasswordRules {
                    min_lowercase: 2,
                    ..PasswordRules::NONE
                },
                "aBc",
                "ABc",
                codes::PASSWORD_MIN_LOWERCASE,
            ),
            (
                PasswordRules {
                    min_digits: 2,
                    ..PasswordRules::NONE
                },
                "a1b2",
                "ab1",
                codes::PASSWORD_MIN_DIGITS,
            ),
            (
                PasswordRules {
                    min_special: 2,
                    ..PasswordRules::NONE
                },
                "a-b c",
                "a-bc",
                codes::PASSWORD_MIN_SPECIAL,
            ),
            (
                PasswordRules {
                    forbid_username: true,
                    ..PasswordRules::NONE
                },
                "Demo-Passw0rd!",
                "xSomeOne1!",
                codes::PASSWORD_CONTAINS_USERNAME,
            ),
            (
                PasswordRules {
                    forbid_common: true,
                    ..PasswordRules::NONE
                },
                "Demo-Passw0rd!",
                "qwerty123",
                codes::PASSWORD_COMMON,
            ),
        ];
        for (rules, good, bad, code) in cases {
            assert!(
                check_password(&rules, &pw(good), &name).is_empty(),
                "{good} refused by {code}"
            );
            assert_eq!(codes_of(&check_password(&rules, &pw(bad), &name)), [code], "{bad}");
        }
    }

    #[test]
    fn messages_name_the_numbers() {
        let rules = PasswordRules {
            min_length: 12,
            max_length: 20,
            min_uppercase: 1,
            min_lowercase: 3,
            min_digits: 2,
            min_special: 1,
            ..PasswordRules::NONE
        };
        let v = check_password(&rules, &pw("ABC"), &user("x"));
        let messages: Vec<&str> = v.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "must be at least 12 characters long",
                "must contain at least 3 lowercase letters",
                "must contain at least 2 digits",
                "must contain at least 1 special character (neither a letter nor a digit)",
            ]
        );
        assert_eq!(
            check_password(&rules, &pw(&"aB1-".repeat(6)), &user("x"))[0].message,
            "must be at most 20 characters long"
        );
        assert_eq!(
            reused_password(5).message,
            "must differ from the current password and the 5 previous ones"
        );
        assert_eq!(
            reused_password(1).message,
            "must differ from the current password and the 1 previous one"
        );
        assert_eq!(reused_password(0).message, "must differ from the current password");
        assert_eq!(
            (reused_password(3).code, reused_password(3).field),
            ("password_reused", "newPassword")
        );
    }

    #[test]
    fn every_violation_at_once() {
        let v = check_password(&default_end_user_rules(), &pw("letmein"), &user("letmein@acme.com"));
        assert_eq!(
            codes_of(&v),
            [
                codes::PASSWORD_TOO_SHORT,
                codes::PASSWORD_MIN_UPPERCASE,
                codes::PASSWORD_MIN_DIGITS,
                codes::PASSWORD_MIN_SPECIAL,
                codes::PASSWORD_CONTAINS_USERNAME,
                codes::PASSWORD_COMMON,
            ]
        );
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let rules = PasswordRules {
            min_length: 4,
            max_length: 4,
            ..PasswordRules::NONE
        };
        assert!(check_password(&rules, &pw("éèêë"), &user("x")).is_empty());
        assert!(check_password(&rules, &pw("日本語字"), &user("x")).is_empty());
        assert_eq!(
            codes_of(&check_password(&rules, &pw("éèê"), &user("x"))),
            [codes::PASSWORD_TOO_SHORT]
        );
    }

    #[test]
    fn character_classes_are_unicode() {
        let c = CharCounts::of("ÉéΣσ٣ !");
        assert_eq!(
            (c.chars, c.uppercase, c.lowercase, c.digits, c.special),
            (7, 2, 2, 1, 2)
        );
    }

    #[test]
    fn username_rule() {
        let u = user("PieGroupAdmin1@sip.netaxis.be");
        assert!(contains_username("xx-piegroupadmin1-xx", &u), "local part, any case");
        assert!(contains_username("aPIEGROUPADMIN1@SIP.NETAXIS.BEz", &u), "full name");
        assert!(!contains_username("PieGroup-Admin1", &u));
        assert!(
            !contains_username("Royal-Palm-42", &user("al")),
            "too short to look for"
        );
        assert!(
            !contains_username("xx-al-xx", &user("al@example.com")),
            "local part too short"
        );
        assert!(
            contains_username("xxal@example.comxx", &user("al@example.com")),
            "but the full name counts"
        );
        assert!(contains_username("my-BOB-pass", &user("bob")));
        assert!(
            contains_username("ÉLODIE-2024", &user("élodie")),
            "Unicode case folding"
        );
    }

    #[test]
    fn end_user_minimums_apply_on_top() {
        let settings = ApioSettings::default();
        let baseline = PasswordBaseline::default();
        let end_user = effective_password_rules(&settings, &baseline, UserLevel::EndUser, None);
        assert_eq!(
            (
                end_user.min_length,
                end_user.min_uppercase,
                end_user.min_lowercase,
                end_user.min_digits,
                end_user.min_special
            ),
            (8, 1, 1, 1, 1)
        );
        assert_eq!(end_user.max_length, 128);
        assert_eq!(end_user.history, 5);
        assert!(end_user.forbid_common && end_user.forbid_username);
        // Admins get the baseline only.
        let admin = effective_password_rules(&settings, &baseline, UserLevel::GroupAdmin, None);
        assert_eq!(admin, baseline.to_rules());
        assert!(check_password(&admin, &pw("tangerine-umbrella-fox"), &user("x")).is_empty());
        assert!(!check_password(&end_user, &pw("tangerine-umbrella-fox"), &user("x")).is_empty());
    }

    #[test]
    fn minimum_password_rules_end_user_is_configurable() {
        let settings = ApioSettings {
            minimum_password_rules: crate::settings::MinimumPasswordRules {
                end_user: LevelPasswordRules {
                    min_special: 0,
                    min_uppercase: 0,
                    min_lowercase: 0,
                    min_digits: 3,
                    min_length: 14,
                },
            },
            ..ApioSettings::default()
        };
        let r = effective_password_rules(&settings, &PasswordBaseline::default(), UserLevel::EndUser, None);
        assert_eq!(
            (r.min_length, r.min_digits, r.min_uppercase, r.min_special),
            (14, 3, 0, 0)
        );
        let v = check_password(&r, &pw("Demo-Passw0rd!"), &user("x"));
        assert_eq!(codes_of(&v), [codes::PASSWORD_MIN_DIGITS]);
    }

    #[test]
    fn validate_password_locally_uses_the_network_element_rules() {
        let upstream = PasswordRules {
            min_length: 10,
            max_length: 40,
            min_digits: 2,
            history: 8,
            ..PasswordRules::NONE
        };
        let baseline = PasswordBaseline::default();
        let on = ApioSettings {
            validate_password_locally: true,
            ..ApioSettings::default()
        };
        let r = effective_password_rules(&on, &baseline, UserLevel::GroupAdmin, Some(&upstream));
        assert_eq!((r.min_length, r.max_length, r.min_digits, r.history), (10, 40, 2, 8));
        assert!(r.forbid_common, "the baseline still applies");
        // Off (the default): the network element's rules are ignored.
        let r = effective_password_rules(
            &ApioSettings::default(),
            &baseline,
            UserLevel::GroupAdmin,
            Some(&upstream),
        );
        assert_eq!(r, baseline.to_rules());
        // On but the AS has no rules: nothing beyond the baseline (local rule is off).
        let r = effective_password_rules(&on, &baseline, UserLevel::GroupAdmin, None);
        assert_eq!(r, baseline.to_rules());
        // End users: the network element's rules plus MINIMUM_PASSWORD_RULES.END_USER.
        let r = effective_password_rules(&on, &baseline, UserLevel::EndUser, Some(&upstream));
        assert_eq!(
            (r.min_length, r.min_digits, r.min_uppercase, r.min_special),
            (10, 2, 1, 1)
        );
    }

    #[test]
    fn validate_password_local_rule_applies_when_locally_is_off_or_has_nothing() {
        let baseline = PasswordBaseline::default();
        let upstream = PasswordRules {
            min_length: 20,
            ..PasswordRules::NONE
        };
        let local = ApioSettings {
            validate_password_local_rule: true,
            ..ApioSettings::default()
        };
        let r = effective_password_rules(&local, &baseline, UserLevel::TenantAdmin, Some(&upstream));
        assert_eq!(
            (
                r.min_length,
                r.min_uppercase,
                r.min_lowercase,
                r.min_digits,
                r.min_special
            ),
            (8, 1, 1, 0, 0),
            "VALIDATE_PASSWORD_LOCALLY off: the hardcoded local rule, not the AS's"
        );
        assert_eq!(
            codes_of(&check_password(&r, &pw("alllowercase-words"), &user("x"))),
            [codes::PASSWORD_MIN_UPPERCASE]
        );
        let both = ApioSettings {
            validate_password_locally: true,
            ..local.clone()
        };
        let r = effective_password_rules(&both, &baseline, UserLevel::TenantAdmin, Some(&upstream));
        assert_eq!(
            (r.min_length, r.min_uppercase),
            (20, 0),
            "the AS's rules win when both are on"
        );
        let r = effective_password_rules(&both, &baseline, UserLevel::TenantAdmin, None);
        assert_eq!(
            (r.min_length, r.min_uppercase),
            (8, 1),
            "no AS rules: fall back to the local rule"
        );
        let overridden = ApioSettings {
            local_password_rule: LevelPasswordRules {
                min_length: 12,
                ..LevelPasswordRules::LOCAL_RULE_DEFAULT
            },
            ..local
        };
        let r = effective_password_rules(&overridden, &baseline, UserLevel::TenantAdmin, None);
        assert_eq!(r.min_length, 12, "LOCAL_PASSWORD_RULE overrides the hardcoded rule");
    }

    #[test]
    fn evaluate_lists_each_applicable_rule() {
        let rules = default_end_user_rules();
        let outcomes = evaluate_password(&rules, &pw("Demo-Passw0rd!"), &user("x"));
        let listed: Vec<&str> = outcomes.iter().map(|o| o.code).collect();
        assert_eq!(
            listed,
            [
                codes::PASSWORD_TOO_SHORT,
                codes::PASSWORD_TOO_LONG,
                codes::PASSWORD_MIN_UPPERCASE,
                codes::PASSWORD_MIN_LOWERCASE,
                codes::PASSWORD_MIN_DIGITS,
                codes::PASSWORD_MIN_SPECIAL,
                codes::PASSWORD_CONTAINS_USERNAME,
                codes::PASSWORD_COMMON,
            ]
        );
        assert!(outcomes.iter().all(|o| o.passed));
        let none = evaluate_password(&PasswordRules::NONE, &pw("x"), &user("x"));
        assert_eq!(none.len(), 2, "only the length rules apply");
        let json = serde_json::to_value(&outcomes[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "password_too_short", "message": "must be at least 8 characters long", "passed": true})
        );
    }

    fn arb_rules() -> impl Strategy<Value = PasswordRules> {
        (
            0u16..16,
            1u16..64,
            0u16..4,
            0u16..4,
            0u16..4,
            0u16..4,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    min_length,
                    max_length,
                    min_uppercase,
                    min_lowercase,
                    min_digits,
                    min_special,
                    forbid_username,
                    forbid_common,
                )| {
                    PasswordRules {
                        min_length,
                        max_length,
                        min_uppercase,
                        min_lowercase,
                        min_digits,
                        min_special,
                        forbid_username,
                        history: 0,
                        forbid_common,
                    }
                },
            )
    }

    /// Arbitrary Unicode, printable ASCII, and listed passwords with decorations and the username.
    fn arb_candidate() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(any::<char>(), 1..48).prop_map(|c| c.into_iter().collect()),
            "[ -~]{1,40}",
            (
                proptest::sample::select(vec![
                    "password", "letmein", "qwerty", "dragon", "jbloggs", "élodie", "Passw0rd"
                ]),
                "[A-Za-z0-9!@#-]{0,6}",
                "[A-Za-z0-9!@#-]{0,6}",
            )
                .prop_map(|(word, pre, post)| format!("{pre}{word}{post}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Never panics on arbitrary Unicode, and every reported violation really holds (checked
        /// here with independent counting).
        #[test]
        fn check_password_never_panics_and_reports_only_true_violations(
            text in arb_candidate(),
            rules in arb_rules(),
            name in prop_oneof![Just("jbloggs"), Just("al"), Just("PieGroupAdmin1@sip.netaxis.be"), Just("ÉLODIE")],
        ) {
            let password = pw(&text);
            let username = user(name);
            let violations = check_password(&rules, &password, &username);
            let n = |pred: fn(&char) -> bool| text.chars().filter(pred).count();
            for v in &violations {
                prop_assert_eq!(v.field, "newPassword");
                let holds = match v.code {
                    codes::PASSWORD_TOO_SHORT => text.chars().count() < usize::from(rules.min_length),
                    codes::PASSWORD_TOO_LONG => text.chars().count() > usize::from(rules.max_length),
                    codes::PASSWORD_MIN_UPPERCASE => n(|c| c.is_uppercase()) < usize::from(rules.min_uppercase),
                    codes::PASSWORD_MIN_LOWERCASE => n(|c| c.is_lowercase()) < usize::from(rules.min_lowercase),
                    codes::PASSWORD_MIN_DIGITS => n(|c| c.is_numeric()) < usize::from(rules.min_digits),
                    codes::PASSWORD_MIN_SPECIAL => n(|c| !c.is_alphanumeric()) < usize::from(rules.min_special),
                    codes::PASSWORD_CONTAINS_USERNAME => {
                        let lower = text.to_lowercase();
                        let local = name.split('@').next().unwrap_or(name);
                        rules.forbid_username
                            && [name, local].iter().any(|part| part.chars().count() >= 3 && lower.contains(&part.to_lowercase()))
                    }
                    codes::PASSWORD_COMMON => {
                        let e = zxcvbn::zxcvbn(&text, &[]);
                        rules.forbid_common && (u8::from(e.score()) <= 1 || is_common_password(&text))
                    }
                    other => return Err(TestCaseError::fail(format!("unexpected code {other}"))),
                };
                prop_assert!(holds, "{} reported for {:?} under {:?}", v.code, text, rules);
            }
            // And nothing is reported twice.
            let mut seen = codes_of(&violations);
            seen.dedup();
            prop_assert_eq!(seen.len(), violations.len());
        }
    }
}
