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
        let interval = HOUR_NANOS / u128::from(limit);
        let window = HOUR_NANOS;
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
        let tat = map.get(key).copied().unwrap_or(now).max(now);
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
        match map.get_mut(key) {
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
        let interval = HOUR_NANOS / u128::from(limit);
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

fn secs_ceil(nanos: u128) -> u64 {
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

    const SEC: u128 = 1_000_000_000;

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
        // An hour after the burst the budget is full.
        assert_eq!(l.peek("other", 10).remaining, 10);
    }

    #[test]
    fn keys_are_independent_and_tighter_prefers_refusals() {
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
}
