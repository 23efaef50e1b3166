//! Members and sessions in a real browser (SPEC §14): invite → accept in a second browser →
//! both see each other → remove → the removed admin's next click lands on sign-in; "Sign out
//! everywhere else"; axe on the new pages in light and dark.

use crate::browser::{Browser, Options};
use crate::browser_tests::browser_setup;
use crate::helpers::{EMAIL, PASSWORD, TestApp};

const BOB: &str = "bob@acme.io";
const BOB_PASSWORD: &str = "bob's long password";
const ESCAPE: &str = "\u{E00C}";

/// Invites `email` from the members page; returns the link as shown.
async fn invite(b: &Browser, app: &TestApp, slug: &str, email: &str) -> String {
    b.goto(&app.url(&format!("/w/{slug}/settings/members")))
        .await;
    b.fill("#invite-email", email).await;
    b.click("form.inline-form button[type=submit]").await;
    b.text("#invite-link").await
}

/// Accepts the link in `b` with a new password; waits for the workspace.
async fn accept(b: &Browser, link: &str) {
    b.goto(link).await;
    b.fill("#password", BOB_PASSWORD).await;
    b.fill("#password_confirm", BOB_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_until("the workspace", |s| s.contains("<h1>API tokens</h1>"))
        .await;
}

async fn sign_in(b: &Browser, app: &TestApp, email: &str, password: &str) {
    b.goto(&app.url("/login")).await;
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.click("button[type=submit]").await;
    b.wait_until("signed in", |s| s.contains("<h1>API tokens</h1>"))
        .await;
}

#[tokio::test]
async fn browser_invite_accept_see_each_other_remove_and_the_next_click_signs_out() {
    let app = TestApp::spawn().await;
    let test = "browser_invite_accept_see_each_other_remove_and_the_next_click_signs_out";
    let Some(alice) = Browser::start(test).await else {
        return;
    };
    let slug = browser_setup(&app, &alice).await;
    let link = invite(&alice, &app, &slug, BOB).await;
    assert!(link.starts_with(&app.url("/invite?code=")), "{link}");
    let bob = alice.beside(Options::default()).await;
    accept(&bob, &link).await;
    bob.click("nav.sidebar a[href$='/settings/members']").await;
    bob.wait_until("both members", |s| s.contains(EMAIL) && s.contains(BOB))
        .await;
    alice
        .goto(&app.url(&format!("/w/{slug}/settings/members")))
        .await;
    assert!(alice.source().await.contains(&format!("<td>{BOB}")));
    // Remove Bob through the dialog: Escape first changes nothing.
    let open_bobs = format!(
        "[...document.querySelectorAll('#members-table tr')].find(r => r.textContent.includes('{BOB}'))\
         .querySelector('a[data-dialog]').click(); return 1"
    );
    alice.js(&open_bobs).await;
    let focus_inside = "return document.activeElement.closest('dialog[open]') !== null";
    assert_eq!(alice.js(focus_inside).await, serde_json::json!(true));
    alice
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(ESCAPE)
        .await
        .unwrap();
    assert!(alice.source().await.contains(&format!("<td>{BOB}")));
    alice.js(&open_bobs).await;
    alice.click("dialog[open] button[type=submit]").await;
    alice
        .wait_until("removed", |s| s.contains("was removed and signed out"))
        .await;
    bob.click("nav.sidebar a[href$='/developer/api-tokens']")
        .await;
    bob.find("#email").await;
    assert_eq!(bob.path().await, "/login");
    bob.finish().await;
    alice.finish().await;
}

#[tokio::test]
async fn browser_sign_out_everywhere_else_ends_the_other_browsers_session() {
    let app = TestApp::spawn().await;
    let test = "browser_sign_out_everywhere_else_ends_the_other_browsers_session";
    let Some(a) = Browser::start(test).await else {
        return;
    };
    browser_setup(&app, &a).await;
    let other = a.beside(Options::default()).await;
    sign_in(&other, &app, EMAIL, PASSWORD).await;
    a.click(".account a[href='/account/sessions']").await;
    a.wait_until("two sessions", |s| s.matches("<li").count() >= 2)
        .await;
    assert!(a.source().await.contains("This browser — Chrome"));
    a.click("button.danger").await;
    a.wait_until("done", |s| s.contains("other session was signed out"))
        .await;
    other
        .click("nav.sidebar a[href$='/settings/channels']")
        .await;
    other.find("#email").await;
    assert_eq!(other.path().await, "/login");
    other.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn browser_axe_finds_no_serious_or_critical_violations_on_members_sessions_and_invite() {
    let test = "browser_axe_finds_no_serious_or_critical_violations_on_members_sessions_and_invite";
    let mut found = Vec::new();
    for dark in [false, true] {
        let opts = Options {
            dark,
            ..Default::default()
        };
        let Some(b) = Browser::start_with(test, opts).await else {
            return;
        };
        let theme = if dark { "dark" } else { "light" };
        for v in axe_tour(&b).await {
            found.push(format!("{theme} {v}"));
        }
        b.finish().await;
    }
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
}

/// Members (with a new link, a pending invitation and the remove dialog open), Sessions and
/// the accept page: serious and critical axe violations.
async fn axe_tour(b: &Browser) -> Vec<String> {
    let app = TestApp::spawn().await;
    let slug = browser_setup(&app, b).await;
    let mut found = Vec::new();
    let link = invite(b, &app, &slug, BOB).await;
    found.extend(
        b.axe()
            .await
            .into_iter()
            .map(|v| format!("members (new link): {v}")),
    );
    let other = b.beside(Options::default()).await;
    accept(&other, &link).await;
    other.finish().await;
    invite(b, &app, &slug, "carol@acme.io").await;
    b.goto(&app.url(&format!("/w/{slug}/settings/members")))
        .await;
    b.click("#members-table a[data-dialog]").await;
    found.extend(
        b.axe()
            .await
            .into_iter()
            .map(|v| format!("members (dialog): {v}")),
    );
    b.goto(&app.url("/account/sessions")).await;
    found.extend(b.axe().await.into_iter().map(|v| format!("sessions: {v}")));
    b.goto(&app.url(&format!(
        "/w/{slug}/settings/developer/audit-log?kind=member"
    )))
    .await;
    found.extend(
        b.axe()
            .await
            .into_iter()
            .map(|v| format!("audit (kind filter): {v}")),
    );
    let carol = invite(b, &app, &slug, "carol@acme.io").await;
    b.click(".account button").await;
    // Signed out (the sign-in page is up) before the link is opened, or the accept page
    // may still see the session.
    b.find("#email").await;
    b.goto(&carol).await;
    b.find("#password_confirm").await;
    found.extend(b.axe().await.into_iter().map(|v| format!("invite: {v}")));
    found
}

#[tokio::test]
async fn browser_without_javascript_invites_and_removes_through_the_confirmation_page() {
    let app = TestApp::spawn().await;
    let opts = Options {
        javascript: false,
        ..Default::default()
    };
    let test = "browser_without_javascript_invites_and_removes_through_the_confirmation_page";
    let Some(b) = Browser::start_with(test, opts).await else {
        return;
    };
    let slug = browser_setup(&app, &b).await;
    app.other_admin_with_workspace(BOB, "Bob's place").await;
    let link = invite(&b, &app, &slug, BOB).await;
    let path = &link[link.find("/invite").unwrap()..];
    let (bob, res) = crate::members::accept(&app, path, PASSWORD).await;
    assert_eq!(res.status(), 303);
    b.goto(&app.url(&format!("/w/{slug}/settings/members")))
        .await;
    b.click("#members-table tr:nth-child(2) a[href$='/remove']")
        .await;
    b.wait_until("confirmation page", |s| s.contains("Remove bob@acme.io?"))
        .await;
    b.click("form button.danger").await;
    b.wait_until("removed", |s| s.contains("was removed and signed out"))
        .await;
    let next = bob
        .get(app.url(&format!("/w/{slug}/settings/members")))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 303);
    b.finish().await;
}
