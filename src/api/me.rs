//! `GET /api/v1/me`: the calling token and its workspace.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::model::TokenObject;
use super::{not_found, ok};
use crate::auth::bearer::{AnyToken, Bearer};
use crate::db::{self, workspaces::Workspace};
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

#[derive(Serialize)]
struct Me {
    workspace: Workspace,
    token: TokenObject,
}

async fn me(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AnyToken>,
) -> AppResult<Response> {
    let workspace = db::workspaces::by_id(&state.db, &caller.token.workspace_id)
        .await?
        .ok_or_else(not_found)?;
    let mut token = caller.token;
    state.overlay_usage(&mut token);
    Ok(ok(Me {
        workspace,
        token: TokenObject::new(&token, crate::domain::now(), &state.config),
    }))
}
