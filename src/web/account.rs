//! The signed-in admin's own pages: change password, create a workspace.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::{FormErrors, render};
use crate::auth::session::{self, CurrentAdmin};
use crate::auth::throttle::{self, Key, minutes_text};
use crate::auth::{ClientIp, csrf, password, store};
use crate::db;
use crate::db::audit::{AccountEntry, Actor};
use crate::domain::account::parse_workspace_name;
use crate::domain::audit::action;
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page).post(change_password))
        .route(
            "/workspaces/new",
            get(workspace_page).post(create_workspace),
        )
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    csrf: String,
    email: String,
    errors: FormErrors,
    done: bool,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn account_page(me: CurrentAdmin) -> AppResult<Response> {
    let page = AccountPage {
        csrf: csrf::token(&me.session).await?,
        email: me.admin.email,
        errors: FormErrors::default(),
        done: false,
    };
    Ok(Html(render(&page)?).into_response())
}

/// Checks the current password, throttled per admin like sign-in: `Err` carries the message
/// for the form and the status to answer with.
async fn check_current(
    state: &AppState,
    admin_id: &str,
    current: String,
) -> AppResult<Result<(), (StatusCode, String)>> {
    let attempt = match throttle::reserve(&state.db, vec![Key::admin(admin_id)]).await? {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(%admin_id, "password change throttled");
            let message = format!(
                "Too many wrong passwords. Try again in {}.",
                minutes_text(wait)
            );
            return Ok(Err((StatusCode::TOO_MANY_REQUESTS, message)));
        }
    };
    let stored = db::admins::password_hash(&state.db, admin_id).await?;
    if password::verify(current, stored).await? {
        attempt.succeed().await;
        Ok(Ok(()))
    } else {
        attempt.fail().await;
        let message = "The current password is incorrect".to_owned();
        Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, message)))
    }
}

async fn change_password(
    State(state): State<AppState>,
    me: CurrentAdmin,
    ClientIp(ip): ClientIp,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let Err((refused, message)) = check_current(&state, &me.admin.id, f.current).await? {
        errors.add("current", message);
        status = refused;
    }
    errors.check_new_password(&f.password, &f.password_confirm);
    let done = errors.is_empty();
    if done {
        let hash = password::hash(f.password).await?;
        // The admin's other sessions end (a stolen cookie stops working); this one stays.
        let keep = me.session.id().map(|id| store::id_hash(&id));
        db::admins::set_password(&state.db, &me.admin.id, &hash, keep.as_deref()).await?;
        tracing::info!(admin_id = %me.admin.id, "password changed");
        let actor = Actor::admin(&me.admin.id, &me.admin.email);
        let entry = AccountEntry {
            admin_id: &me.admin.id,
            actor: &actor,
            action: action::PASSWORD_CHANGED,
            ip: Some(ip.to_string()),
            details: "other sessions ended".to_owned(),
        };
        db::audit::record_for_admin(state.db.acquire().await?.conn(), entry).await?;
        status = StatusCode::OK;
    }
    let page = AccountPage {
        csrf: csrf::token(&me.session).await?,
        email: me.admin.email,
        errors,
        done,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

#[derive(Template)]
#[template(path = "auth/new_workspace.html")]
struct WorkspacePage {
    csrf: String,
    name: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct WorkspaceForm {
    #[serde(default)]
    name: String,
}

async fn workspace_page(me: CurrentAdmin) -> AppResult<Response> {
    let page = WorkspacePage {
        csrf: csrf::token(&me.session).await?,
        name: String::new(),
        errors: FormErrors::default(),
    };
    Ok(Html(render(&page)?).into_response())
}

async fn create_workspace(
    State(state): State<AppState>,
    me: CurrentAdmin,
    Form(f): Form<WorkspaceForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let name = errors.take("name", parse_workspace_name(&f.name));
    if !errors.is_empty() {
        let page = WorkspacePage {
            csrf: csrf::token(&me.session).await?,
            name: f.name,
            errors,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(render(&page)?)).into_response());
    }
    let mut tx = state.db.begin_write().await?;
    let ws = db::workspaces::create(tx.conn(), &name, std::slice::from_ref(&me.admin.id)).await?;
    tx.commit().await?;
    session::set_flash(
        &me.session,
        "success",
        format!("Workspace “{}” created.", ws.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/w/{}/settings/developer/api-tokens", ws.slug)).into_response())
}
