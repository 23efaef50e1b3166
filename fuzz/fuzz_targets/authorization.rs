//! Fuzzes `parse_authorization` (SPEC §6, first check): arbitrary header bytes, and headers
//! built around a valid secret derived from the input.
#![no_main]

use keyward::bearer::parse_authorization;
use keyward::domain::BASE62;
use keyward::domain::secret::{BODY_LEN, Secret, checksum};
use keyward::error::BearerError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arbitrary_header(data);
    built_header(data);
});

fn arbitrary_header(data: &[u8]) {
    match parse_authorization(Some(data)) {
        Ok(secret) => {
            // Accepted: UTF-8, scheme `bearer` in any case, and the secret is in the input.
            let text = std::str::from_utf8(data).unwrap_or_default().trim();
            assert!(text.contains(secret.expose()));
            assert!(
                text.get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
            );
            assert_eq!(Secret::parse(secret.expose()).as_ref(), Some(&secret));
        }
        // Another scheme (or none) is "missing", never "invalid": only UTF-8 text can say so.
        Err(BearerError::MissingToken) => assert!(std::str::from_utf8(data).is_ok()),
        Err(BearerError::InvalidToken) => {}
        Err(other) => panic!("parsing alone returned {other:?}"),
    }
}

fn byte(data: &[u8], i: usize) -> u8 {
    data.get(i).copied().unwrap_or(i as u8)
}

/// Whitespace chosen by the input: none, spaces or tabs, up to 3 characters.
fn padding(b: u8) -> String {
    let c = if b & 4 == 0 { ' ' } else { '\t' };
    std::iter::repeat_n(c, usize::from(b & 3)).collect()
}

/// `Bearer` in a case chosen by the input, one space, then the secret, with whitespace
/// around it: always accepted, and always the same secret.
fn built_header(data: &[u8]) {
    let mut secret = String::from("kw_");
    for i in 0..BODY_LEN {
        secret.push(char::from(
            BASE62[usize::from(byte(data, 8 + i)) % BASE62.len()],
        ));
    }
    let sum = checksum(&secret);
    secret.extend(sum.iter().map(|&b| char::from(b)));
    let case = byte(data, 0);
    let scheme: String = "bearer"
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if case >> i & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let header = format!(
        "{}{scheme} {}{secret}{}",
        padding(byte(data, 1)),
        padding(byte(data, 2)),
        padding(byte(data, 3))
    );
    let parsed = parse_authorization(Some(header.as_bytes()));
    assert_eq!(
        parsed.as_ref().map(Secret::expose),
        Ok(secret.as_str()),
        "{header:?}"
    );
}
