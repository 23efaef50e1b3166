//! Opaque random identifiers (`tok_…`, `ch_…`) and random codes from the OS CSPRNG.

use rand::rngs::SysRng;
use rand::{RngExt, rand_core::UnwrapErr};

use super::BASE62;

/// `n` base62 characters from the operating system's CSPRNG.
pub fn random_base62(n: usize) -> String {
    let mut rng = UnwrapErr(SysRng);
    (0..n)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect()
}

/// `N` random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    UnwrapErr(SysRng).fill(&mut bytes);
    bytes
}

/// A new opaque id such as `tok_3fZ9…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(20))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `text`, as lowercase hex: how one-time codes and session ids are stored.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let (a, b) = (new_id("tok"), new_id("tok"));
        assert!(a.starts_with("tok_") && a.len() == 24);
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
