//! No escalation: a token without `admin` may only create or shape tokens within its own
//! permissions, channel scope, expiry and IP allowlist, and may only act on tokens whose
//! permissions and channels are within its own.

use crate::auth::bearer::Caller;
use crate::db::tokens::Token;
use crate::domain::token::{ChannelScope, TokenDraft};
use crate::error::BearerError;

fn scope_within(inner: &ChannelScope, outer: &ChannelScope) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i.iter().all(|c| o.contains(c)),
    }
}

/// May `caller` give a token these fields?
pub fn check_grant(caller: &Caller, draft: &TokenDraft) -> Result<(), BearerError> {
    if caller.is_admin() {
        return Ok(());
    }
    let own = caller.token();
    let expiry_ok = match (own.expires_at, draft.expires_at) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(mine), Some(theirs)) => theirs <= mine,
    };
    let ok = draft.permissions.within(&own.permissions)
        && scope_within(&draft.channels, &own.channel_ids())
        && expiry_ok
        && draft.ip_allowlist.within(&own.ip_allowlist);
    if ok {
        Ok(())
    } else {
        Err(BearerError::InsufficientPermission)
    }
}

/// May `caller` edit, regenerate, revoke, reactivate or delete `target`?
pub fn check_target(caller: &Caller, target: &Token) -> Result<(), BearerError> {
    if caller.is_admin() {
        return Ok(());
    }
    let own = caller.token();
    if target.permissions.within(&own.permissions)
        && scope_within(&target.channel_ids(), &own.channel_ids())
    {
        Ok(())
    } else {
        Err(BearerError::InsufficientPermission)
    }
}
