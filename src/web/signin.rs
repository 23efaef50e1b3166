//! Sign-in and sign-out, with throttling after repeated failures.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::render;
use crate::auth::csrf_cookie::FormToken;
use crate::auth::session::{self, ADMIN_KEY, safe_next};
use crate::auth::throttle::{self, Key, minutes_text};
use crate::auth::{ClientIp, password};
use crate::db;
use crate::db::audit::{AccountEntry, Actor};
use crate::domain::account::MAX_EMAIL;
use crate::domain::audit::action;
use crate::domain::now;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(page).post(submit))
        .route("/logout", post(logout))
}

const INCORRECT: &str = "Email or password is incorrect.";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// The form needs no session: showing it writes nothing (the CSRF token is signed for the form
/// cookie).
async fn page(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> AppResult<Response> {
    let signed_in: Option<String> = session
        .get(ADMIN_KEY)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if signed_in.is_some() {
        return Ok(Redirect::to(safe_next(q.next.as_deref())).into_response());
    }
    if !db::admins::exists(&state.db).await? {
        let page = LoginPage {
            csrf: String::new(),
            email: String::new(),
            next: String::new(),
            error: Some(
                "No admin exists yet. Open the setup link the server printed when it started."
                    .into(),
            ),
        };
        return Ok(Html(render(&page)?).into_response());
    }
    let form = FormToken::issue(&state, &headers).await?;
    let page = LoginPage {
        csrf: form.token.clone(),
        email: String::new(),
        next: safe_next(q.next.as_deref()).to_owned(),
        error: None,
    };
    Ok((form, Html(render(&page)?)).into_response())
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> AppResult<Response> {
    let email = f.email.trim().to_lowercase();
    let admin_id = match check(&state, &email, &f.password, ip).await? {
        Checked::Admin(id) => id,
        Checked::Throttled(message) => {
            return refuse(&state, &headers, &f, StatusCode::TOO_MANY_REQUESTS, message).await;
        }
        Checked::Incorrect => return incorrect(&state, &headers, &f).await,
    };
    start(&state, &session, &admin_id, ip, &headers).await?;
    tracing::info!(%admin_id, %ip, "signed in");
    record(&state, &email, ip, action::SIGNIN_SUCCEEDED).await?;
    Ok(Redirect::to(safe_next(f.next.as_deref())).into_response())
}

/// What a password check under the sign-in throttle found.
pub(super) enum Checked {
    /// The admin whose password it is.
    Admin(String),
    /// Too many failures lately: the message says how long to wait.
    Throttled(String),
    /// Wrong email or password (the failure is counted and audited).
    Incorrect,
}

/// Checks an email and password as sign-in does, wherever an admin proves who they are (the
/// sign-in form, an invitation to an existing account): too long for any admin → incorrect
/// without a lookup, a hash or a throttle entry (whose key would hold the whole field);
/// throttled per email and per address; a failure counted and audited.
pub(super) async fn check(
    state: &AppState,
    email: &str,
    password: &str,
    ip: std::net::IpAddr,
) -> AppResult<Checked> {
    if email.len() > MAX_EMAIL || password.chars().count() > password::MAX_LEN {
        return Ok(Checked::Incorrect);
    }
    let keys = vec![Key::email(email), Key::ip(ip)];
    let mut attempt = match throttle::reserve(&state.db, keys).await? {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(%ip, "sign-in throttled");
            return Ok(Checked::Throttled(format!(
                "Too many failed sign-in attempts. Try again in {}.",
                minutes_text(wait)
            )));
        }
    };
    attempt.checking();
    match check_password(state, email, password).await? {
        Some(id) => {
            attempt.succeed().await;
            Ok(Checked::Admin(id))
        }
        None => {
            attempt.fail().await;
            tracing::info!(%ip, "sign-in failed");
            record(state, email, ip, action::SIGNIN_FAILED).await?;
            Ok(Checked::Incorrect)
        }
    }
}

/// Signs an admin in on this browser (session with address and browser) and notes when.
pub(super) async fn start(
    state: &AppState,
    session: &Session,
    admin_id: &str,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
) -> AppResult<()> {
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    session::sign_in(session, admin_id, ip, user_agent).await?;
    db::admins::mark_signed_in(&state.db, admin_id, now()).await?;
    Ok(())
}

/// Records a sign-in (or a failed one) in the audit log of every workspace of the admin with
/// this email; an email that belongs to no admin is in no workspace's log (only the server's).
pub(super) async fn record(
    state: &AppState,
    email: &str,
    ip: std::net::IpAddr,
    action: &str,
) -> AppResult<()> {
    let mut conn = state.db.acquire().await?;
    let Some(admin) = db::admins::by_email(conn.conn(), email).await? else {
        return Ok(());
    };
    let actor = Actor::admin(&admin.id, &admin.email);
    let entry = AccountEntry {
        admin_id: &admin.id,
        actor: &actor,
        action,
        ip: Some(ip.to_string()),
        details: String::new(),
    };
    db::audit::record_for_admin(conn.conn(), entry).await?;
    Ok(())
}

/// The admin whose password this is (an unknown email costs the same hashing time).
pub(super) async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
) -> AppResult<Option<String>> {
    let creds = db::admins::credentials(&state.db, email).await?;
    let (id, hash) = match creds {
        Some(c) => (Some(c.id), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = password::verify(password.to_owned(), hash.clone()).await?
        // A password change committed during the check ends the old password's sessions, so
        // the old password must not start a new one.
        && db::admins::credentials(&state.db, email)
            .await?
            .is_some_and(|c| Some(c.password_hash) == hash);
    Ok(id.filter(|_| ok))
}

/// "Email or password is incorrect", whichever it was (401).
async fn incorrect(state: &AppState, headers: &HeaderMap, f: &LoginForm) -> AppResult<Response> {
    refuse(
        state,
        headers,
        f,
        StatusCode::UNAUTHORIZED,
        INCORRECT.into(),
    )
    .await
}

/// Shows the form again with an error, keeping the email.
async fn refuse(
    state: &AppState,
    headers: &HeaderMap,
    f: &LoginForm,
    status: StatusCode,
    error: String,
) -> AppResult<Response> {
    let form = FormToken::issue(state, headers).await?;
    let page = LoginPage {
        csrf: form.token.clone(),
        email: f.email.clone(),
        next: safe_next(f.next.as_deref()).to_owned(),
        error: Some(error),
    };
    Ok((status, form, Html(render(&page)?)).into_response())
}

async fn logout(session: Session) -> AppResult<Response> {
    session::sign_out(&session).await?;
    Ok(Redirect::to("/login").into_response())
}
