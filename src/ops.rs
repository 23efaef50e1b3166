//! Token operations shared by the dashboard, the JSON API and the CLI. Each one writes the
//! change and its audit entry in one transaction, then invalidates cached lookups before it
//! returns, so the next request sees the change.

use std::net::IpAddr;

use crate::cache::TokenCache;
use crate::db::audit::{Actor, NewEntry};
use crate::db::tokens::{Creator, Token};
use crate::db::{self, Db};
use crate::domain::secret::Secret;
use crate::domain::token::{TokenDraft, rfc3339};
use crate::error::{AppError, AppResult};

/// Who acts, from where.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub workspace_id: &'a str,
    pub actor: &'a Actor,
    pub ip: Option<IpAddr>,
    /// The server's token cache, invalidated right after each committed change. `None` in the
    /// CLI: the server notices other processes' changes through `meta.token_epoch`.
    pub cache: Option<&'a TokenCache>,
}

impl Ctx<'_> {
    fn changed(&self) {
        if let Some(cache) = self.cache {
            cache.invalidate();
        }
    }
}

async fn audit(
    conn: &mut sqlx::SqliteConnection,
    ctx: &Ctx<'_>,
    action: &str,
    token_id: &str,
    token_name: &str,
    details: String,
) -> Result<(), sqlx::Error> {
    db::audit::record(
        conn,
        NewEntry {
            workspace_id: ctx.workspace_id,
            actor: ctx.actor,
            action,
            token_id: Some(token_id),
            token_name: Some(token_name),
            ip: ctx.ip.map(|ip| ip.to_string()),
            details,
        },
    )
    .await
}

/// Checks that every scoped channel belongs to the workspace.
pub async fn check_channels(db: &Db, workspace_id: &str, draft: &TokenDraft) -> AppResult<()> {
    if let Some(ids) = &draft.channels {
        let found = db::tokens::existing_channels(db, workspace_id, ids).await?;
        let unknown: Vec<_> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(AppError::invalid(
                "channels",
                format!("unknown channel: {}", unknown.join(", ")),
            ));
        }
    }
    Ok(())
}

fn summary(d: &TokenDraft) -> String {
    let channels = match &d.channels {
        None => "all".to_owned(),
        Some(ids) => format!("[{}]", ids.join(", ")),
    };
    let ips = if d.ip_allowlist.is_empty() {
        "any".to_owned()
    } else {
        d.ip_allowlist.entries().collect::<Vec<_>>().join(", ")
    };
    let expires = d.expires_at.map_or("never".to_owned(), rfc3339);
    format!(
        "permissions: {}; channels: {channels}; ip_allowlist: {ips}; expires_at: {expires}; tier: {}",
        d.permissions.to_stored(),
        d.tier.code()
    )
}

pub async fn create(
    ctx: &Ctx<'_>,
    draft: &TokenDraft,
    prefix: &str,
    by: &Creator<'_>,
) -> AppResult<(Token, Secret)> {
    check_channels(ctx.db, ctx.workspace_id, draft).await?;
    let secret = Secret::generate(prefix);
    let mut tx = ctx.db.begin().await?;
    let id = db::tokens::insert(
        &mut tx,
        ctx.workspace_id,
        draft,
        &secret.hash(),
        &secret.hint(),
        by,
    )
    .await?;
    audit(
        &mut tx,
        ctx,
        "token.created",
        &id,
        draft.name.as_str(),
        summary(draft),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = %id, workspace_id = %ctx.workspace_id, "token created");
    let token = db::tokens::get(ctx.db, ctx.workspace_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((token, secret))
}

/// Describes what an edit changed, field by field.
fn diff(old: &Token, new: &TokenDraft) -> String {
    let mut parts = Vec::new();
    if old.name != new.name.as_str() {
        parts.push(format!("name: “{}” → “{}”", old.name, new.name.as_str()));
    }
    if old.description != new.description {
        parts.push("description changed".to_owned());
    }
    if old.permissions != new.permissions {
        let added: Vec<_> = new
            .permissions
            .iter()
            .filter(|p| !old.permissions.iter().any(|o| o == *p))
            .collect();
        let removed: Vec<_> = old
            .permissions
            .iter()
            .filter(|p| !new.permissions.iter().any(|n| n == *p))
            .collect();
        parts.push(format!(
            "permissions: +[{}] −[{}]",
            added.join(", "),
            removed.join(", ")
        ));
    }
    if old.channel_ids() != new.channels {
        parts.push(match &new.channels {
            None => "channels: all".to_owned(),
            Some(ids) => format!("channels: [{}]", ids.join(", ")),
        });
    }
    if old.ip_allowlist != new.ip_allowlist {
        parts.push(format!(
            "ip_allowlist: [{}]",
            new.ip_allowlist.entries().collect::<Vec<_>>().join(", ")
        ));
    }
    if old.expires_at != new.expires_at {
        parts.push(format!(
            "expires_at: {}",
            new.expires_at.map_or("never".to_owned(), rfc3339)
        ));
    }
    if old.tier != new.tier {
        parts.push(format!("tier: {} → {}", old.tier.code(), new.tier.code()));
    }
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join("; ")
    }
}

pub async fn update(ctx: &Ctx<'_>, old: &Token, draft: &TokenDraft) -> AppResult<Token> {
    check_channels(ctx.db, ctx.workspace_id, draft).await?;
    let mut tx = ctx.db.begin().await?;
    if !db::tokens::update(&mut tx, ctx.workspace_id, &old.id, draft).await? {
        return Err(AppError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        "token.updated",
        &old.id,
        draft.name.as_str(),
        diff(old, draft),
    )
    .await?;
    tx.commit().await?;
    ctx.changed();
    db::tokens::get(ctx.db, ctx.workspace_id, &old.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Revokes (`true`) or reactivates (`false`) a token.
pub async fn set_revoked(ctx: &Ctx<'_>, token: &Token, revoked: bool) -> AppResult<Token> {
    let mut tx = ctx.db.begin().await?;
    if !db::tokens::set_revoked(&mut tx, ctx.workspace_id, &token.id, revoked).await? {
        return Err(AppError::NotFound);
    }
    let action = if revoked {
        "token.revoked"
    } else {
        "token.reactivated"
    };
    audit(&mut tx, ctx, action, &token.id, &token.name, String::new()).await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, action, "token state changed");
    db::tokens::get(ctx.db, ctx.workspace_id, &token.id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn regenerate(ctx: &Ctx<'_>, token: &Token, prefix: &str) -> AppResult<(Token, Secret)> {
    let secret = Secret::generate(prefix);
    let mut tx = ctx.db.begin().await?;
    if !db::tokens::set_secret(
        &mut tx,
        ctx.workspace_id,
        &token.id,
        &secret.hash(),
        &secret.hint(),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        "token.regenerated",
        &token.id,
        &token.name,
        "the previous secret stopped working".into(),
    )
    .await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, "token regenerated");
    let token = db::tokens::get(ctx.db, ctx.workspace_id, &token.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((token, secret))
}

pub async fn delete(ctx: &Ctx<'_>, token: &Token) -> AppResult<()> {
    let mut tx = ctx.db.begin().await?;
    if !db::tokens::delete(&mut tx, ctx.workspace_id, &token.id).await? {
        return Err(AppError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        "token.deleted",
        &token.id,
        &token.name,
        String::new(),
    )
    .await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, "token deleted");
    Ok(())
}
