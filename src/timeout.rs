//! The request timeout (`--request-timeout`, answered `408`), armed only when a request has
//! to wait. tower-http's `TimeoutLayer` makes a timer per request and registers it in the
//! runtime's timer wheel on the first poll (then removes it): a lock and a wheel entry for
//! every request, though most requests (a health check, a cached bearer check) finish on their
//! first poll. Here the first poll runs the request; only when it is still pending is the timer
//! made, for the same deadline (the request's arrival plus the timeout). From then on each poll
//! checks the timer first, as tower-http's does; the timed-out answer is the same (the status,
//! an empty body).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

#[derive(Clone, Copy)]
pub struct TimeoutLayer {
    pub timeout: Duration,
    pub status: StatusCode,
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout { inner, at: *self }
    }
}

#[derive(Clone)]
pub struct Timeout<S> {
    inner: S,
    at: TimeoutLayer,
}

impl<S> Service<Request> for Timeout<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        TimeoutFuture {
            deadline: Instant::now() + self.at.timeout,
            status: self.at.status,
            inner: self.inner.call(req),
            sleep: None,
        }
    }
}

pin_project! {
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: Instant,
        status: StatusCode,
        // Boxed: made for waiting requests only, and a `Sleep` is large.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(sleep) = this.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Ok(timed_out(*this.status)));
        }
        if let Poll::Ready(res) = this.inner.poll(cx) {
            return Poll::Ready(res);
        }
        if this.sleep.is_none() {
            let mut sleep = Box::pin(tokio::time::sleep_until(*this.deadline));
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(timed_out(*this.status)));
            }
            *this.sleep = Some(sleep);
        }
        Poll::Pending
    }
}

fn timed_out(status: StatusCode) -> Response {
    let mut res = Response::default();
    *res.status_mut() = status;
    res
}
