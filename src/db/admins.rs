//! Admins: the people who sign in to the dashboard.

use sqlx::SqliteConnection;

use super::Db;
use crate::domain::{ids::new_id, now};

#[derive(Clone, Debug)]
pub struct Admin {
    pub id: String,
    pub email: String,
}

/// An admin with the stored argon2id hash, for sign-in only.
pub struct Credentials {
    pub id: String,
    pub password_hash: String,
}

pub async fn count(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("SELECT COUNT(*) FROM admins")
        .fetch_one(conn)
        .await
}

pub async fn exists(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!("SELECT id FROM admins LIMIT 1")
        .fetch_optional(db)
        .await?
        .is_some())
}

pub async fn create(
    conn: &mut SqliteConnection,
    email: &str,
    password_hash: &str,
) -> Result<Admin, sqlx::Error> {
    let id = new_id("adm");
    let at = now();
    sqlx::query!(
        "INSERT INTO admins (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
        id,
        email,
        password_hash,
        at
    )
    .execute(conn)
    .await?;
    Ok(Admin {
        id,
        email: email.to_owned(),
    })
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Admin>, sqlx::Error> {
    sqlx::query_as!(Admin, "SELECT id, email FROM admins WHERE id = ?", id)
        .fetch_optional(db)
        .await
}

pub async fn by_email(
    conn: &mut SqliteConnection,
    email: &str,
) -> Result<Option<Admin>, sqlx::Error> {
    sqlx::query_as!(Admin, "SELECT id, email FROM admins WHERE email = ?", email)
        .fetch_optional(conn)
        .await
}

pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as!(
        Credentials,
        "SELECT id, password_hash FROM admins WHERE email = ?",
        email
    )
    .fetch_optional(db)
    .await
}

pub async fn password_hash(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT password_hash FROM admins WHERE id = ?", id)
        .fetch_optional(db)
        .await
}

/// The admin who was created first (the default member of new workspaces in the CLI).
pub async fn first(conn: &mut SqliteConnection) -> Result<Option<Admin>, sqlx::Error> {
    sqlx::query_as!(
        Admin,
        "SELECT id, email FROM admins ORDER BY created_at, rowid LIMIT 1"
    )
    .fetch_optional(conn)
    .await
}

/// Sets an admin's password and ends their sessions but `keep_session` (the id hash of the one
/// that changed it), in one transaction; `false` when there is no such admin.
pub async fn set_password(
    db: &Db,
    id: &str,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query!(
        "UPDATE admins SET password_hash = ? WHERE id = ?",
        password_hash,
        id
    )
    .execute(&mut *tx)
    .await?;
    super::sessions::end_for_admin(&mut tx, id, keep_session).await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Creates the first admin and workspace in one immediate transaction; `None` when an admin
/// already exists (setup is refused then).
pub async fn create_first(
    db: &Db,
    email: &str,
    password_hash: &str,
    workspace_name: &str,
) -> Result<Option<(Admin, super::workspaces::Workspace)>, sqlx::Error> {
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    if count(&mut tx).await? > 0 {
        return Ok(None);
    }
    let admin = create(&mut tx, email, password_hash).await?;
    let ws =
        super::workspaces::create(&mut tx, workspace_name, std::slice::from_ref(&admin.id)).await?;
    tx.commit().await?;
    Ok(Some((admin, ws)))
}
