//! What the browser pages accountd serves from its binary (the account page at `/account/`, the
//! API explorer at `/docs`) share: one Content-Security-Policy and the other security headers, and
//! revalidation by ETag. Each page is an HTML file with its script and stylesheet as separate
//! assets (no inline script, style or handler), nothing from another origin, no framing.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// The pages' policy: their own script, style and API only.
/// `require-trusted-types-for 'script'` makes the browser refuse any string written into an HTML
/// sink (`innerHTML` and the like), so the pages' rule of writing server data as text is enforced,
/// not just followed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
     require-trusted-types-for 'script'";

/// FNV-1a of an asset, at compile time: its ETag.
pub(crate) const fn fingerprint(bytes: &[u8]) -> u64 {
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

/// An asset with the pages' security headers. `no-cache` with an ETag: the browser revalidates
/// each time (a 304 without body when unchanged), so a new server version's page and script are
/// never mixed.
pub(crate) fn asset(req: &HttpRequest, content_type: &'static str, body: &'static str, hash: u64) -> HttpResponse {
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

/// Asserts what the policy requires of a page: every `<script>` loads a file (no inline script),
/// no `<style>` element nor `style` attribute, no `on…=` handler attribute, nothing from another
/// origin; and that its `scripts` write no string into an HTML sink (Trusted Types would refuse
/// it) nor evaluate strings.
#[cfg(test)]
pub(crate) fn assert_no_inline_code(html: &str, scripts: &[&str]) {
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find("<script") {
        let tag_end = rest[start..].find('>').map_or(rest.len(), |i| start + i + 1);
        let tag = &rest[start..tag_end];
        assert!(tag.contains(" src="), "inline <script>: {tag}");
        assert!(
            rest[tag_end..].starts_with("</script>"),
            "a <script src> with a body: {tag}"
        );
        rest = &rest[tag_end..];
    }
    assert!(!lower.contains("<style"), "<style> element");
    assert!(!lower.contains("style="), "inline style attribute");
    let bytes = lower.as_bytes();
    for (i, window) in bytes.windows(3).enumerate() {
        if window[0].is_ascii_whitespace() && &window[1..] == b"on" {
            let name: String = lower[i + 1..].chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            let after = lower[i + 1 + name.len()..].trim_start();
            assert!(
                !(name.len() > 2 && after.starts_with('=')),
                "inline handler attribute {name}"
            );
        }
    }
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "another origin"
    );
    for script in scripts {
        for sink in [
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "srcdoc",
            "eval(",
            "new Function",
            "setTimeout(\"",
            "setInterval(\"",
        ] {
            assert!(!script.contains(sink), "scripts write server data as text only: {sink}");
        }
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "inline <script>")]
    fn an_inline_script_is_found() {
        assert_no_inline_code("<p>x</p><script>alert(1)</script>", &[]);
    }

    #[test]
    #[should_panic(expected = "inline handler attribute onclick")]
    fn a_handler_attribute_is_found() {
        assert_no_inline_code("<button type=\"button\" onclick = \"go()\">Go</button>", &[]);
    }

    #[test]
    #[should_panic(expected = "inline style attribute")]
    fn a_style_attribute_is_found() {
        assert_no_inline_code("<input style=\"width:1rem\">", &[]);
    }

    #[test]
    #[should_panic(expected = ".innerHTML")]
    fn an_html_sink_is_found() {
        assert_no_inline_code("<script src=\"a.js\" defer></script>", &["e.innerHTML = x;"]);
    }

    #[test]
    fn a_page_of_files_passes() {
        assert_no_inline_code(
            "<link rel=\"stylesheet\" href=\"a.css\"><script src=\"a.js\" defer></script>\
             <p>Only one person</p><button type=\"button\">Send</button>",
            &["e.textContent = x;"],
        );
    }
}
