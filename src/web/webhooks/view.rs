//! What the webhook pages show of an endpoint and of a delivery.

use crate::db::{deliveries::Delivery, webhooks::Endpoint};
use crate::domain::webhook::{EVENTS, Events};
use crate::web::format::{exact, relative};

pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// "200 · 3 minutes ago", "500 · retry in 5 minutes", or empty.
    pub last: String,
    pub failing: bool,
}

impl EndpointView {
    pub fn new(e: &Endpoint, last: Option<&Delivery>, now: i64) -> Self {
        let events = match Events::from_stored(&e.events) {
            Events::All => "All events".to_owned(),
            Events::Only(n) if n.len() == 1 => n[0].clone(),
            Events::Only(n) => format!("{} events", n.len()),
        };
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            events,
            enabled: e.enabled != 0,
            disabled_reason: e.disabled_reason.clone(),
            last: last
                .map(|d| DeliveryView::new(d, now).summary())
                .unwrap_or_default(),
            failing: last.is_some_and(|d| d.state != "delivered" && d.attempts > 0),
        }
    }
}

pub struct DeliveryView {
    pub id: String,
    pub event: String,
    pub state: String,
    pub at_exact: String,
    pub at: String,
    pub status: String,
    pub attempts: i64,
    pub next: String,
    pub error: String,
}

impl DeliveryView {
    pub fn new(d: &Delivery, now: i64) -> Self {
        let next = match (d.state.as_str(), d.next_attempt_ms) {
            ("pending", Some(ms)) if ms / 1000 > now => relative(ms / 1000, now),
            ("pending", _) => "now".to_owned(),
            _ => String::new(),
        };
        Self {
            id: d.id.clone(),
            event: d.event.clone(),
            state: d.state.clone(),
            at_exact: exact(d.created_at),
            at: relative(d.created_at, now),
            status: d
                .last_status
                .map_or_else(|| "—".to_owned(), |s| s.to_string()),
            attempts: d.attempts,
            next,
            error: d.last_error.clone().unwrap_or_default(),
        }
    }

    fn summary(&self) -> String {
        if self.next.is_empty() || self.attempts == 0 {
            format!("{} · {}", self.status, self.at)
        } else {
            format!("{} · retry {}", self.status, self.next)
        }
    }
}

/// What each event means, for the checkboxes.
fn label(event: &str) -> &'static str {
    match event {
        "token.created" => "A token is created",
        "token.updated" => "A token is edited",
        "token.regenerated" => "A token's secret is regenerated",
        "token.rolled" => "A token's secret is rolled with overlap",
        "token.revoked" => "A token is revoked",
        "token.reactivated" => "A token is reactivated",
        "token.deleted" => "A token is deleted",
        "token.expiring" => "A token reaches an expiry notice",
        "token.expired" => "A token expires",
        _ => "Send test event",
    }
}

/// The event checkboxes: (name, label, checked).
pub fn event_choices(selected: &Events) -> Vec<(&'static str, &'static str, bool)> {
    EVENTS
        .iter()
        .map(|e| {
            let on = matches!(selected, Events::Only(n) if n.iter().any(|s| s == e));
            (*e, label(e), on)
        })
        .collect()
}
