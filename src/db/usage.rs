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
        "SELECT at, method, path, status, ip FROM usage_recent WHERE token_id = ?
         ORDER BY seq DESC LIMIT ?",
        token_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// Writes a batch of usage in one transaction, in three statements whatever its size: each
/// takes its rows as one JSON array (`json_each`), so a flush costs a round trip per kind of
/// row, not one per request, and nothing streams back. Tokens deleted meanwhile are skipped
/// (the inserts join `tokens`). Recent requests go to their token's ring (see migration
/// 0004): a request `back` places before the token's newest has `seq = request_count - back`
/// once the count is updated, and slot `seq % recent_kept`, so nothing needs deleting.
/// `prune_before` (`YYYY-MM-DD`) also drops the daily counts older than that day.
pub async fn write_batch(
    conn: &mut sqlx::SqliteConnection,
    batch: &crate::usage::Batch,
    recent_kept: i64,
    prune_before: Option<&str>,
) -> Result<(), sqlx::Error> {
    let totals = json(batch.iter().map(|(id, p)| {
        let ip = p.last_ip.map(|ip| ip.to_string());
        (id, p.count, p.last_at, ip)
    }))?;
    let days = json(
        batch
            .iter()
            .flat_map(|(id, p)| p.days().map(move |(day, n)| (id, day, n))),
    )?;
    let recent = json(batch.iter().flat_map(|(id, p)| {
        p.recent.iter().rev().enumerate().map(move |(back, h)| {
            let ip = h.ip.to_string();
            (id, back, h.at, h.method.as_str(), &h.path, h.status, ip)
        })
    }))?;
    let mut tx = sqlx::Connection::begin(conn).await?;
    sqlx::query!(
        "UPDATE tokens SET request_count = request_count + (u.value ->> 1),
                last_used_at = MAX(COALESCE(last_used_at, 0), u.value ->> 2),
                last_used_ip = CASE WHEN (u.value ->> 2) >= COALESCE(last_used_at, 0)
                                    THEN u.value ->> 3 ELSE last_used_ip END
         FROM json_each(?1) AS u
         WHERE tokens.id = (u.value ->> 0)",
        totals
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO usage_daily (token_id, day, count)
         SELECT t.id, d.value ->> 1, d.value ->> 2
         FROM json_each(?1) AS d JOIN tokens AS t ON t.id = (d.value ->> 0)
         WHERE true
         ON CONFLICT (token_id, day) DO UPDATE SET count = count + excluded.count",
        days
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO usage_recent (token_id, slot, seq, at, method, path, status, ip)
         SELECT t.id, (t.request_count - (r.value ->> 1)) % ?2,
                t.request_count - (r.value ->> 1), r.value ->> 2, r.value ->> 3,
                r.value ->> 4, r.value ->> 5, r.value ->> 6
         FROM json_each(?1) AS r JOIN tokens AS t ON t.id = (r.value ->> 0)
         WHERE true
         ON CONFLICT (token_id, slot) DO UPDATE SET
             seq = excluded.seq, at = excluded.at, method = excluded.method,
             path = excluded.path, status = excluded.status, ip = excluded.ip",
        recent,
        recent_kept
    )
    .execute(&mut *tx)
    .await?;
    if let Some(day) = prune_before {
        sqlx::query!("DELETE FROM usage_daily WHERE day < ?", day)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A JSON array of the rows (tuples serialise as arrays).
fn json<T: Serialize>(rows: impl Iterator<Item = T>) -> Result<String, sqlx::Error> {
    let rows: Vec<T> = rows.collect();
    serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}
