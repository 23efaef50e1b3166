//! Usage records: per-day counts and the most recent requests of a token.

use serde::Serialize;

use super::Db;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: String,
    pub count: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecentRequest {
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub ip: String,
}

/// Daily counts from `since_day` (YYYY-MM-DD) on, oldest first.
pub async fn daily(db: &Db, token_id: &str, since_day: &str) -> Result<Vec<DayCount>, sqlx::Error> {
    sqlx::query_as!(
        DayCount,
        "SELECT day, count FROM usage_daily WHERE token_id = ? AND day >= ? ORDER BY day",
        token_id,
        since_day
    )
    .fetch_all(db)
    .await
}

/// The most recent requests, newest first.
pub async fn recent(
    db: &Db,
    token_id: &str,
    limit: i64,
) -> Result<Vec<RecentRequest>, sqlx::Error> {
    sqlx::query_as!(
        RecentRequest,
        "SELECT at, method, path, status, ip FROM usage_requests WHERE token_id = ? ORDER BY id DESC LIMIT ?",
        token_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// Writes a batch of usage in one transaction and prunes what is no longer kept. Tokens
/// deleted meanwhile are skipped.
pub async fn write_batch(
    conn: &mut sqlx::SqliteConnection,
    batch: &std::collections::HashMap<String, crate::usage::Pending>,
    recent_kept: i64,
    oldest_day: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    for (token_id, p) in batch {
        let updated = sqlx::query!(
            "UPDATE tokens SET request_count = request_count + ?,
                    last_used_at = MAX(COALESCE(last_used_at, 0), ?),
                    last_used_ip = CASE WHEN ? >= COALESCE(last_used_at, 0) THEN ? ELSE last_used_ip END
             WHERE id = ?",
            p.count,
            p.last_at,
            p.last_at,
            p.last_ip,
            token_id
        )
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            continue;
        }
        for (day, n) in &p.days {
            sqlx::query!(
                "INSERT INTO usage_daily (token_id, day, count) VALUES (?, ?, ?)
                 ON CONFLICT (token_id, day) DO UPDATE SET count = count + excluded.count",
                token_id,
                day,
                n
            )
            .execute(&mut *tx)
            .await?;
        }
        for h in &p.recent {
            let status = i64::from(h.status);
            sqlx::query!(
                "INSERT INTO usage_requests (token_id, at, method, path, status, ip) VALUES (?, ?, ?, ?, ?, ?)",
                token_id,
                h.at,
                h.method,
                h.path,
                status,
                h.ip
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query!(
            "DELETE FROM usage_requests WHERE token_id = ?1 AND id NOT IN
               (SELECT id FROM usage_requests WHERE token_id = ?1 ORDER BY id DESC LIMIT ?2)",
            token_id,
            recent_kept
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM usage_daily WHERE token_id = ? AND day < ?",
            token_id,
            oldest_day
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
