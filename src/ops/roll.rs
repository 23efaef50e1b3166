//! A new secret for a token, with the old one kept working for a while (SPEC §12), and ending
//! that overlap. Regenerate is a roll with no overlap: one code path. Both hand out or end a
//! credential inside one write transaction, then invalidate cached lookups (other servers
//! drop theirs through `meta.token_epoch`, which the new secret columns move).

use super::{Ctx, audit, emit};
use crate::db;
use crate::db::tokens::Token;
use crate::domain::now;
use crate::domain::overlap::Overlap;
use crate::domain::permissions::TOKENS_WRITE;
use crate::domain::secret::Secret;
use crate::domain::token::rfc3339;
use crate::error::{AppError, AppResult};

/// A new secret for token `id`; its current secret keeps working for `overlap` (any earlier
/// previous secret stops at once). It hands out a credential, so the whole token must lie
/// within the actor's grant (the regenerate rule).
pub async fn roll(
    ctx: &Ctx<'_>,
    id: &str,
    prefix: &str,
    overlap: Overlap,
) -> AppResult<(Token, Secret)> {
    let secret = Secret::generate(prefix);
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_WRITE).await?;
    let token = ctx.load(tx.conn(), id).await?;
    ctx.grant_of(&me).may_hand_out(&token.shape(&ctx.tiers))?;
    let now = now();
    let until = overlap.until(now);
    db::tokens::roll_secret(
        tx.conn(),
        ctx.workspace_id,
        &token.id,
        &secret.hash(),
        &secret.hint(),
        until,
    )
    .await?;
    let (action, details) = roll_entry(&token, until, now);
    audit(tx.conn(), ctx, action, &token.id, &token.name, details).await?;
    // The webhook event names the change as the audit entry does: `token.rolled` when the
    // current secret keeps working a while, `token.regenerated` when it stops at once.
    emit(tx.conn(), ctx, action, &token.id).await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, overlap_secs = overlap.secs(), "token secret rolled");
    Ok((ctx.reread(&token.id).await?, secret))
}

/// A new secret; the old one stops working at once.
pub async fn regenerate(ctx: &Ctx<'_>, id: &str, prefix: &str) -> AppResult<(Token, Secret)> {
    roll(ctx, id, prefix, Overlap::NONE).await
}

/// The audit action and details of a roll: which secret keeps working until when, and which
/// earlier previous secret it ended.
fn roll_entry(old: &Token, until: Option<i64>, now: i64) -> (&'static str, String) {
    let ended = old
        .overlap(now)
        .map(|p| format!("; the earlier previous secret {} stopped working", p.hint))
        .unwrap_or_default();
    match until {
        None => (
            "token.regenerated",
            format!("the previous secret stopped working{ended}"),
        ),
        Some(at) => (
            "token.rolled",
            format!(
                "the previous secret {} works until {}{ended}",
                old.hint,
                rfc3339(at)
            ),
        ),
    }
}

/// Ends token `id`'s overlap: its previous secret stops working now. Like revoking, it needs
/// the token within the actor's own permissions and channels. 409 when no overlap runs.
pub async fn end_overlap(ctx: &Ctx<'_>, id: &str) -> AppResult<Token> {
    let mut tx = ctx.begin().await?;
    let me = ctx.acting_token(tx.conn(), TOKENS_WRITE).await?;
    let token = ctx.load(tx.conn(), id).await?;
    ctx.grant_of(&me).may_act_on(&token.shape(&ctx.tiers))?;
    let Some(previous) = token.overlap(now()).cloned() else {
        return Err(AppError::Conflict(
            "This token has no previous secret that still works.".into(),
        ));
    };
    db::tokens::end_overlap(tx.conn(), ctx.workspace_id, &token.id).await?;
    let details = format!("the previous secret {} stopped working", previous.hint);
    audit(
        tx.conn(),
        ctx,
        "token.overlap_ended",
        &token.id,
        &token.name,
        details,
    )
    .await?;
    tx.commit().await?;
    ctx.changed();
    tracing::info!(token_id = %token.id, "token overlap ended");
    ctx.reread(&token.id).await
}
