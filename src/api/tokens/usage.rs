//! `GET /api/v1/tokens/{id}/usage`: totals, daily counts and recent requests, unflushed
//! usage included.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::responses::{NotFound, Refusals};
use super::load;
use crate::api::{Data, ok};
use crate::bearer::{Bearer, TokensRead};
use crate::domain::now;
use crate::domain::token::rfc3339;
use crate::error::AppResult;
use crate::state::AppState;

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
    /// The hint of the secret the request used (during an overlap: the current or the
    /// previous one); empty for requests recorded before keyward kept it.
    #[schema(example = "kw_AbCd…wxyz")]
    hint: String,
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
        Refusals,
        NotFound,
    )
)]
pub(crate) async fn usage(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensRead>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = load(&state, &caller, &id).await?;
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
            hint: r.hint,
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
