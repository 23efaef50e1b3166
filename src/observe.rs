//! One line per request (method, route template, status, latency, token id, client IP) and
//! the request metrics. The token id comes from the API's tracking layer; never the secret.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Level;

use crate::bearer::track::CountedToken;
use crate::error::ErrorInfo;
use crate::metrics::route_group;
use crate::state::AppState;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let group = route_group(req.uri().path());
    let logging = tracing::enabled!(target: "keyward::request", Level::INFO);
    let context = logging.then(|| {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = peer.map(|p| {
            crate::domain::client_ip::resolve(p, req.headers(), &state.config.trusted_proxies)
        });
        (req.method().clone(), route, ip)
    });
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let code = res.extensions().get::<ErrorInfo>().map(|e| e.code);
    state.metrics.observe(group, status, code);
    if let Some((method, route, ip)) = context {
        let token = res.extensions().get::<CountedToken>();
        tracing::info!(
            target: "keyward::request",
            %method,
            route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str),
            status,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            token_id = token.map(|t| t.0.as_str()),
            client_ip = ip.map(tracing::field::display),
            "request"
        );
    }
    res
}
