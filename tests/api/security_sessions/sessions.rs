//! Findings 3, 4 and 5: sessions end with a password change and after their lifetime, sit in
//! the database only as hashes and never in backups, and only a sign-in stores one.

use reqwest::Response;

use crate::helpers::{EMAIL, PASSWORD, TestApp, client, csrf_of, location};

/// The `keyward_session` cookie value a response sets.
fn session_cookie(res: &Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("keyward_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .find(|v| !v.is_empty())
        .expect("a session cookie")
}

/// `GET path`: 200 when signed in; asserts a redirect to sign-in otherwise.
async fn signed_in(app: &TestApp, c: &reqwest::Client, path: &str) -> bool {
    let res = c.get(app.url(path)).send().await.unwrap();
    match res.status().as_u16() {
        200 => true,
        303 => {
            assert!(location(&res).starts_with("/login"), "{}", location(&res));
            false
        }
        other => panic!("GET {path}: {other}"),
    }
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Names of the files in `dir` whose bytes contain `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let bytes = std::fs::read(&path).ok()?;
            bytes
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
                .then(|| path.display().to_string())
        })
        .collect()
}

async fn count_sessions(db: &keyward::db::Db) -> i64 {
    crate::backend::scalar(db, "SELECT COUNT(*) FROM sessions", &[]).await
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    let (a, _) = app.login(EMAIL, PASSWORD).await;
    let (b, _) = app.login(EMAIL, PASSWORD).await;
    assert!(signed_in(&app, &a, &page).await);
    let fields = [
        ("current", PASSWORD),
        ("password", "a brand new password"),
        ("password_confirm", "a brand new password"),
    ];
    let res = app.post_form(&b, "/account", "/account", &fields).await;
    assert_eq!(res.status(), 200);
    assert!(!signed_in(&app, &a, &page).await, "the other session ended");
    assert!(signed_in(&app, &b, &page).await, "this session goes on");
}

#[tokio::test]
async fn a_cli_password_reset_ends_every_session_of_that_admin() {
    let app = TestApp::spawn().await;
    let (a, slug) = app.setup().await;
    let (b, _) = app.login(EMAIL, PASSWORD).await;
    let page = format!("/w/{slug}/settings/channels");
    assert!(signed_in(&app, &b, &page).await);
    let db = app.db_path.clone();
    let out = tokio::task::spawn_blocking(move || {
        let args = ["admin", "reset-password", "--email", EMAIL];
        crate::real::cli(&db, &args, "another long password\n")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!signed_in(&app, &a, &page).await);
    assert!(!signed_in(&app, &b, &page).await);
}

#[tokio::test]
async fn a_session_ends_seven_days_after_sign_in_however_recently_used() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    assert!(signed_in(&app, &c, &page).await);
    let aged = "UPDATE sessions SET created_at = created_at - 7 * 24 * 3600";
    crate::backend::exec(&app.state.db, aged, &[]).await;
    assert!(!signed_in(&app, &c, &page).await);
}

#[tokio::test]
async fn a_session_ends_after_twelve_hours_without_a_request() {
    let app = TestApp::spawn().await;
    let (c, slug) = app.setup().await;
    let page = format!("/w/{slug}/settings/channels");
    assert!(signed_in(&app, &c, &page).await);
    let idle = "UPDATE sessions SET last_seen_at = last_seen_at - 43200, \
                expires_at = expires_at - 43200";
    crate::backend::exec(&app.state.db, idle, &[]).await;
    assert!(!signed_in(&app, &c, &page).await);
}

#[tokio::test]
async fn no_database_file_holds_a_session_cookie_value() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let (c, res) = app.login(EMAIL, PASSWORD).await;
    let cookie = session_cookie(&res);
    assert!(signed_in(&app, &c, "/account").await);
    assert!(signed_in(&app, &c, "/account").await);
    if crate::backend::on_postgres() {
        let dump = crate::backend::dump(&app.db_path);
        assert!(
            !dump.contains(&cookie),
            "the cookie value is in the database"
        );
        assert!(dump.contains(&sha256_hex(&cookie)), "its hash is");
        return;
    }
    assert_eq!(files_holding(&app.dir, &cookie), Vec::<String>::new());
    // The scan reads the files the session went to: its hash is there.
    assert!(!files_holding(&app.dir, &sha256_hex(&cookie)).is_empty());
}

#[tokio::test]
async fn a_backup_holds_no_session_and_no_form_signing_key() {
    if crate::backend::on_postgres() {
        return; // keyward backup is SQLite's (operations.rs checks PostgreSQL's answer)
    }
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let (_, res) = app.login(EMAIL, PASSWORD).await;
    let hash = sha256_hex(&session_cookie(&res));
    let to = app.dir.join("backup.db");
    keyward::maintenance::backup(&app.state.db, &to)
        .await
        .unwrap();
    let backup = keyward::db::connect(&format!("sqlite://{}", to.display()))
        .await
        .unwrap();
    assert_eq!(count_sessions(&backup).await, 0);
    // Of the server keys only the webhook seal stays
    // (a_restored_backup_still_signs_webhooks_with_their_secrets); the sign-in page made the
    // form-signing key, which the live database keeps and the backup does not.
    let others = "SELECT COUNT(*) FROM server_keys WHERE name <> 'webhook-seal'";
    assert_eq!(crate::backend::scalar(&app.state.db, others, &[]).await, 1);
    assert_eq!(
        crate::backend::scalar(&backup, others, &[]).await,
        0,
        "nor the form-signing key"
    );
    backup.close().await;
    let bytes = std::fs::read(&to).unwrap();
    assert!(!bytes.windows(hash.len()).any(|w| w == hash.as_bytes()));
    assert_eq!(
        count_sessions(&app.state.db).await,
        2,
        "the live database keeps them"
    );
}

/// The `Set-Cookie` header a response sets for `name`, if any.
fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn cookieless_views_of_the_setup_and_login_pages_store_no_session() {
    let app = TestApp::spawn().await;
    let setup_page = app.url(&format!("/setup?code={}", app.setup_code()));
    for _ in 0..20 {
        let res = client().get(&setup_page).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(count_sessions(&app.state.db).await, 0);
    let (c, _) = app.setup().await;
    let res = app.post_form(&c, "/account", "/logout", &[]).await;
    assert_eq!(location(&res), "/login");
    for _ in 0..20 {
        let res = client().get(app.url("/login")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(set_cookie(&res, "keyward_session").is_none());
    }
    assert_eq!(count_sessions(&app.state.db).await, 0);
    let (_, res) = app.login(EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 303, "sign-in still works");
    assert_eq!(count_sessions(&app.state.db).await, 1);
}

#[tokio::test]
async fn a_login_post_without_its_form_cookie_or_with_a_forged_token_is_refused_403() {
    let app = TestApp::spawn().await;
    let _ = app.setup().await;
    let (a, b) = (client(), client());
    let page = a.get(app.url("/login")).send().await.unwrap();
    let cookie = set_cookie(&page, "keyward_form").expect("a form cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=7200"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let token = csrf_of(&page.text().await.unwrap());
    let post = async |c: &reqwest::Client, token: &str| {
        let form = [
            ("csrf_token", token),
            ("email", EMAIL),
            ("password", PASSWORD),
        ];
        let res = c.post(app.url("/login")).form(&form).send().await.unwrap();
        res.status().as_u16()
    };
    assert_eq!(post(&b, &token).await, 403, "without the cookie");
    let _ = app.csrf(&b, "/login").await;
    assert_eq!(
        post(&b, &token).await,
        403,
        "signed for another browser's cookie"
    );
    let issued = token.split('.').next().unwrap();
    let forged = format!("{issued}.{}", "0".repeat(64));
    for forged in [forged.as_str(), "", "1.00"] {
        assert_eq!(post(&a, forged).await, 403, "{forged:?}");
    }
    assert_eq!(post(&a, &token).await, 303, "the real pair signs in");
}

#[tokio::test]
async fn a_setup_post_without_its_form_cookie_is_refused_403() {
    let app = TestApp::spawn().await;
    let code = app.setup_code();
    let page = client()
        .get(app.url(&format!("/setup?code={code}")))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&page, "keyward_form").is_some());
    let token = csrf_of(&page.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("code", &code),
        ("email", EMAIL),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("workspace", "Acme"),
    ];
    let res = client()
        .post(app.url("/setup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(!keyward::db::admins::exists(&app.state.db).await.unwrap());
}
