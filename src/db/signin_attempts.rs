//! Password-check attempts, shared by every server (see migration 0010).

use super::{Conn, Db, on};

/// The attempts that count against a key: failures since `failed_since`, and checks reserved
/// since `running_since` that have not ended; `(at_ms, failed)`, oldest first.
pub async fn counted(
    conn: Conn<'_>,
    key_hash: &str,
    failed_since: i64,
    running_since: i64,
) -> Result<Vec<(i64, bool)>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = on!(conn, |c|
        sqlite: sqlx::query!(
            "SELECT at_ms, failed FROM signin_attempts
             WHERE key_hash = ?1 AND ((failed = 1 AND at_ms > ?2) OR (failed = 0 AND at_ms > ?3))
             ORDER BY at_ms",
            key_hash, failed_since, running_since
        )
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| (r.at_ms, r.failed))
        .collect(),
        postgres: sqlx::query!(
            "SELECT at_ms, failed FROM signin_attempts
             WHERE key_hash = $1 AND ((failed = 1 AND at_ms > $2) OR (failed = 0 AND at_ms > $3))
             ORDER BY at_ms",
            key_hash, failed_since, running_since
        )
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| (r.at_ms, r.failed))
        .collect(),
    );
    Ok(rows.into_iter().map(|(at, f)| (at, f != 0)).collect())
}

/// Reserves a check of `attempt` against a key (and drops rows no window still counts).
pub async fn reserve(
    mut conn: Conn<'_>,
    attempt: &str,
    key_hash: &str,
    at_ms: i64,
    prune_before: i64,
) -> Result<(), sqlx::Error> {
    on!(conn.re(), |c|
        sqlite: {
            sqlx::query!("DELETE FROM signin_attempts WHERE at_ms < ?", prune_before)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "INSERT INTO signin_attempts (attempt, key_hash, at_ms, failed) VALUES (?, ?, ?, 0)",
                attempt, key_hash, at_ms
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
        postgres: {
            sqlx::query!("DELETE FROM signin_attempts WHERE at_ms < $1", prune_before)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "INSERT INTO signin_attempts (attempt, key_hash, at_ms, failed) VALUES ($1, $2, $3, 0)",
                attempt, key_hash, at_ms
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
    );
    Ok(())
}

/// Ends an attempt's check against one key: a failure counted from `at_ms`, or released.
pub async fn end(
    db: &Db,
    attempt: &str,
    key_hash: &str,
    failed_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let mut pooled = db.acquire().await?;
    match failed_at {
        Some(at) => on!(pooled.conn(), |c|
            sqlite: sqlx::query!(
                "UPDATE signin_attempts SET failed = 1, at_ms = ? WHERE attempt = ? AND key_hash = ?",
                at, attempt, key_hash
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
            postgres: sqlx::query!(
                "UPDATE signin_attempts SET failed = 1, at_ms = $1 WHERE attempt = $2 AND key_hash = $3",
                at, attempt, key_hash
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        ),
        None => on!(pooled.conn(), |c|
            sqlite: sqlx::query!(
                "DELETE FROM signin_attempts WHERE attempt = ? AND key_hash = ?",
                attempt, key_hash
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
            postgres: sqlx::query!(
                "DELETE FROM signin_attempts WHERE attempt = $1 AND key_hash = $2",
                attempt, key_hash
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        ),
    };
    Ok(())
}

/// Forgets a key's failures (the right password came).
pub async fn forget(db: &Db, key_hash: &str) -> Result<(), sqlx::Error> {
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("DELETE FROM signin_attempts WHERE key_hash = ? AND failed = 1", key_hash)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM signin_attempts WHERE key_hash = $1 AND failed = 1", key_hash)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(())
}
