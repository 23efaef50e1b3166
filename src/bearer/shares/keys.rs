//! The budgets a server holds shares of, by key and window: the key as stored, the lookup on
//! the request path without a copy of the key, and a share as a request's budget.

use hashbrown::HashMap;

use super::{Keys, Share, interval_ns, secs_ceil};
use crate::bearer::budget::{Budget, Scope};
use crate::domain::rate::{Limit, Limits, Window};

/// One budget: a token's or workspace's key and a window. Stored as the key for the hourly
/// window (as before windows existed, so a running installation keeps its budgets) and as
/// `key/window` for the others.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BudgetKey {
    pub key: String,
    pub per: Window,
}

impl BudgetKey {
    pub(super) fn stored(&self) -> String {
        match self.per {
            Window::Hour => self.key.clone(),
            w => format!("{}/{}", self.key, w.code()),
        }
    }
}

impl std::hash::Hash for BudgetKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        KeyRef(&self.key, self.per).hash(h);
    }
}

/// A [`BudgetKey`] borrowed, for lookups on the request path without a copy of the key.
#[derive(Hash)]
pub(super) struct KeyRef<'a>(pub(super) &'a str, pub(super) Window);

impl hashbrown::Equivalent<BudgetKey> for KeyRef<'_> {
    fn equivalent(&self, k: &BudgetKey) -> bool {
        self.0 == k.key && self.1 == k.per
    }
}

/// The budgets of a token's request: its own key's limits and its workspace's.
pub fn keys_of(key: &str, limits: &Limits, ws: Option<(&str, &Limits)>) -> Keys {
    let of = |k: &str, l: &Limits| {
        l.iter()
            .map(|l| {
                let key = BudgetKey {
                    key: k.to_owned(),
                    per: l.per,
                };
                (key, l)
            })
            .collect::<Vec<_>>()
    };
    let mut keys = of(key, limits);
    if let Some((k, l)) = ws {
        keys.extend(of(k, l));
    }
    keys
}

/// This server's share of a budget; a budget not leased yet (no cache miss before it) starts
/// with nothing until the next sync.
pub(super) fn share<'a>(
    held: &'a mut HashMap<BudgetKey, Share>,
    key: &str,
    limit: Limit,
    now: i64,
) -> Option<&'a mut Share> {
    if !held.contains_key(&KeyRef(key, limit.per)) {
        let fresh = Share {
            free: limit.limit,
            ..Share::empty(limit, now)
        };
        let k = BudgetKey {
            key: key.to_owned(),
            per: limit.per,
        };
        held.insert(k, fresh);
    }
    let s = held.get_mut(&KeyRef(key, limit.per))?;
    s.limit = limit;
    Some(s)
}

/// A share as a budget of the request, before it spends: refused when nothing is left here
/// (and nothing anywhere until one unit refills).
pub(super) fn budget_of(s: &Share, scope: Scope, limit: Limit, now: i64) -> Budget {
    let reset_after = secs_ceil(s.tat_ns - now);
    let mut b = Budget {
        scope,
        per: limit.per,
        limit: limit.limit,
        remaining: s.free + s.allowance,
        reset_after,
        retry_after: None,
    };
    if s.allowance == 0 {
        let refill = s.tat_ns + interval_ns(limit) * (1 - i64::from(limit.limit)) - now;
        b.remaining = 0;
        b.reset_after = reset_after.max(1);
        b.retry_after = Some(secs_ceil(refill).max(1));
    }
    b
}
