//! Workspaces and memberships.

use serde::Serialize;

use super::{Conn, Db, on};
use crate::domain::{ids::new_id, now, slug::slugify};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub slug: String,
}

async fn slug_taken(conn: Conn<'_>, slug: &str) -> Result<bool, sqlx::Error> {
    Ok(on!(conn, |c|
        sqlite: sqlx::query_scalar!("SELECT id FROM workspaces WHERE slug = ?", slug)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_scalar!("SELECT id FROM workspaces WHERE slug = $1", slug)
            .fetch_optional(&mut *c)
            .await?,
    )
    .is_some())
}

/// Creates a workspace with a unique slug (`acme`, `acme-2`, …) and makes `admin_ids` members.
pub async fn create(
    mut conn: Conn<'_>,
    name: &str,
    admin_ids: &[String],
) -> Result<Workspace, sqlx::Error> {
    let base = slugify(name);
    let base = if base.is_empty() {
        "workspace".to_owned()
    } else {
        base
    };
    let mut slug = base.clone();
    let mut n = 1;
    while slug_taken(conn.re(), &slug).await? {
        n += 1;
        slug = format!("{base}-{n}");
    }
    let ws = Workspace {
        id: new_id("ws"),
        name: name.to_owned(),
        slug,
    };
    let at = now();
    on!(conn.re(), |c|
        sqlite: sqlx::query!(
            "INSERT INTO workspaces (id, name, slug, created_at) VALUES (?, ?, ?, ?)",
            ws.id, ws.name, ws.slug, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO workspaces (id, name, slug, created_at) VALUES ($1, $2, $3, $4)",
            ws.id, ws.name, ws.slug, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    for admin_id in admin_ids {
        add_member(conn.re(), &ws.id, admin_id).await?;
    }
    Ok(ws)
}

/// The workspaces an admin belongs to, by name.
pub async fn for_admin(db: &Db, admin_id: &str) -> Result<Vec<Workspace>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Workspace,
            r#"SELECT w.id AS "id!", w.name AS "name!", w.slug AS "slug!"
               FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
               WHERE m.admin_id = ? ORDER BY w.name COLLATE NOCASE, w.slug"#,
            admin_id
        )
        .fetch_all(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Workspace,
            r#"SELECT w.id AS "id!", w.name AS "name!", w.slug AS "slug!"
               FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
               WHERE m.admin_id = $1 ORDER BY lower(w.name) COLLATE "C", w.slug"#,
            admin_id
        )
        .fetch_all(&mut *c)
        .await?,
    ))
}

/// The workspace with `slug` if `admin_id` is a member of it; `None` otherwise.
pub async fn member_by_slug(
    db: &Db,
    admin_id: &str,
    slug: &str,
) -> Result<Option<Workspace>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(
            Workspace,
            r#"SELECT w.id AS "id!", w.name AS "name!", w.slug AS "slug!"
               FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
               WHERE w.slug = ? AND m.admin_id = ?"#,
            slug, admin_id
        )
        .fetch_optional(&mut *c)
        .await?,
        postgres: sqlx::query_as!(
            Workspace,
            r#"SELECT w.id AS "id!", w.name AS "name!", w.slug AS "slug!"
               FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
               WHERE w.slug = $1 AND m.admin_id = $2"#,
            slug, admin_id
        )
        .fetch_optional(&mut *c)
        .await?,
    ))
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Workspace>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(Workspace, "SELECT id, name, slug FROM workspaces WHERE slug = ?", slug)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_as!(Workspace, "SELECT id, name, slug FROM workspaces WHERE slug = $1", slug)
            .fetch_optional(&mut *c)
            .await?,
    ))
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Workspace>, sqlx::Error> {
    Ok(on!(db.acquire().await?.conn(), |c|
        sqlite: sqlx::query_as!(Workspace, "SELECT id, name, slug FROM workspaces WHERE id = ?", id)
            .fetch_optional(&mut *c)
            .await?,
        postgres: sqlx::query_as!(Workspace, "SELECT id, name, slug FROM workspaces WHERE id = $1", id)
            .fetch_optional(&mut *c)
            .await?,
    ))
}

pub async fn add_member(
    conn: Conn<'_>,
    workspace_id: &str,
    admin_id: &str,
) -> Result<(), sqlx::Error> {
    let at = now();
    on!(conn, |c|
        sqlite: sqlx::query!(
            "INSERT INTO memberships (workspace_id, admin_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            workspace_id, admin_id, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
        postgres: sqlx::query!(
            "INSERT INTO memberships (workspace_id, admin_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            workspace_id, admin_id, at
        )
        .execute(&mut *c)
        .await?
        .rows_affected(),
    );
    Ok(())
}
