//! `keyward setup` and `keyward admin add|reset-password|remove` (passwords on standard input).

use clap::Subcommand;

use super::{Fail, fail, read_password, workspace};
use crate::AppState;
use crate::auth::password;
use crate::db;
use crate::db::audit::{AccountEntry, Actor};
use crate::domain::account::{parse_email, parse_workspace_name};
use crate::domain::audit::action;

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
    /// Remove an admin: their sessions end; the tokens they created keep working. Refused
    /// while they are the only member of a workspace.
    Remove {
        #[arg(long)]
        email: String,
    },
}

/// The first admin and workspace, without the browser; prints the workspace's slug.
pub(super) async fn setup(state: &AppState, email: String, workspace: String) -> Result<(), Fail> {
    let db = &state.db;
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
    Ok(())
}

pub(super) async fn run(state: &AppState, cmd: AdminCmd) -> Result<(), Fail> {
    match cmd {
        AdminCmd::Add { email, workspaces } => add(state, email, workspaces).await,
        AdminCmd::ResetPassword { email } => reset_password(state, email).await,
        AdminCmd::Remove { email } => remove(state, email).await,
    }
}

async fn add(state: &AppState, email: String, workspaces: Vec<String>) -> Result<(), Fail> {
    let db = &state.db;
    let email = parse_email(&email).map_err(fail)?;
    let mut wss = Vec::new();
    for slug in &workspaces {
        wss.push(workspace(db, slug).await?);
    }
    let hash = password::hash(read_password()?).await?;
    let mut tx = db.begin_write().await?;
    if db::admins::by_email(tx.conn(), &email).await?.is_some() {
        return Err(fail(format!(
            "an admin with email {email:?} already exists"
        )));
    }
    let admin = db::admins::create(tx.conn(), &email, &hash).await?;
    for ws in &wss {
        db::workspaces::add_member(tx.conn(), &ws.id, &admin.id).await?;
    }
    tx.commit().await?;
    println!("{}", admin.id);
    Ok(())
}

/// Every session of that admin ends: whoever had one must sign in again.
async fn reset_password(state: &AppState, email: String) -> Result<(), Fail> {
    let db = &state.db;
    let mut conn = db.acquire().await?;
    let admin = db::admins::by_email(conn.conn(), email.trim())
        .await?
        .ok_or_else(|| fail(format!("no admin with email {email:?}")))?;
    drop(conn);
    let hash = password::hash(read_password()?).await?;
    db::admins::set_password(db, &admin.id, &hash, None).await?;
    eprintln!("password changed for {}", admin.email);
    Ok(())
}

/// Deletes the admin with their memberships and sessions, in one write transaction, and
/// records the removal in each workspace they belonged to. Their tokens stay.
async fn remove(state: &AppState, email: String) -> Result<(), Fail> {
    let mut tx = state.db.begin_write().await?;
    let admin = db::admins::by_email(tx.conn(), email.trim())
        .await?
        .ok_or_else(|| fail(format!("no admin with email {email:?}")))?;
    if db::admins::count(tx.conn()).await? <= 1 {
        return Err(fail(format!("{} is the last admin", admin.email)));
    }
    let sole = db::members::sole_member_of(tx.conn(), &admin.id).await?;
    if !sole.is_empty() {
        return Err(fail(format!(
            "{} is the only member of workspace(s) {}; add another admin there first",
            admin.email,
            sole.join(", ")
        )));
    }
    let entry = AccountEntry {
        admin_id: &admin.id,
        actor: &Actor::cli(),
        action: action::MEMBER_REMOVED,
        ip: None,
        details: format!("removed {} (keyward admin remove)", admin.email),
    };
    db::audit::record_for_admin(tx.conn(), entry).await?;
    let ended = db::sessions::end_for_admin(tx.conn(), &admin.id, None).await?;
    db::admins::delete(tx.conn(), &admin.id).await?;
    tx.commit().await?;
    eprintln!("removed {}; {ended} session(s) ended", admin.email);
    Ok(())
}
