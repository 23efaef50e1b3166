//! Real browser tests: headless Chromium clicking what a user clicks.

use crate::browser::Browser;
use crate::helpers::{EMAIL, PASSWORD, TestApp};

#[tokio::test]
async fn browser_setup_sign_in_tokens_page_and_channels() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("browser_setup_sign_in_tokens_page_and_channels").await else {
        return;
    };

    // Setup from the printed link lands on the empty API tokens page.
    b.goto(&app.url(&format!("/setup?code={}", app.setup_code())))
        .await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.fill("#password_confirm", PASSWORD).await;
    b.fill("#workspace", "Acme Inc.").await;
    b.click("button[type=submit]").await;
    b.wait_until("tokens page", |s| s.contains("No API tokens yet"))
        .await;
    assert_eq!(b.path().await, "/w/acme-inc/settings/developer/api-tokens");

    // Sign out and in again.
    b.click(".account button").await;
    b.find("#email").await;
    assert_eq!(b.path().await, "/login");
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_until("tokens page", |s| s.contains("<h1>API tokens</h1>"))
        .await;

    // Add a channel (htmx swaps the panel in place).
    b.click("nav.sidebar a[href$='/settings/channels']").await;
    b.fill("#channel-name", "WhatsApp Support").await;
    b.fill("#channel-kind", "whatsapp").await;
    b.click("#channels-panel form.inline-form button[type=submit]")
        .await;
    b.wait_until("new channel row", |s| {
        s.contains("<td>WhatsApp Support</td>")
    })
    .await;
    assert!(
        b.source()
            .await
            .contains("Channel “WhatsApp Support” added.")
    );

    // Remove it through the confirmation dialog: Cancel first changes nothing.
    b.click("#channels-table a[data-dialog]").await;
    b.click("dialog[open] button[data-dialog-close]").await;
    assert!(b.source().await.contains("<td>WhatsApp Support</td>"));
    b.click("#channels-table a[data-dialog]").await;
    b.click("dialog[open] button[type=submit]").await;
    b.wait_until("channel removed", |s| s.contains("No channels yet"))
        .await;
    b.finish().await;
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const SHIFT: &str = "\u{E008}";

/// Sets up through the browser and returns the workspace slug.
pub async fn browser_setup(app: &TestApp, b: &Browser) -> String {
    b.goto(&app.url(&format!("/setup?code={}", app.setup_code())))
        .await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.fill("#password_confirm", PASSWORD).await;
    b.fill("#workspace", "Acme Inc.").await;
    b.click("button[type=submit]").await;
    b.wait_until("tokens page", |s| s.contains("<h1>API tokens</h1>"))
        .await;
    "acme-inc".to_owned()
}

async fn press(b: &Browser, key: &str) {
    b.client
        .active_element()
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

async fn dialog_open(b: &Browser) -> bool {
    b.js("return document.querySelector('dialog[open]') !== null")
        .await
        .as_bool()
        .unwrap()
}

/// Presses Tab (or Shift+Tab) until the focused element matches `css`; fails after `max`.
async fn tab_to(b: &Browser, css: &str, backwards: bool, max: usize) {
    let key = if backwards {
        format!("{SHIFT}{TAB}")
    } else {
        TAB.to_owned()
    };
    let check = format!(
        "return document.activeElement !== null && document.activeElement.matches({})",
        serde_json::to_string(css).unwrap()
    );
    for _ in 0..max {
        press(b, &key).await;
        if b.js(&check).await.as_bool() == Some(true) {
            return;
        }
    }
    let at = b
        .js("return document.activeElement.outerHTML.slice(0, 200)")
        .await;
    panic!("{max} presses of Tab did not reach {css}; focus is on {at}");
}

async fn focus_in_dialog(b: &Browser) -> bool {
    b.js("return document.activeElement.closest('dialog[open]') !== null")
        .await
        .as_bool()
        .unwrap()
}

/// Create → reveal → close → revoke with the keyboard alone: Tab, Shift+Tab, Space, Enter,
/// Escape and typing; no clicks.
#[tokio::test]
async fn browser_keyboard_only_create_reveal_close_and_revoke() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("browser_keyboard_only_create_reveal_close_and_revoke").await
    else {
        return;
    };
    let slug = browser_setup(&app, &b).await;
    let tokens = app.url(&format!("/w/{slug}/settings/developer/api-tokens"));
    b.goto(&tokens).await;

    // The first Tab reaches the skip link; then on to the empty state's "New token".
    press(&b, TAB).await;
    let first = b.js("return document.activeElement.className").await;
    assert_eq!(first, "skip-link", "the skip link comes first");
    tab_to(&b, "a[href$='/api-tokens/new']", false, 30).await;
    press(&b, ENTER).await;
    b.wait_until("create form", |s| s.contains("<h1>New API token</h1>"))
        .await;

    // Fill the form: type the name, Space ticks a permission, Enter on the submit button.
    tab_to(&b, "#name", false, 30).await;
    press(&b, "Keyboard token").await;
    tab_to(&b, "input[name=permissions][value='chats:read']", false, 10).await;
    press(&b, " ").await;
    tab_to(&b, "form.token-form button[type=submit]", false, 40).await;
    // Shift+Tab walks back (to Cancel) and Tab forward again.
    tab_to(&b, "form.token-form a.button", true, 3).await;
    tab_to(&b, "form.token-form button[type=submit]", false, 3).await;
    press(&b, ENTER).await;

    // The reveal dialog has the focus and keeps it: Tab and Shift+Tab stay inside.
    b.wait_until("reveal dialog", |s| s.contains("reveal-secret"))
        .await;
    assert!(dialog_open(&b).await);
    assert!(focus_in_dialog(&b).await, "focus moves into the dialog");
    for _ in 0..12 {
        press(&b, TAB).await;
        assert!(focus_in_dialog(&b).await, "Tab stays in the dialog");
    }
    for _ in 0..12 {
        press(&b, &format!("{SHIFT}{TAB}")).await;
        assert!(focus_in_dialog(&b).await, "Shift+Tab stays in the dialog");
    }
    let secret = b.text("#reveal-secret").await;
    tab_to(&b, "dialog[open] [data-dialog-done]", false, 12).await;
    press(&b, ENTER).await;
    b.wait_until("dialog closed", |s| !s.contains("reveal-secret"))
        .await;
    assert!(!dialog_open(&b).await);
    assert!(b.text("tbody tr").await.contains("Active"));

    // Open the token, then Revoke: Escape cancels and returns focus; Enter confirms.
    tab_to(&b, "a.row-link", false, 40).await;
    press(&b, ENTER).await;
    b.wait_until("detail page", |s| s.contains("<h1>Keyboard token"))
        .await;
    tab_to(&b, ".detail-head [data-dialog=dialog-revoke]", false, 30).await;
    press(&b, ENTER).await;
    assert!(dialog_open(&b).await, "Enter opens the revoke dialog");
    assert!(focus_in_dialog(&b).await);
    press(&b, ESCAPE).await;
    assert!(!dialog_open(&b).await, "Escape closes it");
    let back = b
        .js("return document.activeElement.getAttribute('data-dialog')")
        .await;
    assert_eq!(back, "dialog-revoke", "focus returns to Revoke");
    press(&b, ENTER).await;
    tab_to(&b, "dialog[open] button[type=submit]", false, 6).await;
    press(&b, ENTER).await;
    b.wait_until("revoked", |s| s.contains("badge-revoked"))
        .await;

    // The server agrees: the token is revoked and its secret refused.
    assert_eq!(app.me_status(&secret).await, 401);
    b.finish().await;
}

#[tokio::test]
async fn browser_create_token_reveal_once_and_row_is_active() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("browser_create_token_reveal_once_and_row_is_active").await else {
        return;
    };
    let slug = browser_setup(&app, &b).await;
    let ws = app.workspace(&slug).await;
    keyward::db::channels::create(&app.state.db, &ws.id, "WhatsApp Support", "whatsapp")
        .await
        .unwrap();

    // An empty submit shows inline errors and creates nothing.
    b.click("a[href$='/api-tokens/new']").await;
    b.fill("#ip_allowlist", "not-an-ip").await;
    b.click("form.token-form button[type=submit]").await;
    b.wait_until("inline errors", |s| s.contains("Name is required"))
        .await;
    assert!(b.source().await.contains("choose at least one permission"));
    assert_eq!(
        b.find("#ip_allowlist")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("not-an-ip")
    );
    assert_eq!(
        keyward::db::tokens::count(&app.state.db, &ws.id)
            .await
            .unwrap(),
        0
    );

    // Create with permissions, a channel scope, an IP entry and a 30-day expiry.
    b.fill("#name", "CI deploy").await;
    b.click("input[name=permissions][value='messages:send']")
        .await;
    b.click("input[name=permissions][value='chats:read']").await;
    b.click("input[name=channel_mode][value=some]").await;
    b.click("input[name=channels]").await;
    b.fill("#ip_allowlist", "").await;
    b.click("button[data-add-ip]").await;
    assert_eq!(
        b.find("#ip_allowlist")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("127.0.0.1")
    );
    b.find("#expiry").await.select_by_value("30").await.unwrap();
    assert!(b.text("#expiry-preview").await.starts_with("Expires on"));
    b.click("form.token-form button[type=submit]").await;

    // The dialog shows the secret once, with Copy and the warning.
    b.wait_until("reveal dialog", |s| s.contains("reveal-secret"))
        .await;
    assert!(dialog_open(&b).await);
    let secret = b.text("#reveal-secret").await;
    let parsed =
        keyward::domain::secret::Secret::parse(&secret).expect("secret in the SPEC format");
    assert!(
        b.text("dialog[open] .warning")
            .await
            .contains("won’t be able to see it again")
    );
    b.click("dialog[open] button[data-copy]").await;
    b.wait_until("copied", |s| {
        s.contains("Copied ✓") || s.contains("press Ctrl+C")
    })
    .await;
    b.click("dialog[open] [data-dialog-done]").await;
    assert!(!dialog_open(&b).await);
    let row = b.text("tbody tr").await;
    assert!(row.contains("CI deploy") && row.contains("Active"), "{row}");

    // After a reload the page holds no secret; the stored hash matches it.
    b.client.refresh().await.unwrap();
    let source = b.source().await;
    assert!(source.contains("CI deploy") && !source.contains(&secret));
    let (token, _) = keyward::db::tokens::by_hash(&app.state.db, &parsed.hash())
        .await
        .unwrap()
        .expect("stored hash");
    // The secret works against the running server (from 127.0.0.1, inside its allowlist).
    assert_eq!(app.me_status(&secret).await, 200);
    assert_eq!(token.channels.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        token.ip_allowlist.entries().collect::<Vec<_>>(),
        ["127.0.0.1"]
    );
    assert_eq!(token.permissions.to_stored(), "chats:read messages:send");
    let days = (token.expires_at.unwrap() - keyward::domain::now()) as f64 / 86_400.0;
    assert!((29.9..=30.0).contains(&days), "{days}");
    b.finish().await;
}

#[tokio::test]
async fn browser_lifecycle_revoke_reactivate_regenerate_expiring_and_delete() {
    let app = TestApp::spawn().await;
    let Some(b) =
        Browser::start("browser_lifecycle_revoke_reactivate_regenerate_expiring_and_delete").await
    else {
        return;
    };
    let slug = browser_setup(&app, &b).await;

    // A token expiring in 5 days (custom date) shows "Expiring Soon".
    let in_5_days =
        keyward::domain::token::rfc3339(keyward::domain::now() + 4 * 86_400)[..10].to_owned();
    b.goto(&app.url(&format!("/w/{slug}/settings/developer/api-tokens/new")))
        .await;
    b.fill("#name", "Zapier").await;
    b.click("input[name=permissions][value='messages:send']")
        .await;
    b.find("#expiry")
        .await
        .select_by_value("custom")
        .await
        .unwrap();
    b.js(&format!(
        "document.getElementById('expiry_date').value = '{in_5_days}'; return true"
    ))
    .await;
    b.click("form.token-form button[type=submit]").await;
    b.wait_until("reveal", |s| s.contains("reveal-secret"))
        .await;
    let old_secret = b.text("#reveal-secret").await;
    press(&b, ESCAPE).await;
    assert!(!dialog_open(&b).await, "Escape closes the reveal");
    assert!(b.text("tbody tr").await.contains("Expiring Soon"));
    b.click("tbody a.row-link").await;
    b.find(".detail-head").await;

    // Revoke: Cancel changes nothing, Confirm revokes.
    b.click(".detail-head a[data-dialog=dialog-revoke]").await;
    assert!(dialog_open(&b).await);
    b.click("#dialog-revoke button[data-dialog-close]").await;
    assert!(!dialog_open(&b).await);
    assert!(
        b.text(".detail-head .badge")
            .await
            .contains("Expiring Soon")
    );
    b.click(".detail-head a[data-dialog=dialog-revoke]").await;
    b.click("#dialog-revoke button[type=submit]").await;
    b.wait_until("revoked", |s| s.contains("badge-revoked"))
        .await;
    assert!(b.text(".detail-head .badge").await.contains("Revoked"));

    // Reactivate.
    b.click(".detail-head form button[type=submit]").await;
    b.wait_until("reactivated", |s| s.contains("reactivated."))
        .await;
    assert!(!b.text(".detail-head .badge").await.contains("Revoked"));

    // Regenerate: a new secret is shown; the old one no longer matches any token.
    b.click(".detail-head a[data-dialog=dialog-regenerate]")
        .await;
    b.click("#dialog-regenerate button[type=submit]").await;
    b.wait_until("new secret", |s| s.contains("reveal-secret"))
        .await;
    let new_secret = b.text("#reveal-secret").await;
    assert_ne!(new_secret, old_secret);
    let db = &app.state.db;
    let old = keyward::domain::secret::Secret::parse(&old_secret).unwrap();
    assert!(
        keyward::db::tokens::by_hash(db, &old.hash())
            .await
            .unwrap()
            .is_none(),
        "old secret refused"
    );
    let refused = crate::helpers::client()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&old_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the old secret is refused at once");
    let fresh = crate::helpers::client()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&new_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    b.click("dialog[open] [data-dialog-done]").await;

    // Keyboard: Tab reaches every action; Enter opens a dialog; Escape closes it.
    b.js("document.querySelector('.detail-head h1').setAttribute('tabindex','-1'); document.querySelector('.detail-head h1').focus(); return true").await;
    let mut reached = Vec::new();
    for _ in 0..12 {
        press(&b, TAB).await;
        let label = b
            .js("return document.activeElement.textContent.trim()")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        reached.push(label);
    }
    for action in ["Edit", "Regenerate", "Revoke", "Delete"] {
        assert!(
            reached.iter().any(|r| r == action),
            "Tab reaches {action}: {reached:?}"
        );
    }
    b.js("document.querySelector('[data-dialog=dialog-delete]').focus(); return true")
        .await;
    press(&b, ENTER).await;
    assert!(dialog_open(&b).await, "Enter opens the delete dialog");
    press(&b, ESCAPE).await;
    assert!(!dialog_open(&b).await, "Escape closes it");
    let focused = b
        .js("return document.activeElement.getAttribute('data-dialog')")
        .await;
    assert_eq!(focused, "dialog-delete", "focus returns to the opener");

    // Delete: the button stays disabled for a wrong name; the server also refuses one.
    b.click(".detail-head a[data-dialog=dialog-delete]").await;
    b.fill("#delete-confirm-name", "Zap").await;
    assert_eq!(
        b.find("#delete-submit")
            .await
            .prop("disabled")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    b.js("document.getElementById('delete-submit').disabled = false; return true")
        .await;
    b.click("#delete-submit").await;
    b.wait_until("refused", |s| s.contains("exactly to delete it"))
        .await;
    b.fill("#confirm_name", "Zapier").await;
    b.click(".danger-zone button[type=submit]").await;
    b.wait_until("deleted", |s| s.contains("Token “Zapier” deleted."))
        .await;
    assert!(b.source().await.contains("No API tokens yet"));
    b.finish().await;
}

#[tokio::test]
async fn browser_playground_authorizes_with_or_without_bearer_and_calls_me_offline() {
    let app = TestApp::spawn().await;
    let opts = crate::browser::Options {
        loopback_only: true,
        ..Default::default()
    };
    let Some(b) = Browser::start_with(
        "browser_playground_authorizes_with_or_without_bearer_and_calls_me_offline",
        opts,
    )
    .await
    else {
        return;
    };
    let slug = app.setup().await.1;
    let (_, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    for pasted in [secret.clone(), format!("Bearer {secret}")] {
        b.goto(&app.url("/docs/api")).await;
        b.click(".swagger-ui .auth-wrapper button.authorize").await;
        b.fill(".auth-container input", &pasted).await;
        b.click(".auth-btn-wrapper button.authorize").await;
        b.click(".auth-btn-wrapper button.btn-done").await;
        b.click("#operations-me-me .opblock-summary-control").await;
        b.click("#operations-me-me button.execute").await;
        b.wait_until("a live response", |s| s.contains("live-responses-table"))
            .await;
        let status = b
            .text("#operations-me-me .live-responses-table .response .response-col_status")
            .await;
        assert_eq!(status.trim(), "200", "pasted {:?}", &pasted[..7]);
        let body = b
            .text("#operations-me-me .live-responses-table .response .response-col_description pre")
            .await;
        assert!(
            body.contains("\"workspace\"") && body.contains("acme-inc"),
            "{body}"
        );
    }
    b.finish().await;
}

#[tokio::test]
async fn browser_without_javascript_signs_in_creates_revokes_and_deletes() {
    let app = TestApp::spawn().await;
    let opts = crate::browser::Options {
        javascript: false,
        ..Default::default()
    };
    let Some(b) = Browser::start_with(
        "browser_without_javascript_signs_in_creates_revokes_and_deletes",
        opts,
    )
    .await
    else {
        return;
    };
    let _ = app.setup().await;
    assert_eq!(
        b.js("return 1").await,
        serde_json::json!(1),
        "WebDriver scripts still run"
    );
    b.goto(&app.url("/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_until("tokens page", |s| s.contains("<h1>API tokens</h1>"))
        .await;
    assert_eq!(
        b.js("return typeof window.htmx").await,
        serde_json::json!("undefined"),
        "page scripts are off"
    );

    // Create: the reveal is a page of its own (the dialog is rendered open).
    b.click("a[href$='/api-tokens/new']").await;
    b.fill("#name", "No JS").await;
    b.click("input[name=permissions][value='chats:read']").await;
    b.click("form.token-form button[type=submit]").await;
    b.wait_until("reveal", |s| s.contains("reveal-secret"))
        .await;
    assert!(b.path().await.ends_with("/api-tokens/revealed"));
    let secret = b.text("#reveal-secret").await;
    assert!(
        keyward::domain::secret::Secret::parse(&secret).is_some(),
        "the secret is visible without JavaScript"
    );
    b.click("[data-dialog-done]").await;
    b.wait_until("list", |s| {
        s.contains("No JS") && !s.contains("reveal-secret")
    })
    .await;
    b.client.refresh().await.unwrap();
    assert!(!b.source().await.contains(&secret));

    // Revoke through the plain confirmation page.
    b.click("tbody a.row-link").await;
    b.click(".detail-head a[href$='/revoke']").await;
    b.wait_until("confirm page", |s| s.contains("Revoke No JS?"))
        .await;
    b.click(".danger-zone button[type=submit]").await;
    b.wait_until("revoked", |s| s.contains("badge-revoked"))
        .await;

    // Delete: a wrong name is refused, the right one deletes.
    b.click(".detail-head a[href$='/delete']").await;
    b.fill("#confirm_name", "nope").await;
    b.click(".danger-zone button[type=submit]").await;
    b.wait_until("refused", |s| s.contains("exactly to delete it"))
        .await;
    b.fill("#confirm_name", "No JS").await;
    b.click(".danger-zone button[type=submit]").await;
    b.wait_until("deleted", |s| s.contains("Token “No JS” deleted."))
        .await;
    b.finish().await;
}

#[tokio::test]
async fn browser_axe_finds_no_serious_or_critical_violations_on_any_dashboard_page() {
    let mut found = Vec::new();
    for dark in [false, true] {
        let opts = crate::browser::Options {
            dark,
            ..Default::default()
        };
        let Some(b) = Browser::start_with(
            "browser_axe_finds_no_serious_or_critical_violations_on_any_dashboard_page",
            opts,
        )
        .await
        else {
            return;
        };
        let theme = if dark { "dark" } else { "light" };
        if dark {
            let scheme = b
                .js("return matchMedia('(prefers-color-scheme: dark)').matches")
                .await;
            assert_eq!(
                scheme,
                serde_json::json!(true),
                "the dark theme is really in use"
            );
        }
        found.extend(
            axe_tour(&b)
                .await
                .into_iter()
                .map(|v| format!("{theme} {v}")),
        );
        b.finish().await;
    }
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
}

/// Visits every dashboard page, returning serious and critical axe violations.
async fn axe_tour(b: &Browser) -> Vec<String> {
    let app = TestApp::spawn().await;
    let mut found = Vec::new();
    let mut check = |page: &str, violations: Vec<String>| {
        for v in violations {
            found.push(format!("{page}: {v}"));
        }
    };
    b.goto(&app.url(&format!("/setup?code={}", app.setup_code())))
        .await;
    check("setup", b.axe().await);
    let slug = browser_setup(&app, b).await;
    let base = format!("/w/{slug}/settings/developer/api-tokens");
    check("token list (empty)", b.axe().await);
    b.goto(&app.url(&format!("{base}/new"))).await;
    b.click("form.token-form button[type=submit]").await;
    b.wait_until("errors", |s| s.contains("Name is required"))
        .await;
    check("create form with errors", b.axe().await);
    b.fill("#name", "Axe").await;
    b.click("input[name=permissions][value='chats:read']").await;
    b.click("form.token-form button[type=submit]").await;
    b.wait_until("reveal", |s| s.contains("reveal-secret"))
        .await;
    check("reveal dialog", b.axe().await);
    b.click("dialog[open] [data-dialog-done]").await;
    check("token list (full)", b.axe().await);
    b.click("tbody a.row-link").await;
    b.find(".detail-head").await;
    check("detail", b.axe().await);
    b.click(".detail-head a[data-dialog=dialog-roll]").await;
    check("roll dialog", b.axe().await);
    b.click("#dialog-roll input[name=overlap][value='3600']")
        .await;
    b.click("#dialog-roll button[type=submit]").await;
    b.wait_until("rolled", |s| s.contains("Secret rolled"))
        .await;
    b.click("dialog[open] [data-dialog-done]").await;
    b.find("#overlap-notice").await;
    check("detail during an overlap", b.axe().await);
    b.goto(&app.url(&format!("/w/{slug}/settings/developer/audit-log")))
        .await;
    check("audit log", b.axe().await);
    b.goto(&app.url(&format!("/w/{slug}/settings/channels")))
        .await;
    check("channels", b.axe().await);
    b.goto(&app.url(&format!("/w/{slug}/settings/developer/webhooks")))
        .await;
    check("webhooks (empty)", b.axe().await);
    b.fill("#webhook-url", "https://hooks.example.com/keyward")
        .await;
    b.click("form.form button[type=submit]").await;
    b.wait_until("secret", |s| s.contains("webhook-secret-value"))
        .await;
    check("webhooks (secret shown)", b.axe().await);
    b.click("#webhooks-table a").await;
    b.find("#webhook-url").await;
    check("webhook endpoint", b.axe().await);
    // The check itself can fail: a planted image without alt text is reported.
    b.js("const i = document.createElement('img'); i.id = 'planted'; i.src = 'data:,'; document.body.append(i); return 1").await;
    let planted = b.axe().await;
    assert!(
        planted.iter().any(|v| v.contains("image-alt")),
        "axe reports a planted violation: {planted:?}"
    );
    b.js("document.getElementById('planted').remove(); return 1")
        .await;
    b.click(".account button").await;
    b.find("#email").await;
    check("sign-in", b.axe().await);
    found
}

#[tokio::test]
async fn browser_roll_dialog_keeps_the_old_secret_for_an_hour_and_end_now_stops_it() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("browser_roll_dialog").await else {
        return;
    };
    let slug = browser_setup(&app, &b).await;
    let (id, old) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    b.goto(&app.url(&format!("/w/{slug}/settings/developer/api-tokens/{id}")))
        .await;

    // Escape closes the dialog and changes nothing.
    b.click(".detail-head a[data-dialog=dialog-roll]").await;
    assert!(dialog_open(&b).await, "Roll secret… opens a dialog");
    press(&b, ESCAPE).await;
    assert!(!dialog_open(&b).await);
    assert_eq!(app.me_status(&old).await, 200);

    b.click(".detail-head a[data-dialog=dialog-roll]").await;
    b.click("#dialog-roll input[name=overlap][value='3600']")
        .await;
    b.click("#dialog-roll button[type=submit]").await;
    b.wait_until("reveal", |s| s.contains("Secret rolled"))
        .await;
    let new = b.text("#reveal-secret").await;
    b.click("dialog[open] [data-dialog-done]").await;
    assert!(b.text("#overlap-notice").await.contains("works until"));
    assert_eq!(
        (app.me_status(&old).await, app.me_status(&new).await),
        (200, 200)
    );

    b.click("#overlap-notice a[data-dialog=dialog-end-overlap]")
        .await;
    b.click("#dialog-end-overlap button[type=submit]").await;
    b.wait_until("ended", |s| s.contains("stopped working"))
        .await;
    assert_eq!(
        (app.me_status(&old).await, app.me_status(&new).await),
        (401, 200)
    );
    b.finish().await;
}
