//! JSON shapes of the API: the token object and its parts.

use crate::domain::draft::{DraftInput, ExpiryInput, RateInput};
use serde::Serialize;
use utoipa::ToSchema;

use std::cell::RefCell;

use crate::bearer::usage::LastIp;
use crate::config::Config;
use crate::db::tokens::{ChannelRef, Token};
use crate::domain::actor::Actor;
use crate::domain::rate::{Limit, RatePolicy};
use crate::domain::status::Status;
use crate::domain::token::rfc3339;

/// A token's rate limit: its tier (null when it has limits of its own), the limits in force,
/// and the hourly one among them (null when none counts per hour).
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimit {
    #[schema(example = "standard")]
    pub tier: Option<String>,
    pub limits: Vec<Limit>,
    pub per_hour: Option<u32>,
}

impl RateLimit {
    pub fn of(policy: &RatePolicy, config: &Config) -> Self {
        let limits = config.limits(policy);
        Self {
            tier: policy.tier().map(str::to_owned),
            limits: limits.iter().collect(),
            per_hour: limits.per_hour(),
        }
    }
}

/// The token object of SPEC §6. Times are RFC 3339 UTC. The fields that change while the
/// token does not (status with time, usage with requests) come last, in [`Live`]'s order, so
/// the JSON before them can be kept ([`TokenObject::fixed_json`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenObject {
    #[schema(example = "tok_3fZ9qLmA8xT2vB7nC1dE")]
    pub id: String,
    pub name: String,
    pub description: String,
    /// Prefix, first 4 characters of the body and last 4 of the secret.
    #[schema(example = "kw_AbCd…wxyz")]
    pub hint: String,
    #[schema(example = json!(["messages:send"]))]
    pub permissions: Vec<String>,
    /// `null` = all channels; `[]` = none left (its channels were removed).
    pub channels: Option<Vec<ChannelRef>>,
    pub ip_allowlist: Vec<String>,
    pub rate_limit: RateLimit,
    /// During an overlap (`POST /tokens/{id}/roll`): when the previous secret stops working;
    /// `null` when there is none.
    pub previous_secret_expires_at: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub created_by: Actor,
    pub status: Status,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub request_count: i64,
}

/// The last fields of a token object, which change while the token does not.
#[derive(Debug)]
pub struct Live {
    pub status: Status,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<LastIp>,
    pub request_count: i64,
}

impl Live {
    /// Appends these fields and the closing brace, to follow an object left open by
    /// [`TokenObject::fixed_json`]: what serialising them gives (`me`'s test compares),
    /// written field by field. Status codes, timestamps and addresses need no escaping;
    /// stored text gets it.
    pub fn close(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(self.status.code().as_bytes());
        out.extend_from_slice(b"\",\"last_used_at\":");
        match self.last_used_at {
            Some(at) => {
                out.push(b'"');
                rfc3339_into(at, out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"last_used_ip\":");
        match &self.last_used_ip {
            Some(LastIp::Text(text)) => json_str(text, out),
            Some(ip) => {
                out.push(b'"');
                ip.write(out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"request_count\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.request_count).as_bytes());
        out.push(b'}');
    }
}

thread_local! {
    /// The last time [`rfc3339_into`] wrote, with its text: consecutive requests mostly show
    /// last uses within the same second, and formatting a date costs more than the copy.
    static LAST_TIME: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// [`rfc3339`] of `unix`, appended.
fn rfc3339_into(unix: i64, out: &mut Vec<u8>) {
    LAST_TIME.with_borrow_mut(|(at, text)| {
        if *at != unix {
            *text = rfc3339(unix);
            *at = unix;
        }
        out.extend_from_slice(text.as_bytes());
    });
}

/// A JSON string as serde_json writes it; one that needs no escaping is copied.
fn json_str(s: &str, out: &mut Vec<u8>) {
    // Every byte checked, without stopping at the first bad one: the loop vectorises.
    let plain = s
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20 && b != b'"' && b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

impl TokenObject {
    /// This object's JSON without its [`Live`] fields and closing brace.
    pub fn fixed_json(&self) -> String {
        let mut json = serde_json::to_string(self).unwrap_or_default();
        // `status` is the first live field; quotes inside strings are escaped, so this
        // sequence can only be that key.
        if let Some(cut) = json.rfind(r#","status":""#) {
            json.truncate(cut);
        }
        json
    }

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
            rate_limit: RateLimit::of(&t.rate, config),
            previous_secret_expires_at: t.overlap(now).map(|p| rfc3339(p.expires_at)),
            expires_at: t.expires_at.map(rfc3339),
            created_at: rfc3339(t.created_at),
            created_by: t.created_by.clone(),
            last_used_at: t.last_used_at.map(rfc3339),
            last_used_ip: t.last_used_ip.clone(),
            request_count: t.request_count,
        }
    }
}

/// A channel as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelObject {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at: String,
}

impl From<crate::db::channels::Channel> for ChannelObject {
    fn from(c: crate::db::channels::Channel) -> Self {
        Self {
            id: c.id,
            name: c.name,
            kind: c.kind,
            created_at: rfc3339(c.created_at),
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// `POST /tokens` and `PATCH /tokens/{id}` bodies (on PATCH every field is optional); the
/// document describes them as `schemas::TokenCreate` and `schemas::TokenUpdate`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// `null` = all channels; omitted on create = the caller's own scope.
    #[serde(default, deserialize_with = "double_option")]
    pub channels: Option<Option<Vec<String>>>,
    /// Empty or `null` = any address.
    #[serde(default, deserialize_with = "double_option")]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    /// `null` = never.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<String>>,
    pub rate_limit_tier: Option<String>,
    /// The token's own limits (instead of a tier).
    pub rate_limit: Option<RateLimitBody>,
}

/// `{"limits": [{"limit": 60, "per": "minute"}, …]}`; windows are checked by the validator,
/// so a bad one is a 422 naming it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    pub limits: Vec<LimitBody>,
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    /// Any JSON number (`60.0` is the integer 60, as JSON Schema has it); the validator
    /// refuses what is not a whole number from 1 to 1,000,000,000.
    pub limit: serde_json::Number,
    pub per: String,
}

impl LimitBody {
    /// The count as a whole number; anything else as one out of range, so the validator's
    /// message applies.
    pub fn count(&self) -> u64 {
        self.limit.as_u64().unwrap_or_else(|| {
            self.limit
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= 1e12)
                .map_or(u64::MAX, |f| f as u64)
        })
    }
}

impl TokenBody {
    /// The body as the one token validator takes it (`domain::draft`).
    pub fn into_input(self) -> DraftInput {
        DraftInput {
            name: self.name,
            description: self.description,
            permissions: self.permissions,
            channels: self.channels,
            ip_allowlist: self.ip_allowlist.map(Option::unwrap_or_default),
            expiry: match self.expires_at {
                None => ExpiryInput::Keep,
                Some(None) => ExpiryInput::Never,
                Some(Some(at)) => ExpiryInput::At(at),
            },
            rate: match (self.rate_limit_tier, self.rate_limit) {
                (None, None) => None,
                (Some(t), None) => Some(RateInput::Tier(t)),
                (None, Some(r)) => Some(RateInput::Limits(
                    r.limits.into_iter().map(|l| (l.count(), l.per)).collect(),
                )),
                (Some(_), Some(_)) => Some(RateInput::Both),
            },
        }
    }
}

/// The token object plus the secret, in create, regenerate and roll responses only. Its `Debug`
/// never shows the secret.
#[derive(Serialize, ToSchema)]
pub struct WithSecret {
    #[serde(flatten)]
    pub token: TokenObject,
    pub secret: String,
}

impl std::fmt::Debug for WithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSecret")
            .field("token", &self.token)
            .field("secret", &"[redacted]")
            .finish()
    }
}
