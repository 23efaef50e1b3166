//! `/api/v1/tokens`: list, read, create, update, regenerate, revoke, reactivate, delete, usage.

use std::collections::HashMap;

use super::Routes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::Data;
use crate::error::Problem;

use super::model::{TokenBody, TokenObject, WithSecret};
use super::{ApiJson, Page, not_found, ok};
use crate::bearer::{Bearer, Caller, TokensDelete, TokensRead, TokensWrite};
use crate::db::audit::Actor;
use crate::db::tokens::{Creator, ListQuery, Token};
use crate::db::{self};
use crate::domain::draft::{self, DraftBase};
use crate::domain::grant::Grant;
use crate::domain::ip::IpAllowlist;
use crate::domain::now;
use crate::domain::secret::Secret;
use crate::domain::status::Status;
use crate::domain::token::{FieldErrors, TokenDraft, TokenName, add_error, rfc3339};
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/api/v1/tokens", get(list).post(create)),
        ("/api/v1/tokens/{id}", get(one).patch(update).delete(remove)),
        ("/api/v1/tokens/{id}/regenerate", post(regenerate)),
        ("/api/v1/tokens/{id}/revoke", post(revoke)),
        ("/api/v1/tokens/{id}/reactivate", post(reactivate)),
        ("/api/v1/tokens/{id}/usage", get(usage)),
    ]
}

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

fn object(state: &AppState, t: Token) -> TokenObject {
    super::token_object(state, &t)
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> AppResult<Token> {
    db::tokens::get(&state.db, &caller.token().workspace_id, id)
        .await?
        .ok_or_else(not_found)
}

fn encode_cursor(t: &Token) -> String {
    format!("{}.{}", t.created_at, t.id)
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    summary = "List tokens (tokens:read)",
    security(("bearer" = [])),
    params(
        ("status" = inline(Option<super::schemas::StatusFilter>), Query, description = "Only tokens with this status; `all` or empty = every status"),
        ("q" = Option<String>, Query, max_length = 100, description = "Only tokens whose name contains this text (at most 100 characters)"),
        ("cursor" = Option<String>, Query, pattern = r"^(-?[0-9]{1,18}\..*)?$", description = "`next_cursor` of the previous page (opaque; anything else is a 422)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
    ),
    responses(
        (status = 200, description = "A page of tokens, newest first", body = Page<TokenObject>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 422, description = "`validation_failed`, with an `errors` map per field", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-validation_failed", "title": "Unprocessable Entity", "status": 422, "detail": "Some fields are invalid.", "code": "validation_failed", "errors": {"name": ["is required"]}})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::new();
    let status = match q.get("status").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(s) => Status::parse(s).or_else(|| {
            add_error(
                &mut errors,
                "status",
                "must be one of active, expiring_soon, expired, revoked",
            );
            None
        }),
    };
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                add_error(
                    &mut errors,
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        },
    };
    let after = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let parsed = c
                .split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())));
            if parsed.is_none() {
                add_error(
                    &mut errors,
                    "cursor",
                    "is not a cursor returned by this endpoint",
                );
            }
            parsed
        }
    };
    let search = q.get("q").cloned().unwrap_or_default();
    if search.chars().count() > TokenName::MAX {
        add_error(
            &mut errors,
            "q",
            format!("must be at most {} characters", TokenName::MAX),
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let query = ListQuery {
        status,
        search,
        after,
        limit,
    };
    let (tokens, more) = db::tokens::list(&state.db, &caller.token().workspace_id, &query).await?;
    let next_cursor = tokens.last().filter(|_| more).map(encode_cursor);
    let data = tokens.into_iter().map(|t| object(&state, t)).collect();
    Ok(Json(Page { data, next_cursor }).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    summary = "Get a token (tokens:read)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token", body = Data<TokenObject>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = load(&state, &caller, &id).await?;
    Ok(ok(object(&state, t)))
}

/// What a create's absent fields fall back to: a restricted token's children inherit its
/// channel scope, IP allowlist and expiry; an admin's get none of them.
fn base_for_create(caller: &Caller) -> DraftBase {
    let own = caller.token();
    let restricted = !caller.is_admin();
    DraftBase {
        channels: own.channel_ids(),
        ip_allowlist: if restricted {
            own.ip_allowlist.clone()
        } else {
            IpAllowlist::default()
        },
        expires_at: if restricted { own.expires_at } else { None },
        ..DraftBase::default()
    }
}

/// Applies a body over a base and validates every field (422 lists each problem).
fn build(state: &AppState, body: TokenBody, base: DraftBase) -> AppResult<TokenDraft> {
    draft::validate(
        body.into_input(),
        base,
        &state.config.permission_catalog,
        now(),
    )
    .map_err(AppError::Validation)
}

fn actor(caller: &Caller) -> Actor {
    Actor::token(&caller.token().id, &caller.token().name)
}

/// A token acts within its own grant unless it holds `admin`.
fn ctx<'a>(state: &'a AppState, caller: &'a Caller, actor: &'a Actor) -> ops::Ctx<'a> {
    let tiers = state.config.tiers();
    ops::Ctx {
        db: &state.db,
        workspace_id: &caller.token().workspace_id,
        actor,
        ip: Some(caller.ip),
        cache: Some(&state.gate.tokens),
        grant: if caller.is_admin() {
            Grant::Full
        } else {
            Grant::Within(caller.token().shape(tiers))
        },
        tiers,
    }
}

/// A response that carries a secret: never cached.
fn with_secret(state: &AppState, status: StatusCode, t: Token, secret: &Secret) -> Response {
    let location = format!("/api/v1/tokens/{}", t.id);
    let body = WithSecret {
        token: object(state, t),
        secret: secret.expose().to_owned(),
    };
    let mut res = (status, super::data(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    summary = "Create a token (tokens:write); the secret is shown once",
    security(("bearer" = [])),
    request_body = super::schemas::TokenCreate,
    responses(
        (status = 201, description = "Created; the body holds the secret, shown only here", body = Data<WithSecret>),
        (status = 400, description = "`invalid_json`: the body is not valid JSON", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-invalid_json", "title": "Bad Request", "status": 400, "detail": "The body is not valid JSON", "code": "invalid_json"})),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-payload_too_large", "title": "Payload Too Large", "status": 413, "detail": "The request body is larger than 64 KiB.", "code": "payload_too_large"})),
        (status = 415, description = "`unsupported_media_type`: send `Content-Type: application/json`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-unsupported_media_type", "title": "Unsupported Media Type", "status": 415, "detail": "Send the body as JSON with Content-Type: application/json.", "code": "unsupported_media_type"})),
        (status = 422, description = "`validation_failed`, with an `errors` map per field", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-validation_failed", "title": "Unprocessable Entity", "status": 422, "detail": "Some fields are invalid.", "code": "validation_failed", "errors": {"name": ["is required"]}})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<Response> {
    let draft = build(&state, body, base_for_create(&caller))?;
    let actor = actor(&caller);
    let by = Creator {
        kind: "token",
        id: Some(&caller.token().id),
        name: &caller.token().name,
    };
    let (t, secret) = ops::create(
        &ctx(&state, &caller, &actor),
        &draft,
        &state.config.token_prefix,
        &by,
    )
    .await?;
    Ok(with_secret(&state, StatusCode::CREATED, t, &secret))
}

#[utoipa::path(
    patch,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    summary = "Update any subset of a token's fields (tokens:write)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    request_body = super::schemas::TokenUpdate,
    responses(
        (status = 200, description = "The updated token", body = Data<TokenObject>),
        (status = 400, description = "`invalid_json`: the body is not valid JSON", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-invalid_json", "title": "Bad Request", "status": 400, "detail": "The body is not valid JSON", "code": "invalid_json"})),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-payload_too_large", "title": "Payload Too Large", "status": 413, "detail": "The request body is larger than 64 KiB.", "code": "payload_too_large"})),
        (status = 415, description = "`unsupported_media_type`: send `Content-Type: application/json`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-unsupported_media_type", "title": "Unsupported Media Type", "status": 415, "detail": "Send the body as JSON with Content-Type: application/json.", "code": "unsupported_media_type"})),
        (status = 422, description = "`validation_failed`, with an `errors` map per field", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-validation_failed", "title": "Unprocessable Entity", "status": 422, "detail": "Some fields are invalid.", "code": "validation_failed", "errors": {"name": ["is required"]}})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<Response> {
    let actor = actor(&caller);
    let t = ops::update(&ctx(&state, &caller, &actor), &id, |old| {
        build(&state, body, old.draft().into())
    })
    .await?;
    Ok(ok(object(&state, t)))
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/regenerate",
    tag = "tokens",
    summary = "Regenerate the secret (tokens:write); the old one stops working at once",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token with its new secret, shown only here", body = Data<WithSecret>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
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
    Ok(with_secret(&state, StatusCode::OK, t, &secret))
}

async fn set_revoked(
    state: AppState,
    caller: Caller,
    id: String,
    revoked: bool,
) -> AppResult<Response> {
    let actor = actor(&caller);
    let t = ops::set_revoked(&ctx(&state, &caller, &actor), &id, revoked).await?;
    Ok(ok(object(&state, t)))
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
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
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
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
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
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
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

#[derive(Serialize, ToSchema)]
pub struct DayCount {
    date: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RecentRequest {
    at: String,
    method: String,
    path: String,
    status: i64,
    ip: String,
}

#[derive(Serialize, ToSchema)]
pub struct Usage {
    request_count: i64,
    last_used_at: Option<String>,
    last_used_ip: Option<String>,
    /// The last 30 days, oldest first, zeros included.
    daily: Vec<DayCount>,
    /// Newest first, at most 100.
    recent: Vec<RecentRequest>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens/{id}/usage",
    tag = "tokens",
    summary = "Usage of a token: totals, daily counts, recent requests (tokens:read)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "Usage, including requests not yet written to the database", body = Data<Usage>),
        (status = 401, description = "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-token_revoked", "title": "Unauthorized", "status": 401, "detail": "The token has been revoked.", "code": "token_revoked"})),
        (status = 403, description = "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-insufficient_permission", "title": "Forbidden", "status": 403, "detail": "The token lacks the permission this request needs.", "code": "insufficient_permission"})),
        (status = 404, description = "`not_found` (also for another workspace's ids)", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-not_found", "title": "Not Found", "status": 404, "detail": "There is nothing at this address.", "code": "not_found"})),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json", example = json!({"type": "/docs/api#error-rate_limited", "title": "Too Many Requests", "status": 429, "detail": "Too many requests for this token or workspace. Retry after the time in Retry-After.", "code": "rate_limited"})),
    )
)]
pub(crate) async fn usage(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let mut t = load(&state, &caller, &id).await?;
    state.gate.overlay_usage(&mut t);
    let daily = state
        .gate
        .usage
        .daily(&state.db, &t.id, now(), 30)
        .await?
        .into_iter()
        .map(|(day, count)| DayCount {
            date: crate::bearer::usage::day_of(day),
            count,
        })
        .collect();
    let recent = state
        .gate
        .usage
        .recent(&state.db, &t.id, crate::bearer::usage::RECENT_KEPT as usize)
        .await?
        .into_iter()
        .map(|r| RecentRequest {
            at: rfc3339(r.at),
            method: r.method,
            path: r.path,
            status: r.status,
            ip: r.ip,
        })
        .collect();
    Ok(ok(Usage {
        request_count: t.request_count,
        last_used_at: t.last_used_at.map(rfc3339),
        last_used_ip: t.last_used_ip,
        daily,
        recent,
    }))
}
