//! The one-time reveal's examples run as pasted against the real server: bash + curl,
//! python3 + requests (in a venv under target/), node, and Go (Debian's `golang-go`). Each
//! must print the calling token. A missing tool is a visible SKIP, or a failure when
//! `KEYWARD_REQUIRE_EXAMPLES=1` (CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{TestApp, location, temp_dir};
use crate::tokens_web::{secret_of, tokens_url};

/// requests, pinned, for the Python example's venv.
const REQUESTS: &str = "requests==2.32.3";

fn required() -> bool {
    std::env::var("KEYWARD_REQUIRE_EXAMPLES").as_deref() == Ok("1")
}

/// Skips (visibly) or, when required, fails for a missing tool.
fn skip(what: &str) {
    assert!(!required(), "KEYWARD_REQUIRE_EXAMPLES=1 but {what}");
    eprintln!("SKIP reveal example: {what}");
}

fn has(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
        || Command::new(tool).arg("version").output().is_ok()
}

/// The text of the reveal's `<pre id="snippet-NAME">`, unescaped.
fn snippet(html: &str, name: &str) -> String {
    let marker = format!("id=\"snippet-{name}\"");
    let start = html.find(&marker).expect("snippet present");
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    body.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// A venv with requests under target/ (made once), or `None` when it cannot be made.
fn python_venv() -> Option<PathBuf> {
    let venv = target().join("examples-venv");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import requests"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    let pip = venv.join("bin/pip");
    let installed = made.is_ok_and(|s| s.success())
        && Command::new(&pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                REQUESTS,
            ])
            .status()
            .is_ok_and(|s| s.success());
    (installed && ready(&python)).then_some(python)
}

/// Runs `program args… file` with the token in the environment; returns standard output.
fn run(dir: &Path, file: &str, code: &str, program: &Path, args: &[&str], secret: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, code).unwrap();
    let out = Command::new(program)
        .args(args)
        .arg(&path)
        .current_dir(dir)
        .env("KEYWARD_TOKEN", secret)
        .env("GOCACHE", target().join("examples-gocache"))
        .env("GOPATH", dir.join("gopath"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{file}: {stdout}\n{stderr}");
    stdout
}

// The examples block while they run: the server keeps a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reveal_example_runs_as_pasted_against_the_server() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let form = format!("{}/{id}/roll", tokens_url(&slug));
    let res = app
        .post_form(&c, &form, &form, &[("overlap", "3600")])
        .await;
    let html = app.page(&c, &location(&res)).await;
    let secret = secret_of(&html);
    // The server's address as this test bound it, for the configured public URL.
    let here = |code: String| code.replace(&app.state.config.base_url(), &app.url(""));
    let dir = temp_dir();

    let curl = here(snippet(&html, "curl")).replace("…paste the token…", &secret);
    let mut outputs = vec![(
        "curl",
        run(&dir, "example.sh", &curl, Path::new("bash"), &[], &secret),
    )];
    match python_venv() {
        Some(python) => {
            let code = here(snippet(&html, "python"));
            outputs.push((
                "python",
                run(&dir, "example.py", &code, &python, &[], &secret),
            ));
        }
        None => skip(&format!("no python3 venv with {REQUESTS}")),
    }
    for (name, tool, file, args) in [
        ("js", "node", "example.js", &[][..]),
        ("go", "go", "main.go", &["run"][..]),
    ] {
        if !has(tool) {
            skip(&format!("{tool} is not installed"));
            continue;
        }
        let code = here(snippet(&html, name));
        outputs.push((name, run(&dir, file, &code, Path::new(tool), args, &secret)));
    }

    for (name, out) in &outputs {
        assert!(out.contains(&id), "{name} printed the calling token: {out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn snippets_are_read_back_as_the_page_shows_them() {
    let html = r#"<pre id="snippet-x" hidden>a &amp;&amp; b &quot;c&quot; &#39;d&#39;</pre>"#;
    assert_eq!(snippet(html, "x"), r#"a && b "c" 'd'"#);
}
