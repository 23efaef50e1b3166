//! Static assets compiled into the binary, so it runs from any directory and needs no CDN.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::state::AppState;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const FILES: &[(&str, &str, &[u8])] = &[
    ("docs.js", JS, include_bytes!("../../static/docs.js")),
    (
        "swagger/swagger-ui.css",
        CSS,
        include_bytes!("../../static/swagger/swagger-ui.css"),
    ),
    (
        "swagger/swagger-ui-bundle.js",
        JS,
        include_bytes!("../../static/swagger/swagger-ui-bundle.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/htmx.min.js"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{*file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let (_, mime, bytes) = FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or(AppError::NotFound)?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(res)
}
