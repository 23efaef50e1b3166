//! Token status, derived on read and never stored (SPEC §4).

use serde::Serialize;

/// Seven days: the "Expiring Soon" window.
pub const EXPIRING_SOON_SECS: i64 = 7 * 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    ExpiringSoon,
    Expired,
    Revoked,
}

impl Status {
    pub fn derive(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Self {
        match (revoked_at, expires_at) {
            (Some(_), _) => Self::Revoked,
            (None, Some(exp)) if exp <= now => Self::Expired,
            (None, Some(exp)) if exp <= now.saturating_add(EXPIRING_SOON_SECS) => {
                Self::ExpiringSoon
            }
            _ => Self::Active,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.code() == s)
    }

    pub const ALL: [Self; 4] = [
        Self::Active,
        Self::ExpiringSoon,
        Self::Expired,
        Self::Revoked,
    ];

    /// The API value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ExpiringSoon => "expiring_soon",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::ExpiringSoon => "Expiring Soon",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }

    /// A shape that differs per status, so the badge never relies on colour alone.
    pub fn icon(self) -> &'static str {
        match self {
            Self::Active => "●",
            Self::ExpiringSoon => "▲",
            Self::Expired => "○",
            Self::Revoked => "■",
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn revoked_wins_over_expiry() {
        assert_eq!(
            Status::derive(Some(1), Some(NOW - 10), NOW),
            Status::Revoked
        );
    }

    #[test]
    fn expiry_boundaries() {
        assert_eq!(Status::derive(None, Some(NOW), NOW), Status::Expired);
        assert_eq!(
            Status::derive(None, Some(NOW + 1), NOW),
            Status::ExpiringSoon
        );
        assert_eq!(
            Status::derive(None, Some(NOW + EXPIRING_SOON_SECS), NOW),
            Status::ExpiringSoon
        );
        assert_eq!(
            Status::derive(None, Some(NOW + EXPIRING_SOON_SECS + 1), NOW),
            Status::Active
        );
        assert_eq!(Status::derive(None, None, NOW), Status::Active);
    }

    /// Found by `status_follows_the_spec_rule`: `now + 7 days` overflowed near `i64::MAX`.
    #[test]
    fn expiry_window_does_not_overflow_at_the_end_of_time() {
        let now = i64::MAX - EXPIRING_SOON_SECS + 1;
        assert_eq!(
            Status::derive(None, Some(i64::MAX), now),
            Status::ExpiringSoon
        );
        assert_eq!(Status::derive(None, Some(0), i64::MAX), Status::Expired);
    }

    #[test]
    fn codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        assert_eq!(Status::parse("bogus"), None);
    }

    /// The rule of SPEC §4, written out independently of `derive`'s match.
    fn model(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Status {
        if revoked_at.is_some() {
            Status::Revoked
        } else if let Some(exp) = expires_at {
            if exp <= now {
                Status::Expired
            } else if i128::from(exp) - i128::from(now) <= i128::from(EXPIRING_SOON_SECS) {
                Status::ExpiringSoon
            } else {
                Status::Active
            }
        } else {
            Status::Active
        }
    }

    /// Any instant, with the extremes of `i64` (and the week below the top) drawn often,
    /// since a uniform draw practically never lands there.
    fn instant() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => any::<i64>(),
            1 => Just(i64::MIN),
            1 => Just(i64::MAX),
            1 => (i64::MAX - 2 * EXPIRING_SOON_SECS)..=i64::MAX,
        ]
    }

    proptest! {
        /// Revoked wins over everything: any revocation time, any expiry, any clock.
        #[test]
        fn revoked_wins_over_everything(
            revoked in instant(),
            expires in proptest::option::of(instant()),
            now in instant(),
        ) {
            prop_assert_eq!(Status::derive(Some(revoked), expires, now), Status::Revoked);
        }

        /// A token that never expires and is not revoked is active at every instant.
        #[test]
        fn never_expiring_tokens_stay_active(now in instant()) {
            prop_assert_eq!(Status::derive(None, None, now), Status::Active);
        }

        /// Not revoked: expired once `expires_at <= now`, expiring soon while it is at most
        /// seven days ahead, active before that; for all times, extremes included.
        #[test]
        fn status_follows_the_spec_rule(
            revoked in proptest::option::of(instant()),
            expires in proptest::option::of(instant()),
            now in instant(),
        ) {
            prop_assert_eq!(
                Status::derive(revoked, expires, now),
                model(revoked, expires, now)
            );
        }

        /// The same rule around the boundaries, where arbitrary pairs rarely land: expiry
        /// within a few seconds of `now` and of `now + 7 days`.
        #[test]
        fn boundaries_are_exact(
            now in -62_135_596_800i64..253_402_300_800,
            near_soon in any::<bool>(),
            delta in -3i64..=3,
        ) {
            let exp = now + delta + if near_soon { EXPIRING_SOON_SECS } else { 0 };
            let expected = match (near_soon, delta) {
                (false, d) if d <= 0 => Status::Expired,
                (false, _) | (true, ..=0) => Status::ExpiringSoon,
                (true, _) => Status::Active,
            };
            prop_assert_eq!(Status::derive(None, Some(exp), now), expected);
        }

        /// As the clock moves forward a token's status only moves forward too:
        /// active → expiring soon → expired, never back.
        #[test]
        fn status_never_moves_back_in_time(
            expires in proptest::option::of(instant()),
            now in instant(),
            later in instant(),
        ) {
            let (a, b) = (now.min(later), now.max(later));
            let rank = |s: Status| match s {
                Status::Active => 0,
                Status::ExpiringSoon => 1,
                Status::Expired => 2,
                Status::Revoked => 3,
            };
            prop_assert!(
                rank(Status::derive(None, expires, a)) <= rank(Status::derive(None, expires, b))
            );
        }
    }
}
