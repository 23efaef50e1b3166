//! Secrets never leak (issue 8): the real binary runs at trace level through every flow that
//! issues, presents or changes a secret or a password; then its logs, the database files (WAL
//! included, while serving, after SIGTERM and after SIGKILL), the audit log, the CLI's output
//! and every response (status, headers, body) except the reveals are scanned for each of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use keyward::domain::ids::random_base62;
use keyward::domain::secret::Secret;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{client, csrf_of, location, temp_dir};
use crate::real::{BIN, db_url, spawn_serve};
use crate::receiver::Receiver;

const TOKENS: &str = "/w/acme/settings/developer/api-tokens";
/// Usage is flushed this often (ms), so a short wait puts it in the WAL.
const FLUSH_MS: &str = "200";
const FLUSHED: Duration = Duration::from_millis(700);

/// Something scanned, and the one secret it may show (a reveal shows its own). `text` is the
/// bytes decoded lossily: ASCII bytes survive that unchanged, and the needles are ASCII.
struct Source {
    kind: &'static str,
    name: String,
    text: String,
    reveals: Option<String>,
}

/// Every secret and password the test used, and everything it saw.
#[derive(Default)]
struct Evidence {
    secrets: Vec<String>,
    passwords: Vec<String>,
    sources: Vec<Source>,
}

/// What is searched for a secret: its body without the 4 characters the hint shows, in two
/// halves of 18 characters (≈ 107 bits each), so a truncated copy is caught too.
fn needles(secret: &str) -> [&str; 2] {
    let body = &secret[secret.len() - 46..secret.len() - 6];
    [&body[4..22], &body[22..]]
}

impl Evidence {
    fn push(&mut self, kind: &'static str, name: String, bytes: &[u8], reveals: Option<&str>) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let reveals = reveals.map(str::to_owned);
        self.sources.push(Source {
            kind,
            name,
            text,
            reveals,
        });
    }

    fn add(&mut self, kind: &'static str, name: impl Into<String>, bytes: impl AsRef<[u8]>) {
        self.push(kind, name.into(), bytes.as_ref(), None);
    }

    /// A reveal: the one place `secret` may appear. Registers the secret for the scan.
    fn add_reveal(&mut self, name: impl Into<String>, bytes: impl AsRef<[u8]>, secret: &str) {
        assert!(
            Secret::parse(secret).is_some(),
            "a well-formed secret: {secret}"
        );
        self.secrets.push(secret.to_owned());
        self.push("reveals", name.into(), bytes.as_ref(), Some(secret));
    }

    /// The database file and its `-wal` and `-shm` as they are now; returns the WAL's size.
    /// On PostgreSQL: the database's whole content (`pg_dump`); returns its size.
    fn add_db_files(&mut self, db: &Path, when: &str) -> usize {
        if crate::backend::on_postgres() {
            let dump = crate::backend::dump(db);
            let size = dump.len();
            self.add("database files", format!("pg_dump ({when})"), dump);
            return size;
        }
        let mut wal = 0;
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{}{suffix}", db.display())) {
                if suffix == "-wal" {
                    wal = bytes.len();
                }
                self.add(
                    "database files",
                    format!("keyward.db{suffix} ({when})"),
                    bytes,
                );
            }
        }
        wal
    }

    /// Each secret or password found in `src` that it may not show.
    fn leaks_in(&self, src: &Source) -> Vec<String> {
        let mut found = Vec::new();
        for (i, s) in self.secrets.iter().enumerate() {
            let allowed = src.reveals.as_ref() == Some(s);
            if !allowed && needles(s).iter().any(|n| src.text.contains(n)) {
                found.push(format!("{}: secret #{i} ({}…)", src.name, &s[..7]));
            }
        }
        for (i, p) in self.passwords.iter().enumerate() {
            if src.text.contains(p.as_str()) {
                found.push(format!("{}: password #{i}", src.name));
            }
        }
        found
    }
}

/// A response as scanned: status line, headers and body.
struct Reply {
    status: StatusCode,
    location: String,
    text: String,
    raw: String,
}

async fn reply(res: Response) -> Reply {
    let (status, location) = (res.status(), location(&res));
    let mut raw = format!("{status}\n");
    for (k, v) in res.headers() {
        raw.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    let text = res.text().await.unwrap();
    raw.push_str(&text);
    Reply {
        status,
        location,
        text,
        raw,
    }
}

/// `keyward serve` at trace level, its stdout and stderr in files.
struct Server {
    child: Child,
    base: String,
    out: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, db: &Path, run: &str, extra: &[&str]) -> Self {
        let (out, log) = (
            dir.join(format!("{run}.out")),
            dir.join(format!("{run}.log")),
        );
        let mut args = vec!["--usage-flush-ms", FLUSH_MS];
        args.extend_from_slice(extra);
        let (child, base) = spawn_serve(db, &args, "trace", (&out, &log));
        Self {
            child,
            base,
            out,
            log,
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap()
    }

    /// The one-time setup link's path, from the first line on stdout.
    fn setup_path(&self) -> String {
        let start = Instant::now();
        loop {
            let out = self.stdout();
            if let Some(at) = out.find("/setup?code=") {
                return out[at..].trim().to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no setup link: {out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no exit on {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Adds the server's stderr (the log) and stdout to the evidence; returns the log.
    fn add_output(&self, ev: &mut Evidence, run: &str) -> String {
        let log = std::fs::read(&self.log).unwrap();
        ev.add("logs", format!("{run} stderr (trace log)"), &log);
        ev.add("logs", format!("{run} stdout"), self.stdout());
        String::from_utf8_lossy(&log).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI at trace level; its stderr is evidence, its stdout is returned (a reveal for
/// `token create`, evidence otherwise: the caller says which).
fn cli(ev: &mut Evidence, db: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--database-url", &db_url(db)])
        .env("RUST_LOG", "trace")
        .env("KEYWARD_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let name = format!("keyward {}", args[..2].join(" "));
    ev.add("cli output", format!("{name} stderr"), &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// Like [`cli`], its stdout also evidence.
fn cli_out(ev: &mut Evidence, db: &Path, args: &[&str], stdin: &str) -> String {
    let out = cli(ev, db, args, stdin);
    ev.add(
        "cli output",
        format!("keyward {} stdout", args[..2].join(" ")),
        &out,
    );
    out
}

/// A browser: cookies, CSRF tokens, no redirects followed. Every response is evidence.
struct Web {
    c: Client,
    base: String,
}

impl Web {
    fn new(base: &str) -> Self {
        Self {
            c: client(),
            base: base.to_owned(),
        }
    }

    async fn get(&self, ev: &mut Evidence, path: &str) -> Reply {
        let r = reply(
            self.c
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        ev.add("responses", format!("GET {path} → {}", r.status), &r.raw);
        r
    }

    async fn post(&self, ev: &mut Evidence, path: &str, form: &[(&str, &str)]) -> Reply {
        let res = self.c.post(format!("{}{path}", self.base)).form(form);
        let r = reply(res.send().await.unwrap()).await;
        ev.add("responses", format!("POST {path} → {}", r.status), &r.raw);
        r
    }

    /// Loads `page` for its CSRF token, then posts `fields` to `action`.
    async fn form(
        &self,
        ev: &mut Evidence,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let csrf = csrf_of(&self.get(ev, page).await.text);
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(ev, action, &form).await
    }

    /// [`Web::form`] for a page that posts to itself.
    async fn submit(&self, ev: &mut Evidence, page: &str, fields: &[(&str, &str)]) -> Reply {
        self.form(ev, page, page, fields).await
    }

    async fn sign_in(&self, ev: &mut Evidence, email: &str, password: &str) -> u16 {
        let r = self
            .submit(ev, "/login", &[("email", email), ("password", password)])
            .await;
        r.status.as_u16()
    }

    /// Follows a redirect to the reveal; returns the secret and the page.
    async fn reveal(&self, ev: &mut Evidence, path: &str) -> (String, String) {
        let res = self
            .c
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["cache-control"], "no-store");
        let r = reply(res).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let marker = "id=\"reveal-secret\">";
        let start = r.text.find(marker).expect("the reveal shows the secret") + marker.len();
        let secret = r.text[start..].split('<').next().unwrap().to_owned();
        ev.add_reveal(format!("GET {path} (reveal)"), &r.raw, &secret);
        (secret, r.text)
    }

    /// Creates a token through the form; returns its id and secret.
    async fn create(&self, ev: &mut Evidence, fields: &[(&str, &str)]) -> (String, String) {
        let page = self.get(ev, &format!("{TOKENS}/new")).await.text;
        let marker = "name=\"nonce\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let nonce = page[start..].split('"').next().unwrap();
        let csrf = csrf_of(&page);
        let mut form = vec![("csrf_token", csrf.as_str()), ("nonce", nonce)];
        form.extend_from_slice(fields);
        let r = self.post(ev, TOKENS, &form).await;
        assert_eq!(r.status, 303, "{}", r.text);
        let (secret, html) = self.reveal(ev, &r.location).await;
        // The dialog's close link names the new token (the list's first row may not: two
        // tokens created in the same second are ordered by id).
        let at = html.find("#token-").unwrap() + "#token-".len();
        (html[at..].split('"').next().unwrap().to_owned(), secret)
    }
}

/// A JSON API client. Responses are evidence; a reveal only for its own secret.
struct Api {
    c: Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            c: client(),
            base: base.to_owned(),
        }
    }

    async fn send(&self, method: Method, path: &str, bearer: &str, body: Option<String>) -> Reply {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.c.request(method, url).bearer_auth(bearer);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        reply(req.send().await.unwrap()).await
    }

    async fn call(
        &self,
        ev: &mut Evidence,
        m: Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> Reply {
        let label = format!("{m} /api/v1{path}");
        let r = self
            .send(m, path, bearer, body.map(|b| b.to_string()))
            .await;
        ev.add("responses", format!("{label} → {}", r.status), &r.raw);
        r
    }

    async fn status(&self, ev: &mut Evidence, m: Method, path: &str, bearer: &str) -> u16 {
        self.call(ev, m, path, bearer, None).await.status.as_u16()
    }

    /// A create or regenerate: returns the token id and its secret.
    async fn reveal(
        &self,
        ev: &mut Evidence,
        path: &str,
        bearer: &str,
        body: Value,
    ) -> (String, String) {
        let label = format!("POST /api/v1{path} (reveal)");
        let r = self
            .send(Method::POST, path, bearer, Some(body.to_string()))
            .await;
        assert!(r.status.is_success(), "{label}: {}", r.text);
        assert!(r.raw.contains("cache-control: no-store"), "{label}");
        let data = serde_json::from_str::<Value>(&r.text).unwrap()["data"].clone();
        let secret = data["secret"].as_str().unwrap().to_owned();
        ev.add_reveal(label, &r.raw, &secret);
        (data["id"].as_str().unwrap().to_owned(), secret)
    }

    /// `POST /verify`; returns the verdict's code, or the problem's.
    async fn verify(&self, ev: &mut Evidence, caller: &str, body: Value) -> String {
        let r = self
            .call(ev, Method::POST, "/verify", caller, Some(body))
            .await;
        let v: Value = serde_json::from_str(&r.text).unwrap();
        let code = v["data"]["code"].as_str().or(v["code"].as_str());
        code.unwrap().to_owned()
    }
}

/// The passwords used: 0 refused setup, 1 setup, 2 account page, 3 `admin add`,
/// 4 `reset-password`, 5 wrong sign-in, 6 mismatched confirmation, 7 an invited admin's.
/// Hyphen and base62 only, so form and URL encoding leave them as they are.
fn passwords() -> Vec<String> {
    (0..8)
        .map(|i| format!("pw{i}-{}", random_base62(20)))
        .collect()
}

/// Setup page, sign-out/in, account page, `admin add`, `admin reset-password`.
async fn password_flows(ev: &mut Evidence, server: &Server, db: &Path, pw: &[String]) -> Web {
    let web = Web::new(&server.base);
    let link = server.setup_path();
    let code = link.rsplit('=').next().unwrap();
    let csrf = csrf_of(&web.get(ev, &link).await.text);
    let setup = |password: &str, confirm: &str| {
        [("password", password), ("password_confirm", confirm)].map(|(k, v)| (k, v.to_owned()))
    };
    for (password, status) in [(setup(&pw[0], &pw[6]), 422), (setup(&pw[1], &pw[1]), 303)] {
        let mut form = vec![("csrf_token", csrf.as_str()), ("code", code)];
        form.extend([("email", "admin@acme.io"), ("workspace", "Acme")]);
        form.extend(password.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(web.post(ev, "/setup", &form).await.status, status);
    }
    assert_eq!(
        web.form(ev, TOKENS, "/logout", &[]).await.location,
        "/login"
    );
    assert_eq!(web.sign_in(ev, "admin@acme.io", &pw[5]).await, 401);
    assert_eq!(web.sign_in(ev, "admin@acme.io", &pw[1]).await, 303);
    let new = pw[2].as_str();
    for (current, status) in [(&pw[5], 422), (&pw[1], 200)] {
        let fields = [
            ("current", current.as_str()),
            ("password", new),
            ("password_confirm", new),
        ];
        assert_eq!(web.submit(ev, "/account", &fields).await.status, status);
    }
    web.form(ev, "/account", "/logout", &[]).await;
    assert_eq!(web.sign_in(ev, "admin@acme.io", new).await, 303);

    let add = [
        "admin",
        "add",
        "--email",
        "ops@acme.io",
        "--workspace",
        "acme",
    ];
    cli_out(ev, db, &add, &format!("{}\n", pw[3]));
    let reset = ["admin", "reset-password", "--email", "ops@acme.io"];
    cli_out(ev, db, &reset, &format!("{}\n", pw[4]));
    let ops = Web::new(&server.base);
    assert_eq!(ops.sign_in(ev, "ops@acme.io", &pw[3]).await, 401);
    assert_eq!(ops.sign_in(ev, "ops@acme.io", &pw[4]).await, 303);
    web
}

/// Members: an invitation, accepted with a new password in another browser.
async fn invitation_flow(ev: &mut Evidence, web: &Web, password: &str) {
    let members = "/w/acme/settings/members";
    let invite = format!("{members}/invite");
    let r = web
        .form(ev, members, &invite, &[("email", "new@acme.io")])
        .await;
    assert_eq!(r.status, 201);
    let at = r.text.find("/invite?code=").unwrap();
    let link = r.text[at..].split('<').next().unwrap().to_owned();
    let code = link.rsplit('=').next().unwrap();
    let invited = Web::new(&web.base);
    let csrf = csrf_of(&invited.get(ev, &link).await.text);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("code", code),
        ("password", password),
        ("password_confirm", password),
    ];
    assert_eq!(invited.post(ev, "/invite", &form).await.status, 303);
}

/// Dashboard: create two tokens, edit, regenerate, revoke, reactivate, delete; every page.
/// Returns the first token's first (regenerated away) secret, its current one, and the
/// deleted token's.
async fn dashboard_flows(ev: &mut Evidence, web: &Web) -> [String; 3] {
    let form = |name| {
        [
            ("name", name),
            ("permissions", "chats:read"),
            ("permissions", "tokens:verify"),
            ("channel_mode", "all"),
            ("expiry", "30"),
            ("tier", "standard"),
        ]
    };
    let (w1, first) = web.create(ev, &form("leak web one")).await;
    let (w2, deleted) = web.create(ev, &form("leak web two")).await;
    let (d1, d2) = (format!("{TOKENS}/{w1}"), format!("{TOKENS}/{w2}"));
    let mut edit = form("leak web one b");
    edit[4] = ("expiry", "keep");
    assert_eq!(
        web.submit(ev, &format!("{d1}/edit"), &edit).await.location,
        d1
    );
    let r = web.submit(ev, &format!("{d1}/regenerate"), &[]).await;
    let (current, _) = web.reveal(ev, &r.location).await;
    assert_ne!(current, first);
    assert_eq!(web.get(ev, &r.location).await.status, 410, "shown once");
    for action in ["/revoke", "/reactivate", "/revoke"] {
        let r = web.form(ev, &d2, &format!("{d2}{action}"), &[]).await;
        assert_eq!(r.location, d2, "{action}");
    }
    let confirm = [("confirm_name", "leak web two")];
    let r = web.submit(ev, &format!("{d2}/delete"), &confirm).await;
    assert_eq!(r.location, TOKENS, "{} {}", r.status, r.text);
    let audit = "/w/acme/settings/developer/audit-log";
    for page in [TOKENS, &format!("{TOKENS}?q=leak"), d1.as_str(), audit] {
        assert_eq!(web.get(ev, page).await.status, 200, "{page}");
    }
    [first, current, deleted]
}

/// CLI: an admin token (the API's caller) and a reader that the CLI then revokes.
fn cli_tokens(ev: &mut Evidence, db: &Path) -> (String, String) {
    let mut made = Vec::new();
    for extra in [
        ["ops", "admin", "admin"],
        ["cli reader", "tokens:read", "standard"],
    ] {
        let [name, permission, tier] = extra;
        let args = ["token", "create", "--workspace", "acme", "--name", name];
        let args = [&args[..], &["--permission", permission, "--tier", tier]].concat();
        let secret = cli(ev, db, &args, "").trim().to_owned();
        ev.add_reveal("keyward token create stdout (reveal)", &secret, &secret);
        made.push(secret);
    }
    let list = cli_out(
        ev,
        db,
        &["token", "list", "--workspace", "acme", "--json"],
        "",
    );
    let listed: Value = serde_json::from_str(&list).unwrap();
    let reader = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cli reader");
    let id = reader.unwrap()["id"].as_str().unwrap();
    cli_out(ev, db, &["token", "revoke", "--workspace", "acme", id], "");
    let reader = made.pop().unwrap();
    (made.pop().unwrap(), reader)
}

/// API: create, read, edit, regenerate, revoke, reactivate, delete; verify with secrets in
/// the body; requests with bad bearers. Returns the regenerated token's id, old and new secret.
async fn api_flows(ev: &mut Evidence, api: &Api, admin: &str, web: &[String; 3]) -> [String; 3] {
    let [web_old, web_current, web_deleted] = web;
    for path in ["/me", "/tokens"] {
        assert_eq!(api.status(ev, Method::GET, path, admin).await, 200);
    }
    let body = json!({"name": "api one", "permissions": ["chats:read", "tokens:verify"]});
    let (x1, x1_old) = api.reveal(ev, "/tokens", admin, body).await;
    let body = json!({"name": "api two", "permissions": ["chats:read"]});
    let (x2, x2_secret) = api.reveal(ev, "/tokens", admin, body).await;
    for path in [format!("/tokens/{x1}"), format!("/tokens/{x1}/usage")] {
        assert_eq!(api.status(ev, Method::GET, &path, admin).await, 200);
    }
    let patch = json!({"name": "api one b", "description": "renamed"});
    let r = api
        .call(
            ev,
            Method::PATCH,
            &format!("/tokens/{x1}"),
            admin,
            Some(patch),
        )
        .await;
    assert_eq!(r.status, 200);
    let (_, x1_secret) = api
        .reveal(ev, &format!("/tokens/{x1}/regenerate"), admin, json!({}))
        .await;
    assert_eq!(api.status(ev, Method::GET, "/me", &x1_secret).await, 200);
    assert_eq!(api.status(ev, Method::GET, "/me", &x1_old).await, 401);
    let revoke = format!("/tokens/{x2}/revoke");
    assert_eq!(api.status(ev, Method::POST, &revoke, admin).await, 200);

    // Presented but never issued: unknown, bad checksum, malformed. All scanned for too.
    let unknown = Secret::generate("kw_").expose().to_owned();
    let changed = Secret::generate("kw_").expose().to_owned();
    let last = if changed.ends_with('A') { "B" } else { "A" };
    let bad_sum = format!("{}{last}", &changed[..changed.len() - 1]);
    let malformed = format!("kw_{}!{}", random_base62(39), random_base62(6));
    ev.secrets
        .extend([unknown.clone(), bad_sum.clone(), malformed.clone()]);
    for bearer in [&unknown, &bad_sum, &malformed, web_old, &x1_old, &x2_secret] {
        assert_eq!(api.status(ev, Method::GET, "/me", bearer).await, 401);
    }
    let cases = [
        (
            json!({"token": x1_secret, "permission": "chats:read"}),
            "valid",
        ),
        (json!({"token": web_current}), "valid"),
        (json!({"token": x2_secret}), "token_revoked"),
        (json!({"token": unknown}), "invalid_token"),
        (json!({"token": bad_sum}), "invalid_token"),
        (json!({"token": malformed}), "invalid_token"),
        (json!({"token": web_old}), "invalid_token"),
        (json!({"token": web_deleted}), "invalid_token"),
        (
            json!({"token": x1_secret, "ip": "not-an-ip"}),
            "validation_failed",
        ),
    ];
    for (body, code) in cases {
        assert_eq!(api.verify(ev, admin, body).await, code);
    }
    assert_eq!(
        api.verify(ev, &x1_secret, json!({"token": admin})).await,
        "valid"
    );
    // Bodies the JSON parser refuses: a wrong type after the secret, and JSON cut short.
    let wrong_type = json!({"token": x1_secret, "permission": 5});
    let r = api
        .call(ev, Method::POST, "/verify", admin, Some(wrong_type))
        .await;
    assert!(r.status.is_client_error());
    let cut = format!("{{\"token\": \"{x1_secret}\"");
    let r = api.send(Method::POST, "/verify", admin, Some(cut)).await;
    assert_eq!(r.status, 400);
    ev.add(
        "responses",
        "POST /api/v1/verify (JSON cut short) → 400",
        &r.raw,
    );
    let reactivate = format!("/tokens/{x2}/reactivate");
    assert_eq!(api.status(ev, Method::POST, &reactivate, admin).await, 200);
    let one = format!("/tokens/{x2}");
    assert_eq!(api.status(ev, Method::DELETE, &one, admin).await, 204);
    assert_eq!(api.status(ev, Method::GET, "/me", &x2_secret).await, 401);
    assert_eq!(api.status(ev, Method::GET, &one, admin).await, 404);
    [x1, x1_old, x1_secret]
}

/// A webhook endpoint on a loopback receiver (its signing secret revealed once, in the create
/// answer); every later token change is delivered to it, signed.
async fn add_webhook(ev: &mut Evidence, api: &Api, admin: &str) -> Receiver {
    let hook = Receiver::start(&[]).await;
    let body = json!({ "url": hook.url, "events": ["*"] }).to_string();
    let r = api.send(Method::POST, "/webhooks", admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.raw.contains("cache-control: no-store"));
    let data = serde_json::from_str::<Value>(&r.text).unwrap()["data"].clone();
    let secret = data["secret"].as_str().unwrap().to_owned();
    ev.secrets.push(secret.clone());
    ev.push(
        "reveals",
        "POST /api/v1/webhooks (reveal)".into(),
        r.raw.as_bytes(),
        Some(&secret),
    );
    let path = format!("/webhooks/{}", data["id"].as_str().unwrap());
    assert_eq!(api.status(ev, Method::GET, &path, admin).await, 200);
    hook
}

/// What the receiver got: headers and bodies of every delivery.
async fn add_deliveries(ev: &mut Evidence, hook: &Receiver) {
    let got = hook
        .wait_for(|got| got.iter().any(|r| r.kind() == "token.deleted"))
        .await;
    for r in got {
        ev.add(
            "webhook deliveries",
            r.kind(),
            format!("{:?}\n{}", r.headers, r.body),
        );
    }
}

/// The audit log: `keyward audit export` and the `audit_log` table itself.
async fn add_audit_log(ev: &mut Evidence, db: &Path) {
    let export = cli(ev, db, &["audit", "export", "--workspace", "acme"], "");
    for action in [
        "created",
        "updated",
        "regenerated",
        "revoked",
        "reactivated",
        "deleted",
    ] {
        assert!(
            export.contains(&format!("\"token.{action}\"")),
            "exported {action}"
        );
    }
    ev.add("audit log", "keyward audit export stdout", &export);
    let pool = keyward::db::connect(&db_url(db)).await.unwrap();
    let rows: Vec<(String,)> = crate::backend::rows(
        &pool,
        "SELECT concat_ws(' ', workspace_id, at, actor_type, actor_id, actor_name, action,
                          token_id, token_name, ip, details)
         FROM audit_log",
    )
    .await;
    let rows: Vec<String> = rows.into_iter().map(|r| r.0).collect();
    pool.close().await;
    assert!(rows.len() >= 18, "{} audit rows", rows.len());
    ev.add(
        "audit log",
        format!("audit_log table, {} rows", rows.len()),
        rows.join("\n"),
    );
}

/// The scan can fail: every reveal holds its secret and is flagged when scanned as an
/// ordinary body, and a planted password is found.
fn self_check(ev: &Evidence, password: &str) {
    for src in ev.sources.iter().filter(|s| s.reveals.is_some()) {
        let own = src.reveals.as_deref().unwrap();
        let shown = needles(own).iter().all(|n| src.text.contains(n));
        assert!(shown, "{} shows its secret", src.name);
        let as_body = Source {
            kind: "self-check",
            name: src.name.clone(),
            text: src.text.clone(),
            reveals: None,
        };
        assert!(
            !ev.leaks_in(&as_body).is_empty(),
            "the scan flags {}",
            src.name
        );
    }
    let planted = Source {
        kind: "self-check",
        name: "a planted log line".into(),
        text: format!("password={password}"),
        reveals: None,
    };
    assert_eq!(ev.leaks_in(&planted).len(), 1);
}

/// Sources and bytes scanned per kind.
fn summary(ev: &Evidence) -> String {
    let mut kinds: Vec<(&str, usize, usize)> = Vec::new();
    for s in &ev.sources {
        match kinds.iter_mut().find(|k| k.0 == s.kind) {
            Some(k) => (k.1, k.2) = (k.1 + 1, k.2 + s.text.len()),
            None => kinds.push((s.kind, 1, s.text.len())),
        }
    }
    let reveals = ev.sources.iter().filter(|s| s.reveals.is_some()).count();
    let mut out = format!(
        "leak scan: {} secrets ({reveals} issued and revealed), {} passwords\n",
        ev.secrets.len(),
        ev.passwords.len()
    );
    for (kind, n, bytes) in kinds {
        out.push_str(&format!("  {kind:<15} {n:>3} sources {bytes:>9} bytes\n"));
    }
    out
}

#[tokio::test]
async fn no_secret_or_password_reaches_logs_database_audit_log_or_any_response_but_its_reveal() {
    let dir = temp_dir();
    let db = dir.join("keyward.db");
    let mut ev = Evidence::default();
    let pw = passwords();
    ev.passwords = pw.clone();

    // Run 1 (text logs): every flow; the database scanned while serving and after SIGTERM.
    let mut server = Server::start(&dir, &db, "run1", &["--webhook-allow-private"]);
    let web = password_flows(&mut ev, &server, &db, &pw).await;
    let web_secrets = dashboard_flows(&mut ev, &web).await;
    invitation_flow(&mut ev, &web, &pw[7]).await;
    let (admin, reader) = cli_tokens(&mut ev, &db);
    let api = Api::new(&server.base);
    let hook = add_webhook(&mut ev, &api, &admin).await;
    let [x1, x1_old, x1_secret] = api_flows(&mut ev, &api, &admin, &web_secrets).await;
    add_deliveries(&mut ev, &hook).await;
    // After a flush, and once the CLI's revoke reached the server.
    tokio::time::sleep(FLUSHED).await;
    let r = api.call(&mut ev, Method::GET, "/me", &reader, None).await;
    assert!(
        r.status == 401 && r.text.contains("token_revoked"),
        "{}",
        r.text
    );
    assert_eq!(
        api.verify(&mut ev, &admin, json!({"token": reader})).await,
        "token_revoked"
    );
    let usage = format!("/tokens/{x1}/usage");
    let r = api.call(&mut ev, Method::GET, &usage, &admin, None).await;
    assert!(r.text.contains("VERIFY"), "usage flushed");
    let wal_serving = ev.add_db_files(&db, "run 1, serving");
    assert!(
        wal_serving > 0,
        "the WAL (or the dump) holds the recent writes"
    );
    assert!(server.stop("-TERM").success());
    ev.add_db_files(&db, "run 1, after SIGTERM");
    let log1 = server.add_output(&mut ev, "run 1");
    add_audit_log(&mut ev, &db).await;

    // Run 2 (JSON logs): a few requests, a flush into the WAL, then SIGKILL (no checkpoint).
    let mut server = Server::start(&dir, &db, "run2", &["--log-format", "json"]);
    let api = Api::new(&server.base);
    assert_eq!(api.status(&mut ev, Method::GET, "/me", &admin).await, 200);
    assert_eq!(api.status(&mut ev, Method::GET, "/me", &x1_old).await, 401);
    let body = json!({"token": web_secrets[1]});
    assert_eq!(api.verify(&mut ev, &x1_secret, body).await, "valid");
    tokio::time::sleep(FLUSHED).await;
    ev.add_db_files(&db, "run 2, serving");
    assert!(!server.stop("-KILL").success());
    let wal_killed = ev.add_db_files(&db, "run 2, after SIGKILL");
    assert!(
        wal_killed > 0,
        "SIGKILL leaves the WAL (or the database) behind"
    );
    let log2 = server.add_output(&mut ev, "run 2");

    // The sources are real: logs below info naming token ids, tokens in the database files.
    assert!(
        log1.contains("TRACE") && log1.contains(&x1),
        "run 1 logs at trace"
    );
    assert!(
        log2.contains("\"level\":\"DEBUG\"") && log2.contains(&x1),
        "run 2 logs JSON"
    );
    let mut db_files = ev.sources.iter().filter(|s| s.kind == "database files");
    assert!(
        db_files.any(|s| s.text.contains("api one b")),
        "the database files were read"
    );
    self_check(&ev, &pw[2]);

    let leaks: Vec<String> = ev.sources.iter().flat_map(|s| ev.leaks_in(s)).collect();
    println!(
        "{}  WAL: {wal_serving} bytes serving, {wal_killed} after SIGKILL",
        summary(&ev)
    );
    assert!(
        leaks.is_empty(),
        "secrets or passwords leaked:\n{}",
        leaks.join("\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}
