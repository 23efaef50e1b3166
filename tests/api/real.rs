//! The real binary as a separate process: `keyward serve` on port 0 (it reports the address it
//! bound), and CLI runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");

pub fn db_url(db: &Path) -> String {
    crate::backend::url_for(db)
}

/// Runs `keyward ARGS --database-url DB`, feeding `stdin`.
pub fn cli(db: &Path, args: &[&str], stdin: &str) -> Output {
    cli_on(&db_url(db), args, stdin)
}

/// Runs `keyward ARGS --database-url URL`, feeding `stdin`.
pub fn cli_on(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env("KEYWARD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the CLI and returns its trimmed stdout, failing the test on a non-zero exit.
pub fn cli_ok(db: &Path, args: &[&str], stdin: &str) -> String {
    let out = cli(db, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `keyward setup` (admin@acme.io, workspace "Acme" → slug `acme`), then an admin-tier token
/// with every permission; returns its secret.
pub fn seed_admin_token(db: &Path) -> String {
    cli_ok(
        db,
        &["setup", "--email", "admin@acme.io", "--workspace", "Acme"],
        "correct horse battery\n",
    );
    create_token(db, "ops", "admin", &["--tier", "admin"])
}

/// `keyward token create` in workspace `acme` with one permission; returns the secret.
pub fn create_token(db: &Path, name: &str, permission: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "create",
        "--workspace",
        "acme",
        "--name",
        name,
        "--permission",
        permission,
    ];
    args.extend_from_slice(extra);
    cli_ok(db, &args, "")
}

/// Starts `keyward serve --listen 127.0.0.1:0 --database-url DB ARGS` at log level `log`,
/// its stdout in `out` and its stderr in `err`, and waits for the address it reports.
pub fn spawn_serve(
    db: &Path,
    args: &[&str],
    log: &str,
    (out, err): (&Path, &Path),
) -> (Child, String) {
    spawn_serve_on(&db_url(db), args, log, (out, err))
}

/// `spawn_serve` on the database at `url`.
pub fn spawn_serve_on(
    url: &str,
    args: &[&str],
    log: &str,
    (out, err): (&Path, &Path),
) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--database-url", url])
        .args(args)
        // `init_tracing` prefers `RUST_LOG` to `KEYWARD_LOG`; both say the same.
        .env("RUST_LOG", log)
        .env("KEYWARD_LOG", log)
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(err).unwrap())
        .spawn()
        .unwrap();
    let base = wait_for_address(&mut child, out, err);
    (child, base)
}

/// Waits for the first line a starting `keyward serve` prints (the setup link, or "serving
/// on") and returns the `http://ADDR` in it; fails with the server's stderr if it exits first.
pub fn wait_for_address(child: &mut Child, out: &Path, err: &Path) -> String {
    let start = Instant::now();
    loop {
        let printed = std::fs::read_to_string(out).unwrap_or_default();
        if let Some(at) = printed.find("http://") {
            let url = printed[at..].split_whitespace().next().unwrap();
            let end = url[7..].find('/').map_or(url.len(), |i| i + 7);
            return url[..end].to_owned();
        }
        let stderr = || std::fs::read_to_string(err).unwrap_or_default();
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "keyward serve exited ({status}) before listening:\n{}",
                stderr()
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("keyward serve reported no address in 20 s:\n{}", stderr());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `keyward serve`; killed (SIGKILL) on drop if still running.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(db: &Path, extra: &[&str]) -> Self {
        Self::start_logging(db, extra, None)
    }

    /// Like `start`, with the server's logs (at `info`) written to `log`.
    pub fn start_logging(db: &Path, extra: &[&str], log: Option<&Path>) -> Self {
        let run = keyward::domain::ids::random_base62(8);
        let out = db.with_extension(format!("{run}.out"));
        let err = match log {
            Some(path) => path.to_owned(),
            None => db.with_extension(format!("{run}.err")),
        };
        let level = if log.is_some() { "info" } else { "warn" };
        let (child, base) = spawn_serve(db, extra, level, (&out, &err));
        Self { child, base }
    }

    /// A server on the database at `url`, its output in files under `dir`.
    pub fn start_on(url: &str, dir: &Path) -> Self {
        let run = keyward::domain::ids::random_base62(8);
        let (out, err) = (
            dir.join(format!("{run}.out")),
            dir.join(format!("{run}.err")),
        );
        let (child, base) = spawn_serve_on(url, &[], "warn", (&out, &err));
        Self { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Adds a webhook endpoint for `url` through the API (201); its id and signing secret.
    pub async fn add_webhook(&self, admin: &str, url: &str) -> (String, String) {
        let res = reqwest::Client::new()
            .post(self.url("/api/v1/webhooks"))
            .bearer_auth(admin)
            .json(&serde_json::json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        let field = |name: &str| body["data"][name].as_str().unwrap().to_owned();
        (field("id"), field("secret"))
    }

    /// Sends endpoint `id` a `webhook.test` (202) and waits until `hook` has it; asserts it was
    /// signed with `secret`.
    pub async fn assert_test_event_signed(
        &self,
        admin: &str,
        id: &str,
        hook: &crate::receiver::Receiver,
        secret: &str,
    ) {
        let res = reqwest::Client::new()
            .post(self.url(&format!("/api/v1/webhooks/{id}/test")))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let got = hook.wait_for(|got| !got.is_empty()).await;
        assert!(
            got[0].signed_by(secret),
            "signed with the secret shown at creation"
        );
    }

    /// Sends a signal (`-TERM`, `-KILL`) and waits for the exit.
    pub fn stop(mut self, signal: &str) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("keyward did not exit after kill {signal}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory with a database path in it.
pub fn fresh_db() -> (PathBuf, PathBuf) {
    let dir = crate::helpers::temp_dir();
    let db = dir.join("keyward.db");
    (dir, db)
}
