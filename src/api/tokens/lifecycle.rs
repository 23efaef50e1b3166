//! Handing out and ending credentials: regenerate, roll (with an overlap) and ending the
//! overlap, revoke, reactivate, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::responses::{BodyErrors, Conflict, Invalid, NotFound, Refusals};
use super::{ctx, object, with_secret};
use crate::api::model::{TokenObject, WithSecret};
use crate::api::{ApiJson, Data, ok};
use crate::bearer::{Bearer, Caller, TokensDelete, TokensWrite};
use crate::domain::overlap::Overlap;
use crate::error::AppError;
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
    let actor = caller.actor();
    let (t, secret) = ops::regenerate(
        &ctx(&state, &caller, &actor),
        &id,
        &state.config.token_prefix,
    )
    .await?;
    Ok(with_secret(&state, StatusCode::OK, &t, &secret))
}

/// `POST /tokens/{id}/roll`'s body; an absent body or field means no overlap.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollBody {
    /// Seconds the current secret keeps working beside the new one (0 to 604800 = 7 days;
    /// 0 or absent: it stops at once, as with regenerate).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 604800)]
    pub previous_secret_expires_in: Option<serde_json::Number>,
}

impl RollBody {
    /// The overlap asked for: a whole number of seconds (JSON Schema's integers include
    /// `60.0`), absent = none.
    fn overlap(&self) -> AppResult<Overlap> {
        let secs = match &self.previous_secret_expires_in {
            None => Some(0),
            Some(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() <= 1e9)
                    .map(|f| f as i64)
            }),
        };
        secs.ok_or_else(|| "must be a whole number of seconds".to_owned())
            .and_then(Overlap::from_secs)
            .map_err(|e| AppError::invalid("previous_secret_expires_in", e))
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/roll",
    tag = "tokens",
    summary = "Roll the secret (tokens:write); the old one keeps working for the overlap asked",
    description = "A new secret, shown only here. The current secret becomes the previous one and authenticates as the same token (same id, permissions, budgets and usage) until `previous_secret_expires_at`; afterwards it is `invalid_token`. Rolling during an overlap ends the earlier previous secret at once. Needs the whole token within the caller's grant, like regenerate.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    request_body(content = Option<RollBody>, description = "Optional; `{}`, `null` or no body = no overlap"),
    responses(
        (status = 200, description = "The token with its new secret, shown only here, and `previous_secret_expires_at`", body = Data<WithSecret>),
        BodyErrors,
        Refusals,
        NotFound,
        Invalid,
    )
)]
pub(crate) async fn roll(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
    body: Option<ApiJson<RollBody>>,
) -> AppResult<Response> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let overlap = body.overlap()?;
    let actor = caller.actor();
    let (t, secret) = ops::roll(
        &ctx(&state, &caller, &actor),
        &id,
        &state.config.token_prefix,
        overlap,
    )
    .await?;
    Ok(with_secret(&state, StatusCode::OK, &t, &secret))
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/end-overlap",
    tag = "tokens",
    summary = "End a roll's overlap now (tokens:write): the previous secret stops working",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token, `previous_secret_expires_at` now null", body = Data<TokenObject>),
        Refusals,
        NotFound,
        Conflict,
    )
)]
pub(crate) async fn end_overlap(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let actor = caller.actor();
    let t = ops::end_overlap(&ctx(&state, &caller, &actor), &id).await?;
    Ok(ok(object(&state, &t)))
}

async fn set_revoked(
    state: AppState,
    caller: Caller,
    id: String,
    revoked: bool,
) -> AppResult<Response> {
    let actor = caller.actor();
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
    let actor = caller.actor();
    ops::delete(&ctx(&state, &caller, &actor), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
