//! The HTTP/1.1 accept loop (hyper directly, so slow clients can be bounded): at most
//! `--max-connections` open at once (further ones wait in the listen backlog), request
//! headers must arrive within `--header-timeout` (idle keep-alive connections included),
//! headers are capped at 16 KiB (431), and shutdown drains in-flight requests gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// Request head limit: hyper answers 431 above it.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish for at most
/// `drain`. Returns whether everything drained in time.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> bool
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    finish(graceful, drain).await
}

/// Lets in-flight requests finish for at most `drain`; whether they all did.
async fn finish(graceful: GracefulShutdown, drain: Duration) -> bool {
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => true,
        () = tokio::time::sleep(drain) => {
            tracing::warn!("shutdown timeout reached; closing remaining connections");
            false
        }
    }
}
