//! Session identity: `CurrentAdmin` (signed in) and `Member` (signed in and a member of the
//! workspace named in the path). Anyone else is sent to `/login`.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::db::{self, admins::Admin, workspaces::Workspace};
use crate::domain::actor::Actor;
use crate::error::AppError;
use crate::state::AppState;

pub const ADMIN_KEY: &str = "admin_id";
/// Where a session signed in from, kept for the sessions page (the store copies them).
pub const IP_KEY: &str = "ip";
pub const USER_AGENT_KEY: &str = "user_agent";
const MAX_USER_AGENT: usize = 256;
const FLASH_KEY: &str = "flash";

/// The signed-in admin.
#[derive(Clone, Debug)]
pub struct CurrentAdmin {
    pub admin: Admin,
    pub session: Session,
}

/// A signed-in admin who belongs to the workspace in the path (`{slug}`); others get 404.
#[derive(Clone, Debug)]
pub struct Member {
    pub admin: Admin,
    pub workspace: Workspace,
    pub session: Session,
}

impl Member {
    /// The signed-in admin as the audit log and ops name who acted.
    pub fn actor(&self) -> Actor {
        Actor::admin(&self.admin.id, &self.admin.email)
    }
}

pub fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session: {e}"))
}

pub async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, msg)| session_error(msg))
}

/// Sends an anonymous visitor to sign in, coming back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = if parts.method == axum::http::Method::GET && here != "/" {
        format!("/login?next={}", urlencode(here))
    } else {
        "/login".to_owned()
    };
    if parts.headers.contains_key("hx-request") {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            res.headers_mut().insert("hx-redirect", v);
        }
        res
    } else {
        Redirect::to(&target).into_response()
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = session_of(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id: Option<String> = session
            .get(ADMIN_KEY)
            .await
            .map_err(|e| session_error(e).into_response())?;
        let Some(id) = id else {
            return Err(to_login(parts));
        };
        match db::admins::by_id(&state.db, &id).await {
            Ok(Some(admin)) => Ok(Self { admin, session }),
            Ok(None) => Err(to_login(parts)),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentAdmin { admin, session } =
            CurrentAdmin::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound.into_response())?;
        let slug = params
            .iter()
            .find(|(k, _)| *k == "slug")
            .map(|(_, v)| v.to_owned())
            .ok_or_else(|| AppError::NotFound.into_response())?;
        match db::workspaces::member_by_slug(&state.db, &admin.id, &slug).await {
            Ok(Some(workspace)) => Ok(Self {
                admin,
                workspace,
                session,
            }),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// A one-shot message shown on the next page (a toast).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

pub async fn set_flash(
    session: &Session,
    kind: &str,
    message: impl Into<String>,
) -> Result<(), AppError> {
    let flash = Flash {
        kind: kind.to_owned(),
        message: message.into(),
    };
    session
        .insert(FLASH_KEY, flash)
        .await
        .map_err(session_error)
}

pub async fn take_flash(session: &Session) -> Result<Option<Flash>, AppError> {
    session.remove(FLASH_KEY).await.map_err(session_error)
}

/// Signs an admin in: a new session id (no fixation), then the admin id, where from, and a
/// fresh CSRF token. The session is stored from here on, never before.
pub async fn sign_in(
    session: &Session,
    admin_id: &str,
    ip: IpAddr,
    user_agent: Option<&str>,
) -> Result<(), AppError> {
    // Nothing of a previous sign-in in this browser (a flash, a pending reveal) carries over.
    session.clear().await;
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(ADMIN_KEY, admin_id)
        .await
        .map_err(session_error)?;
    session
        .insert(IP_KEY, ip.to_string())
        .await
        .map_err(session_error)?;
    if let Some(ua) = user_agent {
        let ua: String = ua.chars().take(MAX_USER_AGENT).collect();
        session
            .insert(USER_AGENT_KEY, ua)
            .await
            .map_err(session_error)?;
    }
    super::csrf::rotate(session).await?;
    Ok(())
}

pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// A safe place to go after sign-in: a path on this site, else `/`. Only printable ASCII
/// without `\` or `//` anywhere: browsers drop tabs and newlines from a `Location` and read
/// `\` as `/`, so `/\t/evil.example` or `/\evil.example` would leave the site, and a
/// control character cannot be put in a header at all.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && !n.contains("//") =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(
            safe_next(Some("/w/acme/settings/channels")),
            "/w/acme/settings/channels"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for hostile in [
            "/\t/evil.example",
            "/\n",
            "/\r\n/x",
            "/ /evil",
            "/a/\\b",
            "/é",
            "/a//b",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(Some("/login?next=%2F")), "/login?next=%2F");
    }

    #[test]
    fn urlencode_escapes_query_characters() {
        assert_eq!(urlencode("/a?b=c&d"), "%2Fa%3Fb%3Dc%26d");
    }
}
