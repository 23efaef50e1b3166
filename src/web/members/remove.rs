//! Removing a member: never the last one. The membership and every session of the removed
//! admin end in one transaction, so their next request, on any server, finds them signed out.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::invite::entry;
use super::{Shown, render_page};
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member};
use crate::db::{self, admins::Admin};
use crate::domain::audit::action;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Frame, render};

const LAST_MEMBER: &str =
    "A workspace always keeps one member: invite someone else before removing the last one.";

#[derive(Template)]
#[template(path = "members/remove.html")]
struct ConfirmPage {
    frame: Frame,
    base: String,
    member: Admin,
    is_me: bool,
}

/// The member `admin_id` of this workspace, or 404.
async fn member(state: &AppState, m: &Member, admin_id: &str) -> AppResult<Admin> {
    let admin = db::admins::by_id(&state.db, admin_id).await?;
    let mut conn = state.db.acquire().await?;
    match admin {
        Some(a) if db::members::is_member(conn.conn(), &m.workspace.id, &a.id).await? => Ok(a),
        _ => Err(AppError::NotFound),
    }
}

/// The page without JavaScript (the dialog's fallback).
pub(super) async fn confirm(
    State(state): State<AppState>,
    m: Member,
    Path((_, admin_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let member = member(&state, &m, &admin_id).await?;
    let page = ConfirmPage {
        frame: m.frame(&state, "members").await?,
        base: m.url("members"),
        is_me: member.id == m.admin.id,
        member,
    };
    Ok(Html(render(&page)?).into_response())
}

pub(super) async fn remove(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, admin_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let member = member(&state, &m, &admin_id).await?;
    let actor = m.actor();
    let mut tx = state.db.begin_write().await?;
    // Counted inside the write transaction: two admins removing each other at once cannot
    // leave the workspace empty.
    if db::members::count(tx.conn(), &m.workspace.id).await? <= 1 {
        drop(tx);
        let shown = Shown {
            error: Some(LAST_MEMBER.to_owned()),
            ..Shown::default()
        };
        return render_page(&state, &m, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    if !db::members::delete(tx.conn(), &m.workspace.id, &member.id).await? {
        return Err(AppError::NotFound);
    }
    let ended = db::sessions::end_for_admin(tx.conn(), &member.id, None).await?;
    let details = format!("removed {}; {ended} session(s) ended", member.email);
    db::audit::record(
        tx.conn(),
        entry(&m, &actor, action::MEMBER_REMOVED, ip, details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(workspace = %m.workspace.slug, admin_id = %member.id, "member removed");
    if member.id == m.admin.id {
        return Ok(Redirect::to("/login").into_response());
    }
    let message = format!("{} was removed and signed out.", member.email);
    set_flash(&m.session, "success", message).await?;
    Ok(Redirect::to(&m.url("members")).into_response())
}
