//! Webhooks (SPEC §13) against the real server and a real receiver on loopback: every event
//! arrives once and signed, retries keep their id, a crash between a change and its delivery
//! loses nothing, a rolled-back change sends nothing, expiry notices happen once, and private
//! destinations are refused unless allowed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::real::{Server, cli_ok, fresh_db, seed_admin_token};
use crate::receiver::{HANG, Receiver};

/// A server that may call loopback receivers, retrying after milliseconds instead of minutes
/// and sweeping expiry every 200 ms; its workspace slug and an `admin` token.
async fn spawn() -> (TestApp, String, String) {
    let app = TestApp::spawn_with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_scale = 0.001;
        c.expiry_sweep_ms = 200;
    })
    .await;
    let (_, slug) = app.setup().await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    (app, slug, admin)
}

/// Adds an endpoint for `url` taking `events`; returns (id, secret).
/// The answer shows the secret once: not stored by caches, and it says where the endpoint is.
async fn endpoint(app: &TestApp, admin: &str, url: &str, events: Value) -> (String, String) {
    let body = json!({ "url": url, "events": events });
    let res = app
        .api(admin)
        .send(reqwest::Method::POST, "/api/v1/webhooks", Some(body))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let d = &body["data"];
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/webhooks/{id}"));
    (id, d["secret"].as_str().unwrap().to_owned())
}

/// `GET path` until `done` holds for its body (at most 5 s); the last body.
async fn poll(app: &TestApp, admin: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (_, body) = app.api(admin).get(path).await;
        if done(&body) || start.elapsed() > Duration::from_secs(5) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn in_seconds(s: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(s);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn every_token_event_arrives_once_with_a_valid_signature() {
    let (app, _, admin) = spawn().await;
    let hook = Receiver::start(&[]).await;
    let (webhook, secret) = endpoint(&app, &admin, &hook.url, json!(["*"])).await;
    let api = app.api(&admin);
    let (_, made) = api
        .post_json(
            "/api/v1/tokens",
            json!({"name": "ci", "permissions": ["chats:read"], "expires_at": in_seconds(3)}),
        )
        .await;
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    let token_secret = made["data"]["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tokens/{id}");
    assert_eq!(
        api.patch(&path, json!({"description": "edited"})).await.0,
        200
    );
    for action in ["regenerate", "revoke", "reactivate"] {
        assert_eq!(
            api.post(&format!("{path}/{action}")).await.0,
            200,
            "{action}"
        );
    }
    api.post(&format!("/api/v1/webhooks/{webhook}/test")).await;
    let kinds = [
        "token.created",
        "token.updated",
        "token.regenerated",
        "token.revoked",
        "token.reactivated",
        "token.expiring",
        "token.expired",
        "webhook.test",
    ];
    hook.wait_for(|got| kinds.iter().all(|k| got.iter().any(|r| r.kind() == *k)))
        .await;
    assert_eq!(api.delete(&path).await.0, 204);
    let got = hook
        .wait_for(|got| got.iter().any(|r| r.kind() == "token.deleted"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for kind in kinds.iter().chain(&["token.deleted"]) {
        let of = hook.of(kind);
        assert_eq!(of.len(), 1, "{kind} arrived {} times", of.len());
        assert!(of[0].signed_by(&secret), "{kind} has a valid signature");
        let body = of[0].json();
        assert!(
            !of[0].body.contains(&secret) && !of[0].body.contains(&token_secret),
            "{body}"
        );
        if *kind != "webhook.test" {
            assert_eq!(body["data"]["token"]["id"], id.as_str(), "{body}");
        }
    }
    assert!(
        !got[0].signed_by("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
        "a wrong secret fails"
    );
    assert_eq!(hook.of("token.expiring")[0].json()["data"]["days_left"], 1);
    assert_eq!(
        hook.of("token.revoked")[0].json()["data"]["token"]["status"],
        "revoked"
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_three_attempts_with_the_same_webhook_id() {
    let (app, _, admin) = spawn().await;
    let hook = Receiver::start(&[500, 500, 200]).await;
    let (webhook, _) = endpoint(&app, &admin, &hook.url, json!(["webhook.test"])).await;
    app.api(&admin)
        .post(&format!("/api/v1/webhooks/{webhook}/test"))
        .await;
    let got = hook.wait_for(|got| got.len() >= 3).await;
    assert!(
        got.iter().all(|r| r.id() == got[0].id()),
        "one webhook-id for every attempt"
    );
    let deliveries = format!("/api/v1/webhooks/{webhook}/deliveries");
    let done = |b: &Value| b["data"][0]["state"] == "delivered";
    let d = poll(&app, &admin, &deliveries, done).await["data"][0].clone();
    assert_eq!(d["id"], got[0].id());
    assert_eq!(
        (
            d["state"].clone(),
            d["attempts"].clone(),
            d["last_status"].clone()
        ),
        (json!("delivered"), json!(3), json!(200))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 3, "nothing after the 200");
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_event_once() {
    let (app, _, admin) = spawn().await;
    let _beside = app
        .spawn_beside_with(|c| {
            c.webhook_allow_private = true;
            c.webhook_retry_scale = 0.001;
        })
        .await;
    let hook = Receiver::start(&[]).await;
    let (webhook, _) = endpoint(&app, &admin, &hook.url, json!(["webhook.test"])).await;
    let test = format!("/api/v1/webhooks/{webhook}/test");
    // Both servers' deliverers compete for the 20 deliveries.
    for _ in 0..20 {
        assert_eq!(app.api(&admin).post(&test).await.0, 202);
    }
    hook.wait_for(|got| got.len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ids: Vec<String> = hook.received().iter().map(|r| r.id().to_owned()).collect();
    assert_eq!(ids.len(), 20, "no delivery made twice");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

#[tokio::test]
async fn a_receiver_answering_410_disables_its_endpoint() {
    let (app, _, admin) = spawn().await;
    let hook = Receiver::start(&[410]).await;
    let (webhook, _) = endpoint(&app, &admin, &hook.url, json!(["*"])).await;
    app.api(&admin)
        .post(&format!("/api/v1/webhooks/{webhook}/test"))
        .await;
    hook.wait_for(|got| !got.is_empty()).await;
    let path = format!("/api/v1/webhooks/{webhook}");
    let body = poll(&app, &admin, &path, |b| b["data"]["enabled"] == false).await;
    assert_eq!(body["data"]["enabled"], false, "{body}");
    assert!(
        body["data"]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
}

#[tokio::test]
async fn a_rolled_back_change_sends_nothing() {
    let (app, slug, admin) = spawn().await;
    let hook = Receiver::start(&[]).await;
    endpoint(
        &app,
        &admin,
        &hook.url,
        json!(["token.updated", "token.revoked"]),
    )
    .await;
    let (id, _) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let ws = app.workspace(&slug).await;
    let actor = keyward::db::audit::Actor::cli();
    let ctx = keyward::ops::Ctx::new(&app.state, &ws.id, &actor, None, keyward::ops::Acting::Full);
    let mut tx = app.state.db.begin_write().await.unwrap();
    keyward::ops::emit(tx.conn(), &ctx, "token.updated", &id)
        .await
        .unwrap();
    drop(tx);
    keyward::ops::set_revoked(&ctx, &id, true).await.unwrap();
    hook.wait_for(|got| !got.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kinds: Vec<String> = hook.received().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["token.revoked"], "the rolled-back event never left");
}

#[tokio::test]
async fn private_destinations_are_refused_without_allow_private() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.setup().await;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.8/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
    ] {
        let (status, body) = app
            .api(&admin)
            .post_json("/api/v1/webhooks", json!({ "url": url }))
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["errors"]["url"][0]
                .as_str()
                .unwrap()
                .contains("private"),
            "{body}"
        );
    }
    let (_, list) = app.api(&admin).get("/api/v1/webhooks").await;
    assert_eq!(list["data"], json!([]), "nothing stored");
}

#[tokio::test]
async fn an_endpoint_now_private_can_still_be_disabled_but_not_moved_elsewhere_private() {
    // Saved while private addresses were allowed; a server of the installation without that
    // flag stands for a host that has since moved to a private address.
    let (app, _, admin) = spawn().await;
    let (id, _) = endpoint(&app, &admin, "http://127.0.0.1:9/hook", json!(["*"])).await;
    let strict = app.spawn_beside().await;
    // On PostgreSQL both servers have synced their shares of the token's budget.
    tokio::time::sleep(keyward::bearer::shares::SYNC * 3).await;
    let path = format!("/api/v1/webhooks/{id}");
    let api = strict.api(&admin);
    let (status, body) = api.patch(&path, json!({"enabled": false})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["enabled"], false);
    let same = json!({"url": "http://127.0.0.1:9/hook", "description": "old host"});
    let (status, body) = api.patch(&path, same).await;
    assert_eq!(
        status, 200,
        "an unchanged URL is not looked up again: {body}"
    );
    let (status, body) = api
        .patch(&path, json!({"url": "http://10.0.0.8/hook"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, now) = api.get(&path).await;
    assert_eq!(
        now["data"]["url"], "http://127.0.0.1:9/hook",
        "nothing changed"
    );
    assert_eq!(now["data"]["description"], "old host");
}

async fn delivery_ids(db: &keyward::db::Db) -> Vec<String> {
    let rows: Vec<(String,)> =
        crate::backend::rows(db, "SELECT id FROM webhook_deliveries ORDER BY id").await;
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test]
async fn ended_deliveries_are_deleted_after_thirty_days_and_pending_ones_kept() {
    let (app, _, admin) = spawn().await;
    let hook = Receiver::start(&[]).await;
    let (id, _) = endpoint(&app, &admin, &hook.url, json!(["webhook.test"])).await;
    let test = format!("/api/v1/webhooks/{id}/test");
    for _ in 0..3 {
        assert_eq!(app.api(&admin).post(&test).await.0, 202);
    }
    hook.wait_for(|got| got.len() >= 3).await;
    let db = &app.state.db;
    let delivered = "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'";
    for _ in 0..100 {
        if crate::backend::scalar(db, delivered, &[]).await == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids = delivery_ids(db).await;
    let old = keyward::domain::now() - 31 * 86_400;
    // One ended 31 days ago, one still pending from then, one from today.
    let age = format!("UPDATE webhook_deliveries SET created_at = {old} WHERE id = ?");
    crate::backend::exec(db, &age, &[&ids[0]]).await;
    crate::backend::exec(db, &age, &[&ids[1]]).await;
    let pending = "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = 9000000000000000 WHERE id = ?";
    crate::backend::exec(db, pending, &[&ids[1]]).await;
    let gone = keyward::webhooks::expiry::prune_deliveries(&app.state).await;
    assert_eq!(gone.unwrap(), 1);
    assert_eq!(delivery_ids(db).await, ids[1..].to_vec());
}

#[tokio::test]
async fn an_edit_read_before_the_deliverer_disabled_the_endpoint_does_not_enable_it_again() {
    let (app, slug, admin) = spawn().await;
    let (id, _) = endpoint(&app, &admin, "http://127.0.0.1:9/hook", json!(["*"])).await;
    let ws = app.workspace(&slug).await.id;
    let read = |db: keyward::db::Db| {
        let (ws, id) = (ws.clone(), id.clone());
        async move {
            let mut conn = db.acquire().await.unwrap();
            keyward::db::webhooks::get(conn.conn(), &ws, &id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    // An edit reads the endpoint (enabled); a 410 disables it before the edit is written.
    let was = keyward::ops::webhooks::draft_of(&read(app.state.db.clone()).await);
    keyward::db::webhooks::disable(&app.state.db, &id, "410 Gone")
        .await
        .unwrap();
    let draft = keyward::domain::webhook::WebhookDraft {
        description: "renamed".into(),
        ..was.clone()
    };
    let mut tx = app.state.db.begin_write().await.unwrap();
    let written = keyward::db::webhooks::update(tx.conn(), &ws, &id, (&was, &draft)).await;
    tx.commit().await.unwrap();
    assert_eq!(written.unwrap(), 0, "not over a change made meanwhile");
    let now = read(app.state.db.clone()).await;
    assert_eq!((now.enabled, now.description.as_str()), (0, ""));
    assert_eq!(now.disabled_reason.as_deref(), Some("410 Gone"));
    // Through the API the same edit is made again over the disabled endpoint.
    let path = format!("/api/v1/webhooks/{id}");
    let (status, body) = app
        .api(&admin)
        .patch(&path, json!({"description": "renamed"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["enabled"], &body["data"]["description"]),
        (&json!(false), &json!("renamed"))
    );
}

#[tokio::test]
async fn the_webhook_api_needs_admin_shows_the_secret_once_and_audits_changes() {
    let (app, slug, admin) = spawn().await;
    let (_, writer) = app.create_token(&slug, &["tokens:write"], |_| {}).await;
    let (status, body) = app.api(&writer).get("/api/v1/webhooks").await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("insufficient_permission"))
    );
    let (id, secret) = endpoint(
        &app,
        &admin,
        "https://hooks.example.com/k?key=abc",
        json!(["token.revoked"]),
    )
    .await;
    assert!(
        secret.starts_with("whsec_") && secret.len() == 50,
        "{secret}"
    );
    let path = format!("/api/v1/webhooks/{id}");
    let (_, one) = app.api(&admin).get(&path).await;
    assert!(one["data"].get("secret").is_none(), "{one}");
    let (status, edited) = app
        .api(&admin)
        .patch(&path, json!({"events": ["token.nope"]}))
        .await;
    assert_eq!(
        (status, edited["errors"]["events"].is_array()),
        (422, true),
        "{edited}"
    );
    let (status, edited) = app
        .api(&admin)
        .patch(&path, json!({"enabled": false}))
        .await;
    assert_eq!(
        (status, edited["data"]["enabled"].clone()),
        (200, json!(false))
    );
    assert_eq!(app.api(&admin).delete(&path).await.0, 204);
    assert_eq!(app.api(&admin).get(&path).await.0, 404);
    let entries = keyward::db::audit::list(
        &app.state.db,
        &app.workspace(&slug).await.id,
        keyward::db::audit::Filter::default(),
        None,
        50,
    )
    .await
    .unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("webhook."))
        .collect();
    assert_eq!(
        actions,
        ["webhook.deleted", "webhook.updated", "webhook.created"]
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.details.contains(&secret) && !e.details.contains("key=abc"))
    );
}

/// A `keyward serve` process that may call loopback receivers (attempts time out after 1 s,
/// so a claim lapses 3 s after a crash) and sweeps every 200 ms.
fn serve(db: &std::path::Path) -> Server {
    Server::start(
        db,
        &[
            "--webhook-allow-private",
            "--webhook-timeout-ms",
            "1000",
            "--expiry-sweep-ms",
            "200",
        ],
    )
}

#[tokio::test]
async fn a_change_still_delivers_after_kill_9_between_the_change_and_its_delivery() {
    let (_dir, db) = fresh_db();
    let admin = seed_admin_token(&db);
    let server = serve(&db);
    let hook = Receiver::start(&[HANG]).await;
    server.add_webhook(&admin, &hook.url).await;
    cli_ok(
        &db,
        &["token", "revoke", "--workspace", "acme", &first_token(&db)],
        "",
    );
    let first = hook.wait_for(|got| !got.is_empty()).await;
    server.stop("-KILL");
    let _again = serve(&db);
    let got = hook.wait_for(|got| got.len() >= 2).await;
    assert_eq!(
        got[1].id(),
        first[0].id(),
        "the same delivery, after the restart"
    );
    assert_eq!(got[1].kind(), "token.revoked");
}

fn first_token(db: &std::path::Path) -> String {
    let list: Value = serde_json::from_str(&cli_ok(
        db,
        &["token", "list", "--workspace", "acme", "--json"],
        "",
    ))
    .unwrap();
    list[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_expiring_tomorrow_gets_one_notice_across_two_restarts() {
    let (_dir, db) = fresh_db();
    let admin = seed_admin_token(&db);
    let hook = Receiver::start(&[]).await;
    let server = serve(&db);
    server.add_webhook(&admin, &hook.url).await;
    crate::real::create_token(&db, "soon", "chats:read", &["--expires-in-days", "1"]);
    hook.wait_for(|got| got.iter().any(|r| r.kind() == "token.expiring"))
        .await;
    server.stop("-TERM");
    for _ in 0..2 {
        let again = serve(&db);
        tokio::time::sleep(Duration::from_millis(800)).await;
        again.stop("-TERM");
    }
    let notices = hook.of("token.expiring");
    assert_eq!(notices.len(), 1, "one notice in total");
    assert_eq!(notices[0].json()["data"]["days_left"], 1);
    assert_eq!(notices[0].json()["data"]["token"]["name"], "soon");
}

#[tokio::test]
async fn a_stopping_server_waits_for_one_round_of_a_webhook_backlog_at_most() {
    let (_dir, db) = fresh_db();
    let admin = seed_admin_token(&db);
    let server = serve(&db);
    // A receiver that never answers: its connections are queued by the kernel, never
    // accepted, so every attempt lasts the whole 1 s timeout and every round stays full.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    for _ in 0..40 {
        server.add_webhook(&admin, &url).await;
    }
    for name in ["one", "two", "three"] {
        crate::real::create_token(&db, name, "chats:read", &[]);
    }
    // 120 deliveries: eight full rounds of 1 s each are waiting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let asked = std::time::Instant::now();
    assert!(server.stop("-TERM").success());
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "stopped after {:?}: the deliverer worked through its backlog first",
        asked.elapsed()
    );
}
