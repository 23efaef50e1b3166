//! Admins: the people who sign in to the dashboard. Emails compare without case on both
//! backends (SQLite: `COLLATE NOCASE`; PostgreSQL: `lower(email)`, its unique key).

use super::{Conn, Db, on};
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

pub async fn count(conn: Conn<'_>) -> Result<i64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!" FROM admins"#)
            .fetch_one(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!(r#"SELECT COUNT(*) AS "n!" FROM admins -- postgres"#)
            .fetch_one(&mut *c)
            .await?,
    ))
}

pub async fn exists(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(count(db.acquire().await?.conn()).await? > 0)
}

pub async fn create(
    conn: Conn<'_>,
    email: &str,
    password_hash: &str,
) -> Result<Admin, sqlx::Error> {
    let id = new_id("adm");
    let at = now();
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO admins (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
            id, email, password_hash, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO admins (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
            id, email, password_hash, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(Admin {
        id,
        email: email.to_owned(),
    })
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Admin>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(Admin, "SELECT id, email FROM admins WHERE id = ?", id)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_as!(Admin, "SELECT id, email FROM admins WHERE id = $1", id)
            .fetch_optional(&mut *c)
            .await?,
    ))
}

pub async fn by_email(conn: Conn<'_>, email: &str) -> Result<Option<Admin>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(Admin, "SELECT id, email FROM admins WHERE email = ?", email)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_as!(
            Admin,
            "SELECT id, email FROM admins WHERE lower(email) = lower($1)",
            email
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Credentials,
            "SELECT id, password_hash FROM admins WHERE email = ?",
            email
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Credentials,
            "SELECT id, password_hash FROM admins WHERE lower(email) = lower($1)",
            email
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

pub async fn password_hash(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_scalar!("SELECT password_hash FROM admins WHERE id = ?", id)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!("SELECT password_hash FROM admins WHERE id = $1", id)
            .fetch_optional(&mut *c)
            .await?,
    ))
}

/// The admin who was created first (the default member of new workspaces in the CLI).
pub async fn first(conn: Conn<'_>) -> Result<Option<Admin>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_as!(
            Admin,
            "SELECT id, email FROM admins ORDER BY created_at, rowid LIMIT 1"
        )
        .fetch_optional(&mut *c)
        .await?,
        // No insertion order to break a tie within one second: the id decides.
        postgres: sqlx::query_as!(
            Admin,
            "SELECT id, email FROM admins ORDER BY created_at, id LIMIT 1"
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

/// Sets an admin's password and ends their sessions but `keep_session` (the id hash of the one
/// that changed it), in one transaction; `false` when there is no such admin.
pub async fn set_password(
    db: &Db,
    id: &str,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = on!(tx.conn(), |c|
        sqlite: sqlx::query!(
            "UPDATE admins SET password_hash = ? WHERE id = ?",
            password_hash, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "UPDATE admins SET password_hash = $1 WHERE id = $2",
            password_hash, id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    super::sessions::end_for_admin(tx.conn(), id, keep_session).await?;
    tx.commit().await?;
    Ok(done == 1)
}

/// Creates the first admin and workspace in one write transaction; `None` when an admin
/// already exists (setup is refused then).
pub async fn create_first(
    db: &Db,
    email: &str,
    password_hash: &str,
    workspace_name: &str,
) -> Result<Option<(Admin, super::workspaces::Workspace)>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    if count(tx.conn()).await? > 0 {
        return Ok(None);
    }
    let admin = create(tx.conn(), email, password_hash).await?;
    super::setup_codes::delete_all(tx.conn()).await?;
    let ws = super::workspaces::create(tx.conn(), workspace_name, std::slice::from_ref(&admin.id))
        .await?;
    tx.commit().await?;
    Ok(Some((admin, ws)))
}

/// Notes a successful sign-in (the members page shows it).
pub async fn mark_signed_in(db: &Db, id: &str, at: i64) -> Result<(), sqlx::Error> {
    on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query!("UPDATE admins SET last_signin_at = ? WHERE id = ?", at, id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("UPDATE admins SET last_signin_at = $1 WHERE id = $2", at, id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(())
}

/// Deletes an admin; their memberships and sessions go with them (foreign keys), the tokens
/// they created and the audit entries that name them stay.
pub async fn delete(conn: Conn<'_>, id: &str) -> Result<bool, sqlx::Error> {
    let done = on!(conn, |c|
        sqlite: sqlx::query!("DELETE FROM admins WHERE id = ?", id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        postgres: sqlx::query!("DELETE FROM admins WHERE id = $1", id)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    );
    Ok(done == 1)
}
