//! Pure domain types: token secrets, status, permissions, IP allowlists, names. No I/O.

pub mod account;
pub mod actor;
pub mod audit;
pub mod client_ip;
pub mod draft;
pub mod grant;
pub mod ids;
pub mod ip;
pub mod overlap;
pub mod permissions;
pub mod rate;
pub mod secret;
pub mod slug;
pub mod status;
pub mod token;
pub mod user_agent;
pub mod webhook;

/// Base62 alphabet used by secrets, checksums and ids: `0-9A-Za-z` in that order.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Current time as Unix milliseconds (0 before the epoch): the sign-in throttle's and the
/// webhook deliverer's clock, stored in the database.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Current time as Unix seconds (rounded down, as `OffsetDateTime::unix_timestamp` gives
/// them), without making a calendar date: it is read several times per bearer request.
pub fn now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    }
}
