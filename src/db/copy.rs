//! `keyward copy`: every table of one database into another, SQLite or PostgreSQL either way.
//! The statements are built from the table list below (one shape for every table), so they
//! are not `query!`-checked; the round trip through both backends is tested instead
//! (`tests/api/copy.rs`). Sessions and server keys are not copied — after a move everyone signs
//! in again and the new database makes its own form-signing key — except the key webhook
//! secrets are sealed with when no `--secret-key` is set.

use sqlx::Row;

use super::{Conn, Db, Tx};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
}
use Kind::{Blob, Int, Text};

pub struct Table {
    pub name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// Which rows move (a `WHERE` clause), or all of them.
    only: &'static str,
}

/// Every table a copy moves, parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "workspaces",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("slug", Text),
            ("created_at", Int),
        ],
        only: "",
    },
    Table {
        name: "admins",
        columns: &[
            ("id", Text),
            ("email", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("last_signin_at", Int),
        ],
        only: "",
    },
    Table {
        name: "memberships",
        columns: &[
            ("workspace_id", Text),
            ("admin_id", Text),
            ("created_at", Int),
        ],
        only: "",
    },
    Table {
        name: "invites",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("email", Text),
            ("code_hash", Text),
            ("invited_by", Text),
            ("created_at", Int),
            ("expires_at", Int),
        ],
        only: "",
    },
    Table {
        name: "channels",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("kind", Text),
            ("created_at", Int),
        ],
        only: "",
    },
    Table {
        name: "tokens",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("description", Text),
            ("secret_hash", Blob),
            ("hint", Text),
            ("permissions", Text),
            ("channel_scoped", Int),
            ("ip_allowlist", Text),
            ("rate_limit_tier", Text),
            ("rate_limits", Text),
            ("expires_at", Int),
            ("revoked_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("created_by_type", Text),
            ("created_by_id", Text),
            ("created_by_name", Text),
            ("request_count", Int),
            ("last_used_at", Int),
            ("last_used_ip", Text),
            ("previous_secret_hash", Blob),
            ("previous_hint", Text),
            ("previous_secret_expires_at", Int),
        ],
        only: "",
    },
    Table {
        name: "token_channels",
        columns: &[("token_id", Text), ("channel_id", Text)],
        only: "",
    },
    Table {
        name: "usage_daily",
        columns: &[("token_id", Text), ("day", Text), ("count", Int)],
        only: "",
    },
    Table {
        name: "usage_recent_chunks",
        columns: &[("token_id", Text), ("last_seq", Int), ("requests", Text)],
        only: "",
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("workspace_id", Text),
            ("at", Int),
            ("actor_type", Text),
            ("actor_id", Text),
            ("actor_name", Text),
            ("action", Text),
            ("token_id", Text),
            ("token_name", Text),
            ("ip", Text),
            ("details", Text),
        ],
        only: "",
    },
    Table {
        name: "webhooks",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("url", Text),
            ("description", Text),
            ("events", Text),
            ("enabled", Int),
            ("disabled_reason", Text),
            ("secret_sealed", Blob),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        only: "",
    },
    Table {
        name: "webhook_deliveries",
        columns: &[
            ("id", Text),
            ("webhook_id", Text),
            ("workspace_id", Text),
            ("event", Text),
            ("payload", Text),
            ("created_at", Int),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_ms", Int),
            ("last_status", Int),
            ("last_error", Text),
            ("last_attempt_at", Int),
        ],
        only: "",
    },
    Table {
        name: "expiry_notices",
        columns: &[
            ("token_id", Text),
            ("workspace_id", Text),
            ("kind", Text),
            ("expires_at", Int),
            ("days_left", Int),
            ("at", Int),
        ],
        only: "",
    },
    Table {
        name: "notice_digests",
        columns: &[("admin_id", Text), ("sent_at", Int)],
        only: "",
    },
    // Of the server keys, only the one webhook secrets are sealed with (when no
    // `--secret-key` is set): without it the copied endpoints could not sign
    // (`server_keys::WEBHOOK_SEAL`, which a unit test holds this clause to).
    Table {
        name: "server_keys",
        columns: &[("name", Text), ("value", Blob)],
        only: " WHERE name = 'webhook-seal'",
    },
];

enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl Table {
    fn select(&self) -> String {
        let cols: Vec<_> = self.columns.iter().map(|c| c.0).collect();
        format!("SELECT {} FROM {}{}", cols.join(", "), self.name, self.only)
    }

    fn insert(&self, postgres: bool) -> String {
        let cols: Vec<_> = self.columns.iter().map(|c| c.0).collect();
        let marks: Vec<_> = (1..=cols.len())
            .map(|i| {
                if postgres {
                    format!("${i}")
                } else {
                    "?".to_owned()
                }
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.name,
            cols.join(", "),
            marks.join(", ")
        )
    }
}

/// Reads a row's cells by the table's column kinds (one body for both backends' rows).
macro_rules! cells {
    ($row:expr, $table:expr) => {{
        let mut cells = Vec::with_capacity($table.columns.len());
        for (i, (_, kind)) in $table.columns.iter().enumerate() {
            cells.push(match kind {
                Int => Cell::Int($row.try_get(i)?),
                Text => Cell::Text($row.try_get(i)?),
                Blob => Cell::Blob($row.try_get(i)?),
            });
        }
        cells
    }};
}

/// Binds a row's cells in order.
macro_rules! bind_all {
    ($query:expr, $cells:expr) => {{
        let mut q = $query;
        for cell in $cells {
            q = match cell {
                Cell::Int(v) => q.bind(*v),
                Cell::Text(v) => q.bind(v.as_deref()),
                Cell::Blob(v) => q.bind(v.as_deref()),
            };
        }
        q
    }};
}

/// A source transaction that reads one consistent snapshot (SQLite: a read transaction on
/// one connection; PostgreSQL: `REPEATABLE READ`).
pub async fn snapshot(db: &Db) -> Result<Tx<'static>, sqlx::Error> {
    let mut tx = db.begin().await?;
    if let Conn::Postgres(c) = tx.conn() {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *c)
            .await?;
    }
    Ok(tx)
}

/// Rows per table, in [`TABLES`] order.
pub async fn counts(mut conn: Conn<'_>) -> Result<Vec<i64>, sqlx::Error> {
    let mut counts = Vec::new();
    for t in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {}{}", t.name, t.only);
        counts.push(match conn.re() {
            Conn::Sqlite(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await?,
        });
    }
    Ok(counts)
}

/// Copies one table from `from` to `to`; returns the rows written.
pub async fn table(mut from: Conn<'_>, mut to: Conn<'_>, t: &Table) -> Result<u64, sqlx::Error> {
    let rows: Vec<Vec<Cell>> = match from.re() {
        Conn::Sqlite(c) => {
            let mut out = Vec::new();
            for row in sqlx::query(&t.select()).fetch_all(&mut *c).await? {
                out.push(cells!(row, t));
            }
            out
        }
        Conn::Postgres(c) => {
            let mut out = Vec::new();
            for row in sqlx::query(&t.select()).fetch_all(&mut *c).await? {
                out.push(cells!(row, t));
            }
            out
        }
    };
    let mut written = 0;
    let (sqlite_insert, postgres_insert) = (t.insert(false), t.insert(true));
    for cells in &rows {
        written += match to.re() {
            Conn::Sqlite(c) => bind_all!(sqlx::query(&sqlite_insert), cells)
                .execute(&mut *c)
                .await?
                .rows_affected(),
            Conn::Postgres(c) => bind_all!(sqlx::query(&postgres_insert), cells)
                .execute(&mut *c)
                .await?
                .rows_affected(),
        };
    }
    if let (Conn::Postgres(c), "audit_log") = (to.re(), t.name) {
        // Entries copied with their ids: new ones continue after the highest.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM audit_log",
        )
        .execute(&mut *c)
        .await?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::TABLES;
    use crate::db::server_keys::WEBHOOK_SEAL;

    #[test]
    fn a_copy_moves_exactly_the_server_key_backups_keep() {
        let keys = TABLES.iter().find(|t| t.name == "server_keys");
        let only = keys.map(|t| t.only).unwrap_or_default();
        assert_eq!(only, format!(" WHERE name = '{WEBHOOK_SEAL}'"));
    }
}
