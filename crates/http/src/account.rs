//! The self-service account page at `/account/`: one HTML page, its stylesheet and script, embedded
//! in the binary (no CDN, no build step). It runs on the session cookie and the XSRF scheme of the
//! APIO login, and calls the self-service API ([`crate::selfservice`]), the Axway password change
//! and seed 001's PIN resource. Served under a strict Content-Security-Policy: no inline script or
//! style, nothing from another origin, no framing.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

pub const PAGE: &str = "/account/";

const INDEX_HTML: &str = include_str!("../assets/account/index.html");
const ACCOUNT_JS: &str = include_str!("../assets/account/account.js");
const ACCOUNT_CSS: &str = include_str!("../assets/account/account.css");

/// The page's policy: its own script, style and API only.
/// `require-trusted-types-for 'script'` makes the browser refuse any string written into an HTML
/// sink (`innerHTML` and the like), so the page's rule of writing server data as text is enforced,
/// not just followed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
     require-trusted-types-for 'script'";

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::resource(PAGE).route(web::get().to(index)))
        .service(crate::resource("/account/account.js").route(web::get().to(script)))
        .service(crate::resource("/account/account.css").route(web::get().to(style)))
        .service(crate::resource("/account").route(web::get().to(redirect)));
}

/// FNV-1a of an asset, at compile time: its ETag.
const fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// An asset with the page's security headers. `no-cache` with an ETag: the browser revalidates
/// each time (a 304 without body when unchanged), so a new server version's page and script are
/// never mixed.
fn asset(req: &HttpRequest, content_type: &'static str, body: &'static str, hash: u64) -> HttpResponse {
    let etag = format!("\"{hash:016x}\"");
    let unchanged = not_modified(req, &etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    if unchanged {
        response.finish()
    } else {
        response.body(body)
    }
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
        let lower = INDEX_HTML.to_ascii_lowercase();
        assert!(!lower.contains("<script>"), "inline <script>");
        assert!(!lower.contains("style=\""), "inline style attribute");
        assert!(!lower.contains("<style"), "<style> element");
        assert!(
            !lower.contains(" onclick=") && !lower.contains(" onload="),
            "inline handler"
        );
        assert!(
            !lower.contains("http://") && !lower.contains("https://"),
            "another origin"
        );
        for sink in [
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(
                !ACCOUNT_JS.contains(sink),
                "account.js writes server data as text only: {sink}"
            );
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
