//! Tokens: the stored token and its rows (`read`: get, look up by hash, list pages; `write`:
//! create, edit, revoke, reactivate, roll the secret, delete).

mod read;
mod write;

pub use read::*;
pub use write::*;

use super::{Conn, on};
use serde::Serialize;

use crate::domain::actor::Actor;
use crate::domain::grant::Shape;
use crate::domain::ip::IpAllowlist;
use crate::domain::permissions::PermissionSet;
use crate::domain::rate::{RatePolicy, Tiers};
use crate::domain::status::Status;
use crate::domain::token::TokenDraft;

/// A stored token (never the secret). In C layout, what the bearer check reads on every
/// request first: its state, its previous secret, its allowlist and permissions
/// (`bearer::cache::Entry` holds it after its own such fields).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Token {
    pub revoked_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// The previous secret during an overlap (SPEC §12): its hint, and when it stops working.
    pub previous: Option<Previous>,
    pub ip_allowlist: IpAllowlist,
    pub permissions: PermissionSet,
    /// `None` = all channels; `Some` = only these (id, name), possibly none left.
    pub channels: Option<Vec<ChannelRef>>,
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub hint: String,
    pub rate: RatePolicy,
    pub created_at: i64,
    pub created_by: Actor,
    pub request_count: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

/// A previous secret that authenticates as its token until `expires_at` (the row may keep
/// one whose time has passed: it no longer authenticates, and [`Token::overlap`] hides it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Previous {
    pub hint: String,
    pub expires_at: i64,
}

/// Which of a token's secrets a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    Current,
    Previous,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelRef {
    pub id: String,
    pub name: String,
}

/// A token's usage totals: request count, last use time and last client address.
pub type Usage = (i64, Option<i64>, Option<String>);

impl Token {
    pub fn usage(&self) -> Usage {
        (
            self.request_count,
            self.last_used_at,
            self.last_used_ip.clone(),
        )
    }

    /// The previous secret while it still works at `now`.
    pub fn overlap(&self, now: i64) -> Option<&Previous> {
        self.previous.as_ref().filter(|p| p.expires_at > now)
    }

    /// The hint of the secret a request used.
    pub fn hint_of(&self, used: Used) -> &str {
        match (used, &self.previous) {
            (Used::Previous, Some(p)) => &p.hint,
            _ => &self.hint,
        }
    }

    pub fn status(&self, now: i64) -> Status {
        Status::derive(self.revoked_at, self.expires_at, now)
    }

    /// The token's editable fields, as a draft an edit starts from.
    pub fn draft(&self) -> TokenDraft {
        TokenDraft {
            name: crate::domain::token::TokenName::from_stored(self.name.clone()),
            description: self.description.clone(),
            permissions: self.permissions.clone(),
            channels: self.channel_ids(),
            ip_allowlist: self.ip_allowlist.clone(),
            expires_at: self.expires_at,
            rate: self.rate.clone(),
        }
    }

    /// The token as the grant rule sees it.
    pub fn shape(&self, tiers: &Tiers<'_>) -> Shape<'_> {
        Shape {
            permissions: &self.permissions,
            channels: self
                .channels
                .as_ref()
                .map(|cs| cs.iter().map(|c| c.id.as_str()).collect()),
            expires_at: self.expires_at,
            ip_allowlist: &self.ip_allowlist,
            rate: tiers.resolve(&self.rate),
        }
    }

    /// Channel ids in scope, `None` = all.
    pub fn channel_ids(&self) -> Option<Vec<String>> {
        self.channels
            .as_ref()
            .map(|cs| cs.iter().map(|c| c.id.clone()).collect())
    }
}

pub(crate) struct Row {
    id: String,
    workspace_id: String,
    name: String,
    description: String,
    hint: String,
    permissions: String,
    channel_scoped: i64,
    ip_allowlist: String,
    rate_limit_tier: Option<String>,
    rate_limits: Option<String>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
    created_by_type: String,
    created_by_id: Option<String>,
    created_by_name: String,
    request_count: i64,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    previous_hint: Option<String>,
    previous_secret_expires_at: Option<i64>,
}

impl Row {
    fn into_token(self, channels: Option<Vec<ChannelRef>>) -> Token {
        Token {
            id: self.id,
            workspace_id: self.workspace_id,
            name: self.name,
            description: self.description,
            hint: self.hint,
            permissions: PermissionSet::from_stored(&self.permissions),
            channels: (self.channel_scoped != 0).then(|| channels.unwrap_or_default()),
            ip_allowlist: IpAllowlist::from_stored(&self.ip_allowlist),
            rate: RatePolicy::from_stored(
                self.rate_limit_tier.as_deref(),
                self.rate_limits.as_deref(),
            ),
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
            created_by: Actor {
                kind: self.created_by_type,
                id: self.created_by_id,
                name: self.created_by_name,
            },
            request_count: self.request_count,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip,
            previous: self
                .previous_hint
                .zip(self.previous_secret_expires_at)
                .map(|(hint, expires_at)| Previous { hint, expires_at }),
        }
    }
}

/// Scoped channels of many tokens at once: (token_id, channel).
pub(crate) async fn channels_of(
    conn: Conn<'_>,
    token_ids: &[&str],
) -> Result<Vec<(String, ChannelRef)>, sqlx::Error> {
    if token_ids.is_empty() {
        return Ok(Vec::new());
    }
    let links: Vec<(String, String, String)> = on!(conn, |c|
        sqlite: {
            let ids = serde_json::to_string(token_ids).unwrap_or_default();
            sqlx::query!(
                r#"SELECT tc.token_id AS "token_id!", c.id AS "id!", c.name AS "name!"
                   FROM token_channels tc JOIN channels c ON c.id = tc.channel_id
                   WHERE tc.token_id IN (SELECT value FROM json_each(?))
                   ORDER BY c.name COLLATE NOCASE"#,
                ids
            )
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(|r| (r.token_id, r.id, r.name))
            .collect()
        },
        postgres: {
            let ids: Vec<String> = token_ids.iter().map(|s| (*s).to_owned()).collect();
            sqlx::query!(
                r#"SELECT tc.token_id AS "token_id!", c.id AS "id!", c.name AS "name!"
                   FROM token_channels tc JOIN channels c ON c.id = tc.channel_id
                   WHERE tc.token_id = ANY($1)
                   ORDER BY lower(c.name) COLLATE "C""#,
                &ids
            )
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(|r| (r.token_id, r.id, r.name))
            .collect()
        },
    );
    Ok(links
        .into_iter()
        .map(|(token_id, id, name)| (token_id, ChannelRef { id, name }))
        .collect())
}

pub(crate) async fn attach(conn: Conn<'_>, rows: Vec<Row>) -> Result<Vec<Token>, sqlx::Error> {
    let scoped: Vec<&str> = rows
        .iter()
        .filter(|r| r.channel_scoped != 0)
        .map(|r| r.id.as_str())
        .collect();
    let mut links = channels_of(conn, &scoped).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = (r.channel_scoped != 0).then(|| {
                let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut links)
                    .into_iter()
                    .partition(|(t, _)| *t == r.id);
                links = rest;
                own.into_iter().map(|(_, c)| c).collect()
            });
            r.into_token(mine)
        })
        .collect())
}
