//! The bearer request, in one home. A request to an `/api/v1/*` route goes:
//!
//! 1. [`track::TrackLayer`], around every API route, calls [`Gate::authenticate`]: SPEC §6's
//!    401 checks — the token is present, well-formed with a valid checksum (no lookup
//!    otherwise), known ([`cache::TokenCache`], else one indexed read), not revoked, not
//!    expired. A 401 is answered there and counts nothing. Past them the request counts: it
//!    spends one unit of the token's and its workspace's budget ([`budget::Limiter`]) and the
//!    layer puts the [`Caller`] into the request.
//! 2. The handler's extractor, [`extract::Bearer<N>`], reads that `Caller` (it changes nothing)
//!    and runs [`Caller::authorize`]: IP allowlist → permission `N` → rate limit (403, 403,
//!    429); a handler with a channel checks it between permission and rate limit.
//! 3. After the handler, the layer records the request, with its status, in
//!    [`usage::UsageBuffer`] and adds the rate-limit headers ([`headers::write`], which verify
//!    and every other bearer response use too).
//! 4. [`Gate::run_flusher`] writes the buffer once a second and hands each written batch back
//!    to the cache, whose entries keep exact totals.
//!
//! Nothing on this path touches the database once the token is cached. Forward auth
//! (`crate::forward_auth::check`) answers public routes before any token, so it sits outside
//! the layer and makes the same calls itself: [`Gate::authenticate`], the `Caller` checks,
//! [`track::count`]. While a token is cached, `/me` and forward auth are answered before the
//! router (`crate::lane`): steps 1–3 in one call, [`track::at_once`], for `/me`, which reads
//! its live usage and records itself under one lock before it answers.

pub mod budget;
pub mod cache;
pub mod extract;
pub mod headers;
pub mod shares;
pub mod track;
pub mod usage;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

pub use extract::{AdminOnly, TokensDelete, TokensRead, TokensVerify, TokensWrite};
pub use extract::{AnyToken, Bearer, BearerBeforeRate, Caller, Need, parse_authorization};

use crate::config::Config;
use crate::db::tokens::Token;
use crate::db::{self, Db};
use crate::domain::now;
use crate::domain::rate::{Limit, Limits};
use crate::domain::secret::{Secret, SecretHash};
use crate::error::{AppError, BearerError};
use crate::metrics::Metrics;
use budget::{Limiter, Spent};
use cache::{Entry, Held, Slots, TokenCache};
use usage::UsageBuffer;

/// Everything the bearer path needs, shared by the layer, the verify endpoint and the
/// background tasks. Cloning is one reference-count increment.
#[derive(Clone)]
pub struct Gate(Arc<Parts>);

pub struct Parts {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: Arc<TokenCache>,
    pub limiter: Arc<Limiter>,
    /// With several servers on one PostgreSQL database: this server's shares of the budgets
    /// (instead of `limiter`, which then holds nothing).
    pub shares: Option<Arc<shares::Shares>>,
    pub usage: Arc<UsageBuffer>,
    pub metrics: Metrics,
}

impl std::ops::Deref for Gate {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Gate {
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    /// Looks a secret up (cache, else one indexed read) and applies the token-state checks:
    /// known, not revoked, not expired.
    pub async fn live_token(&self, secret: &Secret) -> Result<Held, AppError> {
        let hash = secret.hash();
        match self.tokens.cached(&hash) {
            Some(hit) if self.leased(&hit) => live(hit),
            _ => self.read_token(&hash).await,
        }
    }

    /// A cache miss: one indexed read (the cache is checked again first), then the
    /// token-state checks. Not while a flush commits, or the entry could count that flush's
    /// batch twice (stored and still buffered).
    async fn read_token(&self, hash: &SecretHash) -> Result<Held, AppError> {
        let settled = self.usage.settled().await;
        let entry = self.tokens.lookup(&self.db, hash).await?;
        drop(settled);
        let entry = live(entry.ok_or(BearerError::InvalidToken)?)?;
        if let Some(shares) = &self.shares {
            // This server's shares of the token's budgets, with the read that precedes its
            // first request here; without them it starts from an even split of the limit.
            if let Err(e) = shares.load(&self.db, &self.budget_keys(&entry)).await {
                tracing::warn!(error = %e, "could not read the shared rate budgets");
            }
        }
        Ok(entry)
    }

    /// SPEC §6's 401 checks for a request, then its spending. `Done` when the answer needs
    /// no database read (a refusal before lookup, or a cache hit); else the parsed secret for
    /// [`Gate::authenticate_miss`].
    pub fn authenticate(&self, headers: &HeaderMap, peer: IpAddr) -> Authentication {
        let header = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        let hash = match extract::authorization_secret(header) {
            Ok(secret) => SecretHash::of(secret),
            Err(refused) => return Authentication::Done(Err(refused.into())),
        };
        match self.tokens.cached(&hash) {
            Some(hit) if self.leased(&hit) => {
                Authentication::Done(live(hit).map(|e| self.admit(e, headers, peer)))
            }
            _ => Authentication::Miss(hash),
        }
    }

    /// The rest of [`Gate::authenticate`] after a cache miss.
    pub async fn authenticate_miss(
        &self,
        hash: &SecretHash,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<Admitted, AppError> {
        let entry = self.read_token(hash).await?;
        Ok(self.admit(entry, headers, peer))
    }

    /// A live token's request now counts: it spends its budgets.
    fn admit(&self, entry: Held, headers: &HeaderMap, peer: IpAddr) -> Admitted {
        let ip = crate::domain::client_ip::resolve(peer, headers, &self.config.trusted_proxies);
        let spent = self.spend(&entry);
        Admitted {
            caller: Caller::new(entry, ip, &spent),
            spent,
        }
    }

    /// Whether this server can decide the token's budgets in memory: always with its own
    /// budgets; with shared ones, once it holds leases on them (else the request takes the
    /// cache-miss path, which takes them).
    fn leased(&self, entry: &Entry) -> bool {
        let Some(shares) = &self.shares else {
            return true;
        };
        let token = &entry.token;
        shares.holds(&token.id, &entry.limits(&self.config))
            && self
                .config
                .rate_limit_workspace
                .is_none_or(|l| shares.holds(&ws_key(token), &l))
    }

    /// The budgets a token's request spends, with their limits: its own, and its workspace's
    /// when there is a workspace ceiling.
    fn budget_keys(&self, entry: &Entry) -> Vec<(shares::BudgetKey, Limit)> {
        let token = &entry.token;
        let ws = self.workspace_budget(token);
        shares::keys_of(&token.id, &entry.limits(&self.config), ws_ref(&ws))
    }

    /// The key and limits of the token's workspace budget, when there is a workspace
    /// ceiling.
    fn workspace_budget(&self, token: &Token) -> Option<(String, Limits)> {
        let limits = self.config.rate_limit_workspace?;
        Some((ws_key(token), limits))
    }

    /// Spends one unit of every budget of a cached token and of its workspace's (or none
    /// when one refuses).
    pub fn spend(&self, entry: &Entry) -> Spent {
        let (token, limits) = (&entry.token, entry.limits(&self.config));
        let ws_limits = self.config.rate_limit_workspace.as_ref();
        let Some(shares) = &self.shares else {
            let slots = entry.slots(|| Slots {
                own: self.limiter.slot(&token.id),
                workspace: ws_limits.map(|_| self.limiter.slot(&ws_key(token))),
            });
            let ws = slots.workspace.as_deref().zip(ws_limits);
            return self.limiter.spend_slots(&slots.own, &limits, ws);
        };
        shares.spend(&token.id, &limits, ws_ref(&self.workspace_budget(token)))
    }

    /// The token's budgets as they stand, without spending (verify's and the detail page's
    /// report).
    pub fn peek(&self, token: &Token) -> Spent {
        let limits = self.config.limits(&token.rate);
        let ws = self.workspace_budget(token);
        let ws = ws_ref(&ws);
        match &self.shares {
            Some(shares) => shares.peek(&token.id, &limits, ws),
            None => self.limiter.peek(&token.id, &limits, ws),
        }
    }

    /// Flushes usage every `every` until `stop` fires, then once more; each written batch
    /// is added to the cached entries' totals.
    pub async fn run_flusher(&self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            self.flush_logged("usage flush failed; will retry").await;
        }
        self.flush_logged("final usage flush failed").await;
    }

    /// One flush; the committed batch goes to the cached entries' totals as it leaves the
    /// buffer.
    pub async fn flush(&self) -> Result<usize, sqlx::Error> {
        let tokens = &self.tokens;
        self.usage
            .flush(&self.db, &self.metrics, |batch| tokens.apply_usage(batch))
            .await
    }

    async fn flush_logged(&self, what: &'static str) {
        if let Err(e) = self.flush().await {
            tracing::error!(error = %e, "{what}");
        }
    }

    /// One token of a workspace with its usage not yet flushed added, read while no flush
    /// commits, so a batch being written is counted exactly once.
    pub async fn token(&self, workspace_id: &str, id: &str) -> Result<Option<Token>, sqlx::Error> {
        let _settled = self.usage.settled().await;
        let mut token = db::tokens::get(&self.db, workspace_id, id).await?;
        if let Some(t) = &mut token {
            self.overlay_usage(t);
        }
        Ok(token)
    }

    /// A page of a workspace's tokens (and whether more follow), as [`Gate::token`] reads one.
    pub async fn tokens(
        &self,
        workspace_id: &str,
        q: &db::tokens::ListQuery,
    ) -> Result<(Vec<Token>, bool), sqlx::Error> {
        let _settled = self.usage.settled().await;
        let (mut tokens, more) = db::tokens::list(&self.db, workspace_id, q).await?;
        tokens.iter_mut().for_each(|t| self.overlay_usage(t));
        Ok((tokens, more))
    }

    /// Adds usage not yet flushed to a stored token's totals.
    fn overlay_usage(&self, t: &mut Token) {
        (t.request_count, t.last_used_at, t.last_used_ip) = self.usage.live(&t.id, || t.usage());
    }
}

/// A request past the 401 checks: the caller (for the handler) and every budget its request
/// spent or, refused, would have (for the rate-limit headers after it).
pub struct Admitted {
    pub caller: Caller,
    pub spent: Spent,
}

/// What [`Gate::authenticate`] could decide without waiting. Returned by value once per
/// request: boxing the large variant (a caller with its budgets) would allocate on every hit.
#[allow(clippy::large_enum_variant)]
pub enum Authentication {
    Done(Result<Admitted, AppError>),
    /// Not cached: the secret's hash, to read.
    Miss(SecretHash),
}

/// The key of a workspace's budgets.
fn ws_key(token: &Token) -> String {
    format!("ws:{}", token.workspace_id)
}

/// A workspace budget as the budget stores take it.
fn ws_ref(ws: &Option<(String, Limits)>) -> Option<(&str, &Limits)> {
    ws.as_ref().map(|(k, l)| (k.as_str(), l))
}

/// A secret that still works (a previous one only within its overlap: `invalid_token` once
/// it has passed, like any unknown secret), of a token not revoked, not expired (401
/// otherwise).
fn live(entry: Held) -> Result<Held, AppError> {
    let now = now();
    if !entry.secret_works(now) {
        return Err(BearerError::InvalidToken.into());
    }
    let token = &entry.token;
    if token.revoked_at.is_some() {
        return Err(BearerError::TokenRevoked.into());
    }
    if token.expires_at.is_some_and(|e| e <= now) {
        return Err(BearerError::TokenExpired.into());
    }
    Ok(entry)
}
