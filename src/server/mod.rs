//! The HTTP/1.1 accept loop (hyper directly, so slow clients can be bounded): at most
//! `--max-connections` open at once (further ones wait in the listen backlog), request
//! headers must arrive within `--header-timeout` (idle keep-alive connections included,
//! [`conn::Guarded`]), headers are capped at 16 KiB (431), bodies at 64 KiB (413, as each
//! request is handed to the app: [`conn::Conn`]), and shutdown drains in-flight requests
//! gracefully.
//!
//! Each accepted connection is handed, in turn, to one of [`Workers`]: a thread per core,
//! each with a single-threaded runtime, that serves it until it closes. A connection's
//! requests never move between threads, and no request wakes a second thread to steal work
//! (BENCHMARKS.md, eleventh pass: `/me` 1.04–1.08×, `/healthz` 1.00–1.01× against the
//! shared work-stealing runtime). Background work (the flusher, webhooks, sweeps) stays on
//! the main runtime.

mod conn;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::Service;

/// Request head limit: hyper answers 431 above it.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// Request bodies above this many bytes are refused (413).
    pub body_limit: usize,
}

/// Work handed to a worker: run on its thread, inside its runtime.
type Job = Box<dyn FnOnce() + Send>;

/// One thread per core, each running a single-threaded runtime that serves the connections
/// handed to it. Dropping this lets each thread finish its runtime (any connection still
/// open is closed). Kept until the server's last database work is done: a connection to
/// PostgreSQL opened by a request is driven by the runtime it was opened on.
pub struct Workers {
    queues: Vec<UnboundedSender<Job>>,
}

impl Workers {
    /// One worker per core the process may use (`std::thread::available_parallelism`, which
    /// counts a container's CPU quota).
    pub fn start() -> std::io::Result<Self> {
        let n = thread::available_parallelism().map_or(1, |n| n.get());
        let mut queues = Vec::with_capacity(n);
        for i in 0..n {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (queue, mut jobs) = unbounded_channel::<Job>();
            thread::Builder::new()
                .name(format!("keyward-worker-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some(job) = jobs.recv().await {
                            job();
                        }
                    });
                })?;
            queues.push(queue);
        }
        Ok(Self { queues })
    }

    /// Runs `job` on worker `n` (modulo their number). False if that worker has stopped.
    fn run(&self, n: usize, job: Job) -> bool {
        self.queues
            .get(n % self.queues.len().max(1))
            .is_some_and(|queue| queue.send(job).is_ok())
    }
}

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish for at most
/// `drain`. Returns whether everything drained in time; an error if it stopped because a
/// worker had (after draining the rest all the same).
pub async fn serve<S>(
    listener: TcpListener,
    workers: &Workers,
    app: S,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<bool>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.max_buf_size(MAX_HEADER_BYTES);
    let mut shutdown = pin!(shutdown);
    let (mut turn, mut worker_stopped) = (0usize, false);
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
        let Ok(job) = connection(stream, peer, app.clone(), &http, &graceful, permit, limits)
        else {
            continue;
        };
        if !workers.run(turn, job) {
            // Only a panic outside any request stops a worker: stop rather than limp on.
            tracing::error!("a connection worker has stopped; shutting down");
            worker_stopped = true;
            break;
        }
        turn = turn.wrapping_add(1);
    }
    drop(listener);
    let drained = finish(graceful, drain).await;
    if worker_stopped {
        return Err(std::io::Error::other("a connection worker has stopped"));
    }
    Ok(drained)
}

/// The job that serves one accepted connection on a worker: the stream leaves the accept
/// loop's runtime here and is registered with the worker's when the job runs.
fn connection<S>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: S,
    http: &http1::Builder,
    graceful: &GracefulShutdown,
    permit: OwnedSemaphorePermit,
    limits: ConnLimits,
) -> std::io::Result<Job>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let stream = stream.into_std()?;
    let (http, watcher) = (http.clone(), graceful.watcher());
    Ok(Box::new(move || {
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            return;
        };
        let watch = Arc::new(conn::Watch::from_now());
        let io = TokioIo::new(conn::Watched::new(stream, watch.clone()));
        let service = conn::Conn::new(app, peer, limits.body_limit, watch.clone());
        let conn = watcher.watch(http.serve_connection(io, service));
        let conn = conn::Guarded::new(conn, watch, limits.header_timeout);
        tokio::spawn(async move {
            match conn.await {
                conn::Ended::Served(Err(e)) => {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                conn::Ended::TimedOut => {
                    tracing::debug!(%peer, "no request head within the header timeout");
                }
                conn::Ended::Served(Ok(())) => {}
            }
            drop(permit);
        });
    }))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Connections go to each worker in turn, and a job runs inside its worker's runtime
    /// (it can spawn the connection's task there).
    #[test]
    fn each_worker_in_turn_runs_a_job_inside_its_own_runtime() {
        let workers = Workers::start().unwrap();
        let n = workers.queues.len();
        let (tx, rx) = std::sync::mpsc::channel();
        for turn in 0..3 * n {
            let tx = tx.clone();
            let job: Job = Box::new(move || {
                let thread = thread::current().name().map(str::to_owned);
                tokio::spawn(async move { tx.send((turn, thread)).unwrap() });
            });
            assert!(workers.run(turn, job));
        }
        let mut ran: Vec<_> = rx.iter().take(3 * n).collect();
        ran.sort();
        assert_eq!(ran.len(), 3 * n);
        for (turn, thread) in ran {
            assert_eq!(thread, Some(format!("keyward-worker-{}", turn % n)));
        }
    }
}
