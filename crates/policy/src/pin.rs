//! PIN ("passcode") quality after BroadWorks' passcode rules: which rules apply
//! ([`effective_pin_rules`]) and checking a PIN against them ([`check_pin`], [`evaluate_pin`]).
//! Reuse of earlier PINs and the reversed current PIN need the stored hashes: the service compares
//! with [`crate::hashing`] (hashing [`reversed`] for the latter) and reports [`reused_pin`] and
//! [`reversed_old_pin`].
//!
//! Definitions, on the PIN's ASCII digits:
//! - repeated digits: the longest run of one digit (`1000` has a run of 3);
//! - ascending run: the longest run where each digit is the previous plus one (`1234` is a run of
//!   4; `9` → `0` does not wrap, so `7890` has runs of 3 and 1);
//! - descending run: likewise with minus one;
//! - repeated pattern: the PIN is two or more copies of a shorter block (`1212`, `123123`, and
//!   `1111` too);
//! - user number: the PIN contains the extension or phone number, or is the number's last digits
//!   (`8671` for `+32 2 555 86 71`); reversed user number: the same of the PIN read backwards
//!   (`1768`, `0004` for extension `4000`). See [`PinContext`] and [`USER_NUMBER_MIN_DIGITS`].

use crate::settings::ApioSettings;
pub use crate::settings::default_pin_rules;
pub use crate::violation::{RuleOutcome, Violation};
use crate::violation::{codes, counted, fields};
use accountd_domain::rules::PinRules;
use accountd_domain::secret::PinCode;

/// The user's numbers a PIN must not contain. Only the digits count: a phone number's `+`, spaces,
/// dashes and brackets are ignored; an absent or empty number, or one with fewer than
/// [`USER_NUMBER_MIN_DIGITS`] digits, is not looked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinContext<'a> {
    /// The user's extension (`4000`).
    pub extension: Option<&'a str>,
    /// The user's phone number as stored (`+32 2 123 45 67`).
    pub phone_number: Option<&'a str>,
}

/// Shortest user number (in digits) that the user-number rules look for. Shorter numbers are
/// ignored: a 2-digit extension turns up inside many PINs by coincidence (a 6-digit PIN contains a
/// given pair about 5 % of the time), and refusing those protects nothing.
pub const USER_NUMBER_MIN_DIGITS: usize = 3;

impl PinContext<'_> {
    /// The numbers to look for: the digits of each, in order, those with enough digits only.
    fn numbers(&self) -> Vec<String> {
        [self.extension, self.phone_number]
            .into_iter()
            .flatten()
            .map(|n| n.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|digits| digits.len() >= USER_NUMBER_MIN_DIGITS)
            .collect()
    }
}

/// The PIN rules to check locally: `None` when `VALIDATE_PINCODE_LOCALLY` is off (no local check;
/// the Application Server judges), else the network element's rules (`upstream`) when it has some,
/// else [`default_pin_rules`].
pub fn effective_pin_rules(settings: &ApioSettings, upstream: Option<&PinRules>) -> Option<PinRules> {
    effective_pin_rules_with(settings, upstream, &default_pin_rules())
}

/// [`effective_pin_rules`] with configured local rules in place of [`default_pin_rules`] (see
/// [`crate::settings::PinRulesConfig`]).
pub fn effective_pin_rules_with(
    settings: &ApioSettings,
    upstream: Option<&PinRules>,
    local: &PinRules,
) -> Option<PinRules> {
    settings
        .validate_pincode_locally
        .then(|| upstream.unwrap_or(local).clone())
}

/// Every rule `pin` breaks, all at once, in the order of [`evaluate_pin`]. History and the
/// reversed current PIN are not checked here (see [`reused_pin`], [`reversed_old_pin`]).
pub fn check_pin(rules: &PinRules, pin: &PinCode, ctx: &PinContext) -> Vec<Violation> {
    evaluate_pin(rules, pin, ctx)
        .iter()
        .filter_map(|outcome| outcome.violation(fields::PIN_CODE))
        .collect()
}

/// The violation for a PIN equal to the current one or one of the `history` earlier ones.
pub fn reused_pin(history: u8) -> Violation {
    let message = if history == 0 {
        "must differ from the current PIN".to_owned()
    } else {
        format!(
            "must differ from the current PIN and the {}",
            counted(history, "previous one", "previous ones")
        )
    };
    Violation::new(fields::PIN_CODE, codes::PIN_REUSED, message)
}

/// The violation for a PIN that is the current PIN reversed.
pub fn reversed_old_pin() -> Violation {
    Violation::new(
        fields::PIN_CODE,
        codes::PIN_REVERSED_OLD,
        "must not be the current PIN reversed",
    )
}

/// Each rule that applies, passed or not, for live feedback: the length rules always; a run limit
/// when it is set; the pattern and user-number rules when enabled (a user-number rule passes when
/// no number is known). History and the reversed current PIN are not included.
pub fn evaluate_pin(rules: &PinRules, pin: &PinCode, ctx: &PinContext) -> Vec<RuleOutcome> {
    let digits = pin.expose().as_bytes();
    let mut out = Vec::new();
    let mut rule = |code: &'static str, message: String, passed: bool| out.push(RuleOutcome { code, message, passed });

    rule(
        codes::PIN_TOO_SHORT,
        format!("must be at least {} long", counted(rules.min_length, "digit", "digits")),
        digits.len() >= usize::from(rules.min_length),
    );
    rule(
        codes::PIN_TOO_LONG,
        format!("must be at most {} long", counted(rules.max_length, "digit", "digits")),
        digits.len() <= usize::from(rules.max_length),
    );
    if let Some(max) = rules.max_repeated_digits {
        rule(
            codes::PIN_REPEATED_DIGITS,
            format!(
                "must not contain the same digit more than {} in a row",
                counted(max, "time", "times")
            ),
            longest_run(digits, 0) <= usize::from(max),
        );
    }
    if let Some(max) = rules.max_ascending_run {
        rule(
            codes::PIN_ASCENDING_RUN,
            format!(
                "must not contain more than {} in a row{}",
                counted(max, "ascending digit", "ascending digits"),
                example(max, 1)
            ),
            longest_run(digits, 1) <= usize::from(max),
        );
    }
    if let Some(max) = rules.max_descending_run {
        rule(
            codes::PIN_DESCENDING_RUN,
            format!(
                "must not contain more than {} in a row{}",
                counted(max, "descending digit", "descending digits"),
                example(max, -1)
            ),
            longest_run(digits, -1) <= usize::from(max),
        );
    }
    if rules.forbid_repeated_patterns {
        rule(
            codes::PIN_REPEATED_PATTERN,
            "must not be one group of digits repeated (such as 1212 or 123123)".to_owned(),
            !is_repeated_pattern(digits),
        );
    }
    let numbers = ctx.numbers();
    let pin_text = pin.expose();
    if rules.forbid_user_number {
        rule(
            codes::PIN_CONTAINS_USER_NUMBER,
            "must not contain the user's extension or phone number".to_owned(),
            !numbers.iter().any(|n| matches_number(pin_text, n)),
        );
    }
    if rules.forbid_reversed_user_number {
        let backwards: String = pin_text.chars().rev().collect();
        rule(
            codes::PIN_CONTAINS_REVERSED_USER_NUMBER,
            "must not contain the user's extension or phone number reversed".to_owned(),
            !numbers.iter().any(|n| matches_number(&backwards, n)),
        );
    }
    out
}

/// `pin` with its digits in reverse order (`1234` → `4321`), to compare with the current PIN's hash.
pub fn reversed(pin: &PinCode) -> PinCode {
    let digits: String = pin.expose().chars().rev().collect();
    // The reverse of valid digits is valid digits of the same length: parse can't refuse it.
    PinCode::parse(digits).unwrap_or_else(|_| pin.clone())
}

/// Longest run of digits where each is the previous plus `step` (0: the same digit repeated; 1:
/// ascending; -1: descending). No wrap-around; an empty PIN has a run of 0.
fn longest_run(digits: &[u8], step: i16) -> usize {
    let mut longest = usize::from(!digits.is_empty());
    let mut current = longest;
    for pair in digits.windows(2) {
        if i16::from(pair[1]) - i16::from(pair[0]) == step {
            current += 1;
        } else {
            current = 1;
        }
        longest = longest.max(current);
    }
    longest
}

/// Whether `digits` is two or more copies of a shorter block.
fn is_repeated_pattern(digits: &[u8]) -> bool {
    let n = digits.len();
    (1..=n / 2).any(|block| n.is_multiple_of(block) && digits.chunks(block).all(|chunk| chunk == &digits[..block]))
}

/// Whether the PIN shows the number `number` (digits only): it contains the number, or the number
/// ends with the whole PIN (a PIN that is the phone number's last digits, i.e. the number without
/// its country or area code; only for PINs of at least [`USER_NUMBER_MIN_DIGITS`] digits). The
/// reversed rule asks the same of the PIN read backwards.
fn matches_number(pin: &str, number: &str) -> bool {
    pin.contains(number) || (pin.len() >= USER_NUMBER_MIN_DIGITS && number.ends_with(pin))
}

/// ` (such as 1234)` for a limit of 3 ascending digits (` (such as 4321)` descending): the
/// shortest run that breaks the rule; empty when no run of digits can be that long.
fn example(max: u8, step: i8) -> String {
    let len = usize::from(max) + 1;
    let digit = |d: usize| char::from(b'0' + (d % 10) as u8);
    let ascending: String = match len {
        2..=9 => (1..=len).map(digit).collect(),
        10 => (0..10).map(digit).collect(),
        _ => return String::new(),
    };
    let run: String = if step > 0 {
        ascending
    } else {
        ascending.chars().rev().collect()
    };
    format!(" (such as {run})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pin(s: &str) -> PinCode {
        PinCode::parse(s).unwrap()
    }

    /// Rules that refuse nothing, to test one rule at a time.
    fn none() -> PinRules {
        PinRules {
            min_length: 1,
            max_length: 64,
            max_repeated_digits: None,
            max_ascending_run: None,
            max_descending_run: None,
            forbid_repeated_patterns: false,
            forbid_user_number: false,
            forbid_reversed_user_number: false,
            history: 0,
            forbid_reversed_old: false,
            expiry_days: None,
            max_failed_attempts: None,
        }
    }

    fn codes_of(v: &[Violation]) -> Vec<&'static str> {
        v.iter().map(|v| v.code).collect()
    }

    const NO_CTX: PinContext<'static> = PinContext {
        extension: None,
        phone_number: None,
    };

    #[test]
    fn each_rule_passes_and_fails() {
        let ctx = PinContext {
            extension: Some("4000"),
            phone_number: Some("+32 2 555 86 71"),
        };
        let cases: [(PinRules, &str, &str, &'static str); 9] = [
            (
                PinRules {
                    min_length: 4,
                    ..none()
                },
                "5830",
                "583",
                codes::PIN_TOO_SHORT,
            ),
            (
                PinRules {
                    max_length: 6,
                    ..none()
                },
                "583091",
                "5830912",
                codes::PIN_TOO_LONG,
            ),
            (
                PinRules {
                    max_repeated_digits: Some(2),
                    ..none()
                },
                "5500",
                "5000",
                codes::PIN_REPEATED_DIGITS,
            ),
            (
                PinRules {
                    max_ascending_run: Some(3),
                    ..none()
                },
                "123856",
                "123485",
                codes::PIN_ASCENDING_RUN,
            ),
            (
                PinRules {
                    max_descending_run: Some(3),
                    ..none()
                },
                "321856",
                "432185",
                codes::PIN_DESCENDING_RUN,
            ),
            (
                PinRules {
                    forbid_repeated_patterns: true,
                    ..none()
                },
                "121312",
                "123123",
                codes::PIN_REPEATED_PATTERN,
            ),
            (
                PinRules {
                    forbid_user_number: true,
                    ..none()
                },
                "400158",
                "914000",
                codes::PIN_CONTAINS_USER_NUMBER,
            ),
            (
                PinRules {
                    forbid_user_number: true,
                    ..none()
                },
                "586710",
                "5558671",
                codes::PIN_CONTAINS_USER_NUMBER,
            ),
            (
                PinRules {
                    forbid_reversed_user_number: true,
                    ..none()
                },
                "400458",
                "900049",
                codes::PIN_CONTAINS_REVERSED_USER_NUMBER,
            ),
        ];
        for (rules, good, bad, code) in cases {
            assert!(
                check_pin(&rules, &pin(good), &ctx).is_empty(),
                "{good} refused by {code}"
            );
            let v = check_pin(&rules, &pin(bad), &ctx);
            assert_eq!(codes_of(&v), [code], "{bad}");
            assert_eq!(v[0].field, "pinCode");
        }
    }

    #[test]
    fn runs() {
        assert_eq!(longest_run(b"1234", 1), 4);
        assert_eq!(longest_run(b"7890", 1), 3, "9 to 0 does not wrap");
        assert_eq!(longest_run(b"0987", -1), 3, "0 to 9 does not wrap");
        assert_eq!(longest_run(b"98765", -1), 5);
        assert_eq!(longest_run(b"1000", 0), 3);
        assert_eq!(longest_run(b"5", 0), 1);
        assert_eq!(longest_run(b"", 0), 0);
        assert_eq!(longest_run(b"135", 1), 1);
    }

    #[test]
    fn patterns() {
        for p in ["1212", "123123", "1111", "11", "454545", "12341234"] {
            assert!(is_repeated_pattern(p.as_bytes()), "{p}");
        }
        for p in ["1", "1213", "12312", "121", "5830", "112111"] {
            assert!(!is_repeated_pattern(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn user_numbers_compare_digits_only_and_ignore_short_or_empty_ones() {
        let rules = PinRules {
            forbid_user_number: true,
            forbid_reversed_user_number: true,
            ..none()
        };
        let phone = PinContext {
            extension: Some(""),
            phone_number: Some("+32 (2) 555-8671"),
        };
        assert_eq!(
            codes_of(&check_pin(&rules, &pin("322555867100"), &phone)),
            [codes::PIN_CONTAINS_USER_NUMBER]
        );
        assert_eq!(
            codes_of(&check_pin(&rules, &pin("8671"), &phone)),
            [codes::PIN_CONTAINS_USER_NUMBER],
            "the tail"
        );
        assert_eq!(
            codes_of(&check_pin(&rules, &pin("1768"), &phone)),
            [codes::PIN_CONTAINS_REVERSED_USER_NUMBER],
            "the tail reversed"
        );
        let short = PinContext {
            extension: Some("40"),
            phone_number: Some("+"),
        };
        assert!(
            check_pin(&rules, &pin("4040"), &short).is_empty(),
            "2-digit numbers are ignored"
        );
        assert!(check_pin(&rules, &pin("4000"), &NO_CTX).is_empty());
        assert!(
            check_pin(&rules, &pin("71"), &phone).is_empty(),
            "a 2-digit tail is a coincidence"
        );
        assert!(
            !check_pin(&rules, &pin("671"), &phone).is_empty(),
            "a 3-digit tail is not"
        );
        let ext = PinContext {
            extension: Some("4000"),
            phone_number: None,
        };
        assert_eq!(
            codes_of(&check_pin(&rules, &pin("4000"), &ext)),
            [codes::PIN_CONTAINS_USER_NUMBER]
        );
        let palindrome = PinContext {
            extension: Some("1221"),
            phone_number: None,
        };
        assert_eq!(
            codes_of(&check_pin(&rules, &pin("712218"), &palindrome)),
            [
                codes::PIN_CONTAINS_USER_NUMBER,
                codes::PIN_CONTAINS_REVERSED_USER_NUMBER
            ]
        );
    }

    #[test]
    fn default_rules_are_broadworks_like() {
        let r = default_pin_rules();
        assert_eq!((r.min_length, r.max_length), (4, 8));
        let ctx = PinContext {
            extension: Some("4000"),
            phone_number: Some(""),
        };
        for ok in ["5830", "192837", "1112", "24681357", "3579"] {
            assert!(
                check_pin(&r, &pin(ok), &ctx).is_empty(),
                "{ok}: {:?}",
                check_pin(&r, &pin(ok), &ctx)
            );
        }
        for (bad, code) in [
            ("583", codes::PIN_TOO_SHORT),
            ("583019274", codes::PIN_TOO_LONG),
            ("11112", codes::PIN_REPEATED_DIGITS),
            ("123456", codes::PIN_ASCENDING_RUN),
            ("987654", codes::PIN_DESCENDING_RUN),
            ("5858", codes::PIN_REPEATED_PATTERN),
            ("140002", codes::PIN_CONTAINS_USER_NUMBER),
            ("70004", codes::PIN_CONTAINS_REVERSED_USER_NUMBER),
        ] {
            assert!(
                codes_of(&check_pin(&r, &pin(bad), &ctx)).contains(&code),
                "{bad} not refused for {code}"
            );
        }
        assert_eq!(
            codes_of(&check_pin(&r, &pin("1111"), &ctx)),
            [codes::PIN_REPEATED_DIGITS, codes::PIN_REPEATED_PATTERN],
            "every violation at once"
        );
    }

    #[test]
    fn messages_name_the_numbers() {
        let r = default_pin_rules();
        let messages: Vec<String> = evaluate_pin(&r, &pin("5830"), &NO_CTX)
            .into_iter()
            .map(|o| o.message)
            .collect();
        assert_eq!(
            messages,
            [
                "must be at least 4 digits long",
                "must be at most 8 digits long",
                "must not contain the same digit more than 3 times in a row",
                "must not contain more than 3 ascending digits in a row (such as 1234)",
                "must not contain more than 3 descending digits in a row (such as 4321)",
                "must not be one group of digits repeated (such as 1212 or 123123)",
                "must not contain the user's extension or phone number",
                "must not contain the user's extension or phone number reversed",
            ]
        );
        assert_eq!(
            reused_pin(3).message,
            "must differ from the current PIN and the 3 previous ones"
        );
        assert_eq!(reused_pin(0).message, "must differ from the current PIN");
        assert_eq!((reused_pin(1).code, reused_pin(1).field), ("pin_reused", "pinCode"));
        assert_eq!(reversed_old_pin().code, "pin_reversed_old");
        assert_eq!(example(1, 1), " (such as 12)");
        assert_eq!(example(8, 1), " (such as 123456789)");
        assert_eq!(example(9, 1), " (such as 0123456789)");
        assert_eq!(example(9, -1), " (such as 9876543210)");
        assert_eq!(example(10, 1), "");
        assert_eq!(example(0, 1), "");
    }

    #[test]
    fn evaluate_lists_only_enabled_rules() {
        assert_eq!(evaluate_pin(&none(), &pin("1"), &NO_CTX).len(), 2);
        let all = evaluate_pin(&default_pin_rules(), &pin("5830"), &NO_CTX);
        assert_eq!(all.len(), 8);
        assert!(all.iter().all(|o| o.passed));
    }

    #[test]
    fn reversing() {
        assert_eq!(reversed(&pin("1234")).expose(), "4321");
        assert_eq!(reversed(&pin("7")).expose(), "7");
        assert_eq!(reversed(&reversed(&pin("509182"))), pin("509182"));
    }

    #[test]
    fn validate_pincode_locally() {
        let upstream = PinRules {
            min_length: 6,
            ..none()
        };
        let on = ApioSettings::default();
        assert!(on.validate_pincode_locally);
        assert_eq!(effective_pin_rules(&on, None), Some(default_pin_rules()));
        assert_eq!(effective_pin_rules(&on, Some(&upstream)), Some(upstream.clone()));
        let off = ApioSettings {
            validate_pincode_locally: false,
            ..ApioSettings::default()
        };
        assert_eq!(effective_pin_rules(&off, None), None);
        assert_eq!(effective_pin_rules(&off, Some(&upstream)), None);
        let local = PinRules {
            min_length: 5,
            ..default_pin_rules()
        };
        assert_eq!(effective_pin_rules_with(&on, None, &local), Some(local.clone()));
        assert_eq!(effective_pin_rules_with(&on, Some(&upstream), &local), Some(upstream));
    }

    fn arb_limit() -> impl Strategy<Value = Option<u8>> {
        prop_oneof![Just(None), (1u8..6).prop_map(Some)]
    }

    fn arb_rules() -> impl Strategy<Value = PinRules> {
        (1u8..8, 4u8..16, arb_limit(), arb_limit(), arb_limit(), any::<bool>()).prop_map(
            |(min_length, max_length, rep, asc, desc, patterns)| PinRules {
                min_length,
                max_length,
                max_repeated_digits: rep,
                max_ascending_run: asc,
                max_descending_run: desc,
                forbid_repeated_patterns: patterns,
                ..none()
            },
        )
    }

    /// Independent definitions, written differently from the ones under test.
    fn max_run_naive(pin: &str, step: i32) -> usize {
        let d: Vec<i32> = pin.bytes().map(|b| i32::from(b - b'0')).collect();
        (0..d.len())
            .map(|start| (start + 1..d.len()).take_while(|&k| d[k] - d[k - 1] == step).count() + 1)
            .max()
            .unwrap_or(0)
    }

    fn is_pattern_naive(pin: &str) -> bool {
        (1..pin.len()).any(|b| pin.len().is_multiple_of(b) && pin[..b].repeat(pin.len() / b) == pin)
    }

    proptest! {
        /// Any PIN that check_pin accepts has no run longer than the limits and is no repeated
        /// pattern; and any violation check_pin reports really holds.
        #[test]
        fn accepted_pins_respect_every_limit(digits in "[0-9]{1,16}", rules in arb_rules()) {
            let v = check_pin(&rules, &pin(&digits), &NO_CTX);
            let over = |limit: Option<u8>, run: usize| limit.is_some_and(|m| run > usize::from(m));
            if v.is_empty() {
                prop_assert!(!over(rules.max_repeated_digits, max_run_naive(&digits, 0)));
                prop_assert!(!over(rules.max_ascending_run, max_run_naive(&digits, 1)));
                prop_assert!(!over(rules.max_descending_run, max_run_naive(&digits, -1)));
                prop_assert!(!(rules.forbid_repeated_patterns && is_pattern_naive(&digits)));
                prop_assert!((usize::from(rules.min_length)..=usize::from(rules.max_length)).contains(&digits.len()));
            }
            for violation in &v {
                let holds = match violation.code {
                    codes::PIN_TOO_SHORT => digits.len() < usize::from(rules.min_length),
                    codes::PIN_TOO_LONG => digits.len() > usize::from(rules.max_length),
                    codes::PIN_REPEATED_DIGITS => over(rules.max_repeated_digits, max_run_naive(&digits, 0)),
                    codes::PIN_ASCENDING_RUN => over(rules.max_ascending_run, max_run_naive(&digits, 1)),
                    codes::PIN_DESCENDING_RUN => over(rules.max_descending_run, max_run_naive(&digits, -1)),
                    codes::PIN_REPEATED_PATTERN => rules.forbid_repeated_patterns && is_pattern_naive(&digits),
                    _ => false,
                };
                prop_assert!(holds, "{} reported for {}", violation.code, digits);
            }
        }

        /// A PIN never passes the user-number rule while containing a (long enough) user number.
        #[test]
        fn user_numbers_are_never_accepted(ext in "[0-9]{3,6}", prefix in "[0-9]{0,3}", suffix in "[0-9]{0,3}") {
            let rules = PinRules { forbid_user_number: true, forbid_reversed_user_number: true, ..none() };
            let ctx = PinContext { extension: Some(&ext), phone_number: None };
            let forwards = format!("{prefix}{ext}{suffix}");
            prop_assert!(codes_of(&check_pin(&rules, &pin(&forwards), &ctx)).contains(&codes::PIN_CONTAINS_USER_NUMBER));
            let backwards = format!("{prefix}{}{suffix}", ext.chars().rev().collect::<String>());
            prop_assert!(codes_of(&check_pin(&rules, &pin(&backwards), &ctx)).contains(&codes::PIN_CONTAINS_REVERSED_USER_NUMBER));
        }
    }
}
