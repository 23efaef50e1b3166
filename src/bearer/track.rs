//! The tracking layer around every API route: authenticates the request ([`Gate`]'s 401
//! checks and spending), hands the [`Caller`] to the handler in the request's extensions, and
//! after the handler counts the request (403s and 429s included) and adds the rate-limit
//! headers. A tower layer with its own future: a cache hit costs no boxed future, no clone of
//! the inner service and no second service wrapper; only a cache miss is boxed.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::budget::Spent;
use super::extract::Caller;
use super::usage::{Hit, LiveUsage};
use super::{Admitted, Authentication, Gate};
use crate::domain::now;
use crate::error::AppError;
use crate::request_log::{self, CountedToken, RouteName};

/// The layer around one route, `route` its template (for the request log).
#[derive(Clone)]
pub struct TrackLayer {
    gate: Gate,
    route: &'static str,
}

impl TrackLayer {
    pub fn new(gate: Gate, route: &'static str) -> Self {
        Self { gate, route }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            gate: self.gate.clone(),
            route: self.route,
        }
    }
}

#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    gate: Gate,
    route: &'static str,
}

/// What the layer needs after the handler to count the request (forward auth fills it with
/// the original request's method, and passes its path to [`count`]).
pub(crate) struct Seen {
    pub caller: Caller,
    pub spent: Spent,
    pub method: Method,
    /// The route template, for the request log.
    pub route: &'static str,
}

type Boxed = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (peer, route) = (peer_of(&req), self.route);
        match self.gate.authenticate(req.headers(), peer) {
            Authentication::Done(Ok(admission)) => {
                admitted(&mut self.inner, &self.gate, route, req, admission)
            }
            Authentication::Done(Err(refused)) => TrackFuture::Refused {
                res: Some(refusal(route, refused)),
            },
            Authentication::Miss(hash) => {
                // A cache miss: read the token, then go on as a hit would.
                let (mut inner, gate) = (self.inner.clone(), self.gate.clone());
                let miss: Boxed = Box::pin(async move {
                    match gate.authenticate_miss(&hash, req.headers(), peer).await {
                        Ok(admission) => admitted(&mut inner, &gate, route, req, admission).await,
                        Err(refused) => Ok(refusal(route, refused)),
                    }
                });
                TrackFuture::Miss { miss }
            }
        }
    }
}

/// A 401 answered here, carrying the route template for the request log like any response.
fn refusal(route: &'static str, refused: AppError) -> Response {
    let mut res = refused.into_response();
    if request_log::enabled() {
        res.extensions_mut().insert(RouteName(route));
    }
    res
}

/// Without a socket (never in the server) the address is unknown: 0.0.0.0, which no
/// allowlist entry short of 0.0.0.0/0 admits.
pub(crate) fn peer_of(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Hands the caller to the handler and keeps what counting needs.
fn admitted<S>(
    inner: &mut S,
    gate: &Gate,
    route: &'static str,
    mut req: Request,
    Admitted { caller, spent }: Admitted,
) -> TrackFuture<S::Future>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let seen = Seen {
        caller: caller.clone(),
        spent,
        method: req.method().clone(),
        route,
    };
    // The path for usage, kept as the request's `Uri`: its clone shares the request's bytes.
    let uri = req.uri().clone();
    req.extensions_mut().insert(caller);
    TrackFuture::Admitted {
        inner: inner.call(req),
        seen: Some((seen, uri, gate.clone())),
    }
}

pin_project! {
    #[project = TrackProj]
    pub enum TrackFuture<F> {
        Admitted { #[pin] inner: F, seen: Option<(Seen, Uri, Gate)> },
        Miss { miss: Boxed },
        Refused { res: Option<Response> },
    }
}

impl<F> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            TrackProj::Admitted { inner, seen } => {
                let Ok(mut res) = ready!(inner.poll(cx));
                if let Some((seen, uri, gate)) = seen.take() {
                    count(&gate, seen, uri.path(), &mut res);
                }
                Poll::Ready(Ok(res))
            }
            TrackProj::Miss { miss } => miss.as_mut().poll(cx),
            TrackProj::Refused { res } => Poll::Ready(Ok(res.take().unwrap_or_default())),
        }
    }
}

/// `/me`, answered in one step while its token is cached: SPEC §6's order — the 401 checks
/// and spending, IP allowlist, rate limit — then the answer, made by `respond` from the
/// token's live usage, and the counting. Its answer is a 200 whatever the usage, so the
/// usage is read and the request counted under one lock of the usage buffer (the router's
/// path reads it in the handler and counts after, under two). `None` on a cache miss, left
/// to the layer.
pub(crate) fn at_once(
    gate: &Gate,
    route: &'static str,
    req: &Request,
    respond: impl FnOnce(&Caller, LiveUsage) -> Response,
) -> Option<Response> {
    let Admitted { caller, spent } = match gate.authenticate(req.headers(), peer_of(req)) {
        Authentication::Done(Ok(admission)) => admission,
        Authentication::Done(Err(refused)) => return Some(refusal(route, refused)),
        Authentication::Miss(_) => return None,
    };
    let seen = Seen {
        caller,
        spent,
        method: req.method().clone(),
        route,
    };
    let path = req.uri().path();
    if let Err(refused) = seen
        .caller
        .authorize(None)
        .and_then(|()| seen.caller.check_rate())
    {
        let mut res = AppError::from(refused).into_response();
        count(gate, seen, path, &mut res);
        return Some(res);
    }
    let Seen {
        caller,
        spent,
        method,
        route,
    } = seen;
    let at = now();
    let hit = hit(&caller, method, at, 200);
    let live = gate.usage.live_then_record(caller.entry(), path, hit);
    let mut res = respond(&caller, live);
    debug_assert_eq!(res.status(), StatusCode::OK);
    counted(caller, &spent, route, at, &mut res);
    Some(res)
}

/// Counts a request to `path` that passed the 401 checks, with its response's status, and
/// adds the rate-limit headers.
pub(crate) fn count(gate: &Gate, seen: Seen, path: &str, res: &mut Response) {
    let Seen {
        caller,
        spent,
        method,
        route,
    } = seen;
    let at = now();
    let hit = hit(&caller, method, at, res.status().as_u16());
    let entry = caller.entry();
    gate.usage
        .record(&entry.token.id, &entry.batch_slot, path, hit);
    counted(caller, &spent, route, at, res);
}

/// The request as usage records it, its path given.
fn hit(caller: &Caller, method: Method, at: i64, status: u16) -> impl FnOnce(Arc<str>) -> Hit {
    let (ip, hint) = (caller.ip, caller.entry().hint);
    move |path| Hit {
        at,
        method,
        path,
        status,
        ip,
        hint,
    }
}

/// A counted request's rate-limit headers, and what the request log reads of it.
fn counted(caller: Caller, spent: &Spent, route: &'static str, at: i64, res: &mut Response) {
    super::headers::write(res.headers_mut(), spent, at);
    // Only the request log reads them: the caller itself (no copy of the id) and the route,
    // in one extension, when that log is on.
    if request_log::enabled() {
        res.extensions_mut().insert(CountedToken { caller, route });
    }
}
