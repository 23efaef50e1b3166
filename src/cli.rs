//! The command line: `serve` (the default) and the subcommands scripts use. Bad input gets a
//! one-line error on standard error and exit code 2.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::{self, audit::Actor};
use crate::domain::account::{
    parse_channel_kind, parse_channel_name, parse_email, parse_workspace_name,
};
use crate::domain::draft::{self, DraftBase, DraftInput, ExpiryInput};
use crate::domain::{now, status::Status};
use crate::error::AppError;
use crate::{BoxError, auth::password, maintenance, ops};

#[derive(Parser, Debug)]
#[command(
    name = "keyward",
    version = crate::maintenance::VERSION.as_str(),
    about = "Self-hosted API token service",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (also what a bare `keyward` does).
    Serve,
    /// Create the first admin and workspace without the browser (password on standard input).
    Setup {
        #[arg(long)]
        email: String,
        #[arg(long)]
        workspace: String,
    },
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Manage channels.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Manage admins.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Write a consistent copy of the database while the server runs, and check it.
    Backup {
        /// The new backup file (never overwritten).
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the database with a backup (stop the server first). The current database is
    /// kept beside it as `…before-restore-TIME`.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
}

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

#[derive(Subcommand, Debug)]
pub enum WorkspaceCmd {
    /// Create a workspace; prints its slug.
    Create {
        name: String,
        /// Admins who become members (default: the first admin).
        #[arg(long = "admin")]
        admins: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ChannelCmd {
    /// Add a channel; prints its id.
    Add {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        kind: String,
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Add an admin (password on standard input).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
    },
    /// Set a new password for an admin (password on standard input).
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token; prints the secret alone on standard output.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
        /// Channel names (or ids) the token is limited to.
        #[arg(long = "channel")]
        channels: Vec<String>,
        #[arg(long = "allow-ip")]
        allow_ips: Vec<String>,
        /// Days until the token expires (1 to 36,500).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        expires_in_days: Option<u32>,
        #[arg(long, default_value = "standard")]
        tier: String,
    },
    /// Revoke a token.
    Revoke {
        #[arg(long)]
        workspace: String,
        id: String,
    },
    /// List a workspace's tokens.
    List {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
    },
}

/// A CLI failure: the message is printed as one line.
struct Fail(String);

impl<E: Into<BoxError>> From<E> for Fail {
    fn from(e: E) -> Self {
        let e: BoxError = e.into();
        if let Some(app) = e.downcast_ref::<AppError>() {
            return Self(app_message(app));
        }
        Self(e.to_string())
    }
}

fn app_message(e: &AppError) -> String {
    match e {
        AppError::Validation(errors) => errors
            .iter()
            .map(|(field, msgs)| format!("{field}: {}", msgs.join("; ")))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn fail(msg: impl Into<String>) -> Fail {
    Fail(msg.into())
}

/// Validation messages as one line: `name: …; permissions: …`.
fn one_line(errors: &crate::domain::token::FieldErrors) -> String {
    errors
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn run(cli: Cli) -> ExitCode {
    let Some(command) = cli.command else {
        return serve(cli.config).await;
    };
    if matches!(command, Command::Serve) {
        return serve(cli.config).await;
    }
    match run_command(cli.config, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("error: {}", msg.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    match crate::run_server(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_password() -> Result<String, Fail> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| fail(format!("cannot read the password from standard input: {e}")))?;
    let pw = input.lines().next().unwrap_or_default().to_owned();
    password::check_rules(&pw).map_err(|e| fail(format!("{e} (read from standard input)")))?;
    Ok(pw)
}

/// The command line acts with full grant; servers notice its changes through the token epoch.
fn cli_ctx<'a>(
    state: &'a crate::AppState,
    workspace_id: &'a str,
    actor: &'a Actor,
) -> ops::Ctx<'a> {
    ops::Ctx::new(state, workspace_id, actor, None, crate::ops::Acting::Full)
}

async fn workspace(db: &db::Db, slug: &str) -> Result<db::workspaces::Workspace, Fail> {
    db::workspaces::by_slug(db, slug)
        .await?
        .ok_or_else(|| fail(format!("no workspace with slug {slug:?}")))
}

async fn run_command(config: Config, command: Command) -> Result<(), Fail> {
    // Restore works on the file itself: nothing may open (and so create or migrate) it first.
    if let Command::Restore { from } = &command {
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
        return Ok(());
    }
    let prefix = config.token_prefix.clone();
    let catalog = config.permission_catalog.clone();
    let state = crate::prepare(config).await?;
    let db = &state.db;
    match command {
        Command::Serve | Command::Restore { .. } => {}
        Command::Backup { to } => {
            let s = maintenance::backup(db, &to).await?;
            println!(
                "backup written to {}: {}, {} tokens, schema version {}, integrity ok",
                to.display(),
                maintenance::human_size(s.bytes),
                s.tokens,
                s.schema
            );
        }
        Command::Audit(AuditCmd::Export {
            workspace: slug,
            since,
        }) => {
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
        }
        Command::Setup { email, workspace } => {
            let email = parse_email(&email).map_err(fail)?;
            let name = parse_workspace_name(&workspace).map_err(fail)?;
            if db::admins::exists(db).await? {
                return Err(fail(
                    "an admin already exists; setup is refused (use `keyward admin add`)",
                ));
            }
            let hash = password::hash(read_password()?).await?;
            let (_, ws) = db::admins::create_first(db, &email, &hash, &name)
                .await?
                .ok_or_else(|| fail("an admin already exists; setup is refused"))?;
            println!("{}", ws.slug);
        }
        Command::Workspace(WorkspaceCmd::Create { name, admins }) => {
            let name = parse_workspace_name(&name).map_err(fail)?;
            let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
            let mut ids = Vec::new();
            if admins.is_empty() {
                let first = db::admins::first(&mut tx)
                    .await?
                    .ok_or_else(|| fail("no admin exists yet; run `keyward setup` first"))?;
                ids.push(first.id);
            }
            for email in admins {
                let admin = db::admins::by_email(&mut tx, email.trim())
                    .await?
                    .ok_or_else(|| fail(format!("no admin with email {email:?}")))?;
                ids.push(admin.id);
            }
            let ws = db::workspaces::create(&mut tx, &name, &ids).await?;
            tx.commit().await?;
            println!("{}", ws.slug);
        }
        Command::Channel(ChannelCmd::Add {
            workspace: slug,
            kind,
            name,
        }) => {
            let ws = workspace(db, &slug).await?;
            let name = parse_channel_name(&name).map_err(fail)?;
            let kind = parse_channel_kind(&kind).map_err(fail)?;
            let ch = db::channels::create(db, &ws.id, &name, &kind)
                .await
                .map_err(|e| {
                    if db::is_unique_violation(&e) {
                        fail(format!("a channel named {name:?} already exists"))
                    } else {
                        e.into()
                    }
                })?;
            println!("{}", ch.id);
        }
        Command::Admin(AdminCmd::Add { email, workspaces }) => {
            let email = parse_email(&email).map_err(fail)?;
            let mut wss = Vec::new();
            for slug in &workspaces {
                wss.push(workspace(db, slug).await?);
            }
            let hash = password::hash(read_password()?).await?;
            let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
            if db::admins::by_email(&mut tx, &email).await?.is_some() {
                return Err(fail(format!(
                    "an admin with email {email:?} already exists"
                )));
            }
            let admin = db::admins::create(&mut tx, &email, &hash).await?;
            for ws in &wss {
                db::workspaces::add_member(&mut tx, &ws.id, &admin.id).await?;
            }
            tx.commit().await?;
            println!("{}", admin.id);
        }
        Command::Admin(AdminCmd::ResetPassword { email }) => {
            let mut conn = db.acquire().await?;
            let admin = db::admins::by_email(&mut conn, email.trim())
                .await?
                .ok_or_else(|| fail(format!("no admin with email {email:?}")))?;
            drop(conn);
            let hash = password::hash(read_password()?).await?;
            // Every session of that admin ends: whoever had one must sign in again.
            db::admins::set_password(db, &admin.id, &hash, None).await?;
            eprintln!("password changed for {}", admin.email);
        }
        Command::Token(TokenCmd::Create {
            workspace: slug,
            name,
            description,
            permissions,
            channels,
            allow_ips,
            expires_in_days,
            tier,
        }) => {
            let ws = workspace(db, &slug).await?;
            let channel_ids = if channels.is_empty() {
                None
            } else {
                let all = db::channels::list(db, &ws.id).await?;
                let mut ids = Vec::new();
                for c in &channels {
                    let found = all
                        .iter()
                        .find(|ch| ch.id == *c || ch.name == *c)
                        .ok_or_else(|| fail(format!("no channel {c:?} in workspace {slug}")))?;
                    ids.push(found.id.clone());
                }
                Some(ids)
            };
            let input = DraftInput {
                name: Some(name),
                description: Some(description.unwrap_or_default()),
                permissions: Some(permissions),
                channels: Some(channel_ids),
                ip_allowlist: Some(allow_ips),
                expiry: expires_in_days
                    .map_or(ExpiryInput::Never, |d| ExpiryInput::InDays(i64::from(d))),
                tier: Some(tier),
            };
            let draft = draft::validate(input, DraftBase::default(), &catalog, now())
                .map_err(|errors| fail(one_line(&errors)))?;
            let actor = Actor::cli();
            let ctx = cli_ctx(&state, &ws.id, &actor);
            let (_, secret) = ops::create(&ctx, &draft, &prefix).await?;
            println!("{}", secret.expose());
        }
        Command::Token(TokenCmd::Revoke {
            workspace: slug,
            id,
        }) => {
            let ws = workspace(db, &slug).await?;
            let token = db::tokens::get(db, &ws.id, &id)
                .await?
                .ok_or_else(|| fail(format!("no token {id:?} in workspace {slug}")))?;
            let actor = Actor::cli();
            ops::set_revoked(&cli_ctx(&state, &ws.id, &actor), &token.id, true).await?;
            eprintln!("revoked {}", token.id);
        }
        Command::Token(TokenCmd::List {
            workspace: slug,
            json,
        }) => {
            let ws = workspace(db, &slug).await?;
            let mut all = Vec::new();
            let mut q = db::tokens::ListQuery {
                limit: 500,
                ..Default::default()
            };
            loop {
                let (page, more) = db::tokens::list(db, &ws.id, &q).await?;
                q.after = page.last().map(|t| (t.created_at, t.id.clone()));
                all.extend(page);
                if !more {
                    break;
                }
            }
            let now = now();
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|t| crate::api::model::TokenObject::new(t, now, &state.config))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else {
                println!(
                    "{:<26} {:<14} {:<22} {:<40} PERMISSIONS",
                    "ID", "STATUS", "HINT", "NAME"
                );
                for t in &all {
                    let status: Status = t.status(now);
                    println!(
                        "{:<26} {:<14} {:<22} {:<40} {}",
                        t.id,
                        status.code(),
                        t.hint,
                        t.name,
                        t.permissions.to_stored()
                    );
                }
            }
        }
    }
    state.db.close().await;
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
