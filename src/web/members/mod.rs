//! Settings → Members: the workspace's admins, invitations (one-time links, shown once) and
//! removal (never the last member; the removed admin's sessions end at once). Plain forms and
//! redirects, so everything works without JavaScript; removal asks in a `<dialog>` first.

mod invite;
mod remove;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::HOST};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::tokens_view::When;
use super::{FormErrors, Frame, render};
use crate::auth::Member;
use crate::db;
use crate::domain::now;
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/settings/members", get(page))
        .route("/w/{slug}/settings/members/invite", post(invite::create))
        .route(
            "/w/{slug}/settings/members/invites/{id}/revoke",
            post(invite::revoke),
        )
        .route(
            "/w/{slug}/settings/members/{admin_id}/remove",
            get(remove::confirm).post(remove::remove),
        )
}

pub(super) struct MemberRow {
    admin_id: String,
    email: String,
    added: When,
    last_signin: Option<When>,
    is_me: bool,
}

pub(super) struct InviteRow {
    id: String,
    email: String,
    invited_by: String,
    created: When,
    expires: When,
}

/// A link just made, shown once: in the answer to the POST that made it, so it is stored
/// nowhere (a re-POST makes a new link and the earlier one stops working).
pub(super) struct NewLink {
    email: String,
    link: String,
}

#[derive(Template)]
#[template(path = "members/page.html")]
struct MembersPage {
    frame: Frame,
    base: String,
    members: Vec<MemberRow>,
    invites: Vec<InviteRow>,
    new_link: Option<NewLink>,
    email: String,
    errors: FormErrors,
    error: Option<String>,
}

/// What a page carries besides the lists: a new link, the invite form's input and errors, or
/// a refusal to show at the top.
#[derive(Default)]
pub(super) struct Shown {
    new_link: Option<NewLink>,
    email: String,
    errors: FormErrors,
    error: Option<String>,
}

async fn rows(state: &AppState, m: &Member) -> AppResult<(Vec<MemberRow>, Vec<InviteRow>)> {
    let at = now();
    let members = db::members::list(&state.db, &m.workspace.id)
        .await?
        .into_iter()
        .map(|r| MemberRow {
            is_me: r.admin_id == m.admin.id,
            added: When::new(r.added_at, at),
            last_signin: r.last_signin_at.map(|t| When::new(t, at)),
            admin_id: r.admin_id,
            email: r.email,
        })
        .collect();
    let invites = db::invites::pending(&state.db, &m.workspace.id, at)
        .await?
        .into_iter()
        .map(|i| InviteRow {
            created: When::new(i.created_at, at),
            expires: When::new(i.expires_at, at),
            id: i.id,
            email: i.email,
            invited_by: i.invited_by,
        })
        .collect();
    Ok((members, invites))
}

pub(super) async fn render_page(
    state: &AppState,
    m: &Member,
    status: StatusCode,
    shown: Shown,
) -> AppResult<Response> {
    let (members, invites) = rows(state, m).await?;
    let page = MembersPage {
        frame: m.frame(state, "members").await?,
        base: m.url("members"),
        members,
        invites,
        new_link: shown.new_link,
        email: shown.email,
        errors: shown.errors,
        error: shown.error,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

async fn page(State(state): State<AppState>, m: Member) -> AppResult<Response> {
    render_page(&state, &m, StatusCode::OK, Shown::default()).await
}

/// The site's address for links: the public URL when configured, else the host this request
/// came to (the link is shown only to the admin who asked for it).
pub(super) fn site(state: &AppState, headers: &HeaderMap) -> String {
    match (&state.config.public_url, headers.get(HOST)) {
        (None, Some(host)) => format!("http://{}", host.to_str().unwrap_or_default()),
        _ => state.config.base_url(),
    }
}
