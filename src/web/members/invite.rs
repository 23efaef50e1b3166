//! Inviting a member (a one-time link, shown once) and revoking a pending invitation.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{NewLink, Shown, render_page, site};
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member};
use crate::db::{
    self,
    audit::{Actor, NewEntry},
};
use crate::domain::account::parse_email;
use crate::domain::audit::action;
use crate::domain::ids::{random_base62, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::FormErrors;

#[derive(Deserialize)]
pub(super) struct InviteForm {
    #[serde(default)]
    email: String,
}

/// The entry every membership change records, by the admin acting.
pub(super) fn entry<'a>(
    m: &'a Member,
    actor: &'a Actor,
    action: &'a str,
    ip: std::net::IpAddr,
    details: String,
) -> NewEntry<'a> {
    NewEntry {
        workspace_id: &m.workspace.id,
        actor,
        action,
        token_id: None,
        token_name: None,
        ip: Some(ip.to_string()),
        details,
    }
}

/// Why an invitation cannot go to `email`, if it cannot.
async fn refusal(state: &AppState, m: &Member, email: &str) -> AppResult<Option<&'static str>> {
    let mut conn = state.db.acquire().await?;
    let Some(admin) = db::admins::by_email(conn.conn(), email).await? else {
        return Ok(None);
    };
    let member = db::members::is_member(conn.conn(), &m.workspace.id, &admin.id).await?;
    Ok(member.then_some("This person is already a member of this workspace"))
}

pub(super) async fn create(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<InviteForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let email = errors.take("email", parse_email(&f.email));
    if errors.is_empty()
        && let Some(why) = refusal(&state, &m, &email).await?
    {
        errors.add("email", why);
    }
    if !errors.is_empty() {
        let shown = Shown {
            email: f.email,
            errors,
            ..Shown::default()
        };
        return render_page(&state, &m, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    let code = random_base62(32);
    let actor = m.actor();
    let mut tx = state.db.begin_write().await?;
    // A new invitation replaces an earlier one to the same address (its link stops working).
    db::invites::delete_replaced(tx.conn(), &m.workspace.id, &email, crate::domain::now()).await?;
    let invite = db::invites::create(
        tx.conn(),
        &m.workspace.id,
        &email,
        &sha256_hex(&code),
        &m.admin.email,
    )
    .await?;
    let details = format!(
        "invited {email}; the link works until {}",
        crate::web::format::exact(invite.expires_at)
    );
    db::audit::record(
        tx.conn(),
        entry(&m, &actor, action::MEMBER_INVITED, ip, details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(workspace = %m.workspace.slug, invite_id = %invite.id, "member invited");
    let link = format!("{}/invite?code={code}", site(&state, &headers));
    let shown = Shown {
        new_link: Some(NewLink { email, link }),
        ..Shown::default()
    };
    render_page(&state, &m, StatusCode::CREATED, shown).await
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let actor = m.actor();
    let mut tx = state.db.begin_write().await?;
    let email = db::invites::take(tx.conn(), &m.workspace.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let details = format!("revoked the invitation for {email}");
    db::audit::record(
        tx.conn(),
        entry(&m, &actor, action::INVITE_REVOKED, ip, details),
    )
    .await?;
    tx.commit().await?;
    set_flash(
        &m.session,
        "success",
        format!("The invitation for {email} was revoked."),
    )
    .await?;
    Ok(Redirect::to(&m.url("members")).into_response())
}
