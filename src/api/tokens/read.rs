//! `GET /api/v1/tokens` (keyset pages, status filter, name search) and `GET /tokens/{id}`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Json, Response};

use super::super::responses::{Invalid, NotFound, Refusals};
use super::{load, object};
use crate::api::model::TokenObject;
use crate::api::{Data, Page, ok};
use crate::bearer::{Bearer, TokensRead};
use crate::db::tokens::{ListQuery, Token};
use crate::domain::status::Status;
use crate::domain::token::{FieldErrors, TokenName, add_error};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

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
        ("status" = inline(Option<crate::api::schemas::StatusFilter>), Query, description = "Only tokens with this status; `all` or empty = every status"),
        ("q" = Option<String>, Query, max_length = 100, description = "Only tokens whose name contains this text (at most 100 characters)"),
        ("cursor" = Option<String>, Query, pattern = r"^(-?[0-9]{1,18}\..*)?$", description = "`next_cursor` of the previous page (opaque; anything else is a 422)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
    ),
    responses(
        (status = 200, description = "A page of tokens, newest first", body = Page<TokenObject>),
        Refusals,
        Invalid,
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let query = list_query(&q)?;
    let (tokens, more) = state
        .gate
        .tokens(&caller.token().workspace_id, &query)
        .await?;
    let next_cursor = tokens.last().filter(|_| more).map(encode_cursor);
    let data = tokens.iter().map(|t| object(&state, t)).collect();
    Ok(Json(Page { data, next_cursor }).into_response())
}

/// The list's query parameters, each checked (422 names every bad one).
fn list_query(q: &HashMap<String, String>) -> AppResult<ListQuery> {
    let mut errors = FieldErrors::new();
    let mut check = |field: &str, r: Result<(), String>| {
        if let Err(m) = r {
            add_error(&mut errors, field, m);
        }
    };
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    check(
        "status",
        status_of(q.get("status")).map(|s| query.status = s),
    );
    check("limit", limit_of(q.get("limit")).map(|l| query.limit = l));
    check(
        "cursor",
        cursor_of(q.get("cursor")).map(|c| query.after = c),
    );
    query.search = q.get("q").cloned().unwrap_or_default();
    if query.search.chars().count() > TokenName::MAX {
        check(
            "q",
            Err(format!("must be at most {} characters", TokenName::MAX)),
        );
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// `?status=`: a status, or `all` or empty for every status.
fn status_of(v: Option<&String>) -> Result<Option<Status>, String> {
    match v.map(String::as_str) {
        None | Some("") | Some("all") => Ok(None),
        Some(s) => Status::parse(s)
            .map(Some)
            .ok_or_else(|| "must be one of active, expiring_soon, expired, revoked".to_owned()),
    }
}

fn limit_of(v: Option<&String>) -> Result<i64, String> {
    match v.map(|l| l.parse::<i64>()) {
        None => Ok(DEFAULT_LIMIT),
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be an integer from 1 to {MAX_LIMIT}")),
    }
}

/// `?cursor=`: a previous page's `next_cursor` (`created_at.id`), or empty for the first page.
fn cursor_of(v: Option<&String>) -> Result<Option<(i64, String)>, String> {
    match v.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .split_once('.')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
            .map(Some)
            .ok_or_else(|| "is not a cursor returned by this endpoint".to_owned()),
    }
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
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = load(&state, &caller, &id).await?;
    Ok(ok(object(&state, &t)))
}
