//! A workspace's members: who they are, since when, when they last signed in; removing one
//! (never the last) ends their sessions in the same transaction.

use super::{Conn, Db, on};

/// One member as the members page lists them.
#[derive(Clone, Debug)]
pub struct Member {
    pub admin_id: String,
    pub email: String,
    pub added_at: i64,
    pub last_signin_at: Option<i64>,
}

/// A workspace's members by email.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Member>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Member,
            r#"SELECT a.id AS "admin_id!", a.email AS "email!", m.created_at AS "added_at!",
                      a.last_signin_at
               FROM memberships m JOIN admins a ON a.id = m.admin_id
               WHERE m.workspace_id = ? ORDER BY a.email"#,
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Member,
            r#"SELECT a.id AS "admin_id!", a.email AS "email!", m.created_at AS "added_at!",
                      a.last_signin_at
               FROM memberships m JOIN admins a ON a.id = m.admin_id
               WHERE m.workspace_id = $1 ORDER BY lower(a.email) COLLATE "C""#,
            workspace_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// How many members a workspace has.
pub async fn count(conn: Conn<'_>, workspace_id: &str) -> Result<i64, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM memberships WHERE workspace_id = ?"#,
            workspace_id
        )
        .fetch_one(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!" FROM memberships WHERE workspace_id = $1"#,
            workspace_id
        )
        .fetch_one(&mut *c)
        .await?,
    ))
}

/// Whether `admin_id` belongs to the workspace.
pub async fn is_member(
    conn: Conn<'_>,
    workspace_id: &str,
    admin_id: &str,
) -> Result<bool, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(
            "SELECT admin_id FROM memberships WHERE workspace_id = ? AND admin_id = ?",
            workspace_id, admin_id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            "SELECT admin_id FROM memberships WHERE workspace_id = $1 AND admin_id = $2",
            workspace_id, admin_id
        )
        .fetch_optional(&mut *c)
        .await?,
    )
    .is_some())
}

/// Deletes one membership; `false` when there was none.
pub async fn delete(
    conn: Conn<'_>,
    workspace_id: &str,
    admin_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = on!(conn, |c|
        sqlite: sqlx::query!(
            "DELETE FROM memberships WHERE workspace_id = ? AND admin_id = ?",
            workspace_id, admin_id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "DELETE FROM memberships WHERE workspace_id = $1 AND admin_id = $2",
            workspace_id, admin_id
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(done == 1)
}

/// The workspaces (names) in which `admin_id` is the only member.
pub async fn sole_member_of(conn: Conn<'_>, admin_id: &str) -> Result<Vec<String>, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!(
            r#"SELECT w.slug AS "slug!" FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
               WHERE m.admin_id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships o
                     WHERE o.workspace_id = m.workspace_id AND o.admin_id <> ?1)
               ORDER BY w.slug"#,
            admin_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_scalar!(
            r#"SELECT w.slug AS "slug!" FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
               WHERE m.admin_id = $1 AND NOT EXISTS (SELECT 1 FROM memberships o
                     WHERE o.workspace_id = m.workspace_id AND o.admin_id <> $1)
               ORDER BY w.slug"#,
            admin_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}
