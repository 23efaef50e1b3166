//! The grant rule and the smaller API findings of the 2026-12 review: regenerate and
//! reactivate need the whole target within the caller's grant, nobody without `admin` raises
//! a rate limit, an empty scope creates nothing, verify stays inside its workspace, dashboard
//! forms with a repeated channel id, and the name search's cap.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{call, problem};
use crate::helpers::TestApp;

const WEEK: i64 = 7 * 86_400;

/// A `tokens:write` token that works only from 127.0.0.1 and expires in a week.
async fn narrow_writer(app: &TestApp, slug: &str) -> String {
    let week = keyward::domain::now() + WEEK;
    app.create_token(slug, &["tokens:write"], |d| {
        d.ip_allowlist = keyward::domain::ip::IpAllowlist::parse_lines(["127.0.0.1"]).unwrap();
        d.expires_at = Some(week);
    })
    .await
    .1
}

async fn post(app: &TestApp, path: &str, secret: &str, body: Option<Value>) -> reqwest::Response {
    call(app, Method::POST, path, Some(secret), body).await
}

#[tokio::test]
async fn regenerate_of_a_token_wider_than_the_caller_is_refused_and_hands_out_nothing() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let writer = narrow_writer(&app, &slug).await;
    // An admin-made token with the same permissions but no allowlist and no expiry.
    let (wide_id, wide_secret) = app.create_token(&slug, &["tokens:write"], |_| {}).await;

    let res = post(
        &app,
        &format!("/api/v1/tokens/{wide_id}/regenerate"),
        &writer,
        None,
    )
    .await;

    let body = problem(res, 403, "insufficient_permission").await;
    assert!(
        body["detail"].as_str().unwrap().contains("expiry"),
        "{body}"
    );
    assert!(body.get("data").is_none() && !body.to_string().contains("secret"));
    assert_eq!(
        app.me_status(&wide_secret).await,
        200,
        "the old secret still works"
    );
}

#[tokio::test]
async fn reactivate_of_a_token_wider_than_the_caller_is_refused_and_it_stays_revoked() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let writer = narrow_writer(&app, &slug).await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let (wide_id, wide_secret) = app.create_token(&slug, &["tokens:write"], |_| {}).await;
    let revoke = format!("/api/v1/tokens/{wide_id}/revoke");
    assert_eq!(post(&app, &revoke, &admin, None).await.status(), 200);

    let res = post(
        &app,
        &format!("/api/v1/tokens/{wide_id}/reactivate"),
        &writer,
        None,
    )
    .await;

    problem(res, 403, "insufficient_permission").await;
    assert_eq!(app.me_status(&wide_secret).await, 401, "still revoked");
}

#[tokio::test]
async fn regenerate_and_reactivate_within_the_callers_grant_still_work() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let writer = narrow_writer(&app, &slug).await;
    let child: Value = post(
        &app,
        "/api/v1/tokens",
        &writer,
        Some(json!({"name": "child", "permissions": ["tokens:write"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = child["data"]["id"].as_str().unwrap();

    let regenerated = post(
        &app,
        &format!("/api/v1/tokens/{id}/regenerate"),
        &writer,
        None,
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let secret = regenerated.json::<Value>().await.unwrap()["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.me_status(&secret).await, 200);
    assert_eq!(
        post(&app, &format!("/api/v1/tokens/{id}/revoke"), &writer, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        post(
            &app,
            &format!("/api/v1/tokens/{id}/reactivate"),
            &writer,
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(app.me_status(&secret).await, 200);
}

#[tokio::test]
async fn a_standard_token_cannot_patch_itself_or_another_to_the_admin_tier() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (own_id, own) = app.create_token(&slug, &["tokens:write"], |_| {}).await;
    let (other_id, _) = app.create_token(&slug, &["tokens:write"], |_| {}).await;

    for id in [&own_id, &other_id] {
        let res = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/tokens/{id}"),
            Some(&own),
            Some(json!({"rate_limit_tier": "admin"})),
        )
        .await;
        let body = problem(res, 403, "insufficient_permission").await;
        assert!(
            body["detail"].as_str().unwrap().contains("rate limit"),
            "{body}"
        );
        let stored = keyward::db::tokens::get(&app.state.db, &app.workspace(&slug).await.id, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.rate.tier(), Some("standard"));
    }
    // Nor create one faster than itself.
    let res = post(
        &app,
        "/api/v1/tokens",
        &own,
        Some(json!({"name": "fast", "permissions": ["tokens:write"], "rate_limit_tier": "admin"})),
    )
    .await;
    problem(res, 403, "insufficient_permission").await;
}

#[tokio::test]
async fn a_token_whose_channels_were_all_removed_cannot_create_children() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let ws = app.workspace(&slug).await.id;
    let ch = app.channel(&slug, "Support").await;
    let (_, scoped) = app
        .create_token(&slug, &["tokens:write", "chats:read"], |d| {
            d.channels = Some(vec![ch.clone()]);
        })
        .await;
    assert!(
        keyward::db::channels::delete(&app.state.db, &ws, &ch)
            .await
            .unwrap()
    );
    app.state.gate.tokens.invalidate();
    let before = keyward::db::tokens::count(&app.state.db, &ws)
        .await
        .unwrap();

    let res = post(
        &app,
        "/api/v1/tokens",
        &scoped,
        Some(json!({"name": "child", "permissions": ["chats:read"]})),
    )
    .await;

    let body = problem(res, 422, "validation_failed").await;
    assert!(body["errors"]["channels"].is_array(), "{body}");
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &ws)
            .await
            .unwrap(),
        before
    );
}

#[tokio::test]
async fn verify_with_another_workspaces_channel_is_channel_not_allowed_and_names_the_workspace() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let other = app.other_admin_with_workspace("b@other.io", "Other").await;
    let theirs = app.channel(&other, "Theirs").await;
    let (_, verifier) = app.create_token(&slug, &["tokens:verify"], |_| {}).await;
    let (_, unscoped) = app.create_token(&slug, &["chats:read"], |_| {}).await;

    let verdict = |channel: &str| json!({"token": unscoped, "channel": channel});
    let res = post(&app, "/api/v1/verify", &verifier, Some(verdict(&theirs))).await;
    let body: Value = res.json().await.unwrap();

    assert_eq!(body["data"]["valid"], false, "{body}");
    assert_eq!(body["data"]["code"], "channel_not_allowed");
    assert_eq!(body["data"]["workspace"]["slug"], slug.as_str());
    let unknown = post(&app, "/api/v1/verify", &verifier, Some(verdict("ch_nope"))).await;
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["data"]["code"],
        "channel_not_allowed"
    );
}

#[tokio::test]
async fn a_repeated_channel_in_the_dashboard_form_saves_one_scope() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let ch = app.channel(&slug, "Support").await;

    let (id, secret) = crate::tokens_web::create_token(
        &app,
        &c,
        &slug,
        &[
            ("name", "twice"),
            ("permissions", "chats:read"),
            ("channel_mode", "some"),
            ("channels", &ch),
            ("channels", &ch),
            ("expiry", "30"),
            ("tier", "standard"),
        ],
    )
    .await;

    assert_eq!(app.me_status(&secret).await, 200);
    let stored = keyward::db::tokens::get(&app.state.db, &app.workspace(&slug).await.id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.channel_ids(), Some(vec![ch]));
}

#[tokio::test]
async fn the_api_name_search_is_capped_at_100_characters() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (_, reader) = app.create_token(&slug, &["tokens:read"], |_| {}).await;
    let path = |n: usize| format!("/api/v1/tokens?q={}", "a".repeat(n));

    let long = call(&app, Method::GET, &path(101), Some(&reader), None).await;
    let fits = call(&app, Method::GET, &path(100), Some(&reader), None).await;

    let body = problem(long, 422, "validation_failed").await;
    assert!(body["errors"]["q"].is_array(), "{body}");
    assert_eq!(fits.status(), 200);
}

/// A request authenticated before its token was revoked or narrowed waits for the write lock
/// and then runs: its grant is the token as stored when the change is written.
#[tokio::test]
async fn a_change_is_checked_against_the_acting_token_as_stored_when_it_is_written() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let ws = app.workspace(&slug).await.id;
    let (writer_id, _) = app
        .create_token(&slug, &["tokens:write", "chats:read"], |_| {})
        .await;
    let (target_id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let actor = keyward::db::audit::Actor::token(&writer_id, "script");
    let ctx = keyward::ops::Ctx::new(
        &app.state,
        &ws,
        &actor,
        None,
        keyward::ops::Acting::Token(&writer_id),
    );
    let db = &app.state.db;
    let narrow = |perms: &'static str| {
        let id = writer_id.clone();
        async move {
            let sql = "UPDATE tokens SET permissions = ? WHERE id = ?";
            crate::backend::exec(db, sql, &[perms, &id]).await
        }
    };

    narrow("chats:read").await;
    let after_narrowing = keyward::ops::regenerate(&ctx, &target_id, "kw_").await;
    narrow("tokens:write chats:read").await;
    crate::backend::exec(
        db,
        "UPDATE tokens SET revoked_at = 1 WHERE id = ?",
        &[&writer_id],
    )
    .await;
    let after_revoke = keyward::ops::set_revoked(&ctx, &target_id, true).await;

    let code = |r: Result<_, keyward::error::AppError>| r.err().map(|e| e.code());
    assert_eq!(
        code(after_narrowing.map(|_| ())),
        Some("insufficient_permission")
    );
    assert_eq!(code(after_revoke.map(|_| ())), Some("token_revoked"));
    let target = keyward::db::tokens::get(&app.state.db, &ws, &target_id)
        .await
        .unwrap()
        .unwrap();
    assert!(target.revoked_at.is_none());
}
