//! Prometheus metrics (prometheus-client), served on `--metrics-listen` only. Labels are
//! fixed vocabularies (route group, status, refusal code): never a token id, name or secret.

use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::Db;
pub use spread::Count;

mod spread;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub group: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

/// Every metric keyward keeps. Cloning shares the same counters.
#[derive(Clone)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Count>,
    pub refusals: Family<CodeLabels, Count>,
    pub rate_limited: Family<GroupLabels, Count>,
    pub cache_hits: Count,
    pub cache_misses: Count,
    /// `requests`' counters by route group and status (100–599), each looked up in the family
    /// once: counting a request is then an index and an atomic add, not a lock and a hash.
    request_counters: std::sync::Arc<[std::sync::OnceLock<Count>]>,
    pub flush_seconds: Histogram,
    pub flush_tokens: Histogram,
    pub pool_acquire_seconds: Histogram,
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    log_dropped: Gauge,
}

/// The request log's writer counts the lines it dropped because its queue was full.
static LOG_DROPPED: std::sync::OnceLock<std::sync::Arc<crate::log_sink::Sink>> =
    std::sync::OnceLock::new();

/// Reports this counter as `keyward_log_lines_dropped` (set once, when logging starts).
pub fn count_dropped_log_lines(sink: std::sync::Arc<crate::log_sink::Sink>) {
    let _ = LOG_DROPPED.set(sink);
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            refusals: Family::default(),
            rate_limited: Family::default(),
            cache_hits: Count::default(),
            cache_misses: Count::default(),
            request_counters: (0..GROUPS.len() * STATUSES)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            // 100 µs … ~1.6 s
            flush_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            // 1 … 16,384 tokens per flush
            flush_tokens: Histogram::new(exponential_buckets(1.0, 2.0, 15)),
            // 10 µs … ~160 ms
            pool_acquire_seconds: Histogram::new(exponential_buckets(0.00001, 2.0, 15)),
            pool_connections: Family::default(),
            pool_max: Gauge::default(),
            log_dropped: Gauge::default(),
        }
    }
}

impl Metrics {
    fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("keyward");
        r.register(
            "http_requests",
            "HTTP requests by route group and status",
            self.requests.clone(),
        );
        r.register(
            "bearer_refusals",
            "Bearer requests refused, by problem code",
            self.refusals.clone(),
        );
        r.register(
            "rate_limited_requests",
            "Requests answered 429, by route group",
            self.rate_limited.clone(),
        );
        r.register(
            "token_cache_hits",
            "Bearer lookups answered from the token cache",
            self.cache_hits.clone(),
        );
        r.register(
            "token_cache_misses",
            "Bearer lookups that read the database",
            self.cache_misses.clone(),
        );
        r.register(
            "usage_flush_duration_seconds",
            "Time to write one usage batch",
            self.flush_seconds.clone(),
        );
        r.register(
            "usage_flush_batch_tokens",
            "Tokens covered by one usage batch",
            self.flush_tokens.clone(),
        );
        r.register(
            "db_pool_acquire_seconds",
            "Wait for a pooled database connection (usage flushes)",
            self.pool_acquire_seconds.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database pool connections by state, at scrape time",
            self.pool_connections.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "Database pool size limit",
            self.pool_max.clone(),
        );
        r.register(
            "log_lines_dropped",
            "Log lines dropped since start because the log writer's queue was full",
            self.log_dropped.clone(),
        );
        r
    }

    /// Counts one finished request; `error_code` is the problem code of an error response.
    pub fn observe(&self, group: &'static str, status: u16, error_code: Option<&'static str>) {
        let labels = || RequestLabels { group, status };
        let slot = GROUPS.iter().position(|g| *g == group).and_then(|g| {
            let s = usize::from(status)
                .checked_sub(100)
                .filter(|s| *s < STATUSES)?;
            self.request_counters.get(g * STATUSES + s)
        });
        match slot {
            Some(slot) => slot
                .get_or_init(|| self.requests.get_or_create(&labels()).clone())
                .inc(),
            None => self.requests.get_or_create(&labels()).inc(),
        };
        if status == 429 {
            self.rate_limited
                .get_or_create(&GroupLabels { group })
                .inc();
        }
        let bearer = matches!(group, "api" | "verify");
        if let Some(code) = error_code.filter(|c| bearer && crate::error::BEARER_CODES.contains(c))
        {
            self.refusals.get_or_create(&CodeLabels { code }).inc();
        }
    }

    /// Times a pool acquire.
    pub fn acquired(&self, started: Instant) {
        self.pool_acquire_seconds
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Every route group [`route_group`] names.
const GROUPS: [&str; 6] = ["api", "verify", "dashboard", "docs", "static", "health"];

/// Statuses 100–599, the ones a request counter is kept at hand for.
const STATUSES: usize = 500;

/// The route group of a path: a fixed, small vocabulary.
pub fn route_group(path: &str) -> &'static str {
    if path == "/api/v1/verify" {
        "verify"
    } else if path.starts_with("/api/v1/") || path == "/api/v1" {
        "api"
    } else if path.starts_with("/api/") || path.starts_with("/docs") {
        "docs"
    } else if path.starts_with("/static/") {
        "static"
    } else if path == "/healthz" || path == "/readyz" {
        "health"
    } else {
        "dashboard"
    }
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(metrics: Metrics, db: Db) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state((metrics, db))
}

async fn render(State((m, db)): State<(Metrics, Db)>) -> impl IntoResponse {
    let (size, idle, max) = db.pool_size();
    let idle = i64::try_from(idle).unwrap_or(0);
    m.pool_connections
        .get_or_create(&StateLabels { state: "idle" })
        .set(idle);
    m.pool_connections
        .get_or_create(&StateLabels { state: "in_use" })
        .set(i64::from(size) - idle);
    m.pool_max.set(i64::from(max));
    let dropped = LOG_DROPPED.get().map_or(0, |c| c.dropped_lines());
    m.log_dropped
        .set(i64::try_from(dropped).unwrap_or(i64::MAX));
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &m.registry()) {
        tracing::error!(error = %e, "metrics encoding failed");
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_groups_are_a_fixed_vocabulary() {
        assert_eq!(route_group("/api/v1/verify"), "verify");
        assert_eq!(route_group("/api/v1/tokens/tok_1"), "api");
        assert_eq!(route_group("/api/openapi.json"), "docs");
        assert_eq!(route_group("/static/app.css"), "static");
        assert_eq!(route_group("/healthz"), "health");
        assert_eq!(
            route_group("/w/acme/settings/developer/api-tokens"),
            "dashboard"
        );
    }
}
