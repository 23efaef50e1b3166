//! Webhooks and expiry notices (SPEC §13): events written to the outbox on the change's own
//! transaction ([`emit`]), the deliverer that sends them signed (`deliver`), the expiry sweep
//! (`expiry`) and the e-mail digest (`digest`).

pub mod client;
pub mod deliver;
pub mod digest;
pub mod expiry;
pub mod seal;
pub mod sign;

use serde_json::{Value, json};

use crate::api::model::TokenObject;
use crate::config::Config;
use crate::db::{self, Conn};
use crate::domain::actor::Actor;
use crate::domain::now;
use crate::domain::token::rfc3339;

/// One event about a token (or the test event), as the outbox takes it.
pub struct Event<'a> {
    pub workspace_id: &'a str,
    /// One of `domain::webhook::EVENTS`.
    pub kind: &'a str,
    pub token: Subject<'a>,
    pub actor: &'a Actor,
    pub days_left: Option<i64>,
}

/// The token an event is about.
pub enum Subject<'a> {
    None,
    /// Read on the transaction, after the change, when some endpoint takes the event.
    Id(&'a str),
}

/// Who the sweep acts as in `token.expiring` / `token.expired`.
pub fn system_actor() -> Actor {
    Actor {
        kind: "system".to_owned(),
        id: None,
        name: "expiry sweep".to_owned(),
    }
}

/// The body every endpoint receives (never a secret: the token object has none).
fn payload(
    event: &Event<'_>,
    token: Option<&db::tokens::Token>,
    slug: &str,
    config: &Config,
) -> Value {
    let at = now();
    let mut data = json!({
        "workspace": { "id": event.workspace_id, "slug": slug },
        "actor": event.actor,
    });
    if let Some(t) = token {
        data["token"] = json!(TokenObject::new(t, at, config));
    }
    if let Some(days) = event.days_left {
        data["days_left"] = json!(days);
    }
    json!({ "type": event.kind, "timestamp": rfc3339(at), "data": data })
}

/// Writes one delivery per enabled endpoint of the workspace that takes this event, on the
/// caller's transaction: committed with the change, or not at all. Returns how many.
pub async fn emit(
    mut conn: Conn<'_>,
    event: &Event<'_>,
    config: &Config,
) -> Result<usize, sqlx::Error> {
    let endpoints = db::webhooks::subscribed(conn.re(), event.workspace_id, event.kind).await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let slug = db::webhooks::workspace_slug(conn.re(), event.workspace_id).await?;
    let read;
    let token = match event.token {
        Subject::None => None,
        Subject::Id(id) => {
            read = db::tokens::get_in(conn.re(), event.workspace_id, id).await?;
            read.as_ref()
        }
    };
    let body = payload(event, token, &slug, config).to_string();
    for id in &endpoints {
        db::deliveries::insert(conn.re(), event.workspace_id, id, event.kind, &body).await?;
    }
    Ok(endpoints.len())
}

/// The test event for one endpoint, whatever events it takes.
pub async fn emit_test(
    mut conn: Conn<'_>,
    workspace_id: &str,
    webhook_id: &str,
    actor: &Actor,
    config: &Config,
) -> Result<String, sqlx::Error> {
    let slug = db::webhooks::workspace_slug(conn.re(), workspace_id).await?;
    let event = Event {
        workspace_id,
        kind: "webhook.test",
        token: Subject::None,
        actor,
        days_left: None,
    };
    let body = payload(&event, None, &slug, config).to_string();
    db::deliveries::insert(conn, workspace_id, webhook_id, "webhook.test", &body).await
}
