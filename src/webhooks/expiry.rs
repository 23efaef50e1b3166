//! The expiry sweep, at start and then every minute: each token with an expiry emits
//! `token.expiring` once per lead time of `--expiry-notice-days` it reaches (with `days_left`;
//! when several lead times are reached at once, only the nearest is sent) and `token.expired`
//! once when it expires. The notices table's unique key makes each happen once in total, and
//! the write lock makes servers sweeping at once take turns.

use std::time::Duration;

use tokio::sync::watch;

use super::{Event, Subject, emit, system_actor};
use crate::db::{self, notices::Candidate};
use crate::domain::now;
use crate::state::AppState;

const DAY: i64 = 86_400;

/// Days a delivery that ended (delivered or failed) is kept for the endpoint's page and
/// resending, as Stripe keeps its events.
pub const DELIVERIES_KEPT_DAYS: i64 = 30;
/// How often ended deliveries past [`DELIVERIES_KEPT_DAYS`] are deleted (a scan of the table).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs a sweep now and then every `every` until `stop` turns true; deletes old deliveries
/// and expired invitations now and then every hour.
pub async fn run(state: AppState, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut pruned: Option<tokio::time::Instant> = None;
    loop {
        match sweep(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(notices = n, "expiry notices recorded"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        if let Err(e) = super::digest::send_due(&state).await {
            tracing::warn!(error = %e, "expiry digest failed");
        }
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(tokio::time::Instant::now());
            if let Err(e) = prune_deliveries(&state).await {
                tracing::warn!(error = %e, "could not delete old webhook deliveries");
            }
            if let Err(e) = prune_invitations(&state).await {
                tracing::warn!(error = %e, "could not delete expired invitations");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Deletes deliveries that ended more than [`DELIVERIES_KEPT_DAYS`] after they were made
/// (any server may; a second one finds nothing left). Returns how many went.
pub async fn prune_deliveries(state: &AppState) -> Result<u64, sqlx::Error> {
    let gone = db::deliveries::prune(&state.db, now() - DELIVERIES_KEPT_DAYS * DAY).await?;
    if gone > 0 {
        tracing::info!(deliveries = gone, "old webhook deliveries deleted");
    }
    Ok(gone)
}

/// Deletes invitations whose link has expired, in every workspace (a new invitation deletes
/// its own workspace's). Returns how many went.
pub async fn prune_invitations(state: &AppState) -> Result<u64, sqlx::Error> {
    let gone = db::invites::prune(&state.db, now()).await?;
    if gone > 0 {
        tracing::info!(invitations = gone, "expired invitations deleted");
    }
    Ok(gone)
}

/// What a token is due, given the lead times (days, any order): `(kinds to record, the one
/// that is sent, days_left)`; `None` when it has reached none yet.
pub fn due(expires_at: i64, at: i64, lead_days: &[u32]) -> Option<(Vec<String>, String, i64)> {
    let left = expires_at - at;
    if left <= 0 {
        return Some((vec!["expired".to_owned()], "expired".to_owned(), 0));
    }
    let mut reached: Vec<u32> = lead_days
        .iter()
        .copied()
        .filter(|d| left <= i64::from(*d) * DAY)
        .collect();
    reached.sort_unstable();
    let nearest = *reached.first()?;
    let days_left = (left + DAY - 1) / DAY;
    let kinds = reached.iter().map(|d| format!("expiring:{d}")).collect();
    Some((kinds, format!("expiring:{nearest}"), days_left))
}

/// One sweep; returns how many notices it sent.
pub async fn sweep(state: &AppState) -> Result<usize, sqlx::Error> {
    let days = &state.config.expiry_notice_days;
    let horizon = i64::from(days.iter().copied().max().unwrap_or(0)) * DAY;
    let mut tx = state.db.begin_write().await?;
    let at = now();
    let candidates = db::notices::candidates(tx.conn(), at, horizon).await?;
    let mut sent = 0;
    for t in &candidates {
        let Some((kinds, send, days_left)) = due(t.expires_at, at, days) else {
            continue;
        };
        let mut new = false;
        for kind in &kinds {
            let added = db::notices::record(tx.conn(), t, kind, days_left).await?;
            new |= added && *kind == send;
        }
        if new {
            notify(state, &mut tx, t, &send, days_left).await?;
            sent += 1;
        }
    }
    tx.commit().await?;
    Ok(sent)
}

async fn notify(
    state: &AppState,
    tx: &mut db::Tx<'static>,
    t: &Candidate,
    kind: &str,
    days_left: i64,
) -> Result<(), sqlx::Error> {
    let expired = kind == "expired";
    let actor = system_actor();
    let event = Event {
        workspace_id: &t.workspace_id,
        kind: if expired {
            "token.expired"
        } else {
            "token.expiring"
        },
        token: Subject::Id(&t.id),
        actor: &actor,
        days_left: (!expired).then_some(days_left),
    };
    emit(tx.conn(), &event, &state.config).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_reached_lead_time_is_sent_and_the_farther_ones_recorded() {
        let lead = [30, 7, 1];
        assert_eq!(due(100 * DAY, 0, &lead), None);
        let (kinds, send, left) = due(DAY - 60, 0, &lead).unwrap_or_default();
        assert_eq!(kinds, ["expiring:1", "expiring:7", "expiring:30"]);
        assert_eq!((send.as_str(), left), ("expiring:1", 1));
        let (_, send, left) = due(20 * DAY, 0, &lead).unwrap_or_default();
        assert_eq!((send.as_str(), left), ("expiring:30", 20));
        let (_, send, left) = due(0, 5, &lead).unwrap_or_default();
        assert_eq!((send.as_str(), left), ("expired", 0));
    }
}
