//! accountd's HTTP layer on actix-web: the APIO, SuperOffice and Axway dialects as projections of the
//! one domain model, authentication, and problem+json errors.
//!
//! [`configure`] mounts every route for a given store; production and tests call the same function
//! (the server binary in `apps/accountd`, the integration tests with a temporary database). The
//! server wraps them in three middlewares: [`context::request_id`], [`headers::personal_data`]
//! (`Cache-Control: no-store` and `nosniff` on every answer) and [`deadline::body_deadline`] (a
//! body must arrive within `http.body_timeout_ms`).

pub mod account;
pub mod apio;
pub mod auth;
pub mod axway;
pub mod context;
pub mod credentials;
pub mod deadline;
pub mod email_change;
pub mod error;
pub mod factors;
pub mod headers;
pub mod json;
pub mod negotiate;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod passkeys;
pub mod reset;
pub mod secret;
pub mod selfservice;
pub mod superoffice;
pub mod timeline;

use accountd_domain::ports::Store;
use accountd_service::Services;
use actix_web::error::{QueryPayloadError, UrlencodedError};
use actix_web::{HttpRequest, HttpResponse, web};
use error::ApiError;
use serde::Deserialize;
use std::sync::Arc;

/// HTTP settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Mark cookies `Secure` (serve over HTTPS, or behind a proxy that does).
    pub secure_cookies: bool,
    /// Largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    /// How long a request's body may take to arrive, from its headers, in milliseconds (408
    /// above): actix's header timeout ends with the headers, and without this a body trickled a
    /// byte at a time held its connection and its handler forever (docs/operations.md). At least 1.
    pub body_timeout_ms: u64,
    /// Read the client address from `X-Forwarded-For`/`Forwarded` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// The SuperOffice dialect's settings (`[http.superoffice]`).
    pub superoffice: superoffice::SuperOfficeConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            max_body_bytes: 64 * 1024,
            body_timeout_ms: 10_000,
            trust_forwarded_for: false,
            superoffice: superoffice::SuperOfficeConfig::default(),
        }
    }
}

/// What every handler shares.
pub struct AppState<S: Store> {
    pub services: Arc<Services<S>>,
    pub config: HttpConfig,
    /// This server's request metrics (`/metrics`), shared by its workers.
    pub metrics: ops::Metrics,
    /// Which requests get an access line (`log.access`).
    pub access_log: context::AccessLogPolicy,
}

impl<S: Store> AppState<S> {
    /// The state of one server, with fresh metrics.
    pub fn new(services: Arc<Services<S>>, config: HttpConfig) -> Self {
        Self {
            services,
            config,
            metrics: ops::Metrics::new(),
            access_log: context::AccessLogPolicy::default(),
        }
    }
}

impl<S: Store> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn form_error(err: UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    let api = match err {
        UrlencodedError::ContentType => ApiError::UnsupportedMediaType(
            "The body must be a form (Content-Type: application/x-www-form-urlencoded).".into(),
        ),
        UrlencodedError::Overflow { limit, .. } => ApiError::PayloadTooLarge { limit },
        UrlencodedError::Payload(ref e) if let Some(after) = deadline::timed_out(e) => ApiError::BodyTimeout { after },
        other => ApiError::BadRequest {
            details: format!("The form body is not valid: {other}."),
            errors: vec![],
        },
    };
    api.into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest {
        details: format!("The query string is not valid: {err}."),
        errors: vec![],
    }
    .into()
}

async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute {
        status: actix_web::http::StatusCode::NOT_FOUND,
    })
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::NoRoute {
        status: actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
    });
    // RFC 9110: a 405 lists the methods the resource supports.
    if let Some(allow) = req.match_pattern().and_then(|p| openapi::allowed_methods(&p)) {
        response.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
    }
    response
}

/// A resource whose methods are added by the caller; any other method is a 405 problem.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Mounts every route of accountd, with its body limits and error handlers.
pub fn configure<S: Store>(state: web::Data<AppState<S>>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let limit = state.config.max_body_bytes;
        let body_timeout = deadline::BodyTimeout(std::time::Duration::from_millis(state.config.body_timeout_ms));
        let address_source = context::ClientAddressSource {
            trust_forwarded_for: state.config.trust_forwarded_for,
        };
        let metrics = web::Data::new(state.metrics.clone());
        let access_log = state.access_log;
        cfg.app_data(state)
            .app_data(metrics)
            .app_data(access_log)
            .app_data(address_source)
            .app_data(body_timeout)
            .app_data(json::config(limit))
            .app_data(web::FormConfig::default().limit(limit).error_handler(form_error))
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PayloadConfig::default().limit(limit));
        apio::routes::<S>(cfg);
        superoffice::routes::<S>(cfg);
        axway::routes::<S>(cfg);
        apio::users::routes::<S>(cfg);
        selfservice::routes::<S>(cfg);
        factors::routes::<S>(cfg);
        passkeys::routes::<S>(cfg);
        credentials::routes::<S>(cfg);
        timeline::routes::<S>(cfg);
        reset::routes::<S>(cfg);
        email_change::routes::<S>(cfg);
        ops::routes::<S>(cfg);
        openapi::routes(cfg);
        account::routes(cfg);
        cfg.default_service(web::to(no_route));
    }
}
