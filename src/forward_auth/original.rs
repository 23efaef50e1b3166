//! The request a proxy asks about, read in place from its headers: `X-Forwarded-Method`/
//! `-Uri`/`-Host` (Caddy, Traefik) or `X-Original-Method`/`-URI` with `Host` (nginx), and its
//! path normalised before any rule sees it.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, Method};

use super::path::normalise;

/// The headers [`Original::of`] reads, by their names' lower-case text (as a `HeaderName`
/// gives it).
const NAMES: [&str; 6] = [
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-original-method",
    "x-original-uri",
    "host",
];

/// Which proxy's endpoint: its headers are read first, and nginx gets only 200, 401 or 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// `/api/v1/forward-auth`: Caddy, Traefik (`X-Forwarded-*` first).
    Forward,
    /// `/api/v1/auth-request`: nginx (`X-Original-*` first).
    Nginx,
}

impl Face {
    /// The endpoint's route, as the request log names it.
    pub fn route(self) -> &'static str {
        match self {
            Face::Forward => "/api/v1/forward-auth",
            Face::Nginx => "/api/v1/auth-request",
        }
    }
}

/// The request the proxy asks about, read in place from the proxy's headers.
pub(super) struct Original<'h> {
    pub method: Method,
    /// As the proxy sent it, without the query (what usage records).
    pub target: &'h str,
    pub host: Option<&'h str>,
}

/// Why the original request cannot be judged (a 403 with this code and detail).
pub(super) struct Unreadable {
    pub code: &'static str,
    pub detail: String,
}

/// The original request as the proxy described it, its normalised path, and why it cannot
/// be judged when it cannot (refused after the 401 checks, so a missing token is always 401).
pub(super) struct Read<'h> {
    pub original: Option<Original<'h>>,
    pub path: Option<Cow<'h, str>>,
    pub refusal: Option<Unreadable>,
}

impl<'h> Read<'h> {
    pub fn of(headers: &'h HeaderMap, face: Face) -> Self {
        let original = match Original::of(headers, face) {
            Ok(o) => o,
            Err(refused) => {
                return Self {
                    original: None,
                    path: None,
                    refusal: Some(refused),
                };
            }
        };
        match normalise(original.target) {
            Ok(path) => Self {
                original: Some(original),
                path: Some(path),
                refusal: None,
            },
            Err(e) => Self {
                original: Some(original),
                path: None,
                refusal: Some(Unreadable {
                    code: "invalid_path",
                    detail: format!("The original request's path is refused: {e}."),
                }),
            },
        }
    }
}

impl<'h> Original<'h> {
    /// The method, target and host from the proxy's headers: `X-Forwarded-Method`/`-Uri`/
    /// `-Host` (Caddy, Traefik) or `X-Original-Method`/`-URI` with `Host` (nginx), the set of
    /// the endpoint's own proxy first. Both sets naming different requests are refused: a
    /// client's copy of the set its proxy does not send can never pass for the original.
    fn of(headers: &'h HeaderMap, face: Face) -> Result<Self, Unreadable> {
        let [
            forwarded_method,
            forwarded_uri,
            forwarded_host,
            original_method,
            original_uri,
            host,
        ] = first_texts(headers);
        let forwarded = (forwarded_method, forwarded_uri);
        let original = (original_method, original_uri);
        let invalid = |detail: &str| Unreadable {
            code: "invalid_original_request",
            detail: detail.to_owned(),
        };
        if forwarded.1.is_some() && original.1.is_some() && forwarded != original {
            return Err(invalid(
                "X-Forwarded-Method/-Uri and X-Original-Method/-URI name different requests.",
            ));
        }
        let from_forwarded = match face {
            Face::Forward => forwarded.1.is_some(),
            Face::Nginx => original.1.is_none(),
        };
        let (method, uri) = if from_forwarded { forwarded } else { original };
        let uri = uri.ok_or_else(|| {
            invalid("Send the original request as X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI.")
        })?;
        let method = method
            .map(str::trim)
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()))
            .and_then(method_of)
            .ok_or_else(|| invalid("The original request's method is missing or not a method."))?;
        // nginx's original host is its subrequest's Host; X-Forwarded-Host comes with the
        // X-Forwarded set.
        let host = from_forwarded.then_some(forwarded_host).flatten().or(host);
        Ok(Self {
            method,
            target: uri.split('?').next().unwrap_or_default(),
            host,
        })
    }
}

/// The first value of each of [`NAMES`], as text (`None` when that value is not), found in
/// one pass over the request's headers: a lookup by name hashes the name, byte by byte for
/// these non-standard ones (six lookups cost ~1,250 instructions a check).
fn first_texts(headers: &HeaderMap) -> [Option<&str>; 6] {
    // Each name's first value, as `HeaderMap::get` returns it: a later one changes nothing.
    let mut first: [Option<&HeaderValue>; 6] = [None; 6];
    for (name, value) in headers {
        if let Some(i) = NAMES.iter().position(|n| *n == name.as_str())
            && first[i].is_none()
        {
            first[i] = Some(value);
        }
    }
    first.map(|v| v.and_then(|v| v.to_str().ok()))
}

/// A method in any case (`get` is `GET`); upper case as proxies send it is read without a
/// copy.
fn method_of(m: &str) -> Option<Method> {
    if m.bytes().all(|b| b.is_ascii_uppercase()) {
        Method::from_bytes(m.as_bytes()).ok()
    } else {
        Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
    }
}
