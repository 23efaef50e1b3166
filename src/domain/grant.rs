//! The grant rule (SPEC §6), decided in one place for every face (API, dashboard, CLI): a
//! caller without `admin` may only create or shape tokens within its own grant, may only act
//! on tokens within its own permissions and channels, and may only hand out or revive a
//! credential (regenerate, roll, reactivate) whose whole shape lies within its own grant.
//! Pure: `ops` applies it inside the write transaction, on the rows it is about to change.

use super::ip::IpAllowlist;
use super::permissions::PermissionSet;
use super::rate::{Limits, Tiers};
use super::token::TokenDraft;

/// What a token may do, as far as granting is concerned.
#[derive(Clone, Debug)]
pub struct Shape<'a> {
    pub permissions: &'a PermissionSet,
    /// `None` = every channel; `Some(ids)` = only these (possibly none left).
    pub channels: Option<Vec<&'a str>>,
    pub expires_at: Option<i64>,
    pub ip_allowlist: &'a IpAllowlist,
    /// The token's rate limits, resolved.
    pub rate: Limits,
}

impl TokenDraft {
    /// The draft as the grant rule sees it.
    pub fn shape(&self, tiers: &Tiers<'_>) -> Shape<'_> {
        Shape {
            permissions: &self.permissions,
            channels: self
                .channels
                .as_ref()
                .map(|ids| ids.iter().map(String::as_str).collect()),
            expires_at: self.expires_at,
            ip_allowlist: &self.ip_allowlist,
            rate: tiers.resolve(&self.rate),
        }
    }
}

/// Who grants: everything (a signed-in admin, the CLI, a token holding `admin`), or at most
/// what a token itself holds.
#[derive(Clone, Debug)]
pub enum Grant<'a> {
    Full,
    Within(Shape<'a>),
}

/// Which rule refused (the 403's detail names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Acting on a token whose permissions or channels exceed the caller's.
    Target,
    Permissions,
    Channels,
    Expiry,
    IpAllowlist,
    RateLimit,
    /// Raising a token's rate limit above what it has.
    RateLimitRaise,
}

impl Rule {
    pub fn detail(self) -> &'static str {
        match self {
            Self::Target => {
                "This token may only act on tokens whose permissions and channels are within its own."
            }
            Self::Permissions => "This token may not grant permissions it does not hold itself.",
            Self::Channels => "This token may not grant channels outside its own channel scope.",
            Self::Expiry => {
                "This token may not grant a later expiry than its own (or none while it expires)."
            }
            Self::IpAllowlist => {
                "This token may not grant an IP allowlist wider than its own allowlist."
            }
            Self::RateLimit => {
                "This token may not grant a higher rate limit than its own on any window (second, minute, hour, day); that needs `admin`."
            }
            Self::RateLimitRaise => {
                "Only a token with `admin` may raise a token's rate limit on any window, its own included."
            }
        }
    }
}

fn channels_within(inner: &Option<Vec<&str>>, outer: &Option<Vec<&str>>) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i.iter().all(|c| o.contains(c)),
    }
}

fn expiry_within(inner: Option<i64>, outer: Option<i64>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(mine), Some(theirs)) => theirs <= mine,
    }
}

impl Grant<'_> {
    /// The caller's own shape, when it is limited by one.
    fn own(&self) -> Option<&Shape<'_>> {
        match self {
            Self::Full => None,
            Self::Within(own) => Some(own),
        }
    }

    /// Every field of `target` within the caller's own grant.
    fn whole_within(&self, target: &Shape<'_>) -> Result<(), Rule> {
        let Some(own) = self.own() else {
            return Ok(());
        };
        let checks = [
            (
                target.permissions.within(own.permissions),
                Rule::Permissions,
            ),
            (
                channels_within(&target.channels, &own.channels),
                Rule::Channels,
            ),
            (
                expiry_within(target.expires_at, own.expires_at),
                Rule::Expiry,
            ),
            (
                target.ip_allowlist.within(own.ip_allowlist),
                Rule::IpAllowlist,
            ),
            (target.rate.within(&own.rate), Rule::RateLimit),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, rule)) => Err(rule),
            None => Ok(()),
        }
    }

    /// A new token with this shape.
    pub fn may_create(&self, new: &Shape<'_>) -> Result<(), Rule> {
        self.whole_within(new)
    }

    /// Revoke or delete: the target's permissions and channels within the caller's.
    pub fn may_act_on(&self, target: &Shape<'_>) -> Result<(), Rule> {
        let Some(own) = self.own() else {
            return Ok(());
        };
        if target.permissions.within(own.permissions)
            && channels_within(&target.channels, &own.channels)
        {
            Ok(())
        } else {
            Err(Rule::Target)
        }
    }

    /// An edit from `old` to `new`: may act on the old token, the new one lies within the
    /// caller's grant, and its rate limit is not raised.
    pub fn may_edit(&self, old: &Shape<'_>, new: &Shape<'_>) -> Result<(), Rule> {
        self.may_act_on(old)?;
        self.whole_within(new)?;
        if self.own().is_some() && !new.rate.within(&old.rate) {
            return Err(Rule::RateLimitRaise);
        }
        Ok(())
    }

    /// Regenerate, roll or reactivate: hands out or revives a credential, so the whole
    /// target must lie within the caller's grant.
    pub fn may_hand_out(&self, target: &Shape<'_>) -> Result<(), Rule> {
        self.may_act_on(target)?;
        self.whole_within(target)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shape<'a>(
        perms: &'a PermissionSet,
        ips: &'a IpAllowlist,
        channels: Option<Vec<&'a str>>,
        expires_at: Option<i64>,
        per_hour: u32,
    ) -> Shape<'a> {
        let rate = Limits::hourly(per_hour);
        Shape {
            permissions: perms,
            channels,
            expires_at,
            ip_allowlist: ips,
            rate,
        }
    }

    #[test]
    fn hand_out_needs_the_whole_target_within_the_callers_grant() {
        let writer = PermissionSet::from_stored("tokens:write");
        let one_ip = IpAllowlist::parse_lines(["10.0.0.1"]).unwrap();
        let any_ip = IpAllowlist::default();
        let caller = Grant::Within(shape(&writer, &one_ip, None, Some(1_000), 1000));
        // Same permissions, but no allowlist and no expiry: the review's escalation.
        let wide = shape(&writer, &any_ip, None, None, 1000);
        assert_eq!(caller.may_act_on(&wide), Ok(()));
        assert_eq!(caller.may_hand_out(&wide), Err(Rule::Expiry));
        let no_expiry_only = shape(&writer, &one_ip, None, None, 1000);
        assert_eq!(caller.may_hand_out(&no_expiry_only), Err(Rule::Expiry));
        let open_ips = shape(&writer, &any_ip, None, Some(500), 1000);
        assert_eq!(caller.may_hand_out(&open_ips), Err(Rule::IpAllowlist));
        let faster = shape(&writer, &one_ip, None, Some(500), 5000);
        assert_eq!(caller.may_hand_out(&faster), Err(Rule::RateLimit));
        let inside = shape(&writer, &one_ip, None, Some(500), 1000);
        assert_eq!(caller.may_hand_out(&inside), Ok(()));
        assert_eq!(Grant::Full.may_hand_out(&wide), Ok(()));
    }

    #[test]
    fn nobody_without_admin_raises_a_rate_limit() {
        let writer = PermissionSet::from_stored("tokens:write");
        let ips = IpAllowlist::default();
        let caller = Grant::Within(shape(&writer, &ips, None, None, 5000));
        let old = shape(&writer, &ips, None, None, 1000);
        let raised = shape(&writer, &ips, None, None, 5000);
        assert_eq!(caller.may_edit(&old, &raised), Err(Rule::RateLimitRaise));
        assert_eq!(caller.may_edit(&raised, &old), Ok(()));
        assert_eq!(Grant::Full.may_edit(&old, &raised), Ok(()));
        let slow_caller = Grant::Within(shape(&writer, &ips, None, None, 1000));
        assert_eq!(slow_caller.may_create(&raised), Err(Rule::RateLimit));
    }

    #[test]
    fn a_custom_list_is_compared_window_by_window() {
        let writer = PermissionSet::from_stored("tokens:write");
        let ips = IpAllowlist::default();
        let caller = Grant::Within(shape(&writer, &ips, None, None, 1000));
        let per_minute = |spec| Shape {
            rate: Limits::parse(spec, false).unwrap(),
            ..shape(&writer, &ips, None, None, 1)
        };
        // 60 a minute lets 3,600 through in an hour: over the caller's 1,000.
        assert_eq!(
            caller.may_create(&per_minute("60/minute")),
            Err(Rule::RateLimit)
        );
        assert_eq!(caller.may_create(&per_minute("60/minute,900/hour")), Ok(()));
        let old = per_minute("3/second,5/minute");
        let raised = per_minute("3/second,6/minute");
        assert_eq!(caller.may_edit(&old, &raised), Err(Rule::RateLimitRaise));
        assert_eq!(caller.may_edit(&raised, &old), Ok(()));
    }

    #[test]
    fn channels_and_permissions_stay_within() {
        let small = PermissionSet::from_stored("chats:read tokens:write");
        let big = PermissionSet::from_stored("chats:read messages:send tokens:write");
        let ips = IpAllowlist::default();
        let caller = Grant::Within(shape(&small, &ips, Some(vec!["ch_a"]), None, 1000));
        let more_perms = shape(&big, &ips, Some(vec!["ch_a"]), None, 1000);
        assert_eq!(caller.may_create(&more_perms), Err(Rule::Permissions));
        assert_eq!(caller.may_act_on(&more_perms), Err(Rule::Target));
        let all_channels = shape(&small, &ips, None, None, 1000);
        assert_eq!(caller.may_create(&all_channels), Err(Rule::Channels));
        let other = shape(&small, &ips, Some(vec!["ch_b"]), None, 1000);
        assert_eq!(caller.may_create(&other), Err(Rule::Channels));
        let same = shape(&small, &ips, Some(vec!["ch_a"]), None, 1000);
        assert_eq!(caller.may_create(&same), Ok(()));
    }
}
