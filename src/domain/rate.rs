//! Rate limits as policies (SPEC §7): a limit is N requests per window (second, minute, hour,
//! day); a token's limits are a named tier's or its own list, at most one limit per window.
//! Pure: parsing, the stored form, and the comparison the grant rule makes.

use serde::{Deserialize, Serialize};

/// The windows a limit may count over, shortest first.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Second,
    Minute,
    Hour,
    Day,
}

impl Window {
    pub const ALL: [Self; 4] = [Self::Second, Self::Minute, Self::Hour, Self::Day];

    pub fn secs(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.code() == s)
    }
}

/// One limit: `limit` requests per `per`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Limit {
    #[schema(example = 60, minimum = 1, maximum = 1_000_000_000)]
    pub limit: u32,
    pub per: Window,
}

/// Most requests a limit may allow per window.
pub const MAX_PER_WINDOW: u64 = 1_000_000_000;
/// Most limits in one list (one per window).
pub const MAX_LIMITS: usize = 4;

/// A list of limits, at most one per window: the count per window, 0 where none. Copy and
/// fixed-size, so the bearer path resolves a token's limits without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Limits([u32; 4]);

impl Limits {
    /// `n` per hour (the built-in tiers, a bare number in configuration).
    pub fn hourly(n: u32) -> Self {
        let mut l = Self::default();
        l.0[Window::Hour.index()] = n.max(1);
        l
    }

    /// The limits, shortest window first.
    pub fn iter(&self) -> impl Iterator<Item = Limit> + '_ {
        Window::ALL
            .into_iter()
            .filter(|w| self.0[w.index()] > 0)
            .map(|w| Limit {
                limit: self.0[w.index()],
                per: w,
            })
    }

    pub fn get(&self, w: Window) -> Option<u32> {
        Some(self.0[w.index()]).filter(|n| *n > 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().filter(|n| **n > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hourly limit, when the list has one (the token object's `per_hour`).
    pub fn per_hour(&self) -> Option<u32> {
        self.get(Window::Hour)
    }

    /// Checks a list as typed: 1–4 limits of 1–1,000,000,000, no window twice.
    pub fn from_list(list: &[(u64, &str)]) -> Result<Self, Vec<String>> {
        let mut out = Self::default();
        let mut errors = Vec::new();
        if list.is_empty() {
            errors.push("give at least one limit".to_owned());
        }
        if list.len() > MAX_LIMITS {
            errors.push(format!("at most {MAX_LIMITS} limits (one per window)"));
        }
        for &(n, per) in list {
            let Some(w) = Window::parse(per) else {
                errors.push(format!(
                    "`{per}` is not a window: use second, minute, hour or day"
                ));
                continue;
            };
            if !(1..=MAX_PER_WINDOW).contains(&n) {
                errors.push(format!(
                    "a limit must be 1 to 1,000,000,000 per {}",
                    w.code()
                ));
                continue;
            }
            if out.0[w.index()] > 0 {
                errors.push(format!("only one limit per {}", w.code()));
            }
            out.0[w.index()] = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Parses `60/minute,10000/day` (configuration, the CLI, the stored form); a bare
    /// number is per hour when `bare_hourly`.
    pub fn parse(s: &str, bare_hourly: bool) -> Result<Self, String> {
        let s = s.trim();
        if bare_hourly && let Ok(n) = s.parse::<u64>() {
            return Self::from_list(&[(n, "hour")]).map_err(|e| e.join("; "));
        }
        let mut list = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (n, per) = part
                .split_once('/')
                .ok_or_else(|| format!("`{part}` is not N/window, e.g. 60/minute"))?;
            let n = n
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("`{part}`: the limit must be a whole number"))?;
            list.push((n, per.trim()));
        }
        Self::from_list(&list).map_err(|e| e.join("; "))
    }

    /// The stored and configured form, `60/minute,10000/day`.
    pub fn to_stored(&self) -> String {
        self.iter()
            .map(|l| format!("{}/{}", l.limit, l.per.code()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The most requests the list lets through within one `w`: each limit caps it at its
    /// count times the number of its windows in `w` (at least one: a budget starts full, so
    /// a longer window's whole count may come within a shorter one).
    pub fn cap(&self, w: Window) -> u64 {
        self.iter()
            .map(|l| u64::from(l.limit) * (w.secs() / l.per.secs()).max(1))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether these limits allow no more than `other` on any window (the grant rule's
    /// comparison, SPEC §6).
    pub fn within(&self, other: &Self) -> bool {
        Window::ALL.into_iter().all(|w| self.cap(w) <= other.cap(w))
    }
}

/// A configured tier: a name and its limits (`--rate-limit-tier NAME=60/minute,10000/day`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierDef {
    pub name: String,
    pub limits: Limits,
}

impl TierDef {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, spec) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=N/window,…"))?;
        let name = name.trim();
        if !valid_tier_name(name) {
            return Err(format!(
                "tier name `{name}`: 1-32 characters of a-z, 0-9, _ and -"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            limits: Limits::parse(spec, true)?,
        })
    }
}

pub fn valid_tier_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A token's rate limit: a tier's (by name), or its own list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RatePolicy {
    Tier(String),
    Custom(Limits),
}

impl Default for RatePolicy {
    fn default() -> Self {
        Self::Tier(STANDARD.to_owned())
    }
}

impl RatePolicy {
    /// From the stored columns: the tier name, or the custom list.
    pub fn from_stored(tier: Option<&str>, limits: Option<&str>) -> Self {
        match (limits.map(|l| Limits::parse(l, false)), tier) {
            (Some(Ok(l)), _) => Self::Custom(l),
            (_, Some(t)) => Self::Tier(t.to_owned()),
            _ => Self::default(),
        }
    }

    pub fn tier(&self) -> Option<&str> {
        match self {
            Self::Tier(t) => Some(t),
            Self::Custom(_) => None,
        }
    }

    /// For the audit log: `tier: standard` or `rate_limit: 60/minute,10000/day`.
    pub fn describe(&self) -> String {
        match self {
            Self::Tier(t) => format!("tier: {t}"),
            Self::Custom(l) => format!("rate_limit: {}", l.to_stored()),
        }
    }

    /// The custom list in its stored form.
    pub fn custom_stored(&self) -> Option<String> {
        match self {
            Self::Tier(_) => None,
            Self::Custom(l) => Some(l.to_stored()),
        }
    }
}

pub const STANDARD: &str = "standard";
pub const ADMIN: &str = "admin";

/// The tiers of this installation: `standard` and `admin` (hourly figures of their own
/// flags) and the configured ones, which may also redefine those two.
#[derive(Clone, Debug)]
pub struct Tiers<'a> {
    pub standard: u32,
    pub admin: u32,
    pub configured: &'a [TierDef],
}

impl Tiers<'_> {
    pub fn get(&self, name: &str) -> Option<Limits> {
        if let Some(t) = self.configured.iter().rev().find(|t| t.name == name) {
            return Some(t.limits);
        }
        match name {
            STANDARD => Some(Limits::hourly(self.standard)),
            ADMIN => Some(Limits::hourly(self.admin)),
            _ => None,
        }
    }

    /// A policy's limits; a tier no longer configured falls back to `standard`'s.
    pub fn resolve(&self, policy: &RatePolicy) -> Limits {
        match policy {
            RatePolicy::Custom(l) => *l,
            RatePolicy::Tier(name) => self
                .get(name)
                .unwrap_or_else(|| self.get(STANDARD).unwrap_or(Limits::hourly(self.standard))),
        }
    }

    /// Every tier name, the built-in ones first.
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![STANDARD, ADMIN];
        for t in self.configured {
            if !names.contains(&t.name.as_str()) {
                names.push(&t.name);
            }
        }
        names
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_list_parses_and_prints_back_shortest_window_first() {
        let l = Limits::parse("10000/day, 60/minute", false).unwrap();
        assert_eq!(l.to_stored(), "60/minute,10000/day");
        assert_eq!(l.per_hour(), None);
        assert_eq!(Limits::parse("500", true).unwrap().per_hour(), Some(500));
        assert!(Limits::parse("500", false).is_err());
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        let e = |s| Limits::parse(s, false).unwrap_err();
        assert!(e("1/week").contains("not a window"), "{}", e("1/week"));
        assert!(e("0/second").contains("1 to 1,000,000,000"));
        assert!(e("1000000001/day").contains("1 to 1,000,000,000"));
        assert!(e("1/second,2/second").contains("only one limit per second"));
        assert!(e("1/second,1/minute,1/hour,1/day,1/second").contains("at most 4"));
        assert!(TierDef::parse("Gold=1/second").is_err());
        assert_eq!(
            TierDef::parse("free=60/minute,10000/day")
                .unwrap()
                .limits
                .len(),
            2
        );
    }

    #[test]
    fn within_compares_what_each_window_lets_through() {
        let standard = Limits::hourly(1000);
        let per_minute = Limits::parse("60/minute", false).unwrap();
        // 60 a minute is 3,600 an hour: more than 1,000 an hour.
        assert!(!per_minute.within(&standard));
        let tight = Limits::parse("10/second,500/hour", false).unwrap();
        assert!(tight.within(&standard));
        // 1,000 an hour may all come within one second: a per-second limit under it is
        // within, one over it is not.
        assert!(
            Limits::parse("5/second,1000/hour", false)
                .unwrap()
                .within(&standard)
        );
        assert!(
            !Limits::parse("2000/second", false)
                .unwrap()
                .within(&standard)
        );
        assert!(standard.within(&standard));
    }

    #[test]
    fn configured_tiers_override_and_unknown_tiers_fall_back_to_standard() {
        let defs = [TierDef::parse("standard=100/minute").unwrap()];
        let tiers = Tiers {
            standard: 1000,
            admin: 5000,
            configured: &defs,
        };
        assert_eq!(tiers.get(STANDARD).unwrap().to_stored(), "100/minute");
        assert_eq!(tiers.get(ADMIN), Some(Limits::hourly(5000)));
        let gone = RatePolicy::Tier("gold".into());
        assert_eq!(tiers.resolve(&gone).to_stored(), "100/minute");
    }
}
