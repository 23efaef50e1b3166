//! `keyward backup`, `keyward restore` and `keyward audit export`.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use super::{Fail, fail, workspace};
use crate::AppState;
use crate::config::Config;
use crate::{db, maintenance};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Print a workspace's audit log as JSON Lines, oldest first.
    Export {
        #[arg(long)]
        workspace: String,
        /// Only entries at or after this time: RFC 3339 (`2026-11-01T00:00:00Z`) or a date
        /// (`2026-11-01`, UTC midnight).
        #[arg(long)]
        since: Option<String>,
    },
}

/// Restore works on the file itself: nothing may open (and so create or migrate) it first.
pub(super) async fn restore(config: &Config, from: &Path) -> Result<(), Fail> {
    let done = maintenance::restore(&config.database_url, from).await?;
    let s = &done.summary;
    println!(
        "restored {} from {}: {} tokens, schema version {}, {}",
        maintenance::database_path(&config.database_url)
            .unwrap_or_default()
            .display(),
        from.display(),
        s.tokens,
        s.schema,
        maintenance::human_size(s.bytes)
    );
    if let Some(previous) = done.previous {
        println!("the previous database is kept at {}", previous.display());
    }
    Ok(())
}

pub(super) async fn backup(state: &AppState, to: &Path) -> Result<(), Fail> {
    let db = &state.db;
    let s = maintenance::backup(db, to).await?;
    println!(
        "backup written to {}: {}, {} tokens, schema version {}, integrity ok",
        to.display(),
        maintenance::human_size(s.bytes),
        s.tokens,
        s.schema
    );
    Ok(())
}

/// Prints a workspace's audit log as JSON Lines, oldest first.
pub(super) async fn export_audit(state: &AppState, cmd: AuditCmd) -> Result<(), Fail> {
    let db = &state.db;
    let AuditCmd::Export {
        workspace: slug,
        since,
    } = cmd;
    let ws = workspace(db, &slug).await?;
    let since = match since.as_deref() {
        Some(t) => parse_since(t).map_err(fail)?,
        None => i64::MIN,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    loop {
        let page = db::audit::export(db, &ws.id, since, after, 1000).await?;
        for e in &page {
            serde_json::to_writer(&mut out, &e.to_json(&ws.slug))?;
            out.write_all(b"\n")?;
        }
        match page.last() {
            Some(last) => after = last.id,
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}

/// `--since`: RFC 3339, or a date meaning UTC midnight.
fn parse_since(s: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            format!(
                "--since {s:?} is neither RFC 3339 (2026-11-01T00:00:00Z) nor a date (2026-11-01)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_rfc3339_or_a_date() {
        assert_eq!(parse_since("2026-11-01"), Ok(1_793_491_200));
        assert_eq!(parse_since("2026-11-01T00:00:01Z"), Ok(1_793_491_201));
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("2026-13-01").is_err());
    }
}
