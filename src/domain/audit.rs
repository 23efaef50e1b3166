//! The audit log's kinds: an action is recorded as `kind.verb` (`member.invited`), and the
//! audit page filters by kind. A feature that records a new kind adds one line here.

/// Every kind, as the filter offers them: (kind, label).
pub const KINDS: &[(&str, &str)] = &[
    ("token", "Tokens"),
    ("member", "Members"),
    ("signin", "Sign-ins"),
    ("account", "Passwords"),
    ("channel", "Channels"),
    ("webhook", "Webhooks"),
];

/// The kind named in a filter, when it is one of [`KINDS`].
pub fn parse_kind(s: &str) -> Option<&'static str> {
    KINDS.iter().map(|(k, _)| *k).find(|k| *k == s)
}

/// The actions recorded outside token changes.
pub mod action {
    pub const SIGNIN_SUCCEEDED: &str = "signin.succeeded";
    pub const SIGNIN_FAILED: &str = "signin.failed";
    pub const PASSWORD_CHANGED: &str = "account.password_changed";
    pub const MEMBER_INVITED: &str = "member.invited";
    pub const INVITE_REVOKED: &str = "member.invite_revoked";
    pub const MEMBER_JOINED: &str = "member.joined";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const CHANNEL_ADDED: &str = "channel.added";
    pub const CHANNEL_REMOVED: &str = "channel.removed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_belongs_to_a_listed_kind() {
        use action::*;
        for a in [
            SIGNIN_SUCCEEDED,
            SIGNIN_FAILED,
            PASSWORD_CHANGED,
            MEMBER_INVITED,
            INVITE_REVOKED,
            MEMBER_JOINED,
            MEMBER_REMOVED,
            CHANNEL_ADDED,
            CHANNEL_REMOVED,
            "token.created",
        ] {
            let kind = a.split_once('.').map(|(k, _)| k).unwrap_or_default();
            assert_eq!(parse_kind(kind), Some(kind), "{a}");
        }
    }

    #[test]
    fn kinds_are_letters_only_and_unknown_ones_are_refused() {
        assert!(
            KINDS
                .iter()
                .all(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase()))
        );
        assert_eq!(parse_kind("member"), Some("member"));
        assert_eq!(parse_kind("%"), None);
        assert_eq!(parse_kind("Member"), None);
    }
}
