//! The daily expiry e-mail (SPEC §13) through a real SMTP server: aiosmtpd started by the
//! test (`tools/smtp-sink`). Without Python's venv and PyPI the test prints SKIP, and fails
//! instead when `KEYWARD_REQUIRE_SMTP=1` (as `.ci/run` sets).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::real::{Server, create_token, fresh_db, seed_admin_token};

/// A running `tools/smtp-sink`; killed on drop.
struct Sink {
    child: Child,
    out: std::path::PathBuf,
    port: u16,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    fn start(dir: &std::path::Path) -> Option<Self> {
        let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/smtp-sink");
        let installed = Command::new(tool)
            .arg("--install")
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("KEYWARD_REQUIRE_SMTP").is_err(),
                "no SMTP sink (aiosmtpd)"
            );
            eprintln!("SKIP: no SMTP sink (tools/smtp-sink could not install aiosmtpd)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.join("smtp.out");
        let child = Command::new(tool)
            .arg(port.to_string())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the SMTP sink did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, out, port })
    }

    /// The messages received so far.
    fn messages(&self) -> Vec<String> {
        let all = std::fs::read_to_string(&self.out).unwrap_or_default();
        all.split("---------- MESSAGE FOLLOWS ----------")
            .skip(1)
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn admins_get_one_expiry_digest_a_day_with_links_to_the_tokens() {
    let (dir, db) = fresh_db();
    let Some(sink) = Sink::start(&dir) else {
        return;
    };
    seed_admin_token(&db);
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let args = [
        "--smtp-url",
        &smtp,
        "--smtp-from",
        "keyward <keyward@acme.io>",
        "--public-url",
        "https://keyward.example",
        "--expiry-sweep-ms",
        "200",
    ];
    let server = Server::start(&db, &args);
    create_token(&db, "nightly", "chats:read", &["--expires-in-days", "1"]);
    let start = Instant::now();
    while sink.messages().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no digest arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = &sink.messages()[0];
    assert!(mail.contains("To: admin@acme.io"), "{mail}");
    assert!(
        mail.contains("Subject: keyward: 1 API token expires soon"),
        "{mail}"
    );
    assert!(
        mail.contains("nightly (acme): expires within 1 day"),
        "{mail}"
    );
    assert!(
        mail.contains("https://keyward.example/w/acme/settings/developer/api-tokens/tok_"),
        "{mail}"
    );
    // A second token reaching a lead time the same day waits for tomorrow's digest, even
    // across a restart.
    create_token(&db, "weekly", "chats:read", &["--expires-in-days", "7"]);
    drop(server);
    let _again = Server::start(&db, &args);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "at most one digest a day");
}
