//! The hot routes, answered before the router when nothing needs waiting for: `GET /healthz`
//! (a fixed answer), and `GET /api/v1/me`, `/api/v1/forward-auth` and `/api/v1/auth-request`
//! with a cached token (or one refused before any lookup, or a public forward-auth route).
//! Each is then one call — for a bearer route the checks in their order, the answer, the
//! counting ([`track::at_once`], [`check::at_once`]) — and the edge's work on the response
//! ([`edge::finish`]), with no routing, layer, extractor or handler future between them. The
//! answer is the one the router's path gives (the same functions; `/me` reads its usage and
//! counts itself under one lock, the usage it shows still the one before it); the difference
//! is only the steps saved (BENCHMARKS.md, twelfth and seventeenth passes). Anything else, a
//! cache miss included, goes on to the router unchanged: nothing has been spent or counted
//! when the lane lets a request pass.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::api::me;
use crate::bearer::track;
use crate::edge;
use crate::forward_auth::{Face, Judge, check};
use crate::health::{self, HEALTHZ};
use crate::state::AppState;

const ME: &str = "/api/v1/me";

#[derive(Clone)]
pub struct LaneLayer(pub AppState);

impl<S> Layer<S> for LaneLayer {
    type Service = Lane<S>;

    fn layer(&self, inner: S) -> Lane<S> {
        let state = self.0.clone();
        let judge = Judge {
            gate: state.gate.clone(),
            rules: state.forward_rules.clone(),
        };
        Lane {
            inner,
            state,
            judge,
        }
    }
}

#[derive(Clone)]
pub struct Lane<S> {
    inner: S,
    state: AppState,
    judge: Judge,
}

impl<S> Service<Request> for Lane<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LaneFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.at_once(&req) {
            Some(res) => LaneFuture::Answered { res: Some(res) },
            None => LaneFuture::Routed {
                inner: self.inner.call(req),
            },
        }
    }
}

/// The routes the lane answers.
#[derive(Clone, Copy)]
enum Hot {
    Health,
    Me,
    Check(Face),
}

impl<S> Lane<S> {
    /// The answer to a hot route that needs no waiting, with the edge's work done on it.
    fn at_once(&self, req: &Request) -> Option<Response> {
        if req.method() != Method::GET {
            return None;
        }
        let hot = match req.uri().path() {
            HEALTHZ => Hot::Health,
            ME => Hot::Me,
            path if path == Face::Forward.route() => Hot::Check(Face::Forward),
            path if path == Face::Nginx.route() => Hot::Check(Face::Nginx),
            _ => return None,
        };
        let (seen, span) = edge::begin(req, &self.state);
        let res = span.in_scope(|| match hot {
            Hot::Health => Some(health::alive()),
            Hot::Me => {
                let state = &self.state;
                track::at_once(&state.gate, ME, req, |c, live| me::respond(state, c, live))
            }
            Hot::Check(face) => check::at_once(&self.judge, req, face).ok(),
        })?;
        Some(edge::finish(&self.state, seen, res))
    }
}

pin_project! {
    #[project = LaneProj]
    pub enum LaneFuture<F> {
        Answered { res: Option<Response> },
        Routed { #[pin] inner: F },
    }
}

impl<F> Future for LaneFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            LaneProj::Answered { res } => Poll::Ready(Ok(res.take().unwrap_or_default())),
            LaneProj::Routed { inner } => inner.poll(cx),
        }
    }
}
