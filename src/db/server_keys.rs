//! Server keys: random values made once and shared by every process on this database.

use super::{Conn, Db, on};

/// The key webhook signing secrets are sealed with when no `--secret-key` is set. Data in the
/// database depends on it, so copies of the database (`keyward backup`, `keyward copy`) keep
/// it; every other key is live state that a copy leaves out and the next server makes anew.
pub const WEBHOOK_SEAL: &str = "webhook-seal";

/// The key named `name`; stores `fresh` first when there is none. Every process gets the key
/// the first one stored, whoever wins the race.
pub async fn get_or_insert(db: &Db, name: &str, fresh: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    let mut pooled = db.acquire().await?;
    on!(pooled.conn(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            name, fresh
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            name, fresh
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(on!(pooled.conn(), |c|
        sqlite: sqlx::query_scalar!("SELECT value FROM server_keys WHERE name = ?", name)
            .fetch_one(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!("SELECT value FROM server_keys WHERE name = $1", name)
            .fetch_one(&mut *c)
            .await?,
    ))
}

/// Deletes every key but [`WEBHOOK_SEAL`] (from a backup copy: a restored database makes new
/// ones; without the seal its webhooks could no longer sign).
pub async fn delete_live(conn: Conn<'_>) -> Result<u64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM server_keys WHERE name <> ?", WEBHOOK_SEAL)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM server_keys WHERE name <> $1", WEBHOOK_SEAL)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    ))
}
