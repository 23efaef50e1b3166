//! `keyward forward-auth check --rules FILE METHOD URL`: which rule a request matches and
//! what it then needs, as the endpoints would judge it.

use super::path::normalise;
use super::rules::{Access, Fallback, Rules, Verdict};

/// The explanation, several lines; the method and URL as a proxy would pass them (a URL
/// with a scheme and host, or a path).
pub fn explain(rules: &Rules, method: &str, url: &str) -> String {
    let method = method.to_ascii_uppercase();
    let (host, target) = split_url(url);
    let mut out = format!("request: {method} {target}");
    if let Some(h) = host {
        out.push_str(&format!(" (host {h})"));
    }
    let path = match normalise(target) {
        Ok(p) => p,
        Err(e) => {
            out.push_str(&format!(
                "\nrefused before any rule: {e} (403 invalid_path)"
            ));
            return out;
        }
    };
    out.push_str(&format!("\nnormalised path: {path}"));
    match rules.judge(&method, &path, host) {
        Verdict::Rule { rule, channel } => {
            out.push_str(&format!(
                "\nmatches rule {} (line {}): path = {:?}",
                position(rules, rule.line),
                rule.line,
                rule.path
            ));
            if let Some(ms) = rule.methods() {
                out.push_str(&format!(", methods = {ms:?}"));
            }
            if let Some(h) = rule.host() {
                out.push_str(&format!(", host = {h:?}"));
            }
            out.push_str(&match (&rule.access, channel) {
                (Access::Public, _) => "\nallowed without a token (public)".to_owned(),
                (Access::Permissions(ps), None) => format!("\nneeds a valid token{}", holding(ps)),
                (Access::Permissions(ps), Some(c)) => format!(
                    "\nneeds a valid token{} whose channel scope includes {c:?}",
                    holding(ps)
                ),
            });
        }
        Verdict::Default(Fallback::Deny) => {
            out.push_str("\nno rule matches; default = \"deny\": refused with 403 no_matching_rule")
        }
        Verdict::Default(Fallback::Authenticated) => {
            out.push_str("\nno rule matches; default = \"authenticated\": needs any valid token")
        }
    }
    out
}

fn holding(permissions: &[String]) -> String {
    if permissions.is_empty() {
        String::new()
    } else {
        format!(" holding {}", permissions.join(", "))
    }
}

/// The rule's number (from 1) in the file.
fn position(rules: &Rules, line: usize) -> usize {
    rules
        .rules
        .iter()
        .position(|r| r.line == line)
        .map_or(0, |i| i + 1)
}

/// `https://host:port/p?q` → (`host:port`, `/p?q`); a bare path has no host.
fn split_url(url: &str) -> (Option<&str>, &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return (None, url);
    };
    match rest.find('/') {
        Some(i) => (Some(&rest[..i]), &rest[i..]),
        None => (Some(rest), "/"),
    }
}
