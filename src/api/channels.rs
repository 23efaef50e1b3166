//! `GET /api/v1/channels` and `/channels/{id}`: only what the token's scope reaches.

use super::Routes;
use super::responses::{NotFound, Refusals};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use super::model::ChannelObject;
use super::{Page, not_found, ok};
use crate::api::Data;
use crate::bearer::{AnyToken, Bearer, BearerBeforeRate};
use crate::db;
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
        Refusals,
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
        Refusals,
        NotFound,
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
