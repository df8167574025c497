//! The SuperOffice dialect: `GET /api/v1/User/currentPrincipal` (seed 002), the caller as a
//! `SoPrincipalCarrier`, in JSON or XML by `Accept`, its role description and error texts in the
//! language of `SO-Language`/`Accept-Language`, its date-times in the zone of `SO-TimeZone`.
//!
//! Every field's source is in `docs/dialects.md`. Field names and casing are the seed's exactly.
//!
//! The representation is in `views` (written as XML by `xml`), the answer's language in
//! `language`; this module has the routes, the content negotiation and the handler.

use crate::auth::Caller;
use crate::context::blocking;
use crate::error::ApiError;
use crate::error::responses as problem;
use crate::negotiate::{self, Choice};
use crate::{AppState, resource};
use accountd_domain::ports::Store;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

mod language;
mod views;
mod xml;

pub use language::*;
pub use views::*;
pub use xml::*;

/// The seed's path. SuperOffice's routes ignore case, so the two literal segments match in any case;
/// a trailing slash is accepted too.
pub const CURRENT_PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const CURRENT_PRINCIPAL_PATTERN: &str = "/api/v1/{user:(?i:user)}/{principal:(?i:currentprincipal)}";

pub const SO_LANGUAGE: HeaderName = HeaderName::from_static("so-language");
pub const SO_TIME_ZONE: HeaderName = HeaderName::from_static("so-timezone");

/// Settings of the SuperOffice dialect (`[http.superoffice]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuperOfficeConfig {
    /// `DatabaseContextIdentifier` of every principal: the name of this installation's database
    /// context, as SuperOffice clients see it.
    pub database_context_identifier: String,
}

impl Default for SuperOfficeConfig {
    fn default() -> Self {
        Self {
            database_context_identifier: "accountd".into(),
        }
    }
}

/// The methods of the route: ASP.NET answers HEAD wherever it answers GET.
const ALLOWED: &str = "GET, HEAD";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    // ASP.NET's routes also match with a trailing slash. HEAD runs the GET handler: actix sends its
    // headers (Content-Length included) and no body. The path as the seed spells it first, as a
    // plain string: matching the case-insensitive pattern runs a regex (3-4% of a Basic
    // request's CPU, docs/performance.md), which only other spellings need.
    for pattern in [
        CURRENT_PRINCIPAL.to_owned(),
        format!("{CURRENT_PRINCIPAL}/"),
        CURRENT_PRINCIPAL_PATTERN.to_owned(),
        format!("{CURRENT_PRINCIPAL_PATTERN}/"),
    ] {
        cfg.service(
            resource(&pattern)
                .route(web::get().to(current_principal::<S>))
                .route(web::head().to(current_principal::<S>))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut response = localized_error(
        &ApiError::NoRoute {
            status: StatusCode::METHOD_NOT_ALLOWED,
        },
        Language::of(&req),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(ALLOWED));
    response
}

// ---------------------------------------------------------------------------------------------
// Time zones and date-times

/// The zone of `SO-TimeZone`: an IANA name (`Europe/Stockholm`, `CET`, `UTC`) or a Windows zone id
/// (`W. Europe Standard Time`, what .NET clients send), mapped to IANA by CLDR's world-wide
/// default. UTC when absent, and when the code is neither: the read does not fail over a display
/// preference, and every date-time carries its offset (`+00:00`), so the client sees which zone
/// was applied (docs/dialects.md).
fn time_zone(req: &HttpRequest) -> Tz {
    let name = req
        .headers()
        .get(&SO_TIME_ZONE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Tz::UTC;
    }
    if let Ok(zone) = name.parse::<Tz>() {
        return zone;
    }
    match localzone::win_zone_to_iana(name, Some("001")).and_then(|iana| iana.parse::<Tz>().ok()) {
        Some(zone) => zone,
        None => {
            tracing::info!(zone = %name.chars().take(64).collect::<String>(), "unknown SO-TimeZone: dates in UTC");
            Tz::UTC
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Negotiation and the handler

/// Media types we answer with, in order of preference for a wildcard.
const OFFERED: [&str; 6] = [
    "application/json",
    "text/json",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/xml",
    "text/xml",
];
/// What an `Accept` we can't satisfy gets, unless it refused that explicitly.
const FALLBACKS: [&str; 2] = ["application/json", "application/xml"];

fn is_xml(media: &str) -> bool {
    media.ends_with("/xml")
}

/// The media type to answer with, by `Accept` (q-values honoured); JSON when nothing fits, 406 when
/// the client refused both JSON and XML.
fn representation(req: &HttpRequest) -> Result<&'static str, ApiError> {
    // A header actix can't read at all (not visible ASCII) counts as absent, as no `Accept` does.
    let accept = <header::Accept as header::Header>::parse(req).unwrap_or_else(|_| header::Accept(vec![]));
    let ranges = negotiate::parse_accept(&accept);
    match negotiate::choose(&ranges, &OFFERED, &FALLBACKS) {
        Choice::Preferred(media) | Choice::Fallback(media) => Ok(media),
        Choice::NotAcceptable => Err(ApiError::NotAcceptable),
    }
}

#[utoipa::path(get, path = "/api/v1/User/currentPrincipal", tag = "superoffice", operation_id = "superoffice_current_principal",
    summary = "The caller as a SuperOffice SoPrincipalCarrier (JSON or XML by Accept; path segments match in any case)",
    params(
        ("SO-Language" = Option<String>, Header, description = "Language of texts (`en`, `sv`); overrides Accept-Language"),
        ("SO-TimeZone" = Option<String>, Header, description = "Time zone of dates: an IANA name or a Windows zone id; UTC when absent or unknown"),
        ("Accept-Language" = Option<String>, Header, description = "Language of texts, with q-values"),
    ),
    responses(
        (status = 200, description = "The caller's principal", content(
            (SoPrincipalCarrier = "application/json"),
            (SoPrincipalCarrier = "text/json"),
            (String = "application/xml"),
            (String = "text/xml"),
        )),
        problem::BadRequest,
        problem::Unauthenticated,
        problem::Forbidden,
        problem::NotAcceptable,
    ))]
pub(crate) async fn current_principal<S: Store>(
    req: HttpRequest,
    state: web::Data<AppState<S>>,
    caller: Result<Caller<S>, ApiError>,
) -> HttpResponse {
    let language = Language::of(&req);
    match answer(&req, &state, caller, language).await {
        Ok(response) => response,
        Err(err) => localized_error(&err, language),
    }
}

async fn answer<S: Store>(
    req: &HttpRequest,
    state: &web::Data<AppState<S>>,
    caller: Result<Caller<S>, ApiError>,
    language: Language,
) -> Result<HttpResponse, ApiError> {
    let principal = caller?.principal;
    let media = representation(req)?;
    let zone = time_zone(req);
    let services = state.services.clone();
    let user = principal.user.clone();
    // Four indexed reads: on this worker where the store answers them in microseconds (SQLite).
    let directory = if services.reads_here() {
        services.directory_of_here(&principal)?
    } else {
        blocking(move || services.directory_of(&user)).await?
    };
    let carrier = SoPrincipalCarrier::of(&principal, &directory, &state.config.superoffice, language, zone);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, format!("{media}; charset=utf-8")))
        .insert_header((header::CONTENT_LANGUAGE, language.code()))
        .insert_header((header::VARY, "Accept, Accept-Language, SO-Language, SO-TimeZone"));
    Ok(if is_xml(media) {
        response.body(carrier.to_xml())
    } else {
        // Keeps the negotiated Content-Type.
        response.json(&carrier)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::records::License;
    use accountd_domain::text::Text;
    use accountd_domain::user::Timestamp;
    use accountd_service::ServiceError;
    use actix_web::test::TestRequest;

    fn text(s: &str) -> Text {
        Text::parse_for("t", s).unwrap()
    }

    #[test]
    fn date_times_have_seven_digits_and_the_zone_offset() {
        // 2005-02-09T01:30:53.178Z
        let t = Timestamp::from_millis(1_107_912_653_178);
        assert_eq!(so_date_time(t, Tz::UTC), "2005-02-09T01:30:53.1780000+00:00");
        assert_eq!(
            so_date_time(t, Tz::Europe__Stockholm),
            "2005-02-09T02:30:53.1780000+01:00"
        );
        // Summer time.
        let july = Timestamp::from_millis(1_120_000_000_000);
        assert!(so_date_time(july, Tz::Europe__Stockholm).ends_with("+02:00"));
        assert_eq!(so_date_time(Timestamp::from_millis(i64::MAX), Tz::UTC), NO_DATE);
    }

    #[test]
    fn languages_prefer_so_language() {
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "sv"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::Swedish);
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "sv"))
            .insert_header(("SO-Language", "en"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::English);
        let req = TestRequest::default()
            .insert_header(("Accept-Language", "de, sv;q=0.5"))
            .to_http_request();
        assert_eq!(Language::of(&req), Language::Swedish);
        assert_eq!(
            Language::of(&TestRequest::default().to_http_request()),
            Language::English
        );
    }

    #[test]
    fn zones_are_iana_names_or_windows_ids_else_utc() {
        let zone = |value: &str| {
            time_zone(
                &TestRequest::default()
                    .insert_header(("SO-TimeZone", value))
                    .to_http_request(),
            )
        };
        assert_eq!(zone("Europe/Stockholm"), Tz::Europe__Stockholm);
        assert_eq!(zone("CET"), Tz::CET);
        assert_eq!(zone("W. Europe Standard Time"), Tz::Europe__Berlin);
        assert_eq!(zone("Eastern Standard Time"), Tz::America__New_York);
        assert_eq!(zone("Tokyo Standard Time"), Tz::Asia__Tokyo);
        assert_eq!(zone("Mars/Olympus"), Tz::UTC);
        assert_eq!(zone(""), Tz::UTC);
        assert_eq!(time_zone(&TestRequest::default().to_http_request()), Tz::UTC);
    }

    #[test]
    fn xml_escapes_text() {
        let mut out = String::new();
        escape_into(&mut out, "a<b>&\"c'\u{1}");
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}");
    }

    #[test]
    fn licences_without_expiry_show_no_date() {
        let license = License {
            module_id: 1,
            name: text("CRM"),
            description: text("d"),
            owner_name: text("o"),
            owner_description: text("od"),
            version: text("1"),
            license_type: text("SiteLicense"),
            license_number: 1,
            extra_flags: 0,
            extra_info: text(""),
            sort_order: 1,
            hidden: false,
            unrestricted: true,
            expires_at: None,
        };
        let carrier = LicenseCarrier::of(&license, Tz::UTC);
        assert_eq!(carrier.expiry_date, NO_DATE);
        let json = serde_json::to_value(&carrier).unwrap();
        assert!(json["TableRight"].is_null());
        assert_eq!(json["FieldProperties"], serde_json::json!({}));
    }

    #[test]
    fn swedish_errors_keep_status_and_headers() {
        let err = ApiError::Service(ServiceError::Unauthenticated);
        let response = localized_error(&err, Language::Swedish);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(response.headers().get(header::CONTENT_LANGUAGE).unwrap(), "sv");
    }
}
