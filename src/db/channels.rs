//! Channels: named resources of a workspace that tokens can be scoped to.

use serde::Serialize;

use super::Db;
use crate::domain::{ids::new_id, now};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at: i64,
}

pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Channel>, sqlx::Error> {
    sqlx::query_as!(
        Channel,
        "SELECT id, name, kind, created_at FROM channels WHERE workspace_id = ?
         ORDER BY name COLLATE NOCASE, id",
        workspace_id
    )
    .fetch_all(db)
    .await
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Channel>, sqlx::Error> {
    sqlx::query_as!(
        Channel,
        "SELECT id, name, kind, created_at FROM channels WHERE workspace_id = ? AND id = ?",
        workspace_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Adds a channel; a duplicate name in the workspace is a unique violation.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    name: &str,
    kind: &str,
) -> Result<Channel, sqlx::Error> {
    let channel = Channel {
        id: new_id("ch"),
        name: name.to_owned(),
        kind: kind.to_owned(),
        created_at: now(),
    };
    sqlx::query!(
        "INSERT INTO channels (id, workspace_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
        channel.id,
        workspace_id,
        channel.name,
        channel.kind,
        channel.created_at
    )
    .execute(db)
    .await?;
    Ok(channel)
}

/// Removes a channel. Scopes that named it lose it (never widen: the token keeps
/// `channel_scoped = 1`).
pub async fn delete(db: &Db, workspace_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM channels WHERE workspace_id = ? AND id = ?",
        workspace_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many tokens are scoped to this channel (shown before removing it).
pub async fn tokens_scoped_to(db: &Db, channel_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT COUNT(*) FROM token_channels WHERE channel_id = ?",
        channel_id
    )
    .fetch_one(db)
    .await
}
