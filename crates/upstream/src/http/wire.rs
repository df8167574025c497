//! The JSON bodies of the Application Server contract (`docs/upstream.md`), and the text helpers the
//! client needs around them: percent-encoding of path segments and redaction of secrets from
//! anything that may end up in an error or a log line.
//!
//! Request bodies that carry a secret are serialised from borrowed structs straight into a byte
//! buffer, which the caller zeroes once it is sent; rule sets are read into wire structs with the
//! contract's camelCase names and checked before they become domain values.

use accountd_domain::pincode::PinSettings;
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::user::{DepartmentKey, ProfileChange};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /auth`.
#[derive(Serialize)]
pub(crate) struct AuthBody<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// `PUT /users/{username}/password`.
#[derive(Serialize)]
pub(crate) struct PasswordBody<'a> {
    pub password: &'a str,
}

/// `PUT /users/{username}/pincode`: seed 001's pincode resource; `pinCode` only when it changes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PinBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_code: Option<&'a str>,
    pub login_disabled: bool,
    pub expiration_days: u16,
    pub does_not_expire: bool,
}

impl<'a> PinBody<'a> {
    pub(crate) fn new(pin: Option<&'a str>, settings: &PinSettings) -> Self {
        Self {
            pin_code: pin,
            login_disabled: settings.login_disabled,
            expiration_days: settings.expiration_days(),
            does_not_expire: settings.does_not_expire,
        }
    }
}

/// The error body the contract asks for on 400/404/409/422: `{"details": "..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    details: Option<String>,
}

/// `PUT /users/{username}/profile`: only the fields the change sets, with seed 001's names. A
/// cleared optional field (language, e-mail, time zone, department) is `null`; a cleared text field
/// is `""`, as seed 001 shows unset text.
pub(crate) fn profile_change_json(change: &ProfileChange) -> Value {
    fn text(value: &str) -> Value {
        Value::String(value.to_owned())
    }
    fn optional(value: Option<&str>) -> Value {
        value.map_or(Value::Null, text)
    }
    let c = change;
    let fields = [
        ("firstName", c.first_name.as_ref().map(|v| text(v.as_str()))),
        ("lastName", c.last_name.as_ref().map(|v| text(v.as_str()))),
        ("cliFirstName", c.cli_first_name.as_ref().map(|v| text(v.as_str()))),
        ("cliLastName", c.cli_last_name.as_ref().map(|v| text(v.as_str()))),
        ("phoneNumber", c.phone_number.as_ref().map(|v| text(v.as_str()))),
        ("extension", c.extension.as_ref().map(|v| text(v.as_str()))),
        ("cliPhoneNumber", c.cli_phone_number.as_ref().map(|v| text(v.as_str()))),
        (
            "department",
            c.department
                .as_ref()
                .map(|v| v.as_ref().map_or(Value::Null, department_json)),
        ),
        (
            "language",
            c.language.as_ref().map(|v| optional(v.as_ref().map(|l| l.as_str()))),
        ),
        (
            "emailAddress",
            c.email.as_ref().map(|v| optional(v.as_ref().map(|e| e.as_str()))),
        ),
        (
            "networkClassOfService",
            c.network_class_of_service.as_ref().map(|v| text(v.as_str())),
        ),
        (
            "timeZone",
            c.time_zone.as_ref().map(|v| optional(v.as_ref().map(|t| t.as_str()))),
        ),
        ("mobile", c.mobile.as_ref().map(|v| text(v.as_str()))),
        ("description", c.description.as_ref().map(|v| text(v.as_str()))),
        ("image", c.image.as_ref().map(|v| text(v.as_str()))),
    ];
    let out: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v)))
        .collect();
    Value::Object(out)
}

/// `{"tenantId", "groupId", "departmentName"}`; `groupId` is `null` for a tenant-level department.
fn department_json(key: &DepartmentKey) -> Value {
    let mut out = Map::new();
    out.insert("tenantId".to_owned(), Value::String(key.tenant.as_str().to_owned()));
    out.insert(
        "groupId".to_owned(),
        key.group
            .as_ref()
            .map_or(Value::Null, |g| Value::String(g.as_str().to_owned())),
    );
    out.insert("departmentName".to_owned(), Value::String(key.name.as_str().to_owned()));
    Value::Object(out)
}

/// `GET /rules/password/{level}`'s answer. `minLength` and `maxLength` are required, every other
/// rule defaults to "no rule"; unknown names are refused so a misspelt rule can't pass unnoticed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordRulesWire {
    min_length: u16,
    max_length: u16,
    #[serde(default)]
    min_uppercase: u16,
    #[serde(default)]
    min_lowercase: u16,
    #[serde(default)]
    min_digits: u16,
    #[serde(default)]
    min_special: u16,
    #[serde(default)]
    forbid_username: bool,
    #[serde(default)]
    history: u8,
    #[serde(default)]
    forbid_common: bool,
}

/// `GET /rules/pincode/{level}`'s answer, with the same conventions as [`PasswordRulesWire`];
/// `null` or an absent optional limit means no limit.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PinRulesWire {
    min_length: u8,
    max_length: u8,
    #[serde(default)]
    max_repeated_digits: Option<u8>,
    #[serde(default)]
    max_ascending_run: Option<u8>,
    #[serde(default)]
    max_descending_run: Option<u8>,
    #[serde(default)]
    forbid_repeated_patterns: bool,
    #[serde(default)]
    forbid_user_number: bool,
    #[serde(default)]
    forbid_reversed_user_number: bool,
    #[serde(default)]
    history: u8,
    #[serde(default)]
    forbid_reversed_old: bool,
    #[serde(default)]
    expiry_days: Option<u16>,
    #[serde(default)]
    max_failed_attempts: Option<u8>,
}

/// Reads and checks a password rule set; the error text says what is wrong (for logs).
pub(crate) fn parse_password_rules(body: &[u8]) -> Result<PasswordRules, String> {
    let w: PasswordRulesWire = serde_json::from_slice(body).map_err(|e| format!("unparseable password rules: {e}"))?;
    check_bounds(u32::from(w.min_length), u32::from(w.max_length))?;
    Ok(PasswordRules {
        min_length: w.min_length,
        max_length: w.max_length,
        min_uppercase: w.min_uppercase,
        min_lowercase: w.min_lowercase,
        min_digits: w.min_digits,
        min_special: w.min_special,
        forbid_username: w.forbid_username,
        history: w.history,
        forbid_common: w.forbid_common,
    })
}

/// Reads and checks a PIN rule set; the error text says what is wrong (for logs).
pub(crate) fn parse_pin_rules(body: &[u8]) -> Result<PinRules, String> {
    let w: PinRulesWire = serde_json::from_slice(body).map_err(|e| format!("unparseable PIN rules: {e}"))?;
    check_bounds(u32::from(w.min_length), u32::from(w.max_length))?;
    Ok(PinRules {
        min_length: w.min_length,
        max_length: w.max_length,
        max_repeated_digits: w.max_repeated_digits,
        max_ascending_run: w.max_ascending_run,
        max_descending_run: w.max_descending_run,
        forbid_repeated_patterns: w.forbid_repeated_patterns,
        forbid_user_number: w.forbid_user_number,
        forbid_reversed_user_number: w.forbid_reversed_user_number,
        history: w.history,
        forbid_reversed_old: w.forbid_reversed_old,
        expiry_days: w.expiry_days,
        max_failed_attempts: w.max_failed_attempts,
    })
}

fn check_bounds(min: u32, max: u32) -> Result<(), String> {
    if min == 0 || min > max {
        Err(format!(
            "invalid rules: minLength {min} and maxLength {max} (need 1 <= minLength <= maxLength)"
        ))
    } else {
        Ok(())
    }
}

/// The `details` of an error body, when there is a non-blank one.
pub(crate) fn error_details(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    parsed.details.filter(|d| !d.trim().is_empty())
}

/// Longest text taken from an Application Server answer into an error, in characters.
pub(crate) const MAX_ERROR_TEXT: usize = 300;

/// Makes text from the Application Server fit for an error: every secret of the request replaced by
/// `<redacted>`, control characters replaced by spaces, cut to [`MAX_ERROR_TEXT`] characters.
pub(crate) fn clean_text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        // The secret as sent inside a JSON string too (`"` and `\` escaped), for a raw body echoed.
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        for form in [*secret, escaped] {
            if !form.is_empty() && out.contains(form) {
                out = out.replace(form, "<redacted>");
            }
        }
    }
    let mut cleaned: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_TEXT)
        .collect();
    if out.chars().count() > MAX_ERROR_TEXT {
        cleaned.push('…');
    }
    cleaned.trim().to_owned()
}

/// Percent-encodes one path segment: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so `@`, `%`, `?`, `#` and non-ASCII survive intact.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::ids::{DepartmentName, GroupId, TenantId};
    use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
    use accountd_domain::user::ProfileField;
    use serde_json::json;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            encode_segment("PieGroupAdmin1@sip.netaxis.be"),
            "PieGroupAdmin1%40sip.netaxis.be"
        );
        assert_eq!(encode_segment("a%b?c#d e+f"), "a%25b%3Fc%23d%20e%2Bf");
        assert_eq!(encode_segment("jörg"), "j%C3%B6rg");
        assert_eq!(encode_segment("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn profile_change_has_only_the_set_fields() {
        let change = ProfileChange {
            first_name: Some(Name::parse_for("firstName", "Test First Name").unwrap()),
            cli_last_name: Some(Text::empty()),
            email: Some(None),
            language: Some(Some(Language::parse_for("language", "English").unwrap())),
            department: Some(Some(DepartmentKey {
                tenant: TenantId::parse("ApioSpTest").unwrap(),
                group: Some(GroupId::parse("ApioGrpTest").unwrap()),
                name: DepartmentName::parse("test_department_initial").unwrap(),
            })),
            ..ProfileChange::default()
        };
        assert_eq!(
            profile_change_json(&change),
            json!({
                "firstName": "Test First Name",
                "cliLastName": "",
                "emailAddress": null,
                "language": "English",
                "department": {
                    "tenantId": "ApioSpTest",
                    "groupId": "ApioGrpTest",
                    "departmentName": "test_department_initial"
                }
            })
        );
        let set = ProfileChange {
            email: Some(Some(EmailAddress::parse_for("emailAddress", "a@b.be").unwrap())),
            department: Some(None),
            ..ProfileChange::default()
        };
        assert_eq!(
            profile_change_json(&set),
            json!({"emailAddress": "a@b.be", "department": null})
        );
        assert_eq!(profile_change_json(&ProfileChange::default()), json!({}));
    }

    #[test]
    fn every_profile_field_uses_its_wire_name() {
        let name = |v: &str| Some(Name::parse_for("n", v).unwrap());
        let text = |v: &str| Some(Text::parse_for("t", v).unwrap());
        let phone = |v: &str| Some(PhoneNumber::parse_for("p", v).unwrap());
        let everything = ProfileChange {
            first_name: name("F"),
            last_name: name("L"),
            cli_first_name: text("CF"),
            cli_last_name: text("CL"),
            phone_number: phone("+32 2 000"),
            extension: Some(Extension::parse_for("extension", "4000").unwrap()),
            cli_phone_number: phone("1"),
            department: Some(None),
            language: Some(None),
            email: Some(None),
            network_class_of_service: text("9"),
            time_zone: Some(Some(TimeZoneName::parse_for("timeZone", "UTC").unwrap())),
            mobile: phone("2"),
            description: text(""),
            image: text("img.png"),
        };
        let json = profile_change_json(&everything);
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = everything.fields().into_iter().map(ProfileField::wire_name).collect();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(expected.len(), ProfileField::ALL.len());
        assert_eq!(keys, expected);
    }

    #[test]
    fn tenant_level_department_has_a_null_group() {
        let key = DepartmentKey {
            tenant: TenantId::parse("T").unwrap(),
            group: None,
            name: DepartmentName::parse("Sales").unwrap(),
        };
        assert_eq!(
            department_json(&key),
            json!({"tenantId": "T", "groupId": null, "departmentName": "Sales"})
        );
    }

    #[test]
    fn pin_body_omits_an_unchanged_pin() {
        let settings = PinSettings::new(true, 90, false).unwrap();
        assert_eq!(
            serde_json::to_value(PinBody::new(None, &settings)).unwrap(),
            json!({"loginDisabled": true, "expirationDays": 90, "doesNotExpire": false})
        );
        assert_eq!(
            serde_json::to_value(PinBody::new(Some("123456"), &settings)).unwrap()["pinCode"],
            json!("123456")
        );
    }

    #[test]
    fn password_rules_default_the_optional_rules_and_refuse_unknown_names() {
        let rules = parse_password_rules(br#"{"minLength": 8, "maxLength": 64, "minDigits": 1}"#).unwrap();
        assert_eq!(
            rules,
            PasswordRules {
                min_length: 8,
                max_length: 64,
                min_digits: 1,
                ..PasswordRules::NONE
            }
        );
        assert!(parse_password_rules(br#"{"minLength": 8, "maxLength": 64, "minDigit": 1}"#).is_err());
        assert!(parse_password_rules(br#"{"minLength": 8}"#).is_err());
        assert!(parse_password_rules(br#"{"minLength": 9, "maxLength": 8}"#).is_err());
        assert!(parse_password_rules(br#"{"minLength": 0, "maxLength": 8}"#).is_err());
        assert!(parse_password_rules(b"null").is_err());
    }

    #[test]
    fn pin_rules_read_every_field() {
        let body = br#"{"minLength": 4, "maxLength": 8, "maxRepeatedDigits": 2, "maxAscendingRun": 3,
            "maxDescendingRun": null, "forbidRepeatedPatterns": true, "forbidUserNumber": true,
            "forbidReversedUserNumber": false, "history": 3, "forbidReversedOld": true,
            "expiryDays": 90, "maxFailedAttempts": 5}"#;
        let rules = parse_pin_rules(body).unwrap();
        assert_eq!(
            rules,
            PinRules {
                min_length: 4,
                max_length: 8,
                max_repeated_digits: Some(2),
                max_ascending_run: Some(3),
                max_descending_run: None,
                forbid_repeated_patterns: true,
                forbid_user_number: true,
                forbid_reversed_user_number: false,
                history: 3,
                forbid_reversed_old: true,
                expiry_days: Some(90),
                max_failed_attempts: Some(5),
            }
        );
        assert!(
            parse_pin_rules(br#"{"minLength": 4, "maxLength": 300}"#).is_err(),
            "u8 overflow"
        );
    }

    #[test]
    fn clean_text_redacts_strips_and_cuts() {
        assert_eq!(
            clean_text("bad password hunter2\nagain hunter2", &["hunter2", ""]),
            "bad password <redacted> again <redacted>"
        );
        assert_eq!(
            clean_text(r#"{"password":"a\"b\\c"}"#, &["a\"b\\c"]),
            r#"{"password":"<redacted>"}"#
        );
        let long = "x".repeat(1000);
        assert_eq!(clean_text(&long, &[]).chars().count(), MAX_ERROR_TEXT + 1);
    }

    #[test]
    fn error_details_need_a_non_blank_string() {
        assert_eq!(
            error_details(br#"{"details": "too short"}"#).as_deref(),
            Some("too short")
        );
        assert_eq!(error_details(br#"{"details": "  "}"#), None);
        assert_eq!(error_details(br#"{"other": 1}"#), None);
        assert_eq!(error_details(b"<html>"), None);
    }
}
