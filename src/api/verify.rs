//! `POST /api/v1/verify`: the deployer's services ask whether a token may do something. It
//! counts as a use of the verified token and spends its budget.

use std::net::IpAddr;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::model::TokenObject;
use super::{ApiJson, ok};
use crate::auth::bearer::{Bearer, TokensVerify, check_token, parse_authorization, spend};
use crate::db::tokens::Token;
use crate::domain::now;
use crate::error::{AppError, AppResult, BearerError};
use crate::limits::Budget;
use crate::state::AppState;
use crate::usage::Hit;

pub fn router() -> Router<AppState> {
    Router::new().route("/verify", post(verify))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub token: String,
    pub permission: Option<String>,
    pub channel: Option<String>,
    pub ip: Option<String>,
}

#[derive(Serialize)]
struct RateLimit {
    limit: u32,
    remaining: u32,
    reset: i64,
}

#[derive(Serialize)]
struct Verdict {
    valid: bool,
    code: &'static str,
    token: Option<TokenObject>,
    ratelimit: Option<RateLimit>,
}

fn ratelimit(b: Budget) -> RateLimit {
    RateLimit {
        limit: b.limit,
        remaining: b.remaining,
        reset: now() + i64::try_from(b.reset_after).unwrap_or(0),
    }
}

/// The checks of SPEC §6 for the verified token, after it was found and is live.
fn decide(
    token: &Token,
    body: &VerifyBody,
    ip: Option<IpAddr>,
    budget: &Budget,
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
            .is_none_or(|cs| cs.iter().any(|c| &c.id == ch))
    {
        return Err(BearerError::ChannelNotAllowed);
    }
    match budget.retry_after {
        Some(retry_after) => Err(BearerError::RateLimited { retry_after }),
        None => Ok(()),
    }
}

async fn verify(
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
    let presented = format!("Bearer {}", body.token.trim());
    let found = match parse_authorization(Some(presented.as_bytes())) {
        Ok(secret) => check_token(&state, &secret).await.map_err(|e| match e {
            AppError::Bearer(b) => Ok(b),
            other => Err(other),
        }),
        Err(_) => Err(Ok(BearerError::InvalidToken)),
    };
    let token = match found {
        // Only tokens of the caller's workspace verify; others are unknown here.
        Ok(t) if t.workspace_id == caller.token.workspace_id => t,
        Ok(_) => {
            return Ok(ok(Verdict {
                valid: false,
                code: "invalid_token",
                token: None,
                ratelimit: None,
            }));
        }
        Err(Err(e)) => return Err(e),
        Err(Ok(code)) => {
            // Revoked or expired tokens of this workspace are still shown, for context.
            let token = match code {
                BearerError::TokenRevoked | BearerError::TokenExpired => {
                    let secret = parse_authorization(Some(presented.as_bytes())).ok();
                    match secret {
                        Some(s) => crate::db::tokens::by_hash(&state.db, &s.hash())
                            .await?
                            .filter(|t| t.workspace_id == caller.token.workspace_id),
                        None => None,
                    }
                }
                _ => None,
            };
            let code = if token.is_some() {
                code
            } else {
                BearerError::InvalidToken
            };
            let object = token.map(|t| TokenObject::new(&t, now(), &state.config));
            return Ok(ok(Verdict {
                valid: false,
                code: code.code(),
                token: object,
                ratelimit: None,
            }));
        }
    };
    let budget = spend(&state, &token);
    let outcome = decide(&token, &body, ip, &budget);
    let status = match outcome {
        Ok(()) => 200,
        Err(e) => e.status().as_u16(),
    };
    let path = format!("/api/v1/verify (by {})", caller.token.name)
        .chars()
        .take(200)
        .collect();
    let hit_ip = ip.map_or_else(|| caller.ip.to_string(), |i| i.to_string());
    state.usage.record(
        &token.id,
        Hit {
            at: now(),
            method: "VERIFY".into(),
            path,
            status,
            ip: hit_ip,
        },
    );
    let mut shown = token;
    state.overlay_usage(&mut shown);
    Ok(ok(Verdict {
        valid: outcome.is_ok(),
        code: outcome.err().map_or("valid", BearerError::code),
        token: Some(TokenObject::new(&shown, now(), &state.config)),
        ratelimit: Some(ratelimit(budget)),
    }))
}
