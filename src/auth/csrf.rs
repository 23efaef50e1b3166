//! CSRF protection: a token that every state-changing dashboard request carries, as the
//! `csrf_token` form field or the `X-CSRF-Token` header (htmx sends it via `hx-headers`). One
//! middleware guards every such route, so no form can forget it. Signed-in forms carry their
//! session's token; sign-in and setup, shown to visitors without a session, a token signed for
//! their form cookie (`super::csrf_cookie`).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::csrf_cookie;
use crate::domain::ids::{constant_time_eq, random_base62};
use crate::error::AppError;
use crate::state::AppState;

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

/// The forms shown before sign-in: checked against the form cookie (`csrf_cookie`), since
/// their visitors have no session.
const COOKIE_FORMS: [&str; 3] = ["/login", "/setup", "/invite"];

/// Middleware: refuses a state-changing request without a valid token (403). Sign-in and
/// setup check the form cookie's signed token; every other form the session's token.
pub async fn guard(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    // The dashboard's state-changing routes are all POST (HTML forms); other methods find no
    // route and get 405 from the router, so they need no token to be refused.
    if *req.method() != Method::POST {
        return next.run(req).await;
    }
    let (req, presented) = match presented(req).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let checked = if COOKIE_FORMS.contains(&req.uri().path()) {
        csrf_cookie::check(&state, req.headers(), presented.as_deref()).await
    } else {
        matches_session(&session, presented.as_deref()).await
    };
    match checked {
        Ok(true) => next.run(req).await,
        Ok(false) => AppError::Csrf.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The token a request presents (the header, else the form field), and the request with its
/// body put back.
async fn presented(req: Request) -> Result<(Request, Option<String>), AppError> {
    let header_token = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if header_token.is_some() {
        return Ok((req, header_token));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM).await.map_err(|_| too_large())?;
    let presented = form_field(&bytes);
    Ok((Request::from_parts(parts, Body::from(bytes)), presented))
}

async fn matches_session(session: &Session, presented: Option<&str>) -> Result<bool, AppError> {
    let expected = session
        .get::<String>(KEY)
        .await
        .map_err(|e| AppError::Internal(format!("session: {e}")))?;
    Ok(matches!((expected, presented), (Some(e), Some(p)) if constant_time_eq(p, &e)))
}
