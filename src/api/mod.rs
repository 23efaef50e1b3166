//! The bearer JSON API under `/api/v1`: one file per resource, each with `router()`.

pub mod channels;
pub mod docs;
pub mod me;
pub mod model;
pub mod responses;
pub mod schemas;
pub mod tokens;
pub mod verify;
pub mod webhooks;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::state::AppState;

/// Each resource's routes: a path and its handlers by method.
pub type Routes = Vec<(&'static str, MethodRouter<AppState>)>;

/// Every API route behind the bearer tracking layer. It wraps each method's handler, not the
/// route's 405 fallback, so a wrong method is 405 with or without a token.
pub fn router(state: &AppState) -> Router<AppState> {
    let gate = &state.gate;
    [
        me::routes(),
        tokens::routes(),
        channels::routes(),
        verify::routes(),
        webhooks::routes(),
    ]
    .into_iter()
    .flatten()
    .fold(Router::new(), |router, (path, handlers)| {
        let track = crate::bearer::track::TrackLayer::new(gate.clone(), path);
        router.route(path, handlers.route_layer(track))
    })
}

/// `{"data": …}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": […], "next_cursor": …}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn data<T: Serialize>(value: T) -> Json<Data<T>> {
    Json(Data { data: value })
}

/// An answer that shows a secret, once: never stored by a cache (`no-store`), and, for a
/// creation (201), where the new resource lives (`location`).
pub fn shown_once<T: Serialize>(status: StatusCode, body: T, location: &str) -> Response {
    let mut res = (status, data(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, crate::web::headers::NO_STORE);
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(location)
    {
        h.insert(header::LOCATION, v);
    }
    res
}

/// JSON bodies whose rejections are our problem details: 400 malformed, 413 too large,
/// 415 wrong content type, 422 wrong shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        object(json_value(req, state).await?)
    }
}

/// An optional body (`Option<ApiJson<T>>`): none without a `Content-Type` or as JSON `null`,
/// else read as [`ApiJson`] reads it.
impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        match json_value(req, state).await? {
            serde_json::Value::Null => Ok(None),
            v => object(v).map(Some),
        }
    }
}

/// A JSON object read into `T` (422 otherwise).
fn object<T: DeserializeOwned>(v: serde_json::Value) -> Result<ApiJson<T>, AppError> {
    // serde would also read a struct from a JSON array; the API takes objects only.
    if !v.is_object() {
        return Err(body_error("the body must be a JSON object"));
    }
    serde_json::from_value(v)
        .map(ApiJson)
        .map_err(|e| body_error(&e.to_string()))
}

/// The body as JSON, or the problem its rejection is.
async fn json_value<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<serde_json::Value, AppError> {
    let rejection = match Json::<serde_json::Value>::from_request(req, state).await {
        Ok(Json(v)) => return Ok(v),
        Err(rejection) => rejection,
    };
    let status = rejection.status();
    let (code, detail) = match status.as_u16() {
        413 => (
            "payload_too_large",
            "The request body is larger than 64 KiB.".to_owned(),
        ),
        415 => (
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json.".to_owned(),
        ),
        422 => return Err(body_error(&rejection.body_text())),
        _ => (
            "invalid_json",
            format!("The body is not valid JSON: {}", rejection.body_text()),
        ),
    };
    Err(AppError::Body {
        status,
        code,
        detail,
    })
}

/// 422 with the reason under `body`.
fn body_error(reason: &str) -> AppError {
    let mut errors = crate::domain::token::FieldErrors::new();
    crate::domain::token::add_error(&mut errors, "body", reason.to_owned());
    AppError::Validation(errors)
}

/// 404 for anything missing or belonging to another workspace.
pub fn not_found() -> AppError {
    AppError::NotFound
}

pub fn ok<T: Serialize>(value: T) -> Response {
    data(value).into_response()
}
