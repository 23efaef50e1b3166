//! Rate limits: GCRA per budget, with a burst of N per window (second, minute, hour, day), so
//! a budget starts full, may be spent at once, and refills evenly. A request spends one unit
//! of every budget that applies (each of its token's limits and each of its workspace's) or,
//! when one of them refuses, none. Keys are token ids and workspace ids; limits are per
//! process (see `shares` for several servers).

use std::sync::Mutex;
use std::time::Instant;

use crate::domain::rate::{Limit, Limits, Window};

/// Entries whose budgets are all full again carry no information; they are swept past this
/// size.
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

/// A key's arrival times, one per window (nanoseconds since the limiter's epoch; at or
/// before now = full).
type Tats = [u128; 4];

#[derive(Default)]
pub struct Limiter {
    tat: Mutex<hashbrown::HashMap<String, Tats>>,
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
        let (b, tat) = step(scope, l, tats[l.per.index()], now);
        out.push(b);
        if let Some(t) = tat {
            next[l.per.index()] = t;
        }
    }
    next
}

impl Limiter {
    fn now(&self) -> u128 {
        self.epoch.0.elapsed().as_nanos()
    }

    /// Spends one unit of every budget of the token (`key`, `limits`) and of its workspace's
    /// (`ws`), or none when one refuses.
    pub fn spend(&self, key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Spent {
        self.spend_at(key, limits, ws, self.now())
    }

    fn spend_at(
        &self,
        key: &str,
        limits: &Limits,
        ws: Option<(&str, &Limits)>,
        now: u128,
    ) -> Spent {
        let mut out = Spent::default();
        let Ok(mut map) = self.tat.lock() else {
            return out;
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, tats| tats.iter().any(|t| *t > now));
        }
        let Some((ws_key, ws_limits)) = ws else {
            // The common case, one key: one hash lookup, every window's time in its entry.
            let slot = map.get_mut(key);
            let tats = slot.as_deref().copied().unwrap_or_default();
            let next = decide(Scope::Token, limits, &tats, now, &mut out);
            if !out.allowed() {
                return standing_all(&out, |_| tats, now);
            }
            match slot {
                Some(slot) => *slot = next,
                None => {
                    map.insert(key.to_owned(), next);
                }
            }
            return out;
        };
        let own_tats = map.get(key).copied().unwrap_or_default();
        let ws_tats = map.get(ws_key).copied().unwrap_or_default();
        let own = decide(Scope::Token, limits, &own_tats, now, &mut out);
        let theirs = decide(Scope::Workspace, ws_limits, &ws_tats, now, &mut out);
        if !out.allowed() {
            let of = |scope| {
                if scope == Scope::Token {
                    own_tats
                } else {
                    ws_tats
                }
            };
            return standing_all(&out, of, now);
        }
        store(&mut map, key, own);
        store(&mut map, ws_key, theirs);
        out
    }

    /// The budgets without spending (a verified token's, the detail page's).
    pub fn peek(&self, key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Spent {
        let now = self.now();
        let mut out = Spent::default();
        let map = self.tat.lock().ok();
        let tats = |k: &str| {
            map.as_ref()
                .and_then(|m| m.get(k).copied())
                .unwrap_or_default()
        };
        let own = tats(key);
        for l in limits.iter() {
            out.push(standing(Scope::Token, l, own[l.per.index()], now));
        }
        if let Some((k, limits)) = ws {
            let theirs = tats(k);
            for l in limits.iter() {
                out.push(standing(Scope::Workspace, l, theirs[l.per.index()], now));
            }
        }
        out
    }
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
            standing(b.scope, l, tats(b.scope)[b.per.index()], now)
        } else {
            *b
        });
    }
    shown
}

fn store(map: &mut hashbrown::HashMap<String, Tats>, key: &str, tats: Tats) {
    match map.get_mut(key) {
        Some(slot) => *slot = tats,
        None => {
            map.insert(key.to_owned(), tats);
        }
    }
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
