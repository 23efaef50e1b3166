//! Password hashing with argon2id, off the async runtime, a few at a time.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use tokio::sync::Semaphore;

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

/// How long a request waits for a hashing slot before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Hashes running at once: one per core, at most 8. Each holds 19 MiB for its run, so a burst
/// of sign-ins costs a bounded amount of memory; the rest wait their turn (first come, first
/// served) for up to [`QUEUE_WAIT`].
pub fn max_concurrent() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8))
}

fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(max_concurrent()))
}

/// Runs `work` on the blocking pool once a slot is free. The slot stays taken until `work`
/// ends, even when the request that started it is dropped.
async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let slot = tokio::time::timeout(QUEUE_WAIT, slots().acquire())
        .await
        .map_err(|_| AppError::Busy { retry_after: 5 })?
        .map_err(|e| AppError::Internal(format!("hashing slots: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
    .map_err(|e| AppError::Internal(format!("join: {e}")))
}

/// Hashes a password (argon2id, random salt) on the blocking pool.
pub async fn hash(password: String) -> Result<String, AppError> {
    run_limited(move || hash_blocking(&password)).await?
}

/// A hash to verify against when the email is unknown, so both cases take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("keyward-dummy-password").unwrap_or_default())
}

/// Verifies `password` against `stored` (or the dummy hash when `None`) on the blocking pool.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    run_limited(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        ok && known
    })
    .await
}

/// Computes the dummy hash ahead of the first sign-in.
pub fn warm_up() {
    tokio::task::spawn_blocking(|| {
        dummy_hash();
    });
}
