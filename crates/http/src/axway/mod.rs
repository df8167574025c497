//! The Axway dialect: the API Portal's current user (seed 003). `GET`/`PUT
//! /api/portal/v1.3/currentuser/` read and change the caller as an Axway `User`;
//! `POST …/currentuser/changepassword` changes their password from a form.
//!
//! A `PUT` carries the whole `User` back (clients PUT what they GET): members whose value is the
//! current one are no change; changing a member the caller can't change about themself (`id`,
//! `organizationId`, `loginName`, `role`, `enabled`, `state`, `createdOn`, `type`, `authAttrs`, `dn`)
//! is 403 naming each one, and nothing is changed. How every member maps to the model is in
//! `docs/dialects.md`.
//!
//! Request bodies are in `requests`, the representation in `views`; this module has the routes
//! and the handlers.

use crate::auth::Caller;
use crate::context::{Ctx, blocking};
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::json::Json;
use crate::{AppState, resource};
use accountd_domain::ports::Store;
use accountd_service::ServiceError;
use accountd_service::profile::{Actor, read_only_members};

use actix_web::{HttpResponse, web};

mod requests;
mod views;

pub use requests::*;
pub use views::*;

pub const CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";
pub const CHANGE_PASSWORD: &str = "/api/portal/v1.3/currentuser/changepassword";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    // The seed's paths, and the same without (or with) the trailing slash, which clients vary on.
    for path in [CURRENT_USER, CURRENT_USER.trim_end_matches('/')] {
        cfg.service(
            resource(path)
                .route(web::get().to(get_current_user::<S>))
                .route(web::put().to(put_current_user::<S>)),
        );
    }
    for path in [CHANGE_PASSWORD.to_owned(), format!("{CHANGE_PASSWORD}/")] {
        cfg.service(resource(&path).route(web::post().to(change_password::<S>)));
    }
}

#[utoipa::path(get, path = "/api/portal/v1.3/currentuser/", tag = "axway", operation_id = "axway_get_current_user",
    summary = "The caller as an Axway portal User (also without the trailing slash)",
    responses(
        (status = 200, description = "The caller", body = AxwayUser),
        problem::Unauthenticated,
    ))]
pub(crate) async fn get_current_user<S: Store>(caller: Caller<S>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AxwayUser::of(&caller.principal.user)))
}

#[utoipa::path(put, path = "/api/portal/v1.3/currentuser/", tag = "axway", operation_id = "axway_put_current_user",
    summary = "Change the caller's name, email, mobile, description or image (also without the trailing slash)",
    request_body(content = AxwayUserUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated caller", body = AxwayUser),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn put_current_user<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    body: Json<AxwayUserUpdate>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let body = body.into_inner();
    let mut read_only = body.read_only_changes(&principal.user);
    let change = body.into_change(&principal.user)?;
    if !read_only.is_empty() {
        // Name every refused member at once: the account's, and the profile's by the one rule.
        read_only.extend(read_only_members(
            Actor::Caller(&principal),
            &principal.user,
            &change,
            None,
        ));
        return Err(ServiceError::ReadOnly(read_only.into_iter().map(axway_member).collect()).into());
    }
    let services = state.services.clone();
    let updated =
        blocking(move || services.update_profile(Actor::Caller(&principal), principal.user.key, None, &change, &ctx))
            .await
            .map_err(|err| match err {
                ApiError::Service(ServiceError::ReadOnly(fields)) => {
                    ServiceError::ReadOnly(fields.into_iter().map(axway_member).collect()).into()
                }
                other => other,
            })?;
    Ok(HttpResponse::Ok().json(AxwayUser::of(&updated)))
}

#[utoipa::path(post, path = "/api/portal/v1.3/currentuser/changepassword", tag = "axway", operation_id = "axway_change_password",
    summary = "Change the caller's password (also with a trailing slash)",
    request_body(content = ChangePasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 204, description = "Changed"),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
    ))]
pub(crate) async fn change_password<S: Store>(
    state: web::Data<AppState<S>>,
    caller: Caller<S>,
    Ctx(ctx): Ctx,
    form: web::Form<ChangePasswordForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let (old, new) = crate::error::both(
        password_field("oldPassword", form.old_password),
        password_field("newPassword", form.new_password),
    )?;
    let services = state.services.clone();
    let principal = caller.principal;
    blocking(move || services.change_password(Actor::Caller(&principal), principal.user.key, Some(&old), &new, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::ids::TenantId;

    use accountd_domain::level::{Role, UserLevel};
    use accountd_domain::testing::{TestUser, member};
    use accountd_domain::text::{Name, PhoneNumber};
    use accountd_domain::user::User;
    use uuid::Uuid;

    fn jbloggs() -> User {
        TestUser::new(
            7,
            Role::EndUser {
                member: member("AcmeCorp", "AcmeGroup", "jbloggs"),
            },
        )
        .username("jbloggs")
        .uuid(Uuid::new_v4())
        .named("New", "User")
        .email("jbloggs@acmecorp.com")
        .profile(|p| p.phone_number = PhoneNumber::parse_for("p", "+353 (1) 6742000").unwrap())
        .at(1_367_337_125_476)
        .build()
    }

    fn echo(user: &User) -> AxwayUserUpdate {
        serde_json::from_value(serde_json::to_value(AxwayUser::of(user)).unwrap()).unwrap()
    }

    #[test]
    fn the_get_body_put_back_changes_nothing() {
        let user = jbloggs();
        let body = echo(&user);
        assert!(body.read_only_changes(&user).is_empty());
        assert!(body.into_change(&user).unwrap().is_empty());
    }

    #[test]
    fn read_only_members_are_named_when_changed() {
        let user = jbloggs();
        let mut body = echo(&user);
        body.role = Some("admin".into());
        body.enabled = Some(false);
        body.login_name = Some("other".into());
        body.dn = Some(serde_json::json!("cn=x"));
        assert_eq!(body.read_only_changes(&user), ["loginName", "role", "enabled", "dn"]);
    }

    #[test]
    fn organizations_are_stable_per_tenant() {
        let user = jbloggs();
        assert_eq!(organization_id(&user.role), organization_id(&user.role));
        assert_eq!(organization_id(&user.role).get_version_num(), 5);
        assert_ne!(
            organization_id(&user.role),
            organization_id(&Role::TenantAdmin {
                tenant: TenantId::parse("Other").unwrap()
            })
        );
        assert_eq!(
            organization_id(&user.role),
            organization_id(&Role::TenantAdmin {
                tenant: TenantId::parse("AcmeCorp").unwrap()
            })
        );
        assert_ne!(organization_id(&Role::System), organization_id(&user.role));
    }

    #[test]
    fn full_names_split_on_the_surname() {
        assert_eq!(
            split_full_name("Jane User", "User", false),
            Ok(NameSplit::First("Jane"))
        );
        assert_eq!(
            split_full_name("Mary Ann User", "User", true),
            Ok(NameSplit::First("Mary Ann"))
        );
        assert_eq!(
            split_full_name("Jane Roe", "User", false),
            Ok(NameSplit::FirstAndLast("Jane", "Roe"))
        );
        assert!(split_full_name("Jane Roe", "Smith", true).is_err());
        assert!(split_full_name("Cher", "User", false).is_err());
        assert!(split_full_name("User", "User", false).is_err());
    }

    #[test]
    fn changes_carry_only_what_differs_and_every_invalid_member() {
        let user = jbloggs();
        let mut body = echo(&user);
        body.name = Some("Jane Roe".into());
        body.mobile = Some("+32 2 000".into());
        let change = body.into_change(&user).unwrap();
        assert_eq!(change.first_name.as_ref().map(Name::as_str), Some("Jane"));
        assert_eq!(change.last_name.as_ref().map(Name::as_str), Some("Roe"));
        assert_eq!(change.mobile.as_ref().map(PhoneNumber::as_str), Some("+32 2 000"));
        assert!(change.phone_number.is_none() && change.email.is_none());

        let mut body = echo(&user);
        body.email = Some("not-an-address".into());
        body.mobile = Some("call me".into());
        body.image = Some("a\nb".into());
        let Err(ApiError::Service(accountd_service::ServiceError::Invalid(errors))) = body.into_change(&user) else {
            panic!("expected every invalid member");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "mobile", "image"]);

        let mut body = echo(&user);
        body.email = Some(String::new());
        assert_eq!(body.into_change(&user).unwrap().email, Some(None));
    }

    #[test]
    fn roles() {
        assert_eq!(axway_role(UserLevel::EndUser), "user");
        assert_eq!(axway_role(UserLevel::GroupAdmin), "oadmin");
        assert_eq!(axway_role(UserLevel::System), "admin");
    }

    #[test]
    fn change_password_form_does_not_debug_passwords() {
        // Read as the handler's form is, with serde_urlencoded (here through actix's Query).
        let form = actix_web::web::Query::<ChangePasswordForm>::from_query(
            "oldPassword=Old-Secret-1%21&newPassword=New-Secret-2%21&id=7",
        )
        .unwrap()
        .into_inner();
        let debug = format!("{form:?}");
        assert!(
            !debug.contains("Old-Secret") && !debug.contains("New-Secret"),
            "{debug}"
        );
        let (old, new) = crate::error::both(
            password_field("oldPassword", form.old_password),
            password_field("newPassword", form.new_password),
        )
        .unwrap();
        assert_eq!((old.expose(), new.expose()), ("Old-Secret-1!", "New-Secret-2!"));
        // Missing and empty are both named.
        let form = actix_web::web::Query::<ChangePasswordForm>::from_query("newPassword=")
            .unwrap()
            .into_inner();
        assert_eq!(
            password_field("oldPassword", form.old_password).unwrap_err().field,
            "oldPassword"
        );
        assert_eq!(
            password_field("newPassword", form.new_password).unwrap_err().field,
            "newPassword"
        );
    }
}
