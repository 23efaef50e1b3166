//! How the audit log describes a token change: a new token's fields, an edit field by field.

use crate::db::tokens::Token;
use crate::domain::token::{TokenDraft, rfc3339};

pub(super) fn summary(d: &TokenDraft) -> String {
    let channels = match &d.channels {
        None => "all".to_owned(),
        Some(ids) => format!("[{}]", ids.join(", ")),
    };
    let ips = if d.ip_allowlist.is_empty() {
        "any".to_owned()
    } else {
        d.ip_allowlist.entries().collect::<Vec<_>>().join(", ")
    };
    let expires = d.expires_at.map_or("never".to_owned(), rfc3339);
    format!(
        "permissions: {}; channels: {channels}; ip_allowlist: {ips}; expires_at: {expires}; {}",
        d.permissions.to_stored(),
        d.rate.describe()
    )
}

/// Describes what an edit changed, field by field.
pub(super) fn diff(old: &Token, new: &TokenDraft) -> String {
    let mut parts = Vec::new();
    if old.name != new.name.as_str() {
        parts.push(format!("name: “{}” → “{}”", old.name, new.name.as_str()));
    }
    if old.description != new.description {
        parts.push("description changed".to_owned());
    }
    if old.permissions != new.permissions {
        let added: Vec<_> = new
            .permissions
            .iter()
            .filter(|p| !old.permissions.iter().any(|o| o == *p))
            .collect();
        let removed: Vec<_> = old
            .permissions
            .iter()
            .filter(|p| !new.permissions.iter().any(|n| n == *p))
            .collect();
        parts.push(format!(
            "permissions: +[{}] −[{}]",
            added.join(", "),
            removed.join(", ")
        ));
    }
    if old.channel_ids() != new.channels {
        parts.push(match &new.channels {
            None => "channels: all".to_owned(),
            Some(ids) => format!("channels: [{}]", ids.join(", ")),
        });
    }
    if old.ip_allowlist != new.ip_allowlist {
        parts.push(format!(
            "ip_allowlist: [{}]",
            new.ip_allowlist.entries().collect::<Vec<_>>().join(", ")
        ));
    }
    if old.expires_at != new.expires_at {
        parts.push(format!(
            "expires_at: {}",
            new.expires_at.map_or("never".to_owned(), rfc3339)
        ));
    }
    if old.rate != new.rate {
        parts.push(format!("{} → {}", old.rate.describe(), new.rate.describe()));
    }
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join("; ")
    }
}
