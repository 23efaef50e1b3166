//! The channels page: add, validation, remove, htmx fragments.

use crate::helpers::{TestApp, location};

#[tokio::test]
async fn channels_are_added_and_removed_with_plain_forms() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    let res = app
        .post_form(
            &c,
            &page,
            &page,
            &[("name", "WhatsApp Support"), ("kind", "WhatsApp")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), page);
    let html = c
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("WhatsApp Support") && html.contains("<code>whatsapp</code>"));
    assert!(html.contains("Channel “WhatsApp Support” added."));

    let ws = app.workspace(&slug).await;
    let ch = keyward::db::channels::list(&app.state.db, &ws.id)
        .await
        .unwrap()
        .remove(0);
    let confirm = c
        .get(app.url(&format!("{page}/{}/remove", ch.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains("Remove WhatsApp Support?")
    );
    let res = app
        .post_form(&c, &page, &format!("{page}/{}/remove", ch.id), &[])
        .await;
    assert_eq!(location(&res), page);
    assert!(
        keyward::db::channels::list(&app.state.db, &ws.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_bad_or_duplicate_channel_shows_inline_errors_and_keeps_input() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    let res = app
        .post_form(&c, &page, &page, &[("name", ""), ("kind", "two words")])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Channel name is required") && html.contains("Kind must be a word"));
    assert!(html.contains("value=\"two words\""));
    let _ = app
        .post_form(&c, &page, &page, &[("name", "Sales"), ("kind", "sms")])
        .await;
    let res = app
        .post_form(&c, &page, &page, &[("name", "Sales"), ("kind", "sms")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("already exists"));
}

#[tokio::test]
async fn htmx_requests_get_the_panel_fragment_and_a_toast() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    let csrf = app.csrf(&c, &page).await;
    let res = c
        .post(app.url(&page))
        .header("hx-request", "true")
        .header("x-csrf-token", &csrf)
        .form(&[("name", "Telegram Sales"), ("kind", "telegram")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["hx-trigger"]
            .to_str()
            .unwrap()
            .contains("Telegram Sales")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.starts_with("<section id=\"channels-panel\""),
        "a fragment, not a page"
    );
    assert!(html.contains("Telegram Sales"));
}

#[tokio::test]
async fn removing_another_workspaces_channel_is_404() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let other = app
        .other_admin_with_workspace("bob@other.io", "Other")
        .await;
    let ch = app.channel(&other, "Theirs").await;
    let ws = app.workspace(&other).await;
    let page = format!("/w/{slug}/settings/channels");
    let res = app
        .post_form(&c, &page, &format!("{page}/{}/remove", ch), &[])
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        keyward::db::channels::list(&app.state.db, &ws.id)
            .await
            .unwrap()
            .len(),
        1
    );
}
