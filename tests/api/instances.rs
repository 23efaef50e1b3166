//! Several servers on one PostgreSQL database: what a browser does may land on any of them.
//! (On SQLite one server per file: these return early there.)

use reqwest::Client;

use crate::helpers::{EMAIL, PASSWORD, TestApp, client, csrf_of, location};
use crate::tokens_web::{secret_of, tokens_url};

/// Creates a token through `a`'s form; returns the reveal URL path.
async fn create_on(a: &TestApp, c: &Client, slug: &str) -> String {
    let html = a.page(c, &format!("{}/new", tokens_url(slug))).await;
    let marker = "name=\"nonce\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let nonce = html[start..].split('"').next().unwrap().to_owned();
    let csrf = csrf_of(&html);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("nonce", &nonce),
        ("name", "CI deploy"),
        ("permissions", "messages:send"),
        ("channel_mode", "all"),
        ("expiry", "30"),
        ("tier", "standard"),
    ];
    let res = c
        .post(a.url(&tokens_url(slug)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    location(&res)
}

#[tokio::test]
async fn setup_reveal_and_flash_work_when_requests_alternate_between_servers() {
    if !crate::backend::on_postgres() {
        return;
    }
    let a = TestApp::spawn().await;
    let b = a.spawn_beside().await;
    assert!(
        a.setup_link.is_some() && b.setup_link.is_some(),
        "each prints its own link"
    );

    // A's setup code, used on B.
    let (code, b_code) = (a.setup_code(), b.setup_code());
    let (c, slug) = b.setup_with(&code).await;
    // Signed in on B, the session holds on A; and B's own code is spent too.
    assert!(
        a.page(&c, &tokens_url(&slug))
            .await
            .contains("<h1>API tokens</h1>")
    );
    let spent = client()
        .get(a.url(&format!("/setup?code={b_code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), 403);

    // Created through A, revealed by B, once.
    let revealed = create_on(&a, &c, &slug).await;
    let reveal = c.get(b.url(&revealed)).send().await.unwrap();
    assert_eq!(reveal.status(), 200);
    let html = reveal.text().await.unwrap();
    let secret = secret_of(&html);
    let start = html.find("#token-").unwrap() + "#token-".len();
    let id = html[start..].split('"').next().unwrap().to_owned();
    assert_eq!(b.me_status(&secret).await, 200);
    assert_eq!(a.me_status(&secret).await, 200);
    let again = c.get(a.url(&revealed)).send().await.unwrap();
    assert_eq!(again.status(), 410, "shown once, whichever server is asked");

    // Revoked through B: A refuses the secret at once, and A shows B's flash.
    let detail = format!("{}/{id}", tokens_url(&slug));
    let res = b
        .post_form(&c, &detail, &format!("{detail}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = a.page(&c, &detail).await;
    assert!(
        page.contains("revoked. Requests using it now fail."),
        "the flash travels"
    );
    let start = std::time::Instant::now();
    while a.me_status(&secret).await != 401 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "A still serves it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_reveal_needs_both_the_session_and_the_browser_cookie() {
    let a = TestApp::spawn().await;
    let (_, slug) = a.setup().await;
    let (c, signed_in) = a.login(EMAIL, PASSWORD).await;
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("keyward_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .find(|v| !v.is_empty())
        .expect("a session cookie");
    let revealed = create_on(&a, &c, &slug).await;
    // The session alone (a copy of its cookie, or of the database) does not unseal it: the
    // pad is only in the creating browser's cookie. The attempt spends the reveal.
    let copy = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = copy
        .get(a.url(&revealed))
        .header("cookie", format!("keyward_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let res = c.get(a.url(&revealed)).send().await.unwrap();
    assert_eq!(res.status(), 410, "shown once or not at all");
}

#[tokio::test]
async fn the_creating_browser_sees_its_secret_once() {
    let a = TestApp::spawn().await;
    let (c, slug) = a.setup().await;
    let revealed = create_on(&a, &c, &slug).await;
    let res = c.get(a.url(&revealed)).send().await.unwrap();
    let cleared = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("keyward_reveal=;"));
    assert_eq!(res.status(), 200);
    assert!(cleared, "the pad cookie is cleared with the reveal");
    assert_eq!(
        a.me_status(&secret_of(&res.text().await.unwrap())).await,
        200
    );
}

#[tokio::test]
async fn wrong_passwords_spread_over_servers_are_throttled_as_one() {
    if !crate::backend::on_postgres() {
        return;
    }
    let a = TestApp::spawn().await;
    let _ = a.setup().await;
    let b = a.spawn_beside().await;
    let mut statuses = Vec::new();
    for i in 0..keyward::auth::throttle::MAX_PER_EMAIL + 2 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (_, res) = server.login(EMAIL, "wrong password, twelve+").await;
        statuses.push(res.status().as_u16());
    }
    let wrong = keyward::auth::throttle::MAX_PER_EMAIL;
    assert_eq!(statuses[..wrong], vec![401; wrong][..], "{statuses:?}");
    assert_eq!(statuses[wrong..], [429, 429], "{statuses:?}");
    // The right password is refused too, on either server, while the email is locked.
    for server in [&a, &b] {
        let (_, res) = server.login(EMAIL, PASSWORD).await;
        assert_eq!(res.status(), 429);
    }
}

#[tokio::test]
async fn a_burst_spread_over_two_servers_gets_the_budget_once() {
    if !crate::backend::on_postgres() {
        return;
    }
    let limit = |c: &mut keyward::Config| c.rate_limit_standard = 20;
    let a = TestApp::spawn_with(limit).await;
    let slug = a.setup().await.1;
    let b = a.spawn_beside_with(limit).await;
    let (_, secret) = a.create_token(&slug, &["chats:read"], |_| {}).await;
    // Both servers have synced since the second started: each knows there are two.
    tokio::time::sleep(keyward::bearer::shares::SYNC * 3).await;
    let mut allowed = 0;
    for i in 0..40 {
        let server = if i % 2 == 0 { &a } else { &b };
        if server.me_status(&secret).await == 200 {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 20, "the budget, not twice it");
}
