//! The original request's path, normalised before any rule sees it: the query dropped,
//! each segment percent-decoded once, `.` and empty segments (`//`) dropped, `..` taking the
//! previous segment away (never above the root), no trailing slash. What an upstream could
//! read as a different path than the one judged is refused instead: an encoded `/` (`%2f`),
//! a backslash, a control character, an encoded `%` that decodes to another escape
//! (`%252e`), a `.`/`..` carrying a `;` parameter (`..;` is `..` to Tomcat), bytes that are
//! not UTF-8.

use std::borrow::Cow;
use std::fmt;

/// Why a path is refused rather than judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    EncodedSlash,
    Backslash,
    Control,
    DoubleEncoded,
    DotParameter,
    NotUtf8,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "the path does not start with /",
            Self::EncodedSlash => "the path has an encoded slash (%2F)",
            Self::Backslash => "the path has a backslash",
            Self::Control => "the path has a control character",
            Self::DoubleEncoded => "the path has a percent sign that decodes to another escape",
            Self::DotParameter => "the path has a . or .. segment with a ; parameter",
            Self::NotUtf8 => "the path does not decode to UTF-8",
        })
    }
}

/// The normalised path of a request target (`/a/b?x=1` → `/a/b`): the target's own text
/// when it is already normal (the common case, no copy).
pub fn normalise(target: &str) -> Result<Cow<'_, str>, PathError> {
    let end = target.bytes().position(|b| b == b'?' || b == b'#');
    let path = end.map_or(target, |i| &target[..i]);
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if already_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    let mut kept: Vec<String> = Vec::new();
    for raw in path.split('/') {
        let segment = decode(raw)?;
        match segment.as_str() {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s if s.contains(';') && matches!(s.split(';').next(), Some("." | "..")) => {
                return Err(PathError::DotParameter);
            }
            _ => kept.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &kept {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Whether the path is its own normal form (the common case, taken without decoding): plain
/// ASCII without escapes, backslashes or control characters, and no empty, `.` or `..`
/// segment (nor one with a `;` parameter). One pass over the bytes (`path` starts with `/`).
fn already_normal(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    // Of the segment being read: the length of its part before any `;`, whether that part is
    // all dots, and whether a `;` has ended it.
    let (mut head, mut dots, mut ended) = (0usize, true, false);
    // A segment whose part before `;` is empty, `.` or `..` is not normal.
    let bad = |head: usize, dots: bool| head == 0 || (dots && head <= 2);
    for &b in &path.as_bytes()[1..] {
        if !b.is_ascii_graphic() || b == b'%' || b == b'\\' {
            return false;
        }
        match b {
            b'/' => {
                if bad(head, dots) {
                    return false;
                }
                (head, dots, ended) = (0, true, false);
            }
            b';' => ended = true,
            _ if !ended => {
                head += 1;
                dots &= b == b'.';
            }
            _ => {}
        }
    }
    !bad(head, dots)
}

/// One segment, percent-decoded once and checked.
fn decode(raw: &str) -> Result<String, PathError> {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    let text = String::from_utf8(bytes).map_err(|_| PathError::NotUtf8)?;
    if text.contains('/') {
        return Err(PathError::EncodedSlash);
    }
    if text.contains('\\') {
        return Err(PathError::Backslash);
    }
    if text.chars().any(char::is_control) {
        return Err(PathError::Control);
    }
    if raw.contains('%') && has_escape(&text) {
        return Err(PathError::DoubleEncoded);
    }
    Ok(text)
}

/// Whether `text` still holds a `%XX` escape.
fn has_escape(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_double_slashes_and_trailing_slashes_go() {
        for (raw, want) in [
            ("/", "/"),
            ("/orders", "/orders"),
            ("/orders/", "/orders"),
            ("//orders//1/", "/orders/1"),
            ("/orders/./1", "/orders/1"),
            ("/orders/../admin", "/admin"),
            ("/orders/1/../../admin/x", "/admin/x"),
            ("/../../admin", "/admin"),
            ("/orders?x=/../admin", "/orders"),
            ("/orders#/../admin", "/orders"),
        ] {
            assert_eq!(normalise(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn percent_encoded_dots_are_decoded_before_resolving() {
        for raw in [
            "/orders/%2e%2e/admin",
            "/orders/%2E%2E/admin",
            "/orders/.%2e/admin",
            "/orders/%2e./admin",
            "/orders/%2e/../admin",
        ] {
            assert_eq!(normalise(raw).as_deref(), Ok("/admin"), "{raw}");
        }
        assert_eq!(normalise("/caf%C3%A9").as_deref(), Ok("/café"));
        assert_eq!(normalise("/a%20b").as_deref(), Ok("/a b"));
    }

    #[test]
    fn paths_an_upstream_could_read_differently_are_refused() {
        for (raw, why) in [
            ("orders", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("/orders%2f..%2fadmin", PathError::EncodedSlash),
            ("/orders/%2F", PathError::EncodedSlash),
            ("/orders\\..\\admin", PathError::Backslash),
            ("/orders/%5c..", PathError::Backslash),
            ("/orders/%00", PathError::Control),
            ("/orders/%0a", PathError::Control),
            ("/orders/%252e%252e/admin", PathError::DoubleEncoded),
            ("/orders/..;/admin", PathError::DotParameter),
            ("/orders/.;x=1/admin", PathError::DotParameter),
            ("/orders/%ff", PathError::NotUtf8),
        ] {
            assert_eq!(normalise(raw), Err(why), "{raw}");
        }
    }

    #[test]
    fn the_fast_path_takes_only_paths_that_are_their_own_normal_form() {
        for raw in ["/", "/orders", "/orders/7", "/a;b/c", "/...", "/a.b/.c/c."] {
            assert!(already_normal(raw), "{raw}");
            assert_eq!(normalise(raw).as_deref(), Ok(raw));
        }
        for raw in [
            "//a", "/a/", "/a/./b", "/a/../b", "/..;/a", "/;x", "/a%2e", "/a\\b", "/a b",
        ] {
            assert!(!already_normal(raw), "{raw}");
        }
    }

    proptest::proptest! {
        /// The one-pass check says what its definition says: plain bytes, and no segment whose
        /// part before `;` is empty, `.` or `..`.
        #[test]
        fn the_fast_path_check_agrees_with_its_definition(rest in "[a./;%\\\\ ]{0,12}") {
            let path = format!("/{rest}");
            let plain = path
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'%' && b != b'\\');
            let by_split = plain
                && (path == "/"
                    || path[1..]
                        .split('/')
                        .all(|s| !matches!(s.split(';').next(), Some("" | "." | ".."))));
            proptest::prop_assert_eq!(already_normal(&path), by_split, "{}", path);
        }
    }

    #[test]
    fn a_literal_percent_and_semicolons_elsewhere_are_kept() {
        assert_eq!(normalise("/100%25").as_deref(), Ok("/100%"));
        assert_eq!(normalise("/a;b/c").as_deref(), Ok("/a;b/c"));
        assert_eq!(normalise("/...").as_deref(), Ok("/..."));
    }
}
