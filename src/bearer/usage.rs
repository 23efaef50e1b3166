//! Usage counting without database writes on the request path: requests are aggregated per
//! token in memory and written in one transaction by a flusher at least once a second and at
//! shutdown. Pages and the API add the not-yet-flushed part to the stored totals.

mod batch;
mod flush;
mod hint;
mod live;
mod log;

use std::net::IpAddr;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use axum::http::Method;

use crate::db::tokens::Usage;
pub use crate::db::usage::RECENT_KEPT;
use crate::db::{self, Db};
pub use batch::{Batch, BatchSlot, Pending};
pub use hint::Hint;
pub use live::{LastIp, LiveUsage, Stored};
/// Days of per-day counts kept.
pub const DAYS_KEPT: i64 = 90;
const DAY: i64 = 86_400;

/// One authenticated request. Built on every counted request, so nothing here is formatted:
/// times stay integers and addresses stay addresses until they are written or shown.
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: i64,
    pub method: Method,
    /// Shared with the request logged before it when it is the same path ([`Batch`]).
    pub path: Arc<str>,
    pub status: u16,
    pub ip: IpAddr,
    /// The hint of the secret the request used (SPEC §12: which one, during an overlap).
    pub hint: Hint,
}

/// A request path as recent requests keep it: at most 200 characters.
fn truncated_path(path: &str) -> &str {
    // At most 200 bytes are at most 200 characters: no need to count them.
    if path.len() <= 200 {
        return path;
    }
    match path.char_indices().nth(200) {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

/// `YYYY-MM-DD` of a Unix time, in UTC.
pub fn day_of(unix: i64) -> String {
    crate::domain::token::rfc3339(unix)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// An address as `Display` writes it.
fn ip_string(ip: IpAddr) -> String {
    let mut out = Vec::with_capacity(15);
    LastIp::Addr(ip).write(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Requests not yet in the database: `pending` collects new ones; `writing` is the batch a
/// flush is writing. Readers see both until the flush's commit is applied to the cache.
#[derive(Default)]
struct Buffers {
    pending: Batch,
    /// Shared with the flush that writes it: handing a batch over under the lock copies
    /// nothing (a copy of a busy second's batch held every request's `record` for
    /// milliseconds).
    writing: Arc<Batch>,
}

#[derive(Default)]
pub struct UsageBuffer {
    buffers: Mutex<Buffers>,
    /// Held for reading by whoever reads usage totals from the database and adds the buffer to
    /// them, and for writing by a flush around its write and commit until the batch left the
    /// buffer: such a reader sees the batch exactly once, in the database or in the buffer.
    settle: tokio::sync::RwLock<()>,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
    /// The UTC day (days since 1970-01-01) whose old daily counts were last pruned.
    pruned_on: AtomicI64,
}

impl UsageBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffers> {
        // Plain counters: a panic elsewhere leaves them usable.
        self.buffers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request to `path`, made into a hit by `hit` (in memory only; the id is
    /// copied once per token per flush), the path truncated as recent requests keep it.
    /// `hint` is where the token's cache entry keeps its place in the batch.
    pub fn record(
        &self,
        token_id: &str,
        hint: &BatchSlot,
        path: &str,
        hit: impl FnOnce(Arc<str>) -> Hit,
    ) {
        let path = truncated_path(path);
        self.lock().pending.record(token_id, hint, path, hit);
    }

    /// `stored` totals (read while the buffer is locked, so a flush's batch is counted either
    /// there or here, never both or neither) with the usage not yet flushed added. Hot path:
    /// no copy of the recent requests.
    pub fn live(&self, token_id: &str, stored: impl FnOnce() -> Usage) -> Usage {
        let b = self.lock();
        let mut usage = stored();
        for batch in [&b.writing, &b.pending] {
            if let Some(p) = batch.get(token_id) {
                usage = p.added_to(usage);
            }
        }
        usage
    }

    /// Hold this around reading usage from the database and adding the buffer to it (never
    /// across a write): no flush commits in between.
    pub async fn settled(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.settle.read().await
    }

    /// The usage of a token not yet in the database (a flush's batch included).
    pub fn pending(&self, token_id: &str) -> Option<Pending> {
        let b = self.lock();
        let mut newer = b.pending.get(token_id).cloned();
        if let Some(older) = b.writing.get(token_id) {
            newer.get_or_insert_with(Pending::default).prepend(older);
        }
        newer
    }

    /// The newest requests of a token not yet in the database (a flush's batch included), at
    /// most [`RECENT_KEPT`], oldest first (a walk through the token's own requests).
    pub fn pending_recent(&self, token_id: &str) -> Vec<Hit> {
        let b = self.lock();
        let mut newest_first: Vec<Hit> = Vec::new();
        for batch in [&b.pending, &*b.writing] {
            if let Some(p) = batch.get(token_id) {
                let room = (RECENT_KEPT as usize).saturating_sub(newest_first.len());
                newest_first.extend(batch.newest_of(p).take(room).cloned());
            }
        }
        newest_first.reverse();
        newest_first
    }

    /// The newest `limit` requests of a token, newest first: those not yet flushed, then the
    /// stored ones.
    pub async fn recent(
        &self,
        db: &Db,
        token_id: &str,
        limit: usize,
    ) -> Result<Vec<db::usage::RecentRequest>, sqlx::Error> {
        let _settled = self.settled().await;
        let pending = self.pending_recent(token_id);
        let mut recent: Vec<_> = pending
            .into_iter()
            .rev()
            .map(|h| db::usage::RecentRequest {
                at: h.at,
                method: h.method.to_string(),
                path: h.path.to_string(),
                status: i64::from(h.status),
                ip: h.ip.to_string(),
                hint: h.hint.to_string(),
            })
            .collect();
        if recent.len() < limit {
            let stored = i64::try_from(limit - recent.len()).unwrap_or(i64::MAX);
            recent.extend(db::usage::recent(db, token_id, stored).await?);
        }
        recent.truncate(limit);
        Ok(recent)
    }

    /// Requests per UTC day over the `days` days ending with the one containing `now`, oldest
    /// first, as (a time in that day, count); not-yet-flushed requests included.
    pub async fn daily(
        &self,
        db: &Db,
        token_id: &str,
        now: i64,
        days: i64,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let start = now - (days - 1) * DAY;
        let _settled = self.settled().await;
        let stored = db::usage::daily(db, token_id, &day_of(start)).await?;
        let pending = self.pending(token_id).unwrap_or_default();
        Ok((0..days)
            .map(|i| {
                let t = start + i * DAY;
                let day = day_of(t);
                let count = stored
                    .iter()
                    .filter(|d| d.day == day)
                    .map(|d| d.count)
                    .sum::<i64>()
                    + pending.on_day(t);
                (t, count)
            })
            .collect())
    }

    /// A flush starts: what is pending becomes the batch being written (still counted by
    /// readers). Returns that batch, shared, to write.
    pub(crate) fn take(&self) -> Arc<Batch> {
        let mut b = self.lock();
        let batch = Arc::new(std::mem::take(&mut b.pending));
        b.writing = Arc::clone(&batch);
        batch
    }

    /// The write failed: the batch goes back in front of what came since, nothing is lost.
    /// (The flush has let go of its share by now, so the batch is taken, not copied.)
    pub(crate) fn restore(&self) {
        let mut b = self.lock();
        let batch = Arc::unwrap_or_clone(std::mem::take(&mut b.writing));
        b.pending.prepend(batch);
    }

    /// The write committed: `apply` adds the batch to the cached totals and the batch leaves
    /// the buffer, in one step for readers. Returns the batch: its last share, for the caller
    /// to free after the lock (freeing a busy second's batch takes milliseconds).
    pub(crate) fn finish(&self, apply: impl FnOnce(&Batch)) -> Arc<Batch> {
        let mut b = self.lock();
        apply(&b.writing);
        std::mem::take(&mut b.writing)
    }
}

#[cfg(test)]
mod tests;
