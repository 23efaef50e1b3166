//! Rate limits as policies (SPEC §7): windows, tiers from the flag, a token's own limits,
//! every budget must allow, the headers (X-RateLimit-*, Retry-After, the IETF draft's
//! RateLimit-Policy and RateLimit), validation and the grant rule.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{Value, json};

use crate::api::problem;
use crate::helpers::{TestApp, client};
use keyward::domain::rate::{Limits, RatePolicy};

fn custom(spec: &str) -> RatePolicy {
    RatePolicy::Custom(Limits::parse(spec, false).unwrap())
}

async fn me(app: &TestApp, secret: &str) -> Response {
    app.api(secret)
        .send(reqwest::Method::GET, "/api/v1/me", None)
        .await
}

fn header(res: &Response, name: &str) -> String {
    res.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn three_a_second_and_five_a_minute_allows_three_then_429_and_five_in_the_minute() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (_, secret) = app
        .create_token(&slug, &["chats:read"], |d| {
            d.rate = custom("3/second,5/minute")
        })
        .await;
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(me(&app, &secret).await.status(), 200);
    }
    let refused = me(&app, &secret).await;
    assert!(start.elapsed() < Duration::from_millis(300), "one burst");
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=1).contains(&retry), "Retry-After {retry}");
    problem(refused, 429, "rate_limited").await;

    // For two seconds more, one request every 100 ms: the minute's two units, then nothing.
    let mut allowed = 3;
    while start.elapsed() < Duration::from_secs(3) {
        let res = me(&app, &secret).await;
        allowed += u32::from(res.status() == 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(allowed, 5, "five in the minute");
    let refused = me(&app, &secret).await;
    assert_eq!(
        header(&refused, "x-ratelimit-limit"),
        "5",
        "the minute refuses"
    );
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!(retry > 1 && retry <= 60, "Retry-After {retry}");
}

/// A Structured Fields list of items `"name";key=integer;…` (RFC 8941), as the draft
/// requires for both fields: each item's name and its integer parameters.
fn sf_list(field: &str) -> Vec<(String, Vec<(String, u64)>)> {
    field
        .split(',')
        .map(|member| {
            let mut parts = member.trim().split(';');
            let name = parts.next().unwrap();
            assert!(
                name.len() >= 2 && name.starts_with('"') && name.ends_with('"'),
                "an sf-string item: {member}"
            );
            let params = parts
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("key=value");
                    assert!(k.bytes().all(|b| b.is_ascii_lowercase()), "key {k}");
                    (k.to_owned(), v.parse::<u64>().expect("an sf-integer"))
                })
                .collect();
            (name.trim_matches('"').to_owned(), params)
        })
        .collect()
}

#[tokio::test]
async fn the_ietf_headers_parse_per_the_draft_and_name_every_budget() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_workspace = Some(Limits::parse("100/hour", false).unwrap())
    })
    .await;
    let (_, slug) = app.setup().await;
    let (_, secret) = app
        .create_token(&slug, &["chats:read"], |d| {
            d.rate = custom("10/second,50/minute")
        })
        .await;

    let res = me(&app, &secret).await;

    let policy = sf_list(&header(&res, "ratelimit-policy"));
    let q_w = |(name, params): &(String, Vec<(String, u64)>)| {
        (name.clone(), params[0].clone(), params[1].clone())
    };
    assert_eq!(
        policy.iter().map(q_w).collect::<Vec<_>>(),
        [
            ("token-second".into(), ("q".into(), 10), ("w".into(), 1)),
            ("token-minute".into(), ("q".into(), 50), ("w".into(), 60)),
            (
                "workspace-hour".into(),
                ("q".into(), 100),
                ("w".into(), 3600)
            ),
        ]
    );
    let state = sf_list(&header(&res, "ratelimit"));
    let remaining: Vec<(String, u64)> = state
        .iter()
        .map(|(name, p)| {
            assert_eq!((p[0].0.as_str(), p[1].0.as_str()), ("r", "t"));
            (name.clone(), p[0].1)
        })
        .collect();
    assert_eq!(
        remaining,
        [
            ("token-second".into(), 9),
            ("token-minute".into(), 49),
            ("workspace-hour".into(), 99)
        ]
    );
    // X-RateLimit-* describe the budget nearest refusal: the second's.
    assert_eq!(header(&res, "x-ratelimit-limit"), "10");
    assert_eq!(header(&res, "x-ratelimit-remaining"), "9");
}

#[tokio::test]
async fn a_non_admin_cannot_create_a_token_with_limits_above_its_own() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    // 1,000 an hour (standard).
    let (_, writer) = app.create_token(&slug, &["tokens:write"], |_| {}).await;
    let body = |limits: Value| json!({"name": "child", "permissions": ["tokens:write"], "rate_limit": {"limits": limits}});

    // 60 a minute lets 3,600 through in an hour.
    let over = body(json!([{"limit": 60, "per": "minute"}]));
    let res = app
        .api(&writer)
        .send(reqwest::Method::POST, "/api/v1/tokens", Some(over))
        .await;
    let refused = problem(res, 403, "insufficient_permission").await;
    assert!(
        refused["detail"].as_str().unwrap().contains("rate limit"),
        "{refused}"
    );

    let within = body(json!([{"limit": 10, "per": "minute"}, {"limit": 500, "per": "hour"}]));
    let (status, created) = app.api(&writer).post_json("/api/v1/tokens", within).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["data"]["rate_limit"],
        json!({"tier": null, "per_hour": 500,
               "limits": [{"limit": 10, "per": "minute"}, {"limit": 500, "per": "hour"}]})
    );
}

#[tokio::test]
async fn a_non_admin_cannot_raise_its_own_limit_on_any_window() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (id, writer) = app
        .create_token(&slug, &["tokens:write"], |d| d.rate = custom("5/minute"))
        .await;
    let raise = json!({"rate_limit": {"limits": [{"limit": 6, "per": "minute"}]}});

    let (status, body) = app
        .api(&writer)
        .patch(&format!("/api/v1/tokens/{id}"), raise)
        .await;

    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("insufficient_permission"))
    );
    let lower = json!({"rate_limit": {"limits": [{"limit": 4, "per": "minute"}]}});
    let (status, body) = app
        .api(&writer)
        .patch(&format!("/api/v1/tokens/{id}"), lower)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["rate_limit"]["limits"],
        json!([{"limit": 4, "per": "minute"}])
    );
}

#[tokio::test]
async fn bad_limits_and_unknown_tiers_are_422_and_create_nothing() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let cases = [
        (
            json!({"rate_limit_tier": "gold"}),
            "rate_limit_tier",
            "must be one of",
        ),
        (
            json!({"rate_limit": {"limits": [{"limit": 0, "per": "minute"}]}}),
            "rate_limit",
            "1 to 1,000,000,000",
        ),
        (
            json!({"rate_limit": {"limits": [{"limit": 1_000_000_001u64, "per": "day"}]}}),
            "rate_limit",
            "1 to 1,000,000,000",
        ),
        (
            json!({"rate_limit": {"limits": [{"limit": 2.5, "per": "minute"}]}}),
            "rate_limit",
            "1 to 1,000,000,000",
        ),
        (
            json!({"rate_limit": {"limits": [{"limit": 5, "per": "week"}]}}),
            "rate_limit",
            "not a window",
        ),
        (
            json!({"rate_limit": {"limits": [{"limit": 5, "per": "minute"}, {"limit": 9, "per": "minute"}]}}),
            "rate_limit",
            "only one limit per minute",
        ),
        (
            json!({"rate_limit": {"limits": []}}),
            "rate_limit",
            "at least one",
        ),
        (
            json!({"rate_limit_tier": "admin", "rate_limit": {"limits": [{"limit": 5, "per": "minute"}]}}),
            "rate_limit",
            "not both",
        ),
    ];
    for (extra, field, message) in cases {
        let mut body = json!({"name": "bad", "permissions": ["chats:read"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, problem) = app.api(&admin).post_json("/api/v1/tokens", body).await;
        assert_eq!(status, 422, "{problem}");
        let text = problem["errors"][field].to_string();
        assert!(text.contains(message), "{field}: {problem}");
    }
    let (_, list) = app.api(&admin).get("/api/v1/tokens").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the admin token"
    );
}

#[tokio::test]
async fn verify_reports_the_verified_tokens_budgets() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (_, verifier) = app.create_token(&slug, &["tokens:verify"], |_| {}).await;
    let (_, subject) = app
        .create_token(&slug, &["chats:read"], |d| {
            d.rate = custom("2/second,100/day")
        })
        .await;

    let (_, v) = app
        .api(&verifier)
        .post_json("/api/v1/verify", json!({"token": subject}))
        .await;

    let rl = &v["data"]["ratelimit"];
    assert_eq!(
        (rl["limit"].as_u64(), rl["remaining"].as_u64()),
        (Some(2), Some(1))
    );
    let budgets: Vec<(String, u64)> = rl["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["per"].as_str().unwrap().to_owned(),
                b["remaining"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(budgets, [("second".to_owned(), 1), ("day".to_owned(), 99)]);
}

#[tokio::test]
async fn the_dashboard_creates_a_token_with_custom_rows_and_shows_what_is_left() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let tokens = format!("/w/{slug}/settings/developer/api-tokens");
    let fields = [
        ("name", "Custom rows"),
        ("permissions", "chats:read"),
        ("channel_mode", "all"),
        ("expiry", "30"),
        ("tier", "custom"),
        ("limit_0", "60"),
        ("per_0", "minute"),
        ("limit_1", "10,000"),
        ("per_1", "day"),
        ("limit_2", ""),
        ("per_2", "second"),
    ];
    let (id, _) = crate::tokens_web::create_token(&app, &c, &slug, &fields).await;
    let ws = app.workspace(&slug).await.id;
    let stored = keyward::db::tokens::get(&app.state.db, &ws, &id)
        .await
        .unwrap();
    assert_eq!(stored.unwrap().rate, custom("60/minute,10000/day"));

    let detail = app.page(&c, &format!("{tokens}/{id}")).await;
    assert!(
        detail.contains("Token per minute") && detail.contains("Token per day"),
        "{detail}"
    );
    assert!(detail.contains("60 requests/minute · 10,000 requests/day"));

    // A duplicate window is a form error that keeps the input.
    let dup = [("limit_1", "5"), ("per_1", "minute")];
    let mut bad = fields.to_vec();
    bad.retain(|(k, _)| !["limit_1", "per_1"].contains(k));
    bad.extend(dup);
    let res = app
        .post_form(&c, &format!("{tokens}/new"), &tokens, &bad)
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("only one limit per minute") && html.contains("value=\"60\""));
}

#[tokio::test]
async fn tiers_come_from_the_flag_and_the_environment() {
    let (_dir, db) = crate::real::fresh_db();
    let tier = ["--rate-limit-tier", "free=2/minute,100/day"];
    let setup = ["setup", "--email", "admin@acme.io", "--workspace", "Acme"];
    crate::real::cli_ok(&db, &setup, "correct horse battery\n");
    let free = [&tier[..], &["--tier", "free"]].concat();
    let secret = crate::real::create_token(&db, "free", "chats:read", &free);
    let create = ["token", "create", "--workspace", "acme", "--name", "x"];
    let unknown = [
        &create[..],
        &["--permission", "chats:read", "--tier", "free"],
    ]
    .concat();
    let refused = crate::real::cli(&db, &unknown, "");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "without the flag `free` is unknown"
    );

    let server = crate::real::Server::start(&db, &tier);
    let me = || {
        client()
            .get(server.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
    };
    let first = me().await.unwrap();
    assert_eq!(first.status(), 200);
    let body: Value = first.json().await.unwrap();
    assert_eq!(
        body["data"]["token"]["rate_limit"],
        json!({"tier": "free", "per_hour": null,
               "limits": [{"limit": 2, "per": "minute"}, {"limit": 100, "per": "day"}]})
    );
    assert_eq!(me().await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 429);
    drop(server);

    // The environment variable takes several, `;`-separated.
    let out = std::process::Command::new(crate::real::BIN)
        .args(
            [
                &create[..],
                &["--permission", "chats:read", "--tier", "pro"],
            ]
            .concat(),
        )
        .args(["--database-url", &crate::real::db_url(&db)])
        .env(
            "KEYWARD_RATE_LIMIT_TIERS",
            "free=2/minute;pro=10/second,1000/hour",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_window_is_shared_by_servers_on_one_database() {
    if !crate::backend::on_postgres() {
        return;
    }
    let a = TestApp::spawn().await;
    let slug = a.setup().await.1;
    let b = a.spawn_beside().await;
    let (_, minute) = a
        .create_token(&slug, &["chats:read"], |d| d.rate = custom("10/minute"))
        .await;
    let (_, day) = a
        .create_token(&slug, &["chats:read"], |d| {
            d.rate = custom("12/day,100/minute")
        })
        .await;
    // Both servers have synced since the second started: each knows there are two.
    tokio::time::sleep(keyward::bearer::shares::SYNC * 3).await;
    for (secret, budget) in [(&minute, 10), (&day, 12)] {
        let mut allowed = 0;
        for i in 0..2 * budget {
            let server = if i % 2 == 0 { &a } else { &b };
            allowed += u32::from(server.me_status(secret).await == 200);
        }
        assert_eq!(allowed, budget, "the budget once, not once per server");
    }
}
