//! Account → Sessions: where the admin is signed in (started, last seen, IP, browser), with
//! "Sign out" for one session and "Sign out everywhere else". Sessions are listed and ended by
//! the hash they are stored under; the cookie value never appears.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::render;
use super::tokens_view::When;
use crate::auth::session::{CurrentAdmin, Flash, set_flash, take_flash};
use crate::auth::{csrf, store};
use crate::db;
use crate::domain::{now, user_agent};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const PAGE: &str = "/account/sessions";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/account/sessions/end", post(end_one))
        .route("/account/sessions/end-others", post(end_others))
}

struct Row {
    key: String,
    browser: String,
    ip: String,
    started: When,
    last_seen: When,
    current: bool,
}

#[derive(Template)]
#[template(path = "auth/sessions.html")]
struct SessionsPage {
    csrf: String,
    email: String,
    rows: Vec<Row>,
    others: usize,
    flash: Option<Flash>,
}

/// The id hash of the session this request came with.
fn current(me: &CurrentAdmin) -> Option<String> {
    me.session.id().map(|id| store::id_hash(&id))
}

async fn page(State(state): State<AppState>, me: CurrentAdmin) -> AppResult<Response> {
    let at = now();
    let this = current(&me);
    let rows: Vec<Row> = db::sessions::live_for_admin(&state.db, &me.admin.id, at)
        .await?
        .into_iter()
        .map(|s| Row {
            current: this.as_deref() == Some(s.id_hash.as_str()),
            browser: user_agent::describe(s.user_agent.as_deref()),
            ip: s.ip.unwrap_or_else(|| "unknown address".to_owned()),
            started: When::new(s.created_at, at),
            last_seen: When::new(s.last_seen_at, at),
            key: s.id_hash,
        })
        .collect();
    let page = SessionsPage {
        csrf: csrf::token(&me.session).await?,
        flash: take_flash(&me.session).await?,
        others: rows.iter().filter(|r| !r.current).count(),
        email: me.admin.email,
        rows,
    };
    Ok(Html(render(&page)?).into_response())
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    session: String,
}

async fn end_one(
    State(state): State<AppState>,
    me: CurrentAdmin,
    Form(f): Form<EndForm>,
) -> AppResult<Response> {
    if !db::sessions::end_one(&state.db, &me.admin.id, &f.session).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(admin_id = %me.admin.id, "session signed out from the sessions page");
    if current(&me).as_deref() == Some(f.session.as_str()) {
        return Ok(Redirect::to("/login").into_response());
    }
    set_flash(&me.session, "success", "That session was signed out.").await?;
    Ok(Redirect::to(PAGE).into_response())
}

async fn end_others(State(state): State<AppState>, me: CurrentAdmin) -> AppResult<Response> {
    let keep = current(&me);
    let mut conn = state.db.acquire().await?;
    let ended = db::sessions::end_for_admin(conn.conn(), &me.admin.id, keep.as_deref()).await?;
    drop(conn);
    tracing::info!(admin_id = %me.admin.id, ended, "signed out everywhere else");
    let message = match ended {
        1 => "1 other session was signed out.".to_owned(),
        n => format!("{n} other sessions were signed out."),
    };
    set_flash(&me.session, "success", message).await?;
    Ok(Redirect::to(PAGE).into_response())
}
