//! Fuzzes the API's JSON request bodies: `TokenBody` (POST/PATCH /tokens) and `VerifyBody`
//! (POST /verify), then the validation the handlers run before writing. `api::tokens::build`
//! needs an `AppState`, so this mirrors it over the pure `domain` validators it calls.
#![no_main]

use keyward::api::model::TokenBody;
use keyward::api::verify::VerifyBody;
use keyward::auth::bearer::parse_authorization;
use keyward::domain::ip::IpAllowlist;
use keyward::domain::permissions::{Catalog, PermissionSet};
use keyward::domain::secret::Secret;
use keyward::domain::token::{
    FieldErrors, Tier, TokenDraft, TokenName, add_error, parse_description, parse_expires_at,
    rfc3339,
};
use keyward::error::BearerError;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// 2027-01-15T08:00:00Z, as in the domain tests.
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<Value>(data).ok();
    if let Ok(body) = serde_json::from_slice::<TokenBody>(data) {
        // Whatever serde accepts is valid JSON: an object, or (serde's derive also reads a
        // struct from a positional array; see FUZZING.md) an array of all 7 fields.
        match &value {
            Some(Value::Object(object)) => shape(&body, object),
            Some(Value::Array(fields)) => assert_eq!(fields.len(), 7),
            other => panic!("TokenBody from {other:?}"),
        }
        let _ = build(body);
    }
    if let Ok(body) = serde_json::from_slice::<VerifyBody>(data) {
        let token = match &value {
            Some(Value::Object(object)) => object.get("token"),
            Some(Value::Array(fields)) if fields.len() == 4 => fields.first(),
            other => panic!("VerifyBody from {other:?}"),
        };
        assert_eq!(token.and_then(Value::as_str), Some(body.token.as_str()));
        verify(&body);
    }
});

/// Absent, `null` and a value stay distinct for the fields where PATCH needs it
/// (`double_option`); the plain optional fields read `null` as absent.
fn shape(body: &TokenBody, object: &Map<String, Value>) {
    fn layers<T>(field: &Option<Option<T>>, object: &Map<String, Value>, key: &str) {
        match object.get(key) {
            None => assert!(field.is_none(), "{key} absent"),
            Some(Value::Null) => assert!(matches!(field, Some(None)), "{key} null"),
            Some(_) => assert!(matches!(field, Some(Some(_))), "{key} set"),
        }
    }
    layers(&body.channels, object, "channels");
    layers(&body.ip_allowlist, object, "ip_allowlist");
    layers(&body.expires_at, object, "expires_at");
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    assert_eq!(body.name.as_deref(), text("name"));
    assert_eq!(body.description.as_deref(), text("description"));
    assert_eq!(body.rate_limit_tier.as_deref(), text("rate_limit_tier"));
    assert_eq!(
        body.permissions.is_some(),
        object.get("permissions").is_some_and(|v| !v.is_null())
    );
}

/// `api::tokens::build` over the create base of an admin caller (nothing inherited), with
/// each validator's own properties checked on the way.
fn build(body: TokenBody) -> Result<TokenDraft, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match body.name {
        None => {
            add_error(&mut e, "name", "is required");
            None
        }
        Some(n) => name(&n).map_err(|m| add_error(&mut e, "name", m)).ok(),
    };
    let description = match body.description {
        None => String::new(),
        Some(d) => description(&d).unwrap_or_else(|m| {
            add_error(&mut e, "description", m);
            String::new()
        }),
    };
    let permissions = match body.permissions {
        None => {
            add_error(&mut e, "permissions", "is required");
            None
        }
        Some(p) => permissions(&p)
            .map_err(|ms| {
                ms.into_iter()
                    .for_each(|m| add_error(&mut e, "permissions", m))
            })
            .ok(),
    };
    let channels = match body.channels {
        None | Some(None) => None,
        Some(Some(list)) if list.is_empty() => {
            add_error(&mut e, "channels", "must list at least one channel id");
            None
        }
        Some(Some(mut list)) => {
            let before = list.clone();
            list.sort();
            list.dedup();
            assert!(before.iter().all(|c| list.binary_search(c).is_ok()));
            Some(list)
        }
    };
    let ip_allowlist = match body.ip_allowlist {
        None | Some(None) => IpAllowlist::default(),
        Some(Some(list)) => allowlist(&list).unwrap_or_else(|ms| {
            ms.into_iter()
                .for_each(|m| add_error(&mut e, "ip_allowlist", m));
            IpAllowlist::default()
        }),
    };
    let expires_at = match body.expires_at {
        None | Some(None) => None,
        Some(Some(s)) => expiry(&s)
            .map_err(|m| add_error(&mut e, "expires_at", m))
            .ok(),
    };
    let tier = match body.rate_limit_tier {
        None => Tier::Standard,
        Some(t) => Tier::parse(&t).map_or_else(
            || {
                add_error(&mut e, "rate_limit_tier", "must be standard or admin");
                Tier::Standard
            },
            |tier| {
                assert_eq!(tier.code(), t);
                tier
            },
        ),
    };
    // Every reported problem has a message; a draft exists exactly when there is none.
    assert!(
        e.values()
            .all(|ms| !ms.is_empty() && ms.iter().all(|m| !m.is_empty()))
    );
    match (name, permissions) {
        (Some(name), Some(permissions)) if e.is_empty() => Ok(TokenDraft {
            name,
            description,
            permissions,
            channels,
            ip_allowlist,
            expires_at,
            tier,
        }),
        _ => {
            // A missing name or permission set always left a message behind.
            assert!(!e.is_empty());
            Err(e)
        }
    }
}

/// Names: the trimmed input, 1–100 characters, no control characters; idempotent.
fn name(s: &str) -> Result<TokenName, String> {
    let r = TokenName::parse(s);
    match &r {
        Ok(n) => {
            assert_eq!(n.as_str(), s.trim());
            assert!((1..=TokenName::MAX).contains(&n.as_str().chars().count()));
            assert!(!n.as_str().chars().any(char::is_control));
            assert_eq!(TokenName::parse(n.as_str()).as_ref(), Ok(n));
        }
        Err(m) => assert!(!m.is_empty()),
    }
    r
}

/// Descriptions: the trimmed input, at most 500 characters; idempotent.
fn description(s: &str) -> Result<String, String> {
    let r = parse_description(s);
    if let Ok(d) = &r {
        assert_eq!(d, s.trim());
        assert!(d.chars().count() <= 500);
        assert_eq!(parse_description(d).as_ref(), Ok(d));
    }
    r
}

/// Permissions: a non-empty subset of the catalog holding every requested code; the stored
/// form reads back to the same set.
fn permissions(codes: &[String]) -> Result<PermissionSet, Vec<String>> {
    let catalog = Catalog::default();
    let r = catalog.parse_set(codes.iter().map(String::as_str));
    match &r {
        Ok(set) => {
            assert!(!set.is_empty());
            assert!(set.iter().all(|c| catalog.contains(c)));
            let wanted = codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty());
            assert!(
                wanted
                    .clone()
                    .all(|c| set.allows(c) && set.iter().any(|s| s == c))
            );
            assert_eq!(&PermissionSet::from_stored(&set.to_stored()), set);
            assert!(set.within(set));
        }
        Err(ms) => assert!(!ms.is_empty()),
    }
    r
}

/// IP allowlists: the stored form reads back, and re-parsing the shown entries is stable.
fn allowlist(lines: &[String]) -> Result<IpAllowlist, Vec<String>> {
    let r = IpAllowlist::parse_lines(lines.iter().map(String::as_str));
    match &r {
        Ok(list) => {
            assert_eq!(&IpAllowlist::from_stored(&list.to_stored()), list);
            let shown: Vec<String> = list.entries().collect();
            let again = IpAllowlist::parse_lines(shown.iter().map(String::as_str));
            assert_eq!(again.as_ref(), Ok(list));
        }
        Err(ms) => assert!(!ms.is_empty()),
    }
    r
}

/// Expiry: strictly in the future, and shown as RFC 3339 UTC that parses to the same second.
fn expiry(s: &str) -> Result<i64, String> {
    let r = parse_expires_at(s, NOW);
    if let Ok(t) = r {
        assert!(t > NOW);
        let shown = rfc3339(t);
        assert_eq!(
            parse_expires_at(&shown, NOW),
            Ok(t),
            "{s:?} shown as {shown:?}"
        );
    }
    r
}

/// The verify handler wraps the presented token as `Bearer <token>`: the outcome is exactly
/// `Secret::parse` of the trimmed token, and never "missing".
fn verify(body: &VerifyBody) {
    let presented = format!("Bearer {}", body.token.trim());
    let parsed = parse_authorization(Some(presented.as_bytes()));
    let direct = Secret::parse(body.token.trim()).ok_or(BearerError::InvalidToken);
    assert_eq!(parsed, direct);
    if let Some(ip) = body.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let _ = ip.parse::<std::net::IpAddr>();
    }
}
