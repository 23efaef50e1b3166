//! The bearer extractor: SPEC §6's checks in order. Present → well-formed with a valid
//! checksum (no lookup otherwise) → known → not revoked → not expired (401); then the request
//! spends its budget; then IP allowlist → permission (403); then the rate limit (429).

use std::marker::PhantomData;
use std::net::IpAddr;

use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ClientIp;
use crate::cache::Entry;
use crate::db::{tokens::Token, workspaces::Workspace};
use crate::domain::now;
use crate::domain::permissions;
use crate::domain::secret::Secret;
use crate::error::{AppError, BearerError};
use crate::limits::{Budget, tighter};
use crate::state::AppState;

/// The calling token, after the 401 checks and the IP allowlist.
#[derive(Clone, Debug)]
pub struct Caller {
    entry: Arc<Entry>,
    pub ip: IpAddr,
    pub budget: Budget,
}

/// A request to count: its token's cache entry, the client address and the budget to report.
pub type Counted = (Arc<Entry>, IpAddr, Budget);

/// Filled by the extractor, read by the API's tracking layer after the handler ran: which
/// token to count the request for, and which budget to report in headers.
#[derive(Clone, Default)]
pub struct CallSlot(Arc<Mutex<Option<Counted>>>);

impl CallSlot {
    pub fn set(&self, counted: Counted) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(counted);
        }
    }

    pub fn take(&self) -> Option<Counted> {
        self.0.lock().ok()?.take()
    }
}

/// Extracts the secret from `Authorization: Bearer <secret>` (scheme case-insensitive).
pub fn parse_authorization(value: Option<&[u8]>) -> Result<Secret, BearerError> {
    let Some(raw) = value else {
        return Err(BearerError::MissingToken);
    };
    let text = std::str::from_utf8(raw)
        .map_err(|_| BearerError::InvalidToken)?
        .trim();
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::MissingToken);
    }
    Secret::parse(rest.trim()).ok_or(BearerError::InvalidToken)
}

/// Looks a secret up (cache, else one indexed read) and applies the token-state checks.
pub async fn check_token(state: &AppState, secret: &Secret) -> Result<Arc<Entry>, AppError> {
    let entry = state
        .tokens
        .lookup(&state.db, &secret.hash())
        .await?
        .ok_or(BearerError::InvalidToken)?;
    let token = &entry.token;
    if token.revoked_at.is_some() {
        return Err(BearerError::TokenRevoked.into());
    }
    if token.expires_at.is_some_and(|e| e <= now()) {
        return Err(BearerError::TokenExpired.into());
    }
    Ok(entry)
}

/// Spends one unit of the token's budget and of its workspace's; returns the tighter.
pub fn spend(state: &AppState, token: &Token) -> Budget {
    let own = state
        .limiter
        .spend(&token.id, state.config.per_hour(token.tier));
    let ws = state.config.rate_limit_workspace.map(|limit| {
        state
            .limiter
            .spend(&format!("ws:{}", token.workspace_id), limit)
    });
    tighter(own, ws)
}

async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Caller, AppError> {
    let secret = parse_authorization(parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes()))?;
    let entry = check_token(state, &secret).await?;
    let token = &entry.token;
    let ClientIp(ip) = ClientIp::from_request_parts(parts, state)
        .await
        .unwrap_or(ClientIp(IpAddr::from([0, 0, 0, 0])));
    let budget = spend(state, token);
    if let Some(slot) = parts.extensions.get::<CallSlot>() {
        slot.set((entry.clone(), ip, budget));
    }
    if !token.ip_allowlist.allows(ip) {
        return Err(BearerError::IpNotAllowed.into());
    }
    Ok(Caller { entry, ip, budget })
}

impl Caller {
    /// The cached entry the token came from.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    pub fn token(&self) -> &Token {
        &self.entry.token
    }

    pub fn workspace(&self) -> &Workspace {
        &self.entry.workspace
    }

    pub fn require(&self, permission: &str) -> Result<(), BearerError> {
        if self.token().permissions.allows(permission) {
            Ok(())
        } else {
            Err(BearerError::InsufficientPermission)
        }
    }

    /// 429 when this request went over budget.
    pub fn check_rate(&self) -> Result<(), BearerError> {
        match self.budget.retry_after {
            Some(retry_after) => Err(BearerError::RateLimited { retry_after }),
            None => Ok(()),
        }
    }

    /// Whether the token may act on `channel_id` (unscoped tokens reach every channel).
    pub fn reaches_channel(&self, channel_id: &str) -> bool {
        self.token()
            .channels
            .as_ref()
            .is_none_or(|cs| cs.iter().any(|c| c.id == channel_id))
    }

    pub fn is_admin(&self) -> bool {
        self.token().permissions.is_admin()
    }
}

/// Which permission an endpoint needs.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Option<&'static str>;
}

macro_rules! needs {
    ($($name:ident => $perm:expr),* $(,)?) => {$(
        #[derive(Debug)]
        pub struct $name;
        impl Need for $name {
            const PERMISSION: Option<&'static str> = $perm;
        }
    )*};
}

needs! {
    AnyToken => None,
    TokensRead => Some(permissions::TOKENS_READ),
    TokensWrite => Some(permissions::TOKENS_WRITE),
    TokensDelete => Some(permissions::TOKENS_DELETE),
    TokensVerify => Some(permissions::TOKENS_VERIFY),
}

/// A caller that passed every check for an endpoint needing `N`, the rate limit included.
pub struct Bearer<N: Need>(pub Caller, pub PhantomData<N>);

/// Like [`Bearer`] but without the rate-limit check, for handlers with a check of their own
/// (channel scope) that must come first; they call [`Caller::check_rate`] after it.
pub struct BearerBeforeRate<N: Need>(pub Caller, pub PhantomData<N>);

impl<N: Need> FromRequestParts<AppState> for BearerBeforeRate<N> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        if let Some(p) = N::PERMISSION {
            caller.require(p)?;
        }
        Ok(Self(caller, PhantomData))
    }
}

impl<N: Need> FromRequestParts<AppState> for Bearer<N> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let BearerBeforeRate(caller, _) =
            BearerBeforeRate::<N>::from_request_parts(parts, state).await?;
        caller.check_rate()?;
        Ok(Self(caller, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_parsing() {
        let s = Secret::generate("kw_");
        let ok = format!("bEaReR {}", s.expose());
        assert_eq!(parse_authorization(Some(ok.as_bytes())), Ok(s.clone()));
        assert_eq!(parse_authorization(None), Err(BearerError::MissingToken));
        assert_eq!(
            parse_authorization(Some(b"Basic abc")),
            Err(BearerError::MissingToken)
        );
        assert_eq!(
            parse_authorization(Some(b"Bearer")),
            Err(BearerError::InvalidToken)
        );
        assert_eq!(
            parse_authorization(Some(b"Bearer kw_nope")),
            Err(BearerError::InvalidToken)
        );
        assert_eq!(
            parse_authorization(Some(&[0xff, 0xfe])),
            Err(BearerError::InvalidToken)
        );
    }
}
