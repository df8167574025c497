//! Reading JSON request bodies. Every handler takes its body through [`Json`] (an optional body
//! through [`from_object`]), so every body of every route is held to the same rules, each broken
//! one answered with a problem+json that names it:
//!
//! - `Content-Type: application/json` (else 415) and at most `http.max_body_bytes` (else 413): the
//!   `JsonConfig` of `config()`;
//! - whole within `http.body_timeout_ms` of the headers (else 408; `crate::deadline`);
//! - valid JSON (else 400 with serde's line and column);
//! - a JSON **object** (else 400 before any member is read): serde's derived `Deserialize` of a
//!   struct also reads an array, member by member in declaration order, so
//!   `["jbloggs", "pw", null, null]` was a login; no contract takes anything but an object;
//! - members of the operation's types (else 400 whose one `errors[]` entry names the member, e.g.
//!   `pinCode`, `department.tenantId` or `_excludedAppIds[1]`). The message says what was expected
//!   and never repeats the value, which may be a PIN or a password.

use crate::error::{ApiError, FieldError};
use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A request body: a JSON object read into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Media type, size and syntax: actix's extractor under `config()`'s rules and error handler.
        let text = web::Json::<Box<RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let text = text.await?.into_inner();
            Ok(Json(from_object(text.get().as_bytes())?))
        })
    }
}

/// The `JsonConfig` of every route: `limit` bytes at most, failures as problem+json.
pub(crate) fn config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(payload_error)
}

fn payload_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match err {
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("The body must be JSON (Content-Type: application/json).".into())
        }
        JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit }
        }
        JsonPayloadError::Deserialize(e) => not_json(&e),
        JsonPayloadError::Payload(ref e) if let Some(after) = crate::deadline::timed_out(e) => {
            ApiError::BodyTimeout { after }
        }
        other => ApiError::BadRequest {
            details: format!("The body could not be read: {other}."),
            errors: vec![],
        },
    };
    api.into()
}

/// A body taken as bytes (DELETE's optional one, read by [`from_object`] only when present), or
/// the problem of why it could not be read. actix's `Bytes` extractor has no error handler of its
/// own: without this, a body over `limit` was a `text/plain` 413 instead of a problem.
pub fn bytes(body: Result<web::Bytes, actix_web::Error>, limit: usize) -> Result<web::Bytes, ApiError> {
    body.map_err(|err| match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
        Some(e) if let Some(after) = crate::deadline::timed_out(e) => ApiError::BodyTimeout { after },
        _ => ApiError::BadRequest {
            details: format!("The body could not be read: {err}."),
            errors: vec![],
        },
    })
}

fn not_json(err: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        details: format!("The body is not valid JSON: {err}."),
        errors: vec![],
    }
}

/// `body` (JSON text) read into `T`, which it must be an object for.
pub fn from_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so that every later error is about a member.
    serde_json::from_slice::<IgnoredAny>(body).map_err(|e| not_json(&e))?;
    if let Some(kind) = not_an_object(body) {
        return Err(ApiError::BadRequest {
            details: format!("The body must be a JSON object ({{…}}), not {kind}."),
            errors: vec![],
        });
    }
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map_err(|err| unreadable::<T>(body, &err))
}

/// What a body that is not an object is, by its first token; `None` for an object, and for what
/// isn't JSON at all (its syntax error says more).
fn not_an_object(body: &[u8]) -> Option<&'static str> {
    match body.iter().find(|b| !b" \t\r\n".contains(b))? {
        b'[' => Some("an array"),
        b'"' => Some("a string"),
        b'-' | b'0'..=b'9' => Some("a number"),
        b't' | b'f' => Some("a boolean"),
        b'n' => Some("null"),
        _ => None,
    }
}

/// The 400 of a body whose member can't be read into `T`.
fn unreadable<T: DeserializeOwned>(body: &[u8], err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let message = describe(err.inner());
    let read_again = |text: &[u8]| serde_json::from_slice::<T>(text).err().map(|e| describe(&e));
    match member(body, err.path(), &message, read_again) {
        Some(field) => ApiError::BadRequest {
            details: format!("The member {field} of the JSON body is not valid for this operation: {message}."),
            errors: vec![FieldError {
                field,
                code: "invalid_json".into(),
                message,
            }],
        },
        None => ApiError::BadRequest {
            details: format!("The JSON body is not valid for this operation: {message}."),
            errors: vec![],
        },
    }
}

/// serde's message without its position and without the offending value: `invalid type: integer
/// `123456`, expected a string at line 1 column 18` becomes `invalid type: integer, expected a
/// string`.
fn describe(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&position).unwrap_or(&full);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((unexpected, expected)) = rest.split_once(", expected ")
        {
            // `integer `5``, `string "pw"`, `floating point `1.5``, `null`: the kind, not the value.
            let kind = unexpected.split(['`', '"']).next().unwrap_or(unexpected).trim_end();
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((_, expected)) = rest.split_once("`, ")
    {
        return format!("unknown variant, {expected}");
    }
    message.to_owned()
}

/// The member the error is about: the path serde was at, completed by the member a message names
/// (`missing field `departmentName``). serde reads a `#[serde(flatten)]`ed struct after the whole
/// object, from a buffer, where the path is lost: an error without a path is pinned by reading the
/// body again without each top-level member in turn (`read` gives the error message of a text).
fn member(
    body: &[u8],
    path: &serde_path_to_error::Path,
    message: &str,
    read: impl Fn(&[u8]) -> Option<String>,
) -> Option<String> {
    let named = named_in(message);
    match (path_text(path), named) {
        // The path of an unknown member already ends with it.
        (Some(path), Some(("unknown", _)) | None) => Some(path),
        (Some(path), Some((_, name))) => Some(format!("{path}.{name}")),
        (None, named) => isolate(body, message, read).or(named.map(|(_, name)| name.to_owned())),
    }
}

/// `a.b[2].c`, or `None` at the top (or where serde could not follow).
fn path_text(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut text = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Unknown => break,
        }
    }
    (!text.is_empty()).then_some(text)
}

/// The member serde names in "unknown field `x`", "missing field `x`", "duplicate field `x`".
fn named_in(message: &str) -> Option<(&'static str, &str)> {
    ["unknown", "missing", "duplicate"].into_iter().find_map(|kind| {
        let rest = message.strip_prefix(kind)?.strip_prefix(" field `")?;
        Some((kind, &rest[..rest.find('`')?]))
    })
}

/// Bodies with more top-level members than this are not searched (each try reads the body again).
const MAX_MEMBERS_SEARCHED: usize = 64;

/// The first top-level member without which the body no longer fails with `message` (it reads, or
/// fails otherwise than by missing that very member).
fn isolate(body: &[u8], message: &str, read: impl Fn(&[u8]) -> Option<String>) -> Option<String> {
    let Members(members) = serde_json::from_slice(body).ok()?;
    if members.len() > MAX_MEMBERS_SEARCHED {
        return None;
    }
    members.iter().enumerate().find_map(|(skipped, (name, _))| {
        let others: Vec<String> = (members.iter().enumerate())
            .filter(|(i, _)| *i != skipped)
            .map(|(_, (key, value))| format!("{}:{}", serde_json::to_string(key).unwrap_or_default(), value.get()))
            .collect();
        let text = format!("{{{}}}", others.join(","));
        let culprit = match read(text.as_bytes()) {
            None => true,
            Some(other) => other != message && other != format!("missing field `{name}`"),
        };
        culprit.then(|| name.clone())
    })
}

/// An object's members in their order, duplicates kept, values as their JSON text.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Department {
        tenant_id: String,
        department_name: String,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Profile {
        first_name: Option<String>,
        department: Option<Department>,
        line_number: Option<u16>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Create {
        user_id: String,
        password: String,
        #[serde(flatten)]
        profile: Profile,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Pin {
        pin_code: Option<String>,
        expiration_days: Option<i64>,
        department: Option<Department>,
        #[serde(rename = "_excludedAppIds")]
        excluded: Option<Vec<String>>,
    }

    /// The `errors[]` fields and `details` of the 400 for `body`.
    fn refusal<T: DeserializeOwned + fmt::Debug>(body: &str) -> (Vec<String>, String) {
        match from_object::<T>(body.as_bytes()) {
            Err(ApiError::BadRequest { details, errors }) => (errors.into_iter().map(|e| e.field).collect(), details),
            other => panic!("{body}: {other:?}"),
        }
    }

    fn field<T: DeserializeOwned + fmt::Debug>(body: &str) -> Option<String> {
        let (fields, _) = refusal::<T>(body);
        assert!(fields.len() <= 1, "{fields:?}");
        fields.into_iter().next()
    }

    #[test]
    fn a_member_of_the_wrong_type_is_named_not_its_value() {
        let (fields, details) = refusal::<Pin>(r#"{"pinCode": 123456}"#);
        assert_eq!(fields, ["pinCode"]);
        assert!(!details.contains("123456"), "{details}");
        assert!(
            details.contains("pinCode") && details.contains("expected a string"),
            "{details}"
        );
        let (_, details) = refusal::<Pin>(r#"{"pinCode": "s3cr3t", "expirationDays": "s3cr3t"}"#);
        assert!(!details.contains("s3cr3t"), "{details}");
        assert_eq!(
            field::<Pin>(r#"{"expirationDays": "30"}"#).as_deref(),
            Some("expirationDays")
        );
        assert_eq!(
            field::<Pin>(r#"{"expirationDays": 1e400}"#).as_deref(),
            Some("expirationDays")
        );
        assert_eq!(
            field::<Pin>(r#"{"expirationDays": 1.5}"#).as_deref(),
            Some("expirationDays")
        );
    }

    #[test]
    fn nested_members_are_named_by_their_path() {
        assert_eq!(
            field::<Pin>(r#"{"department": {"tenantId": 5, "departmentName": "d"}}"#).as_deref(),
            Some("department.tenantId")
        );
        assert_eq!(
            field::<Pin>(r#"{"department": {"tenantId": "t"}}"#).as_deref(),
            Some("department.departmentName")
        );
        assert_eq!(
            field::<Pin>(r#"{"department": {"tenantId": "t", "departmentName": "d", "x": 1}}"#).as_deref(),
            Some("department.x")
        );
        assert_eq!(
            field::<Pin>(r#"{"_excludedAppIds": ["a", 5]}"#).as_deref(),
            Some("_excludedAppIds[1]")
        );
    }

    #[test]
    fn unknown_missing_and_duplicate_members_are_named() {
        assert_eq!(field::<Pin>(r#"{"nickname": "x"}"#).as_deref(), Some("nickname"));
        assert_eq!(
            field::<Pin>(r#"{"pinCode": "1", "pinCode": "2"}"#).as_deref(),
            Some("pinCode")
        );
        assert_eq!(field::<Create>(r#"{"password": "p"}"#).as_deref(), Some("userId"));
        assert_eq!(field::<Create>(r#"{"userId": "u"}"#).as_deref(), Some("password"));
        assert_eq!(
            field::<Create>(r#"{"userId": "u", "password": "p", "nickname": 1}"#).as_deref(),
            Some("nickname")
        );
    }

    #[test]
    fn members_of_a_flattened_struct_are_named() {
        assert_eq!(
            field::<Create>(r#"{"userId": 5, "password": "p"}"#).as_deref(),
            Some("userId")
        );
        for (body, member) in [
            (r#"{"userId": "u", "password": "p", "firstName": 5}"#, "firstName"),
            (r#"{"firstName": 5, "userId": "u", "password": "p"}"#, "firstName"),
            (r#"{"userId": "u", "password": "p", "lineNumber": 70000}"#, "lineNumber"),
            (
                r#"{"userId": "u", "password": "p", "department": {"tenantId": 5, "departmentName": "d"}}"#,
                "department",
            ),
            (
                r#"{"userId": "u", "password": "p", "department": {"tenantId": "t"}}"#,
                "department",
            ),
            (
                r#"{"userId": "u", "password": "p", "department": {"tenantId": "t", "departmentName": "d", "x": 1}}"#,
                "department",
            ),
            (
                r#"{"password": "p", "firstName": "A", "lineNumber": "one", "userId": "u"}"#,
                "lineNumber",
            ),
        ] {
            assert_eq!(field::<Create>(body).as_deref(), Some(member), "{body}");
        }
    }

    #[test]
    fn only_an_object_is_read() {
        for (body, kind) in [
            (
                r#"["1", 5, null, {"tenantId": "t", "departmentName": "d"}]"#,
                "an array",
            ),
            (" \n[]", "an array"),
            (r#""pin""#, "a string"),
            ("-1", "a number"),
            ("true", "a boolean"),
            ("null", "null"),
        ] {
            let (fields, details) = refusal::<Pin>(body);
            assert!(fields.is_empty(), "{body}");
            assert!(
                details.contains("JSON object") && details.contains(kind),
                "{body}: {details}"
            );
        }
        assert!(from_object::<Pin>(br#" {"pinCode": "1"} "#).is_ok());
    }

    #[test]
    fn what_is_not_json_says_where() {
        for body in [
            r#"{"pinCode": "1" "pinCode": "2"}"#,
            r#"{"pinCode": "1"} x"#,
            "{",
            "",
            "x",
        ] {
            let (fields, details) = refusal::<Pin>(body);
            assert!(fields.is_empty(), "{body}");
            assert!(details.starts_with("The body is not valid JSON"), "{body}: {details}");
            assert!(details.contains("line 1"), "{body}: {details}");
        }
    }

    #[test]
    fn messages_lose_the_value_and_the_position() {
        let err = |body: &str| describe(&serde_json::from_str::<Pin>(body).unwrap_err());
        assert_eq!(
            err(r#"{"pinCode": 123456}"#),
            "invalid type: integer, expected a string"
        );
        assert_eq!(err(r#"{"expirationDays": "x"}"#), "invalid type: string, expected i64");
        assert_eq!(
            err(r#"{"pinCode": null, "x": 1}"#).split(',').next(),
            Some("unknown field `x`")
        );
    }
}
