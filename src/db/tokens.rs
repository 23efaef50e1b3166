//! Tokens: create, read, list (keyset pages), edit, revoke, reactivate, regenerate, delete.

use serde::Serialize;
use sqlx::SqliteConnection;

use super::Db;
use crate::domain::actor::Actor;
use crate::domain::grant::{Shape, TierLimits};
use crate::domain::ip::IpAllowlist;
use crate::domain::permissions::PermissionSet;
use crate::domain::secret::SecretHash;
use crate::domain::status::{EXPIRING_SOON_SECS, Status};
use crate::domain::token::{Tier, TokenDraft};
use crate::domain::{ids::new_id, now};

/// A stored token (never the secret).
#[derive(Clone, Debug)]
pub struct Token {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub hint: String,
    pub permissions: PermissionSet,
    /// `None` = all channels; `Some` = only these (id, name), possibly none left.
    pub channels: Option<Vec<ChannelRef>>,
    pub ip_allowlist: IpAllowlist,
    pub tier: Tier,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub created_by: Actor,
    pub request_count: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
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
            tier: self.tier,
        }
    }

    /// The token as the grant rule sees it.
    pub fn shape(&self, tiers: TierLimits) -> Shape<'_> {
        Shape {
            permissions: &self.permissions,
            channels: self
                .channels
                .as_ref()
                .map(|cs| cs.iter().map(|c| c.id.as_str()).collect()),
            expires_at: self.expires_at,
            ip_allowlist: &self.ip_allowlist,
            per_hour: tiers.per_hour(self.tier),
        }
    }

    /// Channel ids in scope, `None` = all.
    pub fn channel_ids(&self) -> Option<Vec<String>> {
        self.channels
            .as_ref()
            .map(|cs| cs.iter().map(|c| c.id.clone()).collect())
    }
}

struct Row {
    id: String,
    workspace_id: String,
    name: String,
    description: String,
    hint: String,
    permissions: String,
    channel_scoped: i64,
    ip_allowlist: String,
    rate_limit_tier: String,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
    created_by_type: String,
    created_by_id: Option<String>,
    created_by_name: String,
    request_count: i64,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
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
            tier: Tier::parse(&self.rate_limit_tier).unwrap_or_default(),
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
        }
    }
}

/// Scoped channels of many tokens at once: (token_id, channel).
async fn channels_of(
    conn: &mut SqliteConnection,
    token_ids: &[&str],
) -> Result<Vec<(String, ChannelRef)>, sqlx::Error> {
    if token_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(token_ids).unwrap_or_default();
    let rows = sqlx::query!(
        r#"SELECT tc.token_id AS "token_id!", c.id AS "id!", c.name AS "name!"
           FROM token_channels tc JOIN channels c ON c.id = tc.channel_id
           WHERE tc.token_id IN (SELECT value FROM json_each(?))
           ORDER BY c.name COLLATE NOCASE"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.token_id,
                ChannelRef {
                    id: r.id,
                    name: r.name,
                },
            )
        })
        .collect())
}

async fn attach(conn: &mut SqliteConnection, rows: Vec<Row>) -> Result<Vec<Token>, sqlx::Error> {
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

/// One token of a workspace.
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Token>, sqlx::Error> {
    get_in(&mut *db.acquire().await?, workspace_id, id).await
}

/// One token of a workspace, read on `conn` (inside a write transaction: the row that
/// transaction is about to change, so checks on it cannot go stale before the write).
pub async fn get_in(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Token>, sqlx::Error> {
    let row = sqlx::query_as!(
        Row,
        "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip
         FROM tokens WHERE workspace_id = ? AND id = ?",
        workspace_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok(attach(conn, vec![r]).await?.pop()),
        None => Ok(None),
    }
}

/// A token by the hash of its secret (the bearer lookup; one indexed read).
pub async fn by_hash(db: &Db, hash: &SecretHash) -> Result<Option<Token>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let h = hash.0.as_slice();
    let row = sqlx::query_as!(
        Row,
        "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip
         FROM tokens WHERE secret_hash = ?",
        h
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok(attach(&mut conn, vec![r]).await?.pop()),
        None => Ok(None),
    }
}

/// Filters of the token list.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub search: String,
    /// Keyset cursor: the last row of the previous page, `(created_at, id)`.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A page of a workspace's tokens, newest first; fetches `limit + 1` to tell if more exist.
pub async fn list(
    db: &Db,
    workspace_id: &str,
    q: &ListQuery,
) -> Result<(Vec<Token>, bool), sqlx::Error> {
    let mut conn = db.acquire().await?;
    let now = now();
    let soon = now + EXPIRING_SOON_SECS;
    let status = q.status.map_or("all", Status::code);
    let search = escape_like(q.search.trim());
    let (after_at, after_id) = q
        .after
        .clone()
        .map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let limit = q.limit + 1;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip
           FROM tokens
           WHERE workspace_id = ?1
             AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))
             AND (?4 = '' OR name LIKE '%' || ?4 || '%' ESCAPE '\')
             AND (?5 = 'all'
               OR (?5 = 'revoked' AND revoked_at IS NOT NULL)
               OR (?5 = 'expired' AND revoked_at IS NULL AND expires_at <= ?6)
               OR (?5 = 'expiring_soon' AND revoked_at IS NULL AND expires_at > ?6 AND expires_at <= ?7)
               OR (?5 = 'active' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?7)))
           ORDER BY created_at DESC, id DESC
           LIMIT ?8"#,
        workspace_id,
        after_at,
        after_id,
        search,
        status,
        now,
        soon,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() as i64 > q.limit;
    let rows = rows.into_iter().take(q.limit as usize).collect();
    Ok((attach(&mut conn, rows).await?, more))
}

/// How many tokens a workspace has (to tell "no tokens yet" from "no match").
pub async fn count(db: &Db, workspace_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT COUNT(*) FROM tokens WHERE workspace_id = ?",
        workspace_id
    )
    .fetch_one(db)
    .await
}

/// Inserts a token; `draft.channels` ids must already be checked to belong to the workspace.
pub async fn insert(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    draft: &TokenDraft,
    hash: &SecretHash,
    hint: &str,
    by: &Actor,
) -> Result<String, sqlx::Error> {
    let id = new_id("tok");
    let at = now();
    let h = hash.0.as_slice();
    let perms = draft.permissions.to_stored();
    let scoped = i64::from(draft.channels.is_some());
    let ips = draft.ip_allowlist.to_stored();
    let tier = draft.tier.code();
    let name = draft.name.as_str();
    sqlx::query!(
        "INSERT INTO tokens (id, workspace_id, name, description, secret_hash, hint, permissions,
                             channel_scoped, ip_allowlist, rate_limit_tier, expires_at, created_at,
                             updated_at, created_by_type, created_by_id, created_by_name)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        id,
        workspace_id,
        name,
        draft.description,
        h,
        hint,
        perms,
        scoped,
        ips,
        tier,
        draft.expires_at,
        at,
        at,
        by.kind,
        by.id,
        by.name
    )
    .execute(&mut *conn)
    .await?;
    set_channels(conn, &id, draft.channels.as_deref()).await?;
    Ok(id)
}

async fn set_channels(
    conn: &mut SqliteConnection,
    token_id: &str,
    channels: Option<&[String]>,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM token_channels WHERE token_id = ?", token_id)
        .execute(&mut *conn)
        .await?;
    for ch in channels.unwrap_or_default() {
        sqlx::query!(
            "INSERT INTO token_channels (token_id, channel_id) VALUES (?, ?)",
            token_id,
            ch
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces every editable field of a token.
pub async fn update(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    id: &str,
    draft: &TokenDraft,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let perms = draft.permissions.to_stored();
    let scoped = i64::from(draft.channels.is_some());
    let ips = draft.ip_allowlist.to_stored();
    let tier = draft.tier.code();
    let name = draft.name.as_str();
    let done = sqlx::query!(
        "UPDATE tokens SET name = ?, description = ?, permissions = ?, channel_scoped = ?,
                ip_allowlist = ?, rate_limit_tier = ?, expires_at = ?, updated_at = ?
         WHERE workspace_id = ? AND id = ?",
        name,
        draft.description,
        perms,
        scoped,
        ips,
        tier,
        draft.expires_at,
        at,
        workspace_id,
        id
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    set_channels(conn, id, draft.channels.as_deref()).await?;
    Ok(true)
}

pub async fn set_revoked(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    id: &str,
    revoked: bool,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let revoked_at = revoked.then_some(at);
    let done = sqlx::query!(
        "UPDATE tokens SET revoked_at = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        revoked_at,
        at,
        workspace_id,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_secret(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    id: &str,
    hash: &SecretHash,
    hint: &str,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let h = hash.0.as_slice();
    let done = sqlx::query!(
        "UPDATE tokens SET secret_hash = ?, hint = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        h,
        hint,
        at,
        workspace_id,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM tokens WHERE workspace_id = ? AND id = ?",
        workspace_id,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Which of `ids` are channels of the workspace (to validate a requested scope).
pub async fn existing_channels(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let json = serde_json::to_string(ids).unwrap_or_default();
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM channels WHERE workspace_id = ? AND id IN (SELECT value FROM json_each(?))"#,
        workspace_id,
        json
    )
    .fetch_all(conn)
    .await
}

/// The counter triggers move on every change a bearer check depends on (any process).
pub async fn epoch(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT value AS "value!" FROM meta WHERE key = 'token_epoch'"#)
        .fetch_one(db)
        .await
}
