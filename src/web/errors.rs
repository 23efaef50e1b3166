//! Error rendering at the edge: problem+json under `/api`, a friendly page elsewhere. Covers
//! our own `AppError`s and the framework's bare 404/405/413 responses alike.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::error::{ErrorInfo, problem};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    detail: &'a str,
    code: &'a str,
}

/// Default code and human detail for a status without an `AppError` behind it.
pub fn default_for(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad_request", "The request could not be understood."),
        401 => ("unauthorized", "You need to sign in."),
        403 => ("forbidden", "You are not allowed to do that."),
        404 => ("not_found", "There is nothing at this address."),
        405 => (
            "method_not_allowed",
            "This address does not accept that method.",
        ),
        408 => ("request_timeout", "The request took too long."),
        413 => (
            "payload_too_large",
            "The request body is larger than 64 KiB.",
        ),
        415 => (
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).",
        ),
        422 => ("validation_failed", "Some fields are invalid."),
        429 => ("rate_limited", "Too many requests. Try again later."),
        _ if status.is_server_error() => ("internal_error", "Something went wrong on our side."),
        _ => ("error", "The request failed."),
    }
}

/// Headers of the original response that the replacement must keep.
const KEEP: [header::HeaderName; 4] = [
    header::ALLOW,
    header::RETRY_AFTER,
    header::WWW_AUTHENTICATE,
    header::CACHE_CONTROL,
];

/// Gives an error response its final form: problem+json under `/api` (`api`), the error
/// page elsewhere; other responses pass through.
pub fn render(api: bool, res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let info = res.extensions().get::<ErrorInfo>().cloned();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // Pages a handler rendered itself (a form with inline errors) and problems pass through.
    let rendered_html = info.is_none() && content_type.starts_with("text/html");
    let already_problem = content_type.starts_with("application/problem+json");
    if (api && already_problem) || (!api && rendered_html) {
        return res;
    }
    let (default_code, default_detail) = default_for(status);
    let (code, detail) = match &info {
        Some(i) => (i.code, i.detail.clone()),
        None => (default_code, default_detail.to_owned()),
    };
    let mut out = if api {
        problem(status, code, &detail, None)
    } else {
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            detail: &detail,
            code,
        };
        let html = page.render().unwrap_or_else(|_| detail.clone());
        (status, Html(html)).into_response()
    };
    for name in KEEP {
        if let Some(v) = res.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    if let Some(i) = info {
        out.extensions_mut().insert(i);
    }
    if !api {
        out.headers_mut()
            .insert(header::CACHE_CONTROL, crate::web::headers::NO_STORE);
    }
    out
}
