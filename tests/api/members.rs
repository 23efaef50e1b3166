//! Members (SPEC §14): invitations by one-time link, joining, removal that signs the removed
//! admin out on every server, `keyward admin remove`, and the audit entries they leave.

use reqwest::{Client, Response};

use crate::helpers::{EMAIL, PASSWORD, TestApp, client, csrf_of, location};

const BOB: &str = "bob@acme.io";
const BOB_PASSWORD: &str = "bob's long password";

fn members(slug: &str) -> String {
    format!("/w/{slug}/settings/members")
}

/// The one-time link shown in the answer to inviting `email`, as a path (`/invite?code=…`).
async fn invite(app: &TestApp, c: &Client, slug: &str, email: &str) -> String {
    let action = format!("{}/invite", members(slug));
    let res = app
        .post_form(c, &members(slug), &action, &[("email", email)])
        .await;
    assert_eq!(res.status(), 201);
    let page = res.text().await.unwrap();
    let marker = "id=\"invite-link\">";
    let start = page.find(marker).expect("the new link is shown") + marker.len();
    let link = &page[start..start + page[start..].find('<').unwrap()];
    link[link.find("/invite?code=").unwrap()..].to_owned()
}

/// Opens the link in a fresh browser and submits `password` (twice for a new account).
pub async fn accept(app: &TestApp, link: &str, password: &str) -> (Client, Response) {
    let c = client();
    let page = c.get(app.url(link)).send().await.unwrap();
    assert_eq!(page.status(), 200, "GET {link}");
    let csrf = csrf_of(&page.text().await.unwrap());
    let code = link.trim_start_matches("/invite?code=");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("code", code),
        ("password", password),
        ("password_confirm", password),
    ];
    let res = c.post(app.url("/invite")).form(&form).send().await.unwrap();
    (c, res)
}

/// Alice (set up) and Bob (invited, joined) in one workspace: (alice, bob, slug).
async fn two_members(app: &TestApp) -> (Client, Client, String) {
    let (alice, slug) = app.setup().await;
    let link = invite(app, &alice, &slug, BOB).await;
    let (bob, res) = accept(app, &link, BOB_PASSWORD).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    (alice, bob, slug)
}

/// The id of the first pending invitation on the members page.
async fn pending_invite(app: &TestApp, c: &Client, slug: &str) -> String {
    let page = app.page(c, &members(slug)).await;
    let after = page
        .split("/invites/")
        .nth(1)
        .expect("a pending invitation");
    after.split('/').next().unwrap().to_owned()
}

async fn admin_id(app: &TestApp, email: &str) -> String {
    let mut conn = app.state.db.acquire().await.unwrap();
    let admin = keyward::db::admins::by_email(conn.conn(), email).await;
    admin.unwrap().expect("admin exists").id
}

#[tokio::test]
async fn an_invited_admin_chooses_a_password_joins_and_both_see_each_other() {
    let app = TestApp::spawn().await;
    let (alice, bob, slug) = two_members(&app).await;
    for c in [&alice, &bob] {
        let page = app.page(c, &members(&slug)).await;
        assert!(page.contains(EMAIL) && page.contains(BOB), "{page}");
        assert!(!page.contains("Never"), "both signed in: {page}");
        assert!(page.contains("No pending invitations"), "the link was used");
    }
}

#[tokio::test]
async fn an_invitation_link_works_once() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let link = invite(&app, &alice, &slug, BOB).await;
    let (_, first) = accept(&app, &link, BOB_PASSWORD).await;
    assert_eq!(first.status(), 303);
    let again = client().get(app.url(&link)).send().await.unwrap();
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("no longer valid"));
}

#[tokio::test]
async fn an_expired_or_revoked_invitation_is_refused() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let expired = invite(&app, &alice, &slug, BOB).await;
    let past = "UPDATE invites SET expires_at = created_at - 1 WHERE email = ?";
    crate::backend::exec(&app.state.db, past, &[BOB]).await;
    let res = client().get(app.url(&expired)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let revoked = invite(&app, &alice, &slug, "carol@acme.io").await;
    let bobs = "SELECT COUNT(*) FROM invites WHERE email = ?";
    let left = crate::backend::scalar(&app.state.db, bobs, &[BOB]).await;
    assert_eq!(left, 0, "the next invitation deletes expired ones");
    let id = pending_invite(&app, &alice, &slug).await;
    let action = format!("{}/invites/{id}/revoke", members(&slug));
    let res = app.post_form(&alice, &members(&slug), &action, &[]).await;
    assert_eq!(res.status(), 303);
    let res = client().get(app.url(&revoked)).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn an_invitation_deletes_only_its_own_workspaces_expired_ones_and_the_hourly_pass_the_rest() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let other = app
        .other_admin_with_workspace("zoe@globex.io", "Globex")
        .await;
    let (zoe, _) = app.login("zoe@globex.io", PASSWORD).await;
    invite(&app, &zoe, &other, BOB).await;
    let past = "UPDATE invites SET expires_at = created_at - 1";
    crate::backend::exec(&app.state.db, past, &[]).await;
    invite(&app, &alice, &slug, "carol@acme.io").await;
    let all = "SELECT COUNT(*) FROM invites WHERE email = ?";
    let globex = crate::backend::scalar(&app.state.db, all, &[BOB]).await;
    assert_eq!(globex, 1, "Acme's invitation leaves Globex's rows alone");
    let gone = keyward::webhooks::expiry::prune_invitations(&app.state).await;
    assert_eq!(gone.ok(), Some(1));
    let globex = crate::backend::scalar(&app.state.db, all, &[BOB]).await;
    assert_eq!(globex, 0);
    let carol = crate::backend::scalar(&app.state.db, all, &["carol@acme.io"]).await;
    assert_eq!(carol, 1, "a pending invitation stays");
}

#[tokio::test]
async fn a_new_password_shorter_than_twelve_characters_is_refused_and_the_link_still_works() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let link = invite(&app, &alice, &slug, BOB).await;
    let (_, res) = accept(&app, &link, "too short").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("12"));
    let (_, res) = accept(&app, &link, BOB_PASSWORD).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn an_existing_admin_joins_by_signing_in_with_their_own_password() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let bobs_own = app.other_admin_with_workspace(BOB, "Bob's place").await;
    let link = invite(&app, &alice, &slug, BOB).await;
    let (_, wrong) = accept(&app, &link, "not bob's password").await;
    assert_eq!(wrong.status(), 401);
    let (bob, res) = accept(&app, &link, PASSWORD).await;
    assert_eq!(res.status(), 303);
    for ws in [&slug, &bobs_own] {
        let res = bob.get(app.url(&members(ws))).send().await.unwrap();
        assert_eq!(res.status(), 200, "{ws}");
    }
}

#[tokio::test]
async fn an_overlong_password_for_an_existing_account_is_refused_without_using_up_its_tries() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    app.other_admin_with_workspace(BOB, "Bob's place").await;
    let link = invite(&app, &alice, &slug, BOB).await;
    // Longer than any password: refused as sign-in refuses it, before any hash or throttle
    // entry, so six of them (one more than the per-email tries) leave the account open.
    let overlong = "x".repeat(keyward::auth::password::MAX_LEN + 1);
    for _ in 0..=keyward::auth::throttle::MAX_PER_EMAIL {
        let (_, res) = accept(&app, &link, &overlong).await;
        assert_eq!(res.status(), 401);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("The password is incorrect")
        );
    }
    let (_, res) = accept(&app, &link, PASSWORD).await;
    assert_eq!(res.status(), 303, "not throttled");
}

#[tokio::test]
async fn the_last_member_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let me = admin_id(&app, EMAIL).await;
    let action = format!("{}/{me}/remove", members(&slug));
    let res = app.post_form(&alice, &members(&slug), &action, &[]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("always keeps one member")
    );
    let res = alice.get(app.url(&members(&slug))).send().await.unwrap();
    assert_eq!(res.status(), 200, "still a member, still signed in");
}

#[tokio::test]
async fn a_removed_member_is_signed_out_at_once_on_every_server() {
    let app = TestApp::spawn().await;
    let other = app.spawn_beside().await;
    let (alice, _, slug) = two_members(&app).await;
    let (bob_there, res) = other.login(BOB, BOB_PASSWORD).await;
    assert_eq!(res.status(), 303);
    let bob = admin_id(&app, BOB).await;
    let action = format!("{}/{bob}/remove", members(&slug));
    let res = app.post_form(&alice, &members(&slug), &action, &[]).await;
    assert_eq!(res.status(), 303);
    let next = bob_there
        .get(other.url(&members(&slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 303);
    assert!(location(&next).starts_with("/login"), "{}", location(&next));
    let page = app.page(&alice, &members(&slug)).await;
    assert!(page.contains("bob@acme.io was removed"), "{page}");
    assert!(!page.contains("<td>bob@acme.io"), "{page}");
}

#[tokio::test]
async fn member_forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let action = app.url(&format!("{}/invite", members(&slug)));
    let res = alice
        .post(&action)
        .form(&[("email", BOB)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let page = app.page(&alice, &members(&slug)).await;
    assert!(page.contains("No pending invitations"));
    let res = client()
        .post(app.url("/invite"))
        .form(&[("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn another_workspaces_members_and_invitations_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let theirs = app.other_admin_with_workspace(BOB, "Bob's place").await;
    let res = alice.get(app.url(&members(&theirs))).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let bob = admin_id(&app, BOB).await;
    let action = format!("{}/{bob}/remove", members(&slug));
    let res = app.post_form(&alice, &members(&slug), &action, &[]).await;
    assert_eq!(res.status(), 404, "Bob is no member of Alice's workspace");
    let (bob_c, _) = app.login(BOB, PASSWORD).await;
    let _ = invite(&app, &alice, &slug, "carol@acme.io").await;
    let id = pending_invite(&app, &alice, &slug).await;
    let action = format!("{}/invites/{id}/revoke", members(&theirs));
    let res = app.post_form(&bob_c, &members(&theirs), &action, &[]).await;
    assert_eq!(
        res.status(),
        404,
        "an invitation is revoked only in its workspace"
    );
}

/// `keyward admin remove --email EMAIL` on the app's database.
async fn cli_remove(app: &TestApp, email: &str) -> std::process::Output {
    let (db, email) = (app.db_path.clone(), email.to_owned());
    tokio::task::spawn_blocking(move || {
        crate::real::cli(&db, &["admin", "remove", "--email", &email], "")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_admin_remove_ends_their_sessions_and_keeps_their_tokens() {
    let app = TestApp::spawn().await;
    let (_, bob, slug) = two_members(&app).await;
    let (token_id, secret) = app.create_token(&slug, &["messages:send"], |_| {}).await;
    let by_bob = "UPDATE tokens SET created_by_type = 'admin', created_by_name = 'bob@acme.io' \
                  WHERE id = ?";
    app.sql(by_bob, &token_id).await;
    let out = cli_remove(&app, BOB).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = bob.get(app.url(&members(&slug))).send().await.unwrap();
    assert!(location(&res).starts_with("/login"));
    assert_eq!(app.me_status(&secret).await, 200);
    let (_, res) = app.login(BOB, BOB_PASSWORD).await;
    assert_eq!(res.status(), 401, "the account is gone");
}

#[tokio::test]
async fn cli_admin_remove_refuses_the_only_member_of_a_workspace() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    app.other_admin_with_workspace(BOB, "Bob's place").await;
    let out = cli_remove(&app, EMAIL).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only member") && err.contains(&slug), "{err}");
    let res = alice.get(app.url(&members(&slug))).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn sign_ins_and_membership_changes_are_audited_and_filtered_by_kind() {
    let app = TestApp::spawn().await;
    let (alice, _, slug) = two_members(&app).await;
    let (_, res) = app.login(EMAIL, "a wrong password!").await;
    assert_eq!(res.status(), 401);
    let (_, res) = app.login(EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let log = format!("/w/{slug}/settings/developer/audit-log");
    let signins = app.page(&alice, &format!("{log}?kind=signin")).await;
    assert!(signins.contains("signin.failed") && signins.contains("signin.succeeded"));
    assert!(!signins.contains("member.invited"), "{signins}");
    let membership = app.page(&alice, &format!("{log}?kind=member")).await;
    assert!(membership.contains("member.invited") && membership.contains("member.joined"));
    assert!(!membership.contains("signin."), "{membership}");
    let res = alice
        .get(app.url(&format!("{log}?kind=%25")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn without_javascript_removal_is_confirmed_on_a_page_of_its_own() {
    let app = TestApp::spawn().await;
    let (alice, _, slug) = two_members(&app).await;
    let bob = admin_id(&app, BOB).await;
    let confirm = format!("{}/{bob}/remove", members(&slug));
    let page = app.page(&alice, &confirm).await;
    assert!(
        page.contains("Remove bob@acme.io?") && page.contains("Remove member"),
        "{page}"
    );
    let res = app.post_form(&alice, &confirm, &confirm, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), members(&slug));
}

#[tokio::test]
async fn channel_and_password_changes_are_audited_under_their_kinds() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let channels = format!("/w/{slug}/settings/channels");
    let add = [("name", "WhatsApp Support"), ("kind", "whatsapp")];
    assert_eq!(
        app.post_form(&alice, &channels, &channels, &add)
            .await
            .status(),
        303
    );
    let pw = [
        ("current", PASSWORD),
        ("password", "a new long password"),
        ("password_confirm", "a new long password"),
    ];
    assert_eq!(
        app.post_form(&alice, "/account", "/account", &pw)
            .await
            .status(),
        200
    );
    let log = format!("/w/{slug}/settings/developer/audit-log");
    let page = app.page(&alice, &format!("{log}?kind=channel")).await;
    assert!(
        page.contains("channel.added") && page.contains("WhatsApp Support"),
        "{page}"
    );
    let page = app.page(&alice, &format!("{log}?kind=account")).await;
    assert!(page.contains("account.password_changed") && !page.contains("channel.added"));
}

#[tokio::test]
async fn an_invitation_link_is_shown_once_and_stored_only_as_a_hash() {
    let app = TestApp::spawn().await;
    let (alice, slug) = app.setup().await;
    let link = invite(&app, &alice, &slug, BOB).await;
    let code = link.trim_start_matches("/invite?code=");
    assert_eq!(code.len(), 32);
    let page = app.page(&alice, &members(&slug)).await;
    assert!(
        page.contains(BOB) && !page.contains(code),
        "listed, link not shown again"
    );
    let db = &app.state.db;
    let by_hash = "SELECT COUNT(*) FROM invites WHERE code_hash = ?";
    let hash = keyward::domain::ids::sha256_hex(code);
    assert_eq!(crate::backend::scalar(db, by_hash, &[&hash]).await, 1);
    let anywhere = "SELECT COUNT(*) FROM sessions WHERE data LIKE '%' || ? || '%'";
    assert_eq!(crate::backend::scalar(db, anywhere, &[code]).await, 0);
}
