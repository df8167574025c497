//! Seed 001's user resource: read, update (profile, endpoint and password in one all-or-nothing
//! change), delete, plus creating and listing a group's users.
//!
//! Access is decided the same way on every route: a caller who may not administer the addressed
//! place (tenant/group, or the user there) gets 403 whether or not the user exists; inside their scope
//! a missing user is 404 (DELETE: 200, as the seed says deleting a missing user is no error).

use crate::outbox::{DIVERGED_DELETE, Realign};
use crate::profile::{Actor, PreparedPassword, refuse_move_out_of_scope, refuse_read_only, require};
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::endpoint::Endpoint;
use accountd_domain::ids::{DepartmentName, Username};
use accountd_domain::ids::{GroupId, TenantId, UserKey};
use accountd_domain::level::{GroupMember, Role, UserLevel};
use accountd_domain::ports::{DeleteOptions, DeleteOutcome, Page, PageRequest, Repository, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::secret::Password;
use accountd_domain::user::{DepartmentKey, NewProfile, NewUser, Profile, ProfileChange, User, Version};
use accountd_domain::{InvalidValue, Problem};
use accountd_policy::access::{self, Action};
use accountd_policy::mode::{Operation, dispatch};

/// A user with their main endpoint: seed 001's representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetails {
    pub user: User,
    pub endpoint: Option<Endpoint>,
}

/// Seed 001's POST: a new user of a group, as the caller describes them. The service decides the
/// rest (which levels a group may hold, a new account's defaults, its UUID).
#[derive(Debug, Clone)]
pub struct NewGroupUser {
    /// Where the user goes: the path's tenant and group, and their user id.
    pub member: GroupMember,
    pub username: Username,
    /// `userLevel` as sent: 0 (end user), 4 (department admin, with `administered_department`)
    /// or 8 (group admin).
    pub level: u8,
    pub administered_department: Option<DepartmentName>,
    pub profile: Profile,
    pub department: Option<DepartmentKey>,
}

impl NewGroupUser {
    /// The role this request asks for, or a 400 naming `userLevel` or `administeredDepartment`.
    fn role(&self) -> ServiceResult<Role> {
        const GROUP_LEVELS: Problem = Problem::Format("0, 4 (with administeredDepartment) or 8");
        let level = UserLevel::from_u8(self.level)
            .ok()
            .filter(|l| {
                matches!(
                    l,
                    UserLevel::EndUser | UserLevel::DepartmentAdmin | UserLevel::GroupAdmin
                )
            })
            .ok_or_else(|| ServiceError::Invalid(vec![InvalidValue::new("userLevel", GROUP_LEVELS)]))?;
        let m = self.member.clone();
        Role::from_parts(
            level,
            Some(m.tenant),
            Some(m.group),
            Some(m.user),
            self.administered_department.clone(),
        )
        .map_err(|problems| {
            ServiceError::Invalid(
                problems
                    .into_iter()
                    .map(|p| match p.problem {
                        // Level 4 without the department it administers.
                        Problem::Empty => InvalidValue::new("administeredDepartment", Problem::Empty),
                        // A department for a level that administers none.
                        _ => InvalidValue::new("userLevel", GROUP_LEVELS),
                    })
                    .collect(),
            )
        })
    }
}

/// A password change carried by a profile update (`oldPassword`, `newPassword`).
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub old: Option<Password>,
    pub new: Password,
}

/// Seed 001's PUT: any of the profile, the main endpoint (`Some(None)` removes it) and the password.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub profile: ProfileChange,
    pub endpoint: Option<Option<Endpoint>>,
    pub password: Option<PasswordChange>,
}

impl UserUpdate {
    /// Wire names of what this update touches (for audit events), never values.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.profile.fields().iter().map(|f| f.wire_name().to_owned()).collect();
        if self.endpoint.is_some() {
            fields.push("endpoint".into());
        }
        if self.password.is_some() {
            fields.push("password".into());
        }
        fields
    }
}

/// What `update` really changes on `current` (whose endpoint is `current_endpoint`): the profile
/// change less its current values, and the endpoint change unless it is the current endpoint; or
/// [`ServiceError::ReadOnly`] naming every member the actor may not change.
fn effective_update(
    actor: Actor<'_>,
    current: &User,
    current_endpoint: Option<&Endpoint>,
    update: &UserUpdate,
    repo: &mut dyn Repository,
) -> ServiceResult<(ProfileChange, Option<Option<Endpoint>>)> {
    let change = update.profile.clone().without_current(&current.profile);
    let endpoint = update
        .endpoint
        .clone()
        .filter(|wanted| wanted.as_ref() != current_endpoint);
    let endpoint_member = endpoint.as_ref().map(|e| match e.as_ref().or(current_endpoint) {
        Some(Endpoint::Trunk(_)) => "trunkEndpoint",
        _ => "accessDeviceEndpoint",
    });
    refuse_read_only(actor, current, &change, endpoint_member)?;
    refuse_move_out_of_scope(actor, current, &change, repo)?;
    Ok((change, endpoint))
}

/// Turns a missing department or device named in the request into a 400 naming the field.
fn input_reference(err: ServiceError) -> ServiceError {
    match err {
        ServiceError::NotFound(what @ ("department" | "device")) => {
            ServiceError::Invalid(vec![InvalidValue::new(what, Problem::Format("an existing one"))])
        }
        other => other,
    }
}

impl<S: Store> Services<S> {
    /// 403 unless `actor` may administer the group, or the caller is the addressed user themself.
    pub(crate) fn require_group_scope(&self, actor: &Principal, member: &GroupMember) -> ServiceResult<()> {
        let own_path = actor.user.role.member() == Some(member);
        if own_path || access::may_manage_group(&actor.user.role, &member.tenant, &member.group) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("outside the caller's scope"))
        }
    }

    /// The user at `member`, if `actor` may take `action` on them.
    pub(crate) fn addressed_user(
        &self,
        actor: &Principal,
        member: &GroupMember,
        action: Action,
    ) -> ServiceResult<User> {
        self.require_group_scope(actor, member)?;
        let user = self
            .store
            .read(|repo| repo.user_by_path(member))?
            .ok_or(ServiceError::NotFound("user"))?;
        require(access::authorize(&actor.user, action, &user))?;
        Ok(user)
    }

    fn details(&self, user: User) -> ServiceResult<UserDetails> {
        let endpoint = self.store.read(|repo| repo.endpoint(user.key))?;
        Ok(UserDetails { user, endpoint })
    }

    /// `GET …/users/{user_id}/`.
    pub fn get_user(&self, actor: &Principal, member: &GroupMember) -> ServiceResult<UserDetails> {
        let user = self.addressed_user(actor, member, Action::Read)?;
        self.details(user)
    }

    /// `PUT …/users/{user_id}/`: a partial update of what it carries, all or nothing. A user changing
    /// themself may change only the self-editable fields and not their endpoint; a password change
    /// follows [`Services::change_password`]'s rules. With `expected` (If-Match), only that version.
    #[tracing::instrument(skip_all, fields(user = %member.user))]
    pub fn update_user(
        &self,
        actor: &Principal,
        member: &GroupMember,
        expected: Option<Version>,
        update: &UserUpdate,
        ctx: &RequestContext,
    ) -> ServiceResult<UserDetails> {
        let fields = update.fields();
        let mut subject = None;
        let result = self.update_user_inner(actor, member, expected, update, ctx, &mut subject);
        self.audit_refusal(
            &result,
            Actor::Caller(actor),
            subject,
            AuditAction::ProfileUpdate,
            fields,
            ctx,
        );
        result
    }

    fn update_user_inner(
        &self,
        actor: &Principal,
        member: &GroupMember,
        expected: Option<Version>,
        update: &UserUpdate,
        ctx: &RequestContext,
        subject: &mut Option<UserKey>,
    ) -> ServiceResult<UserDetails> {
        if expected.is_none() && self.config.apio.require_if_match {
            return Err(ServiceError::PreconditionRequired);
        }
        let addressed = self.addressed_user(actor, member, Action::UpdateProfile)?;
        *subject = Some(addressed.key);
        let actor_ref = Actor::Caller(actor);
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::ProfileChange,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        let password_upstream = update.password.is_some() && self.password_goes_upstream();
        let upstream = how.write_upstream || password_upstream;
        // Changes of one user that go to the Application Server are ordered by its claim; no
        // transaction is open while the AS is called (issue 15).
        let _claim = self.claim_user_if(upstream, addressed.key)?;
        let target = if upstream {
            // Read again under the claim: the version every later step is decided on.
            let fresh = self
                .store
                .read(|repo| repo.user_by_key(addressed.key))?
                .ok_or(ServiceError::NotFound("user"))?;
            require(access::authorize(&actor.user, Action::UpdateProfile, &fresh))?;
            fresh
        } else {
            addressed
        };
        // Fail before any argon2 work; the transaction decides again on the row it locks.
        let (current_endpoint, change, endpoint) = self
            .store
            .read(|repo| {
                let current_endpoint = repo.endpoint(target.key)?;
                let (change, endpoint) = effective_update(actor_ref, &target, current_endpoint.as_ref(), update, repo)?;
                Ok((current_endpoint, change, endpoint))
            })
            .map_err(input_reference)?;
        // A user's own new address may have to wait for its confirmation (issue 22).
        let (change, held) = self.hold_new_email(actor_ref, &target, change);
        if expected.is_some_and(|v| v != target.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        if change.is_empty() && endpoint.is_none() && update.password.is_none() && held.is_none() {
            // Only current values: nothing changes, nothing is audited, the AS is not called.
            return Ok(UserDetails {
                user: target,
                endpoint: current_endpoint,
            });
        }
        self.count_email_change(&target, held.as_ref())?;
        let prepared: Option<PreparedPassword> = match &update.password {
            Some(change) => Some(self.prepare_password(actor_ref, &target, change.old.as_ref(), &change.new, ctx)?),
            None => None,
        };
        // The Application Server first, outside any transaction: the profile, then the password
        // (a refused password puts the accepted profile back).
        let profile_sent = how.write_upstream && !change.is_empty();
        let armed = if profile_sent {
            let armed = self.arm(target.key, Realign::Profile(change.fields()))?;
            if let Err(err) = self.upstream.update_profile(&target, &change) {
                self.upstream_failed(armed, &err);
                return Err(err.into());
            }
            Some(armed)
        } else {
            None
        };
        if password_upstream
            && let Some(password) = &update.password
            && let Err(err) = self.upstream.set_password(&target, &password.new)
        {
            let err = ServiceError::from(err);
            if let Some(armed) = armed {
                self.realign_now(armed, &err);
            }
            return Err(err);
        }
        // The version the AS calls were decided on: an interleaved write is a `VersionMismatch`.
        let decided = upstream.then_some(target.version);
        let now = self.clock.now();
        let written = self
            .store
            .write(|repo| {
                let current = repo.user_by_key(target.key)?.ok_or(ServiceError::NotFound("user"))?;
                if decided.is_some_and(|v| v != current.version) {
                    return Err(ServiceError::PreconditionFailed);
                }
                let current_endpoint = repo.endpoint(target.key)?;
                let (change, endpoint) =
                    effective_update(actor_ref, &current, current_endpoint.as_ref(), update, repo)?;
                let (change, held) = self.hold_new_email(actor_ref, &current, change);
                if let Some(armed) = &armed {
                    self.disarm(repo, armed)?;
                }
                let user = if change.is_empty() && endpoint.is_none() && prepared.is_none() {
                    // Only an address to verify: the user's row stays as it is.
                    if expected.or(decided).is_some_and(|v| v != current.version) {
                        return Err(ServiceError::PreconditionFailed);
                    }
                    current
                } else {
                    repo.update_profile(target.key, expected.or(decided), &change, now)?
                };
                self.forget_links_if_address_changed(repo, user.key, &change)?;
                if let Some(endpoint) = &endpoint {
                    repo.set_endpoint(user.key, endpoint.as_ref())?;
                }
                let mut touched: Vec<String> = change.fields().iter().map(|f| f.wire_name().to_owned()).collect();
                if endpoint.is_some() {
                    touched.push("endpoint".into());
                }
                if !touched.is_empty() {
                    let event = self.audit_event(
                        Some(actor),
                        Some(user.key),
                        AuditAction::ProfileUpdate,
                        touched,
                        AuditOutcome::Success,
                        ctx,
                    );
                    self.record(repo, &event)?;
                }
                if let Some(prepared) = &prepared {
                    self.apply_password(repo, actor_ref, &user, prepared, ctx)?;
                }
                // After the password: a password change ends a pending change of address.
                if let Some(new) = &held {
                    self.ask_email_change(repo, actor_ref, &user, new, ctx)?;
                }
                let endpoint = repo.endpoint(user.key)?;
                Ok(UserDetails { user, endpoint })
            })
            .map_err(input_reference);
        if let Err(err) = &written {
            if let Some(armed) = armed {
                self.realign_now(armed, err);
            }
            if password_upstream {
                self.report_upstream_password_divergence(&target, err);
            }
        }
        let details = written?;
        if prepared.is_some() {
            self.forget_basic(target.key);
        }
        Ok(details)
    }

    /// `DELETE …/users/{user_id}/`: deletes the user and, with `delete_devices`, the devices they
    /// own; 200 with an empty report for a user that is not there (in scope).
    #[tracing::instrument(skip_all, fields(user = %member.user))]
    pub fn delete_user(
        &self,
        actor: &Principal,
        member: &GroupMember,
        expected: Option<Version>,
        options: &DeleteOptions,
        ctx: &RequestContext,
    ) -> ServiceResult<DeleteOutcome> {
        if expected.is_none() && self.config.apio.require_if_match {
            return Err(ServiceError::PreconditionRequired);
        }
        self.require_group_scope(actor, member)?;
        let Some(target) = self.store.read(|repo| repo.user_by_path(member))? else {
            return Ok(DeleteOutcome::default());
        };
        let result = require(access::authorize(&actor.user, Action::Delete, &target))
            .and_then(|()| self.delete_addressed_user(actor, member, &target, expected, options, ctx));
        self.audit_refusal(
            &result,
            Actor::Caller(actor),
            Some(target.key),
            AuditAction::UserDelete,
            vec![],
            ctx,
        );
        if result.is_ok() {
            self.forget_basic(target.key);
        }
        result
    }

    /// [`Services::delete_user`] once `target` is known and the caller may delete it: under the
    /// user's claim when the login mode sends the delete to the Application Server, which is called
    /// first, outside any transaction; then the local delete, on the version decided on.
    fn delete_addressed_user(
        &self,
        actor: &Principal,
        member: &GroupMember,
        target: &User,
        expected: Option<Version>,
        options: &DeleteOptions,
        ctx: &RequestContext,
    ) -> ServiceResult<DeleteOutcome> {
        let how = dispatch(
            self.config.apio.login_mode,
            Operation::DeleteUser,
            self.config.apio.update_profile_to_bs_db_sso,
        );
        let _claim = self.claim_user_if(how.write_upstream, target.key)?;
        let decided = if how.write_upstream {
            // Read again under the claim; gone meanwhile is the seed's 200 with an empty report.
            let Some(fresh) = self.store.read(|repo| repo.user_by_key(target.key))? else {
                return Ok(DeleteOutcome::default());
            };
            if expected.is_some_and(|v| v != fresh.version) {
                return Err(ServiceError::PreconditionFailed);
            }
            self.upstream.delete_user(&fresh, options.delete_devices)?;
            Some(fresh.version)
        } else {
            None
        };
        let written = self.store.write(|repo| {
            let outcome = repo.delete_user(member, expected.or(decided), options)?;
            let event = self.audit_event(
                Some(actor),
                Some(target.key),
                AuditAction::UserDelete,
                vec![],
                AuditOutcome::Success,
                ctx,
            );
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(outcome)
        });
        if decided.is_some()
            && let Err(err) = &written
        {
            // A deleted AS user can't be recreated from here (its password is not known): a
            // divergence for an operator.
            self.record_divergence(
                target.key,
                DIVERGED_DELETE,
                &format!(
                    "the local delete failed ({err}) after the Application Server deleted the user: the user exists \
                     only locally"
                ),
            );
        }
        written
    }

    /// `POST /api/v1/tenants/{t}/groups/{g}/users/`: creates a user of this group.
    pub fn create_group_user(
        &self,
        actor: &Principal,
        request: &NewGroupUser,
        endpoint: Option<&Endpoint>,
        password: &Password,
        ctx: &RequestContext,
    ) -> ServiceResult<UserDetails> {
        let member = &request.member;
        if !access::may_manage_group(&actor.user.role, &member.tenant, &member.group) {
            return Err(ServiceError::Forbidden("outside the caller's scope"));
        }
        let role = request.role()?;
        let new = NewUser::new(
            self.new_uuid(),
            request.username.clone(),
            role,
            NewProfile {
                profile: request.profile.clone(),
                department: request.department.clone(),
            },
        );
        let department = match &new.profile.department {
            Some(key) => Some(
                self.store
                    .read(|repo| repo.department(key))?
                    .ok_or(ServiceError::Invalid(vec![InvalidValue::new(
                        "department",
                        Problem::Format("an existing department of this group"),
                    )]))?,
            ),
            None => None,
        };
        if !access::may_create(&actor.user, &new.role, department.as_ref()) {
            return Err(ServiceError::Forbidden("outside the caller's scope"));
        }
        let user = self
            .create_user(Actor::Caller(actor), &new, password, ctx)
            .map_err(input_reference)?;
        if let Some(endpoint) = endpoint {
            // A bad endpoint leaves no half-made user behind.
            let set = self
                .store
                .write(|repo| repo.set_endpoint(user.key, Some(endpoint)).map_err(ServiceError::from));
            if let Err(err) = set {
                let cleanup = self
                    .store
                    .write(|repo| repo.delete_user(member, None, &DeleteOptions::default()));
                if let Err(cleanup_err) = cleanup {
                    tracing::error!(error = %cleanup_err, "could not remove a user whose endpoint failed");
                }
                return Err(input_reference(err));
            }
        }
        self.details(user)
    }

    /// `GET /api/v1/tenants/{t}/groups/{g}/users/`: a page of the group's users that the caller may
    /// see (a department admin sees their departments' users).
    pub fn list_group_users(
        &self,
        actor: &Principal,
        tenant: &TenantId,
        group: &GroupId,
        page: PageRequest,
    ) -> ServiceResult<Page<User>> {
        if !access::may_manage_group(&actor.user.role, tenant, group) {
            return Err(ServiceError::Forbidden("outside the caller's scope"));
        }
        let exists = self.store.read(|repo| repo.group(tenant, group))?.is_some();
        if !exists {
            return Err(ServiceError::NotFound("group"));
        }
        let mut listed = self.store.read(|repo| repo.list_group_users(tenant, group, page))?;
        listed
            .items
            .retain(|u| u.key == actor.user.key || access::in_scope(&actor.user, u));
        Ok(listed)
    }
}
