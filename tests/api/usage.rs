//! Usage counting: nothing is written on the request path, nothing counted is lost.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::api::call;
use crate::helpers::TestApp;

#[tokio::test]
async fn the_request_path_writes_nothing_between_flushes() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let (id, secret) = app.create_token(&slug, &["admin"], |_| {}).await;
    let (other_id, other) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let mut watcher = crate::backend::WriteWatch::new(&app.db_path).await;
    let before = watcher.mark().await;
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
        watcher.mark().await,
        before,
        "no commit happened on the request path"
    );
    // The requests were all counted, in memory: 3 calls a round by the admin token; the other
    // token's own calls (200 and 403) plus being verified.
    assert_eq!(app.state.gate.usage.pending(&id).map(|p| p.count), Some(60));
    assert_eq!(
        app.state.gate.usage.pending(&other_id).map(|p| p.count),
        Some(60)
    );
    // A flush writes them in one go.
    app.state.gate.flush().await.unwrap();
    assert_ne!(watcher.mark().await, before);
    let ws = app.workspace(&slug).await;
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
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
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
        .arg(crate::backend::url_for(&app.db_path))
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
    let ch = app.channel(&slug, "Only").await;
    let (_, secret) = app
        .create_token(&slug, &["chats:read"], |d| {
            d.channels = Some(vec![ch.clone()])
        })
        .await;
    let me: serde_json::Value = call(&app, Method::GET, "/api/v1/me", Some(&secret), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["token"]["channels"][0]["id"], ch.as_str());
    let page = format!("/w/{slug}/settings/channels");
    let res = app
        .post_form(&c, &page, &format!("{page}/{}/remove", ch), &[])
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

/// Records a hit straight into the buffer, as the tracking layer does (without a cache
/// entry's place in the batch: the token is found by its id).
fn hit(app: &TestApp, token_id: &str, at: i64, path: &str) {
    let place = keyward::bearer::usage::BatchSlot::default();
    app.state
        .gate
        .usage
        .record(token_id, &place, path, |path| keyward::bearer::usage::Hit {
            at,
            method: axum::http::Method::GET,
            path,
            status: 200,
            ip: [192, 0, 2, 7].into(),
            hint: "kw_AbCd…wxyz".into(),
        });
}

/// A flushed chunk leaves out of each request what repeats the chunk's first request
/// (`bearer::usage::flush`); the database reads every request back whole.
#[tokio::test]
async fn recent_requests_that_repeat_their_chunks_first_read_back_whole() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let (id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let now = keyward::domain::now();
    let sent = [
        (now - 4, "/a", 200, [192, 0, 2, 7]),
        (now - 3, "/a", 200, [192, 0, 2, 7]),
        (now - 2, "/a", 429, [192, 0, 2, 7]),
        (now - 1, "/b", 200, [192, 0, 2, 8]),
    ];
    let place = keyward::bearer::usage::BatchSlot::default();
    for (at, path, status, ip) in sent {
        let usage = &app.state.gate.usage;
        usage.record(&id, &place, path, |path| keyward::bearer::usage::Hit {
            at,
            method: axum::http::Method::GET,
            path,
            status,
            ip: ip.into(),
            hint: "kw_AbCd…wxyz".into(),
        });
    }
    assert_eq!(app.state.gate.flush().await.unwrap(), 1);
    let db = &app.state.db;
    let sql = "SELECT COUNT(*) FROM usage_recent_chunks WHERE token_id = ? AND requests LIKE ?";
    let repeat = format!("%,[{}],%", now - 3);
    assert_eq!(
        crate::backend::scalar(db, sql, &[&id, &repeat]).await,
        1,
        "kept as its time alone"
    );
    let recent = keyward::db::usage::recent(db, &id, 10).await.unwrap();
    let read: Vec<_> = recent
        .iter()
        .rev()
        .map(|r| {
            (
                r.at,
                r.method.clone(),
                r.path.clone(),
                r.status,
                r.ip.clone(),
                r.hint.clone(),
            )
        })
        .collect();
    let want: Vec<_> = sent
        .iter()
        .map(|(at, path, status, ip)| {
            let ip = std::net::IpAddr::from(*ip).to_string();
            (
                *at,
                "GET".into(),
                path.to_string(),
                i64::from(*status),
                ip,
                "kw_AbCd…wxyz".into(),
            )
        })
        .collect();
    assert_eq!(read, want);
}

#[tokio::test]
async fn the_flusher_keeps_100_recent_requests_and_90_days_and_skips_deleted_tokens() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let (busy, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let (quiet, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let (gone, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let db = &app.state.db;
    let now = keyward::domain::now();
    let old_day = keyward::bearer::usage::day_of(now - 91 * 86_400);
    let kept_day = keyward::bearer::usage::day_of(now - 89 * 86_400);
    for day in [&old_day, &kept_day] {
        let sql = "INSERT INTO usage_daily (token_id, day, count) VALUES (?, ?, 7)";
        crate::backend::exec(db, sql, &[&busy, day]).await;
    }
    let flush = || async { app.state.gate.flush().await.unwrap() };
    // 80 requests, a flush, 70 more: 150 in all, the newest 100 kept, in order.
    for i in 0..80 {
        hit(&app, &busy, now - 1000 + i, &format!("/r/{i}"));
    }
    hit(&app, &quiet, now - 5, "/q");
    assert_eq!(flush().await, 2);
    for i in 80..150 {
        hit(&app, &busy, now - 1000 + i, &format!("/r/{i}"));
    }
    hit(&app, &gone, now, "/g");
    let ws = app.workspace(&slug).await;
    let mut conn = db.acquire().await.unwrap();
    keyward::db::tokens::delete(conn.conn(), &ws.id, &gone)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(flush().await, 2, "the deleted token's usage is dropped");

    let busy = busy.as_str();
    let paths = |n| async move {
        let recent = keyward::db::usage::recent(db, busy, n).await.unwrap();
        recent.into_iter().map(|r| r.path).collect::<Vec<_>>()
    };
    let chunks = || async {
        let sql = "SELECT COUNT(*) FROM usage_recent_chunks WHERE token_id = ?";
        crate::backend::scalar(db, sql, &[busy]).await
    };
    let expected: Vec<String> = (50..150).rev().map(|i| format!("/r/{i}")).collect();
    assert_eq!(paths(100).await, expected, "the newest 100, newest first");
    assert_eq!(
        chunks().await,
        2,
        "both flushes hold some of the newest 100"
    );
    let recent = keyward::db::usage::recent(db, &quiet, 100).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(
        (recent[0].path.as_str(), recent[0].ip.as_str()),
        ("/q", "192.0.2.7")
    );
    let sql = "SELECT COUNT(*) FROM usage_recent_chunks WHERE token_id = ?";
    let gone_rows = crate::backend::scalar(db, sql, &[&gone]).await;
    assert_eq!(gone_rows, 0);

    let days = keyward::db::usage::daily(db, busy, "0000-00-00")
        .await
        .unwrap();
    let today = keyward::bearer::usage::day_of(now - 1000);
    let counts: Vec<(&str, i64)> = days.iter().map(|d| (d.day.as_str(), d.count)).collect();
    let mut expected = vec![(kept_day.as_str(), 7)];
    if today == keyward::bearer::usage::day_of(now - 1000 + 149) {
        expected.push((today.as_str(), 150));
        assert_eq!(counts, expected, "the 91-day-old count is pruned");
    } else {
        assert_eq!(
            counts.first(),
            expected.first(),
            "the 91-day-old count is pruned"
        );
    }
    let t = keyward::db::tokens::get(db, &ws.id, busy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.request_count, 150);
    assert_eq!(t.last_used_at, Some(now - 1000 + 149));
    assert_eq!(t.last_used_ip.as_deref(), Some("192.0.2.7"));

    // 100 more: both older chunks now hold none of the newest 100 and are deleted.
    for i in 150..250 {
        hit(&app, busy, now - 1000 + i, &format!("/r/{i}"));
    }
    assert_eq!(flush().await, 1);
    let expected: Vec<String> = (150..250).rev().map(|i| format!("/r/{i}")).collect();
    assert_eq!(paths(1_000).await, expected);
    assert_eq!(chunks().await, 1, "storage stays bounded");
}

/// A flush binds its rows 64 tokens per statement run: 150 tokens take three runs, the last
/// padded.
#[tokio::test]
async fn a_flush_of_more_tokens_than_one_statement_run_writes_every_token() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let db = &app.state.db;
    let ws = app.workspace(&slug).await;
    let now = keyward::domain::now();
    let ids: Vec<String> = (0..150).map(|i| format!("tok_bulk{i:03}")).collect();
    for id in &ids {
        let blob = if crate::backend::on_postgres() {
            "BYTEA"
        } else {
            "BLOB"
        };
        let sql = format!(
            "INSERT INTO tokens (id, workspace_id, name, secret_hash, hint, permissions,
                                 created_at, updated_at, created_by_type, created_by_name)
             VALUES (?, ?, ?, CAST(? AS {blob}), 'kw_…', 'chats:read', 0, 0, 'cli', 'cli')"
        );
        crate::backend::exec(db, &sql, &[id, &ws.id, id, id]).await;
    }
    for (i, id) in ids.iter().enumerate() {
        for n in 0..=(i % 3) {
            hit(&app, id, now - 10 + n as i64, &format!("/{id}/{n}"));
        }
    }
    let flushed = app.state.gate.flush().await.unwrap();
    assert_eq!(flushed, 150);
    let rows: Vec<(String, i64, i64)> = crate::backend::rows(
        db,
        "SELECT t.id, t.request_count,
                CAST((SELECT SUM(count) FROM usage_daily WHERE token_id = t.id) AS BIGINT)
         FROM tokens AS t WHERE t.id LIKE 'tok_bulk%' ORDER BY t.id",
    )
    .await;
    let expected: Vec<(String, i64, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), (i % 3 + 1) as i64, (i % 3 + 1) as i64))
        .collect();
    assert_eq!(rows, expected);
    // Every token, in each of the three runs, got its own chunk, numbered with its count, and
    // its last use.
    let chunks: Vec<(String, i64, String, i64, String)> = crate::backend::rows(
        db,
        "SELECT t.id, c.last_seq - t.request_count, c.requests, t.last_used_at, t.last_used_ip
         FROM tokens AS t JOIN usage_recent_chunks AS c ON c.token_id = t.id
         WHERE t.id LIKE 'tok_bulk%' ORDER BY t.id",
    )
    .await;
    assert_eq!(chunks.len(), 150);
    for (i, (id, offset, requests, last_at, last_ip)) in chunks.into_iter().enumerate() {
        assert_eq!((id.as_str(), offset), (ids[i].as_str(), 0));
        let newest = (i % 3) as i64;
        assert_eq!(
            (last_at, last_ip.as_str()),
            (now - 10 + newest, "192.0.2.7")
        );
        let requests: Vec<serde_json::Value> = serde_json::from_str(&requests).unwrap();
        let paths: Vec<&str> = requests.iter().map(|r| r[2].as_str().unwrap()).collect();
        let expected: Vec<String> = (0..=newest).map(|n| format!("/{id}/{n}")).collect();
        assert_eq!(paths, expected, "oldest first");
    }
    let last = keyward::db::usage::recent(db, &ids[149], 100)
        .await
        .unwrap();
    let paths: Vec<&str> = last.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/tok_bulk149/2", "/tok_bulk149/1", "/tok_bulk149/0"]
    );
}

#[tokio::test]
async fn migrations_4_and_5_keep_the_newest_100_recent_requests_in_order() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    if crate::backend::on_postgres() {
        return; // an upgrade of SQLite databases made before these migrations
    }
    let dir = crate::helpers::temp_dir();
    let old = dir.join("migrations-1-3");
    std::fs::create_dir_all(&old).unwrap();
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap()
    {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0004" {
            std::fs::copy(&path, old.join(name)).unwrap();
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(dir.join("v3.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    let db = keyward::db::Db::Sqlite(pool.clone());
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO workspaces (id, name, slug, created_at) VALUES ('ws_1', 'W', 'w', 0)",
        "INSERT INTO tokens (id, workspace_id, name, secret_hash, hint, permissions, created_at,
                             updated_at, created_by_type, created_by_name, request_count)
         VALUES ('tok_a', 'ws_1', 'A', x'01', 'kw_…', 'chats:read', 0, 0, 'cli', 'cli', 500),
                ('tok_b', 'ws_1', 'B', x'02', 'kw_…', 'chats:read', 0, 0, 'cli', 'cli', 3)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    for (token, n, at, method, status, ip) in [
        ("tok_a", 130, 1_000, "GET", 200, "192.0.2.1"),
        ("tok_b", 3, 2_000, "POST", 201, "192.0.2.2"),
    ] {
        for i in 0..n {
            sqlx::query(
                "INSERT INTO usage_requests (token_id, at, method, path, status, ip)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(token)
            .bind(at + i)
            .bind(method)
            .bind(format!("/{}/{i}", &token[4..]))
            .bind(status)
            .bind(ip)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    keyward::db::migrate(&db).await.unwrap();

    let a = keyward::db::usage::recent(&db, "tok_a", 1_000)
        .await
        .unwrap();
    let paths: Vec<&str> = a.iter().map(|r| r.path.as_str()).collect();
    let expected: Vec<String> = (30..130).rev().map(|i| format!("/a/{i}")).collect();
    assert_eq!(paths, expected, "the newest 100, newest first");
    let b = keyward::db::usage::recent(&db, "tok_b", 1_000)
        .await
        .unwrap();
    assert_eq!(
        b.iter()
            .map(|r| (r.path.as_str(), r.status, r.ip.as_str()))
            .collect::<Vec<_>>(),
        [
            ("/b/2", 201, "192.0.2.2"),
            ("/b/1", 201, "192.0.2.2"),
            ("/b/0", 201, "192.0.2.2")
        ]
    );
    // The kept requests are one chunk numbered with the token's count, so the next flush
    // continues it.
    let chunks: Vec<(String, i64)> =
        sqlx::query_as("SELECT token_id, last_seq FROM usage_recent_chunks ORDER BY token_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(chunks, [("tok_a".into(), 500), ("tok_b".into(), 3)]);
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn me_counts_stay_exact_across_flushes_while_the_token_stays_cached() {
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 3_600_000).await;
    let slug = app.setup().await.1;
    let (_, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let me = || async {
        let res = call(&app, Method::GET, "/api/v1/me", Some(&secret), None).await;
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()["data"]["token"].clone()
    };
    let flush = || async {
        let state = &app.state;
        state.gate.flush().await.unwrap()
    };
    // A request is counted after its response, so each one sees the ones before it.
    for seen in 0..3 {
        assert_eq!(me().await["request_count"], seen);
    }
    assert_eq!(flush().await, 1);
    let misses = app.state.metrics.cache_misses.get();
    for seen in 3..5 {
        assert_eq!(me().await["request_count"], seen, "flushed + pending");
    }
    assert_eq!(flush().await, 1);
    assert_eq!(flush().await, 0);
    let t = me().await;
    assert_eq!(t["request_count"], 5, "flushed twice, nothing pending");
    assert_eq!(t["last_used_ip"], "127.0.0.1");
    assert!(t["last_used_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.state.metrics.cache_misses.get(),
        misses,
        "served from the cache throughout"
    );
}

#[tokio::test]
async fn on_postgresql_flushes_rewrite_token_rows_within_their_pages() {
    if !crate::backend::on_postgres() {
        return; // SQLite rewrites a row's page whatever room it has
    }
    let app = TestApp::spawn_with(|c| c.usage_flush_ms = 100).await;
    let slug = app.setup().await.1;
    let mut secrets = Vec::new();
    for _ in 0..300 {
        secrets.push(app.create_token(&slug, &["chats:read"], |_| {}).await.1);
    }
    let size = "SELECT pg_relation_size('tokens')";
    let before = crate::backend::scalar(&app.state.db, size, &[]).await;
    // Every token in each of four rounds, a flush between rounds: every row rewritten 4 times.
    for _ in 0..4 {
        for s in &secrets {
            assert_eq!(app.me_status(s).await, 200);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let counted = "SELECT CAST(COALESCE(SUM(request_count), 0) AS BIGINT) FROM tokens";
    assert_eq!(
        crate::backend::scalar(&app.state.db, counted, &[]).await,
        1200
    );
    // With room on its page a new version of a row goes beside the old one, which the page
    // then reclaims; full pages would put each version on a new page (five times the size).
    let after = crate::backend::scalar(&app.state.db, size, &[]).await;
    assert!(
        after * 2 <= before * 3,
        "{before} bytes before, {after} after"
    );
}
