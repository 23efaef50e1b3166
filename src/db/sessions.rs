//! Dashboard sessions, keyed by the SHA-256 of their id: the id itself never reaches the
//! database. Every read and write takes `now` so lifetimes are enforced here, not by cookies.

use sqlx::SqliteConnection;

use super::Db;

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
    let done = sqlx::query!(
        "INSERT INTO sessions (id_hash, admin_id, created_at, last_seen_at, expires_at, ip, \
         user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING",
        row.id_hash,
        row.admin_id,
        row.created_at,
        row.last_seen_at,
        expires_at,
        row.ip,
        row.user_agent,
        row.data
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Updates a live session. A session that was ended meanwhile (signed out, password changed,
/// expired) stays ended: nothing is inserted. A save that changes nothing but the time writes
/// once a minute at most.
pub async fn update(db: &Db, s: &Saved<'_>, now: i64) -> Result<(), sqlx::Error> {
    let stale = now - TOUCH_EVERY;
    sqlx::query!(
        "UPDATE sessions SET admin_id = ?, data = ?, last_seen_at = ?, \
         expires_at = MIN(?, created_at + ?) \
         WHERE id_hash = ? AND expires_at > ? \
         AND (data IS NOT ? OR admin_id IS NOT ? OR last_seen_at < ?)",
        s.admin_id,
        s.data,
        now,
        s.expires_at,
        MAX_AGE,
        s.id_hash,
        now,
        s.data,
        s.admin_id,
        stale
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A live session: neither idle past its expiry nor older than [`MAX_AGE`].
pub async fn load(db: &Db, id_hash: &str, now: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    let oldest = now - MAX_AGE;
    sqlx::query_as!(
        SessionRow,
        "SELECT id_hash, admin_id, created_at, last_seen_at, expires_at, ip, user_agent, data \
         FROM sessions WHERE id_hash = ? AND expires_at > ? AND created_at > ?",
        id_hash,
        now,
        oldest
    )
    .fetch_optional(db)
    .await
}

pub async fn delete(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM sessions WHERE id_hash = ?", id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of an admin except `keep` (the one that changed the password).
pub async fn end_for_admin(
    conn: &mut SqliteConnection,
    admin_id: &str,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE admin_id = ? AND id_hash IS NOT ?",
        admin_id,
        keep
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes sessions past their expiry; returns how many.
pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let oldest = now - MAX_AGE;
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE expires_at <= ? OR created_at <= ?",
        now,
        oldest
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes every session (from a backup copy: a restore must not bring sessions back).
pub async fn delete_all(conn: &mut SqliteConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM sessions").execute(conn).await?;
    Ok(done.rows_affected())
}
