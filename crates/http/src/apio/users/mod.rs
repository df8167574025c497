//! The APIO user resource of seed 001: `GET/PUT/DELETE /api/v1/tenants/{t}/groups/{g}/users/{u}/`,
//! its `pincode/`, and what administrators expect beside it: `POST` (create) and `GET` (list, by
//! pages) on `/api/v1/tenants/{t}/groups/{g}/users/`. Bodies follow the seed field for field.
//!
//! Request bodies are in `requests` (read and validated into the service's types), the
//! representations sent back in `views`; this module has the routes and the handlers.

use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::responses as problem;
use crate::error::{ApiError, Collect};
use crate::json::Json;
use crate::{AppState, resource};
use accountd_domain::ids::{AppId, DepartmentName, GroupId, TenantId, UserId, UserKey, Username};
use accountd_domain::level::GroupMember;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{DeleteOptions, PageRequest, Store};
use accountd_domain::text::Name;
use accountd_domain::user::{Profile, Version};
use accountd_domain::{InvalidValue, Problem};
use accountd_service::pincode::PinUpdate;
use accountd_service::users::{NewGroupUser, UserDetails};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

mod requests;
mod views;

pub use requests::*;
pub use views::*;

pub const USERS: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/";
pub const USER: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/";
/// What the path's ids accept (besides `.` and `..`): no control character, slash or backslash, no
/// surrounding white space. The OpenAPI document gives it to every `*_id` path parameter.
pub const IDENTIFIER: &str = r"^[^\s/\\\x00-\x1f\x7f-\x9f]([^/\\\x00-\x1f\x7f-\x9f]*[^\s/\\\x00-\x1f\x7f-\x9f])?$";

pub const PINCODE: &str = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/";

/// The path of a group member's [`USER`] resource, each id percent-encoded.
pub(crate) fn user_path(member: &GroupMember) -> String {
    format!(
        "/api/v1/tenants/{}/groups/{}/users/{}/",
        segment(member.tenant.as_str()),
        segment(member.group.as_str()),
        segment(member.user.as_str())
    )
}

/// A path segment, percent-encoded but for RFC 3986's unreserved characters and `@`.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(USERS)
            .route(web::get().to(list::<S>))
            .route(web::post().to(create::<S>)),
    )
    .service(
        resource(USER)
            .route(web::get().to(get::<S>))
            .route(web::put().to(put::<S>))
            .route(web::delete().to(delete::<S>)),
    )
    .service(
        resource(PINCODE)
            .route(web::get().to(get_pin::<S>))
            .route(web::put().to(put_pin::<S>)),
    );
}

pub(crate) fn member_of(path: (String, String, String)) -> Result<GroupMember, ApiError> {
    let mut invalid = Collect::default();
    let tenant = invalid.take(TenantId::parse(path.0));
    let group = invalid.take(GroupId::parse(path.1));
    let user = invalid.take(UserId::parse(path.2));
    invalid.finish()?;
    match (tenant, group, user) {
        (Some(tenant), Some(group), Some(user)) => Ok(GroupMember { tenant, group, user }),
        _ => Err(ApiError::BadRequest {
            details: "Invalid path.".into(),
            errors: vec![],
        }),
    }
}

fn group_of(path: (String, String)) -> Result<(TenantId, GroupId), ApiError> {
    let mut invalid = Collect::default();
    let tenant = invalid.take(TenantId::parse(path.0));
    let group = invalid.take(GroupId::parse(path.1));
    invalid.finish()?;
    tenant.zip(group).ok_or(ApiError::BadRequest {
        details: "Invalid path.".into(),
        errors: vec![],
    })
}

/// `If-Match`: `None` without one or with `*`; a strong `"<version>"` else. Anything else can never
/// match (a weak tag, garbage): 412.
fn if_match(req: &HttpRequest) -> Result<Option<Version>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(|v| Some(Version(v)))
        .ok_or_else(|| {
            ApiError::invalid(vec![InvalidValue::new(
                "If-Match",
                Problem::Format("\"<version>\" (the ETag) or *"),
            )])
        })
}

fn etag(version: Version) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

fn with_user(status: actix_web::http::StatusCode, details: &UserDetails) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(etag(details.user.version))
        .json(UserView::of(details))
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_get_user",
    summary = "A user of a group",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    responses(
        (status = 200, description = "The user; its version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn get<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let details = blocking(move || services.get_user(&caller.principal, &member)).await?;
    Ok(with_user(actix_web::http::StatusCode::OK, &details))
}

#[utoipa::path(put, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_put_user",
    summary = "Change a user's profile, endpoint or password",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"` from the ETag, or `*`; a stale version is 412"),
    ),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated user; its new version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
        problem::PreconditionFailed,
        problem::PreconditionRequired,
    ))]
pub(crate) async fn put<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Json<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let expected = if_match(&req)?;
    let update = body.into_inner().into_update()?;
    let services = state.services.clone();
    let details = blocking(move || services.update_user(&caller.principal, &member, expected, &update, &ctx)).await?;
    Ok(with_user(actix_web::http::StatusCode::OK, &details))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/", tag = "apio", operation_id = "apio_delete_user",
    summary = "Delete a user (and, by default, its devices)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"` from the ETag, or `*`; a stale version is 412"),
        ("delete_devices" = Option<bool>, Query, description = "Also delete the user's devices"),
        ("_excludedAppIds" = Option<String>, Query, description = "Comma-separated app ids to keep"),
    ),
    request_body(content = DeleteBody, content_type = "application/json", description = "Optional; the same options may be given in the query string"),
    responses(
        (status = 200, description = "What was deleted or detached besides the user", body = DeleteReport),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::PreconditionFailed,
        problem::UnsupportedMediaType,
    ))]
pub(crate) async fn delete<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::bytes(body, state.config.max_body_bytes)?;
    let member = member_of(path.into_inner())?;
    let from_query = delete_query(req.query_string())?;
    let from_body: DeleteBody = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteBody::default()
    } else {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "A DELETE body must be JSON (Content-Type: application/json).".into(),
            ));
        }
        crate::json::from_object(&body)?
    };
    let mut invalid = Collect::default();
    let excluded: Vec<AppId> = from_body
        .excluded_app_ids
        .into_iter()
        .chain(from_query.excluded_app_ids)
        .flatten()
        .filter_map(|id| invalid.take(AppId::parse(id).map_err(|e| e.renamed("_excludedAppIds"))))
        .collect();
    invalid.finish()?;
    let expected = if_match(&req)?;
    let options = DeleteOptions {
        delete_devices: from_body
            .delete_devices
            .or(from_query.delete_devices)
            .unwrap_or(state.services.config().apio.delete_user_devices),
        excluded_app_ids: excluded,
    };
    let services = state.services.clone();
    let outcome = blocking(move || services.delete_user(&caller.principal, &member, expected, &options, &ctx)).await?;
    Ok(HttpResponse::Ok().json(DeleteReport::from(&outcome)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/", tag = "apio", operation_id = "apio_get_pincode",
    summary = "A user's PIN settings (never the PIN)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    responses(
        (status = 200, description = "The PIN settings", body = PinView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn get_pin<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let services = state.services.clone();
    let settings = blocking(move || services.get_pin(&caller.principal, &member)).await?;
    Ok(HttpResponse::Ok().json(PinView::from(settings)))
}

#[utoipa::path(put, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/{user_id}/pincode/", tag = "apio", operation_id = "apio_put_pincode",
    summary = "Change a user's PIN or PIN settings",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ("user_id" = String, Path, description = "User id", example = "foouser", max_length = 161),
    ),
    request_body(content = PinBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated PIN settings", body = PinView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn put_pin<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    path: web::Path<(String, String, String)>,
    body: Json<PinBody>,
) -> Result<HttpResponse, ApiError> {
    let member = member_of(path.into_inner())?;
    let body = body.into_inner();
    let mut invalid = Collect::default();
    let update = PinUpdate {
        pin: body.pin_code.and_then(|p| invalid.take(p.named("pinCode"))),
        old_pin: body.old_pin_code.and_then(|p| invalid.take(p.named("oldPinCode"))),
        login_disabled: body.login_disabled,
        expiration_days: body.expiration_days,
        does_not_expire: body.does_not_expire,
    };
    if let Some(days) = update.expiration_days {
        invalid.take(PinSettings::new(false, days, false));
    }
    invalid.finish()?;
    let services = state.services.clone();
    let settings = blocking(move || services.update_pin(&caller.principal, &member, &update, &ctx)).await?;
    Ok(HttpResponse::Ok().json(PinView::from(settings)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/", tag = "apio", operation_id = "apio_list_users",
    summary = "The users of a group, by pages (the next page's link in `Link: rel=next`)",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
        ListQuery,
    ),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
    ))]
pub(crate) async fn list<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, group) = group_of(path.into_inner())?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(vec![InvalidValue::new(
            "limit",
            Problem::OutOfRange {
                min: 1,
                max: i64::from(MAX_PAGE),
            },
        )]));
    }
    let page = PageRequest {
        after: query.after.map(UserKey),
        limit,
    };
    let services = state.services.clone();
    let listed = blocking(move || services.list_group_users(&caller.principal, &tenant, &group, page)).await?;
    let next = listed.next_after.map(|k| k.0);
    let mut response = HttpResponse::Ok();
    if let Some(next) = next {
        response.insert_header((
            header::LINK,
            format!("<{}?limit={limit}&after={next}>; rel=\"next\"", req.path()),
        ));
    }
    Ok(response.json(UserPage {
        users: listed.items.iter().filter_map(summary).collect(),
        next,
    }))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/groups/{group_id}/users/", tag = "apio", operation_id = "apio_create_user",
    summary = "Create a user in a group",
    params(
        ("tenant_id" = String, Path, description = "Tenant id", example = "ApioSpTest", max_length = 30),
        ("group_id" = String, Path, description = "Group id", example = "ApioGrpTest", max_length = 30),
    ),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; its URL in Location and version in ETag", body = UserView),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
    ))]
pub(crate) async fn create<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, group) = group_of(path.into_inner())?;
    let body = body.into_inner();
    let mut invalid = Collect::default();
    let user_id = invalid.take(UserId::parse(body.user_id.clone()));
    let username = invalid.take(Username::parse(body.username.unwrap_or(body.user_id)));
    let password = invalid.take(body.password.named("password"));
    let first = body
        .profile
        .first_name
        .clone()
        .and_then(|v| invalid.take(Name::parse_for("firstName", v)));
    let last = body
        .profile
        .last_name
        .clone()
        .and_then(|v| invalid.take(Name::parse_for("lastName", v)));
    if body.profile.first_name.is_none() {
        invalid.take::<()>(Err(InvalidValue::new("firstName", Problem::Empty)));
    }
    if body.profile.last_name.is_none() {
        invalid.take::<()>(Err(InvalidValue::new("lastName", Problem::Empty)));
    }
    let administered = body
        .administered_department
        .map(|d| invalid.take(DepartmentName::parse(d).map_err(|e| e.renamed("administeredDepartment"))));
    let level = body.user_level.unwrap_or(0);
    let (change, endpoint) = body.profile.into_change(&mut invalid);
    invalid.finish()?;
    let (Some(user_id), Some(username), Some(password), Some(first), Some(last)) =
        (user_id, username, password, first, last)
    else {
        return Err(ApiError::BadRequest {
            details: "Invalid body.".into(),
            errors: vec![],
        });
    };
    let mut profile = Profile::named(first, last);
    change.apply_except_department(&mut profile);
    let request = NewGroupUser {
        member: GroupMember {
            tenant,
            group,
            user: user_id,
        },
        username,
        level,
        administered_department: administered.flatten(),
        profile,
        department: change.department.flatten(),
    };
    let services = state.services.clone();
    let endpoint = endpoint.flatten();
    let details =
        blocking(move || services.create_group_user(&caller.principal, &request, endpoint.as_ref(), &password, &ctx))
            .await?;
    let location = details
        .user
        .role
        .member()
        .map(user_path)
        .unwrap_or_else(|| req.path().to_owned());
    let mut response = with_user(actix_web::http::StatusCode::CREATED, &details);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_service::ServiceError;

    #[test]
    fn both_endpoints_are_refused() {
        let body: UpdateBody = serde_json::from_str(
            r#"{"accessDeviceEndpoint": {"accessDevice": {"name": "D", "level": "Group"}, "linePort": "a@b"},
                "trunkEndpoint": {"trunkGroupDevice": {"name": "T", "level": "Group"}, "linePort": "c@d"}}"#,
        )
        .unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = body.into_update() else {
            panic!("accepted")
        };
        assert_eq!(errors[0].field, "accessDeviceEndpoint");
    }

    #[test]
    fn null_removes_the_endpoint_and_clears_optional_fields() {
        let body: UpdateBody =
            serde_json::from_str(r#"{"accessDeviceEndpoint": null, "language": null, "emailAddress": ""}"#).unwrap();
        let update = body.into_update().unwrap();
        assert_eq!(update.endpoint, Some(None));
        assert_eq!(update.profile.language, Some(None));
        assert_eq!(update.profile.email, Some(None));
        assert_eq!(update.profile.time_zone, None, "absent keeps");
    }

    #[test]
    fn every_invalid_member_is_reported() {
        let body: UpdateBody = serde_json::from_str(
            r#"{"firstName": "", "emailAddress": "nope", "timeZone": "Mars/../x", "oldPassword": "x",
                "department": {"tenantId": "a/b", "departmentName": ""}}"#,
        )
        .unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = body.into_update() else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        for f in [
            "firstName",
            "emailAddress",
            "timeZone",
            "newPassword",
            "department.tenantId",
            "department.departmentName",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn bodies_with_secrets_do_not_debug_them() {
        let update: UpdateBody = serde_json::from_str(
            r#"{"firstName": "Jo", "oldPassword": "Old-Secret-1!", "newPassword": "New-Secret-2!"}"#,
        )
        .unwrap();
        let create: CreateBody = serde_json::from_str(
            r#"{"userId": "newbie", "password": "Fresh-Secret-3!", "firstName": "A", "lastName": "B"}"#,
        )
        .unwrap();
        let pin: PinBody = serde_json::from_str(r#"{"pinCode": "918273", "oldPinCode": "564738"}"#).unwrap();
        let debug = format!("{update:?} {create:?} {pin:?}");
        assert!(debug.contains("Jo") && debug.contains("newbie"), "{debug}");
        for secret in ["Old-Secret", "New-Secret", "Fresh-Secret", "918273", "564738"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        // The values are there, for the conversion.
        let change = update.into_update().unwrap().password.unwrap();
        assert_eq!(change.new.expose(), "New-Secret-2!");
        assert_eq!(change.old.unwrap().expose(), "Old-Secret-1!");
        assert_eq!(create.password.named("password").unwrap().expose(), "Fresh-Secret-3!");
        assert_eq!(pin.pin_code.unwrap().named("pinCode").unwrap().expose(), "918273");
    }

    #[test]
    fn refused_secrets_are_named_by_their_members() {
        let update: UpdateBody = serde_json::from_str(r#"{"oldPassword": "", "newPassword": ""}"#).unwrap();
        let Err(ApiError::Service(ServiceError::Invalid(errors))) = update.into_update() else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["newPassword", "oldPassword"]);
        let pin: PinBody = serde_json::from_str(r#"{"pinCode": "12a4", "oldPinCode": "x"}"#).unwrap();
        assert_eq!(pin.pin_code.unwrap().named("pinCode").unwrap_err().field, "pinCode");
        assert_eq!(
            pin.old_pin_code.unwrap().named("oldPinCode").unwrap_err().field,
            "oldPinCode"
        );
    }

    #[test]
    fn unknown_members_are_refused() {
        assert!(serde_json::from_str::<UpdateBody>(r#"{"nickname": "x"}"#).is_err());
        assert!(serde_json::from_str::<UpdateBody>(r#"{"firstName": "x", "nickname": "x"}"#).is_err());
        assert!(serde_json::from_str::<CreateBody>(r#"{"userId": "u", "password": "p", "nickname": "x"}"#).is_err());
        assert!(
            serde_json::from_str::<UpdateBody>(r#"{"firstName": "x", "oldPassword": "a", "newPassword": "b"}"#).is_ok()
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("foouser"), "foouser");
        assert_eq!(
            segment("PieGroupAdmin1@sip.netaxis.be"),
            "PieGroupAdmin1@sip.netaxis.be"
        );
        assert_eq!(segment("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(segment("Jane+1%#ü"), "Jane%2B1%25%23%C3%BC");
        let member = GroupMember {
            tenant: TenantId::parse("Pie Corp").unwrap(),
            group: GroupId::parse("G#1").unwrap(),
            user: UserId::parse("jane doe@example.com").unwrap(),
        };
        assert_eq!(
            user_path(&member),
            "/api/v1/tenants/Pie%20Corp/groups/G%231/users/jane%20doe@example.com/"
        );
    }

    #[test]
    fn if_match_parsing() {
        let req = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((header::IF_MATCH, v))
                .to_http_request()
        };
        assert_eq!(if_match(&req("\"7\"")).unwrap(), Some(Version(7)));
        assert_eq!(if_match(&req("*")).unwrap(), None);
        assert!(if_match(&req("W/\"7\"")).is_err());
        assert!(if_match(&req("7")).is_err());
        assert_eq!(
            if_match(&actix_web::test::TestRequest::default().to_http_request()).unwrap(),
            None
        );
    }

    #[test]
    fn delete_query_forms() {
        let q = delete_query("delete_devices=false&_excludedAppIds=a,b&_excludedAppIds=c").unwrap();
        assert_eq!(q.delete_devices, Some(false));
        assert_eq!(q.excluded_app_ids.unwrap(), ["a", "b", "c"]);
        assert!(delete_query("delete_devices=maybe").is_err());
        assert!(delete_query("other=1").is_err());
    }
}
