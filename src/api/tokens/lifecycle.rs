//! Handing out and ending credentials: regenerate, revoke, reactivate, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::responses::{NotFound, Refusals};
use super::{actor, ctx, object, with_secret};
use crate::api::model::{TokenObject, WithSecret};
use crate::api::{Data, ok};
use crate::bearer::{Bearer, Caller, TokensDelete, TokensWrite};
use crate::error::AppResult;
use crate::ops;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/regenerate",
    tag = "tokens",
    summary = "Regenerate the secret (tokens:write); the old one stops working at once",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token with its new secret, shown only here", body = Data<WithSecret>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn regenerate(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let actor = actor(&caller);
    let (t, secret) = ops::regenerate(
        &ctx(&state, &caller, &actor),
        &id,
        &state.config.token_prefix,
    )
    .await?;
    Ok(with_secret(&state, StatusCode::OK, &t, &secret))
}

async fn set_revoked(
    state: AppState,
    caller: Caller,
    id: String,
    revoked: bool,
) -> AppResult<Response> {
    let actor = actor(&caller);
    let t = ops::set_revoked(&ctx(&state, &caller, &actor), &id, revoked).await?;
    Ok(ok(object(&state, &t)))
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/revoke",
    tag = "tokens",
    summary = "Revoke a token (tokens:write)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The revoked token", body = Data<TokenObject>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_revoked(state, caller, id, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/reactivate",
    tag = "tokens",
    summary = "Reactivate a revoked token (tokens:write)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The reactivated token", body = Data<TokenObject>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn reactivate(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_revoked(state, caller, id, false).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    summary = "Delete a token permanently (tokens:delete)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensDelete>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let actor = actor(&caller);
    ops::delete(&ctx(&state, &caller, &actor), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
