//! Expiry notices: which tokens the sweep looks at, and the record of each notice sent (its
//! unique key makes each one happen once, across restarts and servers).

use super::{Conn, Db, on};
use crate::domain::now;

/// A token the sweep considers: live, expiring within the horizon or expired within the last
/// day, and not yet announced as expired for this expiry.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub workspace_id: String,
    pub expires_at: i64,
}

/// Tokens expired for less than a day are still announced (a server down for a while catches
/// up); older ones were expired before anyone swept and are left alone.
pub const EXPIRED_GRACE: i64 = 86_400;

pub async fn candidates(
    conn: Conn<'_>,
    at: i64,
    horizon: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let (from, to) = (at - EXPIRED_GRACE, at + horizon);
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(
            Candidate,
            r#"SELECT t.id, t.workspace_id, t.expires_at AS "expires_at!"
             FROM tokens t
             WHERE t.revoked_at IS NULL AND t.expires_at > ? AND t.expires_at <= ?
               AND NOT EXISTS (SELECT 1 FROM expiry_notices n
                               WHERE n.token_id = t.id AND n.kind = 'expired'
                                 AND n.expires_at = t.expires_at)
             ORDER BY t.expires_at"#,
            from, to
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Candidate,
            r#"SELECT t.id, t.workspace_id, t.expires_at AS "expires_at!"
             FROM tokens t
             WHERE t.revoked_at IS NULL AND t.expires_at > $1 AND t.expires_at <= $2
               AND NOT EXISTS (SELECT 1 FROM expiry_notices n
                               WHERE n.token_id = t.id AND n.kind = 'expired'
                                 AND n.expires_at = t.expires_at)
             ORDER BY t.expires_at"#,
            from, to
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// Records a notice; `true` when it is new (the caller sends it), `false` when it was sent.
pub async fn record(
    conn: Conn<'_>,
    t: &Candidate,
    kind: &str,
    days_left: i64,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let added = on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO expiry_notices (token_id, workspace_id, kind, expires_at, days_left, at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            t.id, t.workspace_id, kind, t.expires_at, days_left, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO expiry_notices (token_id, workspace_id, kind, expires_at, days_left, at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            t.id, t.workspace_id, kind, t.expires_at, days_left, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(added == 1)
}

/// Live tokens of the workspace that expire within `within` seconds from now (the banner).
pub async fn expiring_count(db: &Db, workspace_id: &str, within: i64) -> Result<i64, sqlx::Error> {
    let at = now();
    let until = at + within;
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM tokens
             WHERE workspace_id = ? AND revoked_at IS NULL AND expires_at > ? AND expires_at <= ?"#,
            workspace_id, at, until
        )
        .fetch_one(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM tokens
             WHERE workspace_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND expires_at <= $3"#,
            workspace_id, at, until
        )
        .fetch_one(&mut *c)
        .await?,
    ))
}

/// One line of an admin's digest.
#[derive(Clone, Debug)]
pub struct DigestLine {
    pub admin_id: String,
    pub email: String,
    pub slug: String,
    pub token_id: String,
    pub token_name: String,
    pub kind: String,
    pub days_left: i64,
}

/// Notices of the last day not yet in a digest, for every admin of their workspaces who got
/// no digest within `every` seconds; marks those admins as sent (on the caller's write
/// transaction, so two servers never both send one).
pub async fn take_digests(
    mut conn: Conn<'_>,
    at: i64,
    every: i64,
) -> Result<Vec<DigestLine>, sqlx::Error> {
    let (floor, last) = (at - EXPIRED_GRACE, at - every);
    let lines = on!(conn.re(), |c|
        sqlite: sqlx::query_as!(
            DigestLine,
            r#"SELECT a.id AS "admin_id!", a.email AS "email!", w.slug AS "slug!",
                      t.id AS "token_id!", t.name AS "token_name!", n.kind AS "kind!",
                      n.days_left AS "days_left!"
             FROM expiry_notices n
             JOIN memberships m ON m.workspace_id = n.workspace_id
             JOIN admins a ON a.id = m.admin_id
             JOIN workspaces w ON w.id = n.workspace_id
             JOIN tokens t ON t.id = n.token_id
             LEFT JOIN notice_digests d ON d.admin_id = a.id
             WHERE n.at > ?1 AND n.at > COALESCE(d.sent_at, 0) AND COALESCE(d.sent_at, 0) <= ?2
             ORDER BY a.id, w.slug, n.days_left, t.name"#,
            floor, last
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            DigestLine,
            r#"SELECT a.id AS "admin_id!", a.email AS "email!", w.slug AS "slug!",
                      t.id AS "token_id!", t.name AS "token_name!", n.kind AS "kind!",
                      n.days_left AS "days_left!"
             FROM expiry_notices n
             JOIN memberships m ON m.workspace_id = n.workspace_id
             JOIN admins a ON a.id = m.admin_id
             JOIN workspaces w ON w.id = n.workspace_id
             JOIN tokens t ON t.id = n.token_id
             LEFT JOIN notice_digests d ON d.admin_id = a.id
             WHERE n.at > $1 AND n.at > COALESCE(d.sent_at, 0) AND COALESCE(d.sent_at, 0) <= $2
             ORDER BY a.id, w.slug, n.days_left, t.name"#,
            floor, last
        )
        .fetch_all(&mut *c)
        .await?,
    );
    let mut admins: Vec<&str> = lines.iter().map(|l| l.admin_id.as_str()).collect();
    admins.dedup();
    mark_sent(conn, &admins, at).await?;
    Ok(lines)
}

/// Records that these admins got their digest at `at`.
async fn mark_sent(mut conn: Conn<'_>, admins: &[&str], at: i64) -> Result<(), sqlx::Error> {
    for admin in admins {
        on!(conn.re(), |c|
            sqlite: sqlx::query!(
                "INSERT INTO notice_digests (admin_id, sent_at) VALUES (?, ?)
                 ON CONFLICT (admin_id) DO UPDATE SET sent_at = excluded.sent_at",
                admin, at
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
            postgres: sqlx::query!(
                "INSERT INTO notice_digests (admin_id, sent_at) VALUES ($1, $2)
                 ON CONFLICT (admin_id) DO UPDATE SET sent_at = excluded.sent_at",
                admin, at
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        );
    }
    Ok(())
}
