//! JSON shapes of the API: the token object and its parts.

use serde::Serialize;

use crate::config::Config;
use crate::db::tokens::{ChannelRef, CreatedBy, Token};
use crate::domain::status::Status;
use crate::domain::token::{Tier, rfc3339};

#[derive(Debug, Serialize)]
pub struct RateLimit {
    pub tier: Tier,
    pub per_hour: u32,
}

/// The token object of SPEC §6. Times are RFC 3339 UTC.
#[derive(Debug, Serialize)]
pub struct TokenObject {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: Status,
    pub hint: String,
    pub permissions: Vec<String>,
    /// `null` = all channels; `[]` = none left (its channels were removed).
    pub channels: Option<Vec<ChannelRef>>,
    pub ip_allowlist: Vec<String>,
    pub rate_limit: RateLimit,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub created_by: CreatedBy,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub request_count: i64,
}

impl TokenObject {
    pub fn new(t: &Token, now: i64, config: &Config) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            status: t.status(now),
            hint: t.hint.clone(),
            permissions: t.permissions.iter().map(str::to_owned).collect(),
            channels: t.channels.clone(),
            ip_allowlist: t.ip_allowlist.entries().collect(),
            rate_limit: RateLimit {
                tier: t.tier,
                per_hour: config.per_hour(t.tier),
            },
            expires_at: t.expires_at.map(rfc3339),
            created_at: rfc3339(t.created_at),
            created_by: t.created_by.clone(),
            last_used_at: t.last_used_at.map(rfc3339),
            last_used_ip: t.last_used_ip.clone(),
            request_count: t.request_count,
        }
    }
}
