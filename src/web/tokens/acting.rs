//! What the token pages' actions share: the token as they show it, the context they act in,
//! and a form page's status.

use axum::http::StatusCode;

use crate::auth::Member;
use crate::db::{self, tokens::Token};
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;

/// A token with its usage not yet flushed added, read while no flush commits.
pub(super) async fn load(state: &AppState, m: &Member, id: &str) -> AppResult<Token> {
    state
        .gate
        .token(&m.workspace.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A form page's status: 422 when it shows an error.
pub(super) fn form_status(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// The context of an admin's action on a token of the workspace in the path (full grant).
pub(super) fn ctx<'a>(
    state: &'a AppState,
    m: &'a Member,
    actor: &'a db::audit::Actor,
    ip: std::net::IpAddr,
) -> ops::Ctx<'a> {
    ops::Ctx::new(
        state,
        &m.workspace.id,
        actor,
        Some(ip),
        crate::ops::Acting::Full,
    )
}
