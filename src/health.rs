//! The health checks: `/healthz` says the process answers (a fixed body, answered in the lane
//! before routing: load balancers ask it every few seconds), `/readyz` that the database does.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};

use crate::state::AppState;

pub const HEALTHZ: &str = "/healthz";

/// `{"status":"ok"}` as JSON, a fixed body made into a response directly (a `&str` answer
/// would be labelled `text/plain` first and then relabelled: two header inserts for one),
/// with room for the security headers the edge adds (the map never grows).
pub fn alive() -> Response {
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(CONTENT_TYPE, JSON);
    let mut res = Response::new(Body::from(r#"{"status":"ok"}"#));
    *res.headers_mut() = headers;
    res
}

/// `GET /healthz` through the router: `HEAD`, and `GET` if the lane is not in front.
pub async fn healthz() -> Response {
    alive()
}

/// Ready when the database answers; reports the schema version it is at.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let version = state.db.schema_version().await;
    match version {
        Ok(schema_version) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready", "schema_version": schema_version })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
        }
    }
}
