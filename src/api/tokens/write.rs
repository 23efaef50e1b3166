//! `POST /api/v1/tokens` (the secret shown once) and `PATCH /api/v1/tokens/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::super::responses::{BodyErrors, Invalid, NotFound, Refusals};
use super::{base_for_create, build, ctx, object, with_secret};
use crate::api::model::{TokenBody, TokenObject, WithSecret};
use crate::api::{ApiJson, Data, ok};
use crate::bearer::{Bearer, TokensWrite};
use crate::error::AppResult;
use crate::ops;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    summary = "Create a token (tokens:write); the secret is shown once",
    security(("bearer" = [])),
    request_body = crate::api::schemas::TokenCreate,
    responses(
        (status = 201, description = "Created; the body holds the secret, shown only here", body = Data<WithSecret>),
        BodyErrors,
        Refusals,
        Invalid,
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<Response> {
    let draft = build(&state, body, base_for_create(&caller))?;
    let actor = caller.actor();
    let ctx = ctx(&state, &caller, &actor);
    let (t, secret) = ops::create(&ctx, &draft, &state.config.token_prefix).await?;
    Ok(with_secret(&state, StatusCode::CREATED, &t, &secret))
}

#[utoipa::path(
    patch,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    summary = "Update any subset of a token's fields (tokens:write)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    request_body = crate::api::schemas::TokenUpdate,
    responses(
        (status = 200, description = "The updated token", body = Data<TokenObject>),
        BodyErrors,
        Refusals,
        NotFound,
        Invalid,
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<Response> {
    let actor = caller.actor();
    let t = ops::update(&ctx(&state, &caller, &actor), &id, |old| {
        build(&state, body, old.draft().into())
    })
    .await?;
    Ok(ok(object(&state, &t)))
}
