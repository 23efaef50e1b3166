//! Fuzzes the API's JSON request bodies: `TokenBody` (POST/PATCH /tokens) and `VerifyBody`
//! (POST /verify), then the one token validator the handlers, the dashboard and the CLI run
//! before writing (`domain::draft::validate`), checked against each field's validator.
#![no_main]

use keyward::api::model::TokenBody;
use keyward::api::verify::VerifyBody;
use keyward::bearer::parse_authorization;
use keyward::domain::draft::{DraftBase, validate};
use keyward::domain::ip::IpAllowlist;
use keyward::domain::permissions::{Catalog, PermissionSet};
use keyward::domain::secret::Secret;
use keyward::domain::rate::{Limits, Tiers};
use keyward::domain::token::{
    FieldErrors, TokenDraft, TokenName, parse_description, parse_expires_at, rfc3339,
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
        // struct from a positional array; see FUZZING.md) an array of all 8 fields.
        match &value {
            Some(Value::Object(object)) => shape(&body, object),
            Some(Value::Array(fields)) => assert_eq!(fields.len(), 8),
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

/// The one token validator (`domain::draft::validate`, which `api::tokens::build` calls) over
/// the create base of an admin caller (nothing inherited), checked field by field against each
/// field validator and its own properties.
fn build(body: TokenBody) -> Result<TokenDraft, FieldErrors> {
    let outcome = validate(
        body.clone().into_input(),
        DraftBase::default(),
        &Catalog::default(),
        &Tiers {
            standard: 1000,
            admin: 5000,
            configured: &[],
        },
        NOW,
    );
    let refused = |field: &str| {
        outcome
            .as_ref()
            .err()
            .is_some_and(|e| e.contains_key(field))
    };
    // Each field is refused exactly when its own validator refuses it (or it is required and
    // absent), and every refusal carries a message.
    let checks = [
        (
            "name",
            body.name.as_deref().map_or(true, |n| name(n).is_err()),
        ),
        (
            "description",
            body.description
                .as_deref()
                .is_some_and(|d| description(d).is_err()),
        ),
        (
            "permissions",
            body.permissions
                .as_deref()
                .map_or(true, |p| permissions(p).is_err()),
        ),
        (
            "channels",
            matches!(&body.channels, Some(Some(list)) if list.is_empty()),
        ),
        (
            "ip_allowlist",
            matches!(&body.ip_allowlist, Some(Some(l)) if allowlist(l).is_err()),
        ),
        (
            "expires_at",
            matches!(&body.expires_at, Some(Some(at)) if expiry(at).is_err()),
        ),
        (
            "rate_limit_tier",
            body.rate_limit.is_none()
                && body
                    .rate_limit_tier
                    .as_deref()
                    .is_some_and(|t| !["standard", "admin"].contains(&t)),
        ),
        (
            "rate_limit",
            body.rate_limit.as_ref().is_some_and(|r| {
                let list: Vec<(u64, &str)> =
                    r.limits.iter().map(|l| (l.count(), l.per.as_str())).collect();
                body.rate_limit_tier.is_some() || Limits::from_list(&list).is_err()
            }),
        ),
    ];
    for (field, bad) in checks {
        assert_eq!(refused(field), bad, "{field}");
    }
    if let Err(e) = &outcome {
        assert!(
            e.values()
                .all(|ms| !ms.is_empty() && ms.iter().all(|m| !m.is_empty()))
        );
    }
    if let Ok(draft) = &outcome {
        assert_eq!(
            Ok(&draft.name),
            body.name
                .as_deref()
                .map(name)
                .unwrap_or(Err(String::new()))
                .as_ref()
        );
        if let Some(Some(list)) = &body.channels {
            let scope = draft.channels.as_deref().unwrap_or_default();
            assert!(scope.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            assert!(list.iter().all(|c| scope.binary_search(c).is_ok()));
        }
        if let Some(t) = &body.rate_limit_tier {
            assert_eq!(draft.rate.tier(), Some(t.as_str()));
        }
        if body.rate_limit.is_some() {
            assert_eq!(draft.rate.tier(), None);
        }
    }
    outcome
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
