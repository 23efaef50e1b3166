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
        // One hash lookup per key: every window's time is in the one entry.
        let own = decide(
            Scope::Token,
            limits,
            &map.get(key).copied().unwrap_or_default(),
            now,
            &mut out,
        );
        let theirs = ws.map(|(k, l)| {
            let tats = map.get(k).copied().unwrap_or_default();
            (k, decide(Scope::Workspace, l, &tats, now, &mut out))
        });
        if out.allowed() {
            store(&mut map, key, own);
            if let Some((k, tats)) = theirs {
                store(&mut map, k, tats);
            }
        } else {
            // A refusal spends nothing: the others report what they have without it.
            let mut shown = Spent::default();
            let tats = |m: &hashbrown::HashMap<String, Tats>, k: &str| {
                m.get(k).copied().unwrap_or_default()
            };
            for b in out.budgets() {
                let k = if b.scope == Scope::Token {
                    key
                } else {
                    ws.map_or(key, |w| w.0)
                };
                let l = Limit {
                    limit: b.limit,
                    per: b.per,
                };
                shown.push(if b.allowed() {
                    standing(b.scope, l, tats(&map, k)[b.per.index()], now)
                } else {
                    *b
                });
            }
            out = shown;
        }
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u128 = 1_000_000_000;
    const HOUR_NANOS: u128 = 3_600 * SEC;

    fn hourly(n: u32) -> Limits {
        Limits::hourly(n)
    }

    fn list(s: &str) -> Limits {
        Limits::parse(s, false).unwrap_or_default()
    }

    /// Spends at `now` until the first refusal; returns how many were allowed.
    fn burst(l: &Limiter, limits: &Limits, now: u128) -> u64 {
        let mut allowed = 0;
        while l.spend_at("k", limits, None, now).allowed() {
            allowed += 1;
        }
        allowed
    }

    #[test]
    fn a_full_budget_can_be_spent_at_once_then_refills_evenly() {
        let l = Limiter::default();
        for i in 0..10 {
            let b = l.spend_at("k", &hourly(10), None, 0);
            assert!(b.allowed(), "request {i}");
            assert_eq!(b.nearest().remaining, 9 - i);
        }
        let refused = l.spend_at("k", &hourly(10), None, 0).nearest();
        assert_eq!(refused.retry_after, Some(360));
        assert_eq!(refused.reset_after, 3600);
        // One interval (6 minutes) later exactly one unit is back.
        assert!(l.spend_at("k", &hourly(10), None, 360 * SEC).allowed());
        assert!(!l.spend_at("k", &hourly(10), None, 360 * SEC).allowed());
    }

    #[test]
    fn every_window_must_allow_and_a_refusal_spends_nothing() {
        let l = Limiter::default();
        let limits = list("3/second,5/minute");
        assert_eq!(burst(&l, &limits, 0), 3);
        let refused = l.spend_at("k", &limits, None, 0);
        assert_eq!(refused.retry_after(), Some(1));
        assert_eq!(refused.nearest().per, Window::Second);
        // The refused request left the minute budget at 2.
        let minute = refused
            .budgets()
            .iter()
            .find(|b| b.per == Window::Minute)
            .copied();
        assert_eq!(minute.map(|b| b.remaining), Some(2));
        // A second later: two more (the minute's), then the minute refuses.
        assert_eq!(burst(&l, &limits, SEC), 2);
        let by_minute = l.spend_at("k", &limits, None, SEC);
        assert_eq!(by_minute.nearest().per, Window::Minute);
        assert_eq!(by_minute.retry_after(), Some(11));
    }

    #[test]
    fn the_workspace_ceiling_refuses_for_every_token_of_it() {
        let l = Limiter::default();
        let ws = hourly(2);
        assert!(
            l.spend_at("a", &hourly(10), Some(("ws:w", &ws)), 0)
                .allowed()
        );
        assert!(
            l.spend_at("b", &hourly(10), Some(("ws:w", &ws)), 0)
                .allowed()
        );
        let refused = l.spend_at("a", &hourly(10), Some(("ws:w", &ws)), 0);
        assert_eq!(refused.nearest().scope, Scope::Workspace);
        // The token's own budget was not spent by the refusal.
        assert_eq!(l.peek("a", &hourly(10), None).nearest().remaining, 9);
    }

    #[test]
    fn seven_million_per_hour_admits_exactly_seven_million_at_once() {
        // 3 600 s / 7 000 000 is not a whole number of nanoseconds; an interval rounded down
        // used to admit 7 000 009.
        let l = Limiter::default();
        assert_eq!(burst(&l, &hourly(7_000_000), 0), 7_000_000);
        let refused = l.spend_at("k", &hourly(7_000_000), None, 0).nearest();
        assert_eq!((refused.remaining, refused.retry_after), (0, Some(1)));
    }

    #[test]
    fn spending_one_key_leaves_another_full() {
        let l = Limiter::default();
        assert_eq!(burst(&l, &hourly(5), 0), 5);
        let other = l.spend_at("other", &hourly(5), None, 0).nearest();
        assert_eq!((other.allowed(), other.remaining), (true, 4));
    }

    /// A limit, and request times (nanoseconds, ascending) whose gaps are bursts (0), a
    /// fraction of the refill interval, or a few intervals.
    fn schedule() -> impl Strategy<Value = (u32, Vec<u128>)> {
        prop_oneof![1u32..=20, 1u32..=1_000_000_000]
            .prop_flat_map(|limit| {
                let step = interval(Limit {
                    limit,
                    per: Window::Hour,
                });
                let gap = prop_oneof![Just(0), 0..step, 0..4 * step];
                (Just(limit), prop::collection::vec(gap, 1..400))
            })
            .prop_map(|(limit, gaps)| {
                let times = gaps
                    .iter()
                    .scan(0, |t, gap| {
                        *t += gap;
                        Some(*t)
                    })
                    .collect();
                (limit, times)
            })
    }

    proptest! {
        /// However requests arrive, no stretch of T nanoseconds admits more than the full
        /// budget plus what T refills at `limit` per hour: `limit` at once, at most
        /// `2 × limit − 1` in any hour, never faster than `limit` per hour in the long run.
        #[test]
        fn no_window_admits_more_than_a_full_budget_plus_its_refill(
            (limit, times) in schedule()
        ) {
            let l = Limiter::default();
            let allowed: Vec<u128> = times
                .into_iter()
                .filter(|&t| l.spend_at("k", &hourly(limit), None, t).allowed())
                .collect();
            let limit = u128::from(limit);
            for (i, first) in allowed.iter().enumerate() {
                for (count, last) in (1u128..).zip(&allowed[i..]) {
                    let span = last - first + 1;
                    let bound = limit - 1 + (span * limit).div_ceil(HOUR_NANOS);
                    prop_assert!(count <= bound, "{count} allowed within {span} ns, bound {bound}");
                }
            }
        }
    }
}
