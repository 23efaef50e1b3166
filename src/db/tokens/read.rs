//! Reading tokens: one by id (on a connection inside a write transaction too), by the hash of
//! its current or previous secret (the bearer lookup), keyset pages, counts, and the change
//! epoch.

use super::{Row, Token, Used, attach};
use crate::db::{Conn, Db, on};
use crate::domain::now;
use crate::domain::secret::SecretHash;
use crate::domain::status::{EXPIRING_SOON_SECS, Status};

/// One token of a workspace.
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Token>, sqlx::Error> {
    get_in(db.acquire().await?.conn(), workspace_id, id).await
}

/// One token of a workspace, read on `conn` (inside a write transaction: the row that
/// transaction is about to change, so checks on it cannot go stale before the write).
pub async fn get_in(
    mut conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Token>, sqlx::Error> {
    let row = on!(conn.re(), |c|
        sqlite: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE workspace_id = ? AND id = ?",
            workspace_id,
            id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE workspace_id = $1 AND id = $2",
            workspace_id,
            id
        )
        .fetch_optional(&mut *c)
        .await?,
    );
    match row {
        Some(r) => Ok(attach(conn, vec![r]).await?.pop()),
        None => Ok(None),
    }
}

/// A token by the hash of one of its secrets (the bearer lookup): the current secret (one
/// indexed read), else a previous one still within its overlap (a second indexed read, only
/// for secrets that are not current).
pub async fn by_hash(db: &Db, hash: &SecretHash) -> Result<Option<(Token, Used)>, sqlx::Error> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let h = hash.0.as_slice();
    let current = on!(conn.re(), |c|
        sqlite: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE secret_hash = ?",
            h
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE secret_hash = $1",
            h
        )
        .fetch_optional(&mut *c)
        .await?,
    );
    let (row, used) = match current {
        Some(r) => (r, Used::Current),
        None => match by_previous_hash(conn.re(), h).await? {
            Some(r) => (r, Used::Previous),
            None => return Ok(None),
        },
    };
    Ok(attach(conn, vec![row]).await?.pop().map(|t| (t, used)))
}

/// The token whose previous secret has this hash and still works now.
async fn by_previous_hash(conn: Conn<'_>, h: &[u8]) -> Result<Option<Row>, sqlx::Error> {
    let now = now();
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE previous_secret_hash = ? AND previous_secret_expires_at > ?",
            h, now
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Row,
            "SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
             FROM tokens WHERE previous_secret_hash = $1 AND previous_secret_expires_at > $2",
            h, now
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Filters of the token list.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub search: String,
    /// Keyset cursor: the last row of the previous page, `(created_at, id)`.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The parameters of [`page`]'s statement, worked out once for both backends.
struct PageArgs<'a> {
    workspace_id: &'a str,
    /// The keyset cursor, split: both `None` on the first page.
    after_at: Option<i64>,
    after_id: Option<String>,
    /// The search text, trimmed and escaped for `LIKE`.
    search: String,
    /// A [`Status::code`], or `all`.
    status: &'static str,
    now: i64,
    /// The end of the "expiring soon" window, which starts at `now`.
    soon: i64,
    /// One more than the page holds, to tell if more exist.
    limit: i64,
}

/// The rows of one page (and one more), by the list's filters.
async fn page(conn: Conn<'_>, workspace_id: &str, q: &ListQuery) -> Result<Vec<Row>, sqlx::Error> {
    let now = now();
    let (after_at, after_id) = q
        .after
        .clone()
        .map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let a = PageArgs {
        workspace_id,
        after_at,
        after_id,
        search: escape_like(q.search.trim()),
        status: q.status.map_or("all", Status::code),
        now,
        soon: now + EXPIRING_SOON_SECS,
        limit: q.limit + 1,
    };
    on!(conn, |c|
        sqlite: page_sqlite(c, &a).await,
        postgres: page_postgres(c, &a).await,
    )
}

/// [`page`] on SQLite (left out of the build that prepares PostgreSQL's queries, like the
/// SQLite arms of [`on!`]).
#[cfg(not(feature = "sqlx-prepare-postgres"))]
async fn page_sqlite(
    c: &mut sqlx::SqliteConnection,
    a: &PageArgs<'_>,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
               FROM tokens
               WHERE workspace_id = ?1
                 AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))
                 AND (?4 = '' OR name LIKE '%' || ?4 || '%' ESCAPE '\')
                 AND (?5 = 'all'
                   OR (?5 = 'revoked' AND revoked_at IS NOT NULL)
                   OR (?5 = 'expired' AND revoked_at IS NULL AND expires_at <= ?6)
                   OR (?5 = 'expiring_soon' AND revoked_at IS NULL AND expires_at > ?6 AND expires_at <= ?7)
                   OR (?5 = 'active' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?7)))
               ORDER BY created_at DESC, id DESC
               LIMIT ?8"#,
        a.workspace_id,
        a.after_at,
        a.after_id,
        a.search,
        a.status,
        a.now,
        a.soon,
        a.limit
    )
    .fetch_all(c)
    .await
}

/// [`page`] on PostgreSQL (left out of the build that prepares SQLite's queries).
#[cfg(not(feature = "sqlx-prepare-sqlite"))]
async fn page_postgres(
    c: &mut sqlx::PgConnection,
    a: &PageArgs<'_>,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, workspace_id, name, description, hint, permissions, channel_scoped, ip_allowlist,
                rate_limit_tier, rate_limits, expires_at, revoked_at, created_at, created_by_type, created_by_id,
                created_by_name, request_count, last_used_at, last_used_ip, previous_hint,
                previous_secret_expires_at
               FROM tokens
               WHERE workspace_id = $1
                 AND ($2::BIGINT IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3))
                 AND ($4 = '' OR name ILIKE '%' || $4 || '%' ESCAPE '\')
                 AND ($5 = 'all'
                   OR ($5 = 'revoked' AND revoked_at IS NOT NULL)
                   OR ($5 = 'expired' AND revoked_at IS NULL AND expires_at <= $6)
                   OR ($5 = 'expiring_soon' AND revoked_at IS NULL AND expires_at > $6 AND expires_at <= $7)
                   OR ($5 = 'active' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $7)))
               ORDER BY created_at DESC, id DESC
               LIMIT $8"#,
        a.workspace_id,
        a.after_at,
        a.after_id,
        a.search,
        a.status,
        a.now,
        a.soon,
        a.limit
    )
    .fetch_all(c)
    .await
}

/// A page of a workspace's tokens, newest first; fetches `limit + 1` to tell if more exist.
pub async fn list(
    db: &Db,
    workspace_id: &str,
    q: &ListQuery,
) -> Result<(Vec<Token>, bool), sqlx::Error> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let rows = page(conn.re(), workspace_id, q).await?;
    let more = rows.len() as i64 > q.limit;
    let rows = rows.into_iter().take(q.limit as usize).collect();
    Ok((attach(conn, rows).await?, more))
}

/// How many tokens a workspace has (to tell "no tokens yet" from "no match").
pub async fn count(db: &Db, workspace_id: &str) -> Result<i64, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM tokens WHERE workspace_id = ?"#,
            workspace_id
        )
        .fetch_one(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM tokens WHERE workspace_id = $1"#,
            workspace_id
        )
        .fetch_one(&mut *c)
        .await?,
    ))
}

/// Which of `ids` are channels of the workspace (to validate a requested scope).
pub async fn existing_channels(
    conn: Conn<'_>,
    workspace_id: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: {
            let json = serde_json::to_string(ids).unwrap_or_default();
            sqlx::query_scalar!(
                r#"SELECT id AS "id!" FROM channels WHERE workspace_id = ? AND id IN (SELECT value FROM json_each(?))"#,
                workspace_id,
                json
            )
            .fetch_all(&mut *c)
            .await?
        },
        postgres: sqlx::query_scalar!(
            r#"SELECT id AS "id!" FROM channels WHERE workspace_id = $1 AND id = ANY($2)"#,
            workspace_id,
            ids
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// The counter triggers move on every change a bearer check depends on (any process).
pub async fn epoch(db: &Db) -> Result<i64, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!(r#"SELECT value AS "value!" FROM meta WHERE key = 'token_epoch'"#)
            .fetch_one(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!(r#"SELECT value AS "value!" FROM meta WHERE key = 'token_epoch' -- postgres"#)
            .fetch_one(&mut *c)
            .await?,
    ))
}

/// Notifications of token changes committed by any process (PostgreSQL: `LISTEN` on the
/// channel the epoch trigger notifies, migration 0007). SQLite has none: one server per file,
/// and the epoch poll sees the CLI's changes.
pub struct ChangeFeed(Option<sqlx::postgres::PgListener>);

impl ChangeFeed {
    pub async fn open(db: &Db) -> Self {
        let Db::Postgres(pool) = db else {
            return Self(None);
        };
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
            l.listen("keyward_token_epoch").await?;
            Ok::<_, sqlx::Error>(l)
        };
        match listener.await {
            Ok(l) => Self(Some(l)),
            Err(e) => {
                tracing::warn!(error = %e, "token change notifications unavailable; polling only");
                Self(None)
            }
        }
    }

    /// Resolves at the next notification (never without a feed). After a lost connection the
    /// listener reconnects by itself; what was sent meanwhile is lost, and the poll catches it.
    pub async fn changed(&mut self) {
        let Some(listener) = &mut self.0 else {
            return std::future::pending().await;
        };
        if let Err(e) = listener.recv().await {
            tracing::warn!(error = %e, "token change notifications interrupted");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}
