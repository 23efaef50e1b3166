//! Shared rate budgets and the servers that split them (see migration 0011).

use super::{Conn, on};

/// Marks this server alive and drops servers silent since `alive_since`; returns the live
/// servers' ids in order.
pub async fn heartbeat(
    mut conn: Conn<'_>,
    id: &str,
    now_ms: i64,
    alive_since: i64,
) -> Result<Vec<String>, sqlx::Error> {
    Ok(on!(conn.re(), |c|
        sqlite: {
            sqlx::query!(
                "INSERT INTO instances (id, seen_at_ms) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seen_at_ms = ?2",
                id, now_ms
            )
            .execute(&mut *c)
            .await?;
            sqlx::query!("DELETE FROM instances WHERE seen_at_ms < ?", alive_since)
                .execute(&mut *c)
                .await?;
            sqlx::query_scalar!("SELECT id FROM instances ORDER BY id")
                .fetch_all(&mut *c)
                .await?
        },
        postgres: {
            sqlx::query!(
                "INSERT INTO instances (id, seen_at_ms) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET seen_at_ms = $2",
                id, now_ms
            )
            .execute(&mut *c)
            .await?;
            sqlx::query!("DELETE FROM instances WHERE seen_at_ms < $1", alive_since)
                .execute(&mut *c)
                .await?;
            sqlx::query_scalar!("SELECT id FROM instances ORDER BY id -- postgres")
                .fetch_all(&mut *c)
                .await?
        },
    ))
}

/// A server leaving (shut down): the others split budgets without it from their next sync.
pub async fn leave(conn: Conn<'_>, id: &str) -> Result<(), sqlx::Error> {
    on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM instances WHERE id = ?", id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM instances WHERE id = $1", id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(())
}

/// Adds `add_ns[i]` of spending to budget `keys[i]` as of `now_ns` (a budget is never behind
/// `now`) and returns every one's arrival time after it; `add_ns` 0 just reads.
pub async fn push(
    mut conn: Conn<'_>,
    keys: &[String],
    add_ns: &[i64],
    now_ns: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(on!(conn.re(), |c|
        sqlite: {
            let mut out = Vec::with_capacity(keys.len());
            for (key, add) in keys.iter().zip(add_ns) {
                let tat = sqlx::query_scalar!(
                    "INSERT INTO rate_budgets (key, tat_ns) VALUES (?1, ?2 + ?3)
                     ON CONFLICT (key) DO UPDATE SET tat_ns = MAX(tat_ns, ?2) + ?3
                     RETURNING tat_ns",
                    key, now_ns, add
                )
                .fetch_one(&mut *c)
                .await?;
                out.push((key.clone(), tat));
            }
            out
        },
        postgres: sqlx::query!(
            "INSERT INTO rate_budgets (key, tat_ns)
             SELECT k, $3 + a FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS u(k, a)
             ON CONFLICT (key) DO UPDATE
                 SET tat_ns = GREATEST(rate_budgets.tat_ns, $3) + (excluded.tat_ns - $3)
             RETURNING key, tat_ns",
            keys, add_ns, now_ns
        )
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| (r.key, r.tat_ns))
        .collect(),
    ))
}

/// Drops budgets that are full again (their arrival time is past): they hold nothing.
pub async fn prune(conn: Conn<'_>, before_ns: i64) -> Result<(), sqlx::Error> {
    on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM rate_budgets WHERE tat_ns < ?", before_ns)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM rate_budgets WHERE tat_ns < $1", before_ns)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(())
}
