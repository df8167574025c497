//! accountd's own self-service API, which the account page (`/account/`) is built on and no anchor
//! offers in this form: the caller's profile in one resource, the effective password and PIN
//! policy (listed, and a candidate checked without storing it), and the caller's sessions.
//! Everything is about the caller; nothing here addresses another user.

use crate::apio::users::{nullable, user_path};
use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::responses as problem;
use crate::error::{ApiError, Collect, FieldError, both};
use crate::json::Json;
use crate::secret::Secret;
use crate::{AppState, resource};
use accountd_domain::ports::Store;
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::text::{EmailAddress, Language, Name, PhoneNumber, TimeZoneName};
use accountd_domain::user::{ProfileChange, Timestamp, User};
use accountd_policy::access;
use accountd_service::profile::Actor;
use accountd_service::selfservice::{Check, OwnSession, Verdict};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PROFILE: &str = "/api/v1/session/profile/";
pub const PASSWORD_POLICY: &str = "/api/v1/session/password_policy/";
pub const PINCODE_POLICY: &str = "/api/v1/session/pincode_policy/";
pub const SESSIONS: &str = "/api/v1/session/sessions/";
pub const SESSION: &str = "/api/v1/session/sessions/{id}/";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(PROFILE)
            .route(web::get().to(get_profile::<S>))
            .route(web::put().to(put_profile::<S>)),
    )
    .service(
        resource(PASSWORD_POLICY)
            .route(web::get().to(get_password_policy::<S>))
            .route(web::post().to(check_password::<S>)),
    )
    .service(
        resource(PINCODE_POLICY)
            .route(web::get().to(get_pincode_policy::<S>))
            .route(web::post().to(check_pincode::<S>)),
    )
    .service(
        resource(SESSIONS)
            .route(web::get().to(list_sessions::<S>))
            .route(web::delete().to(end_other_sessions::<S>)),
    )
    .service(resource(SESSION).route(web::delete().to(end_session::<S>)));
}

/// A 200 with `body` as JSON. Answers are about one person and may change any moment: never
/// cached, as every API answer ([`crate::headers`]).
fn private_json<T: Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

// ---------------------------------------------------------------------------------------------
// Profile

/// The profile members the account page edits, and which of them the caller may change.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfProfile {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email_address: Option<String>,
    /// The telephony number; assigned by administrators (only System users change their own).
    pub phone_number: String,
    pub mobile: String,
    pub language: Option<String>,
    /// An IANA time zone (`Europe/Brussels`).
    pub time_zone: Option<String>,
    /// The members of this resource the caller may change.
    pub editable: Vec<String>,
}

/// The members of [`SelfProfile`] that can be written, with their domain field.
const MEMBERS: [(&str, accountd_domain::user::ProfileField); 7] = {
    use accountd_domain::user::ProfileField as F;
    [
        ("firstName", F::FirstName),
        ("lastName", F::LastName),
        ("emailAddress", F::EmailAddress),
        ("phoneNumber", F::PhoneNumber),
        ("mobile", F::Mobile),
        ("language", F::Language),
        ("timeZone", F::TimeZone),
    ]
};

impl SelfProfile {
    pub fn of(user: &User) -> Self {
        let p = &user.profile;
        let editable = MEMBERS
            .iter()
            .filter(|(_, field)| access::forbidden_fields(user, user, &[*field]).is_empty())
            .map(|(name, _)| (*name).to_owned())
            .collect();
        Self {
            username: user.username.to_string(),
            first_name: p.first_name.to_string(),
            last_name: p.last_name.to_string(),
            email_address: p.email.as_ref().map(ToString::to_string),
            phone_number: p.phone_number.to_string(),
            mobile: p.mobile.to_string(),
            language: p.language.as_ref().map(ToString::to_string),
            time_zone: p.time_zone.as_ref().map(ToString::to_string),
            editable,
        }
    }
}

/// `PUT /api/v1/session/profile/`: any subset of the members. `null` or `""` clears `emailAddress`,
/// `language`, `timeZone` and `mobile`; a value equal to the current one changes nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelfProfileUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: Option<Option<String>>,
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub language: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub time_zone: Option<Option<String>>,
}

/// `Some(new)` only when `new` differs from `current`.
fn changed<T: PartialEq>(new: Option<T>, current: &T) -> Option<T> {
    new.filter(|v| v != current)
}

/// An optional member: absent keeps, `null` or `""` clears, anything else is parsed.
fn optional<T>(
    invalid: &mut Collect,
    value: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<T, accountd_domain::InvalidValue>,
) -> Option<Option<T>> {
    match value? {
        None => Some(None),
        Some(v) if v.is_empty() => Some(None),
        Some(v) => invalid.take(parse(v)).map(Some),
    }
}

impl SelfProfileUpdate {
    /// The change against `user`'s profile, or every invalid value at once.
    fn into_change(self, user: &User) -> Result<ProfileChange, ApiError> {
        let p = &user.profile;
        let mut invalid = Collect::default();
        let first_name = self
            .first_name
            .and_then(|v| invalid.take(Name::parse_for("firstName", v)));
        let last_name = self
            .last_name
            .and_then(|v| invalid.take(Name::parse_for("lastName", v)));
        let email = optional(&mut invalid, self.email_address, |v| {
            EmailAddress::parse_for("emailAddress", v)
        });
        let phone_number = self
            .phone_number
            .and_then(|v| invalid.take(PhoneNumber::parse_for("phoneNumber", v)));
        let mobile = optional(&mut invalid, self.mobile, |v| PhoneNumber::parse_for("mobile", v))
            .map(|m| m.unwrap_or_else(PhoneNumber::empty));
        let language = optional(&mut invalid, self.language, |v| Language::parse_for("language", v));
        let time_zone = optional(&mut invalid, self.time_zone, |v| TimeZoneName::parse_for("timeZone", v));
        invalid.finish()?;
        Ok(ProfileChange {
            first_name: changed(first_name, &p.first_name),
            last_name: changed(last_name, &p.last_name),
            email: changed(email, &p.email),
            phone_number: changed(phone_number, &p.phone_number),
            mobile: changed(mobile, &p.mobile),
            language: changed(language, &p.language),
            time_zone: changed(time_zone, &p.time_zone),
            ..ProfileChange::default()
        })
    }
}

#[utoipa::path(get, path = "/api/v1/session/profile/", tag = "account", operation_id = "account_get_profile",
    summary = "The caller's profile, as the account page edits it",
    responses(
        (status = 200, description = "The caller's profile and the members they may change", body = SelfProfile),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_profile<S: Store>(caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    Ok(private_json(&SelfProfile::of(&caller.principal.user)))
}

#[utoipa::path(put, path = "/api/v1/session/profile/", tag = "account", operation_id = "account_put_profile",
    summary = "Change the caller's names, email address, mobile, language or time zone",
    request_body(content = SelfProfileUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated profile", body = SelfProfile),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn put_profile<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<SelfProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let change = body.into_inner().into_change(&principal.user)?;
    let services = state.services.clone();
    let updated =
        blocking(move || services.update_profile(Actor::Caller(&principal), principal.user.key, None, &change, &ctx))
            .await?;
    Ok(private_json(&SelfProfile::of(&updated)))
}

// ---------------------------------------------------------------------------------------------
// Policies

/// A rule of the policy: its stable code (as in `errors[].code`) and the requirement in English.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub code: &'static str,
    pub message: String,
}

impl From<Check> for RuleView {
    fn from(c: Check) -> Self {
        Self {
            code: c.code,
            message: c.message,
        }
    }
}

/// A rule judged against a candidate. `passed` is `null` when the rule was not checked: reuse is
/// checked only once every other rule passes and the current secret is given.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub code: &'static str,
    pub message: String,
    pub passed: Option<bool>,
}

/// The verdict on a candidate: valid when no checked rule failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictView {
    pub valid: bool,
    pub checks: Vec<CheckView>,
    /// Every broken rule, as a refused change would list them.
    pub errors: Vec<FieldError>,
}

impl From<Verdict> for VerdictView {
    fn from(v: Verdict) -> Self {
        Self {
            valid: v.is_valid(),
            errors: v.violations.iter().map(FieldError::from).collect(),
            checks: v
                .checks
                .into_iter()
                .map(|c| CheckView {
                    code: c.code,
                    message: c.message,
                    passed: c.passed,
                })
                .collect(),
        }
    }
}

/// The effective password rules (the strictest of accountd's baseline, the local or Application
/// Server rules and, for end users, `MINIMUM_PASSWORD_RULES.END_USER`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRulesView {
    pub min_length: u16,
    pub max_length: u16,
    pub min_uppercase: u16,
    pub min_lowercase: u16,
    pub min_digits: u16,
    /// Characters that are neither letters nor digits.
    pub min_special: u16,
    pub forbid_username: bool,
    /// Earlier passwords refused besides the current one.
    pub history: u8,
    pub forbid_common: bool,
}

impl From<PasswordRules> for PasswordRulesView {
    fn from(r: PasswordRules) -> Self {
        Self {
            min_length: r.min_length,
            max_length: r.max_length,
            min_uppercase: r.min_uppercase,
            min_lowercase: r.min_lowercase,
            min_digits: r.min_digits,
            min_special: r.min_special,
            forbid_username: r.forbid_username,
            history: r.history,
            forbid_common: r.forbid_common,
        }
    }
}

/// The caller's password policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordPolicyView {
    pub rules: PasswordRulesView,
    /// Every rule that applies, in the order candidates are checked.
    pub checks: Vec<RuleView>,
}

/// A candidate password.
// The passwords are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PasswordCandidate {
    #[schema(value_type = String, min_length = 1)]
    new_password: Secret<Password>,
    /// The current password: when given (and right), reuse of it and the earlier ones is checked
    /// too. A wrong one counts as a failed login.
    #[schema(value_type = Option<String>, min_length = 1)]
    old_password: Option<Secret<Password>>,
}

#[utoipa::path(get, path = "/api/v1/session/password_policy/", tag = "account", operation_id = "account_get_password_policy",
    summary = "The password rules in force for the caller",
    responses(
        (status = 200, description = "The rules, and each check a candidate goes through", body = PasswordPolicyView),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_password_policy<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let policy = blocking(move || services.password_policy(&caller.principal)).await?;
    Ok(private_json(&PasswordPolicyView {
        rules: policy.rules.into(),
        checks: policy.checks.into_iter().map(RuleView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/session/password_policy/", tag = "account", operation_id = "account_check_password",
    summary = "Check a candidate password against the caller's policy, without storing it",
    description = "Lists every rule with its outcome. Throttled per account (429 with Retry-After); the candidate is never logged. Give `oldPassword` to have reuse checked too.",
    request_body(content = PasswordCandidate, content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict (also when the candidate breaks rules)", body = VerdictView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn check_password<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<PasswordCandidate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = body.new_password.named("newPassword");
    let old = body.old_password.map(|o| o.named("oldPassword")).transpose();
    let (new, old) = both(new, old)?;
    let services = state.services.clone();
    let verdict =
        blocking(move || services.check_password_candidate(&caller.principal, &new, old.as_ref(), &ctx)).await?;
    Ok(private_json(&VerdictView::from(verdict)))
}

/// The effective PIN rules (BroadWorks' passcode rules).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinRulesView {
    pub min_length: u8,
    pub max_length: u8,
    pub max_repeated_digits: Option<u8>,
    pub max_ascending_run: Option<u8>,
    pub max_descending_run: Option<u8>,
    pub forbid_repeated_patterns: bool,
    pub forbid_user_number: bool,
    pub forbid_reversed_user_number: bool,
    pub history: u8,
    pub forbid_reversed_old: bool,
    pub expiry_days: Option<u16>,
    pub max_failed_attempts: Option<u8>,
}

impl From<PinRules> for PinRulesView {
    fn from(r: PinRules) -> Self {
        Self {
            min_length: r.min_length,
            max_length: r.max_length,
            max_repeated_digits: r.max_repeated_digits,
            max_ascending_run: r.max_ascending_run,
            max_descending_run: r.max_descending_run,
            forbid_repeated_patterns: r.forbid_repeated_patterns,
            forbid_user_number: r.forbid_user_number,
            forbid_reversed_user_number: r.forbid_reversed_user_number,
            history: r.history,
            forbid_reversed_old: r.forbid_reversed_old,
            expiry_days: r.expiry_days,
            max_failed_attempts: r.max_failed_attempts,
        }
    }
}

/// The caller's PIN policy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinPolicyView {
    /// Whether the caller has a PIN code at all (group members do).
    pub applies: bool,
    /// Where the caller changes their PIN (seed 001's pincode resource); `null` when none applies.
    pub resource: Option<String>,
    /// A PIN is set: changing it needs `oldPinCode`.
    pub has_pin: bool,
    /// `null` when PINs are not checked by accountd (`VALIDATE_PINCODE_LOCALLY` off).
    pub rules: Option<PinRulesView>,
    pub checks: Vec<RuleView>,
}

/// A candidate PIN.
// The PINs are `Secret`s: `Debug` doesn't show them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PinCandidate {
    #[schema(value_type = String, pattern = "^[0-9]{1,64}$")]
    pin_code: Secret<PinCode>,
    /// The current PIN: when given (and right), reuse and the reversed PIN are checked too.
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,64}$")]
    old_pin_code: Option<Secret<PinCode>>,
}

#[utoipa::path(get, path = "/api/v1/session/pincode_policy/", tag = "account", operation_id = "account_get_pincode_policy",
    summary = "The PIN rules in force for the caller, and where to change the PIN",
    responses(
        (status = 200, description = "The PIN policy", body = PinPolicyView),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_pincode_policy<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let policy = blocking(move || services.pin_policy(&caller.principal)).await?;
    Ok(private_json(&PinPolicyView {
        applies: policy.member.is_some(),
        resource: policy.member.map(|m| format!("{}pincode/", user_path(&m))),
        has_pin: policy.has_pin,
        rules: policy.rules.map(PinRulesView::from),
        checks: policy.checks.into_iter().map(RuleView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/session/pincode_policy/", tag = "account", operation_id = "account_check_pincode",
    summary = "Check a candidate PIN against the caller's policy, without storing it",
    description = "Lists every rule with its outcome. Throttled per account (429 with Retry-After); the candidate is never logged. Give `oldPinCode` to have reuse checked too.",
    request_body(content = PinCandidate, content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict (also when the candidate breaks rules)", body = VerdictView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::Throttled,
    ))]
pub(crate) async fn check_pincode<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<PinCandidate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = body.pin_code.named("pinCode");
    let old = body.old_pin_code.map(|p| p.named("oldPinCode")).transpose();
    let (new, old) = both(new, old)?;
    let services = state.services.clone();
    let verdict = blocking(move || services.check_pin_candidate(&caller.principal, &new, old.as_ref(), &ctx)).await?;
    Ok(private_json(&VerdictView::from(verdict)))
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// Where a session was opened from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// One of the caller's sessions. Times are RFC 3339, UTC.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// The session's public handle (not its secret).
    pub id: i64,
    /// The session this request came with.
    pub current: bool,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub client: ClientView,
}

/// The caller's sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ended {
    pub ended: u64,
}

pub(crate) fn rfc3339(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl From<OwnSession> for SessionView {
    fn from(s: OwnSession) -> Self {
        Self {
            id: s.session.id,
            current: s.current,
            created_at: rfc3339(s.session.created_at),
            last_seen_at: rfc3339(s.session.last_seen_at),
            expires_at: rfc3339(s.session.expires_at),
            client: ClientView {
                address: s.session.client.address,
                user_agent: s.session.client.user_agent,
            },
        }
    }
}

#[utoipa::path(get, path = "/api/v1/session/sessions/", tag = "account", operation_id = "account_list_sessions",
    summary = "The caller's active sessions",
    responses(
        (status = 200, description = "The sessions, newest first", body = SessionList),
        problem::Unauthenticated,
    ))]
pub(crate) async fn list_sessions<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let sessions = blocking(move || services.own_sessions(&caller.principal)).await?;
    Ok(private_json(&SessionList {
        sessions: sessions.into_iter().map(SessionView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/session/sessions/", tag = "account", operation_id = "account_end_other_sessions",
    summary = "Sign out every other session of the caller",
    description = "Ends every session of the caller but the one this request comes with (with Basic or Bearer authentication: every session).",
    responses(
        (status = 200, description = "How many sessions ended", body = Ended),
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn end_other_sessions<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let ended = blocking(move || services.end_other_sessions(&caller.principal, &ctx)).await?;
    Ok(private_json(&Ended { ended }))
}

#[utoipa::path(delete, path = "/api/v1/session/sessions/{id}/", tag = "account", operation_id = "account_end_session",
    summary = "Sign out one of the caller's sessions",
    params(("id" = i64, Path, description = "The session's id, from the list")),
    responses(
        (status = 204, description = "The session ended"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn end_session<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = numeric_id(&path.into_inner(), "session")?;
    let services = state.services.clone();
    blocking(move || services.end_own_session(&caller.principal, id, &ctx)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The numeric `{id}` of a path naming one of the caller's `what` (a session, a passkey).
pub(crate) fn numeric_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::BadRequest {
        details: format!("The {what} id must be a number."),
        errors: vec![FieldError {
            field: "id".into(),
            code: "invalid_format".into(),
            message: "id must be a number".into(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(Timestamp::from_millis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Timestamp::from_millis(1_764_633_600_000)),
            "2025-12-02T00:00:00Z"
        );
    }

    #[test]
    fn candidates_do_not_debug_secrets() {
        let password: PasswordCandidate =
            serde_json::from_str(r#"{"newPassword": "New-Secret-2!", "oldPassword": "Old-Secret-1!"}"#).unwrap();
        let pin: PinCandidate = serde_json::from_str(r#"{"pinCode": "918273", "oldPinCode": "564738"}"#).unwrap();
        let debug = format!("{password:?} {pin:?}");
        for secret in ["New-Secret", "Old-Secret", "918273", "564738"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert_eq!(
            password.new_password.named("newPassword").unwrap().expose(),
            "New-Secret-2!"
        );
        assert_eq!(pin.pin_code.named("pinCode").unwrap().expose(), "918273");
        // A refused PIN keeps its member's name.
        let pin: PinCandidate = serde_json::from_str(r#"{"pinCode": "12a4"}"#).unwrap();
        assert_eq!(pin.pin_code.named("pinCode").unwrap_err().field, "pinCode");
    }
}
