//! Writing tokens, each on the caller's transaction: insert, edit, revoke/reactivate, a new
//! secret (with or without an overlap), ending an overlap, delete.

use crate::db::{Conn, on};
use crate::domain::actor::Actor;
use crate::domain::secret::SecretHash;
use crate::domain::token::TokenDraft;
use crate::domain::{ids::new_id, now};

/// Inserts a token; `draft.channels` ids must already be checked to belong to the workspace.
pub async fn insert(
    mut conn: Conn<'_>,
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
    let tier = draft.rate.tier();
    let limits = draft.rate.custom_stored();
    let name = draft.name.as_str();
    on!(conn.re(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO tokens (id, workspace_id, name, description, secret_hash, hint, permissions,
                                 channel_scoped, ip_allowlist, rate_limit_tier, rate_limits, expires_at,
                                 created_at, updated_at, created_by_type, created_by_id,
                                 created_by_name)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            id, workspace_id, name, draft.description, h, hint, perms, scoped, ips, tier, limits,
            draft.expires_at, at, at, by.kind, by.id, by.name
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO tokens (id, workspace_id, name, description, secret_hash, hint, permissions,
                                 channel_scoped, ip_allowlist, rate_limit_tier, rate_limits, expires_at,
                                 created_at, updated_at, created_by_type, created_by_id,
                                 created_by_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            id, workspace_id, name, draft.description, h, hint, perms, scoped, ips, tier, limits,
            draft.expires_at, at, at, by.kind, by.id, by.name
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    set_channels(conn, &id, draft.channels.as_deref()).await?;
    Ok(id)
}

async fn set_channels(
    mut conn: Conn<'_>,
    token_id: &str,
    channels: Option<&[String]>,
) -> Result<(), sqlx::Error> {
    let channels = channels.unwrap_or_default();
    on!(conn.re(), |c|
        sqlite: {
            sqlx::query!("DELETE FROM token_channels WHERE token_id = ?", token_id)
                .execute(&mut *c)
                .await?;
            for ch in channels {
                sqlx::query!(
                    "INSERT INTO token_channels (token_id, channel_id) VALUES (?, ?)",
                    token_id,
                    ch
                )
                .execute(&mut *c)
                .await?;
            }
        },
        postgres: {
            sqlx::query!("DELETE FROM token_channels WHERE token_id = $1", token_id)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "INSERT INTO token_channels (token_id, channel_id) SELECT $1, unnest($2::TEXT[])",
                token_id,
                channels
            )
            .execute(&mut *c)
            .await?;
        },
    );
    Ok(())
}

/// Replaces every editable field of a token.
pub async fn update(
    mut conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
    draft: &TokenDraft,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let perms = draft.permissions.to_stored();
    let scoped = i64::from(draft.channels.is_some());
    let ips = draft.ip_allowlist.to_stored();
    let tier = draft.rate.tier();
    let limits = draft.rate.custom_stored();
    let name = draft.name.as_str();
    let done = on!(conn.re(), |c|
        sqlite: sqlx::query!(
            "UPDATE tokens SET name = ?, description = ?, permissions = ?, channel_scoped = ?,
                    ip_allowlist = ?, rate_limit_tier = ?, rate_limits = ?, expires_at = ?,
                    updated_at = ?
             WHERE workspace_id = ? AND id = ?",
            name, draft.description, perms, scoped, ips, tier, limits, draft.expires_at, at,
            workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE tokens SET name = $1, description = $2, permissions = $3, channel_scoped = $4,
                    ip_allowlist = $5, rate_limit_tier = $6, rate_limits = $7, expires_at = $8,
                    updated_at = $9
             WHERE workspace_id = $10 AND id = $11",
            name, draft.description, perms, scoped, ips, tier, limits, draft.expires_at, at,
            workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    if done == 0 {
        return Ok(false);
    }
    set_channels(conn, id, draft.channels.as_deref()).await?;
    Ok(true)
}

pub async fn set_revoked(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
    revoked: bool,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let revoked_at = revoked.then_some(at);
    let done = on!(conn, |c|
        sqlite: sqlx::query!(
            "UPDATE tokens SET revoked_at = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
            revoked_at, at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE tokens SET revoked_at = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4",
            revoked_at, at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

/// Gives a token a new secret. With `previous_until`, the secret it had until now keeps
/// working until that time (replacing any earlier previous secret, which stops at once);
/// without, it stops now. The UPDATE's right-hand sides read the row as it was.
pub async fn roll_secret(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
    hash: &SecretHash,
    hint: &str,
    previous_until: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let h = hash.0.as_slice();
    let done = on!(conn, |c|
        sqlite: sqlx::query!(
            "UPDATE tokens SET
                 previous_secret_hash = CASE WHEN ?1 IS NULL THEN NULL ELSE secret_hash END,
                 previous_hint = CASE WHEN ?1 IS NULL THEN NULL ELSE hint END,
                 previous_secret_expires_at = ?1,
                 secret_hash = ?2, hint = ?3, updated_at = ?4
             WHERE workspace_id = ?5 AND id = ?6",
            previous_until, h, hint, at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE tokens SET
                 previous_secret_hash = CASE WHEN $1::BIGINT IS NULL THEN NULL ELSE secret_hash END,
                 previous_hint = CASE WHEN $1::BIGINT IS NULL THEN NULL ELSE hint END,
                 previous_secret_expires_at = $1,
                 secret_hash = $2, hint = $3, updated_at = $4
             WHERE workspace_id = $5 AND id = $6",
            previous_until, h, hint, at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

/// Ends a token's overlap: its previous secret stops working now.
pub async fn end_overlap(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let done = on!(conn, |c|
        sqlite: sqlx::query!(
            "UPDATE tokens SET previous_secret_hash = NULL, previous_hint = NULL,
                 previous_secret_expires_at = NULL, updated_at = ?
             WHERE workspace_id = ? AND id = ? AND previous_secret_hash IS NOT NULL",
            at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE tokens SET previous_secret_hash = NULL, previous_hint = NULL,
                 previous_secret_expires_at = NULL, updated_at = $1
             WHERE workspace_id = $2 AND id = $3 AND previous_secret_hash IS NOT NULL",
            at, workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

pub async fn delete(conn: Conn<'_>, workspace_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = on!(conn, |c|
        sqlite: sqlx::query!(
            "DELETE FROM tokens WHERE workspace_id = ? AND id = ?",
            workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM tokens WHERE workspace_id = $1 AND id = $2",
            workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}
