//! Pure domain types: token secrets, status, permissions, IP allowlists, names. No I/O.

pub mod account;
pub mod actor;
pub mod client_ip;
pub mod draft;
pub mod grant;
pub mod ids;
pub mod ip;
pub mod permissions;
pub mod secret;
pub mod slug;
pub mod status;
pub mod token;

/// Base62 alphabet used by secrets, checksums and ids: `0-9A-Za-z` in that order.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Current time as Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
