//! Token dashboard flows over HTTP: create and reveal once, validation, lifecycle actions,
//! audit entries, workspace isolation, and no secret in the database file.

use keyward::domain::secret::Secret;
use reqwest::{Client, Response};

use crate::helpers::{TestApp, location};

/// The secret inside the reveal dialog.
pub fn secret_of(html: &str) -> String {
    let marker = "id=\"reveal-secret\">";
    let start = html.find(marker).expect("reveal shows the secret") + marker.len();
    html[start..].split('<').next().unwrap().to_owned()
}

pub fn tokens_url(slug: &str) -> String {
    format!("/w/{slug}/settings/developer/api-tokens")
}

/// The nonce of the create form.
async fn nonce(app: &TestApp, c: &Client, slug: &str) -> (String, String) {
    let html = c
        .get(app.url(&format!("{}/new", tokens_url(slug))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"nonce\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    (
        crate::helpers::csrf_of(&html),
        html[start..].split('"').next().unwrap().to_owned(),
    )
}

/// Creates a token through the form and follows the reveal; returns (id, secret).
pub async fn create_token(
    app: &TestApp,
    c: &Client,
    slug: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (csrf, nonce) = nonce(app, c, slug).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("nonce", &nonce)];
    form.extend_from_slice(extra);
    let res = c
        .post(app.url(&tokens_url(slug)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), format!("{}/revealed", tokens_url(slug)));
    let reveal = c.get(app.url(&location(&res))).send().await.unwrap();
    assert_eq!(reveal.headers()["cache-control"], "no-store");
    let html = reveal.text().await.unwrap();
    let secret = secret_of(&html);
    // The reveal's Done link names the new token (`…api-tokens#token-ID`); the first table row
    // may be another token created in the same second.
    let marker = "#token-";
    let start = html.find(marker).unwrap() + marker.len();
    (html[start..].split('"').next().unwrap().to_owned(), secret)
}

const BASIC: &[(&str, &str)] = &[
    ("name", "CI deploy"),
    ("permissions", "messages:send"),
    ("channel_mode", "all"),
    ("expiry", "30"),
    ("tier", "standard"),
];

#[tokio::test]
async fn a_created_token_is_revealed_once_and_listed_as_active() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (id, secret) = create_token(&app, &c, &slug, BASIC).await;
    let parsed = Secret::parse(&secret).expect("the SPEC format with a valid checksum");
    assert!(secret.starts_with("kw_") && secret.len() == 49);

    // Stored as SHA-256 only.
    let (token, _) = keyward::db::tokens::by_hash(&app.state.db, &parsed.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.id, id);

    // A reload shows "already shown", never the secret.
    let again = c
        .get(app.url(&format!("{}/revealed", tokens_url(&slug))))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    let html = again.text().await.unwrap();
    assert!(html.contains("already shown") && !html.contains(&secret));

    let list = c
        .get(app.url(&tokens_url(&slug)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("CI deploy")
            && list.contains("badge-active")
            && list.contains(&parsed.hint())
    );
    assert!(!list.contains(&secret));
}

#[tokio::test]
async fn an_empty_submit_shows_inline_errors_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (csrf, nonce) = nonce(&app, &c, &slug).await;
    let res = c
        .post(app.url(&tokens_url(&slug)))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("nonce", &nonce),
            ("name", ""),
            ("description", "kept"),
            ("ip_allowlist", "10.0.0.0/8\nnot-an-ip"),
            ("expiry", "30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Name is required"));
    assert!(html.contains("choose at least one permission"));
    assert!(html.contains("“not-an-ip” is not an IP address or CIDR"));
    assert!(html.contains(">kept</textarea>") && html.contains("10.0.0.0/8\nnot-an-ip"));
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &app.workspace(&slug).await.id)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_double_submitted_create_form_makes_one_token() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (csrf, nonce) = nonce(&app, &c, &slug).await;
    let mut form = vec![("csrf_token", csrf.as_str()), ("nonce", nonce.as_str())];
    form.extend_from_slice(BASIC);
    let first = c
        .post(app.url(&tokens_url(&slug)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let second = c
        .post(app.url(&tokens_url(&slug)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&first), format!("{}/revealed", tokens_url(&slug)));
    assert_eq!(location(&second), tokens_url(&slug));
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &app.workspace(&slug).await.id)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn every_field_is_saved_and_shown_on_the_detail_page() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let ws = app.workspace(&slug).await.id;
    let ch = keyward::db::channels::create(&app.state.db, &ws, "WhatsApp Support", "whatsapp")
        .await
        .unwrap();
    let mut form = vec![
        ("name", "Zapier"),
        ("description", "Sends order updates"),
        ("permissions", "messages:send"),
        ("permissions", "chats:read"),
        ("channel_mode", "some"),
        ("channels", ch.id.as_str()),
        ("ip_allowlist", "203.0.113.0/24\n198.51.100.7"),
        ("expiry", "7"),
        ("tier", "admin"),
    ];
    let (id, _) = create_token(&app, &c, &slug, &form).await;
    let html = c
        .get(app.url(&format!("{}/{id}", tokens_url(&slug))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "Zapier",
        "Sends order updates",
        "<code>chats:read</code>",
        "<code>messages:send</code>",
        "WhatsApp Support",
        "<code>203.0.113.0/24</code>",
        "<code>198.51.100.7</code>",
        "Admin — 5,000 requests/hour",
        "Expiring Soon",
        "No requests yet",
    ] {
        assert!(html.contains(expected), "detail shows {expected}");
    }
    // Channel scope without channels is refused.
    form.retain(|(k, _)| *k != "channels");
    let (csrf, nonce) = nonce(&app, &c, &slug).await;
    let mut with_tokens = vec![("csrf_token", csrf.as_str()), ("nonce", nonce.as_str())];
    with_tokens.extend_from_slice(&form);
    let res = c
        .post(app.url(&tokens_url(&slug)))
        .form(&with_tokens)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Choose at least one channel")
    );
}

/// A signed-in admin with one token made through the form (`BASIC`, named “CI deploy”).
struct Dashboard {
    app: TestApp,
    c: Client,
    slug: String,
    id: String,
    secret: String,
    /// The token's detail page.
    detail: String,
}

impl Dashboard {
    async fn with_token() -> Self {
        let app = TestApp::spawn().await;
        let (c, slug) = app.setup().await;
        let (id, secret) = create_token(&app, &c, &slug, BASIC).await;
        let detail = format!("{}/{id}", tokens_url(&slug));
        Self {
            app,
            c,
            slug,
            id,
            secret,
            detail,
        }
    }

    /// Submits the detail page's `action` form (`edit` is on its own page).
    async fn act(&self, action: &str, fields: &[(&str, &str)]) -> Response {
        let (page, url) = (&self.detail, format!("{}/{action}", self.detail));
        let page = if action == "edit" { &url } else { page };
        self.app.post_form(&self.c, page, &url, fields).await
    }

    /// Regenerates the token and returns the new secret from the reveal.
    async fn regenerate(&self) -> String {
        let res = self.act("regenerate", &[]).await;
        secret_of(&self.app.page(&self.c, &location(&res)).await)
    }

    async fn audit(&self) -> Vec<keyward::db::audit::Entry> {
        let ws = self.app.workspace(&self.slug).await.id;
        keyward::db::audit::list(
            &self.app.state.db,
            &ws,
            keyward::db::audit::Filter {
                token_id: Some(&self.id),
                kind: None,
            },
            None,
            100,
        )
        .await
        .unwrap()
    }
}

const EDIT: &[(&str, &str)] = &[
    ("name", "CI deploy v2"),
    ("permissions", "chats:read"),
    ("channel_mode", "all"),
    ("expiry", "keep"),
    ("tier", "standard"),
];

#[tokio::test]
async fn an_edit_saves_and_its_audit_entry_lists_the_changes() {
    let d = Dashboard::with_token().await;

    let res = d.act("edit", EDIT).await;

    assert_eq!(location(&res), d.detail);
    let entries = d.audit().await;
    let edit = entries
        .iter()
        .find(|e| e.action == "token.updated")
        .unwrap();
    assert!(
        edit.details.contains("name: “CI deploy” → “CI deploy v2”")
            && edit.details.contains("+[chats:read]"),
        "{}",
        edit.details
    );
}

#[tokio::test]
async fn revoke_shows_the_revoked_badge_and_reactivate_the_active_one() {
    let d = Dashboard::with_token().await;

    let res = d.act("revoke", &[]).await;
    assert_eq!(location(&res), d.detail);
    let html = d.app.page(&d.c, &d.detail).await;
    assert!(html.contains("badge-revoked") && html.contains("revoked. Requests using it now fail"));

    let _ = d.act("reactivate", &[]).await;
    assert!(d.app.page(&d.c, &d.detail).await.contains("badge-active"));
}

#[tokio::test]
async fn regenerate_reveals_a_new_secret_and_forgets_the_old_one() {
    let d = Dashboard::with_token().await;

    let new_secret = d.regenerate().await;

    assert_ne!(new_secret, d.secret);
    let db = &d.app.state.db;
    assert!(
        keyward::db::tokens::by_hash(db, &Secret::parse(&d.secret).unwrap().hash())
            .await
            .unwrap()
            .is_none(),
        "old secret gone"
    );
    assert!(
        keyward::db::tokens::by_hash(db, &Secret::parse(&new_secret).unwrap().hash())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn delete_needs_the_exact_name_and_then_the_detail_page_is_404() {
    let d = Dashboard::with_token().await;

    let wrong = d.act("delete", &[("confirm_name", "CI deploy v2")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("exactly to delete it"));

    let res = d.act("delete", &[("confirm_name", "CI deploy")]).await;
    assert_eq!(location(&res), tokens_url(&d.slug));
    assert_eq!(
        d.c.get(d.app.url(&d.detail)).send().await.unwrap().status(),
        404
    );
}

#[tokio::test]
async fn each_lifecycle_action_writes_an_audit_entry_by_the_admin_without_a_secret() {
    let d = Dashboard::with_token().await;
    d.act("edit", EDIT).await;
    d.act("revoke", &[]).await;
    d.act("reactivate", &[]).await;
    let new_secret = d.regenerate().await;
    d.act("delete", &[("confirm_name", "CI deploy")]).await; // refused: writes nothing
    d.act("delete", &[("confirm_name", "CI deploy v2")]).await;

    let entries = d.audit().await;

    let actions: Vec<_> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token.created",
            "token.updated",
            "token.revoked",
            "token.reactivated",
            "token.regenerated",
            "token.deleted"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.actor_name == crate::helpers::EMAIL && e.ip.as_deref() == Some("127.0.0.1"))
    );
    let page = d
        .app
        .page(&d.c, &format!("/w/{}/settings/developer/audit-log", d.slug))
        .await;
    assert!(page.contains("token.regenerated") && page.contains("token.deleted"));
    for e in &entries {
        assert!(!e.details.contains(&d.secret) && !e.details.contains(&new_secret));
    }
}

#[tokio::test]
async fn the_database_file_never_contains_a_secret() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let (id, first) = create_token(&app, &c, &slug, BASIC).await;
    let detail = format!("{}/{id}", tokens_url(&slug));
    let res = app
        .post_form(&c, &detail, &format!("{detail}/regenerate"), &[])
        .await;
    let second = secret_of(&app.page(&c, &location(&res)).await);
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", app.db_path.display());
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for secret in [&first, &second] {
            let body = &secret[3..43];
            assert!(
                !bytes.windows(body.len()).any(|w| w == body.as_bytes()),
                "{path} holds a secret"
            );
        }
    }
}

#[tokio::test]
async fn another_workspaces_token_is_404_on_every_page_and_action() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let other = app
        .other_admin_with_workspace("bob@other.io", "Other")
        .await;
    let (bob, _) = app.login("bob@other.io", crate::helpers::PASSWORD).await;
    let (theirs, _) = create_token(&app, &bob, &other, BASIC).await;
    let mine = tokens_url(&slug);
    for path in ["", "/edit", "/revoke", "/regenerate", "/delete"] {
        let res = c
            .get(app.url(&format!("{mine}/{theirs}{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "GET {path}");
    }
    for path in ["/edit", "/revoke", "/reactivate", "/regenerate", "/delete"] {
        let res = app
            .post_form(
                &c,
                &mine,
                &format!("{mine}/{theirs}{path}"),
                &[
                    ("confirm_name", "CI deploy"),
                    ("name", "x"),
                    ("permissions", "admin"),
                ],
            )
            .await;
        assert_eq!(res.status(), 404, "POST {path}");
    }
    let token = keyward::db::tokens::get(&app.state.db, &app.workspace(&other).await.id, &theirs)
        .await
        .unwrap()
        .unwrap();
    assert!(token.revoked_at.is_none() && token.name == "CI deploy");
}

#[tokio::test]
async fn the_list_filters_by_status_searches_by_name_and_pages() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let ws = app.workspace(&slug).await.id;
    let actor = keyward::db::audit::Actor::cli();
    let ctx = keyward::ops::Ctx::new(&app.state, &ws, &actor, None, keyward::ops::Acting::Full);
    let catalog = keyword_catalog();
    for i in 0..30 {
        let draft = keyward::domain::token::TokenDraft {
            name: keyward::domain::token::TokenName::parse(&format!("job {i:02}")).unwrap(),
            description: String::new(),
            permissions: catalog.parse_set(["chats:read"]).unwrap(),
            channels: None,
            ip_allowlist: Default::default(),
            expires_at: None,
            rate: Default::default(),
        };
        let (t, _) = keyward::ops::create(&ctx, &draft, "kw_").await.unwrap();
        if i == 7 {
            keyward::ops::set_revoked(&ctx, &t.id, true).await.unwrap();
        }
    }
    let base = tokens_url(&slug);
    let page1 = c
        .get(app.url(&base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page1.matches("class=\"row-link\"").count(), 25);
    assert!(page1.contains("Older ›"));
    let older = page1
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let page2 = c
        .get(app.url(&older))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page2.matches("class=\"row-link\"").count(), 5);
    let revoked = c
        .get(app.url(&format!("{base}?status=revoked")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(revoked.matches("class=\"row-link\"").count(), 1);
    assert!(revoked.contains("job 07"));
    let search = c
        .get(app.url(&format!("{base}?q=job+1")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        search.starts_with("<div id=\"tokens-table\">"),
        "htmx gets the table fragment"
    );
    assert_eq!(search.matches("class=\"row-link\"").count(), 10);
    let none = c
        .get(app.url(&format!("{base}?q=zzz")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(none.contains("No tokens match these filters"));
}

fn keyword_catalog() -> keyward::domain::permissions::Catalog {
    keyward::domain::permissions::Catalog::default()
}
