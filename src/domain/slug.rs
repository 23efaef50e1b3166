//! Workspace slugs: the name in lower case, each run of other characters than `a-z0-9` one `-`.

/// `Acme Inc.` → `acme-inc`. Returns an empty string when nothing usable is left.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugify_follows_the_spec() {
        assert_eq!(slugify("Acme Inc."), "acme-inc");
        assert_eq!(slugify("  --Hello,   World-- "), "hello-world");
        assert_eq!(slugify("ÄÖÜ"), "");
        assert_eq!(slugify("v2 API"), "v2-api");
    }
}
