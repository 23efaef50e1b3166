//! Operating keyward: online backup and restore, schema versions, audit export.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::helpers::client;
use crate::real::{Server, cli, cli_ok, db_url, fresh_db, seed_admin_token};

/// A token the test created and the state it must have after a restore.
struct Issued {
    id: String,
    secret: String,
    revoked: bool,
}

async fn create(c: &reqwest::Client, server: &Server, admin: &str, name: &str) -> Issued {
    let res = c
        .post(server.url("/api/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({ "name": name, "permissions": ["chats:read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    Issued {
        id: body["data"]["id"].as_str().unwrap().to_owned(),
        secret: body["data"]["secret"].as_str().unwrap().to_owned(),
        revoked: false,
    }
}

async fn revoke(c: &reqwest::Client, server: &Server, admin: &str, id: &str) {
    let res = c
        .post(server.url(&format!("/api/v1/tokens/{id}/revoke")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn me_status(c: &reqwest::Client, server: &Server, secret: &str) -> u16 {
    c.get(server.url("/api/v1/me"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn backup_and_restore_on_postgresql_point_to_pg_dump() {
    if !crate::backend::on_postgres() {
        return; // on SQLite they work: the other tests of this file
    }
    let (dir, db) = fresh_db();
    seed_admin_token(&db);
    let to = dir.join("backup.db");
    for args in [
        ["backup", "--to", to.to_str().unwrap()],
        ["restore", "--from", to.to_str().unwrap()],
    ] {
        let out = cli(&db, &args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("pg_dump") && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(!to.exists(), "no half-working copy");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_into_a_working_server() {
    if crate::backend::on_postgres() {
        return; // keyward backup is SQLite's: see the test above
    }
    let (dir, db) = fresh_db();
    let admin = seed_admin_token(&db);
    let server = Server::start(&db, &["--rate-limit-admin", "1000000"]);
    let c = client();

    // Committed before the backup begins: 30 tokens, every third revoked.
    let mut before = Vec::new();
    for i in 0..30 {
        let mut t = create(&c, &server, &admin, &format!("before-{i}")).await;
        if i % 3 == 0 {
            revoke(&c, &server, &admin, &t.id).await;
            t.revoked = true;
        }
        before.push(t);
    }

    // Eight tasks keep creating, revoking and using tokens while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let server = Arc::new(server);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (c, server, admin, stop) = (c.clone(), server.clone(), admin.clone(), stop.clone());
        let probe = before[w + 1].secret.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = create(&c, &server, &admin, &format!("during-{w}-{n}")).await;
                assert_eq!(me_status(&c, &server, &t.secret).await, 200);
                if n % 2 == 0 {
                    revoke(&c, &server, &admin, &t.id).await;
                }
                let _ = me_status(&c, &server, &probe).await;
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backup = dir.join("backup.db");
    let backup_arg = backup.to_str().unwrap().to_owned();
    let db_for_backup = db.clone();
    let out = tokio::task::spawn_blocking(move || {
        cli_ok(&db_for_backup, &["backup", "--to", &backup_arg], "")
    })
    .await
    .unwrap();
    assert!(out.contains("integrity ok"), "{out}");
    assert!(out.contains("schema version 20"), "{out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut during = 0;
    for t in tasks {
        during += t.await.unwrap();
    }
    assert!(
        during > 8,
        "the load ran during the backup: {during} creates"
    );
    // A second backup to the same file is refused: backups never overwrite.
    let again = cli(&db, &["backup", "--to", backup.to_str().unwrap()], "");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let server = Arc::into_inner(server).unwrap();
    assert!(server.stop("-TERM").success());

    // Restore into a fresh place; the copy passes the integrity check.
    let (dir2, db2) = fresh_db();
    let out = cli_ok(&db2, &["restore", "--from", backup.to_str().unwrap()], "");
    assert!(out.contains("restored"), "{out}");
    let mut conn = sqlx::SqliteConnection::connect(&db_url(&db2))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    conn.close().await.unwrap();

    // Every token committed before the backup is there with its state; every secret that
    // worked still works, and revoked ones stay refused.
    let restored = Server::start(&db2, &["--rate-limit-admin", "1000000"]);
    assert_eq!(me_status(&c, &restored, &admin).await, 200);
    for t in &before {
        let got: Value = c
            .get(restored.url(&format!("/api/v1/tokens/{}", t.id)))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let want = if t.revoked { "revoked" } else { "active" };
        assert_eq!(got["data"]["status"], want, "{}", t.id);
        let status = me_status(&c, &restored, &t.secret).await;
        assert_eq!(status, if t.revoked { 401 } else { 200 }, "{}", t.id);
    }

    // While that server holds the database, restore is refused and changes nothing.
    let held = std::fs::read(&db2).unwrap();
    let refused = cli(&db2, &["restore", "--from", backup.to_str().unwrap()], "");
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("another keyward server is using"), "{err}");
    assert_eq!(std::fs::read(&db2).unwrap(), held);
    // A second server on the same file is refused too.
    let second = std::process::Command::new(crate::real::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db_url(&db2),
        ])
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another keyward server is using"));

    // Stopped, a restore over it keeps the previous database beside it.
    assert!(restored.stop("-TERM").success());
    let out = cli_ok(&db2, &["restore", "--from", backup.to_str().unwrap()], "");
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("the previous database is kept at "))
        .expect("names the kept file");
    assert!(std::path::Path::new(kept).exists());
    for d in [dir, dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn a_restored_backup_still_signs_webhooks_with_their_secrets() {
    if crate::backend::on_postgres() {
        return; // keyward backup is SQLite's (copy.rs checks PostgreSQL's key)
    }
    let (dir, db) = fresh_db();
    let admin = seed_admin_token(&db);
    let hook = crate::receiver::Receiver::start(&[]).await;
    let server = Server::start(&db, &["--webhook-allow-private"]);
    let (id, secret) = server.add_webhook(&admin, &hook.url).await;
    let backup = dir.join("backup.db");
    cli_ok(&db, &["backup", "--to", backup.to_str().unwrap()], "");
    assert!(server.stop("-TERM").success());

    // Restored elsewhere, with no `--secret-key`: the key the secret is sealed with came along.
    let (dir2, db2) = fresh_db();
    cli_ok(&db2, &["restore", "--from", backup.to_str().unwrap()], "");
    let restored = Server::start(&db2, &["--webhook-allow-private"]);
    restored
        .assert_test_event_signed(&admin, &id, &hook, &secret)
        .await;
    for d in [dir, dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn a_restore_refuses_a_file_that_is_not_a_keyward_backup() {
    if crate::backend::on_postgres() {
        return; // restore is SQLite's; see backup_and_restore_on_postgresql_point_to_pg_dump
    }
    let (dir, db) = fresh_db();
    seed_admin_token(&db);
    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
    let before = std::fs::read(&db).unwrap();
    let out = cli(&db, &["restore", "--from", junk.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.db"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing changed");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_database_from_a_newer_keyward_is_refused_and_left_unchanged() {
    let (dir, db) = fresh_db();
    seed_admin_token(&db);
    if crate::backend::on_postgres() {
        let pool = keyward::db::connect(&db_url(&db)).await.unwrap();
        crate::backend::exec(
            &pool,
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (99, 'from a newer keyward', true, '\\x00', 0)",
            &[],
        )
        .await;
        pool.close().await;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db_url(&db)).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (99, 'from a newer keyward', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let digest = |p: &std::path::Path| {
        if crate::backend::on_postgres() {
            Sha256::digest(crate::backend::dump(p))
        } else {
            Sha256::digest(std::fs::read(p).unwrap())
        }
    };
    let before = digest(&db);

    let out = std::process::Command::new(crate::real::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db_url(&db),
        ])
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema version 99") && err.contains("up to 20") && err.contains("newer"),
        "{err}"
    );
    assert_eq!(digest(&db), before, "the file is unchanged");
    // CLI commands refuse it the same way.
    let out = cli(&db, &["token", "list", "--workspace", "acme"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(digest(&db), before);

    // This binary's own version line and readiness report schema version 20.
    let version = std::process::Command::new(crate::real::BIN)
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    assert!(version.contains("(schema version 20)"), "{version}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn readyz_reports_the_schema_version() {
    let app = crate::helpers::TestApp::spawn().await;
    let body = app.get_json("/readyz").await;
    assert_eq!(body, json!({ "status": "ready", "schema_version": 20 }));
}

#[test]
fn audit_export_writes_json_lines_oldest_first() {
    let (dir, db) = fresh_db();
    seed_admin_token(&db);
    let id = cli_ok(&db, &["token", "list", "--workspace", "acme"], "")
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    cli_ok(&db, &["token", "revoke", "--workspace", "acme", &id], "");
    let out = cli_ok(&db, &["audit", "export", "--workspace", "acme"], "");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["action"], "token.created");
    assert_eq!(lines[1]["action"], "token.revoked");
    assert_eq!(lines[1]["token"]["id"], id.as_str());
    assert_eq!(lines[1]["workspace"], "acme");
    assert_eq!(lines[1]["actor"]["type"], "cli");
    assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(!out.contains("kw_"), "no secret in the audit log");

    let later = cli_ok(
        &db,
        &[
            "audit",
            "export",
            "--workspace",
            "acme",
            "--since",
            "2999-01-01",
        ],
        "",
    );
    assert_eq!(later, "");
    let bad = cli(
        &db,
        &[
            "audit",
            "export",
            "--workspace",
            "acme",
            "--since",
            "last week",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
    let other = cli(&db, &["audit", "export", "--workspace", "nope"], "");
    assert_eq!(other.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}
