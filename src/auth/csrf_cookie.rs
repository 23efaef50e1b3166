//! CSRF for the forms shown before anyone is signed in (sign-in, setup): a signed double-submit
//! cookie. A random value goes into a short-lived cookie, and an HMAC of it with the time it was
//! issued into the form; a POST must bring both. Nothing is stored, so showing these pages
//! writes nothing, and the key lives in the database so every process signs and checks alike.

use std::convert::Infallible;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponseParts, ResponseParts};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_sessions::cookie::{Cookie, SameSite};

use crate::db;
use crate::domain::ids::{constant_time_eq, random_base62, random_bytes};
use crate::domain::now;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Seconds a shown form stays valid (and its cookie lives).
pub const TTL: i64 = 2 * 60 * 60;
const VALUE_LEN: usize = 32;
const KEY_NAME: &str = "form_csrf";

/// The cookie's name. Behind https it is `__Host-` prefixed (Secure, path `/`, no domain), so
/// neither a sibling subdomain nor a plain-http page can plant one.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-keyward_form"
    } else {
        "keyward_form"
    }
}

fn mac(key: &[u8; 32], value: &str, issued_at: i64) -> Option<String> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    m.update(b"keyward form v1\0");
    m.update(value.as_bytes());
    m.update(b"\0");
    m.update(issued_at.to_string().as_bytes());
    Some(crate::domain::ids::hex(&m.finalize().into_bytes()))
}

/// The form's token for the cookie `value`: `ISSUED_AT.MAC`.
pub fn sign(key: &[u8; 32], value: &str, now: i64) -> Option<String> {
    Some(format!("{now}.{}", mac(key, value, now)?))
}

/// Whether `token` was signed for `value` within the last [`TTL`] (compared in constant time).
pub fn verify(key: &[u8; 32], value: &str, token: &str, now: i64) -> bool {
    let Some((issued, presented)) = token.split_once('.') else {
        return false;
    };
    let Ok(issued_at) = issued.parse::<i64>() else {
        return false;
    };
    (now - TTL..=now + 60).contains(&issued_at)
        && mac(key, value, issued_at).is_some_and(|expected| constant_time_eq(&expected, presented))
}

/// The signing key: made once (32 random bytes) and kept in the database.
async fn key(state: &AppState) -> AppResult<&[u8; 32]> {
    state
        .form_key
        .get_or_try_init(|| async {
            let fresh: [u8; 32] = random_bytes();
            let stored = db::server_keys::get_or_insert(&state.db, KEY_NAME, &fresh).await?;
            <[u8; 32]>::try_from(stored.as_slice())
                .map_err(|_| AppError::Internal(format!("server key {KEY_NAME} is not 32 bytes")))
        })
        .await
}

/// The form cookie's value in a request, when it has a well-formed one.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    super::cookie(headers, name)
        .filter(|v| v.len() == VALUE_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned)
}

/// A shown form's token, and the cookie it goes with (set on the response).
pub struct FormToken {
    pub token: String,
    cookie: HeaderValue,
}

impl FormToken {
    /// Signs a token for the browser's form cookie, or for a new one. Reusing the cookie keeps
    /// forms in several open tabs valid.
    pub async fn issue(state: &AppState, headers: &HeaderMap) -> AppResult<Self> {
        let secure = state.config.secure_cookies();
        let name = cookie_name(secure);
        let value = cookie_value(headers, name).unwrap_or_else(|| random_base62(VALUE_LEN));
        let token = sign(key(state).await?, &value, now())
            .ok_or_else(|| AppError::Internal("cannot sign the form token".into()))?;
        let cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .path("/")
            .max_age(tower_sessions::cookie::time::Duration::seconds(TTL))
            .build();
        let cookie = HeaderValue::from_str(&cookie.to_string())
            .map_err(|e| AppError::Internal(format!("form cookie: {e}")))?;
        Ok(Self { token, cookie })
    }
}

impl IntoResponseParts for FormToken {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        res.headers_mut().append(header::SET_COOKIE, self.cookie);
        Ok(res)
    }
}

/// Whether the request brings a form cookie and a token signed for it.
pub async fn check(
    state: &AppState,
    headers: &HeaderMap,
    presented: Option<&str>,
) -> AppResult<bool> {
    let name = cookie_name(state.config.secure_cookies());
    let (Some(value), Some(token)) = (cookie_value(headers, name), presented) else {
        return Ok(false);
    };
    Ok(verify(key(state).await?, &value, token, now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const VALUE: &str = "0123456789abcdefghijABCDEFGHIJkl";

    #[test]
    fn a_token_verifies_for_its_cookie_value_within_its_lifetime_only() {
        let token = sign(&KEY, VALUE, 1_000_000).unwrap_or_default();
        assert!(verify(&KEY, VALUE, &token, 1_000_000 + TTL));
        assert!(!verify(&KEY, VALUE, &token, 1_000_000 + TTL + 1), "expired");
        assert!(
            !verify(&KEY, &VALUE.replace('0', "1"), &token, 1_000_000),
            "other cookie"
        );
        assert!(!verify(&[8; 32], VALUE, &token, 1_000_000), "other key");
        let later = token.replacen("1000000", "1000001", 1);
        assert!(
            !verify(&KEY, VALUE, &later, 1_000_001),
            "issued time is signed"
        );
        for forged in ["", ".", "1000000.", "1000000.00", "x.y"] {
            assert!(!verify(&KEY, VALUE, forged, 1_000_000), "{forged:?}");
        }
    }

    #[test]
    fn only_a_well_formed_cookie_of_the_right_name_is_read() {
        let mut h = HeaderMap::new();
        let cookie = format!("a=b; keyward_form={VALUE}; c=d");
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(cookie_value(&h, "keyward_form").as_deref(), Some(VALUE));
        assert_eq!(cookie_value(&h, "__Host-keyward_form"), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("keyward_form=short"),
        );
        assert_eq!(cookie_value(&h, "keyward_form"), None);
    }
}
