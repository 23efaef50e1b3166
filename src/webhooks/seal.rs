//! Webhook signing secrets at rest: sealed with ChaCha20-Poly1305 under a 32-byte key taken
//! from `--secret-key` / `--secret-key-file` (hashed with SHA-256), or, when neither is set,
//! from a random key kept in the database's `server_keys` (which then protects only against
//! a leak of the webhook rows alone; SECURITY.md says so). Sealed = nonce (12) ‖ ciphertext.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::state::AppState;

use crate::db::server_keys::WEBHOOK_SEAL as KEY_NAME;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read the secret key file: {0}")]
    KeyFile(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("a webhook secret cannot be opened with this server's secret key")]
    Open,
}

/// The server's sealing key (read once).
pub async fn key(state: &AppState) -> Result<[u8; 32], SealError> {
    let key = state
        .seal_key
        .get_or_try_init(|| async {
            if let Some(material) = configured(&state.config)? {
                return Ok::<_, SealError>(Sha256::digest(material.trim().as_bytes()).into());
            }
            let fresh = crate::domain::ids::random_bytes::<32>();
            let stored = crate::db::server_keys::get_or_insert(&state.db, KEY_NAME, &fresh).await?;
            Ok(Sha256::digest(&stored).into())
        })
        .await?;
    Ok(*key)
}

fn configured(config: &crate::Config) -> Result<Option<String>, std::io::Error> {
    if let Some(k) = &config.secret_key {
        return Ok(Some(k.clone()));
    }
    config
        .secret_key_file
        .as_ref()
        .map(std::fs::read_to_string)
        .transpose()
}

pub fn seal(key: &[u8; 32], plain: &str) -> Vec<u8> {
    let nonce = crate::domain::ids::random_bytes::<12>();
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let mut out = nonce.to_vec();
    // Encryption fails only for messages over 256 GiB.
    out.extend(
        cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default(),
    );
    out
}

pub fn open(key: &[u8; 32], sealed: &[u8]) -> Result<String, SealError> {
    if sealed.len() < 12 {
        return Err(SealError::Open);
    }
    let (nonce, body) = sealed.split_at(12);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce), body)
        .map_err(|_| SealError::Open)?;
    String::from_utf8(plain).map_err(|_| SealError::Open)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let sealed = seal(&k1, "whsec_abc");
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(open(&k1, &sealed).unwrap(), "whsec_abc");
        assert!(open(&k2, &sealed).is_err());
        assert!(open(&k1, &sealed[..5]).is_err());
    }
}
