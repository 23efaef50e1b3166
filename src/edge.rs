//! The app-wide layer, applied once around the whole router (not per route, where axum would
//! clone and box it on every request): error pages, security headers, request metrics and the
//! request log, in one service with its own future.
//!
//! The log names the route template, never the raw path: the API's and forward auth's routes
//! name their own (the bearer layer's [`CountedToken`], or a [`RouteName`]), the others copy
//! their `MatchedPath` onto the response ([`keep_route`]), the router's fallback marks
//! [`Unmatched`], and the health checks are their own templates.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

use crate::error::ErrorInfo;
use crate::metrics::route_group;
use crate::request_log::{self, CountedToken, RouteName};
use crate::state::AppState;
use crate::web::{errors, headers};

/// Left on the response by the router's fallback: no route matched.
#[derive(Clone, Copy, Debug)]
pub struct Unmatched;

/// Copies the matched route template onto the response, for the request log.
pub async fn keep_route(req: Request, next: Next) -> Response {
    let route = request_log::route_of(&req);
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}

#[derive(Clone)]
pub struct EdgeLayer(pub AppState);

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
}

/// What the request looked like, for after the response.
pub(crate) struct Seen {
    api: bool,
    group: &'static str,
    /// Only when the request log is on.
    log: Option<ForLog>,
}

/// What the request log's line takes from the request.
struct ForLog {
    started: Instant,
    method: Method,
    /// The route to name when the response carries none.
    plain: &'static str,
    client_ip: Option<IpAddr>,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<Instrumented<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (seen, span) = begin(&req, &self.state);
        EdgeFuture {
            inner: self.inner.call(req).instrument(span),
            seen: Some((seen, self.state.clone())),
        }
    }
}

/// What the edge notes of a request before it is answered, and the span it is answered in
/// (named by path only: a query string can carry the one-time setup code).
pub(crate) fn begin(req: &Request, state: &AppState) -> (Seen, Span) {
    let path = req.uri().path();
    let log = request_log::enabled().then(|| {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = &state.config.trusted_proxies;
        ForLog {
            started: Instant::now(),
            method: req.method().clone(),
            plain: plain_route(path),
            client_ip: peer.map(|p| crate::domain::client_ip::resolve(p, req.headers(), trusted)),
        }
    });
    let span = tracing::debug_span!("http", method = %req.method(), path = %path);
    let seen = Seen {
        api: path == "/api" || path.starts_with("/api/"),
        group: route_group(path),
        log,
    };
    (seen, span)
}

/// The edge's work on a response: the error page or problem body, the security headers,
/// the metrics and the log line.
pub(crate) fn finish(state: &AppState, seen: Seen, res: Response) -> Response {
    let route = seen.log.is_some().then(|| route_of(&res)).flatten();
    let mut res = errors::render(seen.api, res);
    headers::secure(&mut res);
    observe(state, seen, route, &res);
    res
}

pin_project! {
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        seen: Option<(Seen, AppState)>,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(res) = ready!(this.inner.poll(cx));
        let Some((seen, state)) = this.seen.take() else {
            return Poll::Ready(Ok(res));
        };
        Poll::Ready(Ok(finish(&state, seen, res)))
    }
}

/// The route template the response carries; "(unmatched)" when no route matched, "(method
/// not allowed)" for a route's 405.
fn route_of(res: &Response) -> Option<Route> {
    if res.extensions().get::<Unmatched>().is_some() {
        return Some(Route::Fixed("(unmatched)"));
    }
    if res.status() == StatusCode::METHOD_NOT_ALLOWED {
        return Some(Route::Fixed("(method not allowed)"));
    }
    let ext = res.extensions();
    let named = ext.get::<CountedToken>().map(|c| c.route);
    let named = named.or_else(|| ext.get::<RouteName>().map(|r| r.0));
    match named {
        Some(route) => Some(Route::Fixed(route)),
        None => ext.get::<MatchedPath>().cloned().map(Route::Matched),
    }
}

/// A route name for the log: a fixed one, or the template (shared, not copied).
enum Route {
    Fixed(&'static str),
    Matched(MatchedPath),
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Route::Fixed(name) => name,
            Route::Matched(path) => path.as_str(),
        }
    }
}

/// Routes without layers of their own: their path is their template.
fn plain_route(path: &str) -> &'static str {
    match path {
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        _ => "(no route template)",
    }
}

/// Counts the request in the metrics and writes its log line (never a secret: the token id
/// only, from the bearer layer).
fn observe(state: &AppState, seen: Seen, route: Option<Route>, res: &Response) {
    let status = res.status().as_u16();
    let code = res.extensions().get::<ErrorInfo>().map(|e| e.code);
    state.metrics.observe(seen.group, status, code);
    let Some(log) = seen.log else {
        return;
    };
    let token = res.extensions().get::<CountedToken>();
    request_log::write(&request_log::Line {
        method: &log.method,
        route: route.as_ref().map_or(log.plain, Route::as_str),
        status,
        latency_us: u64::try_from(log.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        token_id: token.map(CountedToken::id),
        client_ip: log.client_ip,
    });
}
