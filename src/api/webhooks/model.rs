//! JSON shapes of the webhook API: the endpoint, its one-time secret, a delivery, the bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{deliveries::Delivery, webhooks::Endpoint};
use crate::domain::token::rfc3339;
use crate::domain::webhook::{Events, WebhookInput};

/// A webhook endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookObject {
    #[schema(example = "wh_3fZ9qLmA8xT2vB7nC1dE")]
    pub id: String,
    #[schema(example = "https://hooks.example.com/keyward")]
    pub url: String,
    pub description: String,
    /// Event names, or `["*"]` for all.
    #[schema(example = json!(["token.revoked", "token.expiring"]))]
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it (its receiver answered 410 Gone), else null.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Endpoint> for WebhookObject {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: Events::from_stored(&e.events).names(),
            enabled: e.enabled != 0,
            disabled_reason: e.disabled_reason.clone(),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// The endpoint plus its signing secret, in the create response only.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookObject,
    /// `whsec_` + base64 of 32 random bytes; shown only here.
    #[schema(example = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")]
    pub secret: String,
}

impl std::fmt::Debug for WebhookWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWithSecret")
            .field("webhook", &self.webhook)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryObject {
    /// The `webhook-id` header, the same on every attempt.
    #[schema(example = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")]
    pub id: String,
    #[schema(example = "token.revoked")]
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    /// The receiver's status code at the last attempt, null when none answered.
    pub last_status: Option<i64>,
    /// Why the last attempt got no answer (timeout, connection refused, …).
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
}

impl From<&Delivery> for DeliveryObject {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.clone(),
            event: d.event.clone(),
            state: d.state.clone(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            last_attempt_at: d.last_attempt_at.map(rfc3339),
            next_attempt_at: (d.state == "pending")
                .then_some(d.next_attempt_ms)
                .flatten()
                .map(|ms| rfc3339(ms / 1000)),
            created_at: rfc3339(d.created_at),
        }
    }
}

/// `POST /webhooks` (`url` required) and `PATCH /webhooks/{id}` (any subset).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// `https://` (or `http://`) URL of a public address (required on create).
    #[schema(example = "https://hooks.example.com/keyward", max_length = 2000)]
    pub url: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Event names (`token.created`, `token.updated`, `token.regenerated`, `token.rolled`,
    /// `token.revoked`, `token.reactivated`, `token.deleted`, `token.expiring`,
    /// `token.expired`, `webhook.test`), or `["*"]` (the default) for all.
    #[schema(example = json!(["*"]), min_items = 1)]
    pub events: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl WebhookBody {
    pub fn into_input(self) -> WebhookInput {
        WebhookInput {
            url: self.url,
            description: self.description,
            events: self.events,
            enabled: self.enabled,
        }
    }
}

/// `POST /webhooks/{id}/test` answer: the test delivery queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    pub delivery_id: String,
}
