//! The API's tracking layer: counts every request whose token passed the 401 checks (403s and
//! 429s included) and adds the rate-limit headers of the tighter budget. A tower layer with
//! its own future rather than `from_fn`: it runs on every bearer request, and this way costs
//! no boxed future, no clone of the inner service and no second service wrapper.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::auth::bearer::CallSlot;
use crate::domain::now;
use crate::state::AppState;
use crate::usage::Hit;

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

#[derive(Clone)]
pub struct TrackLayer(pub AppState);

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            state: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let slot = CallSlot::default();
        req.extensions_mut().insert(slot.clone());
        let method = req.method().clone();
        let path = super::truncated_path(
            req.extensions()
                .get::<OriginalUri>()
                .map_or_else(|| req.uri().path(), |o| o.0.path()),
        );
        TrackFuture {
            inner: self.inner.call(req),
            seen: Some(Seen {
                slot,
                method,
                path,
                state: self.state.clone(),
            }),
        }
    }
}

/// What the request looked like before the handler ran.
struct Seen {
    slot: CallSlot,
    method: Method,
    path: Box<str>,
    state: AppState,
}

pin_project! {
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        seen: Option<Seen>,
    }
}

impl<F> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut res) = ready!(this.inner.poll(cx));
        if let Some(seen) = this.seen.take() {
            count(seen, &mut res);
        }
        Poll::Ready(Ok(res))
    }
}

fn count(seen: Seen, res: &mut Response) {
    let Some((entry, ip, budget)) = seen.slot.take() else {
        return;
    };
    let at = now();
    let token_id = &entry.token.id;
    // Only the request log reads it: no copy of the id when that log is off.
    if tracing::enabled!(target: "keyward::request", tracing::Level::INFO) {
        res.extensions_mut()
            .insert(crate::observe::CountedToken(token_id.clone()));
    }
    seen.state.usage.record(
        token_id,
        Hit {
            at,
            method: seen.method,
            path: seen.path,
            status: res.status().as_u16(),
            ip,
        },
    );
    let h = res.headers_mut();
    h.insert(RATELIMIT_LIMIT, HeaderValue::from(budget.limit));
    h.insert(RATELIMIT_REMAINING, HeaderValue::from(budget.remaining));
    h.insert(
        RATELIMIT_RESET,
        HeaderValue::from(at + i64::try_from(budget.reset_after).unwrap_or(0)),
    );
}
