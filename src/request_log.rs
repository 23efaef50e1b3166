//! What the request log (written by `edge`) takes from the routes: whether it is on, the
//! matched route template, and the token a request was counted for. Routes leave the last two
//! on their response; nothing is copied when the log is off.

use axum::extract::{MatchedPath, Request};

/// The token a request was counted for, left on the response by the bearer layer.
#[derive(Clone, Debug)]
pub struct CountedToken(pub String);

/// Whether the request log is on (a fixed filter: decided once per callsite).
pub fn enabled() -> bool {
    tracing::enabled!(target: "keyward::request", tracing::Level::INFO)
}

/// The request's matched route template, to leave on its response, when the log is on.
pub fn route_of(req: &Request) -> Option<MatchedPath> {
    enabled()
        .then(|| req.extensions().get::<MatchedPath>().cloned())
        .flatten()
}
