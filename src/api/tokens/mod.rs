//! `/api/v1/tokens`: one file per group of operations — reading (`read`), creating and
//! editing (`write`), handing out and ending credentials (`lifecycle`), usage (`usage`) —
//! and here what they share: loading, the validator's bases, the grant context, responses.

pub mod lifecycle;
pub mod read;
pub mod usage;
pub mod write;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::Routes;
use super::model::{TokenBody, TokenObject, WithSecret};
use super::not_found;
use crate::bearer::Caller;
use crate::db::audit::Actor;
use crate::db::tokens::Token;
use crate::domain::draft::{self, DraftBase};
use crate::domain::ip::IpAllowlist;
use crate::domain::now;
use crate::domain::secret::Secret;
use crate::domain::token::TokenDraft;
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;
use lifecycle::{end_overlap, reactivate, regenerate, remove, revoke, roll};
use read::{list, one};
use usage::usage;
use write::{create, update};

pub fn routes() -> Routes {
    vec![
        ("/api/v1/tokens", get(list).post(create)),
        ("/api/v1/tokens/{id}", get(one).patch(update).delete(remove)),
        ("/api/v1/tokens/{id}/regenerate", post(regenerate)),
        ("/api/v1/tokens/{id}/roll", post(roll)),
        ("/api/v1/tokens/{id}/end-overlap", post(end_overlap)),
        ("/api/v1/tokens/{id}/revoke", post(revoke)),
        ("/api/v1/tokens/{id}/reactivate", post(reactivate)),
        ("/api/v1/tokens/{id}/usage", get(usage)),
    ]
}

/// The token object of a token read by [`load`] or returned by `ops` (its usage live).
pub(super) fn object(state: &AppState, t: &Token) -> TokenObject {
    TokenObject::new(t, now(), &state.config)
}

/// A token of the caller's workspace with its usage not yet flushed added, read while no
/// flush commits, so a batch being written is counted exactly once (`ops` reads a changed
/// token back the same way).
pub(super) async fn load(state: &AppState, caller: &Caller, id: &str) -> AppResult<Token> {
    state
        .gate
        .token(&caller.token().workspace_id, id)
        .await?
        .ok_or_else(not_found)
}

/// What a create's absent fields fall back to: a restricted token's children inherit its
/// channel scope, IP allowlist and expiry; an admin's get none of them.
pub(super) fn base_for_create(caller: &Caller) -> DraftBase {
    let own = caller.token();
    let restricted = !caller.is_admin();
    DraftBase {
        channels: own.channel_ids(),
        ip_allowlist: if restricted {
            own.ip_allowlist.clone()
        } else {
            IpAllowlist::default()
        },
        expires_at: if restricted { own.expires_at } else { None },
        ..DraftBase::default()
    }
}

/// Applies a body over a base and validates every field (422 lists each problem).
pub(super) fn build(state: &AppState, body: TokenBody, base: DraftBase) -> AppResult<TokenDraft> {
    draft::validate(
        body.into_input(),
        base,
        &state.config.permission_catalog,
        &state.config.tiers(),
        now(),
    )
    .map_err(AppError::Validation)
}

/// A token acts within its own grant (unless it holds `admin`), as stored when the change is
/// written: `ops` reads the caller's row again inside the write transaction.
pub(super) fn ctx<'a>(state: &'a AppState, caller: &'a Caller, actor: &'a Actor) -> ops::Ctx<'a> {
    let acting = ops::Acting::Token(&caller.token().id);
    ops::Ctx::new(
        state,
        &caller.token().workspace_id,
        actor,
        Some(caller.ip),
        acting,
    )
}

/// A response that carries a secret: never cached.
pub(super) fn with_secret(
    state: &AppState,
    status: StatusCode,
    t: &Token,
    secret: &Secret,
) -> Response {
    let body = WithSecret {
        token: object(state, t),
        secret: secret.expose().to_owned(),
    };
    super::shown_once(status, body, &format!("/api/v1/tokens/{}", t.id))
}
