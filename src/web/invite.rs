//! Accepting an invitation (`/invite?code=…`): a new admin chooses a password; someone who
//! already has an account signs in with theirs. Either way they join the workspace and are
//! signed in. The link works once: joining deletes the invitation in the same transaction.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::signin::{self, Checked};
use super::{FormErrors, render};
use crate::auth::csrf_cookie::FormToken;
use crate::auth::{ClientIp, password, session};
use crate::db::{self, admins::Admin, audit::Actor, invites::Invite};
use crate::domain::audit::action;
use crate::domain::ids::sha256_hex;
use crate::domain::now;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/invite", get(page).post(accept))
}

const INVALID: &str = "This invitation link is no longer valid: it was used, revoked or has \
                       expired. Ask a member of the workspace for a new one.";

#[derive(Template)]
#[template(path = "auth/invite.html")]
struct InvitePage {
    csrf: String,
    code: String,
    email: String,
    workspace: String,
    existing: bool,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// The pending invitation with this code, its workspace's name, and the admin who already
/// has its email (if any).
async fn lookup(state: &AppState, code: &str) -> AppResult<(Invite, String, Option<Admin>)> {
    let mut conn = state.db.acquire().await?;
    let invite = match code.len() {
        1..=64 => db::invites::by_code(conn.conn(), &sha256_hex(code), now()).await?,
        _ => None,
    };
    let invite = invite.ok_or_else(|| AppError::Forbidden(INVALID.into()))?;
    let existing = db::admins::by_email(conn.conn(), &invite.email).await?;
    drop(conn);
    let ws = db::workspaces::by_id(&state.db, &invite.workspace_id)
        .await?
        .ok_or_else(|| AppError::Forbidden(INVALID.into()))?;
    Ok((invite, ws.name, existing))
}

async fn show(
    state: &AppState,
    headers: &HeaderMap,
    code: String,
    status: StatusCode,
    errors: FormErrors,
) -> AppResult<Response> {
    let (invite, workspace, existing) = lookup(state, &code).await?;
    let form = FormToken::issue(state, headers).await?;
    let page = InvitePage {
        csrf: form.token.clone(),
        code,
        email: invite.email,
        workspace,
        existing: existing.is_some(),
        errors,
    };
    Ok((status, form, Html(render(&page)?)).into_response())
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CodeQuery>,
) -> AppResult<Response> {
    show(
        &state,
        &headers,
        q.code,
        StatusCode::OK,
        FormErrors::default(),
    )
    .await
}

/// A new admin's password, hashed, or the form's errors.
async fn new_password(f: &AcceptForm) -> AppResult<Result<String, FormErrors>> {
    let mut errors = FormErrors::default();
    errors.check_new_password(&f.password, &f.password_confirm);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(password::hash(f.password.clone()).await?))
}

async fn accept(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<AcceptForm>,
) -> AppResult<Response> {
    let (invite, workspace, existing) = lookup(&state, &f.code).await?;
    let who = if let Some(admin) = existing {
        let refused = match signin::check(&state, &invite.email, &f.password, ip).await? {
            Checked::Admin(id) if id == admin.id => None,
            Checked::Admin(_) => return Err(AppError::Forbidden(INVALID.into())),
            Checked::Throttled(message) => Some((StatusCode::TOO_MANY_REQUESTS, message)),
            Checked::Incorrect => {
                Some((StatusCode::UNAUTHORIZED, "The password is incorrect".into()))
            }
        };
        if let Some((status, message)) = refused {
            let mut errors = FormErrors::default();
            errors.add("password", message);
            return show(&state, &headers, f.code, status, errors).await;
        }
        Joiner::Existing(admin)
    } else {
        match new_password(&f).await? {
            Ok(hash) => Joiner::New(hash),
            Err(errors) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return show(&state, &headers, f.code, status, errors).await;
            }
        }
    };
    let admin = join(&state, &f.code, &invite, who, ip).await?;
    signin::start(&state, &session, &admin.id, ip, &headers).await?;
    tracing::info!(admin_id = %admin.id, workspace_id = %invite.workspace_id, "member joined");
    session::set_flash(&session, "success", format!("Welcome to {workspace}!")).await?;
    let ws = db::workspaces::by_id(&state.db, &invite.workspace_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&format!("/w/{}/settings/developer/api-tokens", ws.slug)).into_response())
}

enum Joiner {
    Existing(Admin),
    New(String),
}

/// Uses the invitation and makes the member, in one write transaction: a link used or revoked
/// meanwhile (another tab, another server) is refused.
async fn join(
    state: &AppState,
    code: &str,
    invite: &Invite,
    who: Joiner,
    ip: std::net::IpAddr,
) -> AppResult<Admin> {
    let mut tx = state.db.begin_write().await?;
    let still = db::invites::by_code(tx.conn(), &sha256_hex(code), now()).await?;
    let taken = match still {
        Some(_) => db::invites::take(tx.conn(), &invite.workspace_id, &invite.id).await?,
        None => None,
    };
    if taken.is_none() {
        return Err(AppError::Forbidden(INVALID.into()));
    }
    let admin = match who {
        Joiner::Existing(admin) => Some(admin),
        Joiner::New(hash) => match db::admins::by_email(tx.conn(), &invite.email).await? {
            // An account made for this email meanwhile: it must sign in, not be overwritten.
            Some(_) => None,
            None => Some(db::admins::create(tx.conn(), &invite.email, &hash).await?),
        },
    }
    .ok_or_else(|| AppError::Forbidden(INVALID.into()))?;
    db::workspaces::add_member(tx.conn(), &invite.workspace_id, &admin.id).await?;
    let actor = Actor::admin(&admin.id, &admin.email);
    let entry = db::audit::NewEntry {
        workspace_id: &invite.workspace_id,
        actor: &actor,
        action: action::MEMBER_JOINED,
        token_id: None,
        token_name: None,
        ip: Some(ip.to_string()),
        details: format!("joined, invited by {}", invite.invited_by),
    };
    db::audit::record(tx.conn(), entry).await?;
    tx.commit().await?;
    Ok(admin)
}
