//! Secrets waiting for their one-time reveal, sealed (see migration 0009).

use super::{Db, on};

pub struct Sealed {
    pub token_id: String,
    pub regenerated: i64,
    pub sealed: Vec<u8>,
}

/// Stores a sealed secret (and drops those past their time).
pub async fn insert(
    db: &Db,
    id_hash: &str,
    admin_id: &str,
    s: &Sealed,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let mut pooled = db.acquire().await?;
    on!(pooled.conn(), |c|
        sqlite: {
            sqlx::query!("DELETE FROM reveals WHERE expires_at <= ?", now)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "INSERT INTO reveals (id_hash, admin_id, token_id, regenerated, sealed, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
                id_hash, admin_id, s.token_id, s.regenerated, s.sealed, expires_at
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
        postgres: {
            sqlx::query!("DELETE FROM reveals WHERE expires_at <= $1", now)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "INSERT INTO reveals (id_hash, admin_id, token_id, regenerated, sealed, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                id_hash, admin_id, s.token_id, s.regenerated, s.sealed, expires_at
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
    );
    Ok(())
}

/// Takes a sealed secret out (it can be read once), if it is this admin's and still live.
pub async fn take(
    db: &Db,
    id_hash: &str,
    admin_id: &str,
    now: i64,
) -> Result<Option<Sealed>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Sealed,
            "DELETE FROM reveals WHERE id_hash = ? AND admin_id = ? AND expires_at > ?
             RETURNING token_id, regenerated, sealed",
            id_hash, admin_id, now
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Sealed,
            "DELETE FROM reveals WHERE id_hash = $1 AND admin_id = $2 AND expires_at > $3
             RETURNING token_id, regenerated, sealed",
            id_hash, admin_id, now
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}
