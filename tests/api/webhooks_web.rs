//! The Webhooks dashboard page (add with the secret shown once, edit, test event, resend,
//! delete, CSRF, form errors) and the tokens page's expiry banner.

use std::time::Duration;

use crate::helpers::{TestApp, csrf_of};
use crate::receiver::Receiver;

async fn signed_in(allow_private: bool) -> (TestApp, reqwest::Client, String) {
    let app = TestApp::spawn_with(|c| c.webhook_allow_private = allow_private).await;
    let (c, slug) = app.setup().await;
    let base = format!("/w/{slug}/settings/developer/webhooks");
    (app, c, base)
}

/// Adds an endpoint through the form; returns the page answering it.
async fn add(app: &TestApp, c: &reqwest::Client, base: &str, url: &str) -> (u16, String) {
    let res = app
        .post_form(c, base, base, &[("url", url), ("all_events", "1")])
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The id of the first endpoint `html` links to under `base`.
fn endpoint_id<'a>(html: &'a str, base: &str) -> &'a str {
    html.split(&format!("{base}/"))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no endpoint link under {base}: {html}"))
}

fn secret_in(html: &str) -> Option<String> {
    let at = html.find("whsec_")?;
    let s: String = html[at..]
        .chars()
        .take_while(|c| !"<\" ".contains(*c))
        .collect();
    (s.len() > 10).then_some(s)
}

#[tokio::test]
async fn adding_an_endpoint_in_the_dashboard_shows_its_secret_once() {
    let (app, c, base) = signed_in(true).await;
    let hook = Receiver::start(&[]).await;
    let (status, html) = add(&app, &c, &base, &hook.url).await;
    assert_eq!(status, 200, "{html}");
    let secret = secret_in(&html).expect("the secret is shown");
    let list = app.page(&c, &base).await;
    assert!(
        list.contains(&hook.url) && list.contains("All events"),
        "{list}"
    );
    assert!(!list.contains(&secret), "never shown again");
    let detail = format!("{base}/{}", endpoint_id(&list, &base));
    assert!(!app.page(&c, &detail).await.contains(&secret));
    let res = app
        .post_form(&c, &detail, &format!("{detail}/test"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let got = hook.wait_for(|got| !got.is_empty()).await;
    assert!(got[0].signed_by(&secret));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = app.page(&c, &detail).await;
    assert!(
        page.contains("webhook.test") && page.contains(got[0].id()),
        "{page}"
    );
    let resend = format!("{detail}/deliveries/{}/resend", got[0].id());
    assert_eq!(app.post_form(&c, &detail, &resend, &[]).await.status(), 303);
    hook.wait_for(|got| got.len() == 2).await;
}

#[tokio::test]
async fn the_dashboard_refuses_a_private_url_with_a_form_error_and_keeps_the_input() {
    let (app, c, base) = signed_in(false).await;
    let (status, html) = add(&app, &c, &base, "http://169.254.169.254/latest").await;
    assert_eq!(status, 422);
    assert!(
        html.contains("private") && html.contains("169.254.169.254/latest"),
        "{html}"
    );
    assert!(secret_in(&html).is_none());
    assert!(app.page(&c, &base).await.contains("No endpoints yet"));
}

#[tokio::test]
async fn webhook_forms_without_the_csrf_token_change_nothing() {
    let (app, c, base) = signed_in(true).await;
    let res = c
        .post(app.url(&base))
        .form(&[("url", "https://hooks.example.com/x"), ("all_events", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(app.page(&c, &base).await.contains("No endpoints yet"));
}

#[tokio::test]
async fn editing_and_deleting_an_endpoint_in_the_dashboard() {
    let (app, c, base) = signed_in(true).await;
    add(&app, &c, &base, "https://hooks.example.com/a").await;
    let list = app.page(&c, &base).await;
    let detail = format!("{base}/{}", endpoint_id(&list, &base));
    let fields = [
        ("url", "https://hooks.example.com/b"),
        ("events", "token.revoked"),
        ("events", "token.expiring"),
    ];
    assert_eq!(
        app.post_form(&c, &detail, &detail, &fields).await.status(),
        303
    );
    let list = app.page(&c, &base).await;
    assert!(
        list.contains("hooks.example.com/b")
            && list.contains("2 events")
            && list.contains("Disabled"),
        "{list}"
    );
    let confirm = app.page(&c, &format!("{detail}/delete")).await;
    let csrf = csrf_of(&confirm);
    let res = c
        .post(app.url(&format!("{detail}/delete")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(app.page(&c, &base).await.contains("No endpoints yet"));
}

/// The list's row for the endpoint at `url`.
fn row_of<'a>(list: &'a str, url: &str) -> &'a str {
    list.split("<tr>")
        .find(|row| row.contains(url))
        .unwrap_or_else(|| panic!("no row for {url}: {list}"))
}

#[tokio::test]
async fn the_list_shows_each_endpoints_own_newest_delivery() {
    let (app, c, base) = signed_in(true).await;
    let quiet = Receiver::start(&[]).await;
    let flaky = Receiver::start(&[200, 503]).await;
    add(&app, &c, &base, &quiet.url).await;
    add(&app, &c, &base, &flaky.url).await;
    let list = app.page(&c, &base).await;
    let detail = format!("{base}/{}", endpoint_id(row_of(&list, &flaky.url), &base));
    for n in 1..=2 {
        let res = app
            .post_form(&c, &detail, &format!("{detail}/test"), &[])
            .await;
        assert_eq!(res.status(), 303);
        flaky.wait_for(|got| got.len() == n).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = app.page(&c, &base).await;
    let row = row_of(&list, &flaky.url);
    assert!(
        row.contains("503 · retry") && row.contains("Failing"),
        "{row}"
    );
    assert!(row_of(&list, &quiet.url).contains("None yet"), "{list}");
}

#[tokio::test]
async fn the_tokens_page_says_how_many_tokens_expire_within_7_days() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/developer/api-tokens");
    assert!(!app.page(&c, &page).await.contains("expiring-banner"));
    let soon = keyward::domain::now() + 3 * 86_400;
    for _ in 0..2 {
        app.create_token(&slug, &["chats:read"], |d| d.expires_at = Some(soon))
            .await;
    }
    app.create_token(&slug, &["chats:read"], |d| {
        d.expires_at = Some(soon + 30 * 86_400)
    })
    .await;
    let html = app.page(&c, &page).await;
    assert!(html.contains("2 tokens expire within 7 days"), "{html}");
    assert!(html.contains(&format!("{page}?status=expiring_soon")));
}
