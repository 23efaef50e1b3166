//! Webhook endpoints of a workspace (their signing secret only sealed, see `webhooks::seal`).

use super::{Conn, Db, on};
use crate::domain::webhook::WebhookDraft;
use crate::domain::{ids::new_id, now};

/// A stored endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub workspace_id: String,
    pub url: String,
    pub description: String,
    /// `*` or names separated by commas (`domain::webhook::Events::from_stored`).
    pub events: String,
    pub enabled: i64,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(
    conn: Conn<'_>,
    workspace_id: &str,
    draft: &WebhookDraft,
    sealed: &[u8],
) -> Result<String, sqlx::Error> {
    let id = new_id("wh");
    let at = now();
    let events = draft.events.to_stored();
    let enabled = i64::from(draft.enabled);
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO webhooks (id, workspace_id, url, description, events, enabled,
                                   secret_sealed, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            id, workspace_id, draft.url, draft.description, events, enabled, sealed, at, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO webhooks (id, workspace_id, url, description, events, enabled,
                                   secret_sealed, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            id, workspace_id, draft.url, draft.description, events, enabled, sealed, at, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(id)
}

pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Endpoint>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Endpoint,
            "SELECT id, workspace_id, url, description, events, enabled, disabled_reason,
                    created_at, updated_at
             FROM webhooks WHERE workspace_id = ? ORDER BY created_at, id",
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Endpoint,
            "SELECT id, workspace_id, url, description, events, enabled, disabled_reason,
                    created_at, updated_at
             FROM webhooks WHERE workspace_id = $1 ORDER BY created_at, id",
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

pub async fn get(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(
            Endpoint,
            "SELECT id, workspace_id, url, description, events, enabled, disabled_reason,
                    created_at, updated_at
             FROM webhooks WHERE workspace_id = ? AND id = ?",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Endpoint,
            "SELECT id, workspace_id, url, description, events, enabled, disabled_reason,
                    created_at, updated_at
             FROM webhooks WHERE workspace_id = $1 AND id = $2",
            workspace_id, id
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Stores an edit (`draft`) if the endpoint is still as it was read (`was`: compare and set,
/// so an edit never overwrites one made meanwhile, nor the deliverer disabling the endpoint);
/// enabling clears the reason the server disabled it for. Returns 0 when it was not.
pub async fn update(
    conn: Conn<'_>,
    workspace_id: &str,
    id: &str,
    (was, draft): (&WebhookDraft, &WebhookDraft),
) -> Result<u64, sqlx::Error> {
    let at = now();
    let events = draft.events.to_stored();
    let enabled = i64::from(draft.enabled);
    let (was_events, was_enabled) = (was.events.to_stored(), i64::from(was.enabled));
    Ok(on!(conn, |c|
        sqlite: sqlx::query!(
            "UPDATE webhooks SET url = ?, description = ?, events = ?, enabled = ?,
                    disabled_reason = CASE WHEN ? = 1 THEN NULL ELSE disabled_reason END,
                    updated_at = ?
             WHERE workspace_id = ? AND id = ?
               AND url = ? AND description = ? AND events = ? AND enabled = ?",
            draft.url, draft.description, events, enabled, enabled, at, workspace_id, id,
            was.url, was.description, was_events, was_enabled
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4,
                    disabled_reason = CASE WHEN $4::BIGINT = 1 THEN NULL ELSE disabled_reason END,
                    updated_at = $5
             WHERE workspace_id = $6 AND id = $7
               AND url = $8 AND description = $9 AND events = $10 AND enabled = $11",
            draft.url, draft.description, events, enabled, at, workspace_id, id,
            was.url, was.description, was_events, was_enabled
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

pub async fn delete(conn: Conn<'_>, workspace_id: &str, id: &str) -> Result<u64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query!(
            "DELETE FROM webhooks WHERE workspace_id = ? AND id = ?", workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2", workspace_id, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

/// Disables an endpoint the server gave up on (its receiver answered 410 Gone).
pub async fn disable(db: &Db, id: &str, reason: &str) -> Result<u64, sqlx::Error> {
    let at = now();
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!(
            "UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
            reason, at, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE webhooks SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3",
            reason, at, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    ))
}

/// The enabled endpoints of a workspace that take `event` (on the change's transaction).
pub async fn subscribed(
    conn: Conn<'_>,
    workspace_id: &str,
    event: &str,
) -> Result<Vec<String>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(
            "SELECT id FROM webhooks
             WHERE workspace_id = ? AND enabled = 1
               AND (events = '*' OR (',' || events || ',') LIKE ('%,' || ? || ',%'))
             ORDER BY id",
            workspace_id, event
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            "SELECT id FROM webhooks
             WHERE workspace_id = $1 AND enabled = 1
               AND (events = '*' OR (',' || events || ',') LIKE ('%,' || $2 || ',%'))
             ORDER BY id",
            workspace_id, event
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// A workspace's slug, on the change's transaction (for the event payload).
pub async fn workspace_slug(conn: Conn<'_>, workspace_id: &str) -> Result<String, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!("SELECT slug FROM workspaces WHERE id = ?", workspace_id)
            .fetch_one(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!("SELECT slug FROM workspaces WHERE id = $1", workspace_id)
            .fetch_one(&mut *c)
            .await?,
    ))
}
