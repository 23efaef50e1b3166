//! `GET /api/v1/me`: the calling token and its workspace.

use std::cell::RefCell;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Routes;
use super::responses::Refusals;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use http_body::{Frame, SizeHint};
use serde::Serialize;

use crate::api::Data;

use super::model::{Live, TokenObject};
use crate::bearer::cache::Held;
use crate::bearer::usage::LiveUsage;
use crate::bearer::{AnyToken, Bearer, Caller};
use crate::config::Config;
use crate::db::tokens::Token;
use crate::db::workspaces::Workspace;
use crate::domain::now;
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![("/api/v1/me", get(me))]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub workspace: Workspace,
    pub token: TokenObject,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    summary = "The calling token and its workspace (any valid token)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calling token", body = Data<Me>),
        Refusals,
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Bearer(caller, _): Bearer<AnyToken>,
) -> Response {
    let live = state.gate.usage.live_of(caller.entry());
    respond(&state, &caller, live)
}

/// `/me`'s answer for a caller past every check (also answered before the router on a cache
/// hit: `crate::lane`).
pub(crate) fn respond(state: &AppState, caller: &Caller, usage: LiveUsage) -> Response {
    // The hot path's body: the cached JSON of everything fixed, then status and usage.
    let t = caller.token();
    let now = now();
    // A token with a previous secret shows it until its time passes: made fresh each time.
    let open = if t.previous.is_some() {
        Bytes::from(open_json(caller.workspace(), t, &state.config, now))
    } else {
        caller
            .entry()
            .me_json
            .get_or_init(|| Bytes::from(open_json(caller.workspace(), t, &state.config, now)));
        Bytes::from_owner(OpenJson(caller.held().clone()))
    };
    let live = Live {
        status: t.status(now),
        last_used_at: usage.last_at,
        last_used_ip: usage.last_ip,
        request_count: usage.count,
    };
    // Room from the start for the headers added on the way out (rate limit, length,
    // security): the map is allocated once and never grows.
    let mut headers = HeaderMap::with_capacity(12);
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    headers.insert(CONTENT_TYPE, JSON);
    let mut res = Response::new(Body::new(Parts {
        open: Some(open),
        tail: Some(tail(&live)),
    }));
    *res.headers_mut() = headers;
    res
}

/// `{"data":{"workspace":{…},"token":{…` with the token object left open before its
/// [`Live`] fields.
fn open_json(workspace: &Workspace, t: &Token, config: &Config, now: i64) -> String {
    let workspace = serde_json::to_string(workspace).unwrap_or_default();
    let token = TokenObject::new(t, now, config).fixed_json();
    format!(r#"{{"data":{{"workspace":{workspace},"token":{token}"#)
}

thread_local! {
    /// Where [`tail`] lays out the live fields first, reused.
    static TAIL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The live fields and the closing braces, allocated at their exact size.
fn tail(live: &Live) -> Bytes {
    TAIL.with_borrow_mut(|tail| {
        tail.clear();
        live.close(tail);
        tail.extend_from_slice(b"}}");
        Bytes::copy_from_slice(tail)
    })
}

/// An entry's cached `/me` JSON as a body part, kept alive by the request's hold on the
/// entry: a clone of the cached bytes would write their reference count, which every core's
/// requests for the token write too.
struct OpenJson(Held);

impl AsRef<[u8]> for OpenJson {
    fn as_ref(&self) -> &[u8] {
        self.0.me_json.get().map_or(&[], |json| json)
    }
}

/// `/me`'s body in its two parts, the cached JSON and this request's fields, handed to the
/// connection as they are: it writes both with one vectored write, and the cached part,
/// the larger, is never copied (with a thousand tokens in turn, copying it read a dozen
/// lines of memory no cache still held).
struct Parts {
    open: Option<Bytes>,
    tail: Option<Bytes>,
}

impl HttpBody for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.open.take().or_else(|| self.tail.take());
        Poll::Ready(next.map(|part| Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.open.is_none() && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
        SizeHint::with_exact(u64::try_from(len(&self.open) + len(&self.tail)).unwrap_or(0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bearer::usage::LastIp;
    use crate::db::tokens::ChannelRef;
    use crate::domain::actor::Actor;
    use crate::domain::ip::IpAllowlist;
    use crate::domain::permissions::PermissionSet;

    fn token(description: &str, used: bool) -> Token {
        Token {
            id: "tok_3fZ9qLmA8xT2vB7nC1dE".into(),
            workspace_id: "ws_1".into(),
            name: "Zapier \"prod\" — ünïcode\n".into(),
            description: description.into(),
            hint: "kw_AbCd…wxyz".into(),
            permissions: PermissionSet::from_stored("chats:read messages:send"),
            channels: Some(vec![ChannelRef {
                id: "ch_1".into(),
                name: "Support \"inbox\"".into(),
            }]),
            ip_allowlist: IpAllowlist::from_stored("10.0.0.0/8\n192.0.2.7"),
            rate: crate::domain::rate::RatePolicy::Tier("admin".into()),
            expires_at: Some(1_900_000_000),
            revoked_at: None,
            created_at: 1_700_000_000,
            created_by: Actor {
                kind: "admin".into(),
                id: Some("adm_1".into()),
                name: "Ada".into(),
            },
            request_count: if used { 42 } else { 0 },
            last_used_at: used.then_some(1_800_000_000),
            last_used_ip: used.then(|| match description {
                "expired" => "192.0.2.7".into(),
                _ => "2001:db8::1".into(),
            }),
            previous: used.then(|| crate::db::tokens::Previous {
                hint: "kw_Old1…zzzz".into(),
                expires_at: 1_950_000_000,
            }),
        }
    }

    /// The cached-prefix body is byte for byte what serialising the whole response gives.
    #[test]
    fn the_fast_body_equals_the_serialised_response() {
        let config = Config::for_tests();
        let workspace = Workspace {
            id: "ws_1".into(),
            name: "Acme \"Inc\"".into(),
            slug: "acme".into(),
        };
        for (description, used, now) in [
            ("", false, 1_800_000_000),
            (r#"tricky ","status":"revoked" text"#, true, 1_899_999_000),
            ("expired", true, 1_950_000_000),
        ] {
            let t = token(description, used);
            let full = serde_json::to_vec(&Data {
                data: Me {
                    workspace: workspace.clone(),
                    token: TokenObject::new(&t, now, &config),
                },
            })
            .unwrap();
            // The last address as the buffer has it (an address) and as stored (text).
            let addr = t
                .last_used_ip
                .as_ref()
                .map(|ip| LastIp::Addr(ip.parse().unwrap()));
            for last_used_ip in [t.last_used_ip.clone().map(LastIp::Text), addr] {
                let live = Live {
                    status: t.status(now),
                    last_used_at: t.last_used_at,
                    last_used_ip,
                    request_count: t.request_count,
                };
                let mut fast = open_json(&workspace, &t, &config, now).into_bytes();
                fast.extend_from_slice(&tail(&live));
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(full.clone()).unwrap()
                );
            }
        }
    }
}
