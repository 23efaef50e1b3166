//! The command line: `serve` (the default) and the subcommands scripts use, one file per
//! group. Bad input gets a one-line error on standard error and exit code 2.

mod admin;
mod copy;
mod data;
mod forward_auth;
mod token;
mod workspace;

pub use admin::AdminCmd;
pub use data::AuditCmd;
pub use forward_auth::ForwardAuthCmd;
pub use token::TokenCmd;
pub use workspace::{ChannelCmd, WorkspaceCmd};

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::{self, audit::Actor};
use crate::error::AppError;
use crate::{BoxError, auth::password, ops};

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
    /// Forward auth for reverse proxies: check a rules file.
    #[command(subcommand)]
    ForwardAuth(ForwardAuthCmd),
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
    /// Copy a whole installation into a new, empty database (SQLite to PostgreSQL and back):
    /// the source is read in one snapshot; row counts per table are printed and must match.
    Copy {
        /// The database to copy (left unchanged), e.g. `sqlite://keyward.db`.
        #[arg(long)]
        from: String,
        /// The new database, e.g. `postgres://keyward:PASS@127.0.0.1:5432/keyward`.
        #[arg(long)]
        to: String,
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
    if let Command::Restore { from } = &command {
        return data::restore(&config, from).await;
    }
    if let Command::Copy { from, to } = &command {
        return copy::run(from, to).await;
    }
    if let Command::ForwardAuth(cmd) = &command {
        return forward_auth::run(&config, cmd);
    }
    let state = crate::prepare(config).await?;
    match command {
        Command::Serve
        | Command::Restore { .. }
        | Command::Copy { .. }
        | Command::ForwardAuth(_) => Ok(()),
        Command::Backup { to } => data::backup(&state, &to).await,
        Command::Audit(cmd) => data::export_audit(&state, cmd).await,
        Command::Setup { email, workspace } => admin::setup(&state, email, workspace).await,
        Command::Workspace(cmd) => workspace::create(&state, cmd).await,
        Command::Channel(cmd) => workspace::add_channel(&state, cmd).await,
        Command::Admin(cmd) => admin::run(&state, cmd).await,
        Command::Token(cmd) => token::run(&state, cmd).await,
    }?;
    state.db.close().await;
    Ok(())
}
