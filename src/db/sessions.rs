//! Dashboard sessions, keyed by the SHA-256 of their id: the id itself never reaches the
//! database. Every read and write takes `now` so lifetimes are enforced here, not by cookies.

use super::{Conn, Db, on};

/// A session ends this long after its last use…
pub const IDLE: i64 = 12 * 60 * 60;
/// …and at the latest this long after it was created (at sign-in).
pub const MAX_AGE: i64 = 7 * 24 * 60 * 60;
/// A save that changes nothing but the last-seen time writes at most this often.
const TOUCH_EVERY: i64 = 60;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub admin_id: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub data: String,
}

/// What a save writes.
pub struct Saved<'a> {
    pub id_hash: &'a str,
    pub admin_id: Option<&'a str>,
    pub data: &'a str,
    /// When the session would expire by inactivity; capped at `created_at + MAX_AGE`.
    pub expires_at: i64,
}

/// Inserts a new session; `false` when its id hash is already taken.
pub async fn insert(db: &Db, row: &SessionRow) -> Result<bool, sqlx::Error> {
    let expires_at = row.expires_at.min(row.created_at + MAX_AGE);
    let r = row;
    let done = on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO sessions (id_hash, admin_id, created_at, last_seen_at, expires_at, ip, \
             user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING",
            r.id_hash, r.admin_id, r.created_at, r.last_seen_at, expires_at, r.ip, r.user_agent,
            r.data
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO sessions (id_hash, admin_id, created_at, last_seen_at, expires_at, ip, \
             user_agent, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id_hash) DO NOTHING",
            r.id_hash, r.admin_id, r.created_at, r.last_seen_at, expires_at, r.ip, r.user_agent,
            r.data
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

/// Updates a live session. A session that was ended meanwhile (signed out, password changed,
/// expired) stays ended: nothing is inserted. A save that changes nothing but the time writes
/// once a minute at most.
pub async fn update(db: &Db, s: &Saved<'_>, now: i64) -> Result<(), sqlx::Error> {
    let stale = now - TOUCH_EVERY;
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "UPDATE sessions SET admin_id = ?, data = ?, last_seen_at = ?, \
             expires_at = MIN(?, created_at + ?) \
             WHERE id_hash = ? AND expires_at > ? \
             AND (data IS NOT ? OR admin_id IS NOT ? OR last_seen_at < ?)",
            s.admin_id, s.data, now, s.expires_at, MAX_AGE, s.id_hash, now, s.data, s.admin_id,
            stale
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE sessions SET admin_id = $1, data = $2, last_seen_at = $3, \
             expires_at = LEAST($4, created_at + $5) \
             WHERE id_hash = $6 AND expires_at > $3 \
             AND (data IS DISTINCT FROM $2 OR admin_id IS DISTINCT FROM $1 OR last_seen_at < $7)",
            s.admin_id, s.data, now, s.expires_at, MAX_AGE, s.id_hash, stale
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(())
}

/// A live session: neither idle past its expiry nor older than [`MAX_AGE`].
pub async fn load(db: &Db, id_hash: &str, now: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    let oldest = now - MAX_AGE;
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            SessionRow,
            "SELECT id_hash, admin_id, created_at, last_seen_at, expires_at, ip, user_agent, data \
             FROM sessions WHERE id_hash = ? AND expires_at > ? AND created_at > ?",
            id_hash, now, oldest
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            SessionRow,
            "SELECT id_hash, admin_id, created_at, last_seen_at, expires_at, ip, user_agent, data \
             FROM sessions WHERE id_hash = $1 AND expires_at > $2 AND created_at > $3",
            id_hash, now, oldest
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

pub async fn delete(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("DELETE FROM sessions WHERE id_hash = ?", id_hash)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM sessions WHERE id_hash = $1", id_hash)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(())
}

/// Ends every session of an admin except `keep` (the one that changed the password).
pub async fn end_for_admin(
    conn: Conn<'_>,
    admin_id: &str,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query!(
            "DELETE FROM sessions WHERE admin_id = ? AND id_hash IS NOT ?",
            admin_id, keep
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM sessions WHERE admin_id = $1 AND id_hash IS DISTINCT FROM $2",
            admin_id, keep
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

/// A signed-in session as the sessions page lists it.
#[derive(Clone, Debug)]
pub struct Live {
    pub id_hash: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An admin's live sessions, the most recently used first.
pub async fn live_for_admin(db: &Db, admin_id: &str, now: i64) -> Result<Vec<Live>, sqlx::Error> {
    let oldest = now - MAX_AGE;
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Live,
            "SELECT id_hash, created_at, last_seen_at, ip, user_agent FROM sessions \
             WHERE admin_id = ? AND expires_at > ? AND created_at > ? \
             ORDER BY last_seen_at DESC, id_hash",
            admin_id, now, oldest
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Live,
            "SELECT id_hash, created_at, last_seen_at, ip, user_agent FROM sessions \
             WHERE admin_id = $1 AND expires_at > $2 AND created_at > $3 \
             ORDER BY last_seen_at DESC, id_hash",
            admin_id, now, oldest
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// Ends one of an admin's sessions; `false` when the admin has no such session.
pub async fn end_one(db: &Db, admin_id: &str, id_hash: &str) -> Result<bool, sqlx::Error> {
    let done = on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "DELETE FROM sessions WHERE admin_id = ? AND id_hash = ?",
            admin_id, id_hash
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM sessions WHERE admin_id = $1 AND id_hash = $2",
            admin_id, id_hash
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

/// Deletes sessions past their expiry; returns how many.
pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let oldest = now - MAX_AGE;
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("DELETE FROM sessions WHERE expires_at <= ? OR created_at <= ?", now, oldest)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM sessions WHERE expires_at <= $1 OR created_at <= $2", now, oldest)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    ))
}

/// Deletes every session (from a backup copy: a restore must not bring sessions back).
pub async fn delete_all(conn: Conn<'_>) -> Result<u64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM sessions").execute(&mut *c).await?.rows_affected(),
        postgres: sqlx::query!("DELETE FROM sessions -- postgres").execute(&mut *c).await?.rows_affected(),
    ))
}
