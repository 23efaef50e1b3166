//! Forward auth for reverse proxies (SPEC §11): nginx (`auth_request`), Caddy
//! (`forward_auth`) and Traefik (ForwardAuth) ask keyward whether a request to an upstream
//! API may pass. [`check`] runs one check on the API's bearer path; [`rules`] is the rules
//! file, judged on the path [`path`] normalised; [`RuleBook`] holds the rules in force and
//! swaps them on SIGHUP.

pub mod check;
pub mod explain;
pub mod path;
pub mod rules;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use crate::api::Routes;
use crate::config::Config;
use crate::state::AppState;
use check::Face;
use rules::{Rules, RulesError};

pub fn routes() -> Routes {
    vec![
        ("/api/v1/forward-auth", get(forward_auth)),
        ("/api/v1/auth-request", get(auth_request)),
    ]
}

pub(crate) async fn forward_auth(State(state): State<AppState>, req: Request) -> Response {
    check::run(&state, req, Face::Forward).await
}

pub(crate) async fn auth_request(State(state): State<AppState>, req: Request) -> Response {
    check::run(&state, req, Face::Nginx).await
}

/// The rules in force: none without `--forward-auth-rules` (the query parameters alone
/// decide then).
#[derive(Default)]
pub struct RuleBook {
    file: Option<PathBuf>,
    rules: RwLock<Option<Arc<Rules>>>,
}

impl RuleBook {
    /// The configured file, read and checked (a bad one is an error naming its line).
    pub fn load(config: &Config) -> Result<Self, RulesError> {
        let Some(file) = config.forward_auth_rules.clone() else {
            return Ok(Self::default());
        };
        let rules = Rules::load(&file, &config.permission_catalog).map_err(|e| RulesError {
            line: None,
            message: format!("forward-auth rules {}: {e}", file.display()),
        })?;
        Ok(Self {
            file: Some(file),
            rules: RwLock::new(Some(Arc::new(rules))),
        })
    }

    pub fn current(&self) -> Option<Arc<Rules>> {
        self.rules.read().ok().and_then(|r| r.clone())
    }

    /// Reads the file again; a bad new file leaves the rules in force as they are.
    pub fn reload(&self, config: &Config) -> Result<usize, RulesError> {
        let Some(file) = &self.file else {
            return Ok(0);
        };
        let rules = Rules::load(file, &config.permission_catalog)?;
        let count = rules.rules.len();
        if let Ok(mut slot) = self.rules.write() {
            *slot = Some(Arc::new(rules));
        }
        Ok(count)
    }
}

/// Reloads the rules file on every SIGHUP, logging what happened, until the server stops.
#[cfg(unix)]
pub fn reload_on_hangup(state: AppState) -> Result<tokio::task::JoinHandle<()>, crate::BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match state.forward_rules.reload(&state.config) {
                Ok(n) => tracing::info!(rules = n, "forward-auth rules reloaded"),
                Err(e) => tracing::error!(
                    error = %e,
                    "forward-auth rules not reloaded; the previous rules stay in force"
                ),
            }
        }
    }))
}
