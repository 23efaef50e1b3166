//! The webhook outbox: one row per event and endpoint, written on the change's transaction;
//! claimed by one server at a time, attempted, and marked delivered, due again, or failed.

use super::{Conn, Db, Tx, on};
use crate::domain::{ids::new_id, now};

/// A delivery as the dashboard and the API list it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub created_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
}

/// A claimed delivery with what sending it needs.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: String,
    pub webhook_id: String,
    pub payload: String,
    pub attempts: i64,
    pub url: String,
    pub secret_sealed: Vec<u8>,
}

/// Deletes deliveries that ended (delivered or failed) and were made before `before` (Unix
/// seconds); pending ones stay until their last attempt. In statements of [`PRUNE_BATCH`]
/// rows, so a first pass over a long history never holds the write lock for long. Returns how
/// many went.
pub async fn prune(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let mut gone = 0;
    loop {
        let n = on!(db.acquire().await?.conn(), |c|
            sqlite: sqlx::query!(
                "DELETE FROM webhook_deliveries WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE state <> 'pending' AND created_at < ? LIMIT ?)",
                before, PRUNE_BATCH
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
            postgres: sqlx::query!(
                "DELETE FROM webhook_deliveries WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE state <> 'pending' AND created_at < $1 LIMIT $2)",
                before, PRUNE_BATCH
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        );
        gone += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(gone);
        }
    }
}

/// Rows one pruning statement deletes at most.
const PRUNE_BATCH: i64 = 1000;

/// Adds a delivery due now; returns its id (the `webhook-id` header).
pub async fn insert(
    conn: Conn<'_>,
    workspace_id: &str,
    webhook_id: &str,
    event: &str,
    payload: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id("msg");
    let at = now();
    let due = at * 1000;
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event, payload,
                                             created_at, state, attempts, next_attempt_ms)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            id, webhook_id, workspace_id, event, payload, at, due
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event, payload,
                                             created_at, state, attempts, next_attempt_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7)",
            id, webhook_id, workspace_id, event, payload, at, due
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(id)
}

/// Claims up to `limit` deliveries due at `now_ms` to enabled endpoints, leasing each until
/// `lease_until_ms`: no other server takes them before then. SQLite: under the write lock;
/// PostgreSQL: `FOR UPDATE SKIP LOCKED`, so servers claiming at once take different rows.
pub async fn claim(
    db: &Db,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let mut tx: Tx<'static> = match db {
        Db::Sqlite(_) => db.begin_write().await?,
        Db::Postgres(_) => db.begin().await?,
    };
    let due = on!(tx.conn(), |c|
        sqlite: sqlx::query_as!(
            Due,
            "SELECT d.id, d.webhook_id, d.payload, d.attempts, w.url, w.secret_sealed
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.state = 'pending' AND d.next_attempt_ms <= ? AND w.enabled = 1
             ORDER BY d.next_attempt_ms LIMIT ?",
            now_ms, limit
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Due,
            "SELECT d.id, d.webhook_id, d.payload, d.attempts, w.url, w.secret_sealed
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.state = 'pending' AND d.next_attempt_ms <= $1 AND w.enabled = 1
             ORDER BY d.next_attempt_ms LIMIT $2
             FOR UPDATE OF d SKIP LOCKED",
            now_ms, limit
        )
        .fetch_all(&mut *c)
        .await?,
    );
    for d in &due {
        on!(tx.conn(), |c|
            sqlite: sqlx::query!(
                "UPDATE webhook_deliveries SET next_attempt_ms = ? WHERE id = ?",
                lease_until_ms, d.id
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
            postgres: sqlx::query!(
                "UPDATE webhook_deliveries SET next_attempt_ms = $1 WHERE id = $2",
                lease_until_ms, d.id
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        );
    }
    tx.commit().await?;
    Ok(due)
}

/// What an attempt came to.
pub struct Outcome<'a> {
    /// `delivered`, `pending` (another attempt at `next_attempt_ms`) or `failed`.
    pub state: &'a str,
    pub attempts: i64,
    pub next_attempt_ms: Option<i64>,
    pub status: Option<i64>,
    pub error: Option<&'a str>,
}

pub async fn finish(db: &Db, id: &str, o: Outcome<'_>) -> Result<u64, sqlx::Error> {
    let at = now();
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_ms = ?,
                    last_status = ?, last_error = ?, last_attempt_at = ?
             WHERE id = ?",
            o.state, o.attempts, o.next_attempt_ms, o.status, o.error, at, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_ms = $3,
                    last_status = $4, last_error = $5, last_attempt_at = $6
             WHERE id = $7",
            o.state, o.attempts, o.next_attempt_ms, o.status, o.error, at, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

/// The newest deliveries of one endpoint of the workspace.
pub async fn list(
    db: &Db,
    workspace_id: &str,
    webhook_id: &str,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Delivery,
            "SELECT id, webhook_id, event, created_at, state, attempts, next_attempt_ms,
                    last_status, last_error, last_attempt_at
             FROM webhook_deliveries WHERE workspace_id = ? AND webhook_id = ?
             ORDER BY created_at DESC, id DESC LIMIT ?",
            workspace_id, webhook_id, limit
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Delivery,
            "SELECT id, webhook_id, event, created_at, state, attempts, next_attempt_ms,
                    last_status, last_error, last_attempt_at
             FROM webhook_deliveries WHERE workspace_id = $1 AND webhook_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3",
            workspace_id, webhook_id, limit
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// The newest delivery of each endpoint of the workspace that has one, in one statement (an
/// index lookup per endpoint), for the endpoint list.
pub async fn latest_of_each(db: &Db, workspace_id: &str) -> Result<Vec<Delivery>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Delivery,
            "SELECT d.id, d.webhook_id, d.event, d.created_at, d.state, d.attempts,
                    d.next_attempt_ms, d.last_status, d.last_error, d.last_attempt_at
             FROM webhooks w JOIN webhook_deliveries d ON d.id = (
                 SELECT n.id FROM webhook_deliveries n
                 WHERE n.webhook_id = w.id AND n.workspace_id = w.workspace_id
                 ORDER BY n.created_at DESC, n.id DESC LIMIT 1)
             WHERE w.workspace_id = ?",
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Delivery,
            "SELECT d.id, d.webhook_id, d.event, d.created_at, d.state, d.attempts,
                    d.next_attempt_ms, d.last_status, d.last_error, d.last_attempt_at
             FROM webhooks w JOIN webhook_deliveries d ON d.id = (
                 SELECT n.id FROM webhook_deliveries n
                 WHERE n.webhook_id = w.id AND n.workspace_id = w.workspace_id
                 ORDER BY n.created_at DESC, n.id DESC LIMIT 1)
             WHERE w.workspace_id = $1",
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// Makes a delivery of the workspace due again now, keeping its id (receivers that already
/// processed it can tell); returns whether there was one.
pub async fn resend(
    conn: Conn<'_>,
    workspace_id: &str,
    webhook_id: &str,
    id: &str,
) -> Result<u64, sqlx::Error> {
    let due = now() * 1000;
    Ok(on!(conn, |c|
        sqlite: sqlx::query!(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?
             WHERE workspace_id = ? AND webhook_id = ? AND id = ?",
            due, workspace_id, webhook_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $1
             WHERE workspace_id = $2 AND webhook_id = $3 AND id = $4",
            due, workspace_id, webhook_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}
