//! CSRF protection: a per-session token that every state-changing dashboard request carries,
//! as the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends it via
//! `hx-headers`). One middleware guards every such route, so no form can forget it.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::domain::ids::{constant_time_eq, random_base62};
use crate::error::AppError;

const KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
/// Dashboard form bodies are small; this matches the API's body limit.
pub const MAX_FORM: usize = 64 * 1024;

/// The session's CSRF token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(KEY)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
    {
        return Ok(t);
    }
    rotate(session).await
}

/// Replaces the token (at sign-in).
pub async fn rotate(session: &Session) -> Result<String, AppError> {
    let t = random_base62(32);
    session
        .insert(KEY, &t)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(t)
}

fn form_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

/// 413, rendered as the friendly error page by the error layer.
fn too_large() -> AppError {
    AppError::Body {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "payload_too_large",
        detail: "The form is larger than 64 KiB.".into(),
    }
}

/// Middleware: refuses a state-changing request without the session's token (403).
pub async fn guard(session: Session, req: Request, next: Next) -> Response {
    // The dashboard's state-changing routes are all POST (HTML forms); other methods find no
    // route and get 405 from the router, so they need no token to be refused.
    if *req.method() != Method::POST {
        return next.run(req).await;
    }
    let expected = match session.get::<String>(KEY).await {
        Ok(Some(t)) => t,
        Ok(None) => return AppError::Csrf.into_response(),
        Err(e) => return AppError::Internal(e.to_string()).into_response(),
    };
    let header_token = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (req, presented) = match header_token {
        Some(t) => (req, Some(t)),
        None => {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return AppError::Csrf.into_response();
            }
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
                return too_large().into_response();
            };
            let presented = form_field(&bytes);
            (Request::from_parts(parts, Body::from(bytes)), presented)
        }
    };
    match presented {
        Some(t) if constant_time_eq(&t, &expected) => next.run(req).await,
        _ => AppError::Csrf.into_response(),
    }
}
