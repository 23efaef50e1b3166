//! Standard Webhooks signatures: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed
//! with the decoded bytes of the endpoint's `whsec_…` secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes = crate::domain::ids::random_bytes::<32>();
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of a `whsec_…` secret (`None` when it is not one).
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()
}

/// The `webhook-signature` header value for one attempt.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length; this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The README's Rust verifier, as printed there.
    #[rustfmt::skip]
    mod readme {
        use base64::{Engine, engine::general_purpose::STANDARD};
        use hmac::{Hmac, Mac};

        pub fn verify(secret: &str, id: &str, ts: &str, body: &[u8], header: &str) -> bool {
            let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else { return false };
            let mac = || Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
            header.split(' ').filter_map(|s| s.strip_prefix("v1,")).filter_map(|s| STANDARD.decode(s).ok()).any(|sig| {
                let mut m = mac();
                m.update(format!("{id}.{ts}.").as_bytes());
                m.update(body);
                m.verify_slice(&sig).is_ok() // constant-time; also check `ts` is recent
            })
        }
    }

    /// STACK.md: a verifier that compared only up to the shorter signature accepted `v1,`.
    #[test]
    fn the_readme_verifier_accepts_the_example_and_refuses_a_bare_or_wrong_signature() {
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let (id, ts) = ("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553");
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert!(readme::verify(secret, id, ts, body, good));
        assert!(readme::verify(
            secret,
            id,
            ts,
            body,
            &format!("v1,AAAA {good}")
        ));
        for bad in [
            "v1,",
            "v1",
            "",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkx=",
        ] {
            assert!(!readme::verify(secret, id, ts, body, bad), "{bad:?}");
        }
        assert!(!readme::verify(secret, id, "1649367554", body, good));
    }

    /// The example of the Standard Webhooks specification (STACK.md).
    #[test]
    fn signature_matches_the_specifications_example_vector() {
        let key = key_of("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let sig = sign(
            &key,
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        let other = sign(&key, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_554, "{}");
        assert_ne!(other, sig);
    }

    #[test]
    fn new_secrets_decode_to_32_bytes_and_differ() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(key_of(&a).unwrap().len(), 32);
        assert!(key_of("nope").is_none());
    }
}
