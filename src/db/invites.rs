//! Invitations to a workspace: one-time links valid for [`VALID_FOR`], kept as the SHA-256 of
//! their code. Accepting or revoking one deletes it, so a link works once at most.

use super::{Conn, Db, on};
use crate::domain::{ids::new_id, now};

/// An invitation link works this long.
pub const VALID_FOR: i64 = 7 * 24 * 60 * 60;

/// A pending invitation (never its code).
#[derive(Clone, Debug)]
pub struct Invite {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Records an invitation for `email` under `code_hash`; returns it.
pub async fn create(
    conn: Conn<'_>,
    workspace_id: &str,
    email: &str,
    code_hash: &str,
    invited_by: &str,
) -> Result<Invite, sqlx::Error> {
    let at = now();
    let i = Invite {
        id: new_id("inv"),
        workspace_id: workspace_id.to_owned(),
        email: email.to_owned(),
        invited_by: invited_by.to_owned(),
        created_at: at,
        expires_at: at + VALID_FOR,
    };
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO invites (id, workspace_id, email, code_hash, invited_by, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            i.id, i.workspace_id, i.email, code_hash, i.invited_by, i.created_at, i.expires_at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO invites (id, workspace_id, email, code_hash, invited_by, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            i.id, i.workspace_id, i.email, code_hash, i.invited_by, i.created_at, i.expires_at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(i)
}

/// A workspace's invitations that can still be accepted, oldest first.
pub async fn pending(db: &Db, workspace_id: &str, now: i64) -> Result<Vec<Invite>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Invite,
            "SELECT id, workspace_id, email, invited_by, created_at, expires_at FROM invites \
             WHERE workspace_id = ? AND expires_at > ? ORDER BY created_at, id",
            workspace_id, now
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Invite,
            "SELECT id, workspace_id, email, invited_by, created_at, expires_at FROM invites \
             WHERE workspace_id = $1 AND expires_at > $2 ORDER BY created_at, id",
            workspace_id, now
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// The unexpired invitation with this code hash.
pub async fn by_code(
    conn: Conn<'_>,
    code_hash: &str,
    now: i64,
) -> Result<Option<Invite>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(
            Invite,
            "SELECT id, workspace_id, email, invited_by, created_at, expires_at FROM invites \
             WHERE code_hash = ? AND expires_at > ?",
            code_hash, now
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Invite,
            "SELECT id, workspace_id, email, invited_by, created_at, expires_at FROM invites \
             WHERE code_hash = $1 AND expires_at > $2",
            code_hash, now
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Deletes one invitation of the workspace (revoked or used); `None` when there was none.
pub async fn take(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(
            "DELETE FROM invites WHERE workspace_id = ? AND id = ? RETURNING email",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            "DELETE FROM invites WHERE workspace_id = $1 AND id = $2 RETURNING email",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Deletes a workspace's invitations for `email` (a new one replaces them) and its expired
/// ones. Other workspaces' expired invitations go with the hourly [`prune`].
pub async fn delete_replaced(
    conn: Conn<'_>,
    workspace_id: &str,
    email: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query!(
            "DELETE FROM invites WHERE workspace_id = ? AND (email = ? OR expires_at <= ?)",
            workspace_id, email, now
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM invites WHERE workspace_id = $1 AND (email = $2 OR expires_at <= $3)",
            workspace_id, email, now
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

/// Deletes every invitation expired by `now`, in all workspaces (housekeeping: an expired
/// link is refused anyway). Returns how many went.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("DELETE FROM invites WHERE expires_at <= ?", now)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM invites WHERE expires_at <= $1", now)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    ))
}
