//! Developer → Audit log: who did what, when and from where; filtered by token or by kind.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::tokens_view::When;
use super::{Frame, render};
use crate::auth::Member;
use crate::db::{self, audit::Entry, audit::Filter};
use crate::domain::audit::{KINDS, parse_kind};
use crate::domain::now;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/w/{slug}/settings/developer/audit-log", get(page))
}

#[derive(Deserialize)]
struct AuditParams {
    #[serde(default)]
    token: String,
    #[serde(default)]
    kind: String,
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
    kind: &'static str,
    kinds: &'static [(&'static str, &'static str)],
    rows: Vec<Row>,
    older: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    m: Member,
    Query(p): Query<AuditParams>,
) -> AppResult<Response> {
    let kind = parse_kind(&p.kind);
    if kind.is_none() && !p.kind.is_empty() {
        return Err(AppError::BadRequest(format!("unknown kind {:?}", p.kind)));
    }
    let filter = Filter {
        token_id: (!p.token.is_empty()).then_some(p.token.as_str()),
        kind,
    };
    let mut entries =
        db::audit::list(&state.db, &m.workspace.id, filter, p.before, PAGE_SIZE + 1).await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    let base = m.url("developer/audit-log");
    let query = serde_urlencoded::to_string([("token", filter.token_id), ("kind", kind)])
        .unwrap_or_default();
    let older = entries
        .last()
        .filter(|_| more)
        .map(|e| format!("{base}?{query}&before={}", e.id));
    let token_name = filter
        .token_id
        .and_then(|_| entries.first().and_then(|e| e.token_name.clone()));
    let now = now();
    let page = AuditPage {
        token: p.token.clone(),
        token_name,
        kind: kind.unwrap_or_default(),
        kinds: KINDS,
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
