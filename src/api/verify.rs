//! `POST /api/v1/verify`: the deployer's services ask whether a token may do something. It
//! counts as a use of the verified token and spends its budget.

use super::responses::{BodyErrors, Invalid, Refusals};
use std::net::IpAddr;

use super::Routes;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::api::Data;

use super::model::TokenObject;
use super::{ApiJson, ok};
use crate::bearer::budget::{Scope, Spent};
use crate::bearer::usage::Hit;
use crate::domain::rate::Window;

use crate::bearer::cache::{Entry, Held};
use crate::bearer::{Bearer, Caller, TokensVerify, parse_authorization};
use crate::db::tokens::Token;
use crate::db::workspaces::Workspace;
use crate::domain::now;
use crate::error::{AppError, AppResult, BearerError};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![("/api/v1/verify", post(verify))]
}

/// What to verify. Its `Debug` never shows the secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The secret to verify.
    pub token: String,
    /// A permission the token must hold.
    pub permission: Option<String>,
    /// A channel id the token must reach.
    pub channel: Option<String>,
    /// The client address the token is used from (required for tokens with an IP allowlist).
    pub ip: Option<String>,
}

impl std::fmt::Debug for VerifyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyBody")
            .field("token", &"[redacted]")
            .field("permission", &self.permission)
            .field("channel", &self.channel)
            .field("ip", &self.ip)
            .finish()
    }
}

/// The verified token's budget nearest refusal (as `X-RateLimit-*` would show it): its
/// limit, what is left now, when it is full again (Unix seconds); and every budget.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyRateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub reset: i64,
    pub budgets: Vec<BudgetObject>,
}

/// One budget: whose (`token` or `workspace`), its limit per window, what is left now and
/// when it is full again (Unix seconds).
#[derive(Serialize, utoipa::ToSchema)]
pub struct BudgetObject {
    #[schema(example = "token")]
    pub scope: &'static str,
    pub limit: u32,
    pub per: Window,
    pub remaining: u32,
    pub reset: i64,
}

impl BudgetObject {
    pub fn of(spent: &Spent, now: i64) -> Vec<Self> {
        spent
            .budgets()
            .iter()
            .map(|b| Self {
                scope: match b.scope {
                    Scope::Token => "token",
                    Scope::Workspace => "workspace",
                },
                limit: b.limit,
                per: b.per,
                remaining: b.remaining,
                reset: now + i64::try_from(b.reset_after).unwrap_or(0),
            })
            .collect()
    }
}

/// The verdict on a token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub valid: bool,
    /// `valid` or the refusal code.
    #[schema(example = "valid")]
    pub code: &'static str,
    /// The verified token's workspace (the caller's own); null when the token is unknown.
    pub workspace: Option<Workspace>,
    pub token: Option<TokenObject>,
    pub ratelimit: Option<VerifyRateLimit>,
}

fn ratelimit(spent: &Spent) -> VerifyRateLimit {
    let b = spent.nearest();
    VerifyRateLimit {
        limit: b.limit,
        remaining: b.remaining,
        reset: now() + i64::try_from(b.reset_after).unwrap_or(0),
        budgets: BudgetObject::of(spent, now()),
    }
}

/// The checks of SPEC §6 for the verified token, after it was found and is live;
/// `known_channel`: the asked channel is one of the token's workspace.
fn decide(
    token: &Token,
    body: &VerifyBody,
    ip: Option<IpAddr>,
    known_channel: bool,
    budget: &Spent,
) -> Result<(), BearerError> {
    if !token.ip_allowlist.is_empty() && !ip.is_some_and(|ip| token.ip_allowlist.allows(ip)) {
        return Err(BearerError::IpNotAllowed);
    }
    if let Some(p) = &body.permission
        && !token.permissions.allows(p)
    {
        return Err(BearerError::InsufficientPermission);
    }
    if let Some(ch) = &body.channel
        && !token
            .channels
            .as_ref()
            .map_or(known_channel, |cs| cs.iter().any(|c| &c.id == ch))
    {
        return Err(BearerError::ChannelNotAllowed);
    }
    match budget.retry_after() {
        Some(retry_after) => Err(BearerError::RateLimited { retry_after }),
        None => Ok(()),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/verify",
    tag = "verify",
    summary = "Verify another token of this workspace (tokens:verify); counts as a use of it",
    security(("bearer" = [])),
    request_body = super::schemas::VerifyRequest,
    responses(
        (status = 200, description = "The verdict; the headers describe the caller's own budget, `ratelimit` the verified token's", body = Data<Verdict>),
        BodyErrors,
        Refusals,
        Invalid,
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<TokensVerify>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> AppResult<Response> {
    let ip = match body.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<IpAddr>()
                .map_err(|_| AppError::invalid("ip", "must be an IPv4 or IPv6 address"))?,
        ),
    };
    match find(&state, &caller, body.token.trim()).await? {
        Ok(entry) => Ok(ok(judge(&state, &caller, &body, ip, &entry).await?)),
        Err(refused) => Ok(ok(refused)),
    }
}

/// The verified token if it is live and of the caller's workspace; else the verdict.
async fn find(state: &AppState, caller: &Caller, token: &str) -> AppResult<Result<Held, Verdict>> {
    let presented = format!("Bearer {token}");
    let refused = |code: BearerError, token: Option<Token>| Verdict {
        valid: false,
        code: code.code(),
        workspace: token.as_ref().map(|_| caller.workspace().clone()),
        token: token.map(|t| TokenObject::new(&t, now(), &state.config)),
        ratelimit: None,
    };
    let Ok(secret) = parse_authorization(Some(presented.as_bytes())) else {
        return Ok(Err(refused(BearerError::InvalidToken, None)));
    };
    let ours = |workspace_id: &str| workspace_id == caller.token().workspace_id;
    match state.gate.live_token(&secret).await {
        Ok(entry) if ours(&entry.token.workspace_id) => Ok(Ok(entry)),
        // Only tokens of the caller's workspace verify; others are unknown here.
        Ok(_) => Ok(Err(refused(BearerError::InvalidToken, None))),
        // Revoked or expired tokens of this workspace are still shown, for context.
        Err(AppError::Bearer(code @ (BearerError::TokenRevoked | BearerError::TokenExpired))) => {
            match crate::db::tokens::by_hash(&state.db, &secret.hash()).await? {
                Some((t, _)) if ours(&t.workspace_id) => Ok(Err(refused(code, Some(t)))),
                _ => Ok(Err(refused(BearerError::InvalidToken, None))),
            }
        }
        Err(AppError::Bearer(_)) => Ok(Err(refused(BearerError::InvalidToken, None))),
        Err(other) => Err(other),
    }
}

/// SPEC §6's remaining checks for a live token; spends its budget and counts the use.
async fn judge(
    state: &AppState,
    caller: &Caller,
    body: &VerifyBody,
    ip: Option<IpAddr>,
    entry: &Entry,
) -> AppResult<Verdict> {
    let token = &entry.token;
    let budget = state.gate.spend(entry);
    let known_channel = match (&body.channel, &token.channels) {
        // An unscoped token reaches its own workspace's channels, not another's.
        (Some(ch), None) => crate::db::channels::get(&state.db, &token.workspace_id, ch)
            .await?
            .is_some(),
        _ => true,
    };
    let outcome = decide(token, body, ip, known_channel, &budget);
    let status = outcome.map_or_else(|e| e.status().as_u16(), |()| 200);
    let path = format!("/api/v1/verify (by {})", caller.token().name);
    let slot = &entry.batch_slot;
    state.gate.usage.record(&token.id, slot, &path, |path| Hit {
        at: now(),
        method: Method::from_bytes(b"VERIFY").unwrap_or(Method::POST),
        path,
        status,
        ip: ip.unwrap_or(caller.ip),
        hint: entry.hint,
    });
    let mut shown = token.clone();
    (shown.request_count, shown.last_used_at, shown.last_used_ip) =
        state.gate.usage.live(&token.id, || entry.usage());
    Ok(Verdict {
        valid: outcome.is_ok(),
        code: outcome.err().map_or("valid", BearerError::code),
        workspace: Some(caller.workspace().clone()),
        token: Some(TokenObject::new(&shown, now(), &state.config)),
        ratelimit: Some(ratelimit(&budget)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_debug_never_shows_the_secret() {
        let body = VerifyBody {
            token: "kw_SecretBodyThatMustNotShowUp0000000000000000".into(),
            permission: Some("chats:read".into()),
            channel: None,
            ip: None,
        };
        let shown = format!("{body:?}");
        assert!(!shown.contains("SecretBody"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("chats:read"));
    }
}
