//! Writing tokens, each on the caller's transaction: insert, edit, revoke/reactivate, a new
//! secret, delete.

use sqlx::SqliteConnection;

use crate::domain::actor::Actor;
use crate::domain::secret::SecretHash;
use crate::domain::token::TokenDraft;
use crate::domain::{ids::new_id, now};

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
