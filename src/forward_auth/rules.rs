//! The forward-auth rules file (TOML, SPEC §11): which original request needs what. Parsed
//! once into [`Rules`]; a bad file is a [`RulesError`] naming the line. Judging a request
//! ([`Rules::judge`]) takes its normalised path (`super::path`): first matching rule wins.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::path::normalise;
use crate::domain::permissions::Catalog;

/// A checked rules file.
#[derive(Debug)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub default: Fallback,
}

/// What a request that no rule matches gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// 403 `no_matching_rule`.
    Deny,
    /// Any valid token.
    Authenticated,
}

#[derive(Debug)]
pub struct Rule {
    /// The line of the rule's `[[rule]]` in the file.
    pub line: usize,
    pub path: String,
    segments: Vec<Segment>,
    /// The path ends in `/*`: it and everything below it.
    prefix: bool,
    methods: Option<Vec<String>>,
    host: Option<String>,
    pub access: Access,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// A valid token holding all of these (none: any valid token).
    Permissions(Vec<String>),
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Channel,
}

/// The answer for one request: the first rule that matches (with the channel id its
/// `{channel}` captured), or the file's default.
#[derive(Debug)]
pub enum Verdict<'r, 'p> {
    Rule {
        rule: &'r Rule,
        channel: Option<&'p str>,
    },
    Default(Fallback),
}

/// A rules file that cannot be used: the line (when the fault has one) and why.
#[derive(Debug, PartialEq, Eq)]
pub struct RulesError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RulesError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    default: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    path: String,
    methods: Option<Vec<String>>,
    host: Option<String>,
    permissions: Option<Vec<String>>,
    public: Option<bool>,
}

impl Rules {
    /// Reads and checks a rules file; every permission must be in `catalog`.
    pub fn load(path: &std::path::Path, catalog: &Catalog) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            line: None,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::parse(&text, catalog)
    }

    pub fn parse(text: &str, catalog: &Catalog) -> Result<Self, RulesError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let file: FileToml = toml::from_str(text).map_err(|e| RulesError {
            line: e.span().map(|s| line_of(s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let default = match &file.default {
            None => Fallback::Deny,
            Some(d) => match d.get_ref().as_str() {
                "deny" => Fallback::Deny,
                "authenticated" => Fallback::Authenticated,
                other => {
                    return Err(RulesError {
                        line: Some(line_of(d.span().start)),
                        message: format!(
                            "default must be \"deny\" or \"authenticated\", not {other:?}"
                        ),
                    });
                }
            },
        };
        let rules = file
            .rule
            .into_iter()
            .map(|r| {
                let line = line_of(r.span().start);
                Rule::check(r.into_inner(), line, catalog).map_err(|message| RulesError {
                    line: Some(line),
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules, default })
    }

    /// The first rule matching the request, else the default. `path` is normalised.
    pub fn judge<'r, 'p>(
        &'r self,
        method: &str,
        path: &'p str,
        host: Option<&str>,
    ) -> Verdict<'r, 'p> {
        self.rules
            .iter()
            .find_map(|rule| {
                rule.matches(method, path, host)
                    .map(|channel| Verdict::Rule { rule, channel })
            })
            .unwrap_or(Verdict::Default(self.default))
    }
}

impl Rule {
    fn check(raw: RuleToml, line: usize, catalog: &Catalog) -> Result<Self, String> {
        let (segments, prefix) = pattern(&raw.path)?;
        let access = match (raw.public, raw.permissions) {
            (Some(true), None) => Access::Public,
            (Some(true), Some(_)) => {
                return Err("a rule is either public = true or has permissions, not both".into());
            }
            (_, Some(perms)) => {
                if let Some(unknown) = perms.iter().find(|p| !catalog.contains(p)) {
                    return Err(format!("unknown permission {unknown:?}"));
                }
                Access::Permissions(perms)
            }
            (_, None) => {
                return Err("a rule needs permissions = [..] or public = true".into());
            }
        };
        if access == Access::Public && segments.contains(&Segment::Channel) {
            return Err("a public rule cannot capture {channel}".into());
        }
        let methods = raw
            .methods
            .map(|ms| ms.iter().map(|m| method(m)).collect())
            .transpose()?;
        let host = raw.host.map(|h| h.trim().to_ascii_lowercase());
        if host.as_deref() == Some("") {
            return Err("host must not be empty".into());
        }
        Ok(Self {
            line,
            path: raw.path,
            segments,
            prefix,
            methods,
            host,
            access,
        })
    }

    /// The captured channel (or `None` without `{channel}`) when the rule matches.
    fn matches<'p>(
        &self,
        method: &str,
        path: &'p str,
        host: Option<&str>,
    ) -> Option<Option<&'p str>> {
        if let Some(methods) = &self.methods {
            let head_as_get = method == "HEAD" && methods.iter().any(|m| m == "GET");
            if !head_as_get && !methods.iter().any(|m| m == method) {
                return None;
            }
        }
        if let Some(want) = &self.host {
            let got = host?.to_ascii_lowercase();
            // A rule that names a port compares with it; otherwise the request's port is
            // dropped (`[::1]` has colons but no port).
            let got = if strip_port(want) != want.as_str() {
                got.as_str()
            } else {
                strip_port(&got)
            };
            if got != want {
                return None;
            }
        }
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        let mut channel = None;
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(lit) if lit != part => return None,
                Segment::Literal(_) => {}
                Segment::Channel => channel = Some(part),
            }
        }
        (self.prefix || parts.next().is_none()).then_some(channel)
    }

    /// The methods the rule is limited to, for explanations.
    pub fn methods(&self) -> Option<&[String]> {
        self.methods.as_deref()
    }

    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
}

/// `host:port` → `host` (an IPv6 literal keeps its brackets).
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// An HTTP method name, upper-cased.
fn method(m: &str) -> Result<String, String> {
    let ok = !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic());
    if ok {
        Ok(m.to_ascii_uppercase())
    } else {
        Err(format!("{m:?} is not an HTTP method"))
    }
}

/// A rule's path: exact, a prefix ending in `/*`, with `{channel}` segments.
fn pattern(path: &str) -> Result<(Vec<Segment>, bool), String> {
    let (body, prefix) = match path.strip_suffix("/*") {
        Some(body) => (body, true),
        None => (path, false),
    };
    let plain = body.replace("{channel}", "c");
    if !path.starts_with('/')
        || normalise(&plain).ok().as_deref() != Some(plain.as_str()) && !(prefix && body.is_empty())
    {
        return Err(format!(
            "path {path:?} must start with / and be written as matched: decoded, without ., .., // or a trailing /"
        ));
    }
    let mut segments = Vec::new();
    for part in body.split('/').filter(|s| !s.is_empty()) {
        if part == "{channel}" {
            if segments.contains(&Segment::Channel) {
                return Err(format!("path {path:?} captures {{channel}} twice"));
            }
            segments.push(Segment::Channel);
        } else if part.contains(['{', '}', '*']) {
            return Err(format!(
                "path {path:?}: only whole {{channel}} segments and a final /* are patterns"
            ));
        } else {
            segments.push(Segment::Literal(part.to_owned()));
        }
    }
    Ok((segments, prefix))
}
