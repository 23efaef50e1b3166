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

/// A budget as stored: its arrival time, and the units other servers hold in live leases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub tat_ns: i64,
    pub others: i64,
}

/// [`lock`]'s statements: `(key, tat_ns, others)` of each budget, created and locked.
async fn locked_rows(
    conn: Conn<'_>,
    keys: &[String],
    server: &str,
    now_ns: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let now_ms = now_ns / 1_000_000;
    on!(conn, |c|
        sqlite: locked_rows_sqlite(c, keys, server, now_ns, now_ms).await,
        postgres: locked_rows_postgres(c, keys, server, now_ns, now_ms).await,
    )
}

/// [`locked_rows`] on SQLite: each budget in turn, created if missing, then the units of the
/// other servers' live leases of it. Left out of the build that prepares PostgreSQL's queries,
/// like the SQLite arms of [`on!`].
#[cfg(not(feature = "sqlx-prepare-postgres"))]
async fn locked_rows_sqlite(
    c: &mut sqlx::SqliteConnection,
    keys: &[String],
    server: &str,
    now_ns: i64,
    now_ms: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let tat = sqlx::query_scalar!(
            "INSERT INTO rate_budgets (key, tat_ns) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET tat_ns = tat_ns
                     RETURNING tat_ns",
            key,
            now_ns
        )
        .fetch_one(&mut *c)
        .await?;
        let others = sqlx::query_scalar!(
            r#"SELECT COALESCE(SUM(units), 0) AS "n!: i64"
                       FROM rate_leases WHERE key = ? AND server <> ? AND expires_ms > ?"#,
            key,
            server,
            now_ms
        )
        .fetch_one(&mut *c)
        .await?;
        out.push((key.clone(), tat, others));
    }
    Ok(out)
}

/// [`locked_rows`] on PostgreSQL: creates the missing budgets, locks them in key order, then
/// reads them with the other servers' leases. Left out of the build that prepares SQLite's
/// queries.
#[cfg(not(feature = "sqlx-prepare-sqlite"))]
async fn locked_rows_postgres(
    c: &mut sqlx::PgConnection,
    keys: &[String],
    server: &str,
    now_ns: i64,
    now_ms: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO rate_budgets (key, tat_ns)
                 SELECT k, $2 FROM UNNEST($1::TEXT[]) AS u(k)
                 ON CONFLICT (key) DO NOTHING",
        keys,
        now_ns
    )
    .execute(&mut *c)
    .await?;
    sqlx::query!(
        "SELECT key FROM rate_budgets WHERE key = ANY($1) ORDER BY key FOR UPDATE",
        keys
    )
    .fetch_all(&mut *c)
    .await?;
    let rows = sqlx::query!(
        r#"SELECT b.key, b.tat_ns,
                          COALESCE(SUM(l.units), 0)::BIGINT AS "others!"
                   FROM rate_budgets AS b
                   LEFT JOIN rate_leases AS l
                     ON l.key = b.key AND l.server <> $2 AND l.expires_ms > $3
                   WHERE b.key = ANY($1)
                   GROUP BY b.key, b.tat_ns
                   ORDER BY b.key"#,
        keys,
        server,
        now_ms
    )
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.key, r.tat_ns, r.others))
        .collect())
}

/// Locks the budgets `keys` (sorted, so that two servers lock in the same order) for the rest
/// of the transaction, creating missing ones full; returns them in `keys`' order, with the
/// units of the live leases of servers other than `server`.
pub async fn lock(
    conn: Conn<'_>,
    keys: &[String],
    server: &str,
    now_ns: i64,
) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = locked_rows(conn, keys, server, now_ns).await?;
    let by_key: std::collections::HashMap<String, Stored> = rows
        .into_iter()
        .map(|(k, tat_ns, others)| (k, Stored { tat_ns, others }))
        .collect();
    let fresh = Stored {
        tat_ns: now_ns,
        ..Stored::default()
    };
    Ok(keys
        .iter()
        .map(|k| by_key.get(k).copied().unwrap_or(fresh))
        .collect())
}

/// Writes budgets back and this server's leases of them, valid until `expires_ms` (in the
/// transaction that locked them).
pub async fn store(
    mut conn: Conn<'_>,
    keys: &[String],
    tats: &[i64],
    server: &str,
    leases: &[i64],
    expires_ms: i64,
) -> Result<(), sqlx::Error> {
    on!(conn.re(), |c|
        sqlite: {
            for ((key, tat), units) in keys.iter().zip(tats).zip(leases) {
                sqlx::query!("UPDATE rate_budgets SET tat_ns = ? WHERE key = ?", tat, key)
                    .execute(&mut *c)
                    .await?;
                sqlx::query!(
                    "INSERT INTO rate_leases (key, server, units, expires_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key, server) DO UPDATE SET units = ?3, expires_ms = ?4",
                    key, server, units, expires_ms
                )
                .execute(&mut *c)
                .await?;
            }
        },
        postgres: {
            sqlx::query!(
                "UPDATE rate_budgets AS b SET tat_ns = u.tat
                 FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS u(k, tat) WHERE b.key = u.k",
                keys, tats
            )
            .execute(&mut *c)
            .await?;
            sqlx::query!(
                "INSERT INTO rate_leases (key, server, units, expires_ms)
                 SELECT k, $3, n, $4 FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS u(k, n)
                 ON CONFLICT (key, server) DO UPDATE
                     SET units = excluded.units, expires_ms = excluded.expires_ms",
                keys, leases, server, expires_ms
            )
            .execute(&mut *c)
            .await?;
        },
    );
    Ok(())
}

/// Drops budgets that are full again (their arrival time is past) and expired leases: they
/// hold nothing.
pub async fn prune(conn: Conn<'_>, before_ns: i64) -> Result<(), sqlx::Error> {
    let before_ms = before_ns / 1_000_000;
    on!(conn, |c|
        sqlite: {
            sqlx::query!("DELETE FROM rate_leases WHERE expires_ms < ?", before_ms)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "DELETE FROM rate_budgets WHERE tat_ns < ?
                 AND NOT EXISTS (SELECT 1 FROM rate_leases AS l WHERE l.key = rate_budgets.key)",
                before_ns
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
        postgres: {
            sqlx::query!("DELETE FROM rate_leases WHERE expires_ms < $1", before_ms)
                .execute(&mut *c)
                .await?;
            sqlx::query!(
                "DELETE FROM rate_budgets WHERE tat_ns < $1
                 AND NOT EXISTS (SELECT 1 FROM rate_leases AS l WHERE l.key = rate_budgets.key)",
                before_ns
            )
            .execute(&mut *c)
            .await?
            .rows_affected()
        },
    );
    Ok(())
}
