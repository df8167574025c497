//! Validated profile values: free text (names, descriptions), e-mail addresses, phone numbers,
//! extensions, languages and time-zone names. Like the ids, each has one constructor for input,
//! `parse_for`, and `from_stored` for values read back from storage, which leaves out the rules
//! that apply to new values only (names and text: no invisible character), so that a rule
//! tightened later never makes a stored row unreadable.

use crate::error::{InvalidValue, Problem};
use serde::{Deserialize, Serialize};
use std::fmt;
use validator::ValidateEmail;

/// `text_value!(Type, max, check)`, or `text_value!(Type, max, check, new_check)` for a type with
/// a rule added after values were stored: `new_check` applies to new values (`parse_for`) and not
/// to stored ones (`from_stored`), so a tightened rule never makes a stored row unreadable.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:path) => {
        text_value!($(#[$doc])* $name, $max, $check, no_new_rule);
    };
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:path, $new_check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            /// Validates a new `value` for the field named `field` (the name errors will carry).
            pub fn parse_for(field: &'static str, value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = Self::from_stored(field, value)?;
                $new_check(field, &value.0)?;
                Ok(value)
            }

            /// A value read back from storage: every rule of `parse_for` except those that apply
            /// to new values only (see the type's doc), so that a row stored before a rule was
            /// tightened stays readable. Not for input.
            pub fn from_stored(field: &'static str, value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                if value.chars().count() > $max {
                    return Err(InvalidValue::new(field, Problem::TooLong { max: $max }));
                }
                $check(field, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse_for(stringify!($name), value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

fn no_control(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    // Tab is the one control character a pasted name may carry; refuse it too, a name is one line.
    if value.chars().any(char::is_control) {
        Err(InvalidValue::new(field, Problem::ControlCharacter))
    } else {
        Ok(())
    }
}

/// No rule beyond the stored values' ones.
fn no_new_rule(_field: &'static str, _value: &str) -> Result<(), InvalidValue> {
    Ok(())
}

/// Characters that change how the text around them is shown without being seen themselves: bidi
/// embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069), zero-width characters
/// and the left-to-right and right-to-left marks (U+200B–U+200F), the word joiner and invisible
/// operators (U+2060–U+2064), and the zero-width no-break space (U+FEFF). In a name they let one
/// user look like another (`John` + RLO + `gnp.exe` shows as `Johnexe.png`).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The rule new names and text have on top of the stored ones: no invisible character.
fn no_invisible(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    if value.chars().any(is_invisible) {
        Err(InvalidValue::new(field, Problem::InvisibleCharacter))
    } else {
        Ok(())
    }
}

/// What every stored e-mail address has (the rule before the `validator` crate's, issue 13): one
/// line, `local@domain` with neither part empty. Stricter checks apply to new values only.
fn stored_email_shape(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    no_control(field, value)?;
    match value.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(InvalidValue::new(
            field,
            Problem::Format("an e-mail address such as name@example.com"),
        )),
    }
}

fn email_shape(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    no_control(field, value)?;
    let bad = || {
        Err(InvalidValue::new(
            field,
            Problem::Format("an e-mail address such as name@example.com"),
        ))
    };
    // The `validator` crate: HTML's "valid e-mail address", what a browser's `<input type=email>`
    // accepts (an ASCII local part of letters, digits and ``.!#$%&'*+/=?^_`{|}~-``, at most 64; a
    // domain of letter-digit-hyphen labels, or an internationalised one that converts to that).
    if !value.validate_email() {
        return bad();
    }
    // On top, what we refused before and validator accepts: an address literal (`a@[192.0.2.1]`)
    // and a domain whose dots are only dots after IDNA's mapping (`a@example。com`). (The length
    // limit of the whole address, 254, keeps the domain within DNS's 253.)
    let domain = value.rsplit_once('@').map_or("", |(_, domain)| domain);
    let domain_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if domain_ok { Ok(()) } else { bad() }
}

fn phone_shape(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    // Empty is allowed: seed 001 shows "phoneNumber": "" for a user without one.
    let ok = value.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && value.chars().filter(char::is_ascii_digit).count() <= 23
        && (value.is_empty() || value.chars().any(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            Problem::Format("a phone number: digits with optional + - ( ) . and spaces"),
        ))
    }
}

fn extension_shape(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    if value.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(InvalidValue::new(field, Problem::Format("digits only")))
    }
}

fn time_zone_shape(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    // An IANA name (`Europe/Brussels`, `America/Argentina/Buenos_Aires`, `UTC`, `Etc/GMT+1`); the
    // tz database itself is not a dependency of the domain, the shape is.
    let ok = !value.is_empty()
        && value
            .split('/')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            Problem::Format("an IANA time-zone name such as Europe/Brussels"),
        ))
    }
}

/// A new time-zone name must be one the tz database knows (compiled in with `chrono-tz`, no I/O):
/// `Europe/Brussels`, `UTC`, `Etc/GMT+1`, not `Mars/Olympus_Mons`. A stored one keeps only the
/// shape rule, so a row stored before this check stays readable.
fn known_time_zone(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    if value.parse::<chrono_tz::Tz>().is_ok() {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            Problem::Format("a time zone of the tz database such as Europe/Brussels"),
        ))
    }
}

fn non_empty_text(field: &'static str, value: &str) -> Result<(), InvalidValue> {
    no_control(field, value)?;
    if value.trim().is_empty() {
        Err(InvalidValue::new(field, Problem::Empty))
    } else {
        Ok(())
    }
}

text_value!(
    /// One line of free text that may be empty: names, CLI names, description, network class of
    /// service, image path. No control characters; at most 256 characters. A new value has no
    /// invisible character either (bidi controls, zero-width characters: see `is_invisible`); a
    /// stored one may (`from_stored`).
    Text, 256, no_control, no_invisible
);
text_value!(
    /// A person's name part that must not be empty (first and last name of a user). A new value
    /// has no invisible character (bidi controls, zero-width characters: see `is_invisible`); a
    /// stored one may (`from_stored`).
    Name, 80, non_empty_text, no_invisible
);
text_value!(
    /// An e-mail address: `local@domain` as HTML's `<input type=email>` accepts it (checked by the
    /// `validator` crate), with a dotted domain of letters, digits and hyphens (no address literal).
    /// A stored one needs only `local@domain` on one line (`from_stored`): the stricter check came
    /// later and must not make a stored user unreadable.
    EmailAddress, 254, stored_email_shape, email_shape
);
text_value!(
    /// A phone number as typed, possibly empty.
    PhoneNumber, 40, phone_shape
);
text_value!(
    /// A dialling extension: digits, possibly empty (`4000`).
    Extension, 20, extension_shape
);
text_value!(
    /// A language name or tag as the Application Server knows it (`English`, `fr`). A new value
    /// has no invisible character; a stored one may (`from_stored`).
    Language, 40, non_empty_text, no_invisible
);
text_value!(
    /// An IANA time-zone name (`Europe/Brussels`) that the tz database knows. A stored one needs
    /// only the shape (`from_stored`): the database check came later.
    TimeZoneName, 64, time_zone_shape, known_time_zone
);

macro_rules! may_be_empty {
    ($($name:ident),*) => {$(
        impl $name {
            /// The empty value, which this type accepts.
            pub const fn empty() -> Self {
                Self(String::new())
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }
    )*};
}

may_be_empty!(Text, PhoneNumber, Extension);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_the_tz_databases_but_stored_ones_keep_the_shape_rule() {
        for ok in [
            "Europe/Brussels",
            "Europe/Luxembourg",
            "UTC",
            "Etc/GMT+1",
            "America/Argentina/Buenos_Aires",
        ] {
            assert!(TimeZoneName::parse_for("timeZone", ok).is_ok(), "{ok}");
        }
        let err = TimeZoneName::parse_for("timeZone", "Mars/Olympus_Mons").unwrap_err();
        assert_eq!((err.field, err.problem.code()), ("timeZone", "invalid_format"));
        // Stored before the check: still readable, and still the same value.
        let stored = TimeZoneName::from_stored("timeZone", "Mars/Olympus_Mons").unwrap();
        assert_eq!(stored.as_str(), "Mars/Olympus_Mons");
        assert!(
            TimeZoneName::from_stored("timeZone", "not a zone").is_err(),
            "the shape still holds"
        );
    }

    #[test]
    fn stored_emails_keep_the_older_rule() {
        for stored in ["jöns@example.com", "\"quoted\"@example.com", "a@[192.0.2.1]"] {
            assert!(
                EmailAddress::parse_for("emailAddress", stored).is_err(),
                "{stored} is new"
            );
            assert!(
                EmailAddress::from_stored("emailAddress", stored).is_ok(),
                "{stored} is stored"
            );
        }
        assert!(EmailAddress::from_stored("emailAddress", "no-at-sign").is_err());
        assert!(EmailAddress::from_stored("emailAddress", "a@b\nc").is_err());
    }

    #[test]
    fn emails() {
        for ok in [
            "john.doe@netaxis.be",
            "test_mail@test.netaxis.be",
            "a+b@x.io",
            "jbloggs@acmecorp.com",
            "o'brien@example.ie",
            "a@localhost",
            "jons@bücher.de",
        ] {
            assert!(EmailAddress::parse_for("emailAddress", ok).is_ok(), "{ok}");
        }
        let long_label = format!("a@{}.be", "x".repeat(63));
        assert!(EmailAddress::parse_for("emailAddress", long_label).is_ok());
        for bad in ["", "sunt", "a@", "@b.c", "a b@c.d", "a@b..c", "a@-b.c", "a@b.c\n"] {
            let err = EmailAddress::parse_for("emailAddress", bad).unwrap_err();
            assert_eq!(err.field, "emailAddress", "{bad}");
        }
    }

    #[test]
    fn emails_refused_by_validator() {
        // The local part is HTML's: ASCII atext and dots, at most 64 (we used to let any
        // non-space through).
        for bad in [
            "jöns@example.se",
            "a\"b@example.com",
            "a(b)@example.com",
            "a,b@example.com",
            "a<b>@example.com",
            "a@b@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse_for("emailAddress", bad).unwrap_err().field,
                "emailAddress",
                "{bad}"
            );
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse_for("emailAddress", long_local).is_err());
        let longest_local = format!("{}@example.com", "a".repeat(64));
        assert!(EmailAddress::parse_for("emailAddress", longest_local).is_ok());
    }

    #[test]
    fn emails_validator_accepts_but_we_refuse() {
        use validator::ValidateEmail;
        for bad in ["a@[192.0.2.1]", "a@[2001:db8::1]", "a@example\u{3002}com"] {
            assert!(bad.validate_email(), "validator accepts {bad}");
            assert_eq!(
                EmailAddress::parse_for("emailAddress", bad).unwrap_err().problem,
                Problem::Format("an e-mail address such as name@example.com"),
                "{bad}"
            );
        }
        // Control characters are named as such, before any shape check.
        assert_eq!(
            EmailAddress::parse_for("emailAddress", "a@b.c\n").unwrap_err().problem,
            Problem::ControlCharacter
        );
    }

    #[test]
    fn phone_numbers_extensions_and_zones() {
        assert!(PhoneNumber::parse_for("phoneNumber", "").is_ok());
        assert!(PhoneNumber::parse_for("phone", "+353 (1) 6742000").is_ok());
        assert!(PhoneNumber::parse_for("phone", "call me").is_err());
        assert!(PhoneNumber::parse_for("phone", "+-").is_err());
        assert!(Extension::parse_for("extension", "4000").is_ok());
        assert!(Extension::parse_for("extension", "40a").is_err());
        assert!(TimeZoneName::parse_for("timeZone", "Europe/Brussels").is_ok());
        assert!(TimeZoneName::parse_for("timeZone", "Etc/GMT+1").is_ok());
        assert!(TimeZoneName::parse_for("timeZone", "Europe//x").is_err());
        assert!(TimeZoneName::parse_for("timeZone", "../etc").is_err());
    }

    #[test]
    fn empty_constructors_agree_with_parse() {
        assert_eq!(Text::empty(), Text::parse_for("t", "").unwrap());
        assert_eq!(PhoneNumber::empty(), PhoneNumber::parse_for("p", "").unwrap());
        assert_eq!(Extension::empty(), Extension::parse_for("e", "").unwrap());
    }

    #[test]
    fn names_and_text() {
        assert!(Name::parse_for("firstName", "John").is_ok());
        assert_eq!(Name::parse_for("firstName", " ").unwrap_err().problem, Problem::Empty);
        assert!(Text::parse_for("description", "").is_ok());
        assert_eq!(
            Text::parse_for("description", "x".repeat(257)).unwrap_err().problem,
            Problem::TooLong { max: 256 }
        );
        assert_eq!(
            Text::parse_for("d", "a\tb").unwrap_err().problem,
            Problem::ControlCharacter
        );
    }

    /// Every character that reorders or hides text around it, at both ends of each range.
    const INVISIBLE: [char; 14] = [
        '\u{202A}', '\u{202C}', '\u{202E}', // bidi embeddings and overrides
        '\u{2066}', '\u{2069}', // bidi isolates
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', // zero-width, LRM, RLM
        '\u{2060}', '\u{2062}', '\u{2064}', // word joiner, invisible operators
        '\u{FEFF}', // zero-width no-break space (BOM)
    ];

    #[test]
    fn new_names_and_text_refuse_invisible_characters() {
        for c in INVISIBLE {
            let spoof = format!("John{c}nhoJ");
            for err in [
                Name::parse_for("firstName", spoof.as_str()).unwrap_err(),
                Text::parse_for("description", spoof.as_str()).unwrap_err(),
                Language::parse_for("language", spoof.as_str()).unwrap_err(),
            ] {
                assert_eq!(err.problem.code(), "invisible_character", "U+{:04X}", c as u32);
            }
            let err = Name::parse_for("lastName", c.to_string()).unwrap_err();
            assert_eq!(err.field, "lastName");
            assert_eq!(err.problem.code(), "invisible_character", "U+{:04X} alone", c as u32);
        }
        // Visible text of any script, and the neighbours of the ranges, are names as before.
        for ok in [
            "Zoë",
            "Łukasz",
            "محمد",
            "李",
            "Jean\u{2010}Luc",
            "x\u{2070}",
            "x\u{2065}",
            "x\u{2029}",
        ] {
            assert!(Name::parse_for("firstName", ok).is_ok(), "{ok:?}");
        }
    }

    /// What was stored before the rule stays readable: storage reads through `from_stored`, which
    /// keeps every other rule.
    #[test]
    fn stored_names_and_text_with_invisible_characters_stay_readable() {
        for c in INVISIBLE {
            let spoof = format!("John{c}nhoJ");
            assert_eq!(Name::from_stored("firstName", spoof.as_str()).unwrap().as_str(), spoof);
            assert_eq!(
                Text::from_stored("description", spoof.as_str()).unwrap().as_str(),
                spoof
            );
            assert_eq!(
                Language::from_stored("language", spoof.as_str()).unwrap().as_str(),
                spoof
            );
        }
        assert_eq!(Name::from_stored("firstName", " ").unwrap_err().problem, Problem::Empty);
        assert_eq!(
            Text::from_stored("d", "a\nb").unwrap_err().problem,
            Problem::ControlCharacter
        );
        assert_eq!(
            Name::from_stored("firstName", "x".repeat(81)).unwrap_err().problem,
            Problem::TooLong { max: 80 }
        );
    }

    #[test]
    fn a_stored_email_needs_both_parts() {
        assert!(EmailAddress::from_stored("email", "a@b").is_ok());
        for bad in ["@b", "a@", "@", "ab"] {
            assert!(EmailAddress::from_stored("email", bad).is_err(), "{bad}");
        }
    }
}
