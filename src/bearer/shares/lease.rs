//! What a sync does to one budget, in numbers: units left, a server's even part, the lease
//! it takes.

use super::budget;
use crate::db;
use crate::domain::rate::Limit;

/// What one server's sync does to one budget: adds what it allowed from its lease (`own`
/// units, `unused` of them left) to the budget, and takes a new lease: its even part of what
/// the budget has left (free units and other servers' leases) over `n` servers, never more
/// than is free (`n` 0 takes none: a server shutting down). Returns the budget's new arrival
/// time and the new lease.
pub(super) fn relet(
    limit: Limit,
    stored: db::budgets::Stored,
    (own, unused): (u32, u32),
    (n, rank): (u32, u32),
    now: i64,
) -> (i64, u32) {
    let interval = interval_ns(limit);
    let allowed = own.saturating_sub(unused);
    let tat = stored.tat_ns.max(now) + i64::from(allowed) * interval;
    let others = u32::try_from(stored.others.max(0)).unwrap_or(u32::MAX);
    let free = left_of(limit, tat, now).saturating_sub(others);
    let lease = if n == 0 {
        0
    } else {
        share_of(free.saturating_add(others), n, rank).min(free)
    };
    (tat, lease)
}

/// The in-memory limiter's refill interval (the window over `limit`, rounded up), as `i64`.
pub(super) fn interval_ns(limit: Limit) -> i64 {
    i64::try_from(budget::interval(limit)).unwrap_or(i64::MAX)
}

/// Units a budget of `limit` has left at `now` when its arrival time is `tat`.
pub(super) fn left_of(limit: Limit, tat: i64, now: i64) -> u32 {
    let interval = interval_ns(limit);
    let ahead = (tat - now).max(0);
    let used = ahead / interval + i64::from(ahead % interval != 0);
    let n = i64::from(limit.limit);
    u32::try_from((n - used).clamp(0, n)).unwrap_or(0)
}

/// This server's part of `left` units split between `n` servers, it being number `rank`.
pub fn share_of(left: u32, n: u32, rank: u32) -> u32 {
    let n = n.max(1);
    left / n + u32::from(rank < left % n)
}
