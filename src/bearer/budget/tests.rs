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

#[test]
fn a_slot_a_cached_token_holds_outlives_the_sweep_and_an_idle_full_one_does_not() {
    let l = Limiter::default();
    let held = l.slot("held");
    let spent = l.spend_slots(&held, &hourly(10), None);
    assert_eq!(spent.nearest().remaining, 9);
    // A key spent once and let go (not full again for an hour), and one nobody spent.
    l.spend_at("busy", &hourly(10), None, l.now());
    drop(l.slot("idle"));
    // Three keys so far: the last of these finds SWEEP_AT keys and sweeps before it goes in.
    for i in 0..SWEEP_AT - 2 {
        drop(l.slot(&format!("k{i}")));
    }
    // Only the held and the not-yet-full keys are left, and the newest.
    let left = l.slots.lock().map(|s| s.by_key.len()).unwrap_or_default();
    assert_eq!(left, 3, "held, busy and the newest key");
    assert!(
        Arc::ptr_eq(&held, &l.slot("held")),
        "the entry's slot is still the key's"
    );
    assert_eq!(l.peek("held", &hourly(10), None).nearest().remaining, 9);
    assert_eq!(l.peek("busy", &hourly(10), None).nearest().remaining, 9);
}

#[test]
fn a_token_and_its_workspace_spend_together_from_their_slots() {
    let l = Limiter::default();
    let (own, ws) = (l.slot("a"), l.slot("ws:w"));
    let ws_limit = hourly(1);
    assert!(
        l.spend_slots(&own, &hourly(10), Some((&ws, &ws_limit)))
            .allowed()
    );
    let refused = l.spend_slots(&own, &hourly(10), Some((&ws, &ws_limit)));
    assert!(!refused.allowed());
    // The refusal spent nothing of the token's own budget.
    assert_eq!(l.peek("a", &hourly(10), None).nearest().remaining, 9);
}

#[test]
fn when_most_keys_are_busy_the_next_sweep_waits_for_the_map_to_double() {
    let l = Limiter::default();
    // SWEEP_AT keys spent once: none full again for an hour, so a sweep keeps them all.
    for i in 0..SWEEP_AT {
        l.spend_at(&format!("k{i}"), &hourly(10), None, l.now());
    }
    let sweep_at = |l: &Limiter| l.slots.lock().map(|s| s.sweep_at).unwrap_or_default();
    drop(l.slot("one more"));
    assert_eq!(sweep_at(&l), 2 * SWEEP_AT, "swept once, nothing to drop");
    drop(l.slot("and another"));
    assert_eq!(
        sweep_at(&l),
        2 * SWEEP_AT,
        "not swept again at the next new key"
    );
}
