//! The self-service account page at `/account/`: one HTML page, its stylesheet and script, embedded
//! in the binary (no CDN, no build step). It runs on the session cookie and the XSRF scheme of the
//! APIO login, and calls the self-service API ([`crate::selfservice`]), the Axway password change
//! and seed 001's PIN resource. Served under a strict Content-Security-Policy: no inline script or
//! style, nothing from another origin, no framing.

use crate::page::{asset, fingerprint};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

pub const PAGE: &str = "/account/";

const INDEX_HTML: &str = include_str!("../assets/account/index.html");
const ACCOUNT_JS: &str = include_str!("../assets/account/account.js");
const ACCOUNT_CSS: &str = include_str!("../assets/account/account.css");

/// The page's policy, shared with `/docs` ([`crate::page`]).
pub use crate::page::CONTENT_SECURITY_POLICY;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::resource(PAGE).route(web::get().to(index)))
        .service(crate::resource("/account/account.js").route(web::get().to(script)))
        .service(crate::resource("/account/account.css").route(web::get().to(style)))
        .service(crate::resource("/account").route(web::get().to(redirect)));
}

async fn index(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(INDEX_HTML.as_bytes());
    asset(&req, "text/html; charset=utf-8", INDEX_HTML, HASH)
}

async fn script(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(ACCOUNT_JS.as_bytes());
    asset(&req, "text/javascript; charset=utf-8", ACCOUNT_JS, HASH)
}

async fn style(req: HttpRequest) -> HttpResponse {
    const HASH: u64 = fingerprint(ACCOUNT_CSS.as_bytes());
    asset(&req, "text/css; charset=utf-8", ACCOUNT_CSS, HASH)
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, PAGE))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        crate::page::assert_no_inline_code(INDEX_HTML, &[ACCOUNT_JS]);
    }
}
