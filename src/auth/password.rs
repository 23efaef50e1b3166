//! Password hashing with argon2id, off the async runtime.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::AppError;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// Checks the password rules; the error is shown to the user.
pub fn check_rules(password: &str) -> Result<(), String> {
    match password.chars().count() {
        n if n < MIN_LEN => Err(format!("Password must be at least {MIN_LEN} characters")),
        n if n > MAX_LEN => Err(format!("Password must be at most {MAX_LEN} characters")),
        _ => Ok(()),
    }
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// Hashes a password (argon2id, random salt) on the blocking pool.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(format!("join: {e}")))?
}

/// A hash to verify against when the email is unknown, so both cases take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("keyward-dummy-password").unwrap_or_default())
}

/// Verifies `password` against `stored` (or the dummy hash when `None`) on the blocking pool.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash ahead of the first sign-in.
pub fn warm_up() {
    tokio::task::spawn_blocking(|| {
        dummy_hash();
    });
}
