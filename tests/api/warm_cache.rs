//! Dashboard changes to a token the bearer path has cached: the very next API request sees
//! them (the change's own code path invalidates the cache before it answers).

use std::time::{Duration, Instant};

use keyward::bearer::cache::EPOCH_POLL;
use keyward::domain::secret::Secret;
use reqwest::{Client, Method};

use crate::api::{call, problem};
use crate::helpers::{TestApp, location};
use crate::tokens_web::{create_token, secret_of, tokens_url};

/// Signs in and creates a token with `permissions` through the form; returns the client, the
/// token's detail page and its secret, with the token already in the bearer cache.
async fn cached_token(app: &TestApp, permissions: &[&str]) -> (Client, String, String) {
    let (c, slug) = app.setup().await;
    let mut form = vec![
        ("name", "CI deploy"),
        ("channel_mode", "all"),
        ("expiry", "30"),
        ("tier", "standard"),
    ];
    form.extend(permissions.iter().map(|p| ("permissions", *p)));
    let (id, secret) = create_token(app, &c, &slug, &form).await;
    // The server also hears of the create through its epoch watch (at once from PostgreSQL's
    // change feed, within a poll otherwise), which empties the cache: let that pass, so the
    // entry the next request caches stays.
    tokio::time::sleep(EPOCH_POLL * 2).await;
    let hash = Secret::parse(&secret).unwrap().hash();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert_eq!(app.me_status(&secret).await, 200);
        if app.state.gate.tokens.cached(&hash).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the token never stayed cached");
        tokio::time::sleep(EPOCH_POLL).await;
    }
    (c, format!("{}/{id}", tokens_url(&slug)), secret)
}

/// Posts one of the detail page's action forms; asserts the redirect it answers with.
async fn act(
    app: &TestApp,
    c: &Client,
    detail: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> String {
    let res = app
        .post_form(c, detail, &format!("{detail}/{action}"), fields)
        .await;
    assert_eq!(res.status(), 303, "{action}");
    location(&res)
}

#[tokio::test]
async fn a_dashboard_revoke_refuses_the_next_request_with_token_revoked() {
    let app = TestApp::spawn().await;
    let (c, detail, secret) = cached_token(&app, &["chats:read"]).await;

    act(&app, &c, &detail, "revoke", &[]).await;

    let next = call(&app, Method::GET, "/api/v1/me", Some(&secret), None).await;
    problem(next, 401, "token_revoked").await;
}

#[tokio::test]
async fn a_dashboard_regenerate_refuses_the_old_secret_and_admits_the_new_one() {
    let app = TestApp::spawn().await;
    let (c, detail, old) = cached_token(&app, &["chats:read"]).await;

    let reveal = act(&app, &c, &detail, "regenerate", &[]).await;
    let page = c.get(app.url(&reveal)).send().await.unwrap();
    let new = secret_of(&page.text().await.unwrap());

    let refused = call(&app, Method::GET, "/api/v1/me", Some(&old), None).await;
    problem(refused, 401, "invalid_token").await;
    assert_eq!(app.me_status(&new).await, 200);
}

#[tokio::test]
async fn a_permission_removed_in_the_dashboard_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (c, detail, secret) = cached_token(&app, &["chats:read", "tokens:read"]).await;
    let list = || call(&app, Method::GET, "/api/v1/tokens", Some(&secret), None);
    assert_eq!(list().await.status(), 200);

    let fields = [
        ("name", "CI deploy"),
        ("permissions", "chats:read"),
        ("channel_mode", "all"),
        ("expiry", "keep"),
        ("tier", "standard"),
    ];
    assert_eq!(act(&app, &c, &detail, "edit", &fields).await, detail);

    problem(list().await, 403, "insufficient_permission").await;
}

#[tokio::test]
async fn a_token_deleted_in_the_dashboard_is_unknown_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (c, detail, secret) = cached_token(&app, &["chats:read"]).await;

    act(
        &app,
        &c,
        &detail,
        "delete",
        &[("confirm_name", "CI deploy")],
    )
    .await;

    let next = call(&app, Method::GET, "/api/v1/me", Some(&secret), None).await;
    problem(next, 401, "invalid_token").await;
}
