//! The export use case: every tenant, group, department, device and user of the store as
//! [`Record`]s, users with their password hash (never a password). It reads whole tables through
//! the domain's `InventoryStore` port (listings for operators' tools, not request paths).

use super::{BATCH, Kind, Progress, Record};
use crate::{ServiceResult, Services};
use accountd_domain::endpoint::{Contact, DeviceOwner, Endpoint};
use accountd_domain::ports::{PageRequest, Store, StoreError};
use accountd_domain::records::{PasskeyRecord, PasswordRecord, TotpFactor};
use accountd_domain::secret::TokenDigest;
use accountd_domain::user::User;

impl<S: Store> Services<S> {
    /// Every tenant, group, department, device and user of the store, as records (users with their
    /// password hash, never a password), in an order an import applies as it is.
    pub fn export(&self, progress: &dyn Progress) -> ServiceResult<Vec<Record>> {
        let mut records = Vec::new();
        let (tenants, groups, departments, devices) = self.store.read(|repo| {
            Ok::<_, StoreError>((
                repo.list_tenants()?,
                repo.list_groups()?,
                repo.list_departments()?,
                repo.list_devices()?,
            ))
        })?;
        let users_total = self.store.read(|repo| repo.count_users())?;
        progress.total((tenants.len() + groups.len() + departments.len() + devices.len()) as u64 + users_total);
        for tenant in tenants {
            records.push(Record {
                kind: Some(Kind::Tenant),
                tenant: Some(tenant.id.as_str().to_owned()),
                name: Some(tenant.name.as_str().to_owned()),
                ..Record::default()
            });
        }
        for group in groups {
            records.push(Record {
                kind: Some(Kind::Group),
                tenant: Some(group.tenant.as_str().to_owned()),
                group: Some(group.id.as_str().to_owned()),
                name: Some(group.name.as_str().to_owned()),
                ..Record::default()
            });
        }
        for department in departments {
            let path = department.path();
            let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
            records.push(Record {
                kind: Some(Kind::Department),
                tenant: Some(department.key.tenant.as_str().to_owned()),
                group: department.key.group.as_ref().map(|g| g.as_str().to_owned()),
                name: Some(department.key.name.as_str().to_owned()),
                parent: parent.map(|p| p.as_str().to_owned()),
                ..Record::default()
            });
        }
        for device in devices {
            let (tenant, group) = match &device.owner {
                DeviceOwner::System => (None, None),
                DeviceOwner::ServiceProvider { tenant } => (Some(tenant.as_str().to_owned()), None),
                DeviceOwner::Group { tenant, group } => {
                    (Some(tenant.as_str().to_owned()), Some(group.as_str().to_owned()))
                }
            };
            records.push(Record {
                kind: Some(Kind::Device),
                tenant,
                group,
                name: Some(device.name.as_str().to_owned()),
                device_level: Some(device.owner.level().as_str().to_owned()),
                ..Record::default()
            });
        }
        progress.advance(records.len() as u64);
        let mut after = None;
        loop {
            let page = self.store.read(|repo| {
                repo.list_users(PageRequest {
                    after,
                    limit: BATCH as u32,
                })
            })?;
            let details = self.store.read(|repo| {
                page.items
                    .iter()
                    .map(|u| {
                        let factor = repo.totp_factor(u.key)?.filter(|f| f.confirmed_at.is_some());
                        let passkeys = repo.user_passkeys(u.key)?;
                        let codes = match factor.is_some() || !passkeys.is_empty() {
                            true => repo.recovery_code_digests(u.key)?,
                            false => Vec::new(),
                        };
                        let factors = Factors {
                            totp: factor,
                            codes,
                            passkeys,
                        };
                        Ok((repo.password(u.key)?, repo.endpoint(u.key)?, factors))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })?;
            for (user, (password, endpoint, factors)) in page.items.iter().zip(details) {
                let mut record = user_record(user, password.as_ref(), endpoint.as_ref());
                with_factors(&mut record, &factors);
                records.push(record);
            }
            progress.advance(page.items.len() as u64);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(records)
    }
}

/// A user's second factors, as exported.
struct Factors {
    /// The confirmed TOTP authenticator.
    totp: Option<TotpFactor>,
    /// The unused recovery codes' digests.
    codes: Vec<TokenDigest>,
    passkeys: Vec<PasskeyRecord>,
}

/// The user's confirmed TOTP authenticator, sealed as stored, their recovery codes' digests and
/// their passkeys: a restore keeps them working (with the same key configured).
fn with_factors(record: &mut Record, factors: &Factors) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(factor) = &factors.totp {
        record.totp = Some(format!("{}:{}", factor.sealed.key_id, b64.encode(&factor.sealed.bytes)));
        record.totp_last_step = factor.last_step;
    }
    let codes: Vec<String> = factors.codes.iter().map(|d| b64.encode(d.as_bytes())).collect();
    record.recovery_codes = owned(&codes.join(" "));
    if !factors.passkeys.is_empty() {
        let list: Vec<serde_json::Value> = factors.passkeys.iter().map(crate::passkeys::exported).collect();
        record.passkeys = Some(serde_json::Value::Array(list).to_string());
    }
}

/// `value`, unless empty.
fn owned(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A user as a record: profile, role, password hash and main endpoint.
fn user_record(user: &User, password: Option<&PasswordRecord>, endpoint: Option<&Endpoint>) -> Record {
    let p = &user.profile;
    let member = user.role.member();
    let (device, device_level, line_port, line_number, kind, contacts) = match endpoint {
        None => (None, None, None, None, None, None),
        Some(e) => {
            let (line_number, kind, contacts) = match e {
                Endpoint::AccessDevice(a) => (a.line_number, "access", &a.contacts),
                Endpoint::Trunk(t) => (None, "trunk", &t.contacts),
            };
            let contacts: Vec<&str> = contacts.iter().map(Contact::as_str).collect();
            (
                Some(e.device().name.as_str().to_owned()),
                Some(e.device().level.as_str().to_owned()),
                Some(e.line_port().as_str().to_owned()),
                line_number,
                Some(kind.to_owned()),
                owned(&contacts.join(" ")),
            )
        }
    };
    Record {
        kind: Some(Kind::User),
        tenant: user.role.tenant().map(|t| t.as_str().to_owned()),
        group: user.role.group().map(|g| g.as_str().to_owned()),
        username: Some(user.username.as_str().to_owned()),
        level: Some(user.level().as_u8()),
        user_id: member.map(|m| m.user.as_str().to_owned()),
        uuid: Some(user.uuid.to_string()),
        first_name: Some(p.first_name.as_str().to_owned()),
        last_name: Some(p.last_name.as_str().to_owned()),
        email: p.email.as_ref().map(|e| e.as_str().to_owned()),
        cli_first_name: owned(p.cli_first_name.as_str()),
        cli_last_name: owned(p.cli_last_name.as_str()),
        phone_number: owned(p.phone_number.as_str()),
        extension: owned(p.extension.as_str()),
        cli_phone_number: owned(p.cli_phone_number.as_str()),
        language: p.language.as_ref().map(|l| l.as_str().to_owned()),
        time_zone: p.time_zone.as_ref().map(|t| t.as_str().to_owned()),
        mobile: owned(p.mobile.as_str()),
        description: owned(p.description.as_str()),
        image: owned(p.image.as_str()),
        network_class_of_service: owned(p.network_class_of_service.as_str()),
        department: p.department.as_ref().map(|d| d.key.name.as_str().to_owned()),
        admin_department: user.role.administered_department().map(|d| d.as_str().to_owned()),
        enabled: Some(user.enabled),
        state: Some(user.state.as_str().to_owned()),
        account_type: Some(user.account_type.as_str().to_owned()),
        password: None,
        password_hash: password.map(|r| r.hash.as_str().to_owned()),
        first_login: password.map(|r| r.first_login),
        device,
        device_level,
        line_port,
        line_number,
        endpoint: kind,
        contacts,
        parent: None,
        name: None,
        totp: None,
        totp_last_step: None,
        recovery_codes: None,
        passkeys: None,
    }
}
