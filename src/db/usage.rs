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
