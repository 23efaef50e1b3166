//! The bearer hot path's token cache: token and workspace by SHA-256 of the secret (never the
//! secret), bounded in size, so a warm request does no database read at all.
//!
//! Freshness: every in-process change invalidates it in the code path that committed the change
//! (`ops`, channel removal), before the response returns; changes by other processes (the CLI)
//! move `meta.token_epoch` through triggers, which a poller notices within
//! [`EPOCH_POLL`]. A generation counter stops a lookup that raced an invalidation from
//! re-inserting what it read before the change. Each request thread keeps the entries it
//! found lately in a front of its own ([`front`]), good until the next change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderValue;
use quick_cache::sync::Cache;

use super::budget::Slot;
use super::usage::{Batch, BatchSlot, Hint, Stored};
use crate::config::Config;
use crate::db::tokens::{Token, Usage, Used};
use crate::db::workspaces::Workspace;
use crate::db::{self, Db};
use crate::domain::rate::Limits;
use crate::domain::secret::SecretHash;
use crate::metrics::Count;

/// Entries kept (each a token with its workspace, under 1 KiB, plus ≈ 1 KiB of `/me` JSON once
/// that endpoint was called with it).
pub const CAPACITY: usize = 20_000;
pub const EPOCH_POLL: Duration = Duration::from_millis(250);

/// A token as the bearer check needs it. In C layout, the fields every request reads first
/// (after the reference counts), then the token with its own such fields first: with a
/// thousand tokens in turn an entry is rarely in the core's caches, and a request then reads
/// a few adjacent lines of it rather than one here and one there.
#[derive(Debug)]
#[repr(C)]
pub struct Entry {
    /// Which of the token's secrets this entry's hash is: a previous one works only until its
    /// time, which [`Entry::secret_works`] checks on every hit (no sweep needed).
    pub used: Used,
    /// Where the token's unflushed usage is in the usage buffer's batch.
    pub batch_slot: BatchSlot,
    /// The token's budget slots in this server's limiter (its own, and its workspace's when
    /// there is a workspace ceiling), taken on first use: a request spends from them without
    /// looking its keys up.
    slots: OnceLock<Slots>,
    /// The token's rate limits as this server's tiers resolve them, on first use (a tier is
    /// found by its name, which every request would otherwise read and hash).
    limits: OnceLock<Limits>,
    /// The hint of that secret, as recent requests record it (copied per hit).
    pub hint: Hint,
    /// The JSON of `/me` up to the fields that change per request, made on first use
    /// (`api::me`); it depends only on the token and workspace, as the entry does. Sent as it
    /// is, shared: no request copies it.
    pub me_json: OnceLock<Bytes>,
    /// The stored usage totals, kept current by each flush in place.
    stored: Mutex<Usage>,
    /// The token as loaded; its usage totals are those of that moment (see [`Entry::usage`]).
    pub token: Token,
    pub workspace: Workspace,
    /// The token's identity as forward auth's response headers carry it (id, name,
    /// workspace, permissions), made on first use (`forward_auth::check`): encoding them is
    /// most of an allowed check's work, and they change only with the entry.
    pub identity: OnceLock<[HeaderValue; 4]>,
}

impl Entry {
    pub fn new(token: Token, workspace: Workspace, used: Used) -> Self {
        let stored = Mutex::new(token.usage());
        let hint = token.hint_of(used).into();
        Self {
            token,
            workspace,
            used,
            hint,
            me_json: OnceLock::new(),
            identity: OnceLock::new(),
            limits: OnceLock::new(),
            slots: OnceLock::new(),
            stored,
            batch_slot: BatchSlot::default(),
        }
    }

    /// Whether this entry's secret still authenticates at `now`: the current one always (the
    /// token's own state is checked apart), a previous one only within its overlap.
    pub fn secret_works(&self, now: i64) -> bool {
        self.used == Used::Current || self.token.overlap(now).is_some()
    }

    /// The token's limits under `config`'s tiers (fixed for the process, like the entry).
    pub fn limits(&self, config: &Config) -> Limits {
        *self.limits.get_or_init(|| config.limits(&self.token.rate))
    }

    /// The token's budget slots, taken from the limiter by `take` on first use.
    pub fn slots(&self, take: impl FnOnce() -> Slots) -> &Slots {
        self.slots.get_or_init(take)
    }

    /// The token's stored usage, flushes since it was loaded included.
    pub fn usage(&self) -> Usage {
        self.stored
            .lock()
            .map_or_else(|_| self.token.usage(), |u| u.clone())
    }
}

impl Stored for Entry {
    fn token_id(&self) -> &str {
        &self.token.id
    }

    fn batch_slot(&self) -> &BatchSlot {
        &self.batch_slot
    }

    /// The stored usage read in place (the hot path copies no address).
    fn with_usage<R>(&self, f: impl FnOnce(&Usage) -> R) -> R {
        match self.stored.lock() {
            Ok(usage) => f(&usage),
            Err(_) => f(&self.token.usage()),
        }
    }
}

/// A cached entry as a request holds it: through a reference count of its own thread's
/// ([`front`]; the second allocation is the point) rather than the entry's, which every
/// thread's hits would write (two writes per request to a line the other cores write too).
#[derive(Clone, Debug)]
#[allow(clippy::redundant_allocation)]
pub struct Held(Arc<Arc<Entry>>);

impl Held {
    fn new(entry: Arc<Entry>) -> Self {
        Self(Arc::new(entry))
    }

    /// The entry itself, shared (the same for every holder of it).
    pub fn shared(&self) -> &Arc<Entry> {
        &self.0
    }
}

impl std::ops::Deref for Held {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        &self.0
    }
}

/// A token's budget slots ([`Entry::slots`]).
#[derive(Debug)]
pub struct Slots {
    pub own: Arc<Slot>,
    pub workspace: Option<Arc<Slot>>,
}

pub struct TokenCache {
    by_hash: Cache<[u8; 32], Arc<Entry>>,
    /// token id → the hashes of its cached entries (current and previous secret), to apply
    /// flushed usage to them.
    hash_of: Cache<String, [Option<[u8; 32]>; 2]>,
    generation: AtomicU64,
    /// Which entries the threads' fronts may serve ([`front`]): moved after every change to
    /// what a hash finds here.
    epoch: AtomicU64,
    /// Serialises inserts against invalidations (hits never take it).
    write: Mutex<()>,
    hits: Count,
    misses: Count,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl TokenCache {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            by_hash: Cache::new(capacity),
            hash_of: Cache::new(capacity),
            generation: AtomicU64::new(0),
            epoch: AtomicU64::new(front::new_epoch()),
            write: Mutex::new(()),
            hits: Count::default(),
            misses: Count::default(),
        }
    }

    /// Counts hits and misses into these (shared) counters.
    pub fn counting(mut self, hits: Count, misses: Count) -> Self {
        self.hits = hits;
        self.misses = misses;
        self
    }

    /// The cached entry for a secret's hash, if there is one (no waiting).
    pub fn cached(&self, hash: &SecretHash) -> Option<Held> {
        // The epoch before the lookup: an entry found here just before a change is kept
        // under the epoch the change leaves behind.
        let epoch = self.epoch.load(Ordering::Acquire);
        let hit = match front::get(epoch, &hash.0) {
            Some(hit) => hit,
            None => {
                let hit = Held::new(self.by_hash.get(&hash.0)?);
                front::keep(epoch, &hash.0, &hit);
                hit
            }
        };
        self.hits.inc();
        Some(hit)
    }

    /// What a hash finds has changed (it is done): no thread's front serves what it kept.
    fn changed(&self) {
        self.epoch.store(front::new_epoch(), Ordering::Release);
    }

    /// The token for a secret's hash: from the cache, else one indexed lookup.
    pub async fn lookup(&self, db: &Db, hash: &SecretHash) -> Result<Option<Held>, sqlx::Error> {
        if let Some(hit) = self.cached(hash) {
            return Ok(Some(hit));
        }
        self.misses.inc();
        let seen = self.generation();
        let Some((token, used)) = db::tokens::by_hash(db, hash).await? else {
            return Ok(None);
        };
        let Some(workspace) = db::workspaces::by_id(db, &token.workspace_id).await? else {
            return Ok(None);
        };
        Ok(Some(self.insert_if_current(
            seen,
            hash,
            Entry::new(token, workspace, used),
        )))
    }

    /// The generation to hand to [`TokenCache::insert_if_current`], taken before reading.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches an entry read while the cache was at generation `seen`, unless a change
    /// (invalidation or flushed usage) came in since: that read may predate it.
    fn insert_if_current(&self, seen: u64, hash: &SecretHash, entry: Entry) -> Held {
        let entry = Arc::new(entry);
        if let Ok(_guard) = self.write.lock()
            && self.generation() == seen
        {
            let slot = usize::from(entry.used == Used::Previous);
            let mut hashes = self.hash_of.get(&entry.token.id).unwrap_or_default();
            hashes[slot] = Some(hash.0);
            self.hash_of.insert(entry.token.id.clone(), hashes);
            self.by_hash.insert(hash.0, entry.clone());
            // It may replace or evict an entry a front keeps.
            self.changed();
        }
        Held::new(entry)
    }

    /// Drops everything (a token, its channels or its workspace changed).
    pub fn invalidate(&self) {
        let _guard = self.write.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_hash.clear();
        self.hash_of.clear();
        self.changed();
    }

    /// Adds a just-flushed usage batch to the cached totals (in place), so they stay exact.
    pub fn apply_usage(&self, batch: &Batch) {
        // A lookup that read the database before this flush must not insert its older totals.
        let _guard = self.write.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for (id, p) in batch.iter() {
            let Some(hashes) = self.hash_of.get(id) else {
                continue;
            };
            for entry in hashes.iter().flatten().filter_map(|h| self.by_hash.get(h)) {
                if let Ok(mut stored) = entry.stored.lock() {
                    *stored = p.added_to(stored.clone());
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.len() == 0
    }

    /// Polls `meta.token_epoch` and invalidates when another process changed tokens; on
    /// PostgreSQL a change notification makes it look at once rather than at the next tick.
    pub async fn watch_epoch(&self, db: Db, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut feed = db::tokens::ChangeFeed::open(&db).await;
        let mut last = db::tokens::epoch(&db).await.ok();
        let mut tick = tokio::time::interval(EPOCH_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = feed.changed() => {}
                _ = stop.changed() => return,
            }
            match db::tokens::epoch(&db).await {
                Ok(now) if Some(now) != last => {
                    self.invalidate();
                    last = Some(now);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "token epoch poll failed"),
            }
        }
    }
}

mod front;
#[cfg(test)]
mod tests;
