//! The interchange format of import and export: one flat [`Record`] per row, whose [`Kind`] says
//! which columns apply (docs/import.md lists them). The binary reads and writes it as CSV (one
//! column per field, in [`CSV_COLUMNS`] order) or JSON (an array of objects with the same member
//! names); serde's derive is the one description of the fields both use.

use serde::{Deserialize, Serialize};

/// What a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tenant,
    Group,
    Department,
    Device,
    User,
}

impl Kind {
    /// Every kind, in the order an import applies them.
    pub const ALL: [Kind; 5] = [Kind::Tenant, Kind::Group, Kind::Department, Kind::Device, Kind::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Group => "group",
            Kind::Department => "department",
            Kind::Device => "device",
            Kind::User => "user",
        }
    }

    /// Whether a record of this kind may fill `column` (besides `kind`): a user record every column
    /// of [`CSV_COLUMNS`] but the other kinds' `name` and `parent`.
    pub(crate) fn allows(self, column: &str) -> bool {
        match self {
            Kind::Tenant => matches!(column, "tenant" | "name"),
            Kind::Group => matches!(column, "tenant" | "group" | "name"),
            Kind::Department => matches!(column, "tenant" | "group" | "name" | "parent"),
            Kind::Device => matches!(column, "tenant" | "group" | "name" | "device_level"),
            Kind::User => CSV_COLUMNS.contains(&column) && !matches!(column, "kind" | "name" | "parent"),
        }
    }
}

/// One record of an import or export file: a flat row whose `kind` says which columns apply
/// (docs/import.md lists them). CSV has one column per field; JSON an array of objects with the
/// same member names.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_class_of_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_login: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_number: Option<u16>,
    /// `access` (the default) or `trunk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// SIP contacts of the endpoint, separated by spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<String>,
    /// The user's confirmed TOTP authenticator, sealed as stored: `key_id:base64` (the key stays
    /// with the operator; an import needs the same key id configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// The last TOTP step used, so a restore does not accept its code again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_last_step: Option<i64>,
    /// The unused recovery codes' SHA-256 digests, base64, separated by spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<String>,
    /// The user's passkeys as a JSON list of `{name, created_at, last_used_at, credential}`:
    /// public keys, counters and flags, nothing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkeys: Option<String>,
}

/// The CSV header, in the order export writes it: every field of [`Record`].
pub const CSV_COLUMNS: [&str; 41] = [
    "kind",
    "tenant",
    "group",
    "name",
    "parent",
    "username",
    "level",
    "user_id",
    "uuid",
    "first_name",
    "last_name",
    "email",
    "cli_first_name",
    "cli_last_name",
    "phone_number",
    "extension",
    "cli_phone_number",
    "language",
    "time_zone",
    "mobile",
    "description",
    "image",
    "network_class_of_service",
    "department",
    "admin_department",
    "enabled",
    "state",
    "account_type",
    "password",
    "password_hash",
    "first_login",
    "device",
    "device_level",
    "line_port",
    "line_number",
    "endpoint",
    "contacts",
    "totp",
    "totp_last_step",
    "recovery_codes",
    "passkeys",
];

impl Record {
    /// The names of the fields this record fills (but `kind`), empty text counting as unset.
    pub(crate) fn filled(&self) -> Vec<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .filter(|(k, v)| k != "kind" && !v.is_null() && v.as_str() != Some(""))
                .map(|(k, _)| k)
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Debug for Record {
    /// The filled members, with `password` and `password_hash` redacted: a record is no way for a
    /// secret into a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(members) = shown.as_object_mut() {
            for secret in ["password", "password_hash", "totp", "recovery_codes"] {
                if let Some(value) = members.get_mut(secret) {
                    *value = serde_json::Value::from("<redacted>");
                }
            }
        }
        write!(f, "Record {shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password_and_its_hash() {
        let record = Record {
            kind: Some(Kind::User),
            username: Some("bob".into()),
            password: Some("Plain-Passw0rd!".into()),
            password_hash: Some("pbkdf2_sha256$1000$salt$c2VjcmV0".into()),
            ..Record::default()
        };
        let shown = format!("{record:?}");
        assert!(shown.contains("bob") && shown.contains("<redacted>"), "{shown}");
        assert!(
            !shown.contains("Plain-Passw0rd!") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }

    #[test]
    fn csv_columns_are_exactly_the_record_fields() {
        let mut every = serde_json::Map::new();
        for column in CSV_COLUMNS {
            let value = match column {
                "kind" => serde_json::json!("user"),
                "level" | "line_number" | "totp_last_step" => serde_json::json!(1),
                "enabled" | "first_login" => serde_json::json!(true),
                _ => serde_json::json!("x"),
            };
            every.insert(column.to_owned(), value);
        }
        let record: Record = serde_json::from_value(serde_json::Value::Object(every)).unwrap();
        let back = serde_json::to_value(&record).unwrap();
        let mut fields: Vec<&str> = back.as_object().unwrap().keys().map(String::as_str).collect();
        let mut columns = CSV_COLUMNS.to_vec();
        fields.sort_unstable();
        columns.sort_unstable();
        assert_eq!(fields, columns);
        assert!(serde_json::from_value::<Record>(serde_json::json!({"nickname": "x"})).is_err());
        let allowed = |kind: Kind| CSV_COLUMNS.iter().filter(|c| kind.allows(c)).count();
        let counts: Vec<usize> = Kind::ALL.into_iter().map(allowed).collect();
        assert_eq!(counts, [2, 3, 4, 4, 38], "tenant, group, department, device, user");
        assert!(!Kind::User.allows("nickname") && !Kind::Tenant.allows("group"));
    }
}
