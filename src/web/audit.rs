//! Developer → Audit log: who did what to which token, when and from where.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::tokens_view::When;
use super::{Frame, render};
use crate::auth::Member;
use crate::db::{self, audit::Entry};
use crate::domain::now;
use crate::error::AppResult;
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/w/{slug}/settings/developer/audit-log", get(page))
}

#[derive(Deserialize)]
struct AuditParams {
    #[serde(default)]
    token: String,
    before: Option<i64>,
}

struct Row {
    at: When,
    entry: Entry,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    frame: Frame,
    base: String,
    token: String,
    token_name: Option<String>,
    rows: Vec<Row>,
    older: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    m: Member,
    Query(p): Query<AuditParams>,
) -> AppResult<Response> {
    let filter = (!p.token.is_empty()).then_some(p.token.as_str());
    let mut entries =
        db::audit::list(&state.db, &m.workspace.id, filter, p.before, PAGE_SIZE + 1).await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    let base = m.url("developer/audit-log");
    let token_q = filter.map(|t| format!("token={t}&")).unwrap_or_default();
    let older = entries
        .last()
        .filter(|_| more)
        .map(|e| format!("{base}?{token_q}before={}", e.id));
    let token_name = filter.and_then(|_| entries.first().and_then(|e| e.token_name.clone()));
    let now = now();
    let page = AuditPage {
        token: p.token.clone(),
        token_name,
        rows: entries
            .into_iter()
            .map(|e| Row {
                at: When::new(e.at, now),
                entry: e,
            })
            .collect(),
        older,
        base,
        frame: m.frame(&state, "audit").await?,
    };
    Ok(Html(render(&page)?).into_response())
}
