//! One budget as this server holds it, and what a relet's answer does to it.

use hashbrown::HashMap;

use super::keys::BudgetKey;
use super::lease::left_of;
use crate::domain::rate::Limit;

#[derive(Clone, Debug)]
pub(super) struct Share {
    pub(super) limit: Limit,
    /// The units taken at the last sync, and what is left of them.
    pub(super) lease: u32,
    pub(super) allowance: u32,
    /// Syncs in a row without a request here.
    pub(super) idle: u8,
    /// Whether the lease was renewed at the last sync.
    pub(super) fresh: bool,
    /// How many servers split the budget when the lease was taken: when another joins or
    /// one leaves, the lease is renewed at the next sync, so a server that just joined gets
    /// its part of a busy token's budget within a sync of the others' noticing it.
    pub(super) among: u32,
    /// The installation's budget after the last sync: units free, and its arrival time.
    pub(super) free: u32,
    pub(super) tat_ns: i64,
    /// Given back with units still owed (a request came during the give-back): kept only
    /// for the next sync to add them. Not held: the key's next request takes a new lease,
    /// like a key never seen, instead of being refused until that sync.
    pub(super) given_back: bool,
}

impl Share {
    /// Takes the lease `lease` written at a sync that read `unused` units left of the old
    /// one. What was allowed since the read comes out of the new lease; past it (always,
    /// when giving back: `lease` 0) it stays owed, counted in `self.lease` with no allowance,
    /// so the next sync adds it to the budget like any unit spent.
    pub(super) fn renew(&mut self, lease: u32, unused: u32) {
        let spent_meanwhile = unused.saturating_sub(self.allowance);
        self.lease = lease.max(spent_meanwhile);
        self.allowance = lease.saturating_sub(spent_meanwhile);
    }

    /// No lease, nothing known free.
    pub(super) fn empty(limit: Limit, now: i64) -> Self {
        Self {
            limit,
            lease: 0,
            allowance: 0,
            idle: 0,
            fresh: false,
            among: 0,
            free: 0,
            tat_ns: now,
            given_back: false,
        }
    }
}

/// What a relet's transaction decided for one key: the budget's new arrival time and this
/// server's new lease, the units other servers' leases held, and what the old lease had
/// unused when the transaction read it.
pub(super) struct Decided {
    pub key: BudgetKey,
    pub limit: Limit,
    pub tat: i64,
    pub lease: u32,
    pub others: i64,
    pub unused: u32,
}

/// Takes a relet's answers (under the lock requests spend under). Without `taking` (a give
/// back), a key with nothing owed is forgotten, so no request sees it with an empty lease;
/// one whose request came during the transaction is kept, owing it, for the next sync, and
/// is no longer held.
pub(super) fn settle(
    held: &mut HashMap<BudgetKey, Share>,
    decided: impl IntoIterator<Item = Decided>,
    taking: bool,
    among: u32,
    now: i64,
) {
    for d in decided {
        let mut entry = held
            .entry(d.key)
            .or_insert_entry(Share::empty(d.limit, now));
        entry.get_mut().renew(d.lease, d.unused);
        if !taking && entry.get().lease == 0 {
            entry.remove();
            continue;
        }
        let s = entry.into_mut();
        s.given_back = !taking;
        let others = u32::try_from(d.others.max(0)).unwrap_or(u32::MAX);
        // Owed units (in `s.lease` past the stored lease) are spent too.
        s.free = left_of(d.limit, d.tat, now)
            .saturating_sub(others)
            .saturating_sub(s.lease);
        s.tat_ns = d.tat;
        s.fresh = true;
        s.among = among;
    }
}
