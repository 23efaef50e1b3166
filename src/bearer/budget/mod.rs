//! Rate limits: GCRA per budget, with a burst of N per window (second, minute, hour, day), so
//! a budget starts full, may be spent at once, and refills evenly. A request spends one unit
//! of every budget that applies (each of its token's limits and each of its workspace's) or,
//! when one of them refuses, none. Keys are token ids and workspace ids, each with its
//! [`Slot`]; limits are per process (see `shares` for several servers).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::domain::rate::{Limit, Limits, Window};

/// Entries whose budgets are all full again carry no information; they are swept past this
/// size (and then each time the map has doubled since, so a map of many busy keys is not
/// swept again at every new key).
const SWEEP_AT: usize = 100_000;
const SEC_NANOS: u128 = 1_000_000_000;

/// Whose budget: the token's own, or its workspace's ceiling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    Token,
    Workspace,
}

/// The state of one budget after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub scope: Scope,
    pub per: Window,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again.
    pub reset_after: u64,
    /// `Some(seconds)` when this budget refused the request.
    pub retry_after: Option<u64>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            scope: Scope::Token,
            per: Window::Hour,
            limit: 0,
            remaining: 0,
            reset_after: 0,
            retry_after: None,
        }
    }
}

impl Budget {
    pub fn allowed(&self) -> bool {
        self.retry_after.is_none()
    }
}

/// Most budgets one request spends: four windows of the token's, four of its workspace's.
pub const MAX_BUDGETS: usize = 8;

/// Every budget a request spent (or would have), in a fixed array: no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    budgets: [Budget; MAX_BUDGETS],
    len: u8,
}

impl Spent {
    pub fn push(&mut self, b: Budget) {
        if let Some(slot) = self.budgets.get_mut(usize::from(self.len)) {
            *slot = b;
            self.len += 1;
        }
    }

    pub fn budgets(&self) -> &[Budget] {
        &self.budgets[..usize::from(self.len)]
    }

    pub fn budgets_mut(&mut self) -> &mut [Budget] {
        &mut self.budgets[..usize::from(self.len)]
    }

    pub fn allowed(&self) -> bool {
        self.budgets().iter().all(Budget::allowed)
    }

    /// The budget to report in `X-RateLimit-*`: the refusing one that frees up last, else
    /// the one with the least left (of equals, the one full again last).
    pub fn nearest(&self) -> Budget {
        let b = self.budgets();
        let refusing = b
            .iter()
            .filter(|b| !b.allowed())
            .max_by_key(|b| b.retry_after);
        refusing
            .or_else(|| {
                b.iter()
                    .min_by_key(|b| (b.remaining, std::cmp::Reverse(b.reset_after)))
            })
            .copied()
            .unwrap_or_default()
    }

    /// Seconds until every refusing budget allows one more (`None`: allowed).
    pub fn retry_after(&self) -> Option<u64> {
        self.budgets().iter().filter_map(|b| b.retry_after).max()
    }
}

/// A key's arrival times, one per window (nanoseconds since the limiter's epoch, which `u64`
/// holds for 584 years; at or before now = full).
type Tats = [u64; 4];

/// One key's budgets: its arrival times behind their own lock, in one line of memory. A
/// cached token holds its slots (`cache::Entry`), so a request spends without looking its key
/// up: the slot is read where it is, not found through a map's bucket and key.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Slot(Mutex<Tats>);

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tats> {
        // Plain times: a panic elsewhere leaves them usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct SlotMap {
    by_key: hashbrown::HashMap<String, Arc<Slot>>,
    sweep_at: usize,
}

#[derive(Default)]
pub struct Limiter {
    /// Every key's slot, and the size at which the next sweep comes. Entries whose budgets
    /// are all full again carry no information; past [`SWEEP_AT`] those nobody holds are swept.
    slots: Mutex<SlotMap>,
    epoch: OnceInstant,
}

struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        Self(Instant::now())
    }
}

/// One GCRA step for one budget at `now` with arrival time `tat`: the budget as reported,
/// and the new arrival time when it allows.
pub(super) fn step(scope: Scope, l: Limit, tat: u128, now: u128) -> (Budget, Option<u128>) {
    let limit = l.limit.max(1);
    let interval = interval(l);
    // `limit` intervals, not the window: with the interval rounded up this admits exactly
    // `limit` at once (the window would admit more whenever the interval was rounded).
    let window = interval * u128::from(limit);
    let tat = tat.max(now);
    let next = tat + interval;
    let mut b = Budget {
        scope,
        per: l.per,
        limit,
        remaining: 0,
        reset_after: secs_ceil(tat - now),
        retry_after: None,
    };
    if next - now > window {
        // Refused: nothing spent. One more unit frees up when `tat` falls inside the window.
        b.retry_after = Some(secs_ceil(next - window - now).max(1));
        return (b, None);
    }
    let used = (next - now).div_ceil(interval);
    b.remaining = u32::try_from(u128::from(limit).saturating_sub(used)).unwrap_or(0);
    b.reset_after = secs_ceil(next - now);
    (b, Some(next))
}

/// [`step`] without spending: the budget as it stands.
pub(super) fn standing(scope: Scope, l: Limit, tat: u128, now: u128) -> Budget {
    let limit = l.limit.max(1);
    let tat = tat.max(now);
    let used = (tat - now).div_ceil(interval(l));
    Budget {
        scope,
        per: l.per,
        limit,
        remaining: u32::try_from(u128::from(limit).saturating_sub(used)).unwrap_or(0),
        reset_after: secs_ceil(tat - now),
        retry_after: None,
    }
}

/// A budget nothing has been spent from.
pub(super) fn full(scope: Scope, l: Limit) -> Budget {
    Budget {
        scope,
        per: l.per,
        limit: l.limit,
        remaining: l.limit,
        reset_after: 0,
        retry_after: None,
    }
}

/// A budget as reported without a request: never refusing.
pub(super) fn standing_of(b: Budget) -> Budget {
    Budget {
        retry_after: None,
        ..b
    }
}

/// The budgets of one key, decided against its arrival times; the new times if all allow.
fn decide(scope: Scope, limits: &Limits, tats: &Tats, now: u128, out: &mut Spent) -> Tats {
    let mut next = *tats;
    for l in limits.iter() {
        let (b, tat) = step(scope, l, u128::from(tats[l.per.index()]), now);
        out.push(b);
        if let Some(t) = tat {
            next[l.per.index()] = u64::try_from(t).unwrap_or(u64::MAX);
        }
    }
    next
}

impl Limiter {
    fn now(&self) -> u128 {
        self.epoch.0.elapsed().as_nanos()
    }

    /// The slot of `key` (a token id, or a workspace's key), made when it has none.
    pub fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.by_key.get(key) {
            return Arc::clone(slot);
        }
        if slots.by_key.len() >= slots.sweep_at.max(SWEEP_AT) {
            let now = u64::try_from(self.now()).unwrap_or(u64::MAX);
            let held_or_busy =
                |s: &Arc<Slot>| Arc::strong_count(s) > 1 || s.lock().iter().any(|t| *t > now);
            slots.by_key.retain(|_, s| held_or_busy(s));
            slots.sweep_at = 2 * slots.by_key.len();
        }
        Arc::clone(slots.by_key.entry_ref(key).or_default())
    }

    /// Spends one unit of every budget of a token (its slot `own`, `limits`) and of its
    /// workspace's (`ws`), or none when one refuses. A cached token holds its slots
    /// ([`Limiter::slot`]).
    pub fn spend_slots(&self, own: &Slot, limits: &Limits, ws: Option<(&Slot, &Limits)>) -> Spent {
        spend_at(own, limits, ws, self.now())
    }

    /// The budgets without spending (a verified token's, the detail page's).
    pub fn peek(&self, key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Spent {
        let now = self.now();
        let mut out = Spent::default();
        let tats = |k: &str| {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.by_key.get(k).map(|s| *s.lock()).unwrap_or_default()
        };
        let own = tats(key);
        for l in limits.iter() {
            out.push(standing(
                Scope::Token,
                l,
                u128::from(own[l.per.index()]),
                now,
            ));
        }
        if let Some((k, limits)) = ws {
            let theirs = tats(k);
            for l in limits.iter() {
                let tat = u128::from(theirs[l.per.index()]);
                out.push(standing(Scope::Workspace, l, tat, now));
            }
        }
        out
    }
}

#[cfg(test)]
impl Limiter {
    /// [`Limiter::spend_slots`] by key, at a given time.
    fn spend_at(
        &self,
        key: &str,
        limits: &Limits,
        ws: Option<(&str, &Limits)>,
        now: u128,
    ) -> Spent {
        let own = self.slot(key);
        let ws = ws.map(|(k, l)| (self.slot(k), l));
        spend_at(&own, limits, ws.as_ref().map(|(s, l)| (&**s, *l)), now)
    }
}

/// [`Limiter::spend_slots`] at `now`. With a workspace, both slots are held while deciding
/// (the token's first: nothing takes a workspace's slot before a token's), so one request
/// spends from both or from neither.
fn spend_at(own: &Slot, limits: &Limits, ws: Option<(&Slot, &Limits)>, now: u128) -> Spent {
    let mut out = Spent::default();
    let mut own_tats = own.lock();
    let Some((ws, ws_limits)) = ws else {
        let next = decide(Scope::Token, limits, &own_tats, now, &mut out);
        if !out.allowed() {
            let tats = *own_tats;
            return standing_all(&out, |_| tats, now);
        }
        *own_tats = next;
        return out;
    };
    let mut ws_tats = ws.lock();
    let own_next = decide(Scope::Token, limits, &own_tats, now, &mut out);
    let ws_next = decide(Scope::Workspace, ws_limits, &ws_tats, now, &mut out);
    if !out.allowed() {
        let (mine, theirs) = (*own_tats, *ws_tats);
        let of = |scope| if scope == Scope::Token { mine } else { theirs };
        return standing_all(&out, of, now);
    }
    *own_tats = own_next;
    *ws_tats = ws_next;
    out
}

/// A refused request's budgets: the refusing ones as decided, the others as they stand
/// (a refusal spends nothing). `tats` gives each scope's arrival times.
fn standing_all(decided: &Spent, tats: impl Fn(Scope) -> Tats, now: u128) -> Spent {
    let mut shown = Spent::default();
    for b in decided.budgets() {
        let l = Limit {
            limit: b.limit,
            per: b.per,
        };
        shown.push(if b.allowed() {
            let tat = u128::from(tats(b.scope)[b.per.index()]);
            standing(b.scope, l, tat, now)
        } else {
            *b
        });
    }
    shown
}

/// The time one unit takes to come back: the window over `limit`, rounded up so that the
/// refill never runs faster than `limit` per window.
pub(super) fn interval(l: Limit) -> u128 {
    (u128::from(l.per.secs()) * SEC_NANOS).div_ceil(u128::from(l.limit.max(1)))
}

pub(super) fn secs_ceil(nanos: u128) -> u64 {
    u64::try_from(nanos.div_ceil(SEC_NANOS)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
