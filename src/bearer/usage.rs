//! Usage counting without database writes on the request path: requests are aggregated per
//! token in memory and written in one transaction by a flusher at least once a second and at
//! shutdown. Pages and the API add the not-yet-flushed part to the stored totals.

mod flush;
mod live;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use axum::http::Method;

use crate::db::tokens::Usage;
pub use crate::db::usage::RECENT_KEPT;
use crate::db::{self, Db};
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
    /// Shared with the token's previous request when it is the same path
    /// ([`UsageBuffer::record`]).
    pub path: Arc<str>,
    pub status: u16,
    pub ip: IpAddr,
    /// The hint of the secret the request used (SPEC §12: which one, during an overlap).
    pub hint: std::sync::Arc<str>,
}

/// What a token used since the last flush (its requests themselves are in [`Batch`]'s log).
#[derive(Clone, Debug, Default)]
pub struct Pending {
    pub count: i64,
    pub last_at: i64,
    pub last_ip: Option<IpAddr>,
    /// Requests per UTC day as (days since 1970-01-01, count): the first day's in place (no
    /// allocation to read on every request), any other (around midnight, or after a failed
    /// flush) in `more_days`.
    day: (i64, i64),
    more_days: Vec<(i64, i64)>,
    /// The token's place in its batch's log ([`Batch::hits`]).
    slot: u32,
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

impl Pending {
    fn add(&mut self, hit: &Hit) {
        self.count += 1;
        if hit.at >= self.last_at {
            self.last_at = hit.at;
            self.last_ip = Some(hit.ip);
        }
        self.add_day(hit.at.div_euclid(DAY), 1);
    }

    fn add_day(&mut self, day: i64, n: i64) {
        if self.day.1 == 0 || self.day.0 == day {
            self.day = (day, self.day.1 + n);
            return;
        }
        match self.more_days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, count)) => *count += n,
            None => self.more_days.push((day, n)),
        }
    }

    /// (day, count) of every day with requests.
    fn day_counts(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        let first = (self.day.1 > 0).then_some(self.day);
        first.into_iter().chain(self.more_days.iter().copied())
    }

    /// Requests on the UTC day that contains `unix`.
    pub fn on_day(&self, unix: i64) -> i64 {
        let day = unix.div_euclid(DAY);
        self.day_counts()
            .filter(|(d, _)| *d == day)
            .map(|(_, n)| n)
            .sum()
    }

    /// Per-day counts as (`YYYY-MM-DD`, count).
    pub fn days(&self) -> impl Iterator<Item = (String, i64)> + '_ {
        self.day_counts().map(|(d, n)| (day_of(d * DAY), n))
    }

    /// `stored` totals with this usage added (a later use replaces the last time and address).
    pub fn added_to(&self, stored: Usage) -> Usage {
        let (count, last_at, last_ip) = stored;
        if last_at.is_none_or(|at| self.last_at >= at) {
            let ip = self.last_ip.map(ip_string);
            (count + self.count, Some(self.last_at), ip)
        } else {
            (count + self.count, last_at, last_ip)
        }
    }

    /// Puts usage from before this one back in front of it (after a failed flush).
    fn prepend(&mut self, older: &Pending) {
        self.count += older.count;
        if older.last_at > self.last_at {
            self.last_at = older.last_at;
            self.last_ip = older.last_ip;
        }
        for (d, n) in older.day_counts() {
            self.add_day(d, n);
        }
    }
}

/// An address as `Display` writes it.
fn ip_string(ip: IpAddr) -> String {
    let mut out = Vec::with_capacity(15);
    LastIp::Addr(ip).write(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Requests counted since a flush: totals per token, and the requests themselves in one log.
#[derive(Clone, Debug)]
pub struct Batch {
    /// By token id (hashbrown, to look a token up by `&str` and copy its id only when it is
    /// new).
    tokens: hashbrown::HashMap<String, Pending>,
    /// Every request, oldest first, with its token's [`Pending::slot`]. One log for all
    /// tokens, appended to at its end, where a list per token wrote a line of memory of its
    /// own for each request (with 1,000 tokens in turn, a line no cache still held). Past
    /// [`Batch::compact_at`] it keeps only each token's newest [`RECENT_KEPT`], as the
    /// database does.
    hits: Vec<(u32, Hit)>,
    /// The log's length that sets off the next [`Batch::compact`].
    compact_at: usize,
}

/// The log's length below which it is never compacted: a second's requests at 100k/s and
/// more, so a flush every second never compacts.
const COMPACT_FLOOR: usize = 1 << 17;

impl Default for Batch {
    fn default() -> Self {
        Self::with_room(0)
    }
}

impl Batch {
    /// A batch whose log has room for `hits` requests (the last batch's: no growth, and no
    /// copy of a busy second's log, while requests wait on the buffer's lock).
    fn with_room(hits: usize) -> Self {
        Self {
            tokens: hashbrown::HashMap::new(),
            hits: Vec::with_capacity(hits),
            compact_at: COMPACT_FLOOR,
        }
    }

    pub fn get(&self, token_id: &str) -> Option<&Pending> {
        self.tokens.get(token_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Pending)> {
        self.tokens.iter()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token's entry, made with the next slot when it is new.
    fn token(&mut self, token_id: &str) -> &mut Pending {
        let slot = u32::try_from(self.tokens.len()).unwrap_or(u32::MAX);
        self.tokens.entry_ref(token_id).or_insert_with(|| Pending {
            slot,
            ..Pending::default()
        })
    }

    /// Counts a request to `path` (made into a hit by `hit`). The path is shared with the
    /// request before it when it is the same — clients call one endpoint over and over — so
    /// most requests copy no path.
    fn record(&mut self, token_id: &str, path: &str, hit: impl FnOnce(Arc<str>) -> Hit) {
        let path = match self.hits.last() {
            Some((_, last)) if *last.path == *path => Arc::clone(&last.path),
            _ => Arc::from(path),
        };
        let hit = hit(path);
        let pending = self.token(token_id);
        pending.add(&hit);
        let slot = pending.slot;
        self.hits.push((slot, hit));
        if self.hits.len() >= self.compact_at {
            self.compact();
        }
    }

    /// The requests of the token in slot `slot`, oldest first.
    fn hits_of(&self, slot: u32) -> impl DoubleEndedIterator<Item = &Hit> {
        self.hits
            .iter()
            .filter(move |(s, _)| *s == slot)
            .map(|(_, h)| h)
    }

    /// The newest [`RECENT_KEPT`] requests of each token, oldest first, by slot.
    fn recent_by_slot(&self) -> Vec<VecDeque<&Hit>> {
        let mut by_slot: Vec<VecDeque<&Hit>> = vec![VecDeque::new(); self.tokens.len()];
        for (slot, hit) in self.hits.iter().rev() {
            if let Some(kept) = by_slot.get_mut(*slot as usize)
                && (kept.len() as i64) < RECENT_KEPT
            {
                kept.push_front(hit);
            }
        }
        by_slot
    }

    /// Drops every request but each token's newest [`RECENT_KEPT`]; the next compaction
    /// comes when the log has doubled, so a request pays for this a bounded amount on average.
    fn compact(&mut self) {
        let mut kept = vec![0i64; self.tokens.len()];
        let mut keep = vec![false; self.hits.len()];
        for (i, (slot, _)) in self.hits.iter().enumerate().rev() {
            if let Some(n) = kept.get_mut(*slot as usize)
                && *n < RECENT_KEPT
            {
                *n += 1;
                keep[i] = true;
            }
        }
        let mut i = 0;
        self.hits.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        self.compact_at = COMPACT_FLOOR.max(2 * self.hits.len());
    }

    /// Puts `older` (a batch whose write failed) in front of this one: nothing is lost.
    fn prepend(&mut self, older: Batch) {
        let mut slots = vec![0u32; older.tokens.len()];
        for (id, p) in &older.tokens {
            let pending = self.token(id);
            pending.prepend(p);
            if let Some(s) = slots.get_mut(p.slot as usize) {
                *s = pending.slot;
            }
        }
        let mut hits: Vec<(u32, Hit)> = older
            .hits
            .into_iter()
            .map(|(s, h)| (slots.get(s as usize).copied().unwrap_or(s), h))
            .collect();
        hits.append(&mut self.hits);
        self.hits = hits;
        self.compact();
    }
}

/// Totals without requests (tests of what reads them).
#[cfg(test)]
impl FromIterator<(String, Pending)> for Batch {
    fn from_iter<I: IntoIterator<Item = (String, Pending)>>(iter: I) -> Self {
        let mut batch = Batch::default();
        for (id, p) in iter {
            let slot = batch.token(&id).slot;
            *batch.token(&id) = Pending { slot, ..p };
        }
        batch
    }
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
    pub fn record(&self, token_id: &str, path: &str, hit: impl FnOnce(Arc<str>) -> Hit) {
        let path = truncated_path(path);
        self.lock().pending.record(token_id, path, hit);
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
    /// most [`RECENT_KEPT`], oldest first. Reads the whole log: for pages, not the hot path.
    pub fn pending_recent(&self, token_id: &str) -> Vec<Hit> {
        let b = self.lock();
        let mut newest_first: Vec<Hit> = Vec::new();
        for batch in [&b.pending, &*b.writing] {
            if let Some(p) = batch.get(token_id) {
                let room = (RECENT_KEPT as usize).saturating_sub(newest_first.len());
                newest_first.extend(batch.hits_of(p.slot).rev().take(room).cloned());
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
        let room = b.pending.hits.len() + b.pending.hits.len() / 4;
        let batch = Arc::new(std::mem::replace(&mut b.pending, Batch::with_room(room)));
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
