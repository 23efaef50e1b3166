//! The audit log: who did what, to which token, when and from where. Never holds a secret.
//! An action is `kind.verb` (`token.created`, `member.removed`); the kind before the dot is
//! what the audit page filters by (`crate::domain::audit::KINDS`).

use super::{Conn, Db, on};
use crate::domain::now;
use serde::Serialize;

pub use crate::domain::actor::Actor;

/// One entry to record.
pub struct NewEntry<'a> {
    pub workspace_id: &'a str,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub token_id: Option<&'a str>,
    pub token_name: Option<&'a str>,
    pub ip: Option<String>,
    pub details: String,
}

pub async fn record(conn: Conn<'_>, e: NewEntry<'_>) -> Result<(), sqlx::Error> {
    let at = now();
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, actor_name, action,
                                    token_id, token_name, ip, details)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            e.workspace_id, at, e.actor.kind, e.actor.id, e.actor.name, e.action, e.token_id,
            e.token_name, e.ip, e.details
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, actor_name, action,
                                    token_id, token_name, ip, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            e.workspace_id, at, e.actor.kind, e.actor.id, e.actor.name, e.action, e.token_id,
            e.token_name, e.ip, e.details
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub ip: Option<String>,
    pub details: String,
}

/// Which entries a page shows: one token's, one kind's (`token`, `member`, …), or all.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    pub token_id: Option<&'a str>,
    pub kind: Option<&'a str>,
}

/// Newest first; `before` is the keyset cursor (an entry id).
pub async fn list(
    db: &Db,
    workspace_id: &str,
    filter: Filter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let before = before.unwrap_or(i64::MAX);
    let token_id = filter.token_id;
    // Kinds are letters only (checked against the list), so the pattern has no wildcard of
    // its own.
    let prefix = filter.kind.map(|k| format!("{k}.%"));
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Entry,
            r#"SELECT id AS "id!", at, actor_type, actor_id, actor_name, action, token_id, token_name,
                      ip, details
             FROM audit_log
             WHERE workspace_id = ?1 AND id < ?2 AND (?3 IS NULL OR token_id = ?3)
               AND (?5 IS NULL OR action LIKE ?5)
             ORDER BY id DESC LIMIT ?4"#,
            workspace_id, before, token_id, limit, prefix
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Entry,
            r#"SELECT id AS "id!", at, actor_type, actor_id, actor_name, action, token_id, token_name,
                      ip, details
             FROM audit_log
             WHERE workspace_id = $1 AND id < $2 AND ($3::TEXT IS NULL OR token_id = $3)
               AND ($5::TEXT IS NULL OR action LIKE $5)
             ORDER BY id DESC LIMIT $4"#,
            workspace_id, before, token_id, limit, prefix
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// One entry about an admin's own account (a sign-in, a password change), recorded in every
/// workspace the admin belongs to: each workspace's admins see who can reach it and how.
pub struct AccountEntry<'a> {
    pub admin_id: &'a str,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub ip: Option<String>,
    pub details: String,
}

pub async fn record_for_admin(conn: Conn<'_>, e: AccountEntry<'_>) -> Result<(), sqlx::Error> {
    let at = now();
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, actor_name, action, ip,
                                    details)
             SELECT workspace_id, ?, ?, ?, ?, ?, ?, ? FROM memberships WHERE admin_id = ?",
            at, e.actor.kind, e.actor.id, e.actor.name, e.action, e.ip, e.details, e.admin_id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, actor_name, action, ip,
                                    details)
             SELECT workspace_id, $1, $2, $3, $4, $5, $6, $7 FROM memberships WHERE admin_id = $8",
            at, e.actor.kind, e.actor.id, e.actor.name, e.action, e.ip, e.details, e.admin_id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(())
}

impl Entry {
    /// The entry as `keyward audit export` writes it (one JSON Lines record).
    pub fn to_json(&self, workspace: &str) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "at": crate::domain::token::rfc3339(self.at),
            "workspace": workspace,
            "actor": { "type": self.actor_type, "id": self.actor_id, "name": self.actor_name },
            "action": self.action,
            "token": self.token_id.as_ref().map(|id| serde_json::json!({ "id": id, "name": self.token_name })),
            "ip": self.ip,
            "details": self.details,
        })
    }
}

/// Oldest first, from `since` (unix seconds), after entry id `after` (the keyset cursor).
pub async fn export(
    db: &Db,
    workspace_id: &str,
    since: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Entry,
            r#"SELECT id AS "id!", at, actor_type, actor_id, actor_name, action, token_id, token_name,
                      ip, details
             FROM audit_log
             WHERE workspace_id = ?1 AND id > ?2 AND at >= ?3
             ORDER BY id LIMIT ?4"#,
            workspace_id, after, since, limit
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Entry,
            r#"SELECT id AS "id!", at, actor_type, actor_id, actor_name, action, token_id, token_name,
                      ip, details
             FROM audit_log
             WHERE workspace_id = $1 AND id > $2 AND at >= $3
             ORDER BY id LIMIT $4"#,
            workspace_id, after, since, limit
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}
