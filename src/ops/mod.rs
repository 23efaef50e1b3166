//! Token operations shared by the dashboard, the JSON API and the CLI. Each one reads the
//! token, applies the grant rule (`domain::grant`) and writes the change with its audit entry
//! in one write transaction, then invalidates cached lookups before it returns, so the next
//! request sees the change.

use std::net::IpAddr;

use crate::bearer::Gate;
use crate::db;
use crate::db::audit::{Actor, NewEntry};
use crate::db::tokens::Token;
use crate::db::{Conn, Tx};
use crate::domain::grant::Grant;
use crate::domain::now;
use crate::domain::permissions::{TOKENS_DELETE, TOKENS_WRITE};
use crate::domain::rate::Tiers;
use crate::domain::secret::Secret;
use crate::domain::token::TokenDraft;
use crate::error::{AppError, AppResult, BearerError};
use crate::state::AppState;

mod roll;
pub use roll::{end_overlap, regenerate, roll};
mod describe;
pub mod webhooks;
use describe::{diff, summary};

/// Who acts: an admin (dashboard) or the command line, with full grant; or an API token,
/// whose own row is read again inside each write transaction, so a revoke, narrowing or
/// expiry committed while its request waited is what its grant is checked against.
#[derive(Clone, Copy, Debug)]
pub enum Acting<'a> {
    Full,
    Token(&'a str),
}

/// Who acts, from where, and what they may grant.
pub struct Ctx<'a> {
    pub workspace_id: &'a str,
    pub actor: &'a Actor,
    pub ip: Option<IpAddr>,
    /// This process's bearer path: its token cache is invalidated right after each committed
    /// change (servers notice other processes' changes through `meta.token_epoch`), and a
    /// changed token is read back with its unflushed usage.
    pub gate: &'a Gate,
    pub acting: Acting<'a>,
    pub tiers: Tiers<'a>,
}

impl<'a> Ctx<'a> {
    /// The context of every token change (API, dashboard, CLI): the server's database and
    /// token cache, the grant the actor acts with, and where it acts from.
    pub fn new(
        state: &'a AppState,
        workspace_id: &'a str,
        actor: &'a Actor,
        ip: Option<IpAddr>,
        acting: Acting<'a>,
    ) -> Self {
        Self {
            workspace_id,
            actor,
            ip,
            gate: &state.gate,
            acting,
            tiers: state.config.tiers(),
        }
    }

    fn changed(&self) {
        self.gate.tokens.invalidate();
    }

    /// A write transaction that holds the write lock from its first statement, so what it
    /// reads and checks is still true when it writes (no concurrent edit slips in between).
    async fn begin(&self) -> AppResult<Tx<'static>> {
        Ok(self.gate.db.begin_write().await?)
    }

    /// The acting token as stored now (`None` with full grant), still live, used from an
    /// allowed address and holding `permission`; else the bearer refusal.
    async fn acting_token(&self, conn: Conn<'_>, permission: &str) -> AppResult<Option<Token>> {
        let Acting::Token(id) = self.acting else {
            return Ok(None);
        };
        let me = db::tokens::get_in(conn, self.workspace_id, id)
            .await?
            .ok_or(BearerError::InvalidToken)?;
        let refused = if me.revoked_at.is_some() {
            Some(BearerError::TokenRevoked)
        } else if me.expires_at.is_some_and(|at| at <= now()) {
            Some(BearerError::TokenExpired)
        } else if self.ip.is_some_and(|ip| !me.ip_allowlist.allows(ip)) {
            Some(BearerError::IpNotAllowed)
        } else if !me.permissions.allows(permission) {
            Some(BearerError::InsufficientPermission)
        } else {
            None
        };
        match refused {
            Some(e) => Err(e.into()),
            None => Ok(Some(me)),
        }
    }

    /// The token to change, read inside the write transaction.
    async fn load(&self, conn: Conn<'_>, id: &str) -> AppResult<Token> {
        db::tokens::get_in(conn, self.workspace_id, id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// What the actor may grant: everything, or what its token (as stored now) holds.
    fn grant_of<'t>(&self, me: &'t Option<Token>) -> Grant<'t> {
        match me {
            Some(t) if !t.permissions.is_admin() => Grant::Within(t.shape(&self.tiers)),
            _ => Grant::Full,
        }
    }

    /// Reads the token back after a committed change, with its usage not yet flushed added
    /// (read while no flush commits, so a batch being written counts once).
    async fn reread(&self, id: &str) -> AppResult<Token> {
        self.gate
            .token(self.workspace_id, id)
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// Writes the webhook event of a token change on the change's own transaction, so it is
/// committed with the change or never sent. The one way token events are emitted: every
/// change below calls it, and so does roll with `token.rolled` (ending an overlap early has
/// no event).
pub async fn emit(conn: Conn<'_>, ctx: &Ctx<'_>, kind: &str, token_id: &str) -> AppResult<()> {
    let event = crate::webhooks::Event {
        workspace_id: ctx.workspace_id,
        kind,
        token: crate::webhooks::Subject::Id(token_id),
        actor: ctx.actor,
        days_left: None,
    };
    crate::webhooks::emit(conn, &event, &ctx.gate.config).await?;
    Ok(())
}

async fn audit(
    conn: Conn<'_>,
    ctx: &Ctx<'_>,
    action: &str,
    token_id: &str,
    token_name: &str,
    details: String,
) -> Result<(), sqlx::Error> {
    let place = (ctx.workspace_id, ctx.actor, ctx.ip);
    record(conn, place, action, Some((token_id, token_name)), details).await
}

/// An audit entry of a change by `actor` in a workspace from `ip`, about a token (or not).
pub(crate) async fn record(
    conn: Conn<'_>,
    (workspace_id, actor, ip): (&str, &Actor, Option<IpAddr>),
    action: &str,
    token: Option<(&str, &str)>,
    details: String,
) -> Result<(), sqlx::Error> {
    db::audit::record(
        conn,
        NewEntry {
            workspace_id,
            actor,
            action,
            token_id: token.map(|t| t.0),
            token_name: token.map(|t| t.1),
            ip: ip.map(|ip| ip.to_string()),
            details,
        },
    )
    .await
}

/// Checks, inside the write transaction, that every scoped channel belongs to the workspace
/// (a channel removed meanwhile is refused, never linked).
async fn check_channels(conn: Conn<'_>, workspace_id: &str, draft: &TokenDraft) -> AppResult<()> {
    if let Some(ids) = &draft.channels {
        let found = db::tokens::existing_channels(conn, workspace_id, ids).await?;
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

/// A token's scope must reach something: `[]` is only reachable by removing channels.
fn refuse_empty_scope(draft: &TokenDraft) -> AppResult<()> {
    match &draft.channels {
        Some(ids) if ids.is_empty() => Err(AppError::invalid(
            "channels",
            "must list at least one channel id (the creating token's channels were all removed, \
             so it can scope a new token to nothing); send channel ids within its scope",
        )),
        _ => Ok(()),
    }
}

/// Creates a token for the context's actor (its creator) with a new secret.
pub async fn create(ctx: &Ctx<'_>, draft: &TokenDraft, prefix: &str) -> AppResult<(Token, Secret)> {
    let secret = Secret::generate(prefix);
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_WRITE).await?;
    ctx.grant_of(&me).may_create(&draft.shape(&ctx.tiers))?;
    refuse_empty_scope(draft)?;
    check_channels(tx.conn(), ctx.workspace_id, draft).await?;
    let id = db::tokens::insert(
        tx.conn(),
        ctx.workspace_id,
        draft,
        &secret.hash(),
        &secret.hint(),
        ctx.actor,
    )
    .await?;
    audit(
        tx.conn(),
        ctx,
        "token.created",
        &id,
        draft.name.as_str(),
        summary(draft),
    )
    .await?;
    emit(tx.conn(), ctx, "token.created", &id).await?;
    tx.commit().await?;
    tracing::info!(token_id = %id, workspace_id = %ctx.workspace_id, "token created");
    Ok((ctx.reread(&id).await?, secret))
}

/// Edits token `id`: `build` makes the new fields from the token as stored now (inside the
/// transaction, so a body's absent fields never bring back what a concurrent edit removed).
pub async fn update(
    ctx: &Ctx<'_>,
    id: &str,
    build: impl FnOnce(&Token) -> AppResult<TokenDraft>,
) -> AppResult<Token> {
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_WRITE).await?;
    let grant = ctx.grant_of(&me);
    let old = ctx.load(tx.conn(), id).await?;
    grant.may_act_on(&old.shape(&ctx.tiers))?;
    let draft = build(&old)?;
    grant.may_edit(&old.shape(&ctx.tiers), &draft.shape(&ctx.tiers))?;
    check_channels(tx.conn(), ctx.workspace_id, &draft).await?;
    db::tokens::update(tx.conn(), ctx.workspace_id, &old.id, &draft).await?;
    audit(
        tx.conn(),
        ctx,
        "token.updated",
        &old.id,
        draft.name.as_str(),
        diff(&old, &draft),
    )
    .await?;
    emit(tx.conn(), ctx, "token.updated", &old.id).await?;
    tx.commit().await?;
    ctx.changed();
    ctx.reread(&old.id).await
}

/// Revokes (`true`) or reactivates (`false`) a token. Reactivating revives a credential, so
/// it needs the whole token within the actor's grant.
pub async fn set_revoked(ctx: &Ctx<'_>, id: &str, revoked: bool) -> AppResult<Token> {
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_WRITE).await?;
    let token = ctx.load(tx.conn(), id).await?;
    if revoked {
        ctx.grant_of(&me).may_act_on(&token.shape(&ctx.tiers))?;
    } else {
        ctx.grant_of(&me).may_hand_out(&token.shape(&ctx.tiers))?;
    }
    db::tokens::set_revoked(tx.conn(), ctx.workspace_id, &token.id, revoked).await?;
    let action = if revoked {
        "token.revoked"
    } else {
        "token.reactivated"
    };
    audit(
        tx.conn(),
        ctx,
        action,
        &token.id,
        &token.name,
        String::new(),
    )
    .await?;
    emit(tx.conn(), ctx, action, &token.id).await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, action, "token state changed");
    ctx.reread(&token.id).await
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> AppResult<Token> {
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_DELETE).await?;
    let token = ctx.load(tx.conn(), id).await?;
    ctx.grant_of(&me).may_act_on(&token.shape(&ctx.tiers))?;
    // Read before the delete: the event carries the token as it was.
    emit(tx.conn(), ctx, "token.deleted", &token.id).await?;
    db::tokens::delete(tx.conn(), ctx.workspace_id, &token.id).await?;
    audit(
        tx.conn(),
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
    Ok(token)
}
