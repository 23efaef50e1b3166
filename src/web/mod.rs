//! The dashboard: askama pages, htmx fragments, one router per page group.

pub mod account;
pub mod audit;
pub mod channels;
pub mod errors;
pub mod format;
pub mod headers;
pub mod invite;
pub mod members;
pub mod sessions;
pub mod setup;
pub mod signin;
pub mod static_files;
pub mod tokens;
pub mod webhooks;
pub use tokens::view as tokens_view;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_sessions::Session;

use crate::auth::csrf;
use crate::auth::session::{Flash, Member, take_flash};
use crate::db::{self, workspaces::Workspace};
use crate::error::AppResult;
use crate::state::AppState;

/// Everything the signed-in frame (`base.html`) shows.
pub struct Frame {
    pub admin_email: String,
    pub workspace: Workspace,
    pub workspaces: Vec<Workspace>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub nav: &'static str,
}

impl Member {
    /// Builds the page frame; takes the pending flash message.
    pub async fn frame(&self, state: &AppState, nav: &'static str) -> AppResult<Frame> {
        Ok(Frame {
            admin_email: self.admin.email.clone(),
            workspace: self.workspace.clone(),
            workspaces: db::workspaces::for_admin(&state.db, &self.admin.id).await?,
            csrf: csrf::token(&self.session).await?,
            flash: take_flash(&self.session).await?,
            nav,
        })
    }

    /// `/w/{slug}/settings/{rest}`.
    pub fn url(&self, rest: &str) -> String {
        format!("/w/{}/settings/{rest}", self.workspace.slug)
    }
}

/// Validation messages per field, for inline rendering next to each control.
#[derive(Debug, Default)]
pub struct FormErrors(pub crate::domain::token::FieldErrors);

impl FormErrors {
    pub fn get(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], Vec::as_slice)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        crate::domain::token::add_error(&mut self.0, field, message);
    }

    /// A new password's rules, then its confirmation, as every form that sets one checks them.
    pub fn check_new_password(&mut self, password: &str, confirm: &str) {
        if let Err(e) = crate::auth::password::check_rules(password) {
            self.add("password", e);
        } else if password != confirm {
            self.add("password_confirm", "The passwords do not match");
        }
    }

    /// Records `Err` under `field` and returns the `Ok` value.
    pub fn take<T: Default>(&mut self, field: &str, r: Result<T, String>) -> T {
        r.unwrap_or_else(|e| {
            self.add(field, e);
            T::default()
        })
    }
}

/// Renders a template into HTML; a render failure is an `AppError`, never a panic.
pub fn render(t: &impl askama::Template) -> AppResult<String> {
    t.render()
        .map_err(|e| crate::error::AppError::Internal(format!("template: {e}")))
}

/// An `HX-Trigger` header value that shows a toast; non-ASCII is escaped so it is a valid header.
pub fn toast_trigger(kind: &str, message: &str) -> axum::http::HeaderValue {
    let json = serde_json::json!({ "toast": { "kind": kind, "message": message } }).to_string();
    let mut ascii = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    axum::http::HeaderValue::from_str(&ascii).unwrap_or(axum::http::HeaderValue::from_static("{}"))
}

/// Whether the request came from htmx (and wants a fragment).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-boosted")
}

/// The whole dashboard router, behind the CSRF guard (sessions are layered on by `crate::app`).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .merge(setup::router())
        .merge(signin::router())
        .merge(account::router())
        .merge(sessions::router())
        .merge(invite::router())
        .merge(channels::router())
        .merge(members::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .layer(from_fn_with_state(state.clone(), csrf::guard))
        .layer(axum::middleware::map_response(headers::no_store))
}

/// `/`: a signed-in admin goes to their first workspace's tokens; anyone else to `/login`.
async fn home(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    let admin_id: Option<String> = session
        .get(crate::auth::session::ADMIN_KEY)
        .await
        .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    let Some(admin_id) = admin_id else {
        return Ok(Redirect::to("/login").into_response());
    };
    let workspaces = db::workspaces::for_admin(&state.db, &admin_id).await?;
    Ok(match workspaces.first() {
        Some(ws) => Redirect::to(&format!("/w/{}/settings/developer/api-tokens", ws.slug)),
        None => Redirect::to("/workspaces/new"),
    }
    .into_response())
}
