//! The OpenAPI 3.1 document of the three dialects, generated from the handlers' `#[utoipa::path]`
//! annotations and the bodies' `ToSchema` derives, served at `GET /openapi.json`, with an
//! interactive page at `GET /docs` (embedded in the binary: it loads no script from anywhere else).
//! The page's script and stylesheet are files of their own (`/docs/docs.js`, `/docs/docs.css`,
//! from `crates/http/assets/docs/`), served under the account page's Content-Security-Policy
//! ([`crate::page`]): no inline code, no framing, Trusted Types.
//!
//! `docs/openapi.json` is the committed copy; a test fails when it is stale
//! (`cargo xtask openapi` rewrites it).

use crate::apio::users::{CreateBody, ProfileBody, UpdateBody};
use crate::error::Problem;
use crate::page::{asset, fingerprint};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

pub const OPENAPI_JSON: &str = "/openapi.json";
pub const DOCS: &str = "/docs";

/// Seed 000's `ids`: only the ids the caller's level has.
#[derive(Debug, ToSchema)]
#[schema(as = Ids)]
#[allow(dead_code)]
pub struct IdsSchema {
    tenant_id: Option<String>,
    group_id: Option<String>,
    user_id: Option<String>,
}

/// An empty JSON object.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "accountd",
        description = "Accounts, sessions and profiles in three dialects: APIO (`/api/v1/…`), \
                       SuperOffice (`/api/v1/User/currentPrincipal`) and Axway (`/api/portal/v1.3/…`). \
                       Errors are `application/problem+json`.",
        license(name = "see the repository"),
    ),
    paths(
        crate::apio::login,
        crate::apio::logout,
        crate::apio::get_login_info,
        crate::apio::put_login_info,
        crate::apio::get_login_info_deprecated,
        crate::apio::put_login_info_deprecated,
        crate::apio::users::list,
        crate::apio::users::create,
        crate::apio::users::get,
        crate::apio::users::put,
        crate::apio::users::delete,
        crate::apio::users::get_pin,
        crate::apio::users::put_pin,
        crate::superoffice::current_principal,
        crate::axway::get_current_user,
        crate::axway::put_current_user,
        crate::axway::change_password,
        crate::selfservice::get_profile,
        crate::selfservice::put_profile,
        crate::selfservice::get_password_policy,
        crate::selfservice::check_password,
        crate::selfservice::get_pincode_policy,
        crate::selfservice::check_pincode,
        crate::selfservice::list_sessions,
        crate::selfservice::end_other_sessions,
        crate::selfservice::end_session,
        crate::factors::status,
        crate::factors::enroll_totp,
        crate::factors::confirm_totp,
        crate::factors::remove_totp,
        crate::factors::regenerate_recovery_codes,
        crate::factors::reauthenticate,
        crate::factors::reset,
        crate::passkeys::list,
        crate::passkeys::registration_options,
        crate::passkeys::register,
        crate::passkeys::remove,
        crate::passkeys::sign_in_options,
        crate::passkeys::sign_in,
        crate::passkeys::reauthentication_options,
        crate::credentials::list_tokens,
        crate::credentials::create_token,
        crate::credentials::revoke_token,
        crate::credentials::credentials,
        crate::credentials::revoke_all,
        crate::credentials::user_tokens,
        crate::credentials::revoke_user_token,
        crate::credentials::user_sessions,
        crate::credentials::end_user_session,
        crate::timeline::own_events,
        crate::timeline::user_events,
        crate::timeline::export,
        crate::timeline::report,
        crate::reset::request,
        crate::reset::confirm,
        crate::email_change::pending,
        crate::email_change::cancel,
        crate::email_change::confirm,
    ),
    components(schemas(Problem, crate::error::FieldError)),
    tags(
        (name = "apio", description = "The APIO dialect: login, session, users of a group, PIN codes"),
        (name = "superoffice", description = "The SuperOffice dialect: the current principal"),
        (name = "axway", description = "The Axway portal dialect: the current user, password change"),
        (name = "account", description = "accountd's own self-service API (the account page at /account/): profile, password and PIN policy, sessions"),
    ),
    modifiers(&Common),
)]
struct ApiDoc;

/// The document, as served and committed.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// What every operation shares: the security schemes, the problem responses no handler lists.
struct Common;

impl Modify for Common {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let schemes = [
            (
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    "sessionid",
                    "The session cookie set by POST /api/v1/login/. Unsafe methods (POST, PUT, DELETE) must also \
                     send the `XSRF-TOKEN` cookie's value in the `X-XSRF-TOKEN` header (403 otherwise).",
                ))),
            ),
            ("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic))),
            ("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))),
            (
                "soTicket",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization",
                    "`SoTicket <ticket>` (the SuperOffice dialect's session ticket).",
                ))),
            ),
        ];
        for (name, scheme) in schemes {
            components.security_schemes.insert(name.to_owned(), scheme);
        }
        openapi.security = Some(vec![
            SecurityRequirement::new("session", Vec::<String>::new()),
            SecurityRequirement::new("basic", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("soTicket", Vec::<String>::new()),
        ]);
        add_trailing_slash_aliases(openapi);
        for item in openapi.paths.paths.values_mut() {
            // DELETE's options may come in the query string instead: its body is optional.
            if let Some(body) = item.delete.as_mut().and_then(|op| op.request_body.as_mut()) {
                body.required = Some(utoipa::openapi::Required::False);
            }
            for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                constrain_path_ids(op);
                add_common_responses(op);
            }
        }
    }
}

/// The Axway paths answer with and without their trailing slash (clients vary): both are listed, the
/// alias's operations suffixed `_alias`.
fn add_trailing_slash_aliases(openapi: &mut utoipa::openapi::OpenApi) {
    let aliases = [
        (
            crate::axway::CURRENT_USER.to_owned(),
            crate::axway::CURRENT_USER.trim_end_matches('/').to_owned(),
        ),
        (
            crate::axway::CHANGE_PASSWORD.to_owned(),
            format!("{}/", crate::axway::CHANGE_PASSWORD),
        ),
    ];
    for (canonical, alias) in aliases {
        let Some(mut item) = openapi.paths.paths.get(&canonical).cloned() else {
            continue;
        };
        for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete]
            .into_iter()
            .flatten()
        {
            op.operation_id = op.operation_id.take().map(|id| format!("{id}_alias"));
            op.summary = Some(format!("Alias of {canonical}"));
        }
        openapi.paths.paths.insert(alias, item);
    }
}

/// The ids of paths (`tenant_id`, …) accept what the domain's identifiers do.
fn constrain_path_ids(op: &mut Operation) {
    for param in op.parameters.iter_mut().flatten() {
        if param.parameter_in == ParameterIn::Path
            && param.name.ends_with("_id")
            && let Some(RefOr::T(Schema::Object(object))) = param.schema.as_mut()
        {
            object.pattern = Some(crate::apio::users::IDENTIFIER.to_owned());
        }
    }
}

fn add_common_responses(op: &mut Operation) {
    use crate::error::responses as problem;
    let mut shared = Vec::new();
    if op.request_body.is_some() {
        shared.push(problem::RequestTimeout::responses());
        shared.push(problem::PayloadTooLarge::responses());
        shared.push(problem::UnsupportedMediaType::responses());
    }
    shared.push(problem::Unavailable::responses());
    shared.push(problem::OtherError::responses());
    for (status, response) in shared.into_iter().flatten() {
        op.responses.responses.entry(status).or_insert(response);
    }
}

// ---------------------------------------------------------------------------------------------
// The bodies that flatten `ProfileBody`: one object with every member, as the server reads them.

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn nullable_string() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .into()
}

/// `ProfileBody`'s object with `extra` members added, `required` ones required, nothing else allowed.
fn profile_with(description: &str, extra: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> RefOr<Schema> {
    let mut object = match ProfileBody::schema() {
        RefOr::T(Schema::Object(object)) => object,
        _ => Object::new(),
    };
    for (name, schema) in extra {
        object.properties.insert(name.to_owned(), schema);
    }
    object.required = required.iter().map(|r| (*r).to_owned()).collect();
    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    object.description = Some(description.to_owned());
    RefOr::T(Schema::Object(object))
}

impl PartialSchema for UpdateBody {
    fn schema() -> RefOr<Schema> {
        profile_with(
            "Seed 001's PUT: the profile members (`null` or `\"\"` clears an optional one), and a password change \
             (`newPassword`, with `oldPassword` when changing one's own).",
            vec![("oldPassword", nullable_string()), ("newPassword", nullable_string())],
            &[],
        )
    }
}

impl ToSchema for UpdateBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ProfileBody as ToSchema>::schemas(schemas);
    }
}

impl PartialSchema for CreateBody {
    fn schema() -> RefOr<Schema> {
        let level = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .enum_values(Some([Some(0), Some(4), Some(8), None]))
            .description(Some(
                "0 end user (default), 4 department admin (with administeredDepartment), 8 group admin",
            ))
            .into();
        profile_with(
            "A new user of the group: its id, password, names and the optional profile members.",
            vec![
                ("userId", string()),
                ("username", nullable_string()),
                ("password", string()),
                ("userLevel", level),
                ("administeredDepartment", nullable_string()),
            ],
            &["userId", "password", "firstName", "lastName"],
        )
    }
}

impl ToSchema for CreateBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ProfileBody as ToSchema>::schemas(schemas);
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// The `Allow` header of a 405 on a route `pattern` (with or without its trailing slash): the
/// methods the document gives it.
pub fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static ALLOWED: LazyLock<BTreeMap<String, &'static str>> = LazyLock::new(|| {
        let mut map = BTreeMap::new();
        for (path, item) in document().paths.paths {
            let methods: Vec<&str> = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, has)| has.then_some(m))
            .collect();
            let methods: &'static str = Box::leak(methods.join(", ").into_boxed_str());
            map.insert(path.trim_end_matches('/').to_owned(), methods);
        }
        map.insert(OPENAPI_JSON.to_owned(), "GET");
        map.insert(DOCS.to_owned(), "GET");
        for asset in DOCS_ASSETS {
            map.insert(asset.to_owned(), "GET");
        }
        for page in ["/account", "/account/account.js", "/account/account.css"] {
            map.insert(page.to_owned(), "GET");
        }
        map
    });
    ALLOWED.get(pattern.trim_end_matches('/')).copied()
}

/// The document as pretty JSON, as committed in `docs/openapi.json`.
pub fn pretty_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(pretty_json())
}

const DOCS_PAGE: &str = include_str!("../assets/docs/index.html");
const DOCS_JS: &str = include_str!("../assets/docs/docs.js");
const DOCS_CSS: &str = include_str!("../assets/docs/docs.css");

/// `/docs`'s script and stylesheet: files, as the account page's policy requires.
pub const DOCS_ASSETS: [&str; 2] = ["/docs/docs.js", "/docs/docs.css"];

/// The page and its assets under the account page's policy and headers ([`crate::page`]).
async fn docs_page(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(DOCS_PAGE.as_bytes());
    asset(&req, "text/html; charset=utf-8", DOCS_PAGE, HASH)
}

async fn docs_script(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(DOCS_JS.as_bytes());
    asset(&req, "text/javascript; charset=utf-8", DOCS_JS, HASH)
}

async fn docs_style(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(DOCS_CSS.as_bytes());
    asset(&req, "text/css; charset=utf-8", DOCS_CSS, HASH)
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    let [script, style] = DOCS_ASSETS;
    cfg.service(crate::resource(OPENAPI_JSON).route(web::get().to(openapi_json)))
        .service(crate::resource(DOCS).route(web::get().to(docs_page)))
        .service(crate::resource(script).route(web::get().to(docs_script)))
        .service(crate::resource(style).route(web::get().to(docs_style)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
    }

    /// `ACCOUNTD_WRITE_OPENAPI=1` (what `cargo xtask openapi` sets) rewrites the committed copy.
    #[test]
    fn committed_document_is_current() {
        let current = pretty_json();
        if std::env::var_os("ACCOUNTD_WRITE_OPENAPI").is_some() {
            std::fs::write(committed(), &current).unwrap();
            return;
        }
        let on_disk = std::fs::read_to_string(committed()).unwrap_or_default();
        assert!(
            on_disk == current,
            "docs/openapi.json is stale: run `cargo xtask openapi` to refresh it"
        );
    }

    /// `/docs` holds to the account page's policy: no inline script, style or handler, and its
    /// script writes the document into the page as text, never as HTML.
    #[test]
    fn the_docs_page_has_no_inline_script_style_or_handler() {
        crate::page::assert_no_inline_code(DOCS_PAGE, &[DOCS_JS]);
        assert!(
            !DOCS_CSS.to_ascii_lowercase().contains("url("),
            "nothing fetched by the style"
        );
    }

    #[test]
    fn is_openapi_3_1_with_every_dialect() {
        let json: serde_json::Value = serde_json::from_str(&pretty_json()).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = json["paths"].as_object().unwrap();
        for path in [
            crate::apio::LOGIN,
            crate::apio::LOGOUT,
            crate::apio::USER_LOGIN_INFO,
            crate::apio::LOGIN_INFO_DEPRECATED,
            crate::apio::users::USERS,
            crate::apio::users::USER,
            crate::apio::users::PINCODE,
            crate::superoffice::CURRENT_PRINCIPAL,
            crate::axway::CURRENT_USER,
            crate::axway::CHANGE_PASSWORD,
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
    }

    #[test]
    fn every_error_response_is_a_problem() {
        let json: serde_json::Value = serde_json::from_str(&pretty_json()).unwrap();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') || status == "default" {
                        assert_eq!(
                            response["content"]["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn flattened_bodies_list_every_member() {
        let json: serde_json::Value = serde_json::from_str(&pretty_json()).unwrap();
        let schemas = &json["components"]["schemas"];
        for (name, member) in [
            ("UpdateBody", "firstName"),
            ("UpdateBody", "newPassword"),
            ("CreateBody", "userId"),
            ("CreateBody", "accessDeviceEndpoint"),
        ] {
            assert!(
                schemas[name]["properties"].get(member).is_some(),
                "{name} lacks {member}"
            );
            assert_eq!(schemas[name]["additionalProperties"], false);
        }
    }
}
