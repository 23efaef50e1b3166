//! The one-time reveal across servers: a new secret waits in the database sealed with a
//! one-time pad that only the browser holds, so the page that shows it may be served by any
//! server of the installation, and neither the database nor the browser alone holds it.
//!
//! Sealing is `secret XOR pad`, with a fresh random pad as long as the secret, used once and
//! never stored server-side: a one-time pad, which no cipher crate would make stronger. What
//! comes out is checked against the token's stored hash before it is shown.

use axum::http::{HeaderMap, HeaderValue};
use tower_sessions::cookie::{Cookie, SameSite};

use crate::auth::session::Member;
use crate::db;
use crate::domain::ids::{hex, random_base62, random_bytes, sha256_hex};
use crate::domain::{now, secret::Secret};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The session key of the sealed secret's id.
const SESSION_KEY: &str = "reveal";
/// How long a secret waits for its page.
pub const TTL: i64 = 600;
/// The longest secret sealed (a prefix of 16 and the body; the format is far shorter).
const MAX_LEN: usize = 128;

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-keyward_reveal"
    } else {
        "keyward_reveal"
    }
}

fn cookie(state: &AppState, value: String, max_age: i64) -> AppResult<HeaderValue> {
    let c = Cookie::build((cookie_name(state), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies())
        .path("/")
        .max_age(tower_sessions::cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&c.to_string()).map_err(|e| AppError::Internal(format!("cookie: {e}")))
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (s.len().is_multiple_of(2) && s.len() <= 2 * MAX_LEN)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

/// Seals `secret` for this member's next page; returns the cookie (the pad) to set on the
/// redirect.
pub async fn hold(
    state: &AppState,
    m: &Member,
    token_id: &str,
    secret: &Secret,
    regenerated: bool,
) -> AppResult<HeaderValue> {
    let plain = secret.expose().as_bytes();
    if plain.len() > MAX_LEN {
        return Err(AppError::Internal("secret too long to seal".into()));
    }
    let pad: [u8; MAX_LEN] = random_bytes();
    let pad = &pad[..plain.len()];
    let id = random_base62(32);
    let sealed = db::reveals::Sealed {
        token_id: token_id.to_owned(),
        regenerated: i64::from(regenerated),
        sealed: xor(plain, pad),
    };
    let at = now();
    db::reveals::insert(
        &state.db,
        &sha256_hex(&id),
        &m.admin.id,
        &sealed,
        at,
        at + TTL,
    )
    .await?;
    m.session
        .insert(SESSION_KEY, id)
        .await
        .map_err(|e| AppError::Internal(format!("session: {e}")))?;
    cookie(state, hex(pad), TTL)
}

/// A secret unsealed for this member, once; `None` when there is none (shown already,
/// expired, another browser). Also returns the cookie that clears the pad.
pub async fn take(
    state: &AppState,
    m: &Member,
    headers: &HeaderMap,
) -> AppResult<(Option<(String, Secret, bool)>, HeaderValue)> {
    let clear = cookie(state, String::new(), 0)?;
    let id: Option<String> = m
        .session
        .remove(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(format!("session: {e}")))?;
    let pad = crate::auth::cookie(headers, cookie_name(state)).and_then(unhex);
    let (Some(id), Some(pad)) = (id, pad) else {
        return Ok((None, clear));
    };
    let Some(row) = db::reveals::take(&state.db, &sha256_hex(&id), &m.admin.id, now()).await?
    else {
        return Ok((None, clear));
    };
    let unsealed = (row.sealed.len() == pad.len())
        .then(|| String::from_utf8(xor(&row.sealed, &pad)).ok())
        .flatten()
        .and_then(|s| Secret::parse(&s));
    let Some(secret) = unsealed else {
        return Ok((None, clear));
    };
    // The pad belongs to this secret only if the result is the token's secret.
    let stored = db::tokens::by_hash(&state.db, &secret.hash()).await?;
    let mine = |(t, used): (db::tokens::Token, db::tokens::Used)| {
        used == db::tokens::Used::Current
            && t.id == row.token_id
            && t.workspace_id == m.workspace.id
    };
    if !stored.is_some_and(mine) {
        return Ok((None, clear));
    }
    Ok((Some((row.token_id, secret, row.regenerated != 0)), clear))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pad_round_trips_through_hex_and_seals_by_xor() {
        let pad = [0u8, 1, 0xab, 0xff];
        assert_eq!(unhex(&hex(&pad)).as_deref(), Some(&pad[..]));
        assert_eq!(unhex("abc"), None, "odd length");
        assert_eq!(unhex("zz"), None, "not hex");
        assert_eq!(unhex(&"00".repeat(MAX_LEN + 1)), None, "too long");
        let secret = b"kw_secret";
        assert_eq!(xor(&xor(secret, &pad), &pad)[..4], secret[..4]);
    }
}
