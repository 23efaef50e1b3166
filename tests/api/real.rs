//! The real binary as a separate process: `keyward serve` on a free port, and CLI runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn db_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

/// Runs `keyward ARGS --database-url DB`, feeding `stdin`.
pub fn cli(db: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--database-url", &db_url(db)])
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
        let port = free_port();
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &db_url(db)])
            .args(extra)
            .env("KEYWARD_LOG", if log.is_some() { "info" } else { "warn" })
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("keyward did not start listening on {}", self.base);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
