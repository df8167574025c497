//! Demo data mirroring the seeds, loaded idempotently by `accountd serve --demo`:
//! - tenant `Pie`, group `PieGroup`, group admin `PieGroupAdmin1@sip.netaxis.be` (John Doe, seed 000);
//! - tenant `ApioSpTest`, group `ApioGrpTest`, departments `test_department_parent_1` >
//!   `test_department_initial`, end user `foouser` with seed 001's profile, device `DP_ApioUserTest` and
//!   line port `LP_ApioUserTest@sip.netaxis.be`;
//! - tenant `AcmeCorp` with one licence (`Portal`), groups `AcmeGroup` and `AcmeSupport`, the
//!   Axway-style user `jbloggs` of seed 003 (secondary group `AcmeSupport`);
//! - system administrator `admin`.
//!
//! Every demo user has the password [`DEMO_PASSWORD`]; foouser's PIN is [`DEMO_PIN`] (seed 001's
//! `oldPinCode`) with seed 001's settings (`expirationDays` 3600).

use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::InvalidValue;
use accountd_domain::endpoint::{AccessDeviceEndpoint, Device, DeviceLevel, DeviceOwner, DeviceRef, Endpoint};
use accountd_domain::ids::{DepartmentName, DeviceName, GroupId, LinePort, TenantId, UserId, Username};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::Store;
use accountd_domain::records::{License, NewDepartment};
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Extension, Language, Name, PhoneNumber, Text, TimeZoneName};
use accountd_domain::user::{DepartmentKey, NewProfile, NewUser, Profile, Timestamp};

pub const DEMO_PASSWORD: &str = "Demo-Passw0rd!";
/// foouser's PIN: seed 001's `oldPinCode`.
pub const DEMO_PIN: &str = "987654";

fn member(tenant: &str, group: &str, user: &str) -> Result<GroupMember, InvalidValue> {
    Ok(GroupMember {
        tenant: TenantId::parse(tenant)?,
        group: GroupId::parse(group)?,
        user: UserId::parse(user)?,
    })
}

fn name(value: &str) -> Result<Name, InvalidValue> {
    Name::parse_for("name", value)
}

fn text(value: &str) -> Result<Text, InvalidValue> {
    Text::parse_for("text", value)
}

fn new_user(
    username: &str,
    role: Role,
    profile: Profile,
    department: Option<DepartmentKey>,
) -> Result<NewUser, InvalidValue> {
    Ok(NewUser::new(
        // A stable id per username, so the demo users keep their UUIDs across databases.
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("accountd-demo:{username}").as_bytes(),
        ),
        Username::parse(username)?,
        role,
        NewProfile { profile, department },
    ))
}

impl<S: Store> Services<S> {
    /// Creates what is missing of the demo data; leaves what exists as it is.
    pub fn load_demo_data(&self) -> ServiceResult<()> {
        let services = self;
        let store = &self.store;
        let ctx = RequestContext::default();
        let password = Password::new(DEMO_PASSWORD)?;

        let pie = TenantId::parse("Pie")?;
        let pie_group = GroupId::parse("PieGroup")?;
        let apio = TenantId::parse("ApioSpTest")?;
        let apio_group = GroupId::parse("ApioGrpTest")?;
        let acme = TenantId::parse("AcmeCorp")?;
        let acme_group = GroupId::parse("AcmeGroup")?;
        let parent = DepartmentKey {
            tenant: apio.clone(),
            group: Some(apio_group.clone()),
            name: DepartmentName::parse("test_department_parent_1")?,
        };
        let initial = DepartmentKey {
            name: DepartmentName::parse("test_department_initial")?,
            ..parent.clone()
        };
        let device = Device {
            owner: DeviceOwner::Group {
                tenant: apio.clone(),
                group: apio_group.clone(),
            },
            name: DeviceName::parse("DP_ApioUserTest")?,
        };
        store.write(|repo| {
            repo.ensure_tenant(&pie, &text("Pie")?)?;
            repo.ensure_group(&pie, &pie_group, &text("PieGroup")?)?;
            repo.ensure_tenant(&apio, &text("ApioSpTest")?)?;
            repo.ensure_group(&apio, &apio_group, &text("ApioGrpTest")?)?;
            repo.ensure_tenant(&acme, &text("Acme Corp")?)?;
            repo.ensure_group(&acme, &acme_group, &text("AcmeGroup")?)?;
            repo.ensure_department(&NewDepartment {
                key: parent.clone(),
                parent: None,
            })?;
            repo.ensure_department(&NewDepartment {
                key: initial.clone(),
                parent: Some(parent.name.clone()),
            })?;
            repo.ensure_device(&device)?;
            Ok::<_, ServiceError>(())
        })?;

        let mut john = Profile::named(name("John")?, name("Doe")?);
        john.email = Some(EmailAddress::parse_for("emailAddress", "john.doe@netaxis.be")?);

        let mut foouser = Profile::named(name("Test")?, name("Test")?);
        foouser.cli_first_name = text("Test")?;
        foouser.cli_last_name = text("Test")?;
        foouser.extension = Extension::parse_for("extension", "4000")?;
        foouser.language = Some(Language::parse_for("language", "English")?);
        foouser.email = Some(EmailAddress::parse_for("emailAddress", "test_mail@test.netaxis.be")?);
        foouser.network_class_of_service = text("9")?;
        foouser.time_zone = Some(TimeZoneName::parse_for("timeZone", "Europe/Brussels")?);

        let mut jbloggs = Profile::named(name("New")?, name("User")?);
        jbloggs.email = Some(EmailAddress::parse_for("email", "jbloggs@acmecorp.com")?);
        jbloggs.phone_number = PhoneNumber::parse_for("phone", "+353 (1) 6742000")?;
        jbloggs.mobile = PhoneNumber::parse_for("mobile", "+353 (89) 6742087")?;
        jbloggs.description = text("Created by admin")?;
        jbloggs.image = text("resources/photo.jpg")?;

        let users = [
            new_user(
                "admin",
                Role::System,
                Profile::named(name("System")?, name("Administrator")?),
                None,
            )?,
            new_user(
                "PieGroupAdmin1@sip.netaxis.be",
                Role::GroupAdmin {
                    member: member("Pie", "PieGroup", "PieGroupAdmin1@sip.netaxis.be")?,
                },
                john,
                None,
            )?,
            new_user(
                "foouser",
                Role::EndUser {
                    member: member("ApioSpTest", "ApioGrpTest", "foouser")?,
                },
                foouser,
                Some(initial.clone()),
            )?,
            new_user(
                "jbloggs",
                Role::EndUser {
                    member: member("AcmeCorp", "AcmeGroup", "jbloggs")?,
                },
                jbloggs,
                None,
            )?,
        ];
        for user in &users {
            // An existing user is left as it is, without the argon2 work of creating it again.
            if store.read(|repo| repo.user_by_username(&user.username))?.is_some() {
                continue;
            }
            match services.create_user(Actor::Operator, user, &password, &ctx) {
                Ok(_) | Err(ServiceError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }

        let foouser_name = Username::parse("foouser")?;
        let has_pin = store.read(|repo| {
            let user = repo.user_by_username(&foouser_name)?;
            Ok::<_, ServiceError>(match user {
                Some(user) => repo.pin(user.key)?.is_some(),
                None => false,
            })
        })?;
        // Hashed only when it is to be set: a restart with the demo data in place does no argon2 work.
        let pin_hash = if has_pin {
            None
        } else {
            Some(self.hasher.hash(DEMO_PIN, self.random.as_ref())?)
        };
        let pin_settings = PinSettings::new(false, 3600, false)?;
        let endpoint = Endpoint::AccessDevice(AccessDeviceEndpoint {
            device: DeviceRef {
                name: device.name.clone(),
                level: DeviceLevel::Group,
            },
            line_port: LinePort::parse("LP_ApioUserTest@sip.netaxis.be")?,
            line_number: Some(0),
            contacts: vec![],
        });
        store.write(|repo| {
            let foouser = repo
                .user_by_username(&foouser_name)?
                .ok_or(ServiceError::NotFound("user"))?;
            if repo.endpoint(foouser.key)?.is_none() {
                repo.set_endpoint(foouser.key, Some(&endpoint))?;
            }
            if let Some(pin_hash) = &pin_hash
                && repo.pin(foouser.key)?.is_none()
            {
                // Seed 001's old PIN, set as the operator would (below the PIN rules' radar).
                repo.set_pin(foouser.key, Some(pin_hash), &pin_settings, 3, foouser.created_at)?;
            }
            Ok::<_, ServiceError>(())
        })?;

        // What the SuperOffice dialect shows of jbloggs beside the profile: a licence of AcmeCorp and a
        // secondary group. Set only when missing, so an operator's changes stay.
        let support = GroupId::parse("AcmeSupport")?;
        let portal = License {
            module_id: 1,
            name: text("Portal")?,
            description: text("Self-service portal access")?,
            owner_name: text("accountd")?,
            owner_description: text("accountd demo licences")?,
            version: text("1.3")?,
            license_type: text("SiteLicense")?,
            license_number: 915,
            extra_flags: 0,
            extra_info: text("")?,
            sort_order: 1,
            hidden: false,
            unrestricted: true,
            // 2030-01-01T00:00:00Z
            expires_at: Some(Timestamp::from_millis(1_893_456_000_000)),
        };
        store.write(|repo| {
            let group = repo.ensure_group(&acme, &support, &text("AcmeSupport")?)?;
            if repo.tenant_licenses(&acme)?.is_empty() {
                repo.set_tenant_licenses(&acme, std::slice::from_ref(&portal))?;
            }
            let jbloggs = repo
                .user_by_username(&Username::parse("jbloggs")?)?
                .ok_or(ServiceError::NotFound("user"))?;
            if repo.secondary_groups(jbloggs.key)?.is_empty() {
                repo.set_secondary_groups(jbloggs.key, &[group.key])?;
            }
            Ok::<_, ServiceError>(())
        })?;
        Ok(())
    }
}
