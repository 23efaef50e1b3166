//! The e-mail digest of expiry notices (with `--smtp-url` and `--smtp-from`): each admin gets
//! at most one a day, listing the tokens of their workspaces that reached a lead time or
//! expired since their last digest, with links (`--public-url`).

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::db::{self, notices::DigestLine};
use crate::domain::now;
use crate::state::AppState;

/// At most one digest per admin in this many seconds.
const EVERY: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("e-mail: {0}")]
    Mail(String),
}

/// Sends the digests that are due; does nothing without SMTP settings.
pub async fn send_due(state: &AppState) -> Result<usize, DigestError> {
    let (Some(url), Some(from)) = (&state.config.smtp_url, &state.config.smtp_from) else {
        return Ok(0);
    };
    let from: Mailbox = from
        .parse()
        .map_err(|e| DigestError::Mail(format!("{e}")))?;
    let mut tx = state.db.begin_write().await?;
    let lines = db::notices::take_digests(tx.conn(), now(), EVERY).await?;
    tx.commit().await?;
    if lines.is_empty() {
        return Ok(0);
    }
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build();
    let mut sent = 0;
    for admin in lines.chunk_by(|a, b| a.admin_id == b.admin_id) {
        let message = compose(&from, admin, &state.config.base_url())?;
        match mailer.send(message).await {
            Ok(_) => sent += 1,
            Err(e) => tracing::warn!(error = %e, admin_id = %admin[0].admin_id, "digest not sent"),
        }
    }
    Ok(sent)
}

fn compose(from: &Mailbox, lines: &[DigestLine], base: &str) -> Result<Message, DigestError> {
    let mut body = String::from("These API tokens expire soon or have expired:\n\n");
    let mut seen: Vec<&str> = Vec::new();
    for l in lines {
        if seen.contains(&l.token_id.as_str()) {
            continue;
        }
        seen.push(&l.token_id);
        let when = if l.kind == "expired" {
            "expired".to_owned()
        } else if l.days_left == 1 {
            "expires within 1 day".to_owned()
        } else {
            format!("expires within {} days", l.days_left)
        };
        body.push_str(&format!(
            "- {} ({}): {when}\n  {base}/w/{}/settings/developer/api-tokens/{}\n",
            l.token_name, l.slug, l.slug, l.token_id
        ));
    }
    body.push_str("\nRegenerate or replace them before they stop working.\n— keyward\n");
    let to: Mailbox = lines[0]
        .email
        .parse()
        .map_err(|e| DigestError::Mail(format!("{e}")))?;
    let count = seen.len();
    let subject = if count == 1 {
        "keyward: 1 API token expires soon".to_owned()
    } else {
        format!("keyward: {count} API tokens expire soon")
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .body(body)
        .map_err(|e| DigestError::Mail(e.to_string()))
}
