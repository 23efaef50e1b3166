//! One forward-auth check, in the order it runs ([`decide`]): read the original request from
//! the proxy's headers, normalise its path, find what it needs (rules file and query
//! parameters); a public route is answered at once. Everything else takes the API's bearer
//! path — the [`Gate`](crate::bearer::Gate)'s 401 checks and budget spending — then an
//! unreadable request or path is refused, then the token's IP allowlist, a matching rule, the
//! permissions, the channel and the rate limit; and it is counted like an API request
//! ([`track::count`]), under the original method and path.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Judge;
use super::original::{Face, Original, Read, Unreadable};
use super::rules::{Access, Fallback, Rules, Verdict};
use crate::bearer::track::{self, Seen};
use crate::bearer::{Admitted, Authentication, Caller};
use crate::domain::secret::SecretHash;
use crate::error::{AppError, BearerError, problem};
use crate::request_log::{self, RouteName};
use crate::web::headers::NO_STORE;

pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-keyward-token-id");
pub const TOKEN_NAME: HeaderName = HeaderName::from_static("x-keyward-token-name");
pub const WORKSPACE: HeaderName = HeaderName::from_static("x-keyward-workspace");
pub const PERMISSIONS: HeaderName = HeaderName::from_static("x-keyward-permissions");
pub const CODE: HeaderName = HeaderName::from_static("x-keyward-code");

/// Room for every header an answer carries (its own, the rate limit's, the security
/// headers): the map is allocated once and never grows.
const ANSWER_HEADERS: usize = 16;
// Made at compile time (at run time `HeaderValue::from_static` checks its text per call).
const EMPTY: HeaderValue = HeaderValue::from_static("");

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
    Invalid(Unreadable),
}

impl From<BearerError> for Refusal {
    fn from(e: BearerError) -> Self {
        Self::App(e.into())
    }
}

/// The whole check for one request to either endpoint; the response carries its route for
/// the request log.
pub async fn run(judge: &Judge, req: Request, face: Face) -> Response {
    let hash = match at_once(judge, &req, face) {
        Ok(res) => return res,
        Err(hash) => hash,
    };
    // The token is not cached: read it, then decide with it (reading the original request
    // again, which changes nothing).
    let peer = track::peer_of(&req);
    let admission = judge
        .gate
        .authenticate_miss(&hash, req.headers(), peer)
        .await;
    let Ok(res) = decide(judge, &req, face, || Ok::<_, Infallible>(admission));
    named(res, face)
}

/// The check when it needs no waiting: a public route, a token refused before any lookup,
/// a cached token. Else the secret's hash, to read, having changed nothing.
pub fn at_once(judge: &Judge, req: &Request, face: Face) -> Result<Response, SecretHash> {
    let admit = || match judge.gate.authenticate(req.headers(), track::peer_of(req)) {
        Authentication::Done(admission) => Ok(admission),
        Authentication::Miss(hash) => Err(hash),
    };
    decide(judge, req, face, admit).map(|res| named(res, face))
}

/// The response, with its route for the request log.
fn named(mut res: Response, face: Face) -> Response {
    if request_log::enabled() {
        res.extensions_mut().insert(RouteName(face.route()));
    }
    res
}

/// The check in its order, with the token's admission (the 401 checks and the spending)
/// from `admit`, asked only past a public route; `admit`'s error when it has none yet.
fn decide<E>(
    judge: &Judge,
    req: &Request,
    face: Face,
    admit: impl FnOnce() -> Result<Result<Admitted, AppError>, E>,
) -> Result<Response, E> {
    let read = Read::of(req.headers(), face);
    let params = params(req.uri().query());
    let rules = judge.rules.current();
    let needs = match (&read.original, &read.path) {
        (Some(o), Some(path)) => needs(rules.as_deref(), &params, o, path),
        // Refused below, with `read.refusal`, once the token is checked.
        _ => Needs::NoMatchingRule,
    };
    if matches!(needs, Needs::Public) {
        return Ok(allowed(None));
    }
    let Admitted { caller, spent } = match admit()? {
        Ok(admission) => admission,
        Err(refused) => return Ok(refuse(Refusal::App(refused), face)),
    };
    let verdict = match read.refusal {
        Some(refused) => Err(Refusal::Invalid(refused)),
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
        route: face.route(),
    };
    track::count(&judge.gate, seen, target, &mut res);
    Ok(res)
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
        Refusal::Invalid(Unreadable { code, detail }) => {
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
