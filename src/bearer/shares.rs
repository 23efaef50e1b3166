//! Rate budgets shared by several servers on one PostgreSQL database, decided in memory.
//!
//! The installation's budget for a key is one GCRA arrival time in the database
//! (`rate_budgets`). Each server holds an *allowance* per key: its share of what the budget has
//! left, as of its last sync. A request spends from the allowance alone (no database on the
//! request path). Every [`SYNC`] each server adds what it allowed to the shared budgets,
//! reads back what is left, and takes `left / n` of it (the first `left mod n` servers in id
//! order one more), where `n` is the number of servers seen in the last few seconds. So the
//! allowances of all servers never add up to more than the budget has left: over a burst the
//! installation admits at most the budget, plus what refills during one sync (each server's
//! refill is applied at its next sync only). It admits at least the budget minus what idle
//! servers hold: shares of servers the balancer sends nothing to wait, unused, until the next
//! sync hands them on, so an uneven spread reaches the full budget one sync later.
//!
//! A key a server has not synced yet gets its share of the budget as the database holds it,
//! read with the token on the cache miss that precedes its first request; a key that comes
//! without one (a workspace's first request through `verify`) starts with `limit / n`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::budget::Budget;
use crate::db::{self, Db};

/// How often a server pushes what it allowed and takes its new shares.
pub const SYNC: Duration = Duration::from_millis(200);
/// A server not seen for this long no longer gets a share.
const ALIVE_MS: i64 = 3_000;
const HOUR_NS: i64 = 3_600 * 1_000_000_000;
/// Keys held at most; idle keys with a full budget are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Clone, Debug)]
struct Share {
    limit: u32,
    /// What this server may still allow before its next sync.
    allowance: u32,
    /// Allowed here since the last push.
    spent: u32,
    /// The installation's budget at the last sync: units left, and its arrival time.
    left: u32,
    tat_ns: i64,
}

/// One server's side of the shared budgets.
pub struct Shares {
    id: String,
    /// `n << 32 | rank`: how many servers split budgets, and this one's place among them.
    peers: AtomicU64,
    held: Mutex<HashMap<String, Share>>,
}

/// An hour over `limit`, rounded up (as the in-memory limiter's).
fn interval_ns(limit: u32) -> i64 {
    let limit = i64::from(limit.max(1));
    HOUR_NS / limit + i64::from(HOUR_NS % limit != 0)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Units a budget of `limit` has left at `now` when its arrival time is `tat`.
fn left_of(limit: u32, tat: i64, now: i64) -> u32 {
    let interval = interval_ns(limit);
    let ahead = (tat - now).max(0);
    let used = ahead / interval + i64::from(ahead % interval != 0);
    u32::try_from((i64::from(limit) - used).clamp(0, i64::from(limit))).unwrap_or(0)
}

/// This server's part of `left` units split between `n` servers, it being number `rank`.
pub fn share_of(left: u32, n: u32, rank: u32) -> u32 {
    let n = n.max(1);
    left / n + u32::from(rank < left % n)
}

fn secs_ceil(ns: i64) -> u64 {
    u64::try_from(ns.max(0))
        .unwrap_or(0)
        .div_ceil(1_000_000_000)
}

impl Shares {
    pub fn new() -> Self {
        Self {
            id: crate::domain::ids::new_id("srv"),
            peers: AtomicU64::new(1 << 32),
            held: Mutex::default(),
        }
    }

    fn peers(&self) -> (u32, u32) {
        let p = self.peers.load(Ordering::Relaxed);
        ((p >> 32) as u32, p as u32)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Share>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spends one unit of `key`'s budget from this server's allowance.
    pub fn spend(&self, key: &str, limit: u32) -> Budget {
        let (n, rank) = self.peers();
        let now = now_ns();
        let mut held = self.lock();
        let s = match held.get_mut(key) {
            Some(s) => s,
            None => held.entry(key.to_owned()).or_insert_with(|| Share {
                limit,
                allowance: share_of(limit, n, rank),
                spent: 0,
                left: limit,
                tat_ns: now,
            }),
        };
        s.limit = limit;
        let reset_after = secs_ceil(s.tat_ns - now + i64::from(s.spent + 1) * interval_ns(limit));
        if s.allowance == 0 {
            // Nothing left here until the next sync; nothing left anywhere until one unit
            // refills.
            let refill = s.tat_ns + interval_ns(limit) * (1 - i64::from(limit)) - now;
            return Budget {
                limit,
                remaining: 0,
                reset_after,
                retry_after: Some(secs_ceil(refill).max(1)),
            };
        }
        s.allowance -= 1;
        s.spent += 1;
        Budget {
            limit,
            remaining: s.left.saturating_sub(s.spent),
            reset_after,
            retry_after: None,
        }
    }

    /// Takes this server's shares of `keys` (with their limits) from the database, for keys it
    /// does not hold yet (the cache miss before a token's first request here).
    pub async fn load(&self, db: &Db, keys: &[(String, u32)]) -> Result<(), sqlx::Error> {
        let missing: Vec<(String, u32)> = {
            let held = self.lock();
            keys.iter()
                .filter(|(k, _)| !held.contains_key(k))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = missing.iter().map(|(k, _)| k.clone()).collect();
        let now = now_ns();
        let stored = db::budgets::push(
            db.acquire().await?.conn(),
            &names,
            &vec![0; names.len()],
            now,
        )
        .await?;
        let (n, rank) = self.peers();
        let mut held = self.lock();
        for ((key, limit), (_, tat)) in missing.into_iter().zip(stored) {
            let left = left_of(limit, tat, now);
            held.entry(key).or_insert(Share {
                limit,
                allowance: share_of(left, n, rank),
                spent: 0,
                left,
                tat_ns: tat,
            });
        }
        Ok(())
    }

    /// One sync: says this server is alive, counts the servers, adds what it allowed to the
    /// shared budgets and takes its new shares.
    pub async fn sync(&self, db: &Db) -> Result<(), sqlx::Error> {
        let now_ms = now_ns() / 1_000_000;
        let mut pooled = db.acquire().await?;
        let live =
            db::budgets::heartbeat(pooled.conn(), &self.id, now_ms, now_ms - ALIVE_MS).await?;
        let n = u32::try_from(live.len().max(1)).unwrap_or(u32::MAX);
        let rank = live.iter().position(|id| *id == self.id).unwrap_or(0);
        let rank = u32::try_from(rank).unwrap_or(0);
        self.peers
            .store((u64::from(n) << 32) | u64::from(rank), Ordering::Relaxed);
        // What was allowed since the last push leaves the map's counts now; what is allowed
        // while this sync runs stays in them for the next.
        let (keys, limits, add): (Vec<String>, Vec<u32>, Vec<i64>) = {
            let mut held = self.lock();
            let now = now_ns();
            if held.len() > MAX_KEYS {
                held.retain(|_, s| s.spent > 0 || s.tat_ns > now);
            }
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for (key, s) in held.iter_mut() {
                out.0.push(key.clone());
                out.1.push(s.limit);
                out.2
                    .push(i64::from(std::mem::take(&mut s.spent)) * interval_ns(s.limit));
            }
            out
        };
        if keys.is_empty() {
            return Ok(());
        }
        let now = now_ns();
        let stored = match db::budgets::push(pooled.conn(), &keys, &add, now).await {
            Ok(stored) => stored,
            Err(e) => {
                // Not pushed: count it again next time.
                let mut held = self.lock();
                for ((key, limit), add) in keys.iter().zip(&limits).zip(&add) {
                    if let Some(s) = held.get_mut(key) {
                        let back = u32::try_from(add / interval_ns(*limit)).unwrap_or(u32::MAX);
                        s.spent = s.spent.saturating_add(back);
                    }
                }
                return Err(e);
            }
        };
        self.take_shares(stored, now, n, rank);
        if now_ms % 60_000 < i64::try_from(SYNC.as_millis()).unwrap_or(0) {
            db::budgets::prune(pooled.conn(), now - HOUR_NS).await?;
        }
        Ok(())
    }

    /// This server's new shares of the budgets as the database returned them.
    fn take_shares(&self, stored: Vec<(String, i64)>, now: i64, n: u32, rank: u32) {
        let mut held = self.lock();
        for (key, tat) in stored {
            let Some(s) = held.get_mut(&key) else {
                continue;
            };
            s.left = left_of(s.limit, tat, now);
            s.tat_ns = tat;
            // Spent while this sync ran: already out of the new share.
            s.allowance = share_of(s.left, n, rank).saturating_sub(s.spent);
        }
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
        let left = async { db::budgets::leave(db.acquire().await?.conn(), &self.id).await };
        if let Err(e) = left.await {
            tracing::warn!(error = %e, "could not leave the servers' list");
        }
    }
}

impl Default for Shares {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_what_is_left_and_differ_by_one_at_most() {
        for left in [0u32, 1, 2, 99, 100, 101, 1000] {
            for n in 1u32..=7 {
                let shares: Vec<u32> = (0..n).map(|r| share_of(left, n, r)).collect();
                assert_eq!(shares.iter().sum::<u32>(), left, "{left} over {n}");
                let (min, max) = (shares.iter().min(), shares.iter().max());
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
            }
        }
    }

    #[test]
    fn a_budget_has_left_its_limit_less_what_its_arrival_time_holds() {
        let i = interval_ns(10);
        assert_eq!(left_of(10, 0, 0), 10, "full");
        assert_eq!(left_of(10, 3 * i, 0), 7);
        assert_eq!(
            left_of(10, 3 * i - 1, 0),
            7,
            "a unit partly refilled is not back"
        );
        assert_eq!(left_of(10, 10 * i, 0), 0);
        assert_eq!(left_of(10, 20 * i, 0), 0, "overdrawn");
    }

    #[test]
    fn a_server_allows_its_share_then_refuses_until_its_next_sync() {
        let s = Shares::new();
        s.peers.store((3 << 32) | 2, Ordering::Relaxed);
        // 10 over 3 servers: 4, 3 and 3; this one is the third.
        let allowed = (0..10).filter(|_| s.spend("k", 10).allowed()).count();
        assert_eq!(allowed, 3);
        let refused = s.spend("k", 10);
        assert!(!refused.allowed() && refused.retry_after.is_some());
    }
}
