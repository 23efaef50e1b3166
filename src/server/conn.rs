//! One connection's service, body limit and header timeout.
//!
//! The service ([`Conn`]) is made once per connection and calls the app in place: hyper-util's
//! `TowerToHyperService` clones the whole app per request (every layer's state, each a count
//! on memory both workers share) to call it once. It also sets each request's body limit.
//!
//! The header timeout ([`Guarded`]): a connection is closed when no request head has arrived
//! within `--header-timeout` of its opening or of its last answer — a stalled head, or an
//! idle keep-alive connection. hyper's own header timeout makes a timer per request and
//! registers and removes it in the runtime's timer wheel (a lock each) around every request
//! on a keep-alive connection; here each connection has one timer, and each write notes its
//! time (a clock read). When the timer fires it is set again for a timeout after the last
//! write, or after now while a request is in hand, and closes the connection if that time has
//! passed. A request in hand keeps its connection (the request timeout is its bound), and so
//! does an answer still being written, as long as the client takes some of it each timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body_util::Limited;
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

/// What a connection's timer looks at: requests in hand, and when the connection last wrote.
pub struct Watch {
    opened: Instant,
    in_hand: AtomicU32,
    /// Milliseconds from `opened` to the last write.
    wrote_at: AtomicU64,
}

impl Watch {
    /// The watch of a connection opening now.
    pub fn from_now() -> Self {
        Self {
            opened: Instant::now(),
            in_hand: AtomicU32::new(0),
            wrote_at: AtomicU64::new(0),
        }
    }

    /// When the connection last wrote (an answer, or part of one), or opened.
    fn idle_since(&self) -> Instant {
        self.opened + Duration::from_millis(self.wrote_at.load(Relaxed))
    }
}

/// The connection's socket, noting the time of each write in its [`Watch`].
pub struct Watched<T> {
    io: T,
    watch: Arc<Watch>,
}

impl<T> Watched<T> {
    pub fn new(io: T, watch: Arc<Watch>) -> Self {
        Self { io, watch }
    }

    fn wrote(&self, n: &Poll<io::Result<usize>>) {
        if matches!(n, Poll::Ready(Ok(n)) if *n > 0) {
            let ms = self.watch.opened.elapsed().as_millis();
            self.watch
                .wrote_at
                .store(u64::try_from(ms).unwrap_or(u64::MAX), Relaxed);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&n);
        n
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&n);
        n
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The app as one connection's hyper service.
pub struct Conn<S> {
    app: Mutex<S>,
    peer: SocketAddr,
    body_limit: usize,
    watch: Arc<Watch>,
}

impl<S> Conn<S> {
    pub fn new(app: S, peer: SocketAddr, body_limit: usize, watch: Arc<Watch>) -> Self {
        Self {
            app: Mutex::new(app),
            peer,
            body_limit,
            watch,
        }
    }
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Conn<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = InHand<S>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        // The body limit set here, on the body the app reads (axum's extractors report its error
        // as 413), rather than by a layer noting it in every request's extensions.
        let mut req = req.map(|body| Body::new(Limited::new(body, self.body_limit)));
        req.extensions_mut().insert(ConnectInfo(self.peer));
        self.watch.in_hand.fetch_add(1, Relaxed);
        let hand = Hand(self.watch.clone());
        let mut app = self.app.lock().unwrap_or_else(PoisonError::into_inner);
        // Every layer of the app is always ready; were one not, the request waits on a copy.
        let ready = app.poll_ready(&mut Context::from_waker(Waker::noop()));
        let call = match ready {
            Poll::Ready(Ok(())) => Call::Now {
                inner: app.call(req),
            },
            _ => Call::Later {
                inner: app.clone().oneshot(req),
            },
        };
        InHand { call, hand }
    }
}

/// A request in hand: counted until its answer is ready (or it is dropped).
struct Hand(Arc<Watch>);

impl Drop for Hand {
    fn drop(&mut self) {
        self.0.in_hand.fetch_sub(1, Relaxed);
    }
}

pin_project! {
    #[project = CallProj]
    enum Call<S: Service<Request>> {
        Now { #[pin] inner: S::Future },
        Later { #[pin] inner: Oneshot<S, Request> },
    }
}

pin_project! {
    pub struct InHand<S: Service<Request>> {
        #[pin]
        call: Call<S>,
        hand: Hand,
    }
}

impl<S> Future for InHand<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().call.project() {
            CallProj::Now { inner } => inner.poll(cx),
            CallProj::Later { inner } => inner.poll(cx),
        }
    }
}

pin_project! {
    /// A connection under its header timeout.
    pub struct Guarded<C> {
        #[pin]
        conn: C,
        #[pin]
        timer: Sleep,
        armed: bool,
        watch: Arc<Watch>,
        timeout: Duration,
    }
}

impl<C> Guarded<C> {
    pub fn new(conn: C, watch: Arc<Watch>, timeout: Duration) -> Self {
        Self {
            conn,
            timer: tokio::time::sleep_until(watch.opened + timeout),
            armed: false,
            watch,
            timeout,
        }
    }
}

/// How a guarded connection ended.
pub enum Ended<E> {
    Served(Result<(), E>),
    TimedOut,
}

impl<C, E> Future for Guarded<C>
where
    C: Future<Output = Result<(), E>>,
{
    type Output = Ended<E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<E>> {
        let mut this = self.project();
        if let Poll::Ready(done) = this.conn.poll(cx) {
            return Poll::Ready(Ended::Served(done));
        }
        if this.timer.is_elapsed() {
            let now = Instant::now();
            let from = match this.watch.in_hand.load(Relaxed) {
                0 => this.watch.idle_since(),
                _ => now,
            };
            let next = from + *this.timeout;
            if next <= now {
                return Poll::Ready(Ended::TimedOut);
            }
            this.timer.as_mut().reset(next);
            *this.armed = false;
        }
        if !*this.armed {
            // Registers the task's waker with the timer; it stays registered until it fires.
            *this.armed = true;
            if this.timer.as_mut().poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}
