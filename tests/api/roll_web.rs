//! Rolling from the dashboard without JavaScript (the dialog's form posts the same way):
//! the roll form, the one-time reveal, the overlap notice with "End now", the list's note and
//! the recent requests' secret column.

use reqwest::Client;

use crate::helpers::{TestApp, location};
use crate::tokens_web::{secret_of, tokens_url};

/// A signed-in admin with one `chats:read` token; returns the client, the token's detail
/// path and its secret.
async fn signed_in_with_token(app: &TestApp) -> (Client, String, String) {
    let (c, slug) = app.setup().await;
    let (id, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    (c, format!("{}/{id}", tokens_url(&slug)), secret)
}

/// Submits the roll form with `overlap` seconds; returns the reveal page's HTML.
async fn roll(app: &TestApp, c: &Client, detail: &str, overlap: &str) -> String {
    let form = format!("{detail}/roll");
    let res = app
        .post_form(c, &form, &form, &[("overlap", overlap)])
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    app.page(c, &location(&res)).await
}

#[tokio::test]
async fn the_roll_form_offers_the_five_overlaps_without_javascript() {
    let app = TestApp::spawn().await;
    let (c, detail, _) = signed_in_with_token(&app).await;

    let page = app.page(&c, &format!("{detail}/roll")).await;

    for (secs, label) in [
        ("0", "No overlap"),
        ("3600", "1 hour"),
        ("86400", "24 hours"),
        ("259200", "3 days"),
        ("604800", "7 days"),
    ] {
        assert!(page.contains(&format!("value=\"{secs}\"")), "{secs}");
        assert!(page.contains(label), "{label}");
    }
    let detail_page = app.page(&c, &detail).await;
    assert!(
        detail_page.contains("data-dialog=\"dialog-roll\"") && detail_page.contains("Roll secret…")
    );
}

#[tokio::test]
async fn a_dashboard_roll_reveals_the_secret_once_and_shows_the_overlap() {
    let app = TestApp::spawn().await;
    let (c, detail, old) = signed_in_with_token(&app).await;

    let reveal = roll(&app, &c, &detail, "86400").await;

    let new = secret_of(&reveal);
    assert!(reveal.contains("Secret rolled") && reveal.contains("keeps working until"));
    assert!(reveal.contains("package main") && reveal.contains("io.ReadAll"));
    assert_eq!(app.me_status(&old).await, 200);
    assert_eq!(app.me_status(&new).await, 200);
    let page = app.page(&c, &detail).await;
    assert!(!page.contains(&new), "shown once");
    let old_hint = keyward::domain::secret::Secret::parse(&old).unwrap().hint();
    assert!(
        page.contains("id=\"overlap-notice\"") && page.contains(&old_hint),
        "{page}"
    );
    let list = app.page(&c, detail.rsplit_once('/').unwrap().0).await;
    assert!(list.contains("Old secret ends"), "list note");
}

#[tokio::test]
async fn end_now_stops_the_previous_secret_and_the_notice_goes() {
    let app = TestApp::spawn().await;
    let (c, detail, old) = signed_in_with_token(&app).await;
    roll(&app, &c, &detail, "3600").await;
    let end = format!("{detail}/end-overlap");
    let confirm = app.page(&c, &end).await;
    assert!(
        confirm.contains("stops working at once"),
        "no-JS confirmation"
    );

    let res = app.post_form(&c, &end, &end, &[]).await;

    assert_eq!(res.status(), 303);
    assert_eq!(app.me_status(&old).await, 401);
    let page = app.page(&c, &detail).await;
    assert!(!page.contains("id=\"overlap-notice\""));
    assert!(page.contains("stopped working"), "flash");
}

#[tokio::test]
async fn a_forged_overlap_is_a_form_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (c, detail, old) = signed_in_with_token(&app).await;
    let form = format!("{detail}/roll");

    let res = app
        .post_form(&c, &form, &form, &[("overlap", "999999")])
        .await;

    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Choose how long"));
    assert_eq!(app.me_status(&old).await, 200);
    assert!(
        !app.page(&c, &detail)
            .await
            .contains("id=\"overlap-notice\"")
    );
}

#[tokio::test]
async fn recent_requests_on_the_detail_page_name_the_secret_used() {
    let app = TestApp::spawn().await;
    let (c, detail, old) = signed_in_with_token(&app).await;
    let new = secret_of(&roll(&app, &c, &detail, "3600").await);
    app.me_status(&old).await;
    app.me_status(&new).await;

    let page = app.page(&c, &detail).await;

    for secret in [&old, &new] {
        let hint = keyward::domain::secret::Secret::parse(secret)
            .unwrap()
            .hint();
        let cell = format!("<td><code class=\"mono\">{hint}</code></td>");
        assert!(page.contains(&cell), "{hint}");
    }
    assert!(
        page.contains("Last used <time"),
        "the notice says when the old one was used"
    );
}
