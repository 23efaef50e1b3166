//! Security headers on every response: a Content-Security-Policy that lets pages load only
//! this origin's scripts (no inline scripts; htmx and Swagger UI are served by the binary) —
//! and anything else nothing at all —, no framing, no referrer leaks to other sites, no MIME
//! sniffing.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Inline styles stay allowed: Swagger UI sets some; scripts never run inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Everything that is not a page (the API's JSON, its errors, the health checks, forward
/// auth's empty answers, scripts and styles) is nothing a browser should render or run
/// anything for: the strictest policy, as GitHub's API sends (and OWASP's REST guidance), and
/// a short one on the hot path.
pub const STRICT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

// The values made once, at compile time: `HeaderValue::from_static` called at run time checks
// every byte of its text, per response (the page policy's 260 bytes were a tenth of a forward
// auth check's work).
const PAGE_POLICY: HeaderValue = HeaderValue::from_static(CSP);
const STRICT_POLICY: HeaderValue = HeaderValue::from_static(STRICT_CSP);
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
const DENY: HeaderValue = HeaderValue::from_static("DENY");
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

pub fn secure(res: &mut Response) {
    let page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let h = res.headers_mut();
    let policy = if page { PAGE_POLICY } else { STRICT_POLICY };
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    h.insert(header::REFERRER_POLICY, SAME_ORIGIN);
    h.insert(header::X_FRAME_OPTIONS, DENY);
}

/// Dashboard responses are never stored by a browser or proxy: signed-in pages show tokens,
/// members and forms with CSRF tokens, and a shared computer's back button must not show them
/// after sign-out.
pub async fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, NO_STORE);
    res
}
