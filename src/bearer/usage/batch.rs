//! What a stretch of requests used, until a flush writes it: totals per token ([`Pending`])
//! and the requests themselves, in arrival order, in one log.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use super::{DAY, Hit, RECENT_KEPT, day_of, ip_string};
use crate::db::tokens::Usage;

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
    pub(super) slot: u32,
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
    pub(super) fn prepend(&mut self, older: &Pending) {
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
    pub(super) hits: Log,
    /// The log's length that sets off the next [`Batch::compact`].
    compact_at: usize,
}

/// The log's length below which it is never compacted: a second's requests at 100k/s and
/// more, so a flush every second never compacts.
pub(super) const COMPACT_FLOOR: usize = 1 << 17;

impl Default for Batch {
    fn default() -> Self {
        Self {
            tokens: hashbrown::HashMap::new(),
            hits: Log::default(),
            compact_at: COMPACT_FLOOR,
        }
    }
}

impl Batch {
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
    pub(super) fn token(&mut self, token_id: &str) -> &mut Pending {
        let slot = u32::try_from(self.tokens.len()).unwrap_or(u32::MAX);
        self.tokens.entry_ref(token_id).or_insert_with(|| Pending {
            slot,
            ..Pending::default()
        })
    }

    /// Counts a request to `path` (made into a hit by `hit`). The path is shared with the
    /// request before it when it is the same — clients call one endpoint over and over — so
    /// most requests copy no path.
    pub(super) fn record(&mut self, token_id: &str, path: &str, hit: impl FnOnce(Arc<str>) -> Hit) {
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
    pub(super) fn hits_of(&self, slot: u32) -> impl DoubleEndedIterator<Item = &Hit> {
        self.hits
            .iter()
            .filter(move |(s, _)| *s == slot)
            .map(|(_, h)| h)
    }

    /// The newest [`RECENT_KEPT`] requests of each token, oldest first, by slot.
    pub(super) fn recent_by_slot(&self) -> Vec<VecDeque<&Hit>> {
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
        for ((slot, _), keep) in self.hits.iter().rev().zip(keep.iter_mut().rev()) {
            if let Some(n) = kept.get_mut(*slot as usize)
                && *n < RECENT_KEPT
            {
                *n += 1;
                *keep = true;
            }
        }
        let all = std::mem::take(&mut self.hits).into_entries();
        self.hits = Log::from_entries(all.zip(keep).filter_map(|(e, k)| k.then_some(e)));
        self.compact_at = COMPACT_FLOOR.max(2 * self.hits.len());
    }

    /// Puts `older` (a batch whose write failed) in front of this one: nothing is lost.
    pub(super) fn prepend(&mut self, older: Batch) {
        let mut slots = vec![0u32; older.tokens.len()];
        for (id, p) in &older.tokens {
            let pending = self.token(id);
            pending.prepend(p);
            if let Some(s) = slots.get_mut(p.slot as usize) {
                *s = pending.slot;
            }
        }
        let older = older
            .hits
            .into_entries()
            .map(|(s, h)| (slots.get(s as usize).copied().unwrap_or(s), h));
        let newer = std::mem::take(&mut self.hits).into_entries();
        self.hits = Log::from_entries(older.chain(newer));
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

/// Requests in arrival order, in chunks of [`CHUNK`]: appending never moves what is there (a
/// log in one block, doubled by copying megabytes, held every request's `record` behind the
/// buffer's lock), and a chunk is small enough for the allocator to reuse one an earlier
/// batch freed, where a fresh multi-megabyte block faulted its pages in under that lock.
#[derive(Clone, Debug, Default)]
pub(super) struct Log {
    chunks: Vec<Vec<(u32, Hit)>>,
    len: usize,
}

/// Requests per chunk of the log (≈ 48 KiB).
const CHUNK: usize = 512;

impl Log {
    fn push(&mut self, entry: (u32, Hit)) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn last(&self) -> Option<&(u32, Hit)> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &(u32, Hit)> {
        self.chunks.iter().flatten()
    }

    fn from_entries(entries: impl IntoIterator<Item = (u32, Hit)>) -> Self {
        let mut log = Self::default();
        entries.into_iter().for_each(|e| log.push(e));
        log
    }

    fn into_entries(self) -> impl Iterator<Item = (u32, Hit)> {
        self.chunks.into_iter().flatten()
    }
}
