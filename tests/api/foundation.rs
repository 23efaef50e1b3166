//! Setup, sign-in, sessions, CSRF, workspace isolation, health and error pages.

use crate::helpers::{EMAIL, PASSWORD, TestApp, client, csrf_of, location};

#[tokio::test]
async fn setup_link_creates_admin_and_workspace_and_lands_on_tokens_page() {
    let app = TestApp::spawn().await;
    assert!(app.setup_link.as_deref().unwrap().contains("/setup?code="));
    let (c, slug) = app.setup().await;
    assert_eq!(slug, "acme-inc");
    let page = c
        .get(app.url("/w/acme-inc/settings/developer/api-tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>API tokens</h1>"));
    assert!(html.contains("No API tokens yet"));
    assert!(html.contains("Welcome! Workspace"));
}

#[tokio::test]
async fn setup_is_refused_with_a_wrong_code() {
    let app = TestApp::spawn().await;
    let c = client();
    let res = c.get(app.url("/setup?code=wrong")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("setup link is not valid")
    );
    let res = c.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn setup_is_refused_after_setup_even_with_the_old_code() {
    let app = TestApp::spawn().await;
    let code = app.setup_code();
    let _ = app.setup().await;
    for _ in 0..2 {
        let res = client()
            .get(app.url(&format!("/setup?code={code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("already set up"));
    }
    assert_eq!(
        keyward::db::admins::count(app.state.db.acquire().await.unwrap().conn())
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn setup_with_bad_input_shows_inline_errors_and_keeps_input() {
    let app = TestApp::spawn().await;
    let c = client();
    let code = app.setup_code();
    let csrf = app.csrf(&c, &format!("/setup?code={code}")).await;
    let res = c
        .post(app.url("/setup"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", &code),
            ("email", "nobody"),
            ("password", "short"),
            ("password_confirm", "short"),
            ("workspace", "My Team"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Enter an email address"));
    assert!(html.contains("at least 12 characters"));
    assert!(html.contains("value=\"My Team\""));
    assert!(!keyward::db::admins::exists(&app.state.db).await.unwrap());
}

#[tokio::test]
async fn wrong_password_is_refused_then_throttled_after_repeated_failures() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    for _ in 0..keyward::auth::throttle::MAX_PER_EMAIL {
        let (_, res) = app.login(EMAIL, "wrong password!!").await;
        assert_eq!(res.status(), 401);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Email or password is incorrect")
        );
    }
    // Even the right password is refused while throttled.
    let (_, res) = app.login(EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 429);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-in attempts. Try again in 15 minutes."),
        "{html}"
    );
}

#[tokio::test]
async fn unknown_email_is_refused_like_a_wrong_password() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let (_, res) = app.login("ghost@acme.io", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Email or password is incorrect")
    );
}

/// The `Set-Cookie` header of a response that sets `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn sign_in_rotates_the_session_id_and_sets_safe_cookie_flags() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    // A session id the browser brought (planted by someone else) is never the signed-in one.
    let planted = "keyward_session=AAAAAAAAAAAAAAAAAAAAAA";
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(planted, &app.url("/").parse().unwrap());
    let c = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = app.csrf(&c, "/login").await;
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let after = set_cookie(&res, "keyward_session");
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(id(&after), planted, "session id must change at sign-in");
    let flags = after.to_ascii_lowercase();
    assert!(flags.contains("httponly"), "{after}");
    assert!(flags.contains("samesite=lax"), "{after}");
    assert!(
        !flags.contains("secure"),
        "no Secure without an https public URL: {after}"
    );
}

#[tokio::test]
async fn session_cookie_is_secure_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://keyward.example".into())).await;
    // A browser sends Secure cookies over https only: over this plain-http test connection the
    // cookie goes back by hand.
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code = app.setup_code();
    let page = c
        .get(app.url(&format!("/setup?code={code}")))
        .send()
        .await
        .unwrap();
    let form_cookie = set_cookie(&page, "__Host-keyward_form");
    let csrf = csrf_of(&page.text().await.unwrap());
    let res = c
        .post(app.url("/setup"))
        .header("cookie", form_cookie.split(';').next().unwrap())
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", &code),
            ("email", EMAIL),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("workspace", "Acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    for cookie in [form_cookie, set_cookie(&res, "keyward_session")] {
        let flags = cookie.to_ascii_lowercase();
        assert!(
            flags.contains("secure")
                && flags.contains("httponly")
                && flags.contains("samesite=lax"),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let action = app.url(&format!("/w/{slug}/settings/channels"));
    let missing = c
        .post(&action)
        .form(&[("name", "Sneaky"), ("kind", "sms")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    assert!(missing.text().await.unwrap().contains("Reload the page"));
    let wrong = c
        .post(&action)
        .form(&[
            ("csrf_token", "forged"),
            ("name", "Sneaky"),
            ("kind", "sms"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let header = c
        .post(&action)
        .header("x-csrf-token", "forged")
        .form(&[("name", "Sneaky"), ("kind", "sms")])
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 403);
    let ws = app.workspace(&slug).await;
    assert!(
        keyward::db::channels::list(&app.state.db, &ws.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let c = client();
    let res = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&res), "/login");
    let res = c
        .get(app.url(&format!("/w/{slug}/settings/channels")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/login?next=%2Fw%2F{slug}%2Fsettings%2Fchannels")
    );
    let htmx = c
        .get(app.url(&format!("/w/{slug}/settings/channels")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(
        htmx.headers().get("hx-redirect").unwrap(),
        &format!("/login?next=%2Fw%2F{slug}%2Fsettings%2Fchannels")
    );
}

#[tokio::test]
async fn signed_in_admin_goes_from_root_to_their_tokens_and_can_sign_out() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let res = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        location(&res),
        format!("/w/{slug}/settings/developer/api-tokens")
    );
    let res = app
        .post_form(&c, &format!("/w/{slug}/settings/channels"), "/logout", &[])
        .await;
    assert_eq!(location(&res), "/login");
    let res = c
        .get(app.url(&format!("/w/{slug}/settings/channels")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed out");
}

#[tokio::test]
async fn an_admin_of_workspace_a_gets_404_for_every_page_of_workspace_b() {
    let app = TestApp::spawn().await;
    let (c, _) = app.setup().await;
    let other = app
        .other_admin_with_workspace("bob@other.io", "Other Co")
        .await;
    for path in [
        "settings/channels",
        "settings/channels/ch_x/remove",
        "settings/developer/api-tokens",
        "settings/developer/api-tokens/new",
        "settings/developer/audit-log",
    ] {
        let res = c
            .get(app.url(&format!("/w/{other}/{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("There is nothing at this address")
        );
    }
    let csrf = app.csrf(&c, "/account").await;
    let res = c
        .post(app.url(&format!("/w/{other}/settings/channels")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Intruder"),
            ("kind", "sms"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let res = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"status":"ok"}"#);
    let res = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("ready"));
}

#[tokio::test]
async fn unknown_pages_and_wrong_methods_get_friendly_pages() {
    let app = TestApp::spawn().await;
    let res = client().get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("There is nothing at this address")
    );
    let res = client().delete(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("allow"));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not accept that method")
    );
}

#[tokio::test]
async fn unknown_api_routes_are_problem_details() {
    let app = TestApp::spawn().await;
    let res = client().get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["status"], 404);
}

#[tokio::test]
async fn an_admin_can_change_their_password_and_create_a_workspace() {
    let app = TestApp::spawn().await;
    let (c, _) = app.setup().await;
    let res = app
        .post_form(
            &c,
            "/account",
            "/account",
            &[
                ("current", PASSWORD),
                ("password", "a brand new password"),
                ("password_confirm", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your password was changed")
    );
    let (_, res) = app.login(EMAIL, "a brand new password").await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &c,
            "/workspaces/new",
            "/workspaces/new",
            &[("name", "Acme Inc.")],
        )
        .await;
    assert_eq!(
        location(&res),
        "/w/acme-inc-2/settings/developer/api-tokens"
    );
    let page = c
        .get(app.url("/w/acme-inc-2/settings/channels"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/login",
        "/docs/api",
        "/api/v1/me",
        "/healthz",
        "/nope",
        "/static/app.js",
    ] {
        let res = client().get(app.url(path)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        let content_type = res.headers()["content-type"].to_str().unwrap();
        let json = content_type.contains("json");
        if !content_type.starts_with("text/html") {
            // Data or a script, never a document: nothing may load or run.
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        } else {
            assert!(
                csp.contains("script-src 'self';")
                    && !csp.contains("script-src 'self' 'unsafe-inline'"),
                "{path}: {csp}"
            );
        }
        assert_eq!(
            json,
            path.starts_with("/api/") || path == "/healthz",
            "{path}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers()["referrer-policy"], "same-origin", "{path}");
    }
}
