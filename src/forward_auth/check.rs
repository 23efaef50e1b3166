//! One forward-auth check, in the order it runs ([`check`]): read the original request from
//! the proxy's headers, normalise its path, find what it needs (rules file and query
//! parameters); a public route is answered at once. Everything else takes the API's bearer
//! path — the [`Gate`](crate::bearer::Gate)'s 401 checks and budget spending — then an
//! unreadable request or path is refused, then the token's IP allowlist, a matching rule, the
//! permissions, the channel and the rate limit; and it is counted like an API request
//! ([`track::count`]), under the original method and path.

use std::borrow::Cow;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, HOST, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Judge;
use super::path::normalise;
use super::rules::{Access, Fallback, Rules, Verdict};
use crate::bearer::track::{self, Seen};
use crate::bearer::{Admitted, Authentication, Caller, Gate};
use crate::error::{AppError, BearerError, problem};
use crate::request_log::{self, RouteName};
use crate::web::headers::NO_STORE;

pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-keyward-token-id");
pub const TOKEN_NAME: HeaderName = HeaderName::from_static("x-keyward-token-name");
pub const WORKSPACE: HeaderName = HeaderName::from_static("x-keyward-workspace");
pub const PERMISSIONS: HeaderName = HeaderName::from_static("x-keyward-permissions");
pub const CODE: HeaderName = HeaderName::from_static("x-keyward-code");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");

/// Room for every header an answer carries (its own, the rate limit's, the security
/// headers): the map is allocated once and never grows.
const ANSWER_HEADERS: usize = 16;
// Made at compile time (at run time `HeaderValue::from_static` checks its text per call).
const EMPTY: HeaderValue = HeaderValue::from_static("");

/// Which proxy's endpoint: its headers are read first, and nginx gets only 200, 401 or 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// `/api/v1/forward-auth`: Caddy, Traefik (`X-Forwarded-*` first).
    Forward,
    /// `/api/v1/auth-request`: nginx (`X-Original-*` first).
    Nginx,
}

/// The request the proxy asks about, read in place from the proxy's headers.
struct Original<'h> {
    method: Method,
    /// As the proxy sent it, without the query (what usage records).
    target: &'h str,
    host: Option<&'h str>,
}

/// What the original request needs.
enum Needs<'a> {
    Public,
    Token {
        permissions: Vec<&'a str>,
        channel: Option<&'a str>,
    },
    NoMatchingRule,
}

/// Why a check says no.
enum Refusal {
    App(AppError),
    NoMatchingRule,
    Invalid { code: &'static str, detail: String },
}

impl From<BearerError> for Refusal {
    fn from(e: BearerError) -> Self {
        Self::App(e.into())
    }
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

/// The whole check for one request to either endpoint; the response carries its route for
/// the request log.
pub async fn run(judge: &Judge, req: Request, face: Face) -> Response {
    let mut res = check(judge, req, face).await;
    if request_log::enabled() {
        res.extensions_mut().insert(RouteName(face.route()));
    }
    res
}

async fn check(judge: &Judge, req: Request, face: Face) -> Response {
    let read = Read::of(req.headers(), face);
    let params = params(req.uri().query());
    let rules = judge.rules.current();
    let needs = match (&read.original, &read.path) {
        (Some(o), Some(path)) => needs(rules.as_deref(), &params, o, path),
        // Refused below, with `read.refusal`, once the token is checked.
        _ => Needs::NoMatchingRule,
    };
    if matches!(needs, Needs::Public) {
        return allowed(None);
    }
    let peer = track::peer_of(&req);
    let Admitted { caller, spent } = match authenticate(&judge.gate, req.headers(), peer).await {
        Ok(admission) => admission,
        Err(refused) => return refuse(Refusal::App(refused), face),
    };
    let verdict = match read.refusal {
        Some(refused) => Err(refused),
        None => authorize(&caller, &needs),
    };
    let mut res = match verdict {
        Ok(()) => allowed(Some(&caller)),
        Err(refused) => refuse(refused, face),
    };
    let (method, target) = match &read.original {
        Some(o) => (o.method.clone(), o.target),
        None => (req.method().clone(), req.uri().path()),
    };
    let seen = Seen {
        caller,
        spent,
        method,
        gate: judge.gate.clone(),
        route: face.route(),
    };
    track::count(seen, target, &mut res);
    res
}

/// SPEC §6's 401 checks and the spending, on the API's bearer path.
async fn authenticate(
    gate: &Gate,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<Admitted, AppError> {
    match gate.authenticate(headers, peer) {
        Authentication::Done(admission) => admission,
        Authentication::Miss(hash) => gate.authenticate_miss(&hash, headers, peer).await,
    }
}

/// The original request as the proxy described it, its normalised path, and why it cannot
/// be judged when it cannot (refused after the 401 checks, so a missing token is always 401).
struct Read<'h> {
    original: Option<Original<'h>>,
    path: Option<Cow<'h, str>>,
    refusal: Option<Refusal>,
}

impl<'h> Read<'h> {
    fn of(headers: &'h HeaderMap, face: Face) -> Self {
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
                refusal: Some(Refusal::Invalid {
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
    fn of(headers: &'h HeaderMap, face: Face) -> Result<Self, Refusal> {
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let forwarded = (text(&X_FORWARDED_METHOD), text(&X_FORWARDED_URI));
        let original = (text(&X_ORIGINAL_METHOD), text(&X_ORIGINAL_URI));
        let invalid = |detail: &str| Refusal::Invalid {
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
        let host = from_forwarded
            .then(|| text(&X_FORWARDED_HOST))
            .flatten()
            .or_else(|| text(&HOST));
        Ok(Self {
            method,
            target: uri.split('?').next().unwrap_or_default(),
            host,
        })
    }
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

/// `?permission=P` (repeatable) and `?channel=ID` from the endpoint's own query string.
fn params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

/// The rule's needs (or, without a rules file, any valid token), plus the query parameters'.
fn needs<'a>(
    rules: Option<&'a Rules>,
    params: &'a [(String, String)],
    original: &Original,
    path: &'a str,
) -> Needs<'a> {
    let (mut permissions, mut channel) = (Vec::new(), None);
    if let Some(rules) = rules {
        match rules.judge(original.method.as_str(), path, original.host) {
            Verdict::Rule { rule, channel: c } => match &rule.access {
                Access::Public => return Needs::Public,
                Access::Permissions(ps) => {
                    permissions.extend(ps.iter().map(String::as_str));
                    channel = c;
                }
            },
            Verdict::Default(Fallback::Deny) => return Needs::NoMatchingRule,
            Verdict::Default(Fallback::Authenticated) => {}
        }
    }
    for (key, value) in params {
        match key.as_str() {
            "permission" => permissions.push(value),
            "channel" if channel.is_none() => channel = Some(value),
            _ => {}
        }
    }
    Needs::Token {
        permissions,
        channel,
    }
}

/// SPEC §6's checks after authentication: IP allowlist, a matching rule, permissions,
/// channel, rate limit.
fn authorize(caller: &Caller, needs: &Needs) -> Result<(), Refusal> {
    caller.authorize(None)?;
    let Needs::Token {
        permissions,
        channel,
    } = needs
    else {
        return Err(Refusal::NoMatchingRule);
    };
    for p in permissions {
        caller.require(p)?;
    }
    if channel.is_some_and(|c| !caller.reaches_channel(c)) {
        return Err(BearerError::ChannelNotAllowed.into());
    }
    caller.check_rate()?;
    Ok(())
}

/// 200 with an empty body and the token's identity. A public route's identity headers are
/// there but empty: a proxy that copies them then passes empty values on (Caddy 2.6 would
/// pass its unfilled placeholders for missing ones, `{http.reverse_proxy.header.…}`).
fn allowed(caller: Option<&Caller>) -> Response {
    let mut res = Response::new(axum::body::Body::empty());
    let h = res.headers_mut();
    *h = HeaderMap::with_capacity(ANSWER_HEADERS);
    h.insert(CACHE_CONTROL, NO_STORE);
    const NAMES: [HeaderName; 4] = [TOKEN_ID, TOKEN_NAME, WORKSPACE, PERMISSIONS];
    let Some(caller) = caller else {
        for name in NAMES {
            h.insert(name, EMPTY);
        }
        return res;
    };
    let values = caller.entry().identity.get_or_init(|| identity(caller));
    for (name, value) in NAMES.into_iter().zip(values) {
        h.insert(name, value.clone());
    }
    res
}

/// The identity headers' values: token id, name, workspace slug, permissions. Each is a
/// part of one buffer, so a check's four copies count references in one place.
fn identity(caller: &Caller) -> [HeaderValue; 4] {
    let token = caller.token();
    let permissions: Vec<&str> = token.permissions.iter().collect();
    let texts = [
        header_text(&token.id),
        header_text(&token.name),
        header_text(&caller.workspace().slug),
        header_text(&permissions.join(",")),
    ];
    let all = Bytes::from(texts.concat());
    let mut start = 0;
    texts.map(|text| {
        let part = all.slice(start..start + text.len());
        start += text.len();
        HeaderValue::from_maybe_shared(part).unwrap_or(EMPTY)
    })
}

/// Any text as a header value's: printable ASCII as it is, other bytes (and `%`)
/// percent-encoded, so a token name cannot break or smuggle a header.
fn header_text(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// The refusal as problem details with `X-Keyward-Code`; nginx gets 403 for whatever is
/// not 401 or 403 (it would turn anything else into 500).
fn refuse(refusal: Refusal, face: Face) -> Response {
    let (mut res, code) = match refusal {
        Refusal::App(e) => {
            let code = e.code();
            (e.into_response(), code)
        }
        Refusal::NoMatchingRule => {
            let detail = "No forward-auth rule matches this request.";
            let status = StatusCode::FORBIDDEN;
            (
                problem(status, "no_matching_rule", detail, None),
                "no_matching_rule",
            )
        }
        Refusal::Invalid { code, detail } => {
            (problem(StatusCode::FORBIDDEN, code, &detail, None), code)
        }
    };
    let status = res.status();
    if face == Face::Nginx && status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
    {
        let detail = res
            .extensions()
            .get::<crate::error::ErrorInfo>()
            .map_or_else(String::new, |i| i.detail.clone());
        let retry_after = res.headers().get(RETRY_AFTER).cloned();
        res = problem(StatusCode::FORBIDDEN, code, &detail, None);
        if let Some(v) = retry_after {
            res.headers_mut().insert(RETRY_AFTER, v);
        }
    }
    res.headers_mut()
        .insert(CODE, HeaderValue::from_static(code));
    res
}
