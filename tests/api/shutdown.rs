//! The real binary: setup link on first start, SIGTERM finishes in-flight requests, exit 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::helpers::temp_dir;
use crate::real::{Server, cli_ok, create_token, fresh_db, spawn_serve};

/// Starts `keyward serve` on port 0; returns it, the address it reported and its first line.
fn start(db: &std::path::Path) -> (Child, String, String) {
    let run = keyward::domain::ids::random_base62(8);
    let (out, err) = (
        db.with_extension(format!("{run}.out")),
        db.with_extension(format!("{run}.err")),
    );
    let (child, base) = spawn_serve(db, &[], "warn", (&out, &err));
    let printed = std::fs::read_to_string(&out).unwrap();
    (child, base, printed.lines().next().unwrap().to_owned())
}

fn kill(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn first_start_prints_a_setup_link() {
    let dir = temp_dir();
    let (mut child, base, line) = start(&dir.join("k.db"));
    assert!(!base.ends_with(":0"), "the port actually bound: {base}");
    assert!(line.contains(&format!("{base}/setup?code=")), "{line}");
    kill(&child, "-INT");
    assert!(
        wait_exit(&mut child, Duration::from_secs(10))
            .unwrap()
            .success()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sigterm_during_a_request_lets_it_complete_and_exits_zero() {
    let dir = temp_dir();
    let db = dir.join("k.db");
    let (mut child, base, line) = start(&db);
    let link = line.trim().rsplit(' ').next().unwrap().to_owned();
    let code = link.rsplit('=').next().unwrap().to_owned();
    // The form cookie and its CSRF token, so the server reads the whole body before answering.
    let c = crate::helpers::client();
    let page = c.get(&link).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = crate::helpers::csrf_of(&page.text().await.unwrap());
    let body = format!(
        "csrf_token={csrf}&code={code}&email=admin%40acme.io&password=correct+horse+battery&password_confirm=correct+horse+battery&workspace=Acme"
    );
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "POST /setup HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..20]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    let early = child.try_wait().unwrap();
    assert!(
        early.is_none(),
        "still serving the in-flight request: {early:?}"
    );
    stream.write_all(&body.as_bytes()[20..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(
        response.contains("location: /w/acme/settings/developer/api-tokens"),
        "{response}"
    );
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    // The request's write was committed: a restart finds the admin and prints no setup link.
    let (mut again, _, line) = start(&db);
    assert!(line.contains("keyward is serving"), "{line}");
    kill(&again, "-TERM");
    assert!(
        wait_exit(&mut again, Duration::from_secs(10))
            .unwrap()
            .success()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sigterm_loses_no_counted_request() {
    let (dir, db) = fresh_db();
    cli_ok(
        &db,
        &["setup", "--email", "a@acme.io", "--workspace", "Acme"],
        "correct horse battery\n",
    );
    let secret = create_token(&db, "n", "chats:read", &[]);
    // A long flush interval: everything counted lives in memory until the SIGTERM flush.
    let server = Server::start(&db, &["--usage-flush-ms", "3600000"]);
    let c = crate::helpers::client();
    for _ in 0..37 {
        let res = c
            .get(server.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert!(server.stop("-TERM").success());
    let list: serde_json::Value = serde_json::from_str(&cli_ok(
        &db,
        &["token", "list", "--workspace", "acme", "--json"],
        "",
    ))
    .unwrap();
    assert_eq!(list[0]["request_count"], 37);
    assert!(list[0]["last_used_at"].is_string());
    let _ = std::fs::remove_dir_all(dir);
}
