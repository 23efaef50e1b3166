//! The usage flush on PostgreSQL.

use super::{RECENT_KEPT, TokenUsage};

/// The PostgreSQL flush: each statement once for the whole batch, its rows as arrays
/// (`UNNEST`), so no padding and no statement text per batch size.
pub(super) async fn write(
    conn: &mut sqlx::PgConnection,
    rows: &[TokenUsage],
    prune_before: Option<&str>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = rows.iter().map(|r| r.token_id.as_str()).collect();
    let counts: Vec<i64> = rows.iter().map(|r| r.count).collect();
    let ats: Vec<i64> = rows.iter().map(|r| r.last_at).collect();
    let ips: Vec<Option<&str>> = rows.iter().map(|r| r.last_ip.as_deref()).collect();
    let recent: Vec<&str> = rows.iter().map(|r| r.recent.as_str()).collect();
    let (day_ids, (days, day_counts)): (Vec<&str>, (Vec<&str>, Vec<i64>)) = rows
        .iter()
        .flat_map(|r| {
            r.days
                .iter()
                .map(move |(day, n)| (r.token_id.as_str(), (day.as_str(), *n)))
        })
        .unzip();
    sqlx::query!(
        "UPDATE tokens SET request_count = request_count + u.n,
                last_used_at = GREATEST(COALESCE(last_used_at, 0), u.at),
                last_used_ip = CASE WHEN u.at >= COALESCE(last_used_at, 0)
                                    THEN u.ip ELSE last_used_ip END
         FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[]) AS u(id, n, at, ip)
         WHERE tokens.id = u.id",
        &ids as &[&str],
        &counts,
        &ats,
        &ips as &[Option<&str>]
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO usage_daily (token_id, day, count)
         SELECT t.id, d.day, d.n
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[]) AS d(id, day, n)
         JOIN tokens AS t ON t.id = d.id
         ON CONFLICT (token_id, day) DO UPDATE SET count = usage_daily.count + excluded.count",
        &day_ids as &[&str],
        &days as &[&str],
        &day_counts
    )
    .execute(&mut *conn)
    .await?;
    chunks_and_prune(conn, &ids, &recent, prune_before).await
}

/// The flush's second half: each token's recent requests as one chunk, chunks no longer
/// holding any of its newest requests dropped, and old daily counts pruned.
async fn chunks_and_prune(
    conn: &mut sqlx::PgConnection,
    ids: &[&str],
    recent: &[&str],
    prune_before: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO usage_recent_chunks (token_id, last_seq, requests)
         SELECT t.id, t.request_count, c.requests
         FROM UNNEST($1::TEXT[], $2::TEXT[]) AS c(id, requests)
         JOIN tokens AS t ON t.id = c.id
         ON CONFLICT (token_id, last_seq) DO NOTHING",
        &ids as &[&str],
        &recent as &[&str]
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM usage_recent_chunks AS c USING tokens AS t
         WHERE t.id = ANY($1) AND c.token_id = t.id AND c.last_seq <= t.request_count - $2",
        &ids as &[&str],
        RECENT_KEPT
    )
    .execute(&mut *conn)
    .await?;
    if let Some(day) = prune_before {
        sqlx::query!("DELETE FROM usage_daily WHERE day < $1", day)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
