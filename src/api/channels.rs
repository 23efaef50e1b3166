//! `GET /api/v1/channels` and `/channels/{id}`: only what the token's scope reaches.

use super::Routes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use super::model::ChannelObject;
use super::{Page, not_found, ok};
use crate::api::Data;
use crate::bearer::{AnyToken, Bearer, BearerBeforeRate};
use crate::db;
use crate::error::Problem;
use crate::error::{AppResult, BearerError};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/api/v1/channels", get(list)),
        ("/api/v1/channels/{id}", get(one)),
    ]
}

#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    summary = "Channels in the token's scope (any valid token)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The channels this token reaches", body = Page<ChannelObject>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AnyToken>,
) -> AppResult<Response> {
    let all = db::channels::list(&state.db, &caller.token().workspace_id).await?;
    let data: Vec<ChannelObject> = all
        .into_iter()
        .filter(|c| caller.reaches_channel(&c.id))
        .map(ChannelObject::from)
        .collect();
    Ok(Json(Page {
        data,
        next_cursor: None,
    })
    .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/channels/{id}",
    tag = "channels",
    summary = "One channel (any valid token; 403 outside its scope)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses(
        (status = 200, description = "The channel", body = Data<ChannelObject>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    BearerBeforeRate(caller, _): BearerBeforeRate<AnyToken>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let channel = db::channels::get(&state.db, &caller.token().workspace_id, &id)
        .await?
        .ok_or_else(not_found)?;
    if !caller.reaches_channel(&channel.id) {
        return Err(BearerError::ChannelNotAllowed.into());
    }
    caller.check_rate()?;
    Ok(ok(ChannelObject::from(channel)))
}
