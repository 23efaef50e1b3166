//! The hot bearer routes (`/me` and forward auth) are answered before the router while the
//! token is cached, and by the router when it must be read: the two answers are the same, but
//! for what the request itself changes (its count, the budget left). `GET /healthz` is always
//! answered before the router, `HEAD /healthz` by it: the same again.

use std::sync::Arc;

use keyward::bearer::cache::EPOCH_POLL;
use keyward::domain::ip::IpAllowlist;
use keyward::domain::secret::Secret;
use reqwest::RequestBuilder;
use serde_json::Value;

use crate::helpers::{TestApp, client, temp_dir};

/// What may differ between two requests in a row: the budget left and when it resets, the
/// date, and the usage fields of `/me`'s token (and so its length).
const MOVING_HEADERS: [&str; 5] = [
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "date",
    "content-length",
];
const MOVING_FIELDS: [&str; 3] = ["request_count", "last_used_at", "last_used_ip"];

/// An answer, with its moving parts left out.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

async fn answer(req: RequestBuilder) -> Answer {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(name, _)| !MOVING_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let text = res.text().await.unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(token) = body
        .pointer_mut("/data/token")
        .and_then(Value::as_object_mut)
    {
        for field in MOVING_FIELDS {
            assert!(token.remove(field).is_some(), "/me's token has {field}");
        }
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// Sends the request made by `req` twice: first with the token out of the cache (the
/// router's path reads it), then with it cached (the lane); asserts it took each path and
/// that both answers agree. Returns the answer.
async fn alike(app: &TestApp, secret: &str, req: impl Fn() -> RequestBuilder) -> Answer {
    let hash = Secret::parse(secret).unwrap().hash();
    let tokens = &app.state.gate.tokens;
    // The server also hears of each token change through its epoch watch (at once from
    // PostgreSQL's change feed), which empties the cache: let that pass first, and start over
    // if it lands between the two requests anyway.
    for _ in 0..5 {
        tokio::time::sleep(EPOCH_POLL * 2).await;
        tokens.invalidate();
        assert!(tokens.cached(&hash).is_none());
        let read = answer(req()).await;
        let Some(entry) = tokens.cached(&hash) else {
            continue;
        };
        let cached = answer(req()).await;
        // The same entry: the second request found it, rather than reading the token again.
        let Some(after) = tokens.cached(&hash) else {
            continue;
        };
        if !Arc::ptr_eq(entry.shared(), after.shared()) {
            continue;
        }
        assert_eq!(read, cached);
        return cached;
    }
    panic!("the token never stayed cached for two requests");
}

fn me(app: &TestApp, secret: &str) -> impl Fn() -> RequestBuilder {
    let (url, secret) = (app.url("/api/v1/me"), secret.to_owned());
    move || client().get(&url).bearer_auth(&secret)
}

#[tokio::test]
async fn me_answers_alike_from_the_router_and_from_the_lane() {
    let app = TestApp::spawn().await;
    let slug = app.setup().await.1;
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;

    let ok = alike(&app, &secret, me(&app, &secret)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["data"]["token"]["id"], id.as_str());

    let (_, far) = app
        .create_token(&slug, &["admin"], |d| {
            d.ip_allowlist = IpAllowlist::parse_lines(["203.0.113.0/24"]).unwrap();
        })
        .await;
    let refused = alike(&app, &far, me(&app, &far)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "ip_not_allowed");

    app.sql("UPDATE tokens SET revoked_at = 1 WHERE id = ?", &id)
        .await;
    let revoked = alike(&app, &secret, me(&app, &secret)).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.body["code"], "token_revoked");
}

#[tokio::test]
async fn both_forward_auth_endpoints_answer_alike_from_the_router_and_from_the_lane() {
    let rules = temp_dir().join("rules.toml");
    std::fs::write(&rules, include_str!("forward_auth.toml")).unwrap();
    let file = rules.clone();
    let app = TestApp::spawn_with(|c| c.forward_auth_rules = Some(file)).await;
    let slug = app.setup().await.1;
    let (_, reader) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let ask = |endpoint: &str, uri: &'static str| {
        let (url, secret) = (app.url(endpoint), reader.clone());
        move || {
            let req = client().get(&url).bearer_auth(&secret);
            req.header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", uri)
                .header("x-original-method", "GET")
                .header("x-original-uri", uri)
        }
    };

    for endpoint in ["/api/v1/forward-auth", "/api/v1/auth-request"] {
        let allowed = alike(&app, &reader, ask(endpoint, "/orders/7")).await;
        assert_eq!(allowed.status, 200, "{endpoint}");
        let refused = alike(&app, &reader, ask(endpoint, "/admin/users")).await;
        assert_eq!(refused.status, 403, "{endpoint}");
    }
    let _ = std::fs::remove_dir_all(rules.parent().unwrap());
}

#[tokio::test]
async fn healthz_answers_alike_from_the_router_and_from_the_lane() {
    let app = TestApp::spawn().await;
    let url = app.url("/healthz");
    let lane = answer(client().get(&url)).await;
    let routed = answer(client().head(&url)).await;
    assert_eq!(lane.status, 200);
    assert_eq!(lane.body, serde_json::json!({ "status": "ok" }));
    assert_eq!(
        routed.body,
        Value::String(String::new()),
        "HEAD has no body"
    );
    assert_eq!(
        (lane.status, &lane.headers),
        (routed.status, &routed.headers)
    );
    let has = |name: &str| lane.headers.iter().any(|(n, _)| n == name);
    assert!(has("content-type") && has("x-content-type-options"));
}
