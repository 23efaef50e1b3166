//! `TestApp`: spawns the app on a random port with a fresh database file; arranges workspaces,
//! channels and tokens; calls the API with a bearer secret; and acts as a browser would (forms
//! with CSRF tokens, cookies, no automatic redirects).

use std::net::SocketAddr;
use std::path::PathBuf;

use keyward::db::audit::Actor;
use keyward::db::workspaces::Workspace;
use keyward::domain::token::{TokenDraft, TokenName};
use keyward::{AppState, Config};
use reqwest::{Client, Method, Response, redirect::Policy};
use serde_json::Value;

pub const EMAIL: &str = "admin@acme.io";
pub const PASSWORD: &str = "correct horse battery";
pub const WORKSPACE: &str = "Acme Inc.";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub setup_link: Option<String>,
    pub dir: PathBuf,
    pub db_path: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keyward-test-{}",
        keyward::domain::ids::random_base62(12)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A cookie-keeping client that does not follow redirects.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The `csrf_token` hidden field of an HTML page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf_token field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A bearer API client for one secret; each call returns the status and the JSON body
/// (`Value::Null` when the body is empty).
pub struct Api<'a> {
    app: &'a TestApp,
    secret: String,
}

impl Api<'_> {
    /// The raw response, for tests that look at headers or expect a problem.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = client()
            .request(method, self.app.url(path))
            .bearer_auth(&self.secret);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let res = self.send(method, path, body).await;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.json(Method::GET, path, None).await
    }

    /// A POST without a body (the token actions: revoke, reactivate, regenerate).
    pub async fn post(&self, path: &str) -> (u16, Value) {
        self.json(Method::POST, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.json(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.json(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.json(Method::DELETE, path, None).await
    }
}

impl TestApp {
    /// The workspace with this slug.
    pub async fn workspace(&self, slug: &str) -> Workspace {
        keyward::db::workspaces::by_slug(&self.state.db, slug)
            .await
            .unwrap()
            .expect("workspace exists")
    }

    /// Adds an `sms` channel named `name` to the workspace; returns its id.
    pub async fn channel(&self, slug: &str, name: &str) -> String {
        self.channel_of_kind(slug, name, "sms").await
    }

    pub async fn channel_of_kind(&self, slug: &str, name: &str, kind: &str) -> String {
        let ws = self.workspace(slug).await;
        keyward::db::channels::create(&self.state.db, &ws.id, name, kind)
            .await
            .unwrap()
            .id
    }

    /// Creates a token named `script` directly (as the CLI would), after `adjust` edits the
    /// draft; returns (id, secret).
    pub async fn create_token(
        &self,
        slug: &str,
        perms: &[&str],
        adjust: impl FnOnce(&mut TokenDraft),
    ) -> (String, String) {
        let ws = self.workspace(slug).await;
        let mut draft = TokenDraft {
            name: TokenName::parse("script").unwrap(),
            description: String::new(),
            permissions: self
                .state
                .config
                .permission_catalog
                .parse_set(perms.iter().copied())
                .unwrap(),
            channels: None,
            ip_allowlist: Default::default(),
            expires_at: None,
            rate: Default::default(),
        };
        adjust(&mut draft);
        let actor = Actor::cli();
        let ctx = keyward::ops::Ctx::new(
            &self.state,
            &ws.id,
            &actor,
            None,
            keyward::ops::Acting::Full,
        );
        let (t, s) = keyward::ops::create(&ctx, &draft, "kw_").await.unwrap();
        (t.id, s.expose().to_owned())
    }

    /// An API client that sends `Authorization: Bearer <secret>`.
    pub fn api(&self, secret: &str) -> Api<'_> {
        Api {
            app: self,
            secret: secret.to_owned(),
        }
    }

    /// Stores a direct SQL change (as another process would) and drops the token cache.
    pub async fn sql(&self, statement: &str, id: &str) {
        crate::backend::exec(&self.state.db, statement, &[id]).await;
        self.state.gate.tokens.invalidate();
    }

    /// The body of a dashboard page fetched with this (signed-in) client.
    pub async fn page(&self, c: &Client, path: &str) -> String {
        c.get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET path` (no cookies, no token) and its JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        client()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The status of `GET /api/v1/me` with this secret.
    pub async fn me_status(&self, secret: &str) -> u16 {
        client()
            .get(self.url("/api/v1/me"))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = temp_dir();
        let db_path = dir.join("keyward.db");
        let mut config = Config::for_tests();
        config.database_url = crate::backend::url_for(&db_path);
        adjust(&mut config);
        Self::start(config, dir, db_path).await
    }

    /// A second server of the same installation (the same database), as behind a load
    /// balancer: nothing shared with this one but the database.
    pub async fn spawn_beside(&self) -> Self {
        self.spawn_beside_with(|_| {}).await
    }

    pub async fn spawn_beside_with(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests();
        config.database_url = crate::backend::url_for(&self.db_path);
        adjust(&mut config);
        Self::start(config, temp_dir(), self.db_path.clone()).await
    }

    async fn start(config: Config, dir: PathBuf, db_path: PathBuf) -> Self {
        let state = keyward::prepare(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let setup_link = keyward::setup_link(&state).await.unwrap();
        tokio::spawn(keyward::serve(
            state.clone(),
            listener,
            std::future::pending(),
        ));
        Self {
            addr,
            state,
            setup_link,
            dir,
            db_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn setup_code(&self) -> String {
        self.state.setup.get().expect("setup code present")
    }

    /// Runs the browser setup flow; returns the signed-in client and the workspace slug.
    pub async fn setup(&self) -> (Client, String) {
        self.setup_with(&self.setup_code()).await
    }

    /// The browser setup flow on this server with `code` (which any server may have printed).
    pub async fn setup_with(&self, code: &str) -> (Client, String) {
        let c = client();
        let code = code.to_owned();
        let page = c
            .get(self.url(&format!("/setup?code={code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csrf = csrf_of(&page.text().await.unwrap());
        let res = c
            .post(self.url("/setup"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("code", &code),
                ("email", EMAIL),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("workspace", WORKSPACE),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let loc = location(&res);
        let slug = loc
            .trim_start_matches("/w/")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        (c, slug)
    }

    /// Signs in with a fresh client.
    pub async fn login(&self, email: &str, password: &str) -> (Client, Response) {
        let c = client();
        let page = c.get(self.url("/login")).send().await.unwrap();
        let csrf = csrf_of(&page.text().await.unwrap());
        let res = c
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        (c, res)
    }

    /// GETs a page and returns its CSRF token.
    pub async fn csrf(&self, c: &Client, path: &str) -> String {
        let res = c.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        csrf_of(&res.text().await.unwrap())
    }

    /// POSTs a form with the page's CSRF token.
    pub async fn post_form(
        &self,
        c: &Client,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let csrf = self.csrf(c, page).await;
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        c.post(self.url(action)).form(&form).send().await.unwrap()
    }

    /// Creates a second admin (directly in the database) who belongs to a new workspace.
    pub async fn other_admin_with_workspace(&self, email: &str, ws_name: &str) -> String {
        let hash = keyward::auth::password::hash(PASSWORD.to_owned())
            .await
            .unwrap();
        let mut tx = self.state.db.begin().await.unwrap();
        let admin = keyward::db::admins::create(tx.conn(), email, &hash)
            .await
            .unwrap();
        let ws = keyward::db::workspaces::create(tx.conn(), ws_name, &[admin.id])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ws.slug
    }
}
