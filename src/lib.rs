//! keyward: a self-hosted API token service. The dashboard (askama + htmx, session cookie),
//! the bearer JSON API and the verify endpoint are one axum router over one SQLite or
//! PostgreSQL database.
//!
//! Request flow: `app()` puts the lane (`lane`: `/healthz`, and the hot bearer routes with a
//! cached token, answered before the router) in front of the timeout and the edge layer
//! (error pages, security headers, metrics, request log), around the dashboard (`web`, behind
//! sessions and CSRF) and the API (`api`, behind the bearer checks of `bearer`). SQL lives in
//! `db`, pure rules in `domain`, shared token changes in `ops`.

pub mod api;
pub mod auth;
pub mod bearer;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod edge;
pub mod error;
pub mod forward_auth;
pub mod health;
pub mod lane;
pub mod log_sink;
pub mod maintenance;
pub mod metrics;
pub mod ops;
pub mod request_log;
pub mod server;
pub mod state;
pub mod timeout;
pub mod web;
pub mod webhooks;

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn;
use axum::routing::get;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder};

pub use config::Config;
pub use state::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Request bodies above this are refused with 413 (the server wraps each body in the limit).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Log lines waiting for the writer thread; past this, new lines are dropped (the request
/// path never waits for standard error).
pub const LOG_BUFFER_LINES: usize = 65_536;

/// Sets up logging to standard error through a buffered, non-blocking writer ([`log_sink`]):
/// request threads append each line to a shared queue and a writer thread writes the queue in
/// batches. Keep the returned guard until exit: dropping it writes what is still queued.
pub fn init_tracing(config: &Config) -> log_sink::Guard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log));
    let (sink, guard) = log_sink::start(std::io::stderr(), LOG_BUFFER_LINES);
    metrics::count_dropped_log_lines(sink.clone());
    // Colours only on a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Request lines skip the general formatter (same line, written directly) unless colours or
    // a filter on span or field values could change them.
    let direct = !ansi && !filter.to_string().contains('[');
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(log_sink::SinkWriter(sink.clone()));
    let installed = match config.log_format {
        config::LogFormat::Text => logs.try_init(),
        config::LogFormat::Json => logs.json().try_init(),
    };
    if installed.is_ok() && direct {
        request_log::write_directly(sink, config.log_format);
    }
    guard
}

/// Opens and migrates the database.
pub async fn prepare(config: Config) -> Result<AppState, BoxError> {
    // A database from a newer keyward is refused before anything opens it for writing.
    maintenance::check_schema(&config.database_url).await?;
    // A bad rules file stops the start, before the database opens.
    let rules = forward_auth::RuleBook::load(&config)?;
    let db = db::connect(&config.database_url).await?;
    db::migrate(&db).await?;
    Ok(AppState::with_rules(db, config, rules))
}

/// When no admin exists yet, makes the one-time setup code and returns the setup link.
pub async fn setup_link(state: &AppState) -> Result<Option<String>, BoxError> {
    if db::admins::exists(&state.db).await? {
        state.setup.set(None);
        return Ok(None);
    }
    let code = state
        .setup
        .get()
        .unwrap_or_else(|| domain::ids::random_base62(32));
    db::setup_codes::insert(&state.db, &state::SetupCode::hash(&code)).await?;
    state.setup.set(Some(code.clone()));
    Ok(Some(format!(
        "{}/setup?code={code}",
        state.config.base_url()
    )))
}

/// Every route, each group behind its own layers: sessions and CSRF for the dashboard, the
/// bearer tracking layer for the API. Routes other than the bearer API and the health checks
/// copy their template onto the response for the request log.
pub fn routes(state: AppState) -> Router {
    let keep_route = from_fn(edge::keep_route);
    Router::new()
        .merge(
            web::router(&state)
                .layer(auth::store::layer(&state))
                .route_layer(keep_route.clone()),
        )
        .merge(web::static_files::router().route_layer(keep_route.clone()))
        .merge(api::router(&state))
        .merge(forward_auth::router(forward_auth::Judge {
            gate: state.gate.clone(),
            rules: state.forward_rules.clone(),
        }))
        .merge(api::docs::router().route_layer(keep_route))
        .route(health::HEALTHZ, get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async { (StatusCode::NOT_FOUND, Extension(edge::Unmatched)) })
        .with_state(state)
}

/// The whole application: the hot routes' lane (`GET /healthz`, and the bearer routes when
/// nothing needs waiting for, are answered there), then the routes inside the app-wide layers,
/// applied once around the router rather than to each route — a timeout (408) and the edge
/// layer (error pages, security headers, metrics, request log). The body limit (413) is the
/// server's, set on each request's body as it is handed over (`server::conn`).
pub fn app(
    state: AppState,
) -> impl Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let timeout = Duration::from_secs(state.config.request_timeout);
    ServiceBuilder::new()
        .layer(lane::LaneLayer(state.clone()))
        .layer(timeout::TimeoutLayer {
            timeout,
            status: StatusCode::REQUEST_TIMEOUT,
        })
        .layer(edge::EdgeLayer(state.clone()))
        .service(routes(state))
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for at most the
/// configured timeout.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let workers = server::Workers::start()?;
    let background = Background::start(&state, &listener);
    let limits = server::ConnLimits {
        max_connections: state.config.max_connections as usize,
        header_timeout: Duration::from_secs(state.config.header_timeout),
        body_limit: BODY_LIMIT,
    };
    let drain = Duration::from_secs(state.config.shutdown_timeout);
    let app = app(state.clone());
    let served = server::serve(listener, &workers, app, limits, shutdown, drain).await;
    // Even when serving failed: usage counted by the last requests is written.
    background.finish().await;
    state.db.close().await;
    // Only now: a PostgreSQL connection a request opened is driven by that worker's runtime.
    drop(workers);
    served?;
    Ok(())
}

/// The server's background tasks: started with it, stopped once it stops serving.
struct Background {
    cleanup: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
    /// The usage flusher first: the rest are awaited after it.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    fn start(state: &AppState, listener: &TcpListener) -> Self {
        let cleanup = tokio::spawn(auth::store::delete_expired_every(
            state.db.clone(),
            Duration::from_secs(300),
        ));
        let (stop, flusher_stop) = tokio::sync::watch::channel(false);
        let flusher = {
            let gate = state.gate.clone();
            let every = Duration::from_millis(state.config.usage_flush_ms);
            tokio::spawn(async move { gate.run_flusher(every, flusher_stop).await })
        };
        let epoch_watch = {
            let (cache, db, stop) = (
                state.gate.tokens.clone(),
                state.db.clone(),
                stop.subscribe(),
            );
            tokio::spawn(async move { cache.watch_epoch(db, stop).await })
        };
        let deliverer = tokio::spawn(webhooks::deliver::run(state.clone(), stop.subscribe()));
        let sweeper = tokio::spawn(webhooks::expiry::run(
            state.clone(),
            Duration::from_millis(state.config.expiry_sweep_ms),
            stop.subscribe(),
        ));
        let mut tasks = vec![flusher, epoch_watch, deliverer, sweeper];
        if let Some(shares) = state.gate.shares.clone() {
            if let Ok(addr) = listener.local_addr() {
                shares.identify(addr);
            }
            let (db, stop) = (state.db.clone(), stop.subscribe());
            tasks.push(tokio::spawn(async move { shares.run(db, stop).await }));
        }
        Self {
            cleanup,
            stop,
            tasks,
        }
    }

    /// Stops every task and waits for them: usage counted by the last requests is written
    /// before the process exits.
    async fn finish(self) {
        self.cleanup.abort();
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal right after start is not lost.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, BoxError> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// `keyward serve`: prepare, print the setup link if needed, listen, serve until a signal.
pub async fn run_server(mut config: Config) -> Result<(), BoxError> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    // With port 0 the links shown (the setup link, the API base) name the port actually bound.
    config.listen = addr;
    let state = prepare(config).await?;
    let _lock = maintenance::lock_database(&state.config.database_url).await?;
    password_warm_up();
    let signal = shutdown_signal()?;
    #[cfg(unix)]
    let reload = forward_auth::reload_on_hangup(state.forward_rules.clone(), state.config.clone())?;
    tracing::info!(%addr, "keyward listening");
    let metrics = match state.config.metrics_listen {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot listen for metrics on {at}: {e}"))?;
            tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics");
            let router = metrics::router(state.metrics.clone(), state.db.clone());
            Some(tokio::spawn(
                async move { axum::serve(listener, router).await },
            ))
        }
        None => None,
    };
    if let Some(link) = setup_link(&state).await? {
        println!("No admin yet. Open this one-time setup link to create the first admin: {link}");
    } else {
        println!("keyward is serving on http://{addr}");
    }
    let served = serve(state, listener, signal).await;
    if let Some(task) = metrics {
        task.abort();
    }
    #[cfg(unix)]
    reload.abort();
    served
}

fn password_warm_up() {
    auth::password::warm_up();
}
