//! Security headers on every response: a Content-Security-Policy that allows only this
//! origin's scripts (no inline scripts; htmx and Swagger UI are served by the binary) — and
//! nothing at all for JSON —, no framing, no referrer leaks to other sites, no MIME sniffing.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Inline styles stay allowed: Swagger UI sets some; scripts never run inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// JSON (the API, its errors, the health checks) is data no browser should render or run
/// anything for: the strictest policy, as GitHub's API sends (and OWASP's REST guidance), and a
/// short one on the hot path.
pub const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

pub fn secure(res: &mut Response) {
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| is_json(t.as_bytes()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if json { JSON_CSP } else { CSP }),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn is_json(content_type: &[u8]) -> bool {
    content_type.starts_with(b"application/json")
        || content_type.starts_with(b"application/problem+json")
}

/// Dashboard responses are never stored by a browser or proxy: signed-in pages show tokens,
/// members and forms with CSRF tokens, and a shared computer's back button must not show them
/// after sign-out.
pub async fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
