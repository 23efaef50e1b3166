//! Slow and hostile clients against the real binary: stalled headers and bodies time out,
//! oversized headers get 431, the connection bound holds, and other clients carry on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::real::{Server, fresh_db, seed_admin_token};

/// "Served promptly": well inside the 2 s timeouts, loose enough for a busy CI machine.
const PROMPT: Duration = Duration::from_millis(1500);

fn start() -> (std::path::PathBuf, Server) {
    let (dir, db) = fresh_db();
    std::fs::write(dir.join("admin"), seed_admin_token(&db)).unwrap();
    let server = Server::start(
        &db,
        &[
            "--header-timeout",
            "2",
            "--request-timeout",
            "2",
            "--max-connections",
            "8",
        ],
    );
    (dir, server)
}

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes the connection cleanly; returns what it sent. A reset or
/// the 10 s read timeout is an error, so a server that never closes fails the test.
fn read_to_close(mut s: TcpStream) -> std::io::Result<String> {
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A well-behaved client: `GET /healthz` answers 200; returns how long it took.
fn healthy(server: &Server) -> Duration {
    let started = Instant::now();
    let mut s = connect(server);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(s).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    started.elapsed()
}

/// The server closes `s` cleanly, with nothing more sent, one 2 s header timeout after
/// `since` (before `within`: loose, for a busy machine).
fn closed_unanswered_after_the_timeout(s: TcpStream, since: Instant, within: Duration) {
    assert_eq!(read_to_close(s).unwrap(), "", "closed without an answer");
    let waited = since.elapsed();
    assert!(
        waited >= Duration::from_millis(1800) && waited < within,
        "closed after the 2 s header timeout: {waited:?}"
    );
}

#[test]
fn stalled_headers_are_cut_off_while_others_are_served() {
    let (dir, server) = start();
    let mut slow = connect(&server);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let started = Instant::now();
    assert!(healthy(&server) < PROMPT);
    closed_unanswered_after_the_timeout(slow, started, Duration::from_secs(8));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stalled_body_gets_408() {
    let (dir, server) = start();
    let admin = std::fs::read_to_string(dir.join("admin")).unwrap();
    let mut slow = connect(&server);
    write!(
        slow,
        "POST /api/v1/tokens HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    )
    .unwrap();
    assert!(healthy(&server) < PROMPT);
    let reply = read_to_close(slow).unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn oversized_headers_get_431() {
    let (dir, server) = start();
    let mut big = connect(&server);
    // Just over the 16 KiB cap, in one write: the server can read it all before it answers,
    // so it closes cleanly instead of resetting a connection with unread bytes.
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    big.write_all(request.as_bytes()).unwrap();
    let reply = read_to_close(big).unwrap();
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    assert!(healthy(&server) < PROMPT);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_connection_bound_holds_and_idle_connections_are_reclaimed() {
    let (dir, server) = start();
    // Eight idle connections take every slot…
    let idle: Vec<TcpStream> = (0..8).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(200));
    // …so a ninth waits in the backlog until the header timeout frees them (≈ 2 s).
    let waited = healthy(&server);
    assert!(
        waited >= Duration::from_millis(1200) && waited < Duration::from_secs(10),
        "served once a slot freed: {waited:?}"
    );
    for s in idle {
        assert_eq!(
            read_to_close(s).unwrap(),
            "",
            "idle connections were closed"
        );
    }
    assert!(healthy(&server) < PROMPT);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends `GET /healthz` on a kept-alive connection and reads its whole answer.
fn ask_healthz(s: &mut TcpStream) {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(br#"{"status":"ok"}"#) {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed mid-answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn a_kept_alive_connection_is_closed_one_header_timeout_after_its_last_answer() {
    let (dir, server) = start();
    let mut s = connect(&server);
    ask_healthz(&mut s);
    // Not a second timeout later: the timer runs from the answer, not from its last look.
    closed_unanswered_after_the_timeout(s, Instant::now(), Duration::from_millis(3500));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_connection_that_keeps_asking_outlives_the_header_timeout() {
    let (dir, server) = start();
    let mut s = connect(&server);
    let started = Instant::now();
    // Twelve requests half a second apart: three header timeouts, each one answered.
    for _ in 0..12 {
        ask_healthz(&mut s);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(started.elapsed() >= Duration::from_secs(6));
    ask_healthz(&mut s);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
