//! Shared application state handed to every handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bearer::{Gate, cache::TokenCache};
use crate::domain::secret::Secret;

use crate::auth::throttle::LoginThrottle;
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
    pub throttle: Arc<LoginThrottle>,
    pub reveals: Arc<Reveals>,
    /// The bearer path: token cache, budgets, usage buffer.
    pub gate: Gate,
    pub metrics: Metrics,
    /// The key the sign-in and setup forms' CSRF tokens are signed with, read from the
    /// database on first use (`auth::csrf_cookie`).
    pub form_key: Arc<tokio::sync::OnceCell<[u8; 32]>>,
}

/// The one-time setup code, present until the first admin exists.
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

    /// Whether `code` is the current setup code (compared in constant time).
    pub fn matches(&self, code: &str) -> bool {
        self.get()
            .is_some_and(|c| crate::domain::ids::constant_time_eq(&c, code))
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
        let metrics = Metrics::default();
        let tokens = TokenCache::default()
            .counting(metrics.cache_hits.clone(), metrics.cache_misses.clone());
        let config = Arc::new(config);
        let gate = Gate::new(crate::bearer::Parts {
            db: db.clone(),
            config: config.clone(),
            tokens: Arc::new(tokens),
            limiter: Arc::default(),
            usage: Arc::default(),
            metrics: metrics.clone(),
        });
        Self(Arc::new(Shared {
            db,
            config,
            setup: Arc::default(),
            throttle: Arc::default(),
            reveals: Arc::default(),
            gate,
            metrics,
            form_key: Arc::default(),
        }))
    }
}

/// A secret waiting for its one-time reveal in the dashboard.
pub struct PendingReveal {
    pub token_id: String,
    pub secret: Secret,
    pub regenerated: bool,
    created: Instant,
}

/// Secrets between a create/regenerate POST and the page that shows them once. Held in
/// memory only (the session, which lives in the database, holds just the random key), for at
/// most [`Reveals::TTL`], and bounded in number.
#[derive(Default)]
pub struct Reveals(Mutex<HashMap<String, PendingReveal>>);

impl Reveals {
    pub const TTL: Duration = Duration::from_secs(600);
    const MAX: usize = 10_000;

    /// Stores a secret; returns the key to keep in the session.
    pub fn put(&self, token_id: &str, secret: Secret, regenerated: bool) -> String {
        let key = crate::domain::ids::random_base62(32);
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, r| r.created.elapsed() < Self::TTL);
            if map.len() >= Self::MAX {
                map.clear();
            }
            let pending = PendingReveal {
                token_id: token_id.to_owned(),
                secret,
                regenerated,
                created: Instant::now(),
            };
            map.insert(key.clone(), pending);
        }
        key
    }

    /// Takes the secret out: it can be shown only once.
    pub fn take(&self, key: &str) -> Option<PendingReveal> {
        let mut map = self.0.lock().ok()?;
        map.remove(key).filter(|r| r.created.elapsed() < Self::TTL)
    }
}
