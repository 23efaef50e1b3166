//! Forward auth for reverse proxies (SPEC §11): nginx (`auth_request`), Caddy
//! (`forward_auth`) and Traefik (ForwardAuth) ask keyward whether a request to an upstream
//! API may pass. [`check`] runs one check on the API's bearer path; [`rules`] is the rules
//! file, judged on the path [`path`] normalised; [`RuleBook`] holds the rules in force and
//! swaps them on SIGHUP.

pub mod check;
pub mod explain;
pub mod original;
pub mod path;
pub mod rules;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use crate::api::responses::{ProxyRefusals, Refusals};
use crate::bearer::Gate;
use crate::config::Config;
pub use original::Face;
use rules::{Rules, RulesError};

/// What a check needs: the bearer path and the rules in force (the endpoints' own state, so
/// forward auth does not depend on the application's).
#[derive(Clone)]
pub struct Judge {
    pub gate: Gate,
    pub rules: Arc<RuleBook>,
}

/// The two endpoints. Outside the bearer tracking layer, since a public route needs no
/// token: each check takes the bearer path itself ([`check`]).
pub fn router<S: Clone + Send + Sync + 'static>(judge: Judge) -> Router<S> {
    Router::new()
        .route(Face::Forward.route(), get(forward_auth))
        .route(Face::Nginx.route(), get(auth_request))
        .with_state(judge)
}

#[utoipa::path(
    get,
    path = "/api/v1/forward-auth",
    tag = "forward-auth",
    summary = "May this proxied request pass? For Caddy `forward_auth` and Traefik ForwardAuth; counts as a use of the token",
    description = "Judges the original request (`X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`) by the rules file (`--forward-auth-rules`) and the `permission`/`channel` query parameters. Every refusal carries `X-Keyward-Code`.",
    security(("bearer" = [])),
    params(
        ("X-Forwarded-Method" = String, Header, pattern = "^[A-Za-z]+$", description = "The original request's method"),
        ("X-Forwarded-Uri" = String, Header, pattern = "^/", description = "The original request's path and query, as the client sent them"),
        ("X-Forwarded-Host" = Option<String>, Header, description = "The original request's host, for rules with `host`"),
        ("permission" = Option<Vec<String>>, Query, description = "A permission the token must hold (repeatable), besides the rule's"),
        ("channel" = Option<String>, Query, description = "A channel id the token's scope must include"),
    ),
    responses(
        (status = 200, description = "Allowed: empty body, `Cache-Control: no-store`, `X-Keyward-Token-Id`, `X-Keyward-Token-Name`, `X-Keyward-Workspace`, `X-Keyward-Permissions` (none on a public route)"),
        Refusals,
    )
)]
pub(crate) async fn forward_auth(State(judge): State<Judge>, req: Request) -> Response {
    check::run(&judge, req, Face::Forward).await
}

#[utoipa::path(
    get,
    path = "/api/v1/auth-request",
    tag = "forward-auth",
    summary = "May this proxied request pass? For nginx `auth_request`: only 200, 401 or 403; counts as a use of the token",
    description = "As `/api/v1/forward-auth`, reading `X-Original-Method` and `X-Original-URI` (and `Host`) first. A rate limit is 403 with `X-Keyward-Code: rate_limited` and `Retry-After`.",
    security(("bearer" = [])),
    params(
        ("X-Original-Method" = String, Header, pattern = "^[A-Za-z]+$", description = "The original request's method (`$request_method`)"),
        ("X-Original-URI" = String, Header, pattern = "^/", description = "The original request's path and query (`$request_uri`)"),
        ("permission" = Option<Vec<String>>, Query, description = "A permission the token must hold (repeatable), besides the rule's"),
        ("channel" = Option<String>, Query, description = "A channel id the token's scope must include"),
    ),
    responses(
        (status = 200, description = "Allowed: empty body, `Cache-Control: no-store` and the `X-Keyward-*` identity headers"),
        ProxyRefusals,
    )
)]
pub(crate) async fn auth_request(State(judge): State<Judge>, req: Request) -> Response {
    check::run(&judge, req, Face::Nginx).await
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
pub fn reload_on_hangup(
    rules: Arc<RuleBook>,
    config: Arc<Config>,
) -> Result<tokio::task::JoinHandle<()>, crate::BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match rules.reload(&config) {
                Ok(n) => tracing::info!(rules = n, "forward-auth rules reloaded"),
                Err(e) => tracing::error!(
                    error = %e,
                    "forward-auth rules not reloaded; the previous rules stay in force"
                ),
            }
        }
    }))
}
