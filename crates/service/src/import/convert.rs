//! Records turned into domain values, through the domain's constructors (one place for each
//! invariant): tenants, groups, departments (ordered parents first), devices and users.

use super::error::role_problem_rank;
use super::{Location, Record, RecordError};
use accountd_domain::endpoint::{
    AccessDeviceEndpoint, Contact, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint, TrunkEndpoint,
};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::ports::Random;
use accountd_domain::records::{NewDepartment, NewPasskey, SealedSecret};
use accountd_domain::secret::{Password, SecretHash, TokenDigest};
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{AccountState, AccountType, DepartmentKey, NewProfile, NewUser, Profile};
use accountd_domain::{InvalidValue, Problem};
use accountd_policy::hashing;
use std::collections::HashMap;

type Converted<T> = Result<T, RecordError>;

/// Text of a field: `None` when unset or empty.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn required<'a>(value: &'a Option<String>, column: &'static str) -> Converted<&'a str> {
    text(value).ok_or(RecordError::Required(column))
}

/// A tenant's id and display name (the id when unnamed).
pub(super) fn tenant_record(record: &Record) -> Converted<(TenantId, Text)> {
    let id = TenantId::parse(required(&record.tenant, "tenant")?)?;
    let name = Text::parse_for("name", text(&record.name).unwrap_or(id.as_str()))?;
    Ok((id, name))
}

/// A group's tenant, id and display name (the id when unnamed).
pub(super) fn group_record(record: &Record) -> Converted<(TenantId, GroupId, Text)> {
    let tenant = TenantId::parse(required(&record.tenant, "tenant")?)?;
    let id = GroupId::parse(required(&record.group, "group")?)?;
    let name = Text::parse_for("name", text(&record.name).unwrap_or(id.as_str()))?;
    Ok((tenant, id, name))
}

fn department_record(record: &Record) -> Converted<NewDepartment> {
    let tenant = TenantId::parse(required(&record.tenant, "tenant")?)?;
    let group = text(&record.group).map(GroupId::parse).transpose()?;
    let name = DepartmentName::parse(required(&record.name, "name")?)?;
    let parent = text(&record.parent).map(DepartmentName::parse).transpose()?;
    if parent.as_ref() == Some(&name) {
        return Err(RecordError::OwnParent);
    }
    Ok(NewDepartment {
        key: DepartmentKey { tenant, group, name },
        parent,
    })
}

/// Departments ordered so that a parent given in the same file comes before its children (a cycle
/// is refused), each with its place.
pub(super) fn departments_parents_first(rows: Vec<(Location, Record)>) -> Vec<(Location, Converted<NewDepartment>)> {
    let parsed: Vec<(Location, Converted<NewDepartment>)> =
        rows.into_iter().map(|(l, r)| (l, department_record(&r))).collect();
    let index: HashMap<&DepartmentKey, usize> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, (_, d))| d.as_ref().ok().map(|d| (&d.key, i)))
        .collect();
    // Depth within the file: 0 when the parent is not in the file (it may be in the database);
    // `None` for a cycle.
    let depth = |start: usize| -> Option<usize> {
        let mut depth = 0;
        let mut at = start;
        loop {
            let Some((_, Ok(d))) = parsed.get(at) else {
                return Some(depth);
            };
            let Some(parent) = &d.parent else { return Some(depth) };
            let parent_key = DepartmentKey {
                name: parent.clone(),
                ..d.key.clone()
            };
            match index.get(&parent_key) {
                None => return Some(depth),
                Some(&p) => {
                    depth += 1;
                    at = p;
                    if depth > parsed.len() {
                        return None;
                    }
                }
            }
        }
    };
    let depths: Vec<Option<usize>> = (0..parsed.len()).map(depth).collect();
    let mut ordered: Vec<(usize, Location, Converted<NewDepartment>)> = parsed
        .into_iter()
        .zip(depths)
        .map(|((location, d), depth)| match depth {
            Some(depth) => (depth, location, d),
            None => (0, location, Err(RecordError::ParentCycle)),
        })
        .collect();
    ordered.sort_by_key(|(depth, location, _)| (*depth, *location));
    ordered.into_iter().map(|(_, l, d)| (l, d)).collect()
}

fn device_level(value: &str) -> Converted<DeviceLevel> {
    DeviceLevel::parse(value).map_err(|e| e.renamed("device_level").into())
}

/// A device: its name, and its owner as its level says (from the columns given when unset).
pub(super) fn device_record(record: &Record) -> Converted<Device> {
    let name = DeviceName::parse(required(&record.name, "name")?)?;
    let tenant = text(&record.tenant).map(TenantId::parse).transpose()?;
    let group = text(&record.group).map(GroupId::parse).transpose()?;
    let level = match text(&record.device_level) {
        Some(level) => device_level(level)?,
        None if group.is_some() => DeviceLevel::Group,
        None if tenant.is_some() => DeviceLevel::ServiceProvider,
        None => DeviceLevel::System,
    };
    let owner = match (level, tenant, group) {
        (DeviceLevel::System, None, None) => DeviceOwner::System,
        (DeviceLevel::ServiceProvider, Some(tenant), None) => DeviceOwner::ServiceProvider { tenant },
        (DeviceLevel::Group, Some(tenant), Some(group)) => DeviceOwner::Group { tenant, group },
        (level, _, _) => return Err(RecordError::DeviceOwner(level)),
    };
    Ok(Device { owner, name })
}

/// A user's credential as the file gives it.
pub(super) enum Credential {
    None,
    Plain(Password),
    Hash(SecretHash),
}

/// A sealed TOTP secret as exported, with its last used step.
pub(super) type SealedTotp = (SealedSecret, Option<i64>);

/// A user record checked and turned into domain values, ready to be written.
pub(super) struct PreparedUser {
    pub location: Location,
    pub user: NewUser,
    /// The department's name, resolved in the user's group, else at tenant level.
    pub department: Option<DepartmentName>,
    pub credential: Credential,
    pub first_login: bool,
    pub endpoint: Option<Endpoint>,
    /// A confirmed TOTP authenticator, sealed, with its last used step.
    pub totp: Option<SealedTotp>,
    pub recovery_codes: Vec<TokenDigest>,
    /// Passkeys, their user's key still to set.
    pub passkeys: Vec<NewPasskey>,
}

/// A version 4 UUID from `random`.
pub(super) fn new_uuid(random: &dyn Random) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The user's role from the level and placement columns. A user id is an id in a group: the
/// username stands in for it when the record has a group and no `user_id`.
fn role(record: &Record, username: &Username) -> Converted<Role> {
    let level = UserLevel::from_u8(record.level.unwrap_or(0))?;
    let tenant = text(&record.tenant).map(TenantId::parse).transpose()?;
    let group = text(&record.group).map(GroupId::parse).transpose()?;
    let administered = text(&record.admin_department).map(DepartmentName::parse).transpose()?;
    let user_id = text(&record.user_id).or(group.is_some().then_some(username.as_str()));
    let (user_id, user_id_error) = match user_id.map(UserId::parse).transpose() {
        Ok(user_id) => (user_id, None),
        Err(err) => (None, Some(err)),
    };
    Role::from_parts(level, tenant, group, user_id, administered).map_err(|mut problems| {
        problems.sort_by_key(role_problem_rank);
        match (problems.first(), user_id_error) {
            // The level needs the user id the record gives, but it is not a valid one.
            (Some(first), Some(err)) if first.field == "user_id" && first.problem == Problem::Empty => {
                RecordError::from(err)
            }
            _ => RecordError::Role { level, problems },
        }
    })
}

/// The profile columns, every invalid one at once.
fn profile(record: &Record) -> Converted<Profile> {
    let first_name = Name::parse_for("first_name", text(&record.first_name).unwrap_or_default());
    let last_name = Name::parse_for("last_name", text(&record.last_name).unwrap_or_default());
    let (first_name, last_name) = match (first_name, last_name) {
        (Ok(f), Ok(l)) => (f, l),
        (f, l) => return Err(RecordError::Invalid(f.err().into_iter().chain(l.err()).collect())),
    };
    let mut profile = Profile::named(first_name, last_name);
    let mut problems: Vec<InvalidValue> = Vec::new();
    macro_rules! field {
        ($target:expr, $ty:ty, $column:literal, $value:expr) => {
            if let Some(v) = text($value) {
                match <$ty>::parse_for($column, v) {
                    Ok(v) => $target = v,
                    Err(e) => problems.push(e),
                }
            }
        };
    }
    macro_rules! optional {
        ($target:expr, $ty:ty, $column:literal, $value:expr) => {
            if let Some(v) = text($value) {
                match <$ty>::parse_for($column, v) {
                    Ok(v) => $target = Some(v),
                    Err(e) => problems.push(e),
                }
            }
        };
    }
    field!(profile.cli_first_name, Text, "cli_first_name", &record.cli_first_name);
    field!(profile.cli_last_name, Text, "cli_last_name", &record.cli_last_name);
    field!(profile.phone_number, PhoneNumber, "phone_number", &record.phone_number);
    field!(profile.extension, Extension, "extension", &record.extension);
    field!(
        profile.cli_phone_number,
        PhoneNumber,
        "cli_phone_number",
        &record.cli_phone_number
    );
    field!(
        profile.network_class_of_service,
        Text,
        "network_class_of_service",
        &record.network_class_of_service
    );
    field!(profile.mobile, PhoneNumber, "mobile", &record.mobile);
    field!(profile.description, Text, "description", &record.description);
    field!(profile.image, Text, "image", &record.image);
    optional!(profile.email, EmailAddress, "email", &record.email);
    optional!(profile.language, Language, "language", &record.language);
    optional!(profile.time_zone, TimeZoneName, "time_zone", &record.time_zone);
    if problems.is_empty() {
        Ok(profile)
    } else {
        Err(RecordError::Invalid(problems))
    }
}

fn credential(record: &Record) -> Converted<Credential> {
    Ok(match (text(&record.password), text(&record.password_hash)) {
        (Some(_), Some(_)) => return Err(RecordError::PasswordAndHash),
        (Some(plain), None) => Credential::Plain(Password::new(plain)?),
        (None, Some(hash)) => {
            let hash = SecretHash::new(hash).map_err(|_| RecordError::NotAHash)?;
            // Only the scheme is named: the value is a secret.
            hashing::check_stored_hash(&hash).map_err(RecordError::UnusableHash)?;
            Credential::Hash(hash)
        }
        (None, None) => Credential::None,
    })
}

/// The user's main endpoint, for a user of a group.
fn endpoint(record: &Record, role: &Role) -> Converted<Option<Endpoint>> {
    let endpoint = match (text(&record.device), text(&record.line_port)) {
        (None, None) => {
            if record.line_number.is_some() || text(&record.endpoint).is_some() || text(&record.contacts).is_some() {
                return Err(RecordError::EndpointPartsWithoutLine);
            }
            None
        }
        (Some(device), Some(line_port)) => {
            if role.member().is_none() {
                return Err(RecordError::EndpointWithoutGroup);
            }
            let device = DeviceRef {
                name: DeviceName::parse(device)?,
                level: text(&record.device_level).map_or(Ok(DeviceLevel::Group), device_level)?,
            };
            let line_port = LinePort::parse(line_port)?;
            let contacts = text(&record.contacts)
                .unwrap_or_default()
                .split_whitespace()
                .map(Contact::parse)
                .collect::<Result<Vec<_>, _>>()?;
            Some(match text(&record.endpoint).unwrap_or("access") {
                "access" => Endpoint::AccessDevice(AccessDeviceEndpoint {
                    device,
                    line_port,
                    line_number: record.line_number,
                    contacts,
                }),
                "trunk" => {
                    if record.line_number.is_some() {
                        return Err(RecordError::TrunkLineNumber);
                    }
                    Endpoint::Trunk(TrunkEndpoint {
                        device,
                        line_port,
                        contacts,
                    })
                }
                _ => return Err(RecordError::EndpointKind),
            })
        }
        _ => return Err(RecordError::EndpointHalf),
    };
    if endpoint.is_none() && text(&record.device_level).is_some() {
        return Err(RecordError::DeviceLevelWithoutEndpoint);
    }
    Ok(endpoint)
}

/// A user record as domain values; a new UUID from `random` when the record has none.
pub(super) fn user_record(location: Location, record: &Record, random: &dyn Random) -> Converted<PreparedUser> {
    let username = Username::parse(required(&record.username, "username")?)?;
    let role = role(record, &username)?;
    let profile = profile(record);
    let state = text(&record.state).map(AccountState::parse).transpose();
    let account_type = text(&record.account_type).map(AccountType::parse).transpose();
    let uuid = text(&record.uuid)
        .map(|u| uuid::Uuid::parse_str(u).map_err(|_| RecordError::NotAUuid))
        .transpose();
    let department = text(&record.department).map(DepartmentName::parse).transpose();
    let profile = profile?;
    let department = department?;
    if department.is_some() && role.tenant().is_none() {
        return Err(RecordError::DepartmentWithoutTenant);
    }
    let credential = credential(record)?;
    let first_login = record.first_login.unwrap_or(matches!(credential, Credential::Plain(_)));
    let endpoint = endpoint(record, &role)?;
    let uuid = uuid?.unwrap_or_else(|| new_uuid(random));
    let mut user = NewUser::new(
        uuid,
        username,
        role,
        NewProfile {
            profile,
            department: None,
        },
    );
    user.enabled = record.enabled.unwrap_or(user.enabled);
    if let Some(state) = state? {
        user.state = state;
    }
    if let Some(account_type) = account_type? {
        user.account_type = account_type;
    }
    let (totp, recovery_codes, passkeys) = factors(record)?;
    Ok(PreparedUser {
        location,
        user,
        department,
        credential,
        first_login,
        endpoint,
        totp,
        recovery_codes,
        passkeys,
    })
}

/// The user's second factors as the export wrote them: the sealed TOTP secret (`key_id:base64`)
/// with its last used step, the recovery codes' digests and the passkeys. Recovery codes need an
/// authenticator or a passkey.
fn factors(record: &Record) -> Converted<(Option<SealedTotp>, Vec<TokenDigest>, Vec<NewPasskey>)> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let totp = match text(&record.totp) {
        None => None,
        Some(value) => {
            let (key_id, sealed) = value
                .split_once(':')
                .ok_or(RecordError::Factor("totp is not key_id:base64"))?;
            let bytes = b64
                .decode(sealed)
                .map_err(|_| RecordError::Factor("totp is not key_id:base64"))?;
            Some((
                SealedSecret {
                    key_id: key_id.to_owned(),
                    bytes,
                },
                record.totp_last_step,
            ))
        }
    };
    let codes = text(&record.recovery_codes)
        .unwrap_or_default()
        .split_whitespace()
        .map(|d| {
            b64.decode(d)
                .ok()
                .and_then(|bytes| TokenDigest::from_slice(&bytes).ok())
                .ok_or(RecordError::Factor("recovery_codes are not base64 SHA-256 digests"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let passkeys = match text(&record.passkeys) {
        Some(list) => crate::passkeys::imported(list).map_err(RecordError::Factor)?,
        None => Vec::new(),
    };
    if totp.is_none() && record.totp_last_step.is_some() {
        return Err(RecordError::Factor("totp_last_step needs totp"));
    }
    if totp.is_none() && passkeys.is_empty() && !codes.is_empty() {
        return Err(RecordError::Factor("recovery_codes need totp or passkeys"));
    }
    Ok((totp, codes, passkeys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Kind;
    use crate::random::OsRandom;

    #[test]
    fn departments_come_parents_first_and_cycles_are_refused() {
        let dept = |name: &str, parent: Option<&str>| Record {
            kind: Some(Kind::Department),
            tenant: Some("T".into()),
            group: Some("G".into()),
            name: Some(name.into()),
            parent: parent.map(str::to_owned),
            ..Record::default()
        };
        let rows = vec![
            (Location::Index(0), dept("leaf", Some("mid"))),
            (Location::Index(1), dept("mid", Some("root"))),
            (Location::Index(2), dept("root", None)),
            (Location::Index(3), dept("a", Some("b"))),
            (Location::Index(4), dept("b", Some("a"))),
        ];
        let ordered = departments_parents_first(rows);
        let names: Vec<String> = ordered
            .iter()
            .filter_map(|(_, d)| d.as_ref().ok().map(|d| d.key.name.as_str().to_owned()))
            .collect();
        assert_eq!(names, ["root", "mid", "leaf"]);
        assert_eq!(ordered.iter().filter(|(_, d)| d.is_err()).count(), 2, "a and b");
    }

    #[test]
    fn user_records_are_checked_whole() {
        let user_record = |record: &Record| user_record(Location::Index(0), record, &OsRandom);
        let mut record = Record {
            kind: Some(Kind::User),
            username: Some("ann".into()),
            level: Some(8),
            tenant: Some("T".into()),
            group: Some("G".into()),
            first_name: Some("Ann".into()),
            last_name: Some("Lee".into()),
            email: Some("not an address".into()),
            extension: Some("12a".into()),
            ..Record::default()
        };
        let err = user_record(&record).err().unwrap().to_string();
        assert!(err.contains("email") && err.contains("extension"), "{err}");
        record.email = None;
        record.extension = None;
        record.password = Some("plain".into());
        record.password_hash = Some("pbkdf2_sha256$1$s$x".into());
        assert!(user_record(&record).err().unwrap().to_string().contains("not both"));
        record.password = None;
        let err = user_record(&record).err().unwrap().to_string();
        assert!(
            err.starts_with("password_hash:") && !err.contains("pbkdf2_sha256$1$s$x"),
            "{err}"
        );
        record.password_hash = None;
        record.level = Some(16);
        assert!(
            user_record(&record)
                .err()
                .unwrap()
                .to_string()
                .contains("does not apply")
        );
        record.level = Some(8);
        record.password = Some("Initial-Passw0rd!".into());
        let ok = user_record(&record).unwrap();
        assert!(ok.first_login, "a given plaintext password is to be changed");
        assert_eq!(ok.user.role.level(), UserLevel::GroupAdmin);
    }

    #[test]
    fn roles_are_refused_with_the_column_that_is_wrong() {
        let reason = |level: u8, tenant: Option<&str>, group: Option<&str>, extra: fn(&mut Record)| {
            let mut record = Record {
                kind: Some(Kind::User),
                username: Some("ann".into()),
                level: Some(level),
                tenant: tenant.map(str::to_owned),
                group: group.map(str::to_owned),
                first_name: Some("Ann".into()),
                last_name: Some("Lee".into()),
                ..Record::default()
            };
            extra(&mut record);
            match user_record(Location::Index(0), &record, &OsRandom) {
                Ok(_) => "ok".to_owned(),
                Err(err) => err.to_string(),
            }
        };
        let none: fn(&mut Record) = |_| {};
        assert_eq!(reason(0, Some("T"), None, none), "group is required for this level");
        assert_eq!(reason(0, None, None, none), "tenant is required for this level");
        assert_eq!(reason(12, None, None, none), "tenant is required for level 12");
        assert_eq!(
            reason(4, Some("T"), Some("G"), none),
            "admin_department is required for level 4"
        );
        assert_eq!(
            reason(16, Some("T"), Some("G"), none),
            "group does not apply to level 16"
        );
        assert_eq!(
            reason(12, Some("T"), Some("G"), none),
            "group does not apply to level 12"
        );
        assert_eq!(
            reason(12, Some("T"), None, |r| r.user_id = Some("u".into())),
            "user_id does not apply to level 12"
        );
        assert_eq!(
            reason(0, Some("T"), Some("G"), |r| r.admin_department = Some("D".into())),
            "admin_department does not apply to level 0"
        );
        assert_eq!(reason(12, Some("T"), None, none), "ok");
        assert_eq!(reason(16, None, None, none), "ok");
        let bad_id = reason(0, Some("T"), Some("G"), |r| r.user_id = Some("a/b".into()));
        assert!(bad_id.starts_with("user_id "), "{bad_id}");
    }

    #[test]
    fn a_missing_uuid_comes_from_the_random_port() {
        struct Fixed;
        impl Random for Fixed {
            fn fill(&self, dest: &mut [u8]) {
                dest.fill(7);
            }
        }
        let record = Record {
            kind: Some(Kind::User),
            username: Some("sys".into()),
            level: Some(16),
            first_name: Some("Sys".into()),
            last_name: Some("Admin".into()),
            ..Record::default()
        };
        let user = user_record(Location::Index(0), &record, &Fixed).unwrap().user;
        assert_eq!(user.uuid, uuid::Builder::from_random_bytes([7; 16]).into_uuid());
        assert_eq!(user.uuid.get_version_num(), 4);
    }
}
