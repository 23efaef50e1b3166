//! Server keys: random values made once and shared by every process on this database.

use sqlx::SqliteConnection;

use super::Db;

/// The key named `name`; stores `fresh` first when there is none. Every process gets the key
/// the first one stored, whoever wins the race.
pub async fn get_or_insert(db: &Db, name: &str, fresh: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    let stored = sqlx::query_scalar!("SELECT value FROM server_keys WHERE name = ?", name)
        .fetch_optional(db)
        .await?;
    if let Some(key) = stored {
        return Ok(key);
    }
    sqlx::query!(
        "INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        name,
        fresh
    )
    .execute(db)
    .await?;
    sqlx::query_scalar!("SELECT value FROM server_keys WHERE name = ?", name)
        .fetch_one(db)
        .await
}

/// Deletes every key (from a backup copy: a restored database makes new ones).
pub async fn delete_all(conn: &mut SqliteConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM server_keys")
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
