//! Rate limits: GCRA with a burst of N per rolling hour, so a budget starts full, may be spent
//! at once, and refills evenly. Keys are token ids and workspace ids; limits are per process.

use std::sync::Mutex;
use std::time::Instant;

const HOUR_NANOS: u128 = 3_600 * 1_000_000_000;
/// Entries whose budget is full again carry no information; they are swept past this size.
const SWEEP_AT: usize = 100_000;

/// The state of one budget after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again.
    pub reset_after: u64,
    /// `Some(seconds)` when this request was refused.
    pub retry_after: Option<u64>,
}

impl Budget {
    pub fn allowed(&self) -> bool {
        self.retry_after.is_none()
    }
}

#[derive(Default)]
pub struct Limiter {
    /// Theoretical arrival time per key, as nanoseconds since `epoch`.
    tat: Mutex<hashbrown::HashMap<String, u128>>,
    epoch: OnceInstant,
}

struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Limiter {
    fn now(&self) -> u128 {
        self.epoch.0.elapsed().as_nanos()
    }

    /// Spends one unit of `key`'s budget of `limit` per hour if there is one.
    pub fn spend(&self, key: &str, limit: u32) -> Budget {
        self.spend_at(key, limit, self.now())
    }

    fn spend_at(&self, key: &str, limit: u32, now: u128) -> Budget {
        let limit = limit.max(1);
        let interval = interval(limit);
        // `limit` intervals, not an hour: with the interval rounded up this admits exactly
        // `limit` at once (an hour would admit more whenever the interval was rounded).
        let window = interval * u128::from(limit);
        let Ok(mut map) = self.tat.lock() else {
            return Budget {
                limit,
                remaining: 0,
                reset_after: 0,
                retry_after: None,
            };
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, tat| *tat > now);
        }
        // One hash lookup for a known key (every request but a token's first in a while).
        let (tat, slot) = match map.get_mut(key) {
            Some(slot) => ((*slot).max(now), Some(slot)),
            None => (now, None),
        };
        let next = tat + interval;
        if next - now > window {
            // Refused: nothing spent. One more unit frees up when `tat` falls inside the window.
            let wait = tat + interval - window - now;
            return Budget {
                limit,
                remaining: 0,
                reset_after: secs_ceil(tat - now),
                retry_after: Some(secs_ceil(wait).max(1)),
            };
        }
        match slot {
            Some(slot) => *slot = next,
            None => {
                map.insert(key.to_owned(), next);
            }
        }
        let used = (next - now).div_ceil(interval);
        Budget {
            limit,
            remaining: u32::try_from(u128::from(limit).saturating_sub(used)).unwrap_or(0),
            reset_after: secs_ceil(next - now),
            retry_after: None,
        }
    }

    /// The budget without spending (for reporting a verified token's state).
    pub fn peek(&self, key: &str, limit: u32) -> Budget {
        let limit = limit.max(1);
        let now = self.now();
        let interval = interval(limit);
        let tat = self
            .tat
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .unwrap_or(now)
            .max(now);
        let used = (tat - now).div_ceil(interval);
        Budget {
            limit,
            remaining: u32::try_from(u128::from(limit).saturating_sub(used)).unwrap_or(0),
            reset_after: secs_ceil(tat - now),
            retry_after: None,
        }
    }
}

/// The time one unit takes to come back: an hour over `limit`, rounded up so that the refill
/// never runs faster than `limit` per hour.
pub(super) fn interval(limit: u32) -> u128 {
    HOUR_NANOS.div_ceil(u128::from(limit.max(1)))
}

pub(super) fn secs_ceil(nanos: u128) -> u64 {
    u64::try_from(nanos.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// Of two budgets, the one to report: a refusal first, else the one with less left.
pub fn tighter(a: Budget, b: Option<Budget>) -> Budget {
    match b {
        None => a,
        Some(b) if !b.allowed() && a.allowed() => b,
        Some(b) if a.allowed() == b.allowed() && b.remaining < a.remaining => b,
        Some(_) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u128 = 1_000_000_000;

    /// Spends at `now` until the first refusal; returns how many were allowed.
    fn burst(l: &Limiter, limit: u32, now: u128) -> u64 {
        let mut allowed = 0;
        while l.spend_at("k", limit, now).allowed() {
            allowed += 1;
        }
        allowed
    }

    #[test]
    fn a_full_budget_can_be_spent_at_once_then_refills_evenly() {
        let l = Limiter::default();
        for i in 0..10 {
            let b = l.spend_at("k", 10, 0);
            assert!(b.allowed(), "request {i}");
            assert_eq!(b.remaining, 9 - i);
        }
        let refused = l.spend_at("k", 10, 0);
        assert_eq!(refused.retry_after, Some(360));
        assert_eq!(refused.reset_after, 3600);
        // One interval (6 minutes) later exactly one unit is back.
        assert!(l.spend_at("k", 10, 360 * SEC).allowed());
        assert!(!l.spend_at("k", 10, 360 * SEC).allowed());
    }

    #[test]
    fn an_hour_after_a_burst_the_budget_is_full_again() {
        let l = Limiter::default();
        assert_eq!(burst(&l, 10, 0), 10);
        let next = l.spend_at("k", 10, 3600 * SEC);
        assert_eq!((next.allowed(), next.remaining), (true, 9));
    }

    #[test]
    fn seven_million_per_hour_admits_exactly_seven_million_at_once() {
        // 3 600 s / 7 000 000 is not a whole number of nanoseconds; an interval rounded down
        // used to admit 7 000 009.
        let l = Limiter::default();
        assert_eq!(burst(&l, 7_000_000, 0), 7_000_000);
        let refused = l.spend_at("k", 7_000_000, 0);
        assert_eq!((refused.remaining, refused.retry_after), (0, Some(1)));
    }

    #[test]
    fn spending_one_key_leaves_another_full() {
        let l = Limiter::default();
        assert_eq!(burst(&l, 5, 0), 5);
        let other = l.spend_at("other", 5, 0);
        assert_eq!((other.allowed(), other.remaining), (true, 4));
    }

    #[test]
    fn tighter_prefers_a_refusal_then_the_smaller_remainder() {
        let l = Limiter::default();
        let a = l.spend_at("a", 5, 0);
        let b = l.spend_at("b", 100, 0);
        assert_eq!(tighter(b, Some(a)).limit, 5);
        let refused = Budget {
            limit: 100,
            remaining: 0,
            reset_after: 1,
            retry_after: Some(1),
        };
        assert_eq!(tighter(a, Some(refused)), refused);
    }

    /// A limit, and request times (nanoseconds, ascending) whose gaps are bursts (0), a
    /// fraction of the refill interval, or a few intervals.
    fn schedule() -> impl Strategy<Value = (u32, Vec<u128>)> {
        prop_oneof![1u32..=20, 1u32..=1_000_000_000]
            .prop_flat_map(|limit| {
                let step = interval(limit);
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
            let allowed: Vec<u128> =
                times.into_iter().filter(|&t| l.spend_at("k", limit, t).allowed()).collect();
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
