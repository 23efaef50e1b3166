//! View models: a token as the pages show it.

use crate::db::tokens::{ChannelRef, Token};
use crate::domain::rate::Limits;
use crate::domain::status::Status;
use crate::web::format::{date, exact, relative, thousands};

/// A point in time as shown: relative text, exact UTC (hover) and ISO (`<time datetime>`).
pub struct When {
    pub rel: String,
    pub exact: String,
    pub iso: String,
}

impl When {
    pub fn new(unix: i64, now: i64) -> Self {
        Self {
            rel: relative(unix, now),
            exact: exact(unix),
            iso: crate::domain::token::rfc3339(unix),
        }
    }
}

/// A running overlap: the previous secret's hint and when it stops working.
pub struct OverlapView {
    pub hint: String,
    pub until: When,
}

pub struct TokenView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub hint: String,
    pub status: Status,
    pub permissions: Vec<String>,
    pub perms_summary: String,
    pub channels: Option<Vec<ChannelRef>>,
    pub channels_summary: String,
    pub ip_entries: Vec<String>,
    pub tier_label: String,
    /// The limits in force, `60 requests/minute · 10,000 requests/day`.
    pub limits: String,
    pub created: When,
    pub created_date: String,
    pub created_by: String,
    pub last_used: Option<When>,
    pub last_used_ip: String,
    pub requests: String,
    pub expires: Option<When>,
    pub overlap: Option<OverlapView>,
}

impl TokenView {
    pub fn new(t: &Token, now: i64, limits: &Limits) -> Self {
        let permissions: Vec<String> = t.permissions.iter().map(str::to_owned).collect();
        let perms_summary = match permissions.as_slice() {
            [one] => one.clone(),
            many => format!("{} permissions", many.len()),
        };
        let channels_summary = match &t.channels {
            None => "All".to_owned(),
            Some(cs) if cs.is_empty() => "None (channels removed)".to_owned(),
            Some(cs) if cs.len() <= 2 => cs
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Some(cs) => format!("{} channels", cs.len()),
        };
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            hint: t.hint.clone(),
            status: t.status(now),
            permissions,
            perms_summary,
            channels: t.channels.clone(),
            channels_summary,
            ip_entries: t.ip_allowlist.entries().collect(),
            tier_label: super::rate::label(&t.rate),
            limits: super::rate::summary(limits),
            created: When::new(t.created_at, now),
            created_date: date(t.created_at),
            created_by: t.created_by.name.clone(),
            last_used: t.last_used_at.map(|u| When::new(u, now)),
            last_used_ip: t.last_used_ip.clone().unwrap_or_default(),
            requests: thousands(t.request_count),
            expires: t.expires_at.map(|e| When::new(e, now)),
            overlap: t.overlap(now).map(|p| OverlapView {
                hint: p.hint.clone(),
                until: When::new(p.expires_at, now),
            }),
        }
    }

    /// The permissions as one line for a `title` attribute.
    pub fn perms_title(&self) -> String {
        self.permissions.join(", ")
    }
}
