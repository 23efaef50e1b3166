//! `keyward workspace create` and `keyward channel add`.

use clap::Subcommand;

use super::{Fail, fail, workspace};
use crate::AppState;
use crate::db;
use crate::domain::account::{parse_channel_kind, parse_channel_name, parse_workspace_name};

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

/// Creates a workspace with the named admins (default: the first admin); prints its slug.
pub(super) async fn create(state: &AppState, cmd: WorkspaceCmd) -> Result<(), Fail> {
    let db = &state.db;
    let WorkspaceCmd::Create { name, admins } = cmd;
    let name = parse_workspace_name(&name).map_err(fail)?;
    let mut tx = db.begin_write().await?;
    let mut ids = Vec::new();
    if admins.is_empty() {
        let first = db::admins::first(tx.conn())
            .await?
            .ok_or_else(|| fail("no admin exists yet; run `keyward setup` first"))?;
        ids.push(first.id);
    }
    for email in admins {
        let admin = db::admins::by_email(tx.conn(), email.trim())
            .await?
            .ok_or_else(|| fail(format!("no admin with email {email:?}")))?;
        ids.push(admin.id);
    }
    let ws = db::workspaces::create(tx.conn(), &name, &ids).await?;
    tx.commit().await?;
    println!("{}", ws.slug);
    Ok(())
}

/// Adds a channel; prints its id.
pub(super) async fn add_channel(state: &AppState, cmd: ChannelCmd) -> Result<(), Fail> {
    let db = &state.db;
    let ChannelCmd::Add {
        workspace: slug,
        kind,
        name,
    } = cmd;
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
    Ok(())
}
