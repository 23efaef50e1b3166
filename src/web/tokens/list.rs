//! The token list: status filter, name search (htmx, debounced; the URL keeps the state),
//! keyset pagination, empty state and best-practice notes.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::view::TokenView;
use crate::auth::Member;
use crate::db::{self, tokens::ListQuery};
use crate::domain::now;
use crate::domain::status::Status;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{Frame, is_htmx, render};

pub const PAGE_SIZE: i64 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub after: String,
}

#[derive(Template)]
#[template(path = "tokens/_table.html")]
struct Table {
    base: String,
    rows: Vec<TokenView>,
    older: Option<String>,
    newest: Option<String>,
    /// `none` (no tokens at all), `nomatch` (filters hide them all) or empty.
    empty: &'static str,
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListPage {
    frame: Frame,
    base: String,
    q: String,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    table: String,
    reveal: String,
    /// Live tokens expiring within 7 days (the banner; none at 0).
    expiring: i64,
}

fn parse_cursor(s: &str) -> Option<(i64, String)> {
    let (at, id) = s.split_once('.')?;
    Some((at.parse().ok()?, id.to_owned()))
}

fn query_string(status: &str, q: &str, after: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if !status.is_empty() && status != "all" {
        pairs.push(("status", status));
    }
    if !q.trim().is_empty() {
        pairs.push(("q", q));
    }
    if let Some(a) = after {
        pairs.push(("after", a));
    }
    let qs = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if qs.is_empty() {
        String::new()
    } else {
        format!("?{qs}")
    }
}

async fn table(state: &AppState, m: &Member, p: &ListParams) -> AppResult<String> {
    let base = m.url("developer/api-tokens");
    let status = Status::parse(&p.status);
    let q = ListQuery {
        status,
        search: p.q.chars().take(100).collect(),
        after: parse_cursor(&p.after),
        limit: PAGE_SIZE,
    };
    let (tokens, more) = state.gate.tokens(&m.workspace.id, &q).await?;
    let now = now();
    let rows: Vec<TokenView> = tokens
        .iter()
        .map(|t| TokenView::new(t, now, &state.config.limits(&t.rate)))
        .collect();
    let status_code = status.map_or("", Status::code);
    let older = tokens.last().filter(|_| more).map(|t| {
        format!(
            "{base}{}",
            query_string(
                status_code,
                &q.search,
                Some(&format!("{}.{}", t.created_at, t.id))
            )
        )
    });
    let newest = q
        .after
        .is_some()
        .then(|| format!("{base}{}", query_string(status_code, &q.search, None)));
    let empty = if !rows.is_empty() {
        ""
    } else if q.after.is_none()
        && status.is_none()
        && q.search.trim().is_empty()
        && db::tokens::count(&state.db, &m.workspace.id).await? == 0
    {
        "none"
    } else {
        "nomatch"
    };
    render(&Table {
        base,
        rows,
        older,
        newest,
        empty,
    })
}

/// Renders the list page, optionally with a reveal dialog (after create).
pub async fn render_page(
    state: &AppState,
    m: &Member,
    p: &ListParams,
    reveal: String,
) -> AppResult<Response> {
    let page = ListPage {
        table: table(state, m, p).await?,
        frame: m.frame(state, "tokens").await?,
        base: m.url("developer/api-tokens"),
        q: p.q.clone(),
        status: Status::parse(&p.status)
            .map_or("all", Status::code)
            .to_owned(),
        statuses: std::iter::once(("all", "All"))
            .chain(Status::ALL.map(|s| (s.code(), s.label())))
            .collect(),
        reveal,
        expiring: db::notices::expiring_count(&state.db, &m.workspace.id, 7 * 86_400).await?,
    };
    let mut res = Html(render(&page)?).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, crate::web::headers::NO_STORE);
    Ok(res)
}

pub async fn page(
    State(state): State<AppState>,
    m: Member,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> AppResult<Response> {
    if is_htmx(&headers) {
        return Ok(Html(table(&state, &m, &p).await?).into_response());
    }
    render_page(&state, &m, &p, String::new()).await
}
