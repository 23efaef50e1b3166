//! The bearer extractors: `Bearer<N>` reads the [`Caller`] that the tracking layer
//! authenticated (see the module above) and authorizes it for an endpoint needing `N`. They
//! change nothing: spending and counting belong to the layer.

use std::marker::PhantomData;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::budget::Spent;
use super::cache::{Entry, Held};
use crate::db::{tokens::Token, workspaces::Workspace};
use crate::domain::actor::Actor;
use crate::domain::permissions;
use crate::domain::secret::Secret;
use crate::error::{AppError, BearerError};

/// The calling token, past the 401 checks, with the client address and whether its request
/// went over a budget. Small, as it moves through the handler's extractors: the budgets
/// themselves stay with the tracking layer for the headers ([`super::Admitted`]).
#[derive(Clone, Debug)]
pub struct Caller {
    entry: Held,
    pub ip: IpAddr,
    /// `Some(seconds)` when a budget refused this request: until it allows one more.
    retry_after: Option<u64>,
}

/// Extracts the secret from `Authorization: Bearer <secret>` (scheme case-insensitive).
pub fn parse_authorization(value: Option<&[u8]>) -> Result<Secret, BearerError> {
    let text = authorization_secret(value)?;
    Secret::parse(text).ok_or(BearerError::InvalidToken)
}

/// [`parse_authorization`]'s secret as the header's text, checked the same way but not
/// copied (the bearer path hashes it and needs nothing else).
pub fn authorization_secret(value: Option<&[u8]>) -> Result<&str, BearerError> {
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
    let secret = rest.trim();
    if Secret::is_valid(secret) {
        Ok(secret)
    } else {
        Err(BearerError::InvalidToken)
    }
}

impl Caller {
    pub fn new(entry: Held, ip: IpAddr, spent: &Spent) -> Self {
        Self {
            entry,
            ip,
            retry_after: spent.retry_after(),
        }
    }

    /// SPEC §6's checks after authentication, in order: IP allowlist, then `permission`
    /// (403). The rate limit comes last ([`Caller::check_rate`]), after any channel check.
    pub fn authorize(&self, permission: Option<&str>) -> Result<(), BearerError> {
        if !self.token().ip_allowlist.allows(self.ip) {
            return Err(BearerError::IpNotAllowed);
        }
        match permission {
            Some(p) => self.require(p),
            None => Ok(()),
        }
    }

    /// The cached entry the token came from.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// That entry as this request holds it (a clone writes the hold's count, which a hit takes
    /// from its thread's front, not the entry's).
    pub fn held(&self) -> &Held {
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
        match self.retry_after {
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

    /// The calling token as the audit log and ops name who acted.
    pub fn actor(&self) -> Actor {
        Actor::token(&self.token().id, &self.token().name)
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
    AdminOnly => Some(permissions::ADMIN),
}

/// A caller that passed every check for an endpoint needing `N`, the rate limit included.
pub struct Bearer<N: Need>(pub Caller, pub PhantomData<N>);

/// Like [`Bearer`] but without the rate-limit check, for handlers with a check of their own
/// (channel scope) that must come first; they call [`Caller::check_rate`] after it.
pub struct BearerBeforeRate<N: Need>(pub Caller, pub PhantomData<N>);

impl<N: Need, S: Send + Sync> FromRequestParts<S> for BearerBeforeRate<N> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .remove::<Caller>()
            .ok_or_else(|| AppError::Internal("bearer route without the tracking layer".into()))?;
        caller.authorize(N::PERMISSION)?;
        Ok(Self(caller, PhantomData))
    }
}

impl<N: Need, S: Send + Sync> FromRequestParts<S> for Bearer<N> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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
        assert_eq!(authorization_secret(Some(ok.as_bytes())), Ok(s.expose()));
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
