//! A secret's hint as recent requests record it, kept inline.

use std::fmt;

use crate::domain::secret::MAX_PREFIX_LEN;

/// A secret's hint (`kw_AbCd…wxyz`) in place: each request's record copies it rather than
/// share one string, whose reference count would be a line every core's requests for the
/// token write, and the flush's freeing of a second's requests another.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    len: u8,
    bytes: [u8; Hint::MAX],
}

impl Hint {
    /// The longest hint keyward makes: the longest prefix, four characters, `…`, four more.
    pub const MAX: usize = MAX_PREFIX_LEN + 4 + '…'.len_utf8() + 4;
}

impl From<&str> for Hint {
    /// A longer text (never a hint keyward made) is cut at a character boundary.
    fn from(text: &str) -> Self {
        let mut end = text.len().min(Self::MAX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::MAX];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        Self {
            len: u8::try_from(end).unwrap_or(0),
            bytes,
        }
    }
}

impl std::ops::Deref for Hint {
    type Target = str;

    fn deref(&self) -> &str {
        // Always whole characters of a `str` (`From`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;

    #[test]
    fn the_longest_prefixs_hint_is_kept_whole() {
        let prefix = "a".repeat(MAX_PREFIX_LEN);
        let hint = Secret::generate(&prefix).hint();
        assert_eq!(hint.len(), Hint::MAX);
        assert_eq!(&*Hint::from(hint.as_str()), hint);
    }

    #[test]
    fn a_longer_text_is_cut_at_a_character_boundary() {
        let text = format!("{}…wxyz", "a".repeat(Hint::MAX - 2));
        assert_eq!(&*Hint::from(text.as_str()), "a".repeat(Hint::MAX - 2));
        assert_eq!(&*Hint::from(""), "");
    }
}
