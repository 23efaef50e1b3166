//! The rate-limit headers, written in one place for every bearer response (the tracking
//! layer), verify and forward auth: `X-RateLimit-Limit/Remaining/Reset` of the budget nearest
//! refusal, `Retry-After` of the refusing one, and the IETF `RateLimit-Policy` and `RateLimit`
//! fields of draft-ietf-httpapi-ratelimit-headers-11 (one list item per budget, named
//! `token-minute`, `workspace-hour`, …).

use std::cell::RefCell;
use std::fmt::Write as _;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::budget::{Budget, Scope, Spent};

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A policy's name in the IETF fields: whose budget and its window (`token-minute`).
pub struct PolicyName<'a>(pub &'a Budget);

impl std::fmt::Display for PolicyName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = match self.0.scope {
            Scope::Token => "token",
            Scope::Workspace => "workspace",
        };
        write!(f, "{scope}-{}", self.0.per.code())
    }
}

thread_local! {
    /// The last values this thread wrote, with what they were made of. A limit and a policy
    /// are the same for every token of a tier, a reset time often the same for a second's
    /// requests; a clone of a value shares its bytes (a reference count) where a new one
    /// allocates them.
    static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
}

/// What a `RateLimit-Policy` field is made of: each budget's scope, window and limit.
type PolicyShape = [(Scope, u64, u32); 8];

#[derive(Default)]
struct Recent {
    limit: Option<(u32, HeaderValue)>,
    reset: Option<(i64, HeaderValue)>,
    /// The budgets' (scope, window, limit), and the policy field they make.
    policy: Option<(PolicyShape, HeaderValue)>,
    /// Reused for the `RateLimit` field's text.
    text: String,
}

/// `n`'s header value, `last`'s again when `n` is the same.
fn recent<T: Copy + PartialEq + itoa::Integer>(
    last: &mut Option<(T, HeaderValue)>,
    n: T,
) -> HeaderValue {
    match last {
        Some((m, value)) if *m == n => value.clone(),
        _ => {
            let value = number(n);
            *last = Some((n, value.clone()));
            value
        }
    }
}

/// A number's header value in one allocation of its exact size: `HeaderValue::from` leaves
/// spare room, for which `Bytes` then allocates a second block.
pub fn number(n: impl itoa::Integer) -> HeaderValue {
    let mut digits = itoa::Buffer::new();
    // Digits are always a valid header value; the fallback is never taken.
    HeaderValue::from_str(digits.format(n)).unwrap_or(HeaderValue::from_static("0"))
}

fn text_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""))
}

/// Writes the rate-limit headers of `spent` (`now`: Unix seconds) into `h`.
pub fn write(h: &mut HeaderMap, spent: &Spent, now: i64) {
    let budgets = spent.budgets();
    if budgets.is_empty() {
        return;
    }
    let nearest = spent.nearest();
    let reset = now + i64::try_from(nearest.reset_after).unwrap_or(0);
    RECENT.with_borrow_mut(|r| {
        h.insert(LIMIT, recent(&mut r.limit, nearest.limit));
        h.insert(REMAINING, number(nearest.remaining));
        h.insert(RESET, recent(&mut r.reset, reset));
        h.insert(POLICY, policy(r, budgets));
        r.text.clear();
        for (i, b) in budgets.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let (name, left, t) = (PolicyName(b), b.remaining, b.reset_after);
            let _ = write!(r.text, "{sep}\"{name}\";r={left};t={t}");
        }
        h.insert(RATELIMIT, text_value(&r.text));
    });
    if let Some(retry) = spent.retry_after() {
        h.insert(RETRY_AFTER, number(retry));
    }
}

/// The `RateLimit-Policy` field: the same for every request of the same limits.
fn policy(r: &mut Recent, budgets: &[Budget]) -> HeaderValue {
    let mut shape: PolicyShape = [(Scope::Token, 0, 0); 8];
    for (slot, b) in shape.iter_mut().zip(budgets) {
        *slot = (b.scope, b.per.secs(), b.limit);
    }
    if let Some((last, value)) = &r.policy
        && *last == shape
    {
        return value.clone();
    }
    let text = budgets
        .iter()
        .map(|b| format!("\"{}\";q={};w={}", PolicyName(b), b.limit, b.per.secs()))
        .collect::<Vec<_>>()
        .join(", ");
    let value = text_value(&text);
    r.policy = Some((shape, value.clone()));
    value
}
