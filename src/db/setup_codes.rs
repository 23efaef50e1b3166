//! One-time setup codes, stored as the SHA-256 (hex) of the code.

use super::{Conn, Db, on};
use crate::domain::now;

pub async fn insert(db: &Db, code_hash: &str) -> Result<(), sqlx::Error> {
    let at = now();
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO setup_codes (code_hash, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            code_hash, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO setup_codes (code_hash, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            code_hash, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(())
}

/// Whether a code with this hash was printed by a server of this database.
pub async fn exists(db: &Db, code_hash: &str) -> Result<bool, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!("SELECT code_hash FROM setup_codes WHERE code_hash = ?", code_hash)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!("SELECT code_hash FROM setup_codes WHERE code_hash = $1", code_hash)
            .fetch_optional(&mut *c)
            .await?,
    )
    .is_some())
}

/// Every code ends once the first admin exists.
pub async fn delete_all(conn: Conn<'_>) -> Result<(), sqlx::Error> {
    on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM setup_codes").execute(&mut *c).await?.rows_affected(),
        postgres: sqlx::query!("DELETE FROM setup_codes -- postgres").execute(&mut *c).await?.rows_affected(),
    );
    Ok(())
}
