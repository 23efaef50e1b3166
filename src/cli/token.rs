//! `keyward token create|roll|revoke|list`.

use clap::Subcommand;

use super::{Fail, cli_ctx, fail, one_line, workspace};
use crate::AppState;
use crate::db::{self, audit::Actor};
use crate::domain::draft::{self, DraftBase, DraftInput, ExpiryInput, RateInput};
use crate::domain::overlap::Overlap;
use crate::domain::token::rfc3339;
use crate::domain::{now, status::Status};
use crate::ops;

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token; prints the secret alone on standard output.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
        /// Channel names (or ids) the token is limited to.
        #[arg(long = "channel")]
        channels: Vec<String>,
        #[arg(long = "allow-ip")]
        allow_ips: Vec<String>,
        /// Days until the token expires (1 to 36,500).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        expires_in_days: Option<u32>,
        /// Rate-limit tier: `standard` (default), `admin` or one from `--rate-limit-tier`.
        #[arg(long)]
        tier: Option<String>,
        /// The token's own limit, `N/window` (second, minute, hour, day), instead of a tier;
        /// repeatable, one per window.
        #[arg(long = "rate-limit", conflicts_with = "tier")]
        rate_limits: Vec<String>,
    },
    /// Roll a token's secret; prints the new secret alone on standard output. With
    /// `--overlap`, the current secret keeps working that long (0, 90m, 24h, 7d; at most 7d).
    Roll {
        #[arg(long)]
        workspace: String,
        id: String,
        #[arg(long, default_value = "0", value_parser = Overlap::parse)]
        overlap: Overlap,
    },
    /// Revoke a token.
    Revoke {
        #[arg(long)]
        workspace: String,
        id: String,
    },
    /// List a workspace's tokens.
    List {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(state: &AppState, cmd: TokenCmd) -> Result<(), Fail> {
    match cmd {
        TokenCmd::Create {
            workspace,
            name,
            description,
            permissions,
            channels,
            allow_ips,
            expires_in_days,
            tier,
            rate_limits,
        } => {
            let input = DraftInput {
                name: Some(name),
                description: Some(description.unwrap_or_default()),
                permissions: Some(permissions),
                channels: None,
                ip_allowlist: Some(allow_ips),
                expiry: expires_in_days
                    .map_or(ExpiryInput::Never, |d| ExpiryInput::InDays(i64::from(d))),
                rate: Some(rate_input(tier, &rate_limits)?),
            };
            create(state, &workspace, &channels, input).await
        }
        TokenCmd::Roll {
            workspace,
            id,
            overlap,
        } => roll(state, &workspace, &id, overlap).await,
        TokenCmd::Revoke { workspace, id } => revoke(state, &workspace, &id).await,
        TokenCmd::List { workspace, json } => list(state, &workspace, json).await,
    }
}

/// `--tier` or `--rate-limit`s as the validator takes them.
fn rate_input(tier: Option<String>, limits: &[String]) -> Result<RateInput, Fail> {
    if limits.is_empty() {
        return Ok(RateInput::Tier(
            tier.unwrap_or_else(|| "standard".to_owned()),
        ));
    }
    let mut list = Vec::new();
    for l in limits {
        let (n, per) = l.split_once('/').ok_or_else(|| {
            fail(format!(
                "--rate-limit {l:?}: expected N/window, e.g. 60/minute"
            ))
        })?;
        let n = n.trim().parse::<u64>().map_err(|_| {
            fail(format!(
                "--rate-limit {l:?}: the limit must be a whole number"
            ))
        })?;
        list.push((n, per.trim().to_owned()));
    }
    Ok(RateInput::Limits(list))
}

/// Channel names or ids of the workspace, as ids; none = every channel.
async fn channel_ids(
    state: &AppState,
    ws_id: &str,
    slug: &str,
    channels: &[String],
) -> Result<Option<Vec<String>>, Fail> {
    if channels.is_empty() {
        return Ok(None);
    }
    let all = db::channels::list(&state.db, ws_id).await?;
    let mut ids = Vec::new();
    for c in channels {
        let found = all
            .iter()
            .find(|ch| ch.id == *c || ch.name == *c)
            .ok_or_else(|| fail(format!("no channel {c:?} in workspace {slug}")))?;
        ids.push(found.id.clone());
    }
    Ok(Some(ids))
}

/// Prints the new secret alone on standard output.
async fn create(
    state: &AppState,
    slug: &str,
    channels: &[String],
    mut input: DraftInput,
) -> Result<(), Fail> {
    let ws = workspace(&state.db, slug).await?;
    input.channels = Some(channel_ids(state, &ws.id, slug, channels).await?);
    let draft = draft::validate(
        input,
        DraftBase::default(),
        &state.config.permission_catalog,
        &state.config.tiers(),
        now(),
    )
    .map_err(|errors| fail(one_line(&errors)))?;
    let actor = Actor::cli();
    let ctx = cli_ctx(state, &ws.id, &actor);
    let (_, secret) = ops::create(&ctx, &draft, &state.config.token_prefix).await?;
    println!("{}", secret.expose());
    Ok(())
}

/// Prints the new secret alone on standard output; when the old one stops, on standard error.
async fn roll(state: &AppState, slug: &str, id: &str, overlap: Overlap) -> Result<(), Fail> {
    let ws = workspace(&state.db, slug).await?;
    let actor = Actor::cli();
    let ctx = cli_ctx(state, &ws.id, &actor);
    let (token, secret) = ops::roll(&ctx, id, &state.config.token_prefix, overlap)
        .await
        .map_err(|e| match e {
            crate::error::AppError::NotFound => {
                fail(format!("no token {id:?} in workspace {slug}"))
            }
            other => other.into(),
        })?;
    println!("{}", secret.expose());
    match token.overlap(now()) {
        Some(p) => eprintln!(
            "rolled {}; the previous secret {} works until {}",
            token.id,
            p.hint,
            rfc3339(p.expires_at)
        ),
        None => eprintln!("rolled {}; the previous secret stopped working", token.id),
    }
    Ok(())
}

async fn revoke(state: &AppState, slug: &str, id: &str) -> Result<(), Fail> {
    let db = &state.db;
    let ws = workspace(db, slug).await?;
    let token = db::tokens::get(db, &ws.id, id)
        .await?
        .ok_or_else(|| fail(format!("no token {id:?} in workspace {slug}")))?;
    let actor = Actor::cli();
    ops::set_revoked(&cli_ctx(state, &ws.id, &actor), &token.id, true).await?;
    eprintln!("revoked {}", token.id);
    Ok(())
}

async fn list(state: &AppState, slug: &str, json: bool) -> Result<(), Fail> {
    let db = &state.db;
    let ws = workspace(db, slug).await?;
    let mut all = Vec::new();
    let mut q = db::tokens::ListQuery {
        limit: 500,
        ..Default::default()
    };
    loop {
        let (page, more) = db::tokens::list(db, &ws.id, &q).await?;
        q.after = page.last().map(|t| (t.created_at, t.id.clone()));
        all.extend(page);
        if !more {
            break;
        }
    }
    let now = now();
    if json {
        let list: Vec<_> = all
            .iter()
            .map(|t| crate::api::model::TokenObject::new(t, now, &state.config))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<26} {:<14} {:<22} {:<40} PERMISSIONS",
        "ID", "STATUS", "HINT", "NAME"
    );
    for t in &all {
        let status: Status = t.status(now);
        println!(
            "{:<26} {:<14} {:<22} {:<40} {}",
            t.id,
            status.code(),
            t.hint,
            t.name,
            t.permissions.to_stored()
        );
    }
    Ok(())
}
