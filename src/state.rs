//! Shared application state handed to every handler.

use std::sync::{Arc, Mutex};

use crate::bearer::{Gate, cache::TokenCache};

use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;

/// Handed to every handler and middleware; cloning it is one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    pub setup: Arc<SetupCode>,
    /// The bearer path: token cache, budgets, usage buffer.
    pub gate: Gate,
    pub metrics: Metrics,
    /// The key the sign-in and setup forms' CSRF tokens are signed with, read from the
    /// database on first use (`auth::csrf_cookie`).
    pub form_key: Arc<tokio::sync::OnceCell<[u8; 32]>>,
    /// The forward-auth rules in force (`--forward-auth-rules`).
    pub forward_rules: Arc<crate::forward_auth::RuleBook>,
    /// The key webhook signing secrets are sealed with (`webhooks::seal`), read on first use.
    pub seal_key: Arc<tokio::sync::OnceCell<[u8; 32]>>,
}

/// The setup code this server printed, present until the first admin exists. Codes are
/// checked against the database (`db::setup_codes`), where every server's are.
#[derive(Default)]
pub struct SetupCode(Mutex<Option<String>>);

impl SetupCode {
    pub fn set(&self, code: Option<String>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = code;
        }
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|c| c.clone())
    }

    /// The stored form of a code: its SHA-256, hex.
    pub fn hash(code: &str) -> String {
        crate::domain::ids::sha256_hex(code)
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, config: Config) -> Self {
        Self::with_rules(db, config, Default::default())
    }

    pub fn with_rules(
        db: Db,
        config: Config,
        forward_rules: crate::forward_auth::RuleBook,
    ) -> Self {
        let metrics = Metrics::default();
        let tokens = TokenCache::default()
            .counting(metrics.cache_hits.clone(), metrics.cache_misses.clone());
        let config = Arc::new(config);
        let gate = Gate::new(crate::bearer::Parts {
            db: db.clone(),
            config: config.clone(),
            tokens: Arc::new(tokens),
            limiter: Arc::default(),
            // Several servers may share a PostgreSQL database, and so its budgets.
            shares: matches!(db, Db::Postgres(_)).then(Arc::default),
            usage: Arc::default(),
            metrics: metrics.clone(),
        });
        Self(Arc::new(Shared {
            db,
            config,
            setup: Arc::default(),
            gate,
            metrics,
            form_key: Arc::default(),
            forward_rules: Arc::new(forward_rules),
            seal_key: Arc::default(),
        }))
    }
}
