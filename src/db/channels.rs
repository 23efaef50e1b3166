//! Channels: named resources of a workspace that tokens can be scoped to.

use serde::Serialize;

use super::{Db, on};
use crate::domain::{ids::new_id, now};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at: i64,
}

pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Channel>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Channel,
            "SELECT id, name, kind, created_at FROM channels WHERE workspace_id = ?
             ORDER BY name COLLATE NOCASE, id",
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Channel,
            r#"SELECT id, name, kind, created_at FROM channels WHERE workspace_id = $1
               ORDER BY lower(name) COLLATE "C", id"#,
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Channel>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Channel,
            "SELECT id, name, kind, created_at FROM channels WHERE workspace_id = ? AND id = ?",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Channel,
            "SELECT id, name, kind, created_at FROM channels WHERE workspace_id = $1 AND id = $2",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Adds a channel; a duplicate name in the workspace is a unique violation.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    name: &str,
    kind: &str,
) -> Result<Channel, sqlx::Error> {
    let ch = Channel {
        id: new_id("ch"),
        name: name.to_owned(),
        kind: kind.to_owned(),
        created_at: now(),
    };
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO channels (id, workspace_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
            ch.id, workspace_id, ch.name, ch.kind, ch.created_at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO channels (id, workspace_id, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)",
            ch.id, workspace_id, ch.name, ch.kind, ch.created_at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(ch)
}

/// Removes a channel. Scopes that named it lose it (never widen: the token keeps
/// `channel_scoped = 1`).
pub async fn delete(db: &Db, workspace_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("DELETE FROM channels WHERE workspace_id = ? AND id = ?", workspace_id, id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM channels WHERE workspace_id = $1 AND id = $2", workspace_id, id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(done == 1)
}

/// How many tokens are scoped to this channel (shown before removing it).
pub async fn tokens_scoped_to(db: &Db, channel_id: &str) -> Result<i64, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM token_channels WHERE channel_id = ?"#,
            channel_id
        )
        .fetch_one(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM token_channels WHERE channel_id = $1"#,
            channel_id
        )
        .fetch_one(&mut *c)
        .await?,
    ))
}
