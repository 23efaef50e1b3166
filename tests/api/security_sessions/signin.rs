//! Findings 1, 2 and 6: the redirect after sign-in, throttling under parallel guesses, no-store
//! on dashboard pages, 413 for oversized forms.

use reqwest::Response;

use crate::helpers::{EMAIL, PASSWORD, TestApp, client, csrf_of, location};

/// The `next` hidden field of the sign-in page.
fn next_field_of(html: &str) -> String {
    let marker = "name=\"next\" value=\"";
    let start = html.find(marker).expect("page has a next field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Opens `/login?next=<query>`, then signs in posting `posted` (or the page's own `next`);
/// returns the page's `next` field and the sign-in response.
async fn sign_in_with_next(app: &TestApp, query: &str, posted: Option<&str>) -> (String, Response) {
    let c = client();
    let page = c
        .get(app.url(&format!("/login?next={query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "GET /login?next={query}");
    let html = page.text().await.unwrap();
    let (csrf, next) = (csrf_of(&html), next_field_of(&html));
    let form = [
        ("csrf_token", csrf.as_str()),
        ("email", EMAIL),
        ("password", PASSWORD),
        ("next", posted.unwrap_or(&next)),
    ];
    let res = c.post(app.url("/login")).form(&form).send().await.unwrap();
    (next, res)
}

#[tokio::test]
async fn a_next_with_a_tab_newline_or_backslash_carried_by_the_login_page_signs_in_to_home() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    for query in [
        "%2F%09%2Fevil.example",
        "%2F%0A",
        "%2F%0D%0A%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%2F%2Fevil.example",
    ] {
        let (next, res) = sign_in_with_next(&app, query, None).await;
        assert_eq!(next, "/", "the page carries no hostile next for {query}");
        assert_eq!(res.status(), 303, "{query}");
        assert_eq!(location(&res), "/", "{query}");
    }
}

#[tokio::test]
async fn a_posted_next_with_a_tab_or_newline_signs_in_to_home_never_a_500() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    for posted in [
        "/\t/evil.example",
        "/\n",
        "/\r\n/evil.example",
        "/\\evil.example",
    ] {
        let (_, res) = sign_in_with_next(&app, "", Some(posted)).await;
        assert_eq!(res.status(), 303, "{posted:?}");
        assert_eq!(location(&res), "/", "{posted:?}");
    }
    // A local path still comes back.
    let (_, res) = sign_in_with_next(&app, "", Some("/account")).await;
    assert_eq!(location(&res), "/account");
}

#[tokio::test]
async fn every_dashboard_page_answers_cache_control_no_store() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    for path in [
        "/account".to_owned(),
        "/workspaces/new".to_owned(),
        format!("/w/{slug}/settings/channels"),
        format!("/w/{slug}/settings/developer/api-tokens"),
        format!("/w/{slug}/settings/developer/audit-log"),
        "/".to_owned(),
    ] {
        let res = c.get(app.url(&path)).send().await.unwrap();
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{path}"
        );
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    let res = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store", "/login");
}

#[tokio::test]
async fn an_oversized_dashboard_form_is_refused_with_413_and_the_error_page() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    let csrf = app.csrf(&c, &page).await;
    let big = "x".repeat(70 * 1024);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", &big),
        ("kind", "sms"),
    ];
    let res = c.post(app.url(&page)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 413);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("larger than 64 KiB"), "{html}");
}

/// Posts the sign-in form `n` times at once from one browser; returns the statuses.
async fn parallel_sign_ins(app: &TestApp, n: usize, email: &str, password: &str) -> Vec<u16> {
    let c = client();
    let csrf = app.csrf(&c, "/login").await;
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, url) = (c.clone(), app.url("/login"));
        let form = [
            ("csrf_token", csrf.clone()),
            ("email", email.to_owned()),
            ("password", password.to_owned()),
        ];
        posts.spawn(async move { c.post(url).form(&form).send().await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = posts.join_next().await {
        statuses.push(status.unwrap().as_u16());
    }
    statuses
}

#[tokio::test]
async fn forty_parallel_wrong_passwords_for_one_email_get_at_most_five_checks_and_the_rest_429() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let statuses = parallel_sign_ins(&app, 40, EMAIL, "wrong password!!").await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!((1..=5).contains(&checked), "{statuses:?}");
    assert_eq!(checked + throttled, 40, "{statuses:?}");
}

#[tokio::test]
async fn an_overlong_email_is_refused_without_counting_as_a_guess() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let long = format!("{}@acme.io", "a".repeat(300));
    // More than the per-IP limit: none of them reaches the throttle.
    for _ in 0..keyward::auth::throttle::MAX_PER_IP + 5 {
        let (_, res) = app.login(&long, "wrong password!!").await;
        assert_eq!(res.status(), 401);
    }
    let (_, res) = app.login(EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 303, "this IP is not locked");
}

#[tokio::test]
async fn wrong_current_passwords_on_the_account_form_are_throttled_per_admin() {
    let app = TestApp::spawn().await;
    let (c, _) = app.setup().await;
    let change = async |current: &str| {
        let fields = [
            ("current", current),
            ("password", "a brand new password"),
            ("password_confirm", "a brand new password"),
        ];
        app.post_form(&c, "/account", "/account", &fields).await
    };
    for _ in 0..keyward::auth::throttle::MAX_PER_EMAIL {
        assert_eq!(change("wrong password!!").await.status(), 422);
    }
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), 429, "locked even with the right password");
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Too many wrong passwords. Try again in 15 minutes."),
        "{html}"
    );
}
