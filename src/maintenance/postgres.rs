//! The schema check and the server lock on PostgreSQL.

use sqlx::{Connection, PgConnection};

use super::refuse_newer;
use crate::BoxError;
use crate::db::redact;

/// The key of the server lock (`pg_try_advisory_lock`): "keyward serves".
const SERVER_LOCK: i64 = 0x6b65_7977_6172_6402;

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

/// The server lock: a session advisory lock held on its own connection for as long as the
/// server runs (released when the connection closes, also when the process dies).
pub struct Lock {
    _conn: PgConnection,
}

pub(super) async fn lock(url: &str) -> Result<Lock, BoxError> {
    let mut conn = open(url).await?;
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(SERVER_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if !taken {
        return Err(format!(
            "another keyward server is using {}; stop it first",
            redact(url)
        )
        .into());
    }
    Ok(Lock { _conn: conn })
}
