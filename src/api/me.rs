//! `GET /api/v1/me`: the calling token and its workspace.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use crate::api::Data;
use crate::error::Problem;

use super::model::TokenObject;
use super::ok;
use crate::auth::bearer::{AnyToken, Bearer};
use crate::db::workspaces::Workspace;
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub workspace: Workspace,
    pub token: TokenObject,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    summary = "The calling token and its workspace (any valid token)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calling token", body = Data<Me>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AnyToken>,
) -> AppResult<Response> {
    Ok(ok(Me {
        workspace: caller.workspace().clone(),
        token: super::token_object(&state, caller.token()),
    }))
}
