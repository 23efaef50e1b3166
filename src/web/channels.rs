//! Channels page: list, add, remove (with confirmation). htmx swaps the panel in place;
//! without JavaScript every action is a plain form and a redirect.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::{FormErrors, Frame, is_htmx, render, toast_trigger};
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member, csrf};
use crate::db::audit::NewEntry;
use crate::db::{self, channels::Channel};
use crate::domain::account::{CHANNEL_KINDS, parse_channel_kind, parse_channel_name};
use crate::domain::audit::action;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/settings/channels", get(page).post(add))
        .route(
            "/w/{slug}/settings/channels/{id}/remove",
            get(confirm_remove).post(remove),
        )
}

#[derive(Template)]
#[template(path = "channels/_panel.html")]
struct Panel<'a> {
    base: String,
    csrf: String,
    channels: Vec<Channel>,
    name: &'a str,
    kind: &'a str,
    kinds: &'a [&'a str],
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "channels/page.html")]
struct ChannelsPage {
    frame: Frame,
    panel: String,
}

#[derive(Template)]
#[template(path = "channels/remove.html")]
struct RemovePage {
    frame: Frame,
    channel: Channel,
    tokens_scoped: i64,
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

async fn panel(
    state: &AppState,
    m: &Member,
    form: Option<&AddForm>,
    errors: FormErrors,
) -> AppResult<String> {
    render(&Panel {
        base: m.url("channels"),
        csrf: csrf::token(&m.session).await?,
        channels: db::channels::list(&state.db, &m.workspace.id).await?,
        name: form.map_or("", |f| f.name.as_str()),
        kind: form.map_or("", |f| f.kind.as_str()),
        kinds: &CHANNEL_KINDS,
        errors,
    })
}

async fn full_page(
    state: &AppState,
    m: &Member,
    status: StatusCode,
    form: Option<&AddForm>,
    errors: FormErrors,
) -> AppResult<Response> {
    let page = ChannelsPage {
        panel: panel(state, m, form, errors).await?,
        frame: m.frame(state, "channels").await?,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

async fn page(State(state): State<AppState>, m: Member) -> AppResult<Response> {
    full_page(&state, &m, StatusCode::OK, None, FormErrors::default()).await
}

async fn add(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<AddForm>,
) -> AppResult<Response> {
    let htmx = is_htmx(&headers);
    let mut errors = FormErrors::default();
    let name = errors.take("name", parse_channel_name(&f.name));
    let kind = errors.take("kind", parse_channel_kind(&f.kind));
    if errors.is_empty() {
        match db::channels::create(&state.db, &m.workspace.id, &name, &kind).await {
            Ok(ch) => {
                tracing::info!(workspace = %m.workspace.slug, channel_id = %ch.id, "channel added");
                let details = format!("added {} ({}, {})", ch.name, ch.kind, ch.id);
                record(&state, &m, ip, action::CHANNEL_ADDED, details).await?;
                let message = format!("Channel “{}” added.", ch.name);
                return done(&state, &m, htmx, message).await;
            }
            Err(e) if db::is_unique_violation(&e) => {
                errors.add("name", "A channel with this name already exists")
            }
            Err(e) => return Err(e.into()),
        }
    }
    if htmx {
        let html = panel(&state, &m, Some(&f), errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
    }
    full_page(
        &state,
        &m,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(&f),
        errors,
    )
    .await
}

async fn confirm_remove(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let channel = db::channels::get(&state.db, &m.workspace.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tokens_scoped = db::channels::tokens_scoped_to(&state.db, &channel.id).await?;
    let page = RemovePage {
        frame: m.frame(&state, "channels").await?,
        channel,
        tokens_scoped,
    };
    Ok(Html(render(&page)?).into_response())
}

async fn remove(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let channel = db::channels::get(&state.db, &m.workspace.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !db::channels::delete(&state.db, &m.workspace.id, &channel.id).await? {
        return Err(AppError::NotFound);
    }
    // Tokens scoped to it lose it at once.
    state.gate.tokens.invalidate();
    tracing::info!(workspace = %m.workspace.slug, channel_id = %channel.id, "channel removed");
    let details = format!(
        "removed {} ({}, {})",
        channel.name, channel.kind, channel.id
    );
    record(&state, &m, ip, action::CHANNEL_REMOVED, details).await?;
    let message = format!("Channel “{}” removed.", channel.name);
    done(&state, &m, is_htmx(&headers), message).await
}

/// Records a channel change in the audit log.
async fn record(
    state: &AppState,
    m: &Member,
    ip: std::net::IpAddr,
    action: &str,
    details: String,
) -> AppResult<()> {
    let actor = m.actor();
    let entry = NewEntry {
        workspace_id: &m.workspace.id,
        actor: &actor,
        action,
        token_id: None,
        token_name: None,
        ip: Some(ip.to_string()),
        details,
    };
    db::audit::record(state.db.acquire().await?.conn(), entry).await?;
    Ok(())
}

/// After a change: the refreshed panel with a toast for htmx, else back to the page with a
/// flash message.
async fn done(state: &AppState, m: &Member, htmx: bool, message: String) -> AppResult<Response> {
    if htmx {
        let html = panel(state, m, None, FormErrors::default()).await?;
        let toast = [("hx-trigger", toast_trigger("success", &message))];
        return Ok((toast, Html(html)).into_response());
    }
    set_flash(&m.session, "success", message).await?;
    Ok(Redirect::to(&m.url("channels")).into_response())
}
