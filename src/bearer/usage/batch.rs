//! What a stretch of requests used, until a flush writes it: totals per token ([`Pending`])
//! and the requests themselves, in arrival order, in one log.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use indexmap::IndexMap;

use super::log::{Log, Logged};
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
    /// Where in the log its newest request is; each request there names the one before it.
    newest: Option<u32>,
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
    /// By token id, in the order tokens came: a token's place here is its slot, which its
    /// requests in the log carry.
    tokens: IndexMap<String, Pending, hashbrown::DefaultHashBuilder>,
    /// This batch among all batches of the process: a [`BatchSlot`] names a place in one.
    generation: u64,
    /// Every request, oldest first, with its token's slot. One log for all
    /// tokens, appended to at its end, where a list per token wrote a line of memory of its
    /// own for each request (with 1,000 tokens in turn, a line no cache still held). Past
    /// [`Batch::compact_at`] it keeps only each token's newest [`RECENT_KEPT`], as the
    /// database does.
    pub(super) hits: Log,
    /// The log's length that sets off the next [`Batch::compact`].
    compact_at: usize,
}

/// Where a token was put in the batch that last counted it, kept by its cache entry: the
/// next request of that batch finds the token's totals at that place instead of looking its
/// id up (the map's bucket and the key's bytes, two lines of memory no cache still holds with
/// a thousand tokens in turn). Read and written only under the usage buffer's lock.
#[derive(Debug, Default)]
pub struct BatchSlot {
    /// The batch's generation (0: none yet).
    generation: AtomicU64,
    slot: AtomicU32,
}

/// The generation of the next batch made: 64 bits, so no two batches of a process ever share
/// one (0 is no batch's, so a new [`BatchSlot`] names none).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// The log's length below which it is never compacted: a second's requests at 100k/s and
/// more, so a flush every second never compacts.
pub(super) const COMPACT_FLOOR: usize = 1 << 17;

impl Default for Batch {
    fn default() -> Self {
        Self {
            tokens: IndexMap::default(),
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            hits: Log::default(),
            compact_at: COMPACT_FLOOR,
        }
    }
}

impl Batch {
    pub fn get(&self, token_id: &str) -> Option<&Pending> {
        self.tokens.get(token_id)
    }

    /// [`Batch::get`] at the place `hint` names when it names one in this batch.
    pub(super) fn get_hinted(&self, token_id: &str, hint: &BatchSlot) -> Option<&Pending> {
        match self.hinted(hint) {
            Some(slot) => self.tokens.get_index(slot).map(|(_, p)| p),
            None => self.get(token_id),
        }
    }

    /// The slot `hint` names, if it is one of this batch's. Only the token's own entry sets
    /// its hint, no two batches share a generation, and a batch's slots never move, so that
    /// slot is the token's.
    fn hinted(&self, hint: &BatchSlot) -> Option<usize> {
        if hint.generation.load(Ordering::Relaxed) != self.generation {
            return None;
        }
        let slot = hint.slot.load(Ordering::Relaxed) as usize;
        (slot < self.tokens.len()).then_some(slot)
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

    /// The token's slot, made next when it is new.
    fn slot_of(&mut self, token_id: &str) -> usize {
        if let Some(slot) = self.tokens.get_index_of(token_id) {
            return slot;
        }
        self.tokens.insert(token_id.to_owned(), Pending::default());
        self.tokens.len() - 1
    }

    /// [`Batch::slot_of`] by way of `hint`, which is left naming the token's place here.
    fn slot_hinted(&mut self, token_id: &str, hint: &BatchSlot) -> usize {
        let slot = match self.hinted(hint) {
            Some(slot) => slot,
            None => {
                let slot = self.slot_of(token_id);
                if let Ok(place) = u32::try_from(slot) {
                    hint.slot.store(place, Ordering::Relaxed);
                    hint.generation.store(self.generation, Ordering::Relaxed);
                }
                slot
            }
        };
        debug_assert_eq!(
            self.tokens.get_index(slot).map(|(id, _)| &**id),
            Some(token_id)
        );
        slot
    }

    /// Counts a request to `path` (made into a hit by `hit`) for the token whose place in a
    /// batch `hint` keeps. The path is shared with the request before it when it is the same
    /// — clients call one endpoint over and over — so most requests copy no path.
    pub(super) fn record(
        &mut self,
        token_id: &str,
        hint: &BatchSlot,
        path: &str,
        hit: impl FnOnce(Arc<str>) -> Hit,
    ) {
        let path = match self.hits.last() {
            Some(last) if *last.hit.path == *path => Arc::clone(&last.hit.path),
            _ => Arc::from(path),
        };
        let hit = hit(path);
        let place = self.slot_hinted(token_id, hint);
        let slot = u32::try_from(place).unwrap_or(u32::MAX);
        let pending = &mut self.tokens[place];
        pending.add(&hit);
        let prev = pending.newest;
        pending.newest = Some(self.hits.push(Logged { slot, prev, hit }));
        if self.hits.len() >= self.compact_at {
            self.compact();
        }
    }

    /// A token's newest [`RECENT_KEPT`] requests in this batch, newest first: a walk back
    /// through its own (the page that shows them, the flush and compaction read a hundred per
    /// token, never the whole log).
    pub(super) fn newest_of(&self, p: &Pending) -> impl Iterator<Item = &Hit> {
        self.places_of(p)
            .filter_map(|at| self.hits.get(at).map(|l| &l.hit))
    }

    /// Where a token's newest [`RECENT_KEPT`] requests are in the log, newest first.
    fn places_of(&self, p: &Pending) -> impl Iterator<Item = u32> {
        let mut at = p.newest;
        std::iter::from_fn(move || {
            let here = at?;
            at = self.hits.get(here)?.prev;
            Some(here)
        })
        .take(RECENT_KEPT as usize)
    }

    /// Each token's newest [`RECENT_KEPT`] requests, oldest first, in [`Batch::iter`]'s
    /// order, each written by `write` into its token's buffer. Two passes over the log in
    /// order (how many each token has, then the requests past each token's older ones), where
    /// walking each token's requests newest first jumped a token's worth of log each step.
    /// `write` is also given the first request it was given for the same token, if any.
    pub(super) fn recent_by_slot(
        &self,
        mut write: impl FnMut(&Hit, Option<&Hit>, &mut Vec<u8>),
    ) -> Vec<Vec<u8>> {
        let mut older = vec![0usize; self.tokens.len()];
        for e in self.hits.entries() {
            if let Some(n) = older.get_mut(e.slot as usize) {
                *n += 1;
            }
        }
        let mut out: Vec<Vec<u8>> = older
            .iter_mut()
            .map(|n| {
                let kept = (*n).min(RECENT_KEPT as usize);
                *n -= kept;
                Vec::with_capacity(kept * 96)
            })
            .collect();
        let mut firsts: Vec<Option<&Hit>> = vec![None; out.len()];
        for e in self.hits.entries() {
            let slot = e.slot as usize;
            match older.get_mut(slot) {
                Some(0) => {}
                Some(n) => {
                    *n -= 1;
                    continue;
                }
                None => continue,
            }
            if let (Some(buf), Some(first)) = (out.get_mut(slot), firsts.get_mut(slot)) {
                write(&e.hit, *first, buf);
                first.get_or_insert(&e.hit);
            }
        }
        out
    }

    /// Drops every request but each token's newest [`RECENT_KEPT`]; the next compaction
    /// comes when the log has doubled, so a request pays for this a bounded amount on average.
    fn compact(&mut self) {
        let mut keep = vec![false; self.hits.len()];
        for p in self.tokens.values() {
            for at in self.places_of(p) {
                if let Some(k) = keep.get_mut(at as usize) {
                    *k = true;
                }
            }
        }
        let all = std::mem::take(&mut self.hits).into_entries();
        self.relog(
            all.zip(keep)
                .filter_map(|(e, k)| k.then_some((e.slot, e.hit))),
        );
        self.compact_at = COMPACT_FLOOR.max(2 * self.hits.len());
    }

    /// A new log of `entries` (slot, request), oldest first, each token's newest and each
    /// request's predecessor linked again.
    fn relog(&mut self, entries: impl Iterator<Item = (u32, Hit)>) {
        let mut newest: Vec<Option<u32>> = vec![None; self.tokens.len()];
        let mut log = Log::default();
        for (slot, hit) in entries {
            let prev = newest.get(slot as usize).copied().flatten();
            let at = log.push(Logged { slot, prev, hit });
            if let Some(n) = newest.get_mut(slot as usize) {
                *n = Some(at);
            }
        }
        for (p, newest) in self.tokens.values_mut().zip(newest) {
            p.newest = newest;
        }
        self.hits = log;
    }

    /// Puts `older` (a batch whose write failed) in front of this one: nothing is lost.
    pub(super) fn prepend(&mut self, older: Batch) {
        // Each older slot's slot here.
        let mut slots = Vec::with_capacity(older.tokens.len());
        for (id, p) in &older.tokens {
            let slot = self.slot_of(id);
            self.tokens[slot].prepend(p);
            slots.push(u32::try_from(slot).unwrap_or(u32::MAX));
        }
        let older = older.hits.into_entries().map(|e| {
            let slot = slots.get(e.slot as usize).copied().unwrap_or(e.slot);
            (slot, e.hit)
        });
        let newer = std::mem::take(&mut self.hits).into_entries();
        self.relog(older.chain(newer.map(|e| (e.slot, e.hit))));
        self.compact();
    }
}

/// Totals without requests (tests of what reads them).
#[cfg(test)]
impl FromIterator<(String, Pending)> for Batch {
    fn from_iter<I: IntoIterator<Item = (String, Pending)>>(iter: I) -> Self {
        let mut batch = Batch::default();
        for (id, p) in iter {
            let slot = batch.slot_of(&id);
            batch.tokens[slot] = p;
        }
        batch
    }
}
