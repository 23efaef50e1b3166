//! Webhook endpoint changes shared by the dashboard and the API: each checked (fields, then
//! the destination against the SSRF rule), written with its audit entry in one write
//! transaction. The audit entry names the URL's origin only: a receiver's URL path or query
//! may itself be a credential (chat incoming-webhook URLs are).

use std::net::IpAddr;

use crate::db::{self, webhooks::Endpoint};
use crate::domain::actor::Actor;
use crate::domain::webhook::{Events, WebhookDraft, WebhookInput, parse_url, validate};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::webhooks::{client, emit_test, seal, sign};

/// Who changes a workspace's endpoints, from where.
pub struct WebhookCtx<'a> {
    pub state: &'a AppState,
    pub workspace_id: &'a str,
    pub actor: Actor,
    pub ip: Option<IpAddr>,
}

/// A new endpoint's defaults: every event, enabled.
fn new_base() -> WebhookDraft {
    WebhookDraft {
        url: String::new(),
        description: String::new(),
        events: Events::All,
        enabled: true,
    }
}

/// The stored endpoint as the base of an edit.
pub fn draft_of(e: &Endpoint) -> WebhookDraft {
    WebhookDraft {
        url: e.url.clone(),
        description: e.description.clone(),
        events: Events::from_stored(&e.events),
        enabled: e.enabled != 0,
    }
}

/// `scheme://host[:port]` of a URL, for the audit log.
fn origin(url: &str) -> String {
    parse_url(url).map_or_else(|_| "?".to_owned(), |u| u.origin().ascii_serialization())
}

/// `input` over `base`, validated; a new destination (a create's, or an edit's that changes the
/// URL) must pass the SSRF rule. An unchanged one is not looked up again: every delivery
/// attempt checks it anyway, and an endpoint whose host has since moved to a private address
/// can still be disabled, described or deleted.
async fn checked(
    ctx: &WebhookCtx<'_>,
    input: WebhookInput,
    base: WebhookDraft,
) -> AppResult<WebhookDraft> {
    let unchanged_url = !base.url.is_empty() && input.url.as_ref().is_none_or(|u| *u == base.url);
    let draft = validate(input, base).map_err(AppError::Validation)?;
    if unchanged_url {
        return Ok(draft);
    }
    let allow = ctx.state.config.webhook_allow_private;
    let url = parse_url(&draft.url).map_err(|e| AppError::invalid("url", e))?;
    if !client::destination_allowed(&url, allow).await {
        return Err(AppError::invalid(
            "url",
            "points to a loopback, private, link-local or unique-local address; \
             webhooks may only reach public addresses (unless the server runs with \
             --webhook-allow-private)",
        ));
    }
    Ok(draft)
}

async fn audit(
    conn: db::Conn<'_>,
    ctx: &WebhookCtx<'_>,
    action: &str,
    details: String,
) -> Result<(), sqlx::Error> {
    let place = (ctx.workspace_id, &ctx.actor, ctx.ip);
    super::record(conn, place, action, None, details).await
}

fn describe(id: &str, d: &WebhookDraft) -> String {
    format!(
        "webhook {id}: {}; events: {}; {}",
        origin(&d.url),
        d.events.names().join(", "),
        if d.enabled { "enabled" } else { "disabled" }
    )
}

/// Creates an endpoint; returns it with its signing secret (shown only now).
pub async fn create(ctx: &WebhookCtx<'_>, input: WebhookInput) -> AppResult<(Endpoint, String)> {
    let draft = checked(ctx, input, new_base()).await?;
    let secret = sign::new_secret();
    let key = seal::key(ctx.state).await.map_err(seal_error)?;
    let sealed = seal::seal(&key, &secret);
    let mut tx = ctx.state.db.begin_write().await?;
    let id = db::webhooks::insert(tx.conn(), ctx.workspace_id, &draft, &sealed).await?;
    audit(tx.conn(), ctx, "webhook.created", describe(&id, &draft)).await?;
    let endpoint = db::webhooks::get(tx.conn(), ctx.workspace_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    tracing::info!(webhook_id = %id, workspace_id = %ctx.workspace_id, "webhook created");
    Ok((endpoint, secret))
}

/// Attempts of an edit that another change overtook before a 409.
const EDIT_ATTEMPTS: usize = 3;

/// Edits an endpoint: `input`'s absent fields keep what is stored. The merge is checked
/// outside the write transaction (a name lookup may take seconds) and written only if the
/// endpoint is still as it was read (another edit, or the deliverer disabling it on a 410,
/// may come in between); else it is made again over the newer one.
pub async fn update(ctx: &WebhookCtx<'_>, id: &str, input: WebhookInput) -> AppResult<Endpoint> {
    for _ in 0..EDIT_ATTEMPTS {
        let base = draft_of(&get(ctx, id).await?);
        let draft = checked(ctx, input.clone(), base.clone()).await?;
        let mut tx = ctx.state.db.begin_write().await?;
        let change = (&base, &draft);
        if db::webhooks::update(tx.conn(), ctx.workspace_id, id, change).await? == 0 {
            continue;
        }
        audit(tx.conn(), ctx, "webhook.updated", describe(id, &draft)).await?;
        let endpoint = db::webhooks::get(tx.conn(), ctx.workspace_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        return Ok(endpoint);
    }
    Err(AppError::Conflict(
        "the endpoint kept changing while this edit was checked; try again".into(),
    ))
}

pub async fn delete(ctx: &WebhookCtx<'_>, id: &str) -> AppResult<()> {
    let old = get(ctx, id).await?;
    let mut tx = ctx.state.db.begin_write().await?;
    if db::webhooks::delete(tx.conn(), ctx.workspace_id, id).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit(
        tx.conn(),
        ctx,
        "webhook.deleted",
        describe(id, &draft_of(&old)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint of the workspace, or 404.
pub async fn get(ctx: &WebhookCtx<'_>, id: &str) -> AppResult<Endpoint> {
    let mut pooled = ctx.state.db.acquire().await?;
    db::webhooks::get(pooled.conn(), ctx.workspace_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Queues a `webhook.test` delivery to one endpoint; returns the delivery's id.
pub async fn send_test(ctx: &WebhookCtx<'_>, id: &str) -> AppResult<String> {
    get(ctx, id).await?;
    let mut tx = ctx.state.db.begin_write().await?;
    let delivery = emit_test(
        tx.conn(),
        ctx.workspace_id,
        id,
        &ctx.actor,
        &ctx.state.config,
    )
    .await?;
    tx.commit().await?;
    Ok(delivery)
}

/// Makes one delivery of an endpoint due again now.
pub async fn resend(ctx: &WebhookCtx<'_>, id: &str, delivery_id: &str) -> AppResult<()> {
    let mut tx = ctx.state.db.begin_write().await?;
    if db::deliveries::resend(tx.conn(), ctx.workspace_id, id, delivery_id).await? == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

fn seal_error(e: seal::SealError) -> AppError {
    match e {
        seal::SealError::Db(e) => e.into(),
        other => AppError::Internal(other.to_string()),
    }
}
