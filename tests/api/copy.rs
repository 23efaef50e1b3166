//! `keyward copy`: an installation filled through the API on SQLite, moved to PostgreSQL and
//! back, answers every secret the same way. Runs in the PostgreSQL run of the suite (it needs
//! both backends).

use std::process::Command;

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::client;
use crate::real::{BIN, Server, cli_on, fresh_db};

fn copy(from: &str, to: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["copy", "--from", from, "--to", to])
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap()
}

/// What `/me` answers for each secret: status, and the token's id, status and request count.
async fn answers(c: &Client, server: &Server, secrets: &[String]) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    for s in secrets {
        let res = c
            .get(server.url("/api/v1/me"))
            .bearer_auth(s)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let t = &body["data"]["token"];
        out.push((status, json!([t["id"], t["status"], body["code"]])));
    }
    out
}

async fn usage_of(c: &Client, server: &Server, admin: &str, id: &str) -> (Value, usize) {
    let get = |path: String| {
        let req = c.get(server.url(&path)).bearer_auth(admin);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let token = get(format!("/api/v1/tokens/{id}")).await;
    let usage = get(format!("/api/v1/tokens/{id}/usage")).await;
    let recent = usage["data"]["recent"].as_array().map_or(0, Vec::len);
    (
        json!([
            token["data"]["request_count"],
            token["data"]["last_used_ip"]
        ]),
        recent,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_to_postgresql_and_back_keeps_every_secret_working() {
    if !crate::backend::on_postgres() {
        return; // needs both backends: the PostgreSQL run has them
    }
    let (dir, src) = fresh_db();
    let sqlite = format!("sqlite://{}", src.display());
    let admin = seed_on(&sqlite);
    let c = client();
    let server = Server::start_on(&sqlite, &dir);
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for i in 0..12 {
        let res = c
            .post(server.url("/api/v1/tokens"))
            .bearer_auth(&admin)
            .json(&json!({ "name": format!("t{i}"), "permissions": ["chats:read"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        ids.push(body["data"]["id"].as_str().unwrap().to_owned());
        secrets.push(body["data"]["secret"].as_str().unwrap().to_owned());
    }
    for id in ids.iter().step_by(3) {
        let url = server.url(&format!("/api/v1/tokens/{id}/revoke"));
        let res = c.post(url).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let before = answers(&c, &server, &secrets).await;
    assert!(server.stop("-TERM").success(), "SIGTERM flushes usage");
    let server = Server::start_on(&sqlite, &dir);
    let used_before = usage_of(&c, &server, &admin, &ids[1]).await;
    assert!(used_before.1 > 0, "usage was recorded");
    drop(server);

    let pg = crate::backend::url_for(&dir.join("copy-target"));
    let out = copy(&sqlite, &pg);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed
            .lines()
            .any(|l| l.split_whitespace().eq(["tokens", "13", "13"])),
        "{printed}"
    );
    let audit_rows = printed
        .lines()
        .find(|l| l.starts_with("audit_log"))
        .unwrap()
        .to_owned();
    let n: Vec<&str> = audit_rows.split_whitespace().collect();
    assert_eq!(n[1], n[2], "{printed}");

    // A second copy into the same (now filled) database is refused and writes nothing.
    let again = copy(&sqlite, &pg);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let server = Server::start_on(&pg, &dir);
    let used_after = usage_of(&c, &server, &admin, &ids[1]).await;
    assert_eq!(
        used_after, used_before,
        "request count, last IP and recent requests kept"
    );
    assert_eq!(
        answers(&c, &server, &secrets).await,
        before,
        "every secret, on PostgreSQL"
    );
    drop(server);

    // And back into a new SQLite file.
    let back = format!("sqlite://{}", dir.join("back.db").display());
    let out = copy(&pg, &back);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start_on(&back, &dir);
    assert_eq!(
        answers(&c, &server, &secrets).await,
        before,
        "every secret, back on SQLite"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `keyward setup` and an admin-tier token on the database at `url`; the token's secret.
fn seed_on(url: &str) -> String {
    let run = |args: &[&str], stdin: &str| {
        let out = cli_on(url, args, stdin);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let setup = ["setup", "--email", "admin@acme.io", "--workspace", "Acme"];
    run(&setup, "correct horse battery\n");
    let admin = ["--name", "ops", "--permission", "admin", "--tier", "admin"];
    run(
        &[&["token", "create", "--workspace", "acme"][..], &admin].concat(),
        "",
    )
}

/// A server on `url` that may call loopback receivers.
fn serve_hooks(url: &str, dir: &std::path::Path) -> Server {
    let run = keyward::domain::ids::random_base62(8);
    let files = (
        dir.join(format!("{run}.out")),
        dir.join(format!("{run}.err")),
    );
    let args = ["--webhook-allow-private"];
    let (child, base) = crate::real::spawn_serve_on(url, &args, "warn", (&files.0, &files.1));
    Server { child, base }
}

#[tokio::test]
async fn a_copied_webhook_still_signs_with_its_secret() {
    if !crate::backend::on_postgres() {
        return; // needs both backends: the PostgreSQL run has them
    }
    let (dir, src) = fresh_db();
    let sqlite = format!("sqlite://{}", src.display());
    let admin = seed_on(&sqlite);
    let hook = crate::receiver::Receiver::start(&[]).await;
    let server = serve_hooks(&sqlite, &dir);
    let (id, secret) = server.add_webhook(&admin, &hook.url).await;
    drop(server);
    let pg = crate::backend::url_for(&dir.join("copy-target"));
    let out = copy(&sqlite, &pg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let keys = ["server_keys", "1", "1"];
    assert!(
        printed.lines().any(|l| l.split_whitespace().eq(keys)),
        "{printed}"
    );
    let server = serve_hooks(&pg, &dir);
    server
        .assert_test_event_signed(&admin, &id, &hook, &secret)
        .await;
}
