//! The bearer JSON API: every error code with status, content type and WWW-Authenticate;
//! success shapes; escalation; workspace isolation; immediate revocation; verify codes.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, client};

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    secret: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut req = client().request(method, app.url(path));
    if let Some(s) = secret {
        req = req.header("authorization", format!("Bearer {s}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn get(app: &TestApp, path: &str, secret: &str) -> Response {
    call(app, Method::GET, path, Some(secret), None).await
}

/// Asserts a problem+json error and returns its body.
pub async fn problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "expected {code}");
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{code}"
    );
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    match status {
        401 if code == "missing_token" => {
            assert_eq!(www.as_deref(), Some(r#"Bearer realm="keyward""#))
        }
        401 => assert!(
            www.as_deref().unwrap().contains(r#"error="invalid_token""#),
            "{www:?}"
        ),
        403 if code != "not_found" => assert!(
            www.as_deref()
                .unwrap()
                .contains(r#"error="insufficient_scope""#),
            "{www:?}"
        ),
        _ => {}
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code);
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

async fn setup(app: &TestApp) -> String {
    app.setup().await.1
}

#[tokio::test]
async fn each_401_code_with_its_www_authenticate() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    problem(
        call(&app, Method::GET, "/api/v1/me", None, None).await,
        401,
        "missing_token",
    )
    .await;
    problem(
        get(&app, "/api/v1/me", "not-a-token").await,
        401,
        "invalid_token",
    )
    .await;
    let (_, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let mut bad_checksum = secret.clone();
    bad_checksum.replace_range(5..6, if &secret[5..6] == "a" { "b" } else { "a" });
    problem(
        get(&app, "/api/v1/me", &bad_checksum).await,
        401,
        "invalid_token",
    )
    .await;
    let unknown = keyward::domain::secret::Secret::generate("kw_");
    problem(
        get(&app, "/api/v1/me", unknown.expose()).await,
        401,
        "invalid_token",
    )
    .await;
    let (_, expired) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    crate::backend::exec(&app.state.db, "UPDATE tokens SET expires_at = 1", &[]).await;
    app.state.gate.tokens.invalidate(); // direct SQL is like another process
    problem(
        get(&app, "/api/v1/me", &expired).await,
        401,
        "token_expired",
    )
    .await;
    crate::backend::exec(&app.state.db, "UPDATE tokens SET revoked_at = 1", &[]).await;
    app.state.gate.tokens.invalidate(); // direct SQL is like another process
    problem(
        get(&app, "/api/v1/me", &expired).await,
        401,
        "token_revoked",
    )
    .await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_me_has_its_shape() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let res = client()
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("bEaReR {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(res.headers().contains_key(h), "{h}");
    }
    let body: Value = res.json().await.unwrap();
    let me = &body["data"];
    assert_eq!(me["workspace"]["slug"], slug);
    assert_eq!(me["workspace"]["name"], "Acme Inc.");
    assert_eq!(me["token"]["id"], id);
    assert_eq!(me["token"]["status"], "active");
    assert_eq!(me["token"]["permissions"], json!(["chats:read"]));
    assert_eq!(me["token"]["channels"], Value::Null);
    assert_eq!(
        me["token"]["rate_limit"],
        json!({"tier": "standard", "limits": [{"limit": 1000, "per": "hour"}], "per_hour": 1000})
    );
    assert_eq!(me["token"]["created_by"]["type"], "cli");
    assert!(
        me["token"]["hint"]
            .as_str()
            .unwrap()
            .starts_with(&secret[..7])
    );
    assert!(
        !body.to_string().contains(&secret),
        "the secret is never echoed"
    );
}

#[tokio::test]
async fn each_403_code_with_insufficient_scope() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let a = app.channel(&slug, "A").await;
    let b = app.channel(&slug, "B").await;
    let (_, far) = app
        .create_token(&slug, &["admin"], |d| {
            d.ip_allowlist =
                keyward::domain::ip::IpAllowlist::parse_lines(["203.0.113.0/24"]).unwrap();
        })
        .await;
    problem(get(&app, "/api/v1/me", &far).await, 403, "ip_not_allowed").await;
    let (_, reader) = app
        .create_token(&slug, &["chats:read"], |d| {
            d.channels = Some(vec![a.clone()])
        })
        .await;
    problem(
        get(&app, "/api/v1/tokens", &reader).await,
        403,
        "insufficient_permission",
    )
    .await;
    problem(
        get(&app, &format!("/api/v1/channels/{b}"), &reader).await,
        403,
        "channel_not_allowed",
    )
    .await;
    let ok = get(&app, &format!("/api/v1/channels/{a}"), &reader).await;
    assert_eq!(ok.status(), 200);
    let list: Value = get(&app, "/api/v1/channels", &reader)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["name"], "A");
    assert_eq!(list["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_token_over_its_limit_gets_429_with_retry_after_and_the_headers() {
    let app = TestApp::spawn_with(|c| c.rate_limit_standard = 3).await;
    let slug = setup(&app).await;
    let (_, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    for remaining in [2, 1, 0] {
        let res = get(&app, "/api/v1/me", &secret).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            res.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let res = get(&app, "/api/v1/me", &secret).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1200).contains(&retry), "{retry}");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = res.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > keyward::domain::now());
    problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn the_workspace_ceiling_applies_across_tokens() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_workspace = Some(keyward::domain::rate::Limits::hourly(4))
    })
    .await;
    let slug = setup(&app).await;
    let (_, one) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let (_, two) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    for s in [&one, &two, &one, &two] {
        assert_eq!(get(&app, "/api/v1/me", s).await.status(), 200);
    }
    let res = get(&app, "/api/v1/me", &two).await;
    assert_eq!(res.headers()["x-ratelimit-limit"], "4");
    problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn bad_bodies_and_routes_are_problem_details() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let auth = format!("Bearer {admin}");
    let c = client();
    let malformed = c
        .post(app.url("/api/v1/tokens"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    problem(malformed, 400, "invalid_json").await;
    let wrong_type = c
        .post(app.url("/api/v1/tokens"))
        .header("authorization", &auth)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(wrong_type, 415, "unsupported_media_type").await;
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(70 * 1024));
    let too_large = c
        .post(app.url("/api/v1/tokens"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    problem(too_large, 413, "payload_too_large").await;
    problem(get(&app, "/api/v1/nowhere", &admin).await, 404, "not_found").await;
    // A wrong method is 405 whatever the token: the bearer layer wraps handlers, not the 405.
    for auth in [Some(admin.as_str()), None, Some("kw_not_a_token")] {
        let wrong_method = call(&app, Method::PUT, "/api/v1/me", auth, None).await;
        assert!(wrong_method.headers().contains_key("allow"));
        problem(wrong_method, 405, "method_not_allowed").await;
    }
    let invalid = call(&app, Method::POST, "/api/v1/tokens", Some(&admin), Some(json!({"name": "", "permissions": ["nope"], "ip_allowlist": ["x"], "expires_at": "2000-01-01T00:00:00Z", "channels": []}))).await;
    let body = problem(invalid, 422, "validation_failed").await;
    for field in [
        "name",
        "permissions",
        "ip_allowlist",
        "expires_at",
        "channels",
    ] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let wrong_shape = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        Some(&admin),
        Some(json!({"name": 5})),
    )
    .await;
    problem(wrong_shape, 422, "validation_failed").await;
    // serde would read a struct from an array too; the API takes JSON objects only.
    let array = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        Some(&admin),
        Some(json!(["array", "", ["chats:read"], null, null, null, null])),
    )
    .await;
    let body = problem(array, 422, "validation_failed").await;
    assert_eq!(body["errors"]["body"][0], "the body must be a JSON object");
    let ws = app.workspace(&slug).await;
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &ws.id)
            .await
            .unwrap(),
        1,
        "nothing was created"
    );
}

/// The ids in a token list response, in order.
fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_status_filter_lists_exactly_the_revoked_tokens() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let (kept, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let (gone, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let revoke = format!("/api/v1/tokens/{gone}/revoke");
    assert_eq!(
        call(&app, Method::POST, &revoke, Some(&admin), None)
            .await
            .status(),
        200
    );

    let revoked: Value = get(&app, "/api/v1/tokens?status=revoked", &admin)
        .await
        .json()
        .await
        .unwrap();
    let active: Value = get(&app, "/api/v1/tokens?status=active", &admin)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(ids(&revoked), [gone.as_str()]);
    assert!(ids(&active).contains(&kept.as_str()));
    assert!(!ids(&active).contains(&gone.as_str()));
}

/// A fresh app with a workspace and an `admin` token; returns (app, slug, admin id, secret).
async fn with_admin() -> (TestApp, String, String, String) {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let (id, secret) = app.create_token(&slug, &["admin"], |_| {}).await;
    (app, slug, id, secret)
}

#[tokio::test]
async fn a_created_token_shows_its_secret_once_and_every_field() {
    let (app, slug, admin_id, admin) = with_admin().await;
    let ch = app.channel_of_kind(&slug, "WhatsApp", "whatsapp").await;

    let res = app.api(&admin).send(Method::POST, "/api/v1/tokens", Some(json!({
        "name": "Zapier", "description": "orders", "permissions": ["messages:send"], "channels": [ch],
        "ip_allowlist": ["10.0.0.0/8"], "expires_at": "2099-01-01T00:00:00Z", "rate_limit_tier": "admin"
    }))).await;

    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let t = &created["data"];
    assert!(keyward::domain::secret::Secret::parse(t["secret"].as_str().unwrap()).is_some());
    assert_eq!(t["channels"], json!([{"id": ch, "name": "WhatsApp"}]));
    assert_eq!(t["ip_allowlist"], json!(["10.0.0.0/8"]));
    assert_eq!(t["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(
        t["rate_limit"],
        json!({"tier": "admin", "limits": [{"limit": 5000, "per": "hour"}], "per_hour": 5000})
    );
    assert_eq!(
        t["created_by"],
        json!({"type": "token", "id": admin_id, "name": "script"})
    );
    assert_eq!(t["request_count"], 0);
    let (_, one) = app
        .api(&admin)
        .get(&format!("/api/v1/tokens/{}", t["id"].as_str().unwrap()))
        .await;
    assert_eq!(one["data"]["name"], "Zapier");
    assert!(one["data"].get("secret").is_none());
}

#[tokio::test]
async fn a_patch_changes_the_given_fields_and_leaves_the_others() {
    let (app, slug, _, admin) = with_admin().await;
    let ch = app.channel(&slug, "A").await;
    let (id, _) = app
        .create_token(&slug, &["messages:send"], |d| {
            d.description = "orders".into();
            d.channels = Some(vec![ch]);
        })
        .await;

    let (status, patched) = app
        .api(&admin)
        .patch(
            &format!("/api/v1/tokens/{id}"),
            json!({"name": "Zapier 2", "channels": null}),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(patched["data"]["name"], "Zapier 2");
    assert_eq!(patched["data"]["channels"], Value::Null);
    assert_eq!(
        patched["data"]["description"], "orders",
        "untouched fields stay"
    );
}

#[tokio::test]
async fn the_token_list_pages_by_cursor_and_refuses_a_limit_over_100() {
    let (app, slug, _, admin) = with_admin().await;
    app.create_token(&slug, &["chats:read"], |_| {}).await;
    let api = app.api(&admin);

    let (_, page1) = api.get("/api/v1/tokens?limit=1").await;
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = api
        .get(&format!("/api/v1/tokens?limit=1&cursor={cursor}"))
        .await;

    assert_eq!(page1["data"].as_array().unwrap().len(), 1);
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_cursor"], Value::Null);
    assert_ne!(page1["data"][0]["id"], page2["data"][0]["id"]);
    problem(
        get(&app, "/api/v1/tokens?limit=101", &admin).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn revoke_reactivate_and_regenerate_answer_with_the_changed_token() {
    let (app, slug, _, admin) = with_admin().await;
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let api = app.api(&admin);

    let (_, revoked) = api.post(&format!("/api/v1/tokens/{id}/revoke")).await;
    assert_eq!(revoked["data"]["status"], "revoked");
    let (_, back) = api.post(&format!("/api/v1/tokens/{id}/reactivate")).await;
    assert_eq!(back["data"]["status"], "active");
    let regen = api
        .send(
            Method::POST,
            &format!("/api/v1/tokens/{id}/regenerate"),
            None,
        )
        .await;
    assert_eq!(regen.headers()["cache-control"], "no-store");
    let regen: Value = regen.json().await.unwrap();
    assert_ne!(regen["data"]["secret"], secret.as_str());
}

#[tokio::test]
async fn usage_has_30_days_and_the_newest_answered_request_first() {
    let (app, slug, admin_id, admin) = with_admin().await;
    let (id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let api = app.api(&admin);
    for _ in 0..8 {
        api.get(&format!("/api/v1/tokens/{id}")).await;
    }
    api.post(&format!("/api/v1/tokens/{id}/regenerate")).await;

    let (_, usage) = api.get(&format!("/api/v1/tokens/{admin_id}/usage")).await;

    assert_eq!(usage["data"]["daily"].as_array().unwrap().len(), 30);
    assert!(usage["data"]["request_count"].as_i64().unwrap() >= 9);
    // A request is counted once answered: the newest recorded one is the regenerate.
    assert_eq!(
        usage["data"]["recent"][0]["path"],
        format!("/api/v1/tokens/{id}/regenerate")
    );
    assert_eq!(usage["data"]["recent"][0]["method"], "POST");
}

#[tokio::test]
async fn a_deleted_token_is_204_then_not_found() {
    let (app, slug, _, admin) = with_admin().await;
    let (id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;

    let (status, _) = app
        .api(&admin)
        .delete(&format!("/api/v1/tokens/{id}"))
        .await;

    assert_eq!(status, 204);
    problem(
        get(&app, &format!("/api/v1/tokens/{id}"), &admin).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn revocation_regeneration_and_deletion_are_refused_on_the_very_next_request() {
    let (app, slug, _, admin) = with_admin().await;
    let admin = app.api(&admin);
    let (id, victim) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let token = format!("/api/v1/tokens/{id}");
    assert_eq!(get(&app, "/api/v1/me", &victim).await.status(), 200);
    admin.post(&format!("{token}/revoke")).await;
    problem(get(&app, "/api/v1/me", &victim).await, 401, "token_revoked").await;
    admin.post(&format!("{token}/reactivate")).await;
    let (_, regen) = admin.post(&format!("{token}/regenerate")).await;
    problem(get(&app, "/api/v1/me", &victim).await, 401, "invalid_token").await;
    let fresh = regen["data"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, "/api/v1/me", &fresh).await.status(), 200);
    let (status, _) = admin
        .patch(&token, json!({"permissions": ["messages:send"]}))
        .await;
    assert_eq!(status, 200);
    let (_, reader) = app.create_token(&slug, &["tokens:read"], |_| {}).await;
    admin
        .patch(&token, json!({"permissions": ["tokens:read"]}))
        .await;
    assert_eq!(
        get(&app, "/api/v1/tokens", &fresh).await.status(),
        200,
        "the added permission works at once"
    );
    admin
        .patch(&token, json!({"permissions": ["chats:read"]}))
        .await;
    problem(
        get(&app, "/api/v1/tokens", &fresh).await,
        403,
        "insufficient_permission",
    )
    .await;
    admin.delete(&token).await;
    problem(get(&app, "/api/v1/me", &fresh).await, 401, "invalid_token").await;
    assert_eq!(get(&app, "/api/v1/me", &reader).await.status(), 200);
}

#[tokio::test]
async fn escalation_is_refused_and_nothing_is_created_or_changed() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let ws = app.workspace(&slug).await;
    let a = app.channel(&slug, "A").await;
    let b = app.channel(&slug, "B").await;
    let far = keyward::domain::now() + 10 * 86_400;
    let (_, writer) = app
        .create_token(&slug, &["tokens:write", "chats:read"], |d| {
            d.channels = Some(vec![a.clone()]);
            d.expires_at = Some(far);
        })
        .await;
    let (admin_id, _) = app.create_token(&slug, &["admin"], |_| {}).await;
    let before = keyward::db::tokens::count(&app.state.db, &ws.id)
        .await
        .unwrap();
    for body in [
        json!({"name": "x", "permissions": ["messages:send"]}),
        json!({"name": "x", "permissions": ["chats:read"], "channels": [b]}),
        json!({"name": "x", "permissions": ["chats:read"], "channels": null}),
        json!({"name": "x", "permissions": ["chats:read"], "expires_at": null}),
        json!({"name": "x", "permissions": ["chats:read"], "expires_at": "2099-01-01T00:00:00Z"}),
    ] {
        let res = app
            .api(&writer)
            .send(Method::POST, "/api/v1/tokens", Some(body))
            .await;
        problem(res, 403, "insufficient_permission").await;
    }
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &ws.id)
            .await
            .unwrap(),
        before
    );
    // Within its own bounds it may create; omitted fields inherit its scope and expiry.
    let (_, ok) = app
        .api(&writer)
        .post_json(
            "/api/v1/tokens",
            json!({"name": "child", "permissions": ["chats:read"]}),
        )
        .await;
    assert_eq!(ok["data"]["channels"], json!([{"id": a, "name": "A"}]));
    assert_eq!(
        ok["data"]["expires_at"],
        keyward::domain::token::rfc3339(far)
    );
    // It may not act on a broader token.
    let revoke = format!("/api/v1/tokens/{admin_id}/revoke");
    let res = app.api(&writer).send(Method::POST, &revoke, None).await;
    problem(res, 403, "insufficient_permission").await;
    let admin_token = keyward::db::tokens::get(&app.state.db, &ws.id, &admin_id)
        .await
        .unwrap()
        .unwrap();
    assert!(admin_token.revoked_at.is_none());
}

#[tokio::test]
async fn another_workspaces_ids_are_404() {
    let app = TestApp::spawn().await;
    let slug = setup(&app).await;
    let other = app
        .other_admin_with_workspace("bob@other.io", "Other")
        .await;
    let (theirs, their_secret) = app.create_token(&other, &["admin"], |_| {}).await;
    let their_channel = app.channel(&other, "Theirs").await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/tokens/{theirs}")),
        (Method::GET, format!("/api/v1/tokens/{theirs}/usage")),
        (Method::PATCH, format!("/api/v1/tokens/{theirs}")),
        (Method::POST, format!("/api/v1/tokens/{theirs}/revoke")),
        (Method::POST, format!("/api/v1/tokens/{theirs}/regenerate")),
        (Method::DELETE, format!("/api/v1/tokens/{theirs}")),
        (Method::GET, format!("/api/v1/channels/{their_channel}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "pwned"}));
        problem(
            call(&app, method.clone(), &path, Some(&admin), body).await,
            404,
            "not_found",
        )
        .await;
    }
    assert_eq!(
        get(&app, "/api/v1/me", &their_secret).await.status(),
        200,
        "untouched"
    );
    let v: Value = call(
        &app,
        Method::POST,
        "/api/v1/verify",
        Some(&admin),
        Some(json!({"token": their_secret})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["data"]["code"], "invalid_token");
    assert_eq!(v["data"]["token"], Value::Null);
}

/// An app whose standard tier allows 2 requests an hour, with channels A and B and a
/// `tokens:verify` token on the admin tier; returns (app, slug, A, B, verifier secret).
async fn with_verifier() -> (TestApp, String, String, String, String) {
    let app = TestApp::spawn_with(|c| c.rate_limit_standard = 2).await;
    let slug = setup(&app).await;
    let a = app.channel(&slug, "A").await;
    let b = app.channel(&slug, "B").await;
    let (_, verifier) = app
        .create_token(&slug, &["tokens:verify"], |d| {
            d.rate = keyward::domain::rate::RatePolicy::Tier("admin".into())
        })
        .await;
    (app, slug, a, b, verifier)
}

/// A `messages:send` token scoped to `channel` that works only from 10.0.0.0/8.
async fn allowlisted(app: &TestApp, slug: &str, channel: &str) -> (String, String) {
    app.create_token(slug, &["messages:send"], |d| {
        d.channels = Some(vec![channel.to_owned()]);
        d.ip_allowlist = keyward::domain::ip::IpAllowlist::parse_lines(["10.0.0.0/8"]).unwrap();
    })
    .await
}

/// The `data` of a `POST /api/v1/verify` answer.
async fn verify(app: &TestApp, verifier: &str, body: Value) -> Value {
    let (_, v) = app.api(verifier).post_json("/api/v1/verify", body).await;
    v["data"].clone()
}

#[tokio::test]
async fn verify_says_valid_with_the_token_and_its_remaining_budget() {
    let (app, slug, a, _, verifier) = with_verifier().await;
    let (id, subject) = allowlisted(&app, &slug, &a).await;

    let v = verify(
        &app,
        &verifier,
        json!({"token": subject, "permission": "messages:send", "channel": a, "ip": "10.1.2.3"}),
    )
    .await;

    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "valid");
    assert_eq!(v["token"]["id"], id);
    assert_eq!(v["ratelimit"]["limit"], 2);
    assert_eq!(v["ratelimit"]["remaining"], 1);
}

#[tokio::test]
async fn verify_says_ip_not_allowed_outside_the_allowlist_and_without_an_ip() {
    let (app, slug, a, _, verifier) = with_verifier().await;
    let (_, subject) = allowlisted(&app, &slug, &a).await;

    let outside = verify(
        &app,
        &verifier,
        json!({"token": subject, "ip": "192.0.2.1"}),
    )
    .await;
    // Fail closed: an allowlisted token verified without an IP.
    let without = verify(&app, &verifier, json!({"token": subject})).await;

    assert_eq!(outside["code"], "ip_not_allowed");
    assert_eq!(without["code"], "ip_not_allowed");
}

#[tokio::test]
async fn verify_says_invalid_token_for_garbage() {
    let (app, _, _, _, verifier) = with_verifier().await;
    let v = verify(&app, &verifier, json!({"token": "kw_garbage"})).await;
    assert_eq!(v["code"], "invalid_token");
}

#[tokio::test]
async fn verify_says_insufficient_permission_and_channel_not_allowed_and_each_spends_budget() {
    let (app, slug, a, b, verifier) = with_verifier().await;
    let (_, open) = app
        .create_token(&slug, &["messages:send"], |d| d.channels = Some(vec![a]))
        .await;

    let permission = verify(
        &app,
        &verifier,
        json!({"token": open, "permission": "chats:read"}),
    )
    .await;
    let channel = verify(&app, &verifier, json!({"token": open, "channel": b})).await;
    let third = verify(&app, &verifier, json!({"token": open})).await;

    assert_eq!(permission["code"], "insufficient_permission");
    assert_eq!(channel["code"], "channel_not_allowed");
    assert_eq!(
        third["code"], "rate_limited",
        "the verified token's budget of 2 is spent"
    );
}

#[tokio::test]
async fn verify_says_token_revoked_then_token_expired() {
    let (app, slug, _, _, verifier) = with_verifier().await;
    let (id, secret) = app.create_token(&slug, &["messages:send"], |_| {}).await;

    app.sql("UPDATE tokens SET revoked_at = 1 WHERE id = ?", &id)
        .await;
    let v = verify(&app, &verifier, json!({"token": secret})).await;
    assert_eq!(v["code"], "token_revoked");
    assert_eq!(v["valid"], false);

    app.sql(
        "UPDATE tokens SET revoked_at = NULL, expires_at = 1 WHERE id = ?",
        &id,
    )
    .await;
    let v = verify(&app, &verifier, json!({"token": secret})).await;
    assert_eq!(v["code"], "token_expired");
}

#[tokio::test]
async fn each_verify_counts_as_a_use_of_the_verified_token() {
    let (app, slug, a, _, verifier) = with_verifier().await;
    let (id, subject) = allowlisted(&app, &slug, &a).await;
    for ip in ["10.1.2.3", "192.0.2.1"] {
        verify(&app, &verifier, json!({"token": subject, "ip": ip})).await;
    }
    verify(&app, &verifier, json!({"token": subject})).await;

    let ws = app.workspace(&slug).await;
    let t = keyward::db::tokens::get(&app.state.db, &ws.id, &id)
        .await
        .unwrap()
        .unwrap();
    let pending = app.state.gate.usage.pending(&t.id).map_or(0, |p| p.count);
    assert_eq!(t.request_count + pending, 3);
}

#[tokio::test]
async fn verify_without_tokens_verify_is_refused() {
    let (app, slug, _, _, _) = with_verifier().await;
    let (_, plain) = app.create_token(&slug, &["messages:send"], |_| {}).await;
    let (_, other) = app.create_token(&slug, &["messages:send"], |_| {}).await;

    let res = app
        .api(&plain)
        .send(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"token": other})),
        )
        .await;

    problem(res, 403, "insufficient_permission").await;
}

#[tokio::test]
async fn five_requests_are_counted_within_two_seconds_in_the_api_and_the_detail_page() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (id, secret) = app.create_token(&slug, &["tokens:read"], |_| {}).await;
    for _ in 0..5 {
        assert_eq!(get(&app, "/api/v1/channels", &secret).await.status(), 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let ws = app.workspace(&slug).await;
    let stored = keyward::db::tokens::get(&app.state.db, &ws.id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.request_count, 5, "flushed to the database");
    let one: Value = get(&app, &format!("/api/v1/tokens/{id}"), &secret)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["data"]["request_count"], 5,
        "a request is counted once answered"
    );
    assert_eq!(one["data"]["last_used_ip"], "127.0.0.1");
    let html = c
        .get(app.url(&format!("/w/{slug}/settings/developer/api-tokens/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<span class="stat-value" id="stat-requests">6</span>"#),
        "detail page shows the count"
    );
    assert!(html.contains("/api/v1/channels"));
}
