//! Usage counting: nothing is written on the request path, nothing counted is lost.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::api::{call, token};
use crate::helpers::TestApp;

/// `PRAGMA data_version` on a connection of its own changes whenever another connection commits.
async fn data_version(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_request_path_writes_nothing_between_flushes() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let (id, secret) = token(&app, &slug, &["admin"], |_| {}).await;
    let (other_id, other) = token(&app, &slug, &["chats:read"], |_| {}).await;
    use sqlx::Connection;
    let mut watcher =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.db_path.display()))
            .await
            .unwrap();
    let before = data_version(&mut watcher).await;
    for _ in 0..20 {
        assert_eq!(
            call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
                .await
                .status(),
            200
        );
        assert_eq!(
            call(&app, Method::GET, "/api/v1/tokens", Some(&secret), None)
                .await
                .status(),
            200
        );
        assert_eq!(
            call(&app, Method::GET, "/api/v1/channels", Some(&other), None)
                .await
                .status(),
            200
        );
        let v = call(
            &app,
            Method::POST,
            "/api/v1/verify",
            Some(&secret),
            Some(json!({"token": other})),
        )
        .await;
        assert_eq!(v.status(), 200);
        assert_eq!(
            call(&app, Method::GET, "/api/v1/tokens", Some(&other), None)
                .await
                .status(),
            403
        );
    }
    assert_eq!(
        data_version(&mut watcher).await,
        before,
        "no commit happened on the request path"
    );
    // The requests were all counted, in memory: 3 calls a round by the admin token; the other
    // token's own calls (200 and 403) plus being verified.
    assert_eq!(app.state.usage.pending(&id).map(|p| p.count), Some(60));
    assert_eq!(
        app.state.usage.pending(&other_id).map(|p| p.count),
        Some(60)
    );
    // A flush writes them in one go.
    app.state
        .usage
        .flush(&app.state.db, &app.state.tokens, &app.state.metrics)
        .await
        .unwrap();
    assert_ne!(data_version(&mut watcher).await, before);
    let ws = keyward::db::workspaces::by_slug(&app.state.db, &slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        keyward::db::tokens::get(&app.state.db, &ws.id, &id)
            .await
            .unwrap()
            .unwrap()
            .request_count,
        60
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_cli_revoke_in_another_process_is_refused_within_a_second() {
    let app = TestApp::spawn().await;
    let slug = app.setup().await.1;
    let (id, secret) = token(&app, &slug, &["chats:read"], |_| {}).await;
    // Warm the cache.
    for _ in 0..3 {
        assert_eq!(
            call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
                .await
                .status(),
            200
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "token",
            "revoke",
            "--workspace",
            &slug,
            &id,
            "--database-url",
        ])
        .arg(format!("sqlite://{}", app.db_path.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked_at = std::time::Instant::now();
    loop {
        let status = call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
            .await
            .status();
        if status == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "still accepted after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn removing_a_channel_narrows_a_cached_token_at_once() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let ws = keyward::db::workspaces::by_slug(&app.state.db, &slug)
        .await
        .unwrap()
        .unwrap();
    let ch = keyward::db::channels::create(&app.state.db, &ws.id, "Only", "sms")
        .await
        .unwrap();
    let (_, secret) = token(&app, &slug, &["chats:read"], |d| {
        d.channels = Some(vec![ch.id.clone()])
    })
    .await;
    let me: serde_json::Value = call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["token"]["channels"][0]["id"], ch.id.as_str());
    let page = format!("/w/{slug}/settings/channels");
    let res = app
        .post_form(&c, &page, &format!("{page}/{}/remove", ch.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let me: serde_json::Value = call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["data"]["token"]["channels"],
        json!([]),
        "never widened: no channel left"
    );
    let list: serde_json::Value = call(&app, Method::GET, "/api/v1/channels", Some(&secret), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
}
