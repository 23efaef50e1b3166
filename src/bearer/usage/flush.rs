//! The usage flush: the pending batch written in one transaction at least once a second. The
//! batch leaves the buffer shared (never copied under its lock) and is serialised and freed on
//! a blocking thread, so a busy second's batch never holds a request thread or the lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Batch, DAY, DAYS_KEPT, Hit, UsageBuffer, day_of, ip_string};
use crate::db::{self, Db};
use crate::metrics::Metrics;
use crate::request_log::json_str;

impl UsageBuffer {
    /// Writes everything pending in one transaction; the commit and `apply` (the cache taking
    /// the batch) happen with no reader in between. On failure everything stays counted.
    /// Returns how many tokens it covered.
    pub async fn flush(
        &self,
        db: &Db,
        metrics: &Metrics,
        apply: impl FnOnce(&Batch),
    ) -> Result<usize, sqlx::Error> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch = self.take();
        if batch.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let tokens = batch.len();
        match self.write(db, metrics, batch, started, apply).await {
            Ok(()) => {
                metrics
                    .flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.flush_tokens.observe(tokens as f64);
                Ok(tokens)
            }
            Err(e) => {
                self.restore();
                Err(e)
            }
        }
    }

    /// The batch in one transaction, written, committed and handed to `apply` under `settle`
    /// (taken before the transaction: a reader waiting for `settle` holds no connection and
    /// no database lock, so neither waits on the other).
    async fn write(
        &self,
        db: &Db,
        metrics: &Metrics,
        batch: Arc<Batch>,
        started: Instant,
        apply: impl FnOnce(&Batch),
    ) -> Result<(), sqlx::Error> {
        let mut conn = db.acquire().await?;
        metrics.acquired(started);
        // Daily counts past DAYS_KEPT go with the first flush of each UTC day.
        let now = crate::domain::now();
        let today = now.div_euclid(DAY);
        let prune = (self.pruned_on.load(Ordering::Relaxed) != today)
            .then(|| day_of(now - DAYS_KEPT * DAY));
        let rows = rows_of(batch).await?;
        let _settling = self.settle.write().await;
        let mut tx = conn.begin().await?;
        db::usage::write_batch(tx.conn(), &rows, prune.as_deref()).await?;
        tx.commit().await?;
        let written = self.finish(apply);
        // Freed off the request threads, like the rows were made.
        tokio::task::spawn_blocking(move || drop(written));
        self.pruned_on.store(today, Ordering::Relaxed);
        Ok(())
    }
}

/// The batch as the rows `db::usage::write_batch` stores, in token-id order. Made on a
/// blocking thread: a busy second's batch is tens of thousands of requests to serialise,
/// which would hold a request thread for milliseconds.
async fn rows_of(batch: Arc<Batch>) -> Result<Vec<db::usage::TokenUsage>, sqlx::Error> {
    tokio::task::spawn_blocking(move || rows_in(&batch))
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
}

pub(super) fn rows_in(batch: &Batch) -> Result<Vec<db::usage::TokenUsage>, sqlx::Error> {
    let recent = batch.recent_by_slot(|hit, first, buf| {
        buf.push(if buf.is_empty() { b'[' } else { b',' });
        hit_json(hit, first, buf);
    });
    let mut rows = batch
        .iter()
        .zip(recent)
        .map(|((id, p), recent)| {
            Ok(db::usage::TokenUsage {
                token_id: id.clone(),
                count: p.count,
                last_at: p.last_at,
                last_ip: p.last_ip.map(ip_string),
                days: p.days().collect(),
                recent: chunk(recent)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    rows.sort_unstable_by(|a, b| a.token_id.cmp(&b.token_id));
    Ok(rows)
}

/// A chunk of recent requests, oldest first: `[[at, method, path, status, ip, hint], …]`, each
/// after the first cut after its last field that differs from the first's (`hits`: the
/// requests, each after a `[` or `,`).
fn chunk(mut hits: Vec<u8>) -> Result<String, sqlx::Error> {
    if hits.is_empty() {
        hits.push(b'[');
    }
    hits.push(b']');
    String::from_utf8(hits).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A request as `[at, method, path, status, ip, hint]`: the bytes `serde_json` writes for
/// that tuple (tested), without its machinery — a busy second's flush writes tens of
/// thousands. After its chunk's `first` request, a request ends with its last field that
/// differs from that request's; the fields after it are left out, and readers take a missing
/// field from the chunk's first request (`db::usage::recent`). A client calls one endpoint
/// from one address over and over, and the chunk shrinks to its times (`[at]`), a fifth of
/// the bytes the database writes, and deletes a few seconds later, every second.
fn hit_json(h: &Hit, first: Option<&Hit>, buf: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    buf.push(b'[');
    buf.extend_from_slice(digits.format(h.at).as_bytes());
    let fields = first.map_or(5, |f| own_fields(h, f));
    if fields >= 1 {
        buf.push(b',');
        json_str(h.method.as_str(), buf);
    }
    if fields >= 2 {
        buf.push(b',');
        json_str(&h.path, buf);
    }
    if fields >= 3 {
        buf.push(b',');
        buf.extend_from_slice(digits.format(h.status).as_bytes());
    }
    if fields >= 4 {
        buf.extend_from_slice(b",\"");
        crate::domain::client_ip::write(h.ip, buf);
        buf.push(b'"');
    }
    if fields >= 5 {
        buf.push(b',');
        json_str(&h.hint, buf);
    }
    buf.push(b']');
}

/// How many of `h`'s fields after its time a chunk keeps: up to the last that differs from
/// `first`'s (method, path, status, address, hint).
fn own_fields(h: &Hit, first: &Hit) -> usize {
    let differs = [
        h.method != first.method,
        *h.path != *first.path,
        h.status != first.status,
        h.ip != first.ip,
        h.hint != first.hint,
    ];
    differs.iter().rposition(|d| *d).map_or(0, |last| last + 1)
}
