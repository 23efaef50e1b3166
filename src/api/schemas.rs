//! Request-body schemas of the OpenAPI document, written as JSON Schema so that they state what
//! the handlers accept as closely as JSON Schema can (schema-based testing relies on it). What
//! it cannot state is in the descriptions: channel ids must name channels of the caller's
//! workspace and `expires_at` must lie in the future. The permission list is filled in with
//! the deployment's catalog when the document is served.

use serde_json::{Value, json};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::ip::IpAllowlist;

/// What Rust's `str::trim` removes (Unicode `White_Space`), as a regex class body.
macro_rules! ws {
    () => {
        r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// A name as `TokenName::parse` accepts it: 1–100 characters once trimmed, none of them
/// control characters. Lengths count after trimming, so the limit is in the pattern, not in
/// `maxLength`.
const NAME_PATTERN: &str = concat!(
    r"^[",
    ws!(),
    r"]*",
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"([^\x00-\x1f\x7f-\x9f]{0,98}",
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?",
    r"[",
    ws!(),
    r"]*$"
);
/// A description as `parse_description` accepts it: at most 500 characters once trimmed.
const DESCRIPTION_PATTERN: &str = concat!(
    r"^[",
    ws!(),
    r"]*",
    r"([^",
    ws!(),
    r"]([\s\S]{0,498}[^",
    ws!(),
    r"])?)?",
    r"[",
    ws!(),
    r"]*$"
);
/// Channel ids as keyward makes them (`ch_` and 20 base62 characters).
const CHANNEL_ID: &str = r"^ch_[0-9A-Za-z]{20}$";
const IPV4_CIDR: &str = r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}/(3[0-2]|[12]?[0-9])$";
/// Full or `::`-ended IPv6 networks; other spellings are accepted too (see the description).
const IPV6_CIDR: &str = r"^([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$|^([0-9A-Fa-f]{1,4}:){1,6}:/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$";

fn from_json(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// The fields shared by create and update; `create` makes name and permissions required.
fn token_body(create: bool) -> Value {
    let nullable = |t: &str| if create { json!(t) } else { json!([t, "null"]) };
    let mut schema = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "name": {
                "type": nullable("string"),
                "minLength": 1,
                "pattern": NAME_PATTERN,
                "description": "1–100 characters after trimming, no control characters.",
                "example": "CI deploy"
            },
            "description": {
                "type": ["string", "null"],
                "pattern": DESCRIPTION_PATTERN,
                "description": "At most 500 characters after trimming; `null` keeps it (empty on create)."
            },
            "permissions": {
                "type": nullable("array"),
                "minItems": 1,
                "items": {"type": "string"},
                "description": "Permission codes of this deployment's catalog; at least one.",
                "example": ["messages:send"]
            },
            "channels": {
                "type": ["array", "null"],
                "minItems": 1,
                "items": {"type": "string", "pattern": CHANNEL_ID},
                "description": "Ids of channels of the caller's workspace (unknown ids are a 422); `null` = all channels; omitted on create = the caller's own scope."
            },
            "ip_allowlist": {
                "type": ["array", "null"],
                "items": {
                    "anyOf": [
                        {"type": "string", "format": "ipv4"},
                        {"type": "string", "format": "ipv6"},
                        {"type": "string", "pattern": IPV4_CIDR},
                        {"type": "string", "pattern": IPV6_CIDR},
                        {"type": "string", "maxLength": 0}
                    ]
                },
                "description": format!(
                    "IPv4/IPv6 addresses and CIDRs (any spelling the address parser takes; host bits are cleared), at most {} distinct; blank entries are ignored; empty or `null` = any address.",
                    IpAllowlist::MAX_ENTRIES
                ),
                "example": ["10.0.0.0/8"]
            },
            "expires_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "RFC 3339, in the future (a past time is a 422); `null` = never.",
                "example": "2027-01-31T00:00:00Z"
            },
            "rate_limit_tier": {
                "type": ["string", "null"],
                "enum": ["standard", "admin", null],
                "description": "A tier: `standard` (the default on create), `admin` or one this deployment configures (`--rate-limit-tier`); `null` keeps the token's rate limit. Not with `rate_limit`."
            },
            "rate_limit": rate_limit_schema()
        }
    });
    // A tier and limits at once is a 422.
    schema["not"] = json!({
        "required": ["rate_limit_tier", "rate_limit"],
        "properties": {"rate_limit_tier": {"type": "string"}, "rate_limit": {"type": "object"}}
    });
    if create {
        schema["required"] = json!(["name", "permissions"]);
        schema["description"] = json!("`POST /api/v1/tokens` body.");
    } else {
        schema["description"] =
            json!("`PATCH /api/v1/tokens/{id}` body: any subset of the create fields.");
    }
    schema
}

/// The token's own limits in a create or update body.
fn rate_limit_schema() -> Value {
    // At most one limit per window is stated in words: JSON Schema can say it (`not` with
    // `contains`/`minContains`), but the document is built from utoipa's schema types, which
    // have no `not` and drop it.
    json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "required": ["limits"],
        "properties": {
            "limits": {
                "type": "array",
                "minItems": 1,
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["limit", "per"],
                    "properties": {
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000u64},
                        "per": {"type": "string", "enum": ["second", "minute", "hour", "day"]}
                    }
                }
            }
        },
        "description": "The token's own limits instead of a tier: 1 to 4, at most one per window (a window twice is a 422), 1 to 1,000,000,000 each; every one must allow a request. Not with `rate_limit_tier`. Without `admin`, no limit may let more through on any window than the caller's own.",
        "example": {"limits": [{"limit": 60, "per": "minute"}, {"limit": 10000, "per": "day"}]}
    })
}

/// `POST /api/v1/tokens`.
pub struct TokenCreate;

impl PartialSchema for TokenCreate {
    fn schema() -> RefOr<Schema> {
        from_json(token_body(true))
    }
}

impl ToSchema for TokenCreate {}

/// `PATCH /api/v1/tokens/{id}`.
pub struct TokenUpdate;

impl PartialSchema for TokenUpdate {
    fn schema() -> RefOr<Schema> {
        from_json(token_body(false))
    }
}

impl ToSchema for TokenUpdate {}

fn verify_body() -> Value {
    json!({
        "type": "object",
        "description": "What to verify.",
        "additionalProperties": false,
        "required": ["token"],
        "properties": {
            "token": {"type": "string", "description": "The secret to verify."},
            "permission": {
                "type": ["string", "null"],
                "description": "A permission the token must hold."
            },
            "channel": {
                "type": ["string", "null"],
                "description": "A channel id the token must reach."
            },
            "ip": {
                "anyOf": [
                    {"type": "string", "format": "ipv4"},
                    {"type": "string", "format": "ipv6"},
                    {"type": "string", "maxLength": 0},
                    {"type": "null"}
                ],
                "description": "The client address the token is used from (required for tokens with an IP allowlist); blank or `null` = not given."
            }
        }
    })
}

/// `POST /api/v1/verify`.
pub struct VerifyRequest;

impl PartialSchema for VerifyRequest {
    fn schema() -> RefOr<Schema> {
        from_json(verify_body())
    }
}

impl ToSchema for VerifyRequest {}

/// `?status=` of `GET /api/v1/tokens`: a status, or `all` or empty for every status.
pub struct StatusFilter;

impl PartialSchema for StatusFilter {
    fn schema() -> RefOr<Schema> {
        from_json(json!({
            "type": "string",
            "enum": ["", "all", "active", "expiring_soon", "expired", "revoked"]
        }))
    }
}

impl ToSchema for StatusFilter {}

/// Puts the deployment's tier names into the token bodies of a rendered document.
pub fn set_tiers(doc: &mut Value, names: &[&str]) {
    let mut allowed: Vec<Value> = names.iter().map(|n| json!(n)).collect();
    allowed.push(Value::Null);
    for body in ["TokenCreate", "TokenUpdate"] {
        let pointer = format!("/components/schemas/{body}/properties/rate_limit_tier");
        if let Some(tier) = doc.pointer_mut(&pointer) {
            tier["enum"] = Value::Array(allowed.clone());
        }
    }
}

/// Puts the deployment's permission codes into the token bodies of a rendered document.
pub fn set_permission_catalog(doc: &mut Value, codes: &[&str]) {
    for body in ["TokenCreate", "TokenUpdate"] {
        let pointer = format!("/components/schemas/{body}/properties/permissions/items");
        if let Some(items) = doc.pointer_mut(&pointer) {
            items["enum"] = json!(codes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::{TokenName, parse_description};

    /// The schema's patterns accept exactly what the validators accept, lengths counted after
    /// trimming (schema-based testing relies on it).
    #[test]
    #[allow(clippy::unwrap_used)]
    fn name_and_description_patterns_agree_with_the_validators() {
        let name = regex::Regex::new(NAME_PATTERN).unwrap();
        let description = regex::Regex::new(DESCRIPTION_PATTERN).unwrap();
        let pads = ["", " ", "\t\n", "\u{3000}\u{a0}", "\u{85}"];
        let cores = [
            String::new(),
            "x".into(),
            "a b".into(),
            "é".repeat(99),
            "x".repeat(100),
            "x".repeat(101),
            "d".repeat(500),
            "d".repeat(501),
            "a\u{7}b".into(),
            "a\u{1f}".into(),
            "\u{1c}a".into(),
            "a\u{feff}".into(),
            "line\nbreak".into(),
        ];
        for pad in pads {
            for core in &cores {
                let s = format!("{pad}{core}{pad}");
                assert_eq!(
                    name.is_match(&s),
                    TokenName::parse(&s).is_ok(),
                    "name {s:?}"
                );
                assert_eq!(
                    description.is_match(&s),
                    parse_description(&s).is_ok(),
                    "description {s:?}"
                );
            }
        }
    }

    #[test]
    fn the_json_schemas_convert_to_utoipa_schemas() -> Result<(), serde_json::Error> {
        for value in [token_body(true), token_body(false), verify_body()] {
            let schema: RefOr<Schema> = serde_json::from_value(value.clone())?;
            let back = serde_json::to_value(schema)?;
            assert_eq!(back["properties"], value["properties"]);
        }
        Ok(())
    }
}
