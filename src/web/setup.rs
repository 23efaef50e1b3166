//! First start: the one-time setup link creates the first admin and workspace.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::{FormErrors, render};
use crate::auth::csrf_cookie::FormToken;
use crate::auth::{ClientIp, password, session};
use crate::db;
use crate::domain::account::{parse_email, parse_workspace_name};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/setup", get(page).post(submit))
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    csrf: String,
    code: String,
    email: String,
    workspace: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    workspace: String,
}

/// Refuses once an admin exists, or when the code is not the one printed at start.
async fn check(state: &AppState, code: &str) -> AppResult<()> {
    if db::admins::exists(&state.db).await? {
        return Err(AppError::Forbidden(
            "keyward is already set up. Sign in instead.".into(),
        ));
    }
    let printed = !code.is_empty()
        && db::setup_codes::exists(&state.db, &crate::state::SetupCode::hash(code)).await?;
    if !printed {
        return Err(AppError::Forbidden(
            "This setup link is not valid. Use the link the server printed when it started.".into(),
        ));
    }
    Ok(())
}

/// The form needs no session: showing it writes nothing (the CSRF token is signed for the form
/// cookie).
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> AppResult<Response> {
    check(&state, &q.code).await?;
    let form = FormToken::issue(&state, &headers).await?;
    let page = SetupPage {
        csrf: form.token.clone(),
        code: q.code,
        email: String::new(),
        workspace: String::new(),
        errors: FormErrors::default(),
    };
    Ok((form, Html(render(&page)?)).into_response())
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> AppResult<Response> {
    check(&state, &f.code).await?;
    let mut errors = FormErrors::default();
    let email = errors.take("email", parse_email(&f.email));
    let workspace = errors.take("workspace", parse_workspace_name(&f.workspace));
    errors.check_new_password(&f.password, &f.password_confirm);
    if !errors.is_empty() {
        let form = FormToken::issue(&state, &headers).await?;
        let page = SetupPage {
            csrf: form.token.clone(),
            code: f.code,
            email: f.email,
            workspace: f.workspace,
            errors,
        };
        let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok((status, form, Html(render(&page)?)).into_response());
    }
    let hash = password::hash(f.password).await?;
    let Some((admin, ws)) = db::admins::create_first(&state.db, &email, &hash, &workspace).await?
    else {
        return Err(AppError::Forbidden(
            "keyward is already set up. Sign in instead.".into(),
        ));
    };
    state.setup.set(None);
    tracing::info!(admin_id = %admin.id, workspace = %ws.slug, "setup complete");
    super::signin::start(&state, &session, &admin.id, ip, &headers).await?;
    session::set_flash(
        &session,
        "success",
        format!("Welcome! Workspace “{}” is ready.", ws.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/w/{}/settings/developer/api-tokens", ws.slug)).into_response())
}
