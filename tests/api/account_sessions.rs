//! Account → Sessions (SPEC §14): an admin sees where they are signed in and ends one session
//! or every other one; nobody ends another admin's session.

use reqwest::Client;

use crate::helpers::{EMAIL, PASSWORD, TestApp, location};

const PAGE: &str = "/account/sessions";

/// Whether `c` is still signed in (the sessions page answers 200, not a redirect to sign-in).
async fn signed_in(app: &TestApp, c: &Client) -> bool {
    let res = c.get(app.url(PAGE)).send().await.unwrap();
    match res.status().as_u16() {
        200 => true,
        303 if location(&res).starts_with("/login") => false,
        other => panic!("GET {PAGE}: {other}"),
    }
}

/// The stored keys of the sessions listed with a "Sign out" button (the other sessions).
fn other_keys(page: &str) -> Vec<String> {
    page.split("name=\"session\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_sessions_page_lists_each_session_with_browser_and_address() {
    let app = TestApp::spawn().await;
    let (a, _) = app.setup().await;
    let b = crate::helpers::client();
    let csrf = app.csrf(&b, "/login").await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0";
    let form = [
        ("csrf_token", csrf.as_str()),
        ("email", EMAIL),
        ("password", PASSWORD),
    ];
    let res = b
        .post(app.url("/login"))
        .header("user-agent", ua)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = app.page(&a, PAGE).await;
    assert!(page.contains("This browser"), "{page}");
    assert!(page.contains("Firefox 132 on Linux"), "{page}");
    assert!(page.contains("127.0.0.1"), "{page}");
    assert_eq!(other_keys(&page).len(), 1);
}

#[tokio::test]
async fn signing_out_one_session_ends_only_that_one() {
    let app = TestApp::spawn().await;
    let (a, _) = app.setup().await;
    let (b, _) = app.login(EMAIL, PASSWORD).await;
    let (c, _) = app.login(EMAIL, PASSWORD).await;
    let keys = other_keys(&app.page(&a, PAGE).await);
    assert_eq!(keys.len(), 2);
    let res = app
        .post_form(&a, PAGE, "/account/sessions/end", &[("session", &keys[0])])
        .await;
    assert_eq!(res.status(), 303);
    let still = [signed_in(&app, &b).await, signed_in(&app, &c).await];
    assert_eq!(still.iter().filter(|s| **s).count(), 1, "{still:?}");
    assert!(signed_in(&app, &a).await);
}

#[tokio::test]
async fn sign_out_everywhere_else_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let (a, _) = app.setup().await;
    let (b, _) = app.login(EMAIL, PASSWORD).await;
    let res = app
        .post_form(&a, PAGE, "/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(!signed_in(&app, &b).await);
    assert!(signed_in(&app, &a).await);
    assert!(app.page(&a, PAGE).await.contains("signed in nowhere else"));
}

#[tokio::test]
async fn another_admins_session_cannot_be_ended() {
    let app = TestApp::spawn().await;
    let (a, _) = app.setup().await;
    app.other_admin_with_workspace("bob@acme.io", "Bob's place")
        .await;
    let (bob, _) = app.login("bob@acme.io", PASSWORD).await;
    let bobs = other_keys(&app.page(&bob, PAGE).await);
    assert!(bobs.is_empty(), "Bob has one session, this one");
    let all = "SELECT id_hash FROM sessions WHERE admin_id IN \
               (SELECT id FROM admins WHERE email = 'bob@acme.io')";
    let keys: Vec<(String,)> = crate::backend::rows(&app.state.db, all).await;
    let end = [("session", keys[0].0.as_str())];
    let res = app
        .post_form(&a, "/account", "/account/sessions/end", &end)
        .await;
    assert_eq!(res.status(), 404);
    assert!(signed_in(&app, &bob).await);
}

#[tokio::test]
async fn session_forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let (a, _) = app.setup().await;
    let (b, _) = app.login(EMAIL, PASSWORD).await;
    let res = a
        .post(app.url("/account/sessions/end-others"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(signed_in(&app, &b).await);
}
