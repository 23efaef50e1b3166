//! Every token input — an API body, the dashboard form, the CLI's flags, the fuzz target —
//! becomes a [`TokenDraft`] here: one validator, one message per bad field, all fields checked
//! at once. A field left out keeps the base's value (the token's own on an edit; defaults, or
//! the creating token's scope, on a create).

use super::ip::IpAllowlist;
use super::permissions::{Catalog, PermissionSet};
use super::rate::{Limits, RatePolicy, Tiers};
use super::token::{
    ChannelScope, FieldErrors, TokenDraft, TokenName, add_error, channel_list, parse_description,
    parse_expires_at, parse_expiry_choice,
};

/// An expiry as each face offers it.
#[derive(Clone, Debug, Default)]
pub enum ExpiryInput {
    /// Keep the base's expiry.
    #[default]
    Keep,
    Never,
    /// RFC 3339, in the future (API).
    At(String),
    /// A preset (`none`, `7`, `30`, `60`, `90`) or `custom` with a date (dashboard).
    Choice {
        choice: String,
        date: String,
    },
    /// Days from now (CLI; its range is checked by the argument parser).
    InDays(i64),
}

/// Token fields as typed; `None` keeps the base's value.
#[derive(Clone, Debug, Default)]
pub struct DraftInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// `Some(None)` = every channel, `Some(Some(ids))` = these (at least one).
    pub channels: Option<ChannelScope>,
    /// Lines of addresses and CIDRs; blank lines are ignored, none = any address.
    pub ip_allowlist: Option<Vec<String>>,
    pub expiry: ExpiryInput,
    pub rate: Option<RateInput>,
}

/// A rate limit as typed: a tier's name, or the token's own limits (count, window).
#[derive(Clone, Debug)]
pub enum RateInput {
    Tier(String),
    Limits(Vec<(u64, String)>),
    /// Both a tier and limits were given (a 422).
    Both,
}

/// What fields left out fall back to.
#[derive(Clone, Debug, Default)]
pub struct DraftBase {
    pub name: Option<TokenName>,
    pub description: String,
    pub permissions: Option<PermissionSet>,
    pub channels: ChannelScope,
    pub ip_allowlist: IpAllowlist,
    pub expires_at: Option<i64>,
    pub rate: RatePolicy,
}

impl From<TokenDraft> for DraftBase {
    fn from(d: TokenDraft) -> Self {
        Self {
            name: Some(d.name),
            description: d.description,
            permissions: Some(d.permissions),
            channels: d.channels,
            ip_allowlist: d.ip_allowlist,
            expires_at: d.expires_at,
            rate: d.rate,
        }
    }
}

/// Validates `input` over `base`; every problem is reported, per field.
pub fn validate(
    input: DraftInput,
    base: DraftBase,
    catalog: &Catalog,
    tiers: &Tiers<'_>,
    now: i64,
) -> Result<TokenDraft, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = field(&mut e, "name", name(input.name, base.name));
    let description = field(
        &mut e,
        "description",
        description(input.description, base.description),
    );
    let permissions = field(
        &mut e,
        "permissions",
        permissions(input.permissions, base.permissions, catalog),
    );
    let channels = field(&mut e, "channels", channels(input.channels, base.channels));
    let ip_allowlist = field(
        &mut e,
        "ip_allowlist",
        ip_allowlist(input.ip_allowlist, base.ip_allowlist),
    );
    let expires_at = field(
        &mut e,
        "expires_at",
        expiry(input.expiry, base.expires_at, now),
    );
    let (rate_field, rate) = rate(input.rate, base.rate, tiers);
    let rate = field(&mut e, rate_field, rate);
    // Every field is `Some` exactly when it had no message.
    let draft = (|| {
        Some(TokenDraft {
            name: name?,
            description: description?,
            permissions: permissions?,
            channels: channels?,
            ip_allowlist: ip_allowlist?,
            expires_at: expires_at?,
            rate: rate?,
        })
    })();
    draft.ok_or(e)
}

/// Records a field's messages; its value when it had none.
fn field<T>(errors: &mut FieldErrors, name: &str, r: Result<T, Vec<String>>) -> Option<T> {
    r.map_err(|ms| ms.into_iter().for_each(|m| add_error(errors, name, m)))
        .ok()
}

fn one(message: impl Into<String>) -> Vec<String> {
    vec![message.into()]
}

fn name(input: Option<String>, base: Option<TokenName>) -> Result<TokenName, Vec<String>> {
    match (input, base) {
        (Some(n), _) => TokenName::parse(&n).map_err(one),
        (None, Some(base)) => Ok(base),
        (None, None) => Err(one("Name is required")),
    }
}

fn description(input: Option<String>, base: String) -> Result<String, Vec<String>> {
    input.map_or(Ok(base), |d| parse_description(&d).map_err(one))
}

fn permissions(
    input: Option<Vec<String>>,
    base: Option<PermissionSet>,
    catalog: &Catalog,
) -> Result<PermissionSet, Vec<String>> {
    match (input, base) {
        (Some(codes), _) => catalog.parse_set(codes.iter().map(String::as_str)),
        (None, Some(base)) => Ok(base),
        (None, None) => Err(one("choose at least one permission")),
    }
}

fn channels(input: Option<ChannelScope>, base: ChannelScope) -> Result<ChannelScope, Vec<String>> {
    match input {
        None => Ok(base),
        Some(None) => Ok(None),
        Some(Some(ids)) => {
            let ids = channel_list(ids);
            if ids.is_empty() {
                Err(one(
                    "Choose at least one channel, or allow all channels (`null` in the API)",
                ))
            } else {
                Ok(Some(ids))
            }
        }
    }
}

fn ip_allowlist(input: Option<Vec<String>>, base: IpAllowlist) -> Result<IpAllowlist, Vec<String>> {
    match input {
        None => Ok(base),
        Some(lines) => IpAllowlist::parse_lines(lines.iter().map(String::as_str)),
    }
}

fn expiry(input: ExpiryInput, base: Option<i64>, now: i64) -> Result<Option<i64>, Vec<String>> {
    match input {
        ExpiryInput::Keep => Ok(base),
        ExpiryInput::Never => Ok(None),
        ExpiryInput::At(s) => parse_expires_at(&s, now).map(Some).map_err(one),
        ExpiryInput::Choice { choice, date } => {
            parse_expiry_choice(&choice, &date, now).map_err(one)
        }
        ExpiryInput::InDays(days) => Ok(Some(now + days * 86_400)),
    }
}

/// The rate limit, and the field a problem with it is reported under.
fn rate(
    input: Option<RateInput>,
    base: RatePolicy,
    tiers: &Tiers<'_>,
) -> (&'static str, Result<RatePolicy, Vec<String>>) {
    match input {
        None => ("rate_limit_tier", Ok(base)),
        Some(RateInput::Tier(t)) => match tiers.get(&t) {
            Some(_) => ("rate_limit_tier", Ok(RatePolicy::Tier(t))),
            None => (
                "rate_limit_tier",
                Err(one(format!("must be one of: {}", tiers.names().join(", ")))),
            ),
        },
        Some(RateInput::Both) => (
            "rate_limit",
            Err(one("give `rate_limit_tier` or `rate_limit`, not both")),
        ),
        Some(RateInput::Limits(list)) => {
            let list: Vec<(u64, &str)> = list.iter().map(|(n, w)| (*n, w.as_str())).collect();
            (
                "rate_limit",
                Limits::from_list(&list).map(RatePolicy::Custom),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn tiers() -> Tiers<'static> {
        Tiers {
            standard: 1000,
            admin: 5000,
            configured: &[],
        }
    }

    #[test]
    fn custom_limits_are_checked_and_reported_under_rate_limit() {
        let catalog = Catalog::default();
        let limits = |list: &[(u64, &str)]| DraftInput {
            rate: Some(RateInput::Limits(
                list.iter().map(|(n, w)| (*n, (*w).to_owned())).collect(),
            )),
            ..input()
        };
        let ok = validate(
            limits(&[(3, "second"), (5, "minute")]),
            DraftBase::default(),
            &catalog,
            &tiers(),
            NOW,
        );
        assert_eq!(
            ok.map(|d| d.rate).map_err(|e| format!("{e:?}")),
            Ok(RatePolicy::Custom(
                Limits::parse("3/second,5/minute", false).unwrap_or_default()
            ))
        );
        let twice = validate(
            limits(&[(3, "second"), (5, "second")]),
            DraftBase::default(),
            &catalog,
            &tiers(),
            NOW,
        );
        let errors = twice.err().unwrap_or_default();
        assert_eq!(
            errors.get("rate_limit").map(Vec::len),
            Some(1),
            "{errors:?}"
        );
    }

    fn input() -> DraftInput {
        DraftInput {
            name: Some(" CI deploy ".into()),
            permissions: Some(vec!["chats:read".into()]),
            ..DraftInput::default()
        }
    }

    #[test]
    fn absent_fields_keep_the_base_and_every_problem_is_reported() {
        let catalog = Catalog::default();
        let draft = validate(input(), DraftBase::default(), &catalog, &tiers(), NOW);
        let draft = draft.map_err(|e| format!("{e:?}"));
        assert_eq!(draft.as_ref().map(|d| d.name.as_str()), Ok("CI deploy"));
        let bad = DraftInput {
            name: Some(" ".into()),
            permissions: Some(vec!["nope".into()]),
            channels: Some(Some(Vec::new())),
            ip_allowlist: Some(vec!["x".into()]),
            expiry: ExpiryInput::At("2000-01-01T00:00:00Z".into()),
            rate: Some(RateInput::Tier("gold".into())),
            description: Some("d".repeat(501)),
        };
        let errors = validate(bad, DraftBase::default(), &catalog, &tiers(), NOW).err();
        let fields: Vec<_> = errors.iter().flat_map(|e| e.keys().cloned()).collect();
        assert_eq!(
            fields,
            [
                "channels",
                "description",
                "expires_at",
                "ip_allowlist",
                "name",
                "permissions",
                "rate_limit_tier"
            ]
        );
    }

    #[test]
    fn repeated_channels_are_one_and_keep_is_the_base_expiry() {
        let catalog = Catalog::default();
        let base = DraftBase {
            expires_at: Some(NOW + 60),
            ..DraftBase::default()
        };
        let twice = DraftInput {
            channels: Some(Some(vec!["ch_b".into(), "ch_a".into(), "ch_b".into()])),
            expiry: ExpiryInput::Keep,
            ..input()
        };
        let draft = validate(twice, base, &catalog, &tiers(), NOW).map_err(|e| format!("{e:?}"));
        assert_eq!(
            draft.as_ref().map(|d| d.channels.clone()),
            Ok(Some(vec!["ch_a".to_owned(), "ch_b".to_owned()]))
        );
        assert_eq!(draft.map(|d| d.expires_at), Ok(Some(NOW + 60)));
    }
}
