//! Fuzzes `Secret::parse` and the checksum (SPEC §3): arbitrary text, and valid secrets
//! derived from the input then damaged by one substitution or one adjacent swap.
#![no_main]

use keyward::domain::BASE62;
use keyward::domain::secret::{
    BODY_LEN, CHECKSUM_LEN, MAX_PREFIX_LEN, Secret, checksum, validate_prefix,
};
use libfuzzer_sys::fuzz_target;

const PREFIX_CHARS: &[u8; 37] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
const MIN_LEN: usize = 1 + BODY_LEN + CHECKSUM_LEN;
const MAX_LEN: usize = MAX_PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        arbitrary_text(text);
    }
    derived_secret(data);
});

/// The 6 base62 digits back to a number: the checksum must be CRC-32 written in base62.
fn decode_base62(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |n, d| {
        let v = BASE62
            .iter()
            .position(|b| b == d)
            .map_or(u64::MAX, |p| p as u64);
        n.saturating_mul(62).saturating_add(v)
    })
}

/// An independent statement of the format: accepted iff every part has its shape and the
/// checksum matches.
fn model_accepts(s: &str) -> bool {
    let b = s.as_bytes();
    if !(MIN_LEN..=MAX_LEN).contains(&b.len()) || !s.is_ascii() {
        return false;
    }
    let (head, sum) = b.split_at(b.len() - CHECKSUM_LEN);
    let (prefix, body) = head.split_at(head.len() - BODY_LEN);
    !prefix.is_empty()
        && prefix.iter().all(|c| PREFIX_CHARS.contains(c))
        && body.iter().all(|c| BASE62.contains(c))
        && crc32fast::hash(head) as u64 == decode_base62(sum)
}

fn arbitrary_text(text: &str) {
    let parsed = Secret::parse(text);
    assert_eq!(
        parsed.is_some(),
        model_accepts(text),
        "parse disagrees with the format"
    );
    // The checksum function is CRC-32 in base62, zero-padded, for any input.
    let sum = checksum(text);
    assert!(sum.iter().all(|c| BASE62.contains(c)));
    assert_eq!(
        decode_base62(&sum),
        u64::from(crc32fast::hash(text.as_bytes()))
    );
    let Some(secret) = parsed else { return };
    // A parsed secret is exactly the input, and its last 6 chars are the checksum of the rest.
    assert_eq!(secret.expose(), text);
    let (head, tail) = text.split_at(text.len() - CHECKSUM_LEN);
    assert_eq!(checksum(head).as_slice(), tail.as_bytes());
    let prefix = &head[..head.len() - BODY_LEN];
    assert!(validate_prefix(prefix).is_ok());
    // The hint shows the prefix and never more than 8 characters of the rest.
    let hint = secret.hint();
    assert!(hint.starts_with(prefix));
    assert_eq!(hint.chars().count(), prefix.len() + 4 + 1 + 4);
    assert!(!format!("{secret:?}{secret}").contains(&text[prefix.len()..]));
    assert_eq!(Secret::parse(secret.expose()).as_ref(), Some(&secret));
}

fn byte(data: &[u8], i: usize) -> u8 {
    data.get(i).copied().unwrap_or(i as u8)
}

/// Builds a valid secret from the input: prefix length and characters, then a 40-char body.
fn derive(data: &[u8]) -> String {
    let prefix_len = 1 + usize::from(byte(data, 0)) % MAX_PREFIX_LEN;
    let mut s = String::with_capacity(MAX_LEN);
    for i in 0..prefix_len {
        s.push(char::from(
            PREFIX_CHARS[usize::from(byte(data, 1 + i)) % PREFIX_CHARS.len()],
        ));
    }
    for i in 0..BODY_LEN {
        s.push(char::from(
            BASE62[usize::from(byte(data, 17 + i)) % BASE62.len()],
        ));
    }
    let sum = checksum(&s);
    s.extend(sum.iter().map(|&b| char::from(b)));
    s
}

fn derived_secret(data: &[u8]) {
    let valid = derive(data);
    let secret = Secret::parse(&valid);
    assert_eq!(secret.as_ref().map(Secret::expose), Some(valid.as_str()));

    // One character replaced by another printable ASCII character, anywhere: rejected.
    // (CRC-32 detects every error confined to 32 bits of the checksummed part, and the
    // checksum itself is compared character by character.)
    let mut bytes = valid.clone().into_bytes();
    let pos = usize::from(byte(data, 57)) % bytes.len();
    let old = bytes[pos];
    let mut new = b' ' + byte(data, 58) % 95;
    if new == old {
        new = if new == b'~' { b' ' } else { new + 1 };
    }
    bytes[pos] = new;
    let changed = String::from_utf8(bytes).unwrap_or_default();
    assert_ne!(changed, valid);
    assert!(
        Secret::parse(&changed).is_none(),
        "substitution at {pos} accepted: {changed:?}"
    );

    // Two adjacent different characters swapped, both in prefix+body or both in the checksum.
    let mut bytes = valid.clone().into_bytes();
    let split = bytes.len() - CHECKSUM_LEN;
    let pos = usize::from(byte(data, 59)) % (bytes.len() - 1);
    if pos + 1 != split && bytes[pos] != bytes[pos + 1] {
        bytes.swap(pos, pos + 1);
        let swapped = String::from_utf8(bytes).unwrap_or_default();
        assert!(
            Secret::parse(&swapped).is_none(),
            "swap at {pos} accepted: {swapped:?}"
        );
    }
}
