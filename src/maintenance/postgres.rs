//! The schema check on PostgreSQL.

use sqlx::{Connection, PgConnection};

use super::refuse_newer;
use crate::BoxError;
use crate::db::redact;

async fn open(url: &str) -> Result<PgConnection, BoxError> {
    PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", redact(url)).into())
}

/// Refuses a database migrated by a newer keyward before anything migrates it.
pub(super) async fn check_schema(url: &str) -> Result<(), BoxError> {
    let mut conn = open(url).await?;
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await?;
    let applied: Vec<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    conn.close().await?;
    refuse_newer(&applied, &redact(url)).map(|_| ())
}
