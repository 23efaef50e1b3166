//! The deliverer: claims due deliveries (one server each, see `db::deliveries::claim`), sends
//! them signed, and records the outcome — delivered on 2xx; the endpoint disabled on 410;
//! else another attempt after the next step of [`SCHEDULE`], then failed. Deliveries live in
//! the database, so a restart (or `kill -9`) resumes where the last server left off.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{client, seal, sign};
use crate::db::{self, deliveries::Due, deliveries::Outcome};
use crate::domain::now_ms;
use crate::domain::webhook::parse_url;
use crate::state::AppState;

/// Waits before the 2nd, 3rd, … attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h.
pub const SCHEDULE: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 86_400];

/// Deliveries claimed per round (sent concurrently).
const BATCH: i64 = 16;

/// The wait before attempt `done + 1` after `done` attempts, or `None` when they are used up.
pub fn retry_after_ms(done: i64, scale: f64) -> Option<i64> {
    let step = usize::try_from(done.checked_sub(1)?).ok()?;
    let secs = *SCHEDULE.get(step)?;
    // Scaled (a hidden setting, for tests), never below 1 ms.
    Some(((secs as f64) * 1000.0 * scale).max(1.0) as i64)
}

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let timeout = Duration::from_millis(state.config.webhook_timeout_ms);
    let client = match client::build(state.config.webhook_allow_private, timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries are off: no HTTP client");
            return;
        }
    };
    let idle = Duration::from_millis(if state.config.webhook_retry_scale < 1.0 {
        50
    } else {
        1000
    });
    // Shutdown is noticed between rounds even while a backlog keeps every round full, so a
    // stopping server waits for one round at most (its attempts' timeout).
    while !*stop.borrow() {
        let claimed = round(&state, &client).await;
        if claimed == Some(BATCH as usize) {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Claims one batch and sends it; returns how many it claimed (`None` on a database error).
async fn round(state: &AppState, client: &reqwest::Client) -> Option<usize> {
    let lease = 2 * state.config.webhook_timeout_ms as i64 + 1000;
    let now = now_ms();
    let due = match db::deliveries::claim(&state.db, now, now + lease, BATCH).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim webhook deliveries");
            return None;
        }
    };
    let n = due.len();
    let mut sending = JoinSet::new();
    for d in due {
        let (state, client) = (state.clone(), client.clone());
        sending.spawn(async move { attempt(&state, &client, d).await });
    }
    while sending.join_next().await.is_some() {}
    Some(n)
}

/// One attempt of one delivery, and its outcome stored.
async fn attempt(state: &AppState, client: &reqwest::Client, d: Due) {
    let result = send(state, client, &d).await;
    let done = d.attempts + 1;
    let scale = state.config.webhook_retry_scale;
    let (status, error) = match &result {
        Ok(code) => (Some(i64::from(*code)), None),
        Err(e) => (None, Some(e.as_str())),
    };
    let (outcome_state, next) = match result {
        Ok(code) if (200..300).contains(&code) => ("delivered", None),
        Ok(410) => {
            let reason = "the receiver answered 410 Gone";
            if let Err(e) = db::webhooks::disable(&state.db, &d.webhook_id, reason).await {
                tracing::warn!(error = %e, webhook_id = %d.webhook_id, "cannot disable webhook");
            }
            tracing::info!(webhook_id = %d.webhook_id, "webhook disabled: 410 Gone");
            ("failed", None)
        }
        _ => match retry_after_ms(done, scale) {
            Some(wait) => ("pending", Some(now_ms() + wait)),
            None => ("failed", None),
        },
    };
    tracing::info!(delivery_id = %d.id, webhook_id = %d.webhook_id, attempt = done,
        status = ?status, outcome = outcome_state, "webhook attempt");
    let outcome = Outcome {
        state: outcome_state,
        attempts: done,
        next_attempt_ms: next,
        status,
        error,
    };
    if let Err(e) = db::deliveries::finish(&state.db, &d.id, outcome).await {
        tracing::warn!(error = %e, delivery_id = %d.id, "cannot record webhook attempt");
    }
}

/// Sends the delivery; the receiver's status, or why there was none (never the URL, which
/// may carry a credential of the receiver's, and never the secret).
async fn send(state: &AppState, client: &reqwest::Client, d: &Due) -> Result<u16, String> {
    let url = parse_url(&d.url).map_err(|e| format!("url {e}"))?;
    if !client::destination_allowed(&url, state.config.webhook_allow_private).await {
        return Err("refused: the destination is a private address".to_owned());
    }
    let key = seal::key(state).await.map_err(|e| e.to_string())?;
    let secret = seal::open(&key, &d.secret_sealed).map_err(|e| e.to_string())?;
    let key = sign::key_of(&secret).ok_or("the signing secret is malformed")?;
    let timestamp = crate::domain::now();
    let signature = sign::sign(&key, &d.id, timestamp, &d.payload);
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| describe(&e.without_url()))?;
    Ok(res.status().as_u16())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = e.to_string();
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        format!("cannot connect: {last}")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        assert_eq!(retry_after_ms(1, 1.0), Some(5_000));
        assert_eq!(retry_after_ms(2, 1.0), Some(300_000));
        assert_eq!(retry_after_ms(7, 1.0), Some(86_400_000));
        assert_eq!(retry_after_ms(8, 1.0), None);
        assert_eq!(retry_after_ms(1, 0.001), Some(5));
    }
}
