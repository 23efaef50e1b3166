//! Rate budgets shared by several servers on one PostgreSQL database, decided in memory.
//!
//! The installation's budget for a key is one GCRA arrival time in the database
//! (`rate_budgets`). A server allows a key's requests from a *lease*: units of the budget
//! reserved for it (`rate_leases`), spent in memory with no database on the request path.
//! Every [`SYNC`] each server, in one transaction per batch of keys, adds what it allowed to
//! the budget and takes a new lease: its even part of what the budget has left (free units
//! plus the units leased to the others) over the servers seen in the last few seconds, never
//! more than is free. Leases lapse unless renewed, and a stopping server gives its back.
//!
//! So over a burst the installation allows at most the budget, plus what refills during one
//! sync, plus what a server allows during its own sync's database round trip out of units it
//! still had. It allows at least the budget less what lies in other servers' leases: with a
//! round-robin balancer every server spends its part; when every request goes to one server
//! (of three), each sync hands it about a third of what is left: 99 % of the budget within 25
//! syncs (5 s). Idle servers keep their even part rather than a token lease, so a client's
//! burst after a quiet spell is never refused while the budget has room.
//!
//! A key's first lease on a server is taken with the cache miss that precedes its first
//! request there; a key that comes without one starts with nothing until the next sync.

use hashbrown::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::budget::{self, Scope, Spent};
use crate::db::{self, Db};
use crate::domain::rate::{Limit, Limits};

/// How often a server pushes what it allowed and takes its new shares.
pub const SYNC: Duration = Duration::from_millis(200);
/// A server not seen for this long no longer gets a share.
const ALIVE_MS: i64 = 3_000;
/// Budgets full again (arrival time past) for this long are pruned: they hold nothing,
/// whatever their window.
const PRUNE_NS: i64 = 3_600 * 1_000_000_000;
/// Syncs without a request after which a key's lease is given back and the key forgotten
/// (its next request here takes a new lease, like a cache miss): only keys in use cost the
/// database anything.
const IDLE_SYNCS: u8 = 10;

mod keys;
mod lease;
mod share;

pub use keys::{BudgetKey, keys_of};
use keys::{KeyRef, budget_of, share};
pub use lease::share_of;
use lease::{interval_ns, relet};
use share::{Decided, Share, settle};

/// Budget keys with their limits.
type Keys = Vec<(BudgetKey, Limit)>;

/// How long a lease holds without being renewed (two syncs and a margin): what a server that
/// died held is free again this long after its last sync. A server restarted on the same
/// host and port takes its old leases over at once (they carry its name).
const LEASE_MS: i64 = 500;

/// One server's side of the shared budgets.
pub struct Shares {
    id: std::sync::OnceLock<String>,
    /// `n << 32 | rank`: how many servers split budgets, and this one's place among them.
    peers: AtomicU64,
    held: Mutex<HashMap<BudgetKey, Share>>,
    /// Set when the server stops: no lease is taken from then on.
    closed: AtomicBool,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Seconds, rounded up, in `ns` nanoseconds from now (none when past).
fn secs_ceil(ns: i64) -> u64 {
    budget::secs_ceil(u128::try_from(ns).unwrap_or(0))
}

impl Shares {
    pub fn new() -> Self {
        Self {
            id: std::sync::OnceLock::new(),
            peers: AtomicU64::new(1 << 32),
            held: Mutex::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// Names this server after where it serves (`HOST:PORT`), before its first sync.
    pub fn identify(&self, addr: std::net::SocketAddr) {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        let _ = self.id.set(format!("{host}:{addr}"));
    }

    /// This server's name: where it serves, or a random one.
    fn id(&self) -> &str {
        self.id.get_or_init(|| crate::domain::ids::new_id("srv"))
    }

    fn peers(&self) -> (u32, u32) {
        let p = self.peers.load(Ordering::Relaxed);
        ((p >> 32) as u32, p as u32)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BudgetKey, Share>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spends one unit of every budget of the token (`key`, `limits`) and of its workspace's
    /// (`ws`) from this server's leases, or none when one of them has nothing left here.
    pub fn spend(&self, key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Spent {
        let now = now_ns();
        let mut held = self.lock();
        let mut out = Spent::default();
        let ws = ws.map(|(k, l)| (Scope::Workspace, k, l));
        let all = std::iter::once((Scope::Token, key, limits)).chain(ws);
        for (scope, k, limits) in all.clone() {
            for l in limits.iter() {
                if let Some(s) = share(&mut held, k, l, now) {
                    out.push(budget_of(s, scope, l, now));
                }
            }
        }
        if out.allowed() {
            for (_, k, limits) in all {
                for l in limits.iter() {
                    if let Some(s) = held.get_mut(&KeyRef(k, l.per)) {
                        s.allowance = s.allowance.saturating_sub(1);
                    }
                }
            }
            // Each budget reports what is left after this request.
            for b in out.budgets_mut() {
                b.remaining = b.remaining.saturating_sub(1);
            }
        }
        out
    }

    /// The budgets as this server sees them, without spending.
    pub fn peek(&self, key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Spent {
        let now = now_ns();
        let held = self.lock();
        let mut out = Spent::default();
        let ws = ws.map(|(k, l)| (Scope::Workspace, k, l));
        for (scope, k, limits) in std::iter::once((Scope::Token, key, limits)).chain(ws) {
            for l in limits.iter() {
                out.push(match held.get(&KeyRef(k, l.per)) {
                    Some(s) => budget::standing_of(budget_of(s, scope, l, now)),
                    None => budget::full(scope, l),
                });
            }
        }
        out
    }

    /// Whether this server holds leases on every budget of `key` with `limits` (else its
    /// request takes the slow path, which takes them).
    pub fn holds(&self, key: &str, limits: &Limits) -> bool {
        let held = self.lock();
        limits
            .iter()
            .all(|l| held.get(&KeyRef(key, l.per)).is_some_and(|s| !s.given_back))
    }

    /// Takes this server's first leases of `keys` (with their limits), for keys it does not
    /// hold yet (the cache miss before a token's first request here). Once the server stops,
    /// nothing: a request still in flight then is refused rather than take budget that no
    /// sync would account for; a lease taken while it stopped is given back at once.
    pub async fn load(&self, db: &Db, keys: &[(BudgetKey, Limit)]) -> Result<(), sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let missing: Keys = {
            let held = self.lock();
            keys.iter()
                .filter(|(k, _)| held.get(k).is_none_or(|s| s.lease == 0 || s.given_back))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            self.relet_all(db, missing.clone(), true).await?;
            if self.closed.load(Ordering::Acquire) {
                self.relet_all(db, missing, false).await?;
            }
        }
        Ok(())
    }

    /// Gives back what is unused of the leases of `keys` and takes new ones, in one
    /// transaction. Without `taking`, a key given back with nothing owed is forgotten (under
    /// the same lock, so no request sees it with an empty lease); one whose request came
    /// during the transaction is kept, owing that unit, for the next sync, and is no longer
    /// held (its next request takes a lease, adding what it owes).
    async fn relet_all(&self, db: &Db, mut keys: Keys, taking: bool) -> Result<(), sqlx::Error> {
        keys.sort();
        let names: Vec<String> = keys.iter().map(|(k, _)| k.stored()).collect();
        let peers = if taking { self.peers() } else { (0, 0) };
        let mut tx = db.begin().await?;
        let now = now_ns();
        let stored = db::budgets::lock(tx.conn(), &names, self.id(), now).await?;
        // What each lease has unused now; spending goes on meanwhile and is taken off the
        // new lease below (and added to the budget at the next sync).
        let held_now = self.leases_of(&keys);
        let relet: Vec<(i64, u32)> = keys
            .iter()
            .zip(&stored)
            .zip(&held_now)
            .map(|(((_, limit), stored), own)| relet(*limit, *stored, *own, peers, now))
            .collect();
        let tats: Vec<i64> = relet.iter().map(|(t, _)| *t).collect();
        let leases: Vec<i64> = relet.iter().map(|(_, l)| i64::from(*l)).collect();
        let expires = now / 1_000_000 + LEASE_MS;
        db::budgets::store(tx.conn(), &names, &tats, self.id(), &leases, expires).await?;
        tx.commit().await?;
        let rows = keys.into_iter().zip(relet).zip(stored).zip(held_now);
        let decided = rows.map(
            |((((key, limit), (tat, lease)), stored), (_, unused))| Decided {
                key,
                limit,
                tat,
                lease,
                others: stored.others,
                unused,
            },
        );
        settle(&mut self.lock(), decided, taking, peers.0, now);
        Ok(())
    }

    /// Each key's lease and what is left of it (none: `(0, 0)`).
    fn leases_of(&self, keys: &Keys) -> Vec<(u32, u32)> {
        let held = self.lock();
        keys.iter()
            .map(|(k, _)| held.get(k).map_or((0, 0), |s| (s.lease, s.allowance)))
            .collect()
    }

    /// The keys held, with their limits: those to relet now (in use, and either not renewed
    /// at the last sync, past half their lease, or leased when another number of servers
    /// split the budgets), and those idle for [`IDLE_SYNCS`] syncs (to give back and forget).
    fn split_idle(&self) -> (Keys, Keys) {
        let (among, _) = self.peers();
        let mut held = self.lock();
        let (mut busy, mut idle) = (Vec::new(), Vec::new());
        for (key, s) in held.iter_mut() {
            s.idle = if s.allowance == s.lease {
                s.idle.saturating_add(1)
            } else {
                0
            };
            let entry = (key.clone(), s.limit);
            if s.idle >= IDLE_SYNCS {
                idle.push(entry);
            } else if s.fresh
                && 2 * u64::from(s.allowance) >= u64::from(s.lease)
                && s.lease > 0
                && s.among == among
            {
                // Renewed last time and half its lease left: renewed next time, still
                // within the lease's life (two syncs and a margin). Halves the writes of a
                // steady load. Not when the servers changed: the lease was cut for another
                // number of them.
                s.fresh = false;
            } else {
                busy.push(entry);
            }
        }
        (busy, idle)
    }

    /// One sync: says this server is alive, counts the servers, relets the leases of keys in
    /// use and gives back those of idle keys.
    pub async fn sync(&self, db: &Db) -> Result<(), sqlx::Error> {
        let now_ms = now_ns() / 1_000_000;
        let live = {
            let mut pooled = db.acquire().await?;
            db::budgets::heartbeat(pooled.conn(), self.id(), now_ms, now_ms - ALIVE_MS).await?
        };
        let n = u32::try_from(live.len().max(1)).unwrap_or(u32::MAX);
        let rank =
            u32::try_from(live.iter().position(|id| id == self.id()).unwrap_or(0)).unwrap_or(0);
        self.peers
            .store((u64::from(n) << 32) | u64::from(rank), Ordering::Relaxed);
        let (busy, idle) = self.split_idle();
        for batch in busy.chunks(1_000) {
            self.relet_all(db, batch.to_vec(), true).await?;
        }
        for batch in idle.chunks(1_000) {
            self.relet_all(db, batch.to_vec(), false).await?;
        }
        if now_ms % 60_000 < i64::try_from(SYNC.as_millis()).unwrap_or(0) {
            let mut pooled = db.acquire().await?;
            db::budgets::prune(pooled.conn(), now_ns() - PRUNE_NS).await?;
        }
        Ok(())
    }

    /// Syncs every [`SYNC`] until `stop` fires, then leaves the servers' list.
    pub async fn run(&self, db: Db, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(SYNC);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if let Err(e) = self.sync(&db).await {
                tracing::warn!(error = %e, "rate budget sync failed; will retry");
            }
        }
        self.give_back(&db).await;
        let left = async { db::budgets::leave(db.acquire().await?.conn(), self.id()).await };
        if let Err(e) = left.await {
            tracing::warn!(error = %e, "could not leave the servers' list");
        }
    }

    /// What this server leaves unused goes back, so a restart takes no budget with it. No
    /// lease is taken from here on; units a request spent during the first pass are owed,
    /// and a second pass adds them to the budgets (nothing can be spent by then: no lease
    /// is left).
    async fn give_back(&self, db: &Db) {
        self.closed.store(true, Ordering::Release);
        for _ in 0..2 {
            let held: Keys = self
                .lock()
                .iter()
                .map(|(k, s)| (k.clone(), s.limit))
                .collect();
            for batch in held.chunks(1_000) {
                if let Err(e) = self.relet_all(db, batch.to_vec(), false).await {
                    tracing::warn!(error = %e, "could not give back unused rate budget");
                }
            }
        }
    }
}

impl Default for Shares {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
