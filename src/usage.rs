//! Usage counting without database writes on the request path: requests are aggregated per
//! token in memory and written in one transaction by a flusher at least once a second and at
//! shutdown. Pages and the API add the not-yet-flushed part to the stored totals.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cache::TokenCache;
use crate::db::{self, Db};
use crate::metrics::Metrics;

/// Recent requests kept per token (older ones are pruned when flushing).
pub const RECENT_KEPT: i64 = 100;
/// Days of per-day counts kept.
pub const DAYS_KEPT: i64 = 90;

/// One authenticated request.
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ip: String,
}

/// What a token used since the last flush.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    pub count: i64,
    pub last_at: i64,
    pub last_ip: String,
    pub days: HashMap<String, i64>,
    pub recent: VecDeque<Hit>,
}

#[derive(Default)]
pub struct UsageBuffer {
    pending: Mutex<HashMap<String, Pending>>,
}

pub fn day_of(unix: i64) -> String {
    crate::domain::token::rfc3339(unix)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

impl UsageBuffer {
    /// Counts one request (in memory only).
    pub fn record(&self, token_id: &str, hit: Hit) {
        let Ok(mut map) = self.pending.lock() else {
            return;
        };
        if !map.contains_key(token_id) {
            map.insert(token_id.to_owned(), Pending::default());
        }
        let Some(p) = map.get_mut(token_id) else {
            return;
        };
        p.count += 1;
        if hit.at >= p.last_at {
            p.last_at = hit.at;
            p.last_ip.clone_from(&hit.ip);
        }
        *p.days.entry(day_of(hit.at)).or_default() += 1;
        if p.recent.len() as i64 >= RECENT_KEPT {
            p.recent.pop_front();
        }
        p.recent.push_back(hit);
    }

    /// Count and last use not yet flushed, without copying the recent requests (hot path).
    pub fn totals(&self, token_id: &str) -> Option<(i64, i64, String)> {
        let map = self.pending.lock().ok()?;
        map.get(token_id)
            .map(|p| (p.count, p.last_at, p.last_ip.clone()))
    }

    /// The not-yet-flushed usage of a token.
    pub fn pending(&self, token_id: &str) -> Option<Pending> {
        self.pending.lock().ok()?.get(token_id).cloned()
    }

    fn take(&self) -> HashMap<String, Pending> {
        self.pending
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    /// Puts usage back after a failed flush, so nothing counted is lost.
    fn restore(&self, batch: HashMap<String, Pending>) {
        let Ok(mut map) = self.pending.lock() else {
            return;
        };
        for (id, old) in batch {
            let p = map.entry(id).or_default();
            p.count += old.count;
            if old.last_at > p.last_at {
                p.last_at = old.last_at;
                p.last_ip = old.last_ip;
            }
            for (d, n) in old.days {
                *p.days.entry(d).or_default() += n;
            }
            let mut recent = old.recent;
            recent.append(&mut p.recent);
            while recent.len() as i64 > RECENT_KEPT {
                recent.pop_front();
            }
            p.recent = recent;
        }
    }

    /// Writes everything pending in one transaction; returns how many tokens it covered.
    pub async fn flush(
        &self,
        db: &Db,
        cache: &TokenCache,
        metrics: &Metrics,
    ) -> Result<usize, sqlx::Error> {
        let batch = self.take();
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let started = Instant::now();
        let mut conn = match db.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                self.restore(batch);
                return Err(e);
            }
        };
        metrics.acquired(started);
        let written = db::usage::write_batch(
            &mut conn,
            &batch,
            RECENT_KEPT,
            &day_of(crate::domain::now() - DAYS_KEPT * 86_400),
        )
        .await;
        drop(conn);
        match written {
            Ok(()) => {
                metrics
                    .flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.flush_tokens.observe(n as f64);
                cache.apply_usage(&batch);
                Ok(n)
            }
            Err(e) => {
                self.restore(batch);
                Err(e)
            }
        }
    }

    /// Flushes every `every` until `stop` fires, then once more.
    pub async fn run_flusher(
        &self,
        db: Db,
        cache: &TokenCache,
        metrics: &Metrics,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if let Err(e) = self.flush(&db, cache, metrics).await {
                tracing::error!(error = %e, "usage flush failed; will retry");
            }
        }
        if let Err(e) = self.flush(&db, cache, metrics).await {
            tracing::error!(error = %e, "final usage flush failed");
        }
    }
}
