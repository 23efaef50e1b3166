//! Usage records: per-day counts and the most recent requests of a token.

use serde::Serialize;

use super::{Conn, Db, on};

#[cfg(not(feature = "sqlx-prepare-sqlite"))]
mod postgres;
#[cfg(not(feature = "sqlx-prepare-postgres"))]
mod sqlite;

/// Recent requests kept per token (older chunks are deleted when flushing).
pub const RECENT_KEPT: i64 = 100;

/// One token's usage since the last flush, as stored.
#[derive(Clone, Debug)]
pub struct TokenUsage {
    pub token_id: String,
    pub count: i64,
    pub last_at: i64,
    pub last_ip: Option<String>,
    /// Requests per UTC day, `YYYY-MM-DD`.
    pub days: Vec<(String, i64)>,
    /// The newest requests (at most [`RECENT_KEPT`]), oldest first, as a JSON array
    /// `[[at, method, path, status, ip, hint], …]` (`hint`: of the secret used; requests
    /// stored before migration 0014 have none), each request after the first ending with its
    /// last field that differs from the first's ([`recent`] fills in the rest).
    pub recent: String,
}

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
    /// The hint of the secret the request used; empty for requests recorded before keyward
    /// kept it.
    pub hint: String,
}

/// Daily counts from `since_day` (YYYY-MM-DD) on, oldest first.
pub async fn daily(db: &Db, token_id: &str, since_day: &str) -> Result<Vec<DayCount>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            DayCount,
            "SELECT day, count FROM usage_daily WHERE token_id = ? AND day >= ? ORDER BY day",
            token_id, since_day
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            DayCount,
            "SELECT day, count FROM usage_daily WHERE token_id = $1 AND day >= $2 ORDER BY day",
            token_id, since_day
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// The most recent requests, newest first (read from the token's chunks, see
/// [`write_batch`]). A request's missing fields are its chunk's first request's: a chunk
/// leaves out what repeats it (`bearer::usage::flush`). On PostgreSQL each chunk is parsed
/// once (`OFFSET 0` keeps the planner from pulling the parse up into every field).
pub async fn recent(
    db: &Db,
    token_id: &str,
    limit: i64,
) -> Result<Vec<RecentRequest>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            RecentRequest,
            r#"SELECT r.value ->> 0 AS "at!: i64",
                      COALESCE(r.value ->> 1, c.requests ->> '$[0][1]') AS "method!: String",
                      COALESCE(r.value ->> 2, c.requests ->> '$[0][2]') AS "path!: String",
                      COALESCE(r.value ->> 3, c.requests ->> '$[0][3]') AS "status!: i64",
                      COALESCE(r.value ->> 4, c.requests ->> '$[0][4]') AS "ip!: String",
                      COALESCE(r.value ->> 5, c.requests ->> '$[0][5]', '') AS "hint!: String"
               FROM usage_recent_chunks AS c, json_each(c.requests) AS r
               WHERE c.token_id = ?
               ORDER BY c.last_seq DESC, r.key DESC
               LIMIT ?"#,
            token_id, limit
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            RecentRequest,
            r#"SELECT (r.value ->> 0)::BIGINT AS "at!",
                      COALESCE(r.value ->> 1, j.doc -> 0 ->> 1) AS "method!",
                      COALESCE(r.value ->> 2, j.doc -> 0 ->> 2) AS "path!",
                      COALESCE(r.value ->> 3, j.doc -> 0 ->> 3)::BIGINT AS "status!",
                      COALESCE(r.value ->> 4, j.doc -> 0 ->> 4) AS "ip!",
                      COALESCE(r.value ->> 5, j.doc -> 0 ->> 5, '') AS "hint!"
               FROM usage_recent_chunks AS c,
                    LATERAL (SELECT c.requests::jsonb AS doc OFFSET 0) AS j,
                    jsonb_array_elements(j.doc) WITH ORDINALITY AS r(value, key)
               WHERE c.token_id = $1
               ORDER BY c.last_seq DESC, r.key DESC
               LIMIT $2"#,
            token_id, limit
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// Writes a batch of usage on the caller's transaction (the caller commits): a few statements
/// per batch of tokens, whatever the number of requests. Totals are added to `tokens`; per-day counts to
/// `usage_daily`; each token's recent requests (at most the newest [`RECENT_KEPT`]) become one
/// chunk in `usage_recent_chunks` numbered with the token's updated count, and chunks that no
/// longer hold any of its newest [`RECENT_KEPT`] requests are deleted (migration 0005).
/// Tokens deleted meanwhile are skipped (every statement joins `tokens`). `prune_before`
/// (`YYYY-MM-DD`) also drops the daily counts older than that day.
pub async fn write_batch(
    conn: Conn<'_>,
    rows: &[TokenUsage],
    prune_before: Option<&str>,
) -> Result<(), sqlx::Error> {
    on!(conn, |c|
        sqlite: sqlite::write(c, rows, prune_before).await,
        postgres: postgres::write(c, rows, prune_before).await,
    )
}
