//! `/api/v1/webhooks` (the `admin` permission): endpoints of the token's workspace, their test
//! event and their deliveries. Changes go through `ops::webhooks`, as the dashboard's do.

pub mod model;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};

use super::responses::{BodyErrors, Invalid, NotFound, Refusals};
use super::{ApiJson, Data, Page, Routes, ok};
use crate::bearer::{AdminOnly, Bearer, Caller};
use crate::db;
use crate::error::AppResult;
use crate::ops::webhooks::{self as hooks, WebhookCtx};
use crate::state::AppState;
use model::{DeliveryObject, TestQueued, WebhookBody, WebhookObject, WebhookWithSecret};

pub fn routes() -> Routes {
    vec![
        ("/api/v1/webhooks", get(list).post(create)),
        (
            "/api/v1/webhooks/{id}",
            get(one).patch(update).delete(remove),
        ),
        ("/api/v1/webhooks/{id}/test", post(test)),
        ("/api/v1/webhooks/{id}/deliveries", get(deliveries)),
    ]
}

/// Deliveries listed per endpoint (newest first).
const DELIVERIES: i64 = 100;

/// The calling token acts on its own workspace.
fn ctx<'a>(state: &'a AppState, caller: &'a Caller) -> WebhookCtx<'a> {
    WebhookCtx {
        state,
        workspace_id: &caller.token().workspace_id,
        actor: caller.actor(),
        ip: Some(caller.ip),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "The workspace's webhook endpoints (admin)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every endpoint of the workspace", body = Page<WebhookObject>),
        Refusals,
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
) -> AppResult<Response> {
    let all = db::webhooks::list(&state.db, &caller.token().workspace_id).await?;
    let data = all.iter().map(WebhookObject::from).collect();
    Ok(Json(Page {
        data,
        next_cursor: None,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Add an endpoint (admin); its signing secret is shown once",
    security(("bearer" = [])),
    request_body = WebhookBody,
    responses(
        (status = 201, description = "Created; the body holds the signing secret, shown only here", body = Data<WebhookWithSecret>),
        BodyErrors,
        Refusals,
        Invalid,
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> AppResult<Response> {
    let (endpoint, secret) = hooks::create(&ctx(&state, &caller), body.into_input()).await?;
    let body = WebhookWithSecret {
        webhook: WebhookObject::from(&endpoint),
        secret,
    };
    let location = format!("/api/v1/webhooks/{}", endpoint.id);
    Ok(super::shown_once(StatusCode::CREATED, body, &location))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "One endpoint (admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint", body = Data<WebhookObject>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let endpoint = hooks::get(&ctx(&state, &caller), &id).await?;
    Ok(ok(WebhookObject::from(&endpoint)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Edit an endpoint: URL, description, events, enabled (admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "The endpoint as edited", body = Data<WebhookObject>),
        BodyErrors,
        Refusals,
        NotFound,
        Invalid,
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> AppResult<Response> {
    let endpoint = hooks::update(&ctx(&state, &caller), &id, body.into_input()).await?;
    Ok(ok(WebhookObject::from(&endpoint)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Delete an endpoint and its deliveries (admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    hooks::delete(&ctx(&state, &caller), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/test",
    tag = "webhooks",
    summary = "Send a `webhook.test` event to this endpoint (admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued; see its delivery", body = Data<TestQueued>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let delivery_id = hooks::send_test(&ctx(&state, &caller), &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        super::data(TestQueued { delivery_id }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "The endpoint's last 100 deliveries, newest first (admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Deliveries with their state, attempts and next retry", body = Page<DeliveryObject>),
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AdminOnly>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let endpoint = hooks::get(&ctx(&state, &caller), &id).await?;
    let rows =
        db::deliveries::list(&state.db, &endpoint.workspace_id, &endpoint.id, DELIVERIES).await?;
    let data = rows.iter().map(DeliveryObject::from).collect();
    Ok(Json(Page {
        data,
        next_cursor: None,
    })
    .into_response())
}
