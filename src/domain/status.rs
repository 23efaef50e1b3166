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
            (None, Some(exp)) if exp <= now + EXPIRING_SOON_SECS => Self::ExpiringSoon,
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

    #[test]
    fn codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        assert_eq!(Status::parse("bogus"), None);
    }
}
