//! Admin and workspace fields: email, workspace name, channel name and kind.

/// The longest email address (RFC 5321's path limit less its angle brackets). Sign-in refuses
/// a longer one before any lookup, hashing or throttle entry.
pub const MAX_EMAIL: usize = 254;

/// A plausible email address, lower-cased: something@domain, no spaces, ≤ 254 characters.
pub fn parse_email(s: &str) -> Result<String, String> {
    let s = s.trim().to_lowercase();
    let valid = s.len() <= MAX_EMAIL
        && !s.chars().any(char::is_whitespace)
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(s)
    } else {
        Err("Enter an email address such as admin@example.com".into())
    }
}

/// A workspace name: 1–100 characters, with at least one letter or digit for its slug.
pub fn parse_workspace_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        Err("Workspace name is required".into())
    } else if s.chars().count() > 100 {
        Err("Workspace name must be at most 100 characters".into())
    } else if super::slug::slugify(s).is_empty() {
        Err("Workspace name needs at least one letter or digit (a-z, 0-9)".into())
    } else {
        Ok(s.to_owned())
    }
}

/// A channel name: 1–100 characters.
pub fn parse_channel_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    match s.chars().count() {
        0 => Err("Channel name is required".into()),
        n if n > 100 => Err("Channel name must be at most 100 characters".into()),
        _ => Ok(s.to_owned()),
    }
}

/// Channel kinds suggested in the dashboard; any `[a-z0-9_-]` word of 1–32 is accepted.
pub const CHANNEL_KINDS: [&str; 7] = [
    "whatsapp",
    "telegram",
    "sms",
    "email",
    "webchat",
    "instagram",
    "messenger",
];

pub fn parse_channel_kind(s: &str) -> Result<String, String> {
    let s = s.trim().to_lowercase();
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err("Kind must be a word of a-z, 0-9, _ or - (e.g. whatsapp)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            parse_email(" Admin@Acme.io ").ok().as_deref(),
            Some("admin@acme.io")
        );
        for bad in ["", "nobody", "a@b", "a b@c.d", "@c.d", "a@.cd"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn workspace_names_need_a_slug() {
        assert!(parse_workspace_name("Acme Inc.").is_ok());
        assert!(parse_workspace_name("---").is_err());
        assert!(parse_workspace_name("").is_err());
    }

    #[test]
    fn channel_kinds() {
        assert_eq!(
            parse_channel_kind("WhatsApp").ok().as_deref(),
            Some("whatsapp")
        );
        assert!(parse_channel_kind("two words").is_err());
    }
}
