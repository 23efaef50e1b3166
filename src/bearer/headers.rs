//! The rate-limit headers, written in one place for every bearer response (the tracking
//! layer), verify and forward auth: `X-RateLimit-Limit/Remaining/Reset` of the budget nearest
//! refusal, `Retry-After` of the refusing one, and the IETF `RateLimit-Policy` and `RateLimit`
//! fields of draft-ietf-httpapi-ratelimit-headers-11 (one list item per budget, named
//! `token-minute`, `workspace-hour`, …).

use std::cell::RefCell;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::budget::{Budget, Scope, Spent};

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A policy's name in the IETF fields: whose budget and its window (`token-minute`).
pub fn policy_name(b: &Budget) -> &'static str {
    const TOKEN: [&str; 4] = ["token-second", "token-minute", "token-hour", "token-day"];
    const WORKSPACE: [&str; 4] = [
        "workspace-second",
        "workspace-minute",
        "workspace-hour",
        "workspace-day",
    ];
    let names = match b.scope {
        Scope::Token => &TOKEN,
        Scope::Workspace => &WORKSPACE,
    };
    names.get(b.per.index()).copied().unwrap_or_default()
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
        h.insert(RATELIMIT, ratelimit(&mut r.text, budgets));
    });
    if let Some(retry) = spent.retry_after() {
        h.insert(RETRY_AFTER, number(retry));
    }
}

/// The `RateLimit` field, `"token-hour";r=4999;t=1`: different on every request, so made
/// without the formatting machinery, in `text` (reused).
fn ratelimit(text: &mut String, budgets: &[Budget]) -> HeaderValue {
    let mut digits = itoa::Buffer::new();
    text.clear();
    for (i, b) in budgets.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push('"');
        text.push_str(policy_name(b));
        text.push_str("\";r=");
        text.push_str(digits.format(b.remaining));
        text.push_str(";t=");
        text.push_str(digits.format(b.reset_after));
    }
    text_value(text)
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
        .map(|b| format!("\"{}\";q={};w={}", policy_name(b), b.limit, b.per.secs()))
        .collect::<Vec<_>>()
        .join(", ");
    let value = text_value(&text);
    r.policy = Some((shape, value.clone()));
    value
}
