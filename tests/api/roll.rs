//! Rolling a secret with an overlap (SPEC §12): both secrets are one token while it runs, the
//! previous one stops at its time by itself or when ended, a second roll ends the first
//! overlap, bad overlaps change nothing, the grant rule is the regenerate rule, recent
//! requests name the secret used, and the CLI rolls too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::api::problem;
use crate::helpers::TestApp;
use keyward::domain::token::rfc3339;

/// A signed-in workspace, an admin token to act with and a `chats:read` token to roll.
async fn arranged(app: &TestApp) -> (String, String, String, String) {
    let (_, slug) = app.setup().await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    (slug, admin, id, secret)
}

/// Rolls token `id` with `body`; returns the new secret and the response's data.
async fn roll(app: &TestApp, admin: &str, id: &str, body: Value) -> (String, Value) {
    let (status, body) = app
        .api(admin)
        .post_json(&format!("/api/v1/tokens/{id}/roll"), body)
        .await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].clone();
    (data["secret"].as_str().unwrap().to_owned(), data)
}

async fn me(app: &TestApp, secret: &str) -> (u16, Value) {
    app.api(secret).get("/api/v1/me").await
}

/// The Unix time `value` (a `previous_secret_expires_at`) names, checked to be `secs` after a
/// moment between `before` and now.
/// The token's newest ten audit entries.
async fn token_audit(app: &TestApp, slug: &str, id: &str) -> Vec<keyward::db::audit::Entry> {
    let ws = app.workspace(slug).await;
    let only = keyward::db::audit::Filter {
        token_id: Some(id),
        ..Default::default()
    };
    keyward::db::audit::list(&app.state.db, &ws.id, only, None, 10)
        .await
        .unwrap()
}

fn expires_after(value: &Value, before: i64, secs: i64) -> i64 {
    let now = keyward::domain::now();
    (before..=now)
        .map(|t| t + secs)
        .find(|t| value == rfc3339(*t).as_str())
        .unwrap_or_else(|| panic!("{value} is not {secs} s after {before}..={now}"))
}

fn unix_now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn during_an_overlap_both_secrets_are_the_same_token_with_one_budget() {
    let app = TestApp::spawn_with(|c| c.rate_limit_standard = 4).await;
    let (_, admin, id, old) = arranged(&app).await;
    let before = keyward::domain::now();

    let (new, data) = roll(
        &app,
        &admin,
        &id,
        json!({"previous_secret_expires_in": 3600}),
    )
    .await;

    let until = data["previous_secret_expires_at"].as_str().unwrap();
    expires_after(&data["previous_secret_expires_at"], before, 3600);
    assert_eq!(data["id"], id.as_str());
    let mut remaining = Vec::new();
    for secret in [&old, &new, &old, &new] {
        let res = app
            .api(secret)
            .send(reqwest::Method::GET, "/api/v1/me", None)
            .await;
        remaining.push(
            res.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["token"]["id"], id.as_str());
        assert_eq!(body["data"]["token"]["previous_secret_expires_at"], until);
    }
    assert_eq!(
        remaining,
        ["3", "2", "1", "0"],
        "one budget for both secrets"
    );
    let over = app
        .api(&old)
        .send(reqwest::Method::GET, "/api/v1/me", None)
        .await;
    problem(over, 429, "rate_limited").await;
}

#[tokio::test]
async fn the_previous_secret_is_refused_within_a_second_of_its_time() {
    let app = TestApp::spawn().await;
    let (_, admin, id, old) = arranged(&app).await;

    let before = keyward::domain::now();
    let (new, data) = roll(&app, &admin, &id, json!({"previous_secret_expires_in": 2})).await;
    let until = expires_after(&data["previous_secret_expires_at"], before, 2);

    let refused_at = loop {
        let (status, body) = me(&app, &old).await;
        let at = unix_now_f64();
        if status == 401 {
            assert_eq!(body["code"], "invalid_token");
            break at;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            at < until as f64 + 1.0,
            "still accepted a second after its time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refused_at >= until as f64, "refused before its time");
    assert!(
        refused_at < until as f64 + 1.0,
        "refused at {refused_at}, time {until}"
    );
    assert_eq!(me(&app, &new).await.0, 200);
    let (_, token) = app.api(&admin).get(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(token["data"]["previous_secret_expires_at"], Value::Null);
}

#[tokio::test]
async fn rolling_again_ends_the_earlier_overlap_at_once() {
    let app = TestApp::spawn().await;
    let (slug, admin, id, first) = arranged(&app).await;
    let hour = json!({"previous_secret_expires_in": 3600});
    let (second, _) = roll(&app, &admin, &id, hour.clone()).await;
    assert_eq!(me(&app, &first).await.0, 200);

    let (third, _) = roll(&app, &admin, &id, hour).await;

    let (status, body) = me(&app, &first).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(me(&app, &second).await.0, 200);
    assert_eq!(me(&app, &third).await.0, 200);
    let audit = token_audit(&app, &slug, &id).await;
    assert_eq!(audit[0].action, "token.rolled");
    assert!(
        audit[0].details.contains("earlier previous secret"),
        "{}",
        audit[0].details
    );
}

#[tokio::test]
async fn ending_the_overlap_stops_the_previous_secret_and_is_audited() {
    let app = TestApp::spawn().await;
    let (slug, admin, id, old) = arranged(&app).await;
    let (new, _) = roll(
        &app,
        &admin,
        &id,
        json!({"previous_secret_expires_in": 3600}),
    )
    .await;
    assert_eq!(me(&app, &old).await.0, 200);

    let path = format!("/api/v1/tokens/{id}/end-overlap");
    let (status, body) = app.api(&admin).post(&path).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["previous_secret_expires_at"], Value::Null);
    assert_eq!(me(&app, &old).await.0, 401);
    assert_eq!(me(&app, &new).await.0, 200);
    let again = app
        .api(&admin)
        .send(reqwest::Method::POST, &path, None)
        .await;
    problem(again, 409, "conflict").await;
    let audit = token_audit(&app, &slug, &id).await;
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[..2], ["token.overlap_ended", "token.rolled"]);
    assert!(!format!("{audit:?}").contains(&new) && !format!("{audit:?}").contains(&old));
}

#[tokio::test]
async fn recent_requests_show_which_secret_was_used() {
    let app = TestApp::spawn().await;
    let (_, admin, id, old) = arranged(&app).await;
    let (new, data) = roll(
        &app,
        &admin,
        &id,
        json!({"previous_secret_expires_in": 600}),
    )
    .await;
    let old_hint = keyward::domain::secret::Secret::parse(&old).unwrap().hint();

    me(&app, &old).await;
    me(&app, &new).await;
    app.state.gate.flush().await.unwrap();
    me(&app, &old).await;

    let (_, usage) = app
        .api(&admin)
        .get(&format!("/api/v1/tokens/{id}/usage"))
        .await;
    let hints: Vec<_> = usage["data"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hint"].as_str().unwrap().to_owned())
        .collect();
    let new_hint = data["hint"].as_str().unwrap().to_owned();
    assert_eq!(hints, [old_hint.clone(), new_hint, old_hint]);
}

#[tokio::test]
async fn bad_overlaps_are_refused_with_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin, id, old) = arranged(&app).await;
    let path = format!("/api/v1/tokens/{id}/roll");
    for body in [
        json!({"previous_secret_expires_in": 604_801}),
        json!({"previous_secret_expires_in": -1}),
        json!({"previous_secret_expires_in": "1h"}),
        json!({"previous_secret_expires_in": 60.5}),
        json!({"overlap": 60}),
    ] {
        let res = app
            .api(&admin)
            .send(reqwest::Method::POST, &path, Some(body.clone()))
            .await;
        let problem = problem(res, 422, "validation_failed").await;
        assert!(problem["errors"].is_object(), "{body}: {problem}");
    }
    assert_eq!(me(&app, &old).await.0, 200, "the secret is unchanged");
    let (_, token) = app.api(&admin).get(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(token["data"]["previous_secret_expires_at"], Value::Null);
}

#[tokio::test]
async fn a_token_without_admin_cannot_roll_a_broader_token_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let (slug, _, _, _) = arranged(&app).await;
    let (_, writer) = app
        .create_token(&slug, &["tokens:write", "chats:read"], |_| {})
        .await;
    let (wide_id, wide) = app.create_token(&slug, &["messages:send"], |_| {}).await;

    let res = app
        .api(&writer)
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/tokens/{wide_id}/roll"),
            Some(json!({"previous_secret_expires_in": 3600})),
        )
        .await;

    let body = problem(res, 403, "insufficient_permission").await;
    assert!(!body.to_string().contains("secret\":"), "{body}");
    assert_eq!(me(&app, &wide).await.0, 200);
    let audit = token_audit(&app, &slug, &wide_id).await;
    assert!(
        audit.iter().all(|e| e.action != "token.rolled"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn regenerate_is_a_roll_without_overlap_that_also_ends_a_running_one() {
    let app = TestApp::spawn().await;
    let (_, admin, id, first) = arranged(&app).await;
    let (second, _) = roll(
        &app,
        &admin,
        &id,
        json!({"previous_secret_expires_in": 3600}),
    )
    .await;

    let (status, body) = app
        .api(&admin)
        .post(&format!("/api/v1/tokens/{id}/regenerate"))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["previous_secret_expires_at"], Value::Null);
    assert_eq!(me(&app, &first).await.0, 401);
    assert_eq!(me(&app, &second).await.0, 401);
    let third = body["data"]["secret"].as_str().unwrap();
    assert_eq!(me(&app, third).await.0, 200);
}

#[tokio::test]
async fn another_server_refuses_a_rolled_or_ended_secret_within_a_second() {
    if !crate::backend::on_postgres() {
        return; // one server per SQLite file
    }
    let a = TestApp::spawn().await;
    let b = a.spawn_beside().await;
    let (_, admin, id, first) = arranged(&a).await;
    assert_eq!(me(&b, &first).await.0, 200, "cached on B");
    let (second, _) = roll(&a, &admin, &id, json!({"previous_secret_expires_in": 3600})).await;
    assert_eq!(me(&b, &second).await.0, 200);
    assert_eq!(
        me(&b, &first).await.0,
        200,
        "both cached on B during the overlap"
    );

    // Ended through A: B drops its cached entry of the previous secret.
    let end = format!("/api/v1/tokens/{id}/end-overlap");
    assert_eq!(a.api(&admin).post(&end).await.0, 200);
    let ended = std::time::Instant::now();
    while me(&b, &first).await.0 == 200 {
        assert!(
            ended.elapsed() < Duration::from_secs(1),
            "B still accepts it"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(me(&b, &second).await.0, 200);
}

#[tokio::test]
async fn a_roll_without_a_body_or_with_null_has_no_overlap() {
    let app = TestApp::spawn().await;
    let (_, admin, id, first) = arranged(&app).await;
    let path = format!("/api/v1/tokens/{id}/roll");

    let before = keyward::domain::now();
    let (status, none) = app.api(&admin).post(&path).await;
    let (null_status, null) = app.api(&admin).post_json(&path, Value::Null).await;
    // JSON Schema's integers include 60.0: a whole number of seconds.
    let whole = json!({"previous_secret_expires_in": 60.0});
    let (_, whole) = app.api(&admin).post_json(&path, whole).await;

    assert_eq!((status, null_status), (200, 200), "{none} {null}");
    assert_eq!(none["data"]["previous_secret_expires_at"], Value::Null);
    assert_eq!(null["data"]["previous_secret_expires_at"], Value::Null);
    let second = none["data"]["secret"].as_str().unwrap();
    assert_eq!(
        (me(&app, &first).await.0, me(&app, second).await.0),
        (401, 401)
    );
    assert_eq!(
        me(&app, null["data"]["secret"].as_str().unwrap()).await.0,
        200
    );
    expires_after(&whole["data"]["previous_secret_expires_at"], before, 60);
}
