//! Token secrets: `<prefix><40 base62 body><6 base62 CRC-32 checksum>`, parsed from the right.

use std::fmt;

use sha2::{Digest, Sha256};

use super::BASE62;
use super::ids::random_base62;

pub const BODY_LEN: usize = 40;
pub const CHECKSUM_LEN: usize = 6;
pub const MAX_PREFIX_LEN: usize = 16;

/// A plaintext secret. `Debug` and `Display` never print it; call [`Secret::expose`] where
/// the plaintext is really needed (the one-time reveal).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// SHA-256 of a full secret: the only form that is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretHash {
    /// SHA-256 of a secret's text (what [`Secret::hash`] gives for it).
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Why a prefix setting is refused.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    let ok_chars = prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !ok_chars {
        return Err(format!(
            "token prefix must be 1-{MAX_PREFIX_LEN} characters of [a-z0-9_], got {prefix:?}"
        ));
    }
    Ok(())
}

/// CRC-32 (IEEE) of `prefix+body`, base62, left-padded with `0` to 6 characters.
pub fn checksum(prefix_and_body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(prefix_and_body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

impl Secret {
    /// A new secret under `prefix` (assumed valid: it comes from the checked configuration).
    pub fn generate(prefix: &str) -> Self {
        let mut s = String::with_capacity(prefix.len() + BODY_LEN + CHECKSUM_LEN);
        s.push_str(prefix);
        s.push_str(&random_base62(BODY_LEN));
        let sum = checksum(&s);
        s.extend(sum.iter().map(|&b| char::from(b)));
        Self(s)
    }

    /// Parses a presented secret, rejecting a bad shape or checksum without any lookup.
    pub fn parse(s: &str) -> Option<Self> {
        Self::is_valid(s).then(|| Self(s.to_owned()))
    }

    /// Whether [`Secret::parse`] accepts `s` (for the bearer path, which needs only the hash
    /// of the text and so no copy of it).
    pub fn is_valid(s: &str) -> bool {
        let min = 1 + BODY_LEN + CHECKSUM_LEN;
        if s.len() < min || s.len() > MAX_PREFIX_LEN + BODY_LEN + CHECKSUM_LEN || !s.is_ascii() {
            return false;
        }
        let split = s.len() - CHECKSUM_LEN;
        let (head, sum) = s.split_at(split);
        let (prefix, body) = head.split_at(head.len() - BODY_LEN);
        // Every byte checked, without stopping at the first bad one: the loop vectorises.
        let body_ok = body
            .bytes()
            .fold(true, |ok, b| ok & b.is_ascii_alphanumeric());
        validate_prefix(prefix).is_ok() && body_ok && checksum(head).as_slice() == sum.as_bytes()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// `kw_AbCd…wxyz`: prefix, the body's first 4 characters, the secret's last 4.
    pub fn hint(&self) -> String {
        let s = &self.0;
        let prefix_len = s.len() - BODY_LEN - CHECKSUM_LEN;
        format!("{}…{}", &s[..prefix_len + 4], &s[s.len() - 4..])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn generated_secret_has_the_spec_shape_and_parses() {
        let s = Secret::generate("kw_");
        let text = s.expose();
        assert_eq!(text.len(), 3 + BODY_LEN + CHECKSUM_LEN);
        assert!(text.starts_with("kw_"));
        assert!(text[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(Secret::parse(text), Some(s));
    }

    #[test]
    fn checksum_is_crc32_in_base62_padded() {
        // crc32("a") = 0xE8B7BE43 = 3904355907; in base62: 4GEHKN.
        assert_eq!(&checksum("a"), b"4GEHKN");
        // crc32("") = 0 → all zeros.
        assert_eq!(&checksum(""), b"000000");
    }

    #[test]
    fn a_changed_character_is_rejected() {
        let s = Secret::generate("acme_prod_");
        let mut bytes = s.expose().as_bytes().to_vec();
        bytes[12] = if bytes[12] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(Secret::parse(&changed), None);
    }

    #[test]
    fn secrets_of_an_earlier_prefix_still_parse() {
        let s = Secret::generate("old_");
        assert!(Secret::parse(s.expose()).is_some());
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        for bad in [
            "",
            "kw_",
            "kw_short",
            &"x".repeat(200),
            "KW_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000",
        ] {
            assert_eq!(Secret::parse(bad), None, "{bad}");
        }
        let s = Secret::generate("kw_");
        let with_space = format!(" {}", s.expose());
        assert_eq!(Secret::parse(&with_space), None);
        let no_prefix = &s.expose()[3..];
        assert_eq!(Secret::parse(no_prefix), None);
    }

    #[test]
    fn hint_and_debug_never_show_the_secret() {
        let s = Secret::generate("kw_");
        let text = s.expose();
        assert_eq!(
            s.hint(),
            format!("{}…{}", &text[..7], &text[text.len() - 4..])
        );
        assert!(!format!("{s:?} {s}").contains(&text[3..20]));
    }

    /// Any valid prefix: 1 to `MAX_PREFIX_LEN` characters of `[a-z0-9_]`.
    fn prefix() -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-z0-9_]{{1,{MAX_PREFIX_LEN}}}")).unwrap()
    }

    /// A secret assembled as `generate` does, from a body the strategy chose (so a failure
    /// shrinks and replays, which `generate`'s OS randomness would not).
    fn assembled() -> impl Strategy<Value = String> {
        (
            prefix(),
            proptest::string::string_regex("[0-9A-Za-z]{40}").unwrap(),
        )
            .prop_map(|(prefix, body)| {
                let head = format!("{prefix}{body}");
                let sum = checksum(&head);
                format!("{head}{}", String::from_utf8_lossy(&sum))
            })
    }

    proptest! {
        /// Generate → parse: every secret generated under any valid prefix parses back to
        /// itself, with the spec's length.
        #[test]
        fn generated_secrets_parse_back_under_any_prefix(prefix in prefix()) {
            let s = Secret::generate(&prefix);
            prop_assert_eq!(s.expose().len(), prefix.len() + BODY_LEN + CHECKSUM_LEN);
            prop_assert!(s.expose().starts_with(&prefix));
            prop_assert_eq!(Secret::parse(s.expose()), Some(s.clone()));
        }

        /// Assembled secrets (any prefix, any body) parse, so the format accepts exactly
        /// what `generate` can produce.
        #[test]
        fn assembled_secrets_parse(text in assembled()) {
            prop_assert_eq!(Secret::parse(&text).map(|s| s.expose().to_owned()), Some(text));
        }

        /// Changing any one character, at any position, to any other printable ASCII
        /// character makes the secret unparseable (CRC-32 catches every one-byte error).
        #[test]
        fn any_single_character_change_is_rejected(
            text in assembled(),
            at in any::<proptest::sample::Index>(),
            shift in 1u8..95,
        ) {
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = b' ' + (bytes[i] - b' ' + shift) % 95;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(Secret::parse(&changed), None, "{:?}", changed);
        }
    }

    #[test]
    fn prefix_rules() {
        assert!(validate_prefix("kw_").is_ok());
        assert!(validate_prefix("acme_prod_").is_ok());
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix("Kw_").is_err());
        assert!(validate_prefix("a-b").is_err());
        assert!(validate_prefix(&"a".repeat(17)).is_err());
    }
}
